//! CORS (issue 24), against AWS S3's documented behaviour ("Troubleshooting CORS", the CORS
//! configuration reference): the configuration as S3 stores and refuses it, preflights answered
//! per rule without a signature, and the grants on actual answers.

use std::time::SystemTime;

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::common::raw::{RawResponse, Signer, send, sha256_hex, signed_request};
use crate::common::{TestGateway, error_code, error_status};

const APP: &str = "https://app.example.eu";

fn rules() -> CorsConfiguration {
    let upload = CorsRule::builder()
        .id("upload")
        .allowed_origins("https://*.example.eu")
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_headers("content-type")
        .allowed_headers("x-amz-*")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()
        .unwrap();
    let read = CorsRule::builder().allowed_origins("*").allowed_methods("GET").allowed_methods("HEAD").build().unwrap();
    CorsConfiguration::builder().cors_rules(upload).cors_rules(read).build().unwrap()
}

async fn preflight(gw: &TestGateway, path: &str, origin: &str, method: &str, headers: &str) -> RawResponse {
    let mut h = vec![("host".to_owned(), gw.addr.to_string()), ("origin".to_owned(), origin.to_owned())];
    h.push(("access-control-request-method".to_owned(), method.to_owned()));
    if !headers.is_empty() {
        h.push(("access-control-request-headers".to_owned(), headers.to_owned()));
    }
    send(gw.addr, "OPTIONS", path, &h, b"").await.unwrap()
}

/// Promise: PutBucketCors stores the rules and GetBucketCors reads them back as given;
/// GetBucketCors of a bucket without rules is 404 NoSuchCORSConfiguration; a method S3 does
/// not know or two wildcards in an origin is 400 and leaves the rules as they were;
/// DeleteBucketCors (204) removes them.
#[tokio::test]
async fn cors_configuration_is_stored_and_refused_as_s3_does() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("web").send().await.unwrap();
    let e = c.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchCORSConfiguration")));
    c.put_bucket_cors().bucket("web").cors_configuration(rules()).send().await.unwrap();
    let got = c.get_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(got.cors_rules(), rules().cors_rules(), "read back as given");
    for bad in [
        CorsRule::builder().allowed_origins("*").allowed_methods("PATCH").build().unwrap(),
        CorsRule::builder().allowed_origins("https://*.*.eu").allowed_methods("GET").build().unwrap(),
    ] {
        let conf = CorsConfiguration::builder().cors_rules(bad).build().unwrap();
        let e = c.put_bucket_cors().bucket("web").cors_configuration(conf).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidRequest")));
    }
    let got = c.get_bucket_cors().bucket("web").send().await.unwrap();
    assert_eq!(got.cors_rules(), rules().cors_rules(), "unchanged by the refusals");
    c.delete_bucket_cors().bucket("web").send().await.unwrap();
    let e = c.get_bucket_cors().bucket("web").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchCORSConfiguration"));
    gw.stop().await;
}

/// Promise: a preflight is answered from the first rule allowing its origin (one wildcard),
/// method and every requested header: 200 with the origin echoed, credentials allowed, the
/// rule's methods, the headers asked for, its max age and `Vary: Origin`; a rule for any
/// origin answers `*` without credentials; an origin, method or header no rule allows, a
/// bucket without rules and a bucket that does not exist are all 403 AccessForbidden alike.
#[tokio::test]
async fn preflights_are_answered_per_rule() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("web").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    c.put_bucket_cors().bucket("web").cors_configuration(rules()).send().await.unwrap();
    let r = preflight(&gw, "/web/photo.jpg", APP, "PUT", "Content-Type, x-amz-date").await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-allow-methods"), Some("PUT, POST"));
    assert_eq!(r.header("access-control-allow-headers"), Some("Content-Type, x-amz-date"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
    let any = preflight(&gw, "/web/photo.jpg", "https://elsewhere.test", "GET", "").await;
    assert_eq!((any.status, any.header("access-control-allow-origin")), (200, Some("*")));
    assert_eq!(any.header("access-control-allow-credentials"), None, "no credentials for any origin");
    for (path, origin, method, headers) in [
        ("/web/k", "https://elsewhere.test", "PUT", ""),
        ("/web/k", APP, "DELETE", ""),
        ("/web/k", APP, "PUT", "authorization"),
        ("/plain/k", APP, "GET", ""),
        ("/absent/k", APP, "GET", ""),
    ] {
        let r = preflight(&gw, path, origin, method, headers).await;
        assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessForbidden")), "{path} {origin} {method}");
        assert_eq!(r.header("access-control-allow-origin"), None);
    }
    let no_method = [("host".to_owned(), gw.addr.to_string()), ("origin".to_owned(), APP.to_owned())];
    let r = send(gw.addr, "OPTIONS", "/web/k", &no_method, b"").await.unwrap();
    assert_eq!(r.status, 400, "a preflight without Access-Control-Request-Method");
    gw.stop().await;
}

/// Promise: an actual request from a browser (signed or presigned, with `Origin`) gets the
/// grants of the first rule allowing its origin and method — on an error answer too — and a
/// request without `Origin`, or from an origin no rule allows, gets none.
#[tokio::test]
async fn actual_answers_carry_the_grants() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("web").send().await.unwrap();
    c.put_bucket_cors().bucket("web").cors_configuration(rules()).send().await.unwrap();
    c.put_object().bucket("web").key("k").body(b"hello".to_vec().into()).send().await.unwrap();
    let signer = Signer::new(SystemTime::now());
    let empty = sha256_hex(b"");
    let get = |path: &'static str, origin: Option<&'static str>| {
        let extra: Vec<(String, String)> = origin.map(|o| ("origin".to_owned(), o.to_owned())).into_iter().collect();
        signed_request(gw.addr, &signer, "GET", path, extra, &empty, b"")
    };
    let r = get("/web/k", Some(APP)).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"), "the GET rule allows any origin");
    assert!(r.header("vary").is_some_and(|v| v.contains("Origin")));
    let missing = get("/web/missing", Some(APP)).await;
    assert_eq!((missing.status, missing.header("access-control-allow-origin")), (404, Some("*")), "errors too");
    let plain = get("/web/k", None).await;
    assert_eq!((plain.status, plain.header("access-control-allow-origin")), (200, None), "no Origin, no grants");
    let host = gw.addr.to_string();
    let put_url = signer.presign("PUT", "/web/up", &host, 300);
    let headers = [
        ("host".to_owned(), host.clone()),
        ("origin".to_owned(), APP.to_owned()),
        ("content-length".to_owned(), "2".to_owned()),
    ];
    let r = send(gw.addr, "PUT", &put_url, &headers, b"up").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    let headers = [("host".to_owned(), host), ("origin".to_owned(), "https://evil.test".to_owned())];
    let del_url = signer.presign("DELETE", "/web/up", &gw.addr.to_string(), 300);
    let r = send(gw.addr, "DELETE", &del_url, &headers, b"").await.unwrap();
    assert_eq!((r.status, r.header("access-control-allow-origin")), (204, None), "no rule for this origin");
    gw.stop().await;
}
