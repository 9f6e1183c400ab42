use std::collections::BTreeSet;

use aws_sdk_s3::types::EncodingType;

use crate::common::TestGateway;

const KEYS: [&str; 12] = [
    "a",
    "a/b",
    "a/b/c",
    "a/c",
    "b",
    "b/x/y",
    "c~",
    "photos/2024/1.jpg",
    "photos/2024/2.jpg",
    "photos/2025/1.jpg",
    "z é",
    "é",
];

async fn filled(gw: &TestGateway) {
    gw.client.create_bucket().bucket("list").send().await.unwrap();
    for k in KEYS {
        gw.client.put_object().bucket("list").key(k).body(k.as_bytes().to_vec().into()).send().await.unwrap();
    }
}

/// Promise: keys list in exact UTF-8 byte order, and paging with any max-keys never loses or
/// duplicates a key (v2 continuation tokens and v1 markers alike).
#[tokio::test]
async fn byte_order_and_pagination() {
    let gw = TestGateway::start().await;
    filled(&gw).await;
    let mut sorted: Vec<&str> = KEYS.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for page_size in [1, 2, 5, 1000] {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let out = gw
                .client
                .list_objects_v2()
                .bucket("list")
                .max_keys(page_size)
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            seen.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            if out.is_truncated() != Some(true) {
                break;
            }
            token = out.next_continuation_token().map(str::to_owned);
        }
        assert_eq!(seen, sorted, "v2 page size {page_size}");
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = gw
                .client
                .list_objects()
                .bucket("list")
                .max_keys(page_size)
                .set_marker(marker.clone())
                .send()
                .await
                .unwrap();
            let keys: Vec<String> = out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect();
            marker = keys.last().cloned();
            seen.extend(keys);
            if out.is_truncated() != Some(true) {
                break;
            }
        }
        assert_eq!(seen, sorted, "v1 page size {page_size}");
    }
    gw.stop().await;
}

/// Promise: prefix and delimiter give CommonPrefixes, each once, with max-keys counting keys
/// plus prefixes, across pages.
#[tokio::test]
async fn delimiter_and_common_prefixes() {
    let gw = TestGateway::start().await;
    filled(&gw).await;
    let out = gw.client.list_objects_v2().bucket("list").delimiter("/").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(keys, ["a", "b", "c~", "z é", "é"]);
    assert_eq!(prefixes, ["a/", "b/", "photos/"]);
    assert_eq!(out.key_count(), Some(8));
    let out = gw.client.list_objects_v2().bucket("list").prefix("photos/").delimiter("/").send().await.unwrap();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["photos/2024/", "photos/2025/"]);
    assert!(out.contents().is_empty());
    // Paging one entry at a time still yields every key and prefix exactly once.
    let mut entries = Vec::new();
    let mut token = None;
    loop {
        let out = gw
            .client
            .list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        entries.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        entries.extend(out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        if out.is_truncated() != Some(true) {
            break;
        }
        token = out.next_continuation_token().map(str::to_owned);
    }
    assert_eq!(entries.len(), 8);
    assert_eq!(entries.iter().collect::<BTreeSet<_>>().len(), 8);
    // v1 with a delimiter returns NextMarker, which resumes after the prefix.
    let out = gw.client.list_objects().bucket("list").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(out.next_marker(), Some("a/"));
    let out = gw.client.list_objects().bucket("list").delimiter("/").max_keys(2).marker("a/").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!((keys, prefixes), (vec!["b"], vec!["b/"]));
    gw.stop().await;
}

/// Promise: start-after and max-keys=0 behave as on AWS; encoding-type=url encodes keys.
#[tokio::test]
async fn start_after_and_url_encoding() {
    let gw = TestGateway::start().await;
    filled(&gw).await;
    let out = gw.client.list_objects_v2().bucket("list").start_after("photos/2024/2.jpg").send().await.unwrap();
    let keys: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["photos/2025/1.jpg", "z é", "é"]);
    let out = gw.client.list_objects_v2().bucket("list").max_keys(0).send().await.unwrap();
    assert_eq!(out.key_count(), Some(0));
    assert_eq!(out.is_truncated(), Some(false));
    let out =
        gw.client.list_objects_v2().bucket("list").prefix("z").encoding_type(EncodingType::Url).send().await.unwrap();
    // The SDK does not decode; the wire form is percent-encoded UTF-8.
    assert_eq!(out.contents()[0].key(), Some("z%20%C3%A9"));
    gw.stop().await;
}
