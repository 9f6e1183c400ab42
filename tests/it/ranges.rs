use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{TestGateway, body_bytes, error_code, error_status, pattern};

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

async fn check_ranges(gw: &TestGateway, key: &str, data: &[u8], rounds: usize) {
    let len = data.len() as u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ len;
    for _ in 0..rounds {
        let a = rng(&mut seed) % len;
        let b = a + rng(&mut seed) % (len - a);
        let out =
            gw.client.get_object().bucket("ranges").key(key).range(format!("bytes={a}-{b}")).send().await.unwrap();
        assert_eq!(out.content_range(), Some(format!("bytes {a}-{b}/{len}").as_str()));
        assert_eq!(out.content_length(), Some((b - a + 1) as i64));
        assert!(body_bytes(out).await == data[a as usize..=b as usize], "range {a}-{b} of {key}");
    }
    // Suffix and open-ended forms.
    let out = gw.client.get_object().bucket("ranges").key(key).range("bytes=-100").send().await.unwrap();
    assert!(body_bytes(out).await == data[data.len() - 100..]);
    let out =
        gw.client.get_object().bucket("ranges").key(key).range(format!("bytes={}-", len - 7)).send().await.unwrap();
    assert!(body_bytes(out).await == data[data.len() - 7..]);
}

/// Promise: every range equals the naive slice of the plaintext, across segment and part
/// boundaries, with 206 and Content-Range.
#[tokio::test]
async fn random_ranges_match_plaintext() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("ranges").send().await.unwrap();
    let single = pattern(3 * 65_536 + 1234, 3);
    gw.client.put_object().bucket("ranges").key("single").body(single.clone().into()).send().await.unwrap();
    check_ranges(&gw, "single", &single, 40).await;
    let p1 = pattern(5 << 20, 4);
    let p2 = pattern(70_000, 5);
    let up = gw.client.create_multipart_upload().bucket("ranges").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let e1 = gw
        .client
        .upload_part()
        .bucket("ranges")
        .key("multi")
        .upload_id(id)
        .part_number(1)
        .body(p1.clone().into())
        .send()
        .await
        .unwrap();
    let e2 = gw
        .client
        .upload_part()
        .bucket("ranges")
        .key("multi")
        .upload_id(id)
        .part_number(2)
        .body(p2.clone().into())
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(e1.e_tag().unwrap()).build())
        .parts(CompletedPart::builder().part_number(2).e_tag(e2.e_tag().unwrap()).build())
        .build();
    gw.client
        .complete_multipart_upload()
        .bucket("ranges")
        .key("multi")
        .upload_id(id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let multi = [p1.as_slice(), p2.as_slice()].concat();
    check_ranges(&gw, "multi", &multi, 40).await;
    // The part boundary itself.
    let at = p1.len() as u64;
    let out = gw
        .client
        .get_object()
        .bucket("ranges")
        .key("multi")
        .range(format!("bytes={}-{}", at - 3, at + 2))
        .send()
        .await
        .unwrap();
    assert!(body_bytes(out).await == multi[at as usize - 3..=at as usize + 2]);
    // partNumber reads return exactly that part, with the part count.
    let out = gw.client.get_object().bucket("ranges").key("multi").part_number(2).send().await.unwrap();
    assert_eq!(out.parts_count(), Some(2));
    assert_eq!(out.content_range(), Some(format!("bytes {}-{}/{}", p1.len(), multi.len() - 1, multi.len()).as_str()));
    assert!(body_bytes(out).await == p2);
    // A part the object does not have: 416 InvalidPartNumber, as AWS documents it; a number
    // outside 1..=10,000: 400 InvalidArgument.
    let e = gw.client.get_object().bucket("ranges").key("multi").part_number(3).send().await.unwrap_err();
    assert_eq!((error_status(&e), crate::common::error_code(&e).as_deref()), (Some(416), Some("InvalidPartNumber")));
    let e = gw.client.head_object().bucket("ranges").key("multi").part_number(10_001).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(400));
    gw.stop().await;
}

/// Promise: an unsatisfiable range is 416 InvalidRange, also on an empty object.
#[tokio::test]
async fn unsatisfiable_range_is_416() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("ranges").send().await.unwrap();
    gw.client.put_object().bucket("ranges").key("ten").body(vec![1u8; 10].into()).send().await.unwrap();
    gw.client.put_object().bucket("ranges").key("empty").body(Vec::new().into()).send().await.unwrap();
    for (key, range) in [("ten", "bytes=10-20"), ("ten", "bytes=100-"), ("empty", "bytes=0-0"), ("empty", "bytes=-5")] {
        let e = gw.client.get_object().bucket("ranges").key(key).range(range).send().await.unwrap_err();
        assert_eq!(error_status(&e), Some(416), "{key} {range}");
        assert_eq!(error_code(&e).as_deref(), Some("InvalidRange"));
    }
    // The 416 carries Content-Range: bytes */<length>, as on AWS.
    let signer = crate::common::raw::Signer::new(std::time::SystemTime::now());
    let extra = vec![("range".to_owned(), "bytes=100-".to_owned())];
    let r = crate::common::raw::signed_request(
        gw.addr,
        &signer,
        "GET",
        "/ranges/ten",
        extra,
        &crate::common::raw::sha256_hex(b""),
        b"",
    )
    .await;
    assert_eq!((r.status, r.header("content-range")), (416, Some("bytes */10")));
    let out = gw.client.get_object().bucket("ranges").key("empty").send().await.unwrap();
    assert!(body_bytes(out).await.is_empty());
    gw.stop().await;
}
