use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::common::raw::{Signer, sha256_hex, signed_request};
use crate::common::{TestGateway, body_bytes, error_code, error_status, md5_hex, pattern};

async fn bucket(gw: &TestGateway, name: &str) {
    gw.client.create_bucket().bucket(name).send().await.unwrap();
}

/// Promise: what you PUT is what you GET, byte for byte, at every size around the segment
/// boundaries, and the ETag is the quoted MD5 of the plaintext on PUT, HEAD, GET and List.
#[tokio::test]
async fn put_get_sizes_and_etag() {
    let gw = TestGateway::start().await;
    bucket(&gw, "sizes").await;
    let s = 1usize << 16;
    for (i, len) in [0, 1, s - 1, s, s + 1, 3 * s + 17, (5 << 20) + 1].into_iter().enumerate() {
        let data = pattern(len, i as u64);
        let key = format!("obj-{len}");
        let put = gw.client.put_object().bucket("sizes").key(&key).body(data.clone().into()).send().await.unwrap();
        let want = format!("\"{}\"", md5_hex(&data));
        assert_eq!(put.e_tag(), Some(want.as_str()), "PUT etag for {len}");
        let head = gw.client.head_object().bucket("sizes").key(&key).send().await.unwrap();
        assert_eq!(head.e_tag(), Some(want.as_str()));
        assert_eq!(head.content_length(), Some(len as i64));
        let got = gw.client.get_object().bucket("sizes").key(&key).send().await.unwrap();
        assert_eq!(got.e_tag(), Some(want.as_str()));
        assert_eq!(body_bytes(got).await, data, "bytes for {len}");
    }
    let list = gw.client.list_objects_v2().bucket("sizes").prefix("obj-1").send().await.unwrap();
    let one = &list.contents()[0];
    assert_eq!(one.key(), Some("obj-1"));
    assert_eq!(one.e_tag(), Some(format!("\"{}\"", md5_hex(&pattern(1, 1))).as_str()));
    gw.stop().await;
}

/// Promise: content headers and user metadata come back unchanged.
#[tokio::test]
async fn metadata_round_trip() {
    let gw = TestGateway::start().await;
    bucket(&gw, "meta").await;
    let expires = DateTime::from_secs(1_900_000_000);
    gw.client
        .put_object()
        .bucket("meta")
        .key("doc")
        .body(b"{}".to_vec().into())
        .content_type("application/json")
        .content_encoding("identity")
        .content_disposition("attachment; filename=\"doc.json\"")
        .content_language("fr-FR")
        .cache_control("max-age=60")
        .expires(expires)
        .metadata("owner", "Élodie")
        .metadata("project", "sovereign")
        .send()
        .await
        .unwrap();
    let h = gw.client.head_object().bucket("meta").key("doc").send().await.unwrap();
    assert_eq!(h.content_type(), Some("application/json"));
    assert_eq!(h.content_encoding(), Some("identity"));
    assert_eq!(h.content_disposition(), Some("attachment; filename=\"doc.json\""));
    assert_eq!(h.content_language(), Some("fr-FR"));
    assert_eq!(h.cache_control(), Some("max-age=60"));
    #[allow(deprecated)]
    let got_expires = h.expires().map(aws_sdk_s3::primitives::DateTime::secs);
    assert_eq!(got_expires, Some(1_900_000_000));
    let m = h.metadata().unwrap();
    // Non-ASCII values travel RFC 2047-encoded, as with AWS S3.
    assert_eq!(m.get("owner").map(String::as_str), Some("=?UTF-8?B?w4lsb2RpZQ==?="));
    assert_eq!(m.get("project").map(String::as_str), Some("sovereign"));
    gw.stop().await;
}

/// Promise: missing objects and buckets answer NoSuchKey / NoSuchBucket with 404.
#[tokio::test]
async fn missing_objects_404() {
    let gw = TestGateway::start().await;
    bucket(&gw, "empty").await;
    let e = gw.client.get_object().bucket("empty").key("nope").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchKey"));
    assert_eq!(error_status(&e), Some(404));
    let e = gw.client.get_object().bucket("no-such-bucket").key("k").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchBucket"));
    let e = gw.client.head_object().bucket("empty").key("nope").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(404));
    gw.stop().await;
}

/// Promise: DELETE is 204 also for absent keys; DeleteObjects reports per key, quiet mode
/// reports only errors, and over 1,000 keys is refused.
#[tokio::test]
async fn delete_and_delete_objects() {
    let gw = TestGateway::start().await;
    bucket(&gw, "del").await;
    for k in ["a", "b", "c"] {
        gw.client.put_object().bucket("del").key(k).body(b"1".to_vec().into()).send().await.unwrap();
    }
    gw.client.delete_object().bucket("del").key("a").send().await.unwrap();
    gw.client.delete_object().bucket("del").key("never-existed").send().await.unwrap();
    let ids = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
            .build()
            .unwrap()
    };
    let out = gw.client.delete_objects().bucket("del").delete(ids(&["b", "zz"])).send().await.unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["b", "zz"]);
    assert!(out.errors().is_empty());
    let quiet =
        Delete::builder().objects(ObjectIdentifier::builder().key("c").build().unwrap()).quiet(true).build().unwrap();
    let out = gw.client.delete_objects().bucket("del").delete(quiet).send().await.unwrap();
    assert!(out.deleted().is_empty());
    let list = gw.client.list_objects_v2().bucket("del").send().await.unwrap();
    assert_eq!(list.key_count(), Some(0));
    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = gw.client.delete_objects().bucket("del").delete(ids(&refs)).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(400));
    gw.stop().await;
}

/// Promise: CopyObject copies bytes and metadata (COPY), or replaces metadata (REPLACE), within
/// and across buckets; copying onto itself without REPLACE is InvalidRequest.
#[tokio::test]
async fn copy_object_directives() {
    let gw = TestGateway::start().await;
    bucket(&gw, "src").await;
    bucket(&gw, "dst").await;
    let data = pattern(200_000, 9);
    gw.client
        .put_object()
        .bucket("src")
        .key("o")
        .body(data.clone().into())
        .content_type("text/plain")
        .metadata("a", "1")
        .send()
        .await
        .unwrap();
    let out = gw.client.copy_object().bucket("dst").key("copy").copy_source("src/o").send().await.unwrap();
    let etag = format!("\"{}\"", md5_hex(&data));
    assert_eq!(out.copy_object_result().and_then(|r| r.e_tag()), Some(etag.as_str()));
    let got = gw.client.get_object().bucket("dst").key("copy").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.metadata().and_then(|m| m.get("a")).map(String::as_str), Some("1"));
    assert_eq!(body_bytes(got).await, data);
    gw.client
        .copy_object()
        .bucket("src")
        .key("o2")
        .copy_source("src/o")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/x-new")
        .metadata("b", "2")
        .send()
        .await
        .unwrap();
    let h = gw.client.head_object().bucket("src").key("o2").send().await.unwrap();
    assert_eq!(h.content_type(), Some("application/x-new"));
    assert_eq!(h.metadata().unwrap().get("a"), None);
    assert_eq!(h.metadata().unwrap().get("b").map(String::as_str), Some("2"));
    let e = gw.client.copy_object().bucket("src").key("o").copy_source("src/o").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("InvalidRequest"));
    gw.client
        .copy_object()
        .bucket("src")
        .key("o")
        .copy_source("src/o")
        .metadata_directive(MetadataDirective::Replace)
        .send()
        .await
        .unwrap();
    let e = gw.client.copy_object().bucket("dst").key("x").copy_source("src/missing").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchKey"));
    gw.stop().await;
}

/// Promise: x-amz-copy-source-if-* conditions are honoured; a failed one is 412 and copies nothing.
#[tokio::test]
async fn copy_source_conditions() {
    let gw = TestGateway::start().await;
    bucket(&gw, "ccond").await;
    let put = gw.client.put_object().bucket("ccond").key("o").body(b"abc".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    gw.client
        .copy_object()
        .bucket("ccond")
        .key("ok")
        .copy_source("ccond/o")
        .copy_source_if_match(&etag)
        .send()
        .await
        .unwrap();
    let e = gw
        .client
        .copy_object()
        .bucket("ccond")
        .key("no1")
        .copy_source("ccond/o")
        .copy_source_if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    let e = gw
        .client
        .copy_object()
        .bucket("ccond")
        .key("no2")
        .copy_source("ccond/o")
        .copy_source_if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    let past = DateTime::from_secs(1_000_000_000);
    let e = gw
        .client
        .copy_object()
        .bucket("ccond")
        .key("no3")
        .copy_source("ccond/o")
        .copy_source_if_unmodified_since(past)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    gw.client
        .copy_object()
        .bucket("ccond")
        .key("ok2")
        .copy_source("ccond/o")
        .copy_source_if_modified_since(past)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = crate::common::listed_keys(&gw.client, "ccond").await;
    assert_eq!(keys, ["o", "ok", "ok2"]);
    gw.stop().await;
}

/// Promise: conditional GET/HEAD follow RFC 9110 precedence with 304 and 412; a 304 carries
/// the object's ETag and Last-Modified, as S3 (and RFC 9110 §15.4.5) answer.
#[tokio::test]
async fn conditional_reads() {
    let gw = TestGateway::start().await;
    bucket(&gw, "cond").await;
    let put = gw.client.put_object().bucket("cond").key("o").body(b"hello".to_vec().into()).send().await.unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let past = DateTime::from_secs(1_000_000_000);
    let future = DateTime::from_secs(4_000_000_000);
    let c = &gw.client;
    assert!(c.get_object().bucket("cond").key("o").if_match(&etag).send().await.is_ok());
    let e = c.get_object().bucket("cond").key("o").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    let e = c.get_object().bucket("cond").key("o").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(304));
    let head = c.head_object().bucket("cond").key("o").send().await.unwrap();
    let last_modified = head.last_modified().unwrap().fmt(aws_sdk_s3::primitives::DateTimeFormat::HttpDate).unwrap();
    let shown = |name: &str| e.raw_response().and_then(|r| r.headers().get(name)).map(str::to_owned);
    assert_eq!((shown("etag"), shown("last-modified")), (Some(etag.clone()), Some(last_modified.clone())));
    let e = c.head_object().bucket("cond").key("o").if_modified_since(future).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(304));
    let shown = |name: &str| e.raw_response().and_then(|r| r.headers().get(name)).map(str::to_owned);
    assert_eq!((shown("etag"), shown("last-modified")), (Some(etag.clone()), Some(last_modified)), "HEAD too");
    let e = c.head_object().bucket("cond").key("o").if_unmodified_since(past).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    // A true If-Match wins over a false If-Unmodified-Since.
    assert!(c.get_object().bucket("cond").key("o").if_match(&etag).if_unmodified_since(past).send().await.is_ok());
    // A false If-None-Match gives 304 even when If-Modified-Since is true.
    let e =
        c.get_object().bucket("cond").key("o").if_none_match(&etag).if_modified_since(past).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(304));
    // A true If-None-Match overrides a false If-Modified-Since.
    assert!(
        c.get_object()
            .bucket("cond")
            .key("o")
            .if_none_match("\"other\"")
            .if_modified_since(future)
            .send()
            .await
            .is_ok()
    );
    gw.stop().await;
}

/// Promise: conditional writes: If-None-Match: * refuses an existing key (412) and If-Match
/// refuses a different ETag (412) or an absent key (404); nothing is replaced.
#[tokio::test]
async fn conditional_writes() {
    let gw = TestGateway::start().await;
    bucket(&gw, "condw").await;
    let c = &gw.client;
    let first =
        c.put_object().bucket("condw").key("k").if_none_match("*").body(b"one".to_vec().into()).send().await.unwrap();
    let e = c
        .put_object()
        .bucket("condw")
        .key("k")
        .if_none_match("*")
        .body(b"two".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    let e = c
        .put_object()
        .bucket("condw")
        .key("k")
        .if_match("\"ffff\"")
        .body(b"three".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(412));
    let e = c
        .put_object()
        .bucket("condw")
        .key("absent")
        .if_match("\"ffff\"")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(404));
    assert_eq!(body_bytes(c.get_object().bucket("condw").key("k").send().await.unwrap()).await, b"one");
    c.put_object()
        .bucket("condw")
        .key("k")
        .if_match(first.e_tag().unwrap())
        .body(b"four".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("condw").key("k").send().await.unwrap()).await, b"four");
    gw.stop().await;
}

/// Promise: concurrent If-None-Match: * writes of one key have exactly one winner; every
/// other writer gets 412 PreconditionFailed, and the stored bytes are the winner's.
#[tokio::test]
async fn concurrent_conditional_writes_one_winner() {
    let gw = TestGateway::start().await;
    bucket(&gw, "race").await;
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let c = gw.client.clone();
        tasks.push(tokio::spawn(async move {
            let put = c.put_object().bucket("race").key("k").if_none_match("*");
            let answer = put.body(ByteStream::from(vec![i; 1000])).send().await;
            (i, answer.map(|_| ()).map_err(|e| (error_status(&e), error_code(&e))))
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(())) => winners.push(i),
            (i, Err(refusal)) => {
                assert_eq!(refusal, (Some(412), Some("PreconditionFailed".to_owned())), "writer {i}");
            }
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let stored = body_bytes(gw.client.get_object().bucket("race").key("k").send().await.unwrap()).await;
    assert_eq!(stored, vec![winners[0]; 1000], "the winner's bytes");
    gw.stop().await;
}

/// Promise: features the gateway does not honour answer 501 NotImplemented, never a silent
/// ignore: S3 Bucket Keys, DSSE-KMS, website redirects, Object Lock tokens, MFA delete, lifecycle
/// transitions.
#[tokio::test]
async fn unsupported_features_are_501() {
    let gw = TestGateway::start().await;
    bucket(&gw, "nope").await;
    let c = &gw.client;
    let e = c
        .put_object()
        .bucket("nope")
        .key("k")
        .body(b"x".to_vec().into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .bucket_key_enabled(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(501), "S3 Bucket Keys");
    let e = c
        .put_object()
        .bucket("nope")
        .key("k")
        .body(b"x".to_vec().into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKmsDsse)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(501), "DSSE-KMS");
    let e = c.put_object().bucket("nope").key("k").body(b"x".to_vec().into()).website_redirect_location("/x");
    assert_eq!(error_code(&e.send().await.unwrap_err()).as_deref(), Some("NotImplemented"), "website redirects");
    let transition = aws_sdk_s3::types::LifecycleRule::builder()
        .id("t")
        .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
        .filter(aws_sdk_s3::types::LifecycleRuleFilter::builder().prefix("").build())
        .transitions(aws_sdk_s3::types::Transition::builder().days(1).build())
        .build()
        .unwrap();
    let rules = aws_sdk_s3::types::BucketLifecycleConfiguration::builder().rules(transition).build().unwrap();
    let e = c.put_bucket_lifecycle_configuration().bucket("nope").lifecycle_configuration(rules).send().await;
    assert_eq!(error_status(&e.unwrap_err()), Some(501), "lifecycle transitions");
    let e = c
        .put_object_lock_configuration()
        .bucket("nope")
        .object_lock_configuration(
            aws_sdk_s3::types::ObjectLockConfiguration::builder()
                .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                .build(),
        )
        .token("a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&e), Some(501), "Object Lock tokens");
    let mfa = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .mfa_delete(aws_sdk_s3::types::MfaDelete::Enabled)
        .build();
    let e = c.put_bucket_versioning().bucket("nope").versioning_configuration(mfa).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(501), "MFA delete");
    // SSE-S3 (AES256) is accepted: everything is encrypted anyway.
    c.put_object()
        .bucket("nope")
        .key("aes")
        .body(b"x".to_vec().into())
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .send()
        .await
        .unwrap();
    let keys = c.list_objects_v2().bucket("nope").send().await.unwrap();
    assert_eq!(keys.key_count(), Some(1), "only the accepted write stored anything");
    gw.stop().await;
}

/// Promise: keys longer than 1,024 bytes are refused with KeyTooLongError.
#[tokio::test]
async fn key_too_long() {
    let gw = TestGateway::start().await;
    bucket(&gw, "keys").await;
    let ok = "k".repeat(1024);
    gw.client.put_object().bucket("keys").key(&ok).body(b"x".to_vec().into()).send().await.unwrap();
    let long = "k".repeat(1025);
    let r = signed_request(
        gw.addr,
        &Signer::new(std::time::SystemTime::now()),
        "PUT",
        &format!("/keys/{long}"),
        vec![("content-length".into(), "1".into())],
        &sha256_hex(b"x"),
        b"x",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert_eq!(r.code().as_deref(), Some("KeyTooLongError"));
    gw.stop().await;
}

/// Promise: oversized requests get a clear error and store nothing: a header block beyond the
/// limit (431), user metadata above 2 KiB (MetadataTooLarge), an XML body above 4 MiB, and
/// malformed XML (MalformedXML).
#[tokio::test]
async fn request_size_limits() {
    let gw = TestGateway::start().await;
    bucket(&gw, "limits").await;
    let host = gw.addr.to_string();
    let huge = vec![("x-filler".to_owned(), "a".repeat(100 * 1024)), ("host".to_owned(), host.clone())];
    let r = crate::common::raw::send(gw.addr, "GET", "/limits/k", &huge, b"").await.unwrap();
    assert_eq!(r.status, 431);
    let e = gw
        .client
        .put_object()
        .bucket("limits")
        .key("meta")
        .metadata("big", "v".repeat(2100))
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("MetadataTooLarge"));
    let signer = Signer::new(std::time::SystemTime::now());
    let xml = format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(160_000));
    let mut headers = vec![("content-length".to_owned(), xml.len().to_string())];
    signer.sign("POST", "/limits", &[("delete", "")], &mut headers, &host, &sha256_hex(xml.as_bytes()));
    let r = crate::common::raw::send(gw.addr, "POST", "/limits?delete", &headers, xml.as_bytes()).await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (400, Some("MaxMessageLengthExceeded")));
    let bad = b"<CompleteMultipartUpload><Part><PartNumber>1</Part>";
    let up = gw.client.create_multipart_upload().bucket("limits").key("mp").send().await.unwrap();
    let path = format!("/limits/mp?uploadId={}", up.upload_id().unwrap());
    let mut headers = vec![("content-length".to_owned(), bad.len().to_string())];
    signer.sign("POST", "/limits/mp", &[("uploadId", up.upload_id().unwrap())], &mut headers, &host, &sha256_hex(bad));
    let r = crate::common::raw::send(gw.addr, "POST", &path, &headers, bad).await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (400, Some("MalformedXML")), "{}", r.body_text());
    let listed = gw.client.list_objects_v2().bucket("limits").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0));
    gw.stop().await;
}

/// Promise: the copy source is read as S3 reads it: `%XX` escapes decoded, and `+` a space
/// (how s5cmd sends spaces), so a literal `+` comes as `%2B`; keys with spaces, plus signs and
/// non-ASCII characters copy.
#[tokio::test]
async fn copy_source_encoding() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("enc").send().await.unwrap();
    for key in ["with space.txt", "a+b", "é x"] {
        c.put_object().bucket("enc").key(key).body(key.as_bytes().to_vec().into()).send().await.unwrap();
    }
    for (source, key) in [
        ("enc/with+space.txt", "with space.txt"),
        ("enc/with%20space.txt", "with space.txt"),
        ("enc/a%2Bb", "a+b"),
        ("/enc/%C3%A9+x", "é x"),
    ] {
        let out = c.copy_object().bucket("enc").key("copy").copy_source(source).send().await;
        assert!(out.is_ok(), "{source}: {out:?}");
        let got = crate::common::body_bytes(c.get_object().bucket("enc").key("copy").send().await.unwrap()).await;
        assert_eq!(got, key.as_bytes(), "{source}");
    }
    let e = c.copy_object().bucket("enc").key("copy").copy_source("enc/a+b").send().await.unwrap_err();
    assert_eq!(crate::common::error_code(&e).as_deref(), Some("NoSuchKey"), "a raw + is a space: no key \"a b\"");
    gw.stop().await;
}
