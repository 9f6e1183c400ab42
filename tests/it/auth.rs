use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::TestGateway;
use crate::common::raw::send;

async fn setup() -> TestGateway {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("auth").send().await.unwrap();
    gw.client.put_object().bucket("auth").key("doc").body(b"secret plans".to_vec().into()).send().await.unwrap();
    gw
}

fn target(uri: &str) -> String {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, r)| r);
    after_scheme.find('/').map_or("/".to_owned(), |i| after_scheme[i..].to_owned())
}

async fn count(gw: &TestGateway) -> usize {
    gw.client.list_objects_v2().bucket("auth").send().await.unwrap().contents().len()
}

/// Promise: presigned GET and PUT URLs from the SDK work; an expired URL is 403 AccessDenied.
#[tokio::test]
async fn presigned_get_put_and_expiry() {
    let gw = setup().await;
    let get = gw
        .client
        .get_object()
        .bucket("auth")
        .key("doc")
        .presigned(PresigningConfig::expires_in(Duration::from_mins(5)).unwrap())
        .await
        .unwrap();
    let r = send(gw.addr, "GET", &target(get.uri()), &[("host".into(), gw.addr.to_string())], b"").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"secret plans");
    let put = gw
        .client
        .put_object()
        .bucket("auth")
        .key("up")
        .presigned(PresigningConfig::expires_in(Duration::from_mins(5)).unwrap())
        .await
        .unwrap();
    let r = send(
        gw.addr,
        "PUT",
        &target(put.uri()),
        &[("host".into(), gw.addr.to_string()), ("content-length".into(), "5".into())],
        b"hello",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body_text());
    let body = gw
        .client
        .get_object()
        .bucket("auth")
        .key("up")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"hello");
    let short = gw
        .client
        .get_object()
        .bucket("auth")
        .key("doc")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = send(gw.addr, "GET", &target(short.uri()), &[("host".into(), gw.addr.to_string())], b"").await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessDenied")));
    gw.stop().await;
}

/// Promise: anonymous requests are refused with 403 AccessDenied and store nothing (tampered
/// signatures, keys and clocks: `sigv4_tamper`).
#[tokio::test]
async fn anonymous_requests_are_refused() {
    let gw = setup().await;
    let host = gw.addr.to_string();
    let r = send(gw.addr, "GET", "/auth/doc", &[("host".into(), host.clone())], b"").await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessDenied")));
    let r = send(
        gw.addr,
        "PUT",
        "/auth/anon",
        &[("host".into(), host.clone()), ("content-length".into(), "1".into())],
        b"x",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(count(&gw).await, 1, "no refused request stored anything");
    gw.stop().await;
}
