use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use crate::common::raw::{Signer, send, sha256_hex, signed_request};
use crate::common::{ACCESS_KEY, TestGateway, client_with, error_code, error_status};

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
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
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
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
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

/// Promise: a correctly signed presigned URL asking for more than 7 days is refused and stores
/// nothing.
#[tokio::test]
async fn presign_over_seven_days_refused() {
    let gw = setup().await;
    let signer = Signer::new(SystemTime::now());
    let host = gw.addr.to_string();
    let ok = signer.presign("GET", "/auth/doc", &host, 604_800);
    assert_eq!(send(gw.addr, "GET", &ok, &[("host".into(), host.clone())], b"").await.unwrap().status, 200);
    let long = signer.presign("PUT", "/auth/long", &host, 604_801);
    let r = send(gw.addr, "PUT", &long, &[("host".into(), host.clone()), ("content-length".into(), "1".into())], b"x")
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert_eq!(r.code().as_deref(), Some("AuthorizationQueryParametersError"));
    assert_eq!(count(&gw).await, 1);
    gw.stop().await;
}

/// Promise: tampered or missing signatures, wrong secrets, unknown keys, anonymous requests and
/// skewed clocks are refused with the right S3 error, and nothing is stored.
#[tokio::test]
async fn negative_auth_matrix() {
    let gw = setup().await;
    let host = gw.addr.to_string();
    let now = SystemTime::now();
    // Anonymous.
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
    // A signed header changed after signing.
    let signer = Signer::new(now);
    let mut headers = vec![("content-length".to_owned(), "5".to_owned()), ("x-amz-meta-a".to_owned(), "1".to_owned())];
    signer.sign("PUT", "/auth/t1", &[], &mut headers, &host, &sha256_hex(b"hello"));
    for h in headers.iter_mut().filter(|(k, _)| k == "x-amz-meta-a") {
        h.1 = "2".into();
    }
    let r = send(gw.addr, "PUT", "/auth/t1", &headers, b"hello").await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (403, Some("SignatureDoesNotMatch")));
    // The path changed after signing.
    let mut headers = vec![("content-length".to_owned(), "5".to_owned())];
    signer.sign("PUT", "/auth/t2", &[], &mut headers, &host, &sha256_hex(b"hello"));
    let r = send(gw.addr, "PUT", "/auth/t3", &headers, b"hello").await.unwrap();
    assert_eq!(r.status, 403);
    // The payload differs from its signed hash.
    let r = signed_request(
        gw.addr,
        &signer,
        "PUT",
        "/auth/t4",
        vec![("content-length".into(), "5".into())],
        &sha256_hex(b"hello"),
        b"HELLO",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert_eq!(r.code().as_deref(), Some("XAmzContentSHA256Mismatch"));
    // Wrong secret, unknown key.
    let e = client_with(gw.addr, ACCESS_KEY, "wrong-secret")
        .get_object()
        .bucket("auth")
        .key("doc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("SignatureDoesNotMatch"));
    let e = client_with(gw.addr, "AKIDUNKNOWN", "x").get_object().bucket("auth").key("doc").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("InvalidAccessKeyId"));
    assert_eq!(error_status(&e), Some(403));
    // Clock skew beyond 15 minutes, both ways.
    for skew in [-20i64 * 60, 20 * 60] {
        let at = if skew < 0 {
            now - Duration::from_secs(skew.unsigned_abs())
        } else {
            now + Duration::from_secs(skew as u64)
        };
        let r = signed_request(gw.addr, &Signer::new(at), "GET", "/auth/doc", vec![], &sha256_hex(b""), b"").await;
        assert_eq!((r.status, r.code().as_deref()), (403, Some("RequestTimeTooSkewed")), "skew {skew}");
    }
    assert_eq!(count(&gw).await, 1, "no refused request stored anything");
    gw.stop().await;
}
