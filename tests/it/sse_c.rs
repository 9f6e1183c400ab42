//! SSE-C (issue 24): the customer's key wraps the object's data key, against AWS S3's
//! documented behaviour ("Using server-side encryption with customer-provided keys"): the
//! answers carry `x-amz-server-side-encryption-customer-algorithm` and `-key-MD5`; a read
//! without the key is 400 InvalidRequest, with another key 403 AccessDenied, a key for an
//! object stored without one 400 InvalidRequest; a key whose MD5 does not match 400
//! InvalidArgument; every part and the completion of an SSE-C upload need the key; CopyObject
//! takes the source's key in the `x-amz-copy-source-` headers. The key itself is stored
//! nowhere.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectAttributes};
use base64::Engine as _;

use crate::common::{TestGateway, body_bytes, error_code, error_status, listed_keys, pattern};

/// A customer key: its base64 and the base64 of its MD5, as the headers carry them.
struct Key {
    raw: [u8; 32],
    b64: String,
    md5: String,
}

fn key(fill: u8) -> Key {
    let (b64, md5) = test_key(fill);
    Key { raw: [fill; 32], b64, md5 }
}

/// The key of 32 bytes `fill`, as the SSE-C headers carry it: its base64 and its MD5's.
pub fn test_key(fill: u8) -> (String, String) {
    use md5::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    (b64.encode([fill; 32]), b64.encode(md5::Md5::digest([fill; 32])))
}

/// `.customer(&key)`: the three SSE-C headers of `key` on any request builder that takes them
/// (`.source_customer`: the `x-amz-copy-source-` ones).
trait WithCustomerKey: Sized {
    fn customer(self, k: &Key) -> Self;
}

trait WithSourceKey: Sized {
    fn source_customer(self, k: &Key) -> Self;
}

macro_rules! with_customer_key {
    ($($builder:ty),*) => {$(
        impl WithCustomerKey for $builder {
            fn customer(self, k: &Key) -> Self {
                self.sse_customer_algorithm("AES256").sse_customer_key(&k.b64).sse_customer_key_md5(&k.md5)
            }
        }
    )*};
}

macro_rules! with_source_key {
    ($($builder:ty),*) => {$(
        impl WithSourceKey for $builder {
            fn source_customer(self, k: &Key) -> Self {
                self.copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(&k.b64)
                    .copy_source_sse_customer_key_md5(&k.md5)
            }
        }
    )*};
}

use aws_sdk_s3::operation as op;
with_customer_key!(
    op::put_object::builders::PutObjectFluentBuilder,
    op::get_object::builders::GetObjectFluentBuilder,
    op::head_object::builders::HeadObjectFluentBuilder,
    op::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    op::upload_part::builders::UploadPartFluentBuilder,
    op::upload_part_copy::builders::UploadPartCopyFluentBuilder,
    op::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder,
    op::copy_object::builders::CopyObjectFluentBuilder
);
with_source_key!(
    op::upload_part_copy::builders::UploadPartCopyFluentBuilder,
    op::copy_object::builders::CopyObjectFluentBuilder
);

async fn put_with(c: &Client, bucket: &str, name: &str, data: &[u8], k: &Key) {
    let out = c.put_object().bucket(bucket).key(name).customer(k).body(data.to_vec().into()).send().await.unwrap();
    assert_eq!(out.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
    assert_eq!(out.server_side_encryption(), None, "SSE-C answers name no other encryption");
}

async fn get_with(c: &Client, bucket: &str, name: &str, k: &Key) -> Vec<u8> {
    let out = c.get_object().bucket(bucket).key(name).customer(k).send().await.unwrap();
    assert_eq!((out.sse_customer_algorithm(), out.sse_customer_key_md5()), (Some("AES256"), Some(k.md5.as_str())));
    body_bytes(out).await
}

/// Status and code of a GET of `name` with `k` (or none).
async fn get_refused(c: &Client, bucket: &str, name: &str, k: Option<&Key>) -> (Option<u16>, Option<String>) {
    let mut get = c.get_object().bucket(bucket).key(name);
    if let Some(k) = k {
        get = get.customer(k);
    }
    let e = get.send().await.expect_err("refused");
    (error_status(&e), error_code(&e))
}

async fn head_refused(c: &Client, bucket: &str, name: &str, k: Option<&Key>) -> Option<u16> {
    let mut head = c.head_object().bucket(bucket).key(name);
    if let Some(k) = k {
        head = head.customer(k);
    }
    error_status(&head.send().await.expect_err("refused"))
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                found.push(p);
            }
        }
    }
    found
}

/// Promise: an object PUT with a customer key reads back byte for byte (whole and ranged) and
/// HEADs only with that key; without it GET and HEAD answer 400 (InvalidRequest), with another
/// key 403 (AccessDenied), and a key sent for an object stored without one 400; the location
/// view names the customer key as the object's wrapping; neither the key nor its base64 is in
/// any file of the gateway or its providers.
#[tokio::test]
async fn an_object_under_a_customer_key_opens_only_with_it() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("ssec").send().await.unwrap();
    let (k, other) = (key(0x5a), key(0x3c));
    let data = pattern(300_000, 4);
    put_with(c, "ssec", "secret", &data, &k).await;
    c.put_object().bucket("ssec").key("plain").body(b"plain".to_vec().into()).send().await.unwrap();

    assert_eq!(get_with(c, "ssec", "secret", &k).await, data);
    let ranged =
        c.get_object().bucket("ssec").key("secret").range("bytes=70000-70099").customer(&k).send().await.unwrap();
    assert_eq!(body_bytes(ranged).await, &data[70_000..70_100]);
    let head = c.head_object().bucket("ssec").key("secret").customer(&k).send().await.unwrap();
    assert_eq!(head.content_length(), Some(300_000));
    assert_eq!(head.sse_customer_key_md5(), Some(k.md5.as_str()));

    assert_eq!(get_refused(c, "ssec", "secret", None).await, (Some(400), Some("InvalidRequest".into())));
    assert_eq!(get_refused(c, "ssec", "secret", Some(&other)).await, (Some(403), Some("AccessDenied".into())));
    assert_eq!(head_refused(c, "ssec", "secret", None).await, Some(400));
    assert_eq!(head_refused(c, "ssec", "secret", Some(&other)).await, Some(403));
    assert_eq!(get_refused(c, "ssec", "plain", Some(&k)).await, (Some(400), Some("InvalidRequest".into())));
    let attributes = c
        .get_object_attributes()
        .bucket("ssec")
        .key("secret")
        .object_attributes(ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_status(&attributes), Some(400), "GetObjectAttributes needs the key too");
    let plain = c.get_object().bucket("ssec").key("plain").send().await.unwrap();
    assert_eq!(plain.server_side_encryption().map(aws_sdk_s3::types::ServerSideEncryption::as_str), Some("AES256"));

    let location = gw.admin_json("/admin/v1/locations/ssec/secret").await;
    assert_eq!(location["kek"], "sse-c:customer v1", "{location}");
    for needle in [&k.raw[..], k.b64.as_bytes()] {
        assert_eq!(files_holding(gw.dir.path(), needle), Vec::<std::path::PathBuf>::new());
    }
    gw.stop().await;
}

/// Promise: a customer key whose MD5 header does not match it is refused with 400
/// InvalidArgument, as is an algorithm other than AES256 (400 InvalidEncryptionAlgorithmError)
/// and SSE-C together with `x-amz-server-side-encryption`, and nothing is stored.
#[tokio::test]
async fn malformed_customer_keys_are_refused_and_store_nothing() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("ssec").send().await.unwrap();
    let (k, other) = (key(1), key(2));
    let put = || c.put_object().bucket("ssec").key("k").body(b"x".to_vec().into());
    let e = put()
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k.b64)
        .sse_customer_key_md5(&other.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    let e = put()
        .sse_customer_algorithm("AES128")
        .sse_customer_key(&k.b64)
        .sse_customer_key_md5(&k.md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidEncryptionAlgorithmError")));
    let e = put()
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .customer(&k)
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    assert!(listed_keys(c, "ssec").await.is_empty());
    assert!(gw.stream_files().is_empty(), "no byte reached a provider");
    gw.stop().await;
}

/// Promise: a multipart upload created with a customer key takes parts only with that key
/// (none → 400, another → 403, nothing stored for the refused part), completes only with it,
/// and reads back byte for byte with it; UploadPartCopy reads an SSE-C source with the
/// `x-amz-copy-source-` key into it.
#[tokio::test]
async fn a_multipart_upload_under_a_customer_key_needs_it_for_every_part() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("ssec").send().await.unwrap();
    let (k, other, source_key) = (key(7), key(8), key(9));
    let source = pattern(1 << 20, 11);
    put_with(c, "ssec", "source", &source, &source_key).await;
    let created = c.create_multipart_upload().bucket("ssec").key("big").customer(&k).send().await.unwrap();
    assert_eq!(created.sse_customer_key_md5(), Some(k.md5.as_str()));
    let id = created.upload_id().unwrap();
    let first = pattern(5 << 20, 12);
    let part = |n: i32, with: Option<&Key>| {
        let mut p = c.upload_part().bucket("ssec").key("big").upload_id(id).part_number(n).body(first.clone().into());
        if let Some(k) = with {
            p = p.customer(k);
        }
        p
    };
    let streams_before = gw.stream_files().len();
    let e = part(1, None).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidRequest")));
    let e = part(1, Some(&other)).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(403), Some("AccessDenied")));
    assert_eq!(gw.stream_files().len(), streams_before, "a refused part stores nothing");
    let p1 = part(1, Some(&k)).send().await.unwrap();
    assert_eq!(p1.sse_customer_key_md5(), Some(k.md5.as_str()));
    let copy = c
        .upload_part_copy()
        .bucket("ssec")
        .key("big")
        .upload_id(id)
        .part_number(2)
        .copy_source("ssec/source")
        .customer(&k)
        .source_customer(&source_key)
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .parts(CompletedPart::builder().part_number(2).e_tag(copy.copy_part_result().unwrap().e_tag().unwrap()).build())
        .build();
    let complete =
        || c.complete_multipart_upload().bucket("ssec").key("big").upload_id(id).multipart_upload(parts.clone());
    let e = complete().send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidRequest")));
    complete().customer(&k).send().await.unwrap();
    let mut whole = first.clone();
    whole.extend_from_slice(&source);
    assert_eq!(get_with(c, "ssec", "big", &k).await, whole);
    assert_eq!(get_refused(c, "ssec", "big", Some(&source_key)).await.0, Some(403));
    gw.stop().await;
}

/// Promise: CopyObject reads an SSE-C source only with its key in the `x-amz-copy-source-`
/// headers (400 without), writes the copy under the destination's key or none, and a copy of
/// an object onto itself with a new key is how a customer changes keys: the old key no longer
/// opens it.
#[tokio::test]
async fn copies_take_the_source_key_and_the_destination_key_apart() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("ssec").send().await.unwrap();
    let (k, next) = (key(21), key(22));
    let data = pattern(100_000, 5);
    put_with(c, "ssec", "doc", &data, &k).await;
    let e = c.copy_object().bucket("ssec").key("plain-copy").copy_source("ssec/doc").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(400));
    c.copy_object().bucket("ssec").key("plain-copy").copy_source("ssec/doc").source_customer(&k).send().await.unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("ssec").key("plain-copy").send().await.unwrap()).await, data);
    let moved = c
        .copy_object()
        .bucket("ssec")
        .key("doc")
        .copy_source("ssec/doc")
        .source_customer(&k)
        .customer(&next)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.sse_customer_key_md5(), Some(next.md5.as_str()));
    assert_eq!(get_with(c, "ssec", "doc", &next).await, data);
    assert_eq!(get_refused(c, "ssec", "doc", Some(&k)).await.0, Some(403));
    gw.stop().await;
}
