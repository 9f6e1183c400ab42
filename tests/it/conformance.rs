//! The smaller S3 behaviours applications rely on (issue 24): SSE vocabulary, bucket listing
//! pages and owners, request ids in error bodies, and what a request's framing must not leave in
//! the stored object. Each test cites the AWS behaviour it holds the gateway to.

use std::time::SystemTime;

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};

use crate::common::raw::{ChunkTamper, Signer, send, sha256_hex, signed_chunked_body, signed_request};
use crate::common::{TestGateway, body_bytes, error_code, error_status, listed_keys, pattern};

const AES256: Option<&ServerSideEncryption> = Some(&ServerSideEncryption::Aes256);

/// Promise: every object answer says `x-amz-server-side-encryption: AES256` (SSE-S3: the
/// gateway encrypts each object under its own key), whether or not the write asked for it, as
/// S3 reports it for every object since default encryption (2023). A write asking for SSE-KMS
/// is 501 NotImplemented and stores nothing.
#[tokio::test]
async fn every_object_answer_reports_sse_s3() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("sse").send().await.unwrap();
    let put = c.put_object().bucket("sse").key("plain").body(b"one".to_vec().into()).send().await.unwrap();
    assert_eq!(put.server_side_encryption(), AES256, "PUT without the header");
    let put = c
        .put_object()
        .bucket("sse")
        .key("asked")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(b"two".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.server_side_encryption(), AES256, "PUT with AES256");
    let head = c.head_object().bucket("sse").key("plain").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), AES256, "HEAD");
    let get = c.get_object().bucket("sse").key("plain").send().await.unwrap();
    assert_eq!(get.server_side_encryption(), AES256, "GET");
    let copy = c.copy_object().bucket("sse").key("copy").copy_source("sse/plain").send().await.unwrap();
    assert_eq!(copy.server_side_encryption(), AES256, "CopyObject");
    let mpu = c.create_multipart_upload().bucket("sse").key("mpu").send().await.unwrap();
    assert_eq!(mpu.server_side_encryption(), AES256, "CreateMultipartUpload");
    let upload_id = mpu.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("sse")
        .key("mpu")
        .upload_id(upload_id)
        .part_number(1)
        .body(b"part".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(part.server_side_encryption(), AES256, "UploadPart");
    let done = c
        .complete_multipart_upload()
        .bucket("sse")
        .key("mpu")
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(done.server_side_encryption(), AES256, "CompleteMultipartUpload");
    let kms = c
        .put_object()
        .bucket("sse")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(b"three".to_vec().into())
        .send()
        .await
        .unwrap_err();
    // SSE-KMS needs a KMS; this gateway keeps its key in the local key file (tests/it/kms.rs
    // covers SSE-KMS under OpenBao).
    assert_eq!((error_status(&kms), error_code(&kms).as_deref()), (Some(400), Some("InvalidArgument")));
    assert!(format!("{kms:?}").contains("needs a KMS"), "{kms:?}");
    assert_eq!(listed_keys(c, "sse").await, ["asked", "copy", "mpu", "plain"], "the refused write stored nothing");
    gw.stop().await;
}

fn encryption_config(algorithm: ServerSideEncryption, kms_key: Option<&str>) -> ServerSideEncryptionConfiguration {
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(algorithm)
        .set_kms_master_key_id(kms_key.map(str::to_owned))
        .build()
        .unwrap();
    ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build())
        .build()
        .unwrap()
}

/// Promise: GetBucketEncryption reports SSE-S3 (AES256) for every bucket, PutBucketEncryption
/// accepts that default, refuses a KMS key id with AES256 (400 InvalidArgument, AWS's answer)
/// and SSE-KMS defaults without a KMS (400 InvalidArgument), and DeleteBucketEncryption (204) leaves the
/// gateway's encryption in force, as on S3 since SSE-S3 became every bucket's default.
#[tokio::test]
async fn bucket_encryption_is_always_sse_s3() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("enc").send().await.unwrap();
    let reported = |out: aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput| {
        let rules = out.server_side_encryption_configuration().unwrap().rules().to_vec();
        assert_eq!(rules.len(), 1);
        let d = rules[0].apply_server_side_encryption_by_default().unwrap();
        (d.sse_algorithm().clone(), d.kms_master_key_id().map(str::to_owned), rules[0].bucket_key_enabled())
    };
    let want = (ServerSideEncryption::Aes256, None, Some(false));
    assert_eq!(reported(c.get_bucket_encryption().bucket("enc").send().await.unwrap()), want);
    c.put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(encryption_config(ServerSideEncryption::Aes256, None))
        .send()
        .await
        .unwrap();
    let e = c
        .put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(encryption_config(ServerSideEncryption::Aes256, Some("k")))
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    let e = c
        .put_bucket_encryption()
        .bucket("enc")
        .server_side_encryption_configuration(encryption_config(ServerSideEncryption::AwsKms, Some("k")))
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    c.delete_bucket_encryption().bucket("enc").send().await.unwrap();
    assert_eq!(reported(c.get_bucket_encryption().bucket("enc").send().await.unwrap()), want, "still SSE-S3");
    let e = c.get_bucket_encryption().bucket("absent").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchBucket"));
    gw.stop().await;
}

/// Promise: ListBuckets pages with `max-buckets` and an opaque `continuation-token` (no bucket
/// twice, none skipped), filters by `prefix` and `bucket-region`, echoes the prefix, names the
/// caller as the owner, and refuses a `max-buckets` outside 1–10,000 or a forged token with
/// 400 InvalidArgument (AWS ListBuckets reference).
#[tokio::test]
async fn list_buckets_pages_and_filters() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let names = ["logs-a", "logs-b", "logs-c", "media-a", "media-b"];
    for n in names {
        c.create_bucket().bucket(n).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let page = c.list_buckets().max_buckets(2).set_continuation_token(token.clone()).send().await.unwrap();
        assert!(page.buckets().len() <= 2);
        seen.extend(page.buckets().iter().map(|b| b.name().unwrap().to_owned()));
        assert_eq!(page.owner().and_then(|o| o.id()), Some("souverain"), "the root key's owner name");
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, names, "every bucket once, in order, over three pages");
    let logs = c.list_buckets().prefix("logs-").send().await.unwrap();
    let listed: Vec<&str> = logs.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(listed, ["logs-a", "logs-b", "logs-c"]);
    assert_eq!(logs.prefix(), Some("logs-"));
    assert_eq!(logs.continuation_token(), None, "nothing more to page");
    let here = c.list_buckets().bucket_region(crate::common::REGION).send().await.unwrap();
    assert_eq!(here.buckets().len(), names.len());
    let elsewhere = c.list_buckets().bucket_region("us-east-1").send().await.unwrap();
    assert!(elsewhere.buckets().is_empty(), "no bucket lives in another region");
    for bad in [0, 10_001] {
        let e = c.list_buckets().max_buckets(bad).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")), "{bad}");
    }
    let e = c.list_buckets().continuation_token("not base64!").send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    gw.stop().await;
}

/// Promise: ListObjects v1 names each object's owner, ListObjectsV2 only with
/// `fetch-owner=true` (AWS: "The Owner field is not present in ListObjectsV2 by default").
/// Objects are owned by their bucket's owner here (object ownership "bucket owner enforced").
#[tokio::test]
async fn listings_name_the_owner_when_asked() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("owned").send().await.unwrap();
    c.put_object().bucket("owned").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let v2 = c.list_objects_v2().bucket("owned").send().await.unwrap();
    assert_eq!(v2.contents()[0].owner(), None, "v2 without fetch-owner");
    let v2 = c.list_objects_v2().bucket("owned").fetch_owner(true).send().await.unwrap();
    assert_eq!(v2.contents()[0].owner().and_then(|o| o.id()), Some("souverain"));
    let v1 = c.list_objects().bucket("owned").send().await.unwrap();
    assert_eq!(v1.contents()[0].owner().and_then(|o| o.display_name()), Some("souverain"));
    gw.stop().await;
}

/// Promise: an S3 error body carries `<RequestId>` equal to the `x-amz-request-id` header, as
/// S3's error responses do, for errors of the gateway and of request parsing alike.
#[tokio::test]
async fn error_bodies_carry_the_request_id() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("ids").send().await.unwrap();
    let signer = Signer::new(SystemTime::now());
    let empty = sha256_hex(b"");
    for path in ["/ids/missing", "/absent-bucket/k"] {
        let r = signed_request(gw.addr, &signer, "GET", path, vec![], &empty, b"").await;
        assert_eq!(r.status, 404, "{path}");
        let id = r.header("x-amz-request-id").expect("request id header").to_owned();
        assert_eq!(id.len(), 16);
        assert!(r.body_text().contains(&format!("<RequestId>{id}</RequestId>")), "{path}: {}", r.body_text());
    }
    let anonymous = send(gw.addr, "GET", "/ids/missing", &[("host".into(), gw.addr.to_string())], b"").await.unwrap();
    assert_eq!(anonymous.status, 403);
    let id = anonymous.header("x-amz-request-id").unwrap();
    assert!(anonymous.body_text().contains(&format!("<RequestId>{id}</RequestId>")), "{}", anonymous.body_text());
    gw.stop().await;
}

/// A signed aws-chunked PUT of `data` with `content_encoding` and `extra` headers.
async fn chunked_put(
    gw: &TestGateway,
    path: &str,
    data: &[u8],
    content_encoding: &str,
    extra: &[(&str, &str)],
) -> crate::common::raw::RawResponse {
    let signer = Signer::new(SystemTime::now());
    let len = signed_chunked_body(&signer, &"0".repeat(64), data, 8192, None, ChunkTamper::None).len();
    let mut headers = vec![
        ("content-encoding".to_owned(), content_encoding.to_owned()),
        ("content-length".to_owned(), len.to_string()),
        ("x-amz-decoded-content-length".to_owned(), data.len().to_string()),
    ];
    headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let seed = signer.sign("PUT", path, &[], &mut headers, &gw.addr.to_string(), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    let body = signed_chunked_body(&signer, &seed, data, 8192, None, ChunkTamper::None);
    send(gw.addr, "PUT", path, &headers, &body).await.expect("sent")
}

/// Promise: `aws-chunked` is the request's framing, not the object's encoding: a PUT with
/// `Content-Encoding: gzip, aws-chunked` stores `gzip`, one with `aws-chunked` alone stores
/// none (AWS PutObject: "Amazon S3 stores the object without aws-chunked").
#[tokio::test]
async fn aws_chunked_is_not_stored_as_content_encoding() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("enc").send().await.unwrap();
    let data = pattern(20_000, 3);
    for (key, sent, stored) in [("gz", "gzip, aws-chunked", Some("gzip")), ("plain", "aws-chunked", None)] {
        let r = chunked_put(&gw, &format!("/enc/{key}"), &data, sent, &[]).await;
        assert_eq!(r.status, 200, "{key}: {}", r.body_text());
        let got = gw.client.get_object().bucket("enc").key(key).send().await.unwrap();
        assert_eq!(got.content_encoding(), stored, "{key}");
        assert_eq!(body_bytes(got).await, data, "{key}");
    }
    gw.stop().await;
}

/// Promise: an empty `Content-MD5` header is 400 InvalidDigest (AWS: "The Content-MD5 you
/// specified was invalid") and stores nothing.
#[tokio::test]
async fn empty_content_md5_is_invalid_digest() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("md5").send().await.unwrap();
    let signer = Signer::new(SystemTime::now());
    let body = b"some bytes";
    let headers = vec![("content-md5".to_owned(), String::new()), ("content-length".to_owned(), "10".to_owned())];
    let r = signed_request(gw.addr, &signer, "PUT", "/md5/k", headers, &sha256_hex(body), body).await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("InvalidDigest")), "{}", r.body_text());
    assert!(listed_keys(&gw.client, "md5").await.is_empty(), "nothing stored");
    gw.stop().await;
}

/// Promise: a key that is not valid UTF-8 (`%FF` in the path) is refused with 400 InvalidURI
/// (S3's "Couldn't parse the specified URI"), never stored under a mangled name.
#[tokio::test]
async fn a_key_that_is_not_utf8_is_400() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("utf").send().await.unwrap();
    let signer = Signer::new(SystemTime::now());
    let body = b"data";
    let mut headers = vec![("content-length".to_owned(), "4".to_owned())];
    // The canonical URI of a path that is already percent-encoded is the path as sent.
    signer.sign_encoded("PUT", "/utf/a%FFb", &mut headers, &gw.addr.to_string(), &sha256_hex(body));
    let r = send(gw.addr, "PUT", "/utf/a%FFb", &headers, body).await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (400, Some("InvalidURI")), "{}", r.body_text());
    assert!(listed_keys(&gw.client, "utf").await.is_empty(), "nothing stored");
    gw.stop().await;
}

/// A request signed for `host` (virtual-hosted style when it is `<bucket>.<domain>`).
async fn hosted(
    gw: &TestGateway,
    host: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> crate::common::raw::RawResponse {
    let signer = Signer::new(SystemTime::now());
    let mut headers = vec![("content-length".to_owned(), body.len().to_string())];
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let pairs: Vec<(&str, &str)> =
        query.split('&').filter(|q| !q.is_empty()).map(|q| q.split_once('=').unwrap_or((q, ""))).collect();
    signer.sign(method, path_only, &pairs, &mut headers, host, &sha256_hex(body));
    send(gw.addr, method, path, &headers, body).await.unwrap()
}

/// Promise: with `server.domains`, a request whose Host is `<bucket>.<domain>` addresses that
/// bucket (virtual-hosted style, AWS's default): create, PUT of an object larger than the XML
/// body limit, GET, ListObjectsV2, a CORS preflight, DELETE; path style keeps working on the
/// same name and on the bare address, and both styles see the same objects.
#[tokio::test]
async fn virtual_hosted_and_path_style_address_the_same_buckets() {
    let gw = TestGateway::start_with(|t| t.replace("domains = [\"s3.test\"]", "domains = [\"s3.example.eu\"]")).await;
    let vhost = "photos.s3.example.eu";
    let r = hosted(&gw, vhost, "PUT", "/", b"").await;
    assert_eq!(r.status, 200, "CreateBucket: {}", r.body_text());
    let big = pattern(5 << 20, 9);
    let r = hosted(&gw, vhost, "PUT", "/big.jpg", &big).await;
    assert_eq!(r.status, 200, "a top-level key: {}", r.body_text());
    let r = hosted(&gw, vhost, "PUT", "/albums/one.jpg", &big).await;
    assert_eq!(r.status, 200, "PutObject: {}", r.body_text());
    let r = hosted(&gw, vhost, "GET", "/albums/one.jpg", b"").await;
    assert!(r.status == 200 && r.body == big, "GetObject: {}", r.status);
    let r = hosted(&gw, vhost, "GET", "/?list-type=2&prefix=albums/", b"").await;
    assert!(r.body_text().contains("<Key>albums/one.jpg</Key>"), "ListObjectsV2: {}", r.body_text());
    let path_style = hosted(&gw, "s3.example.eu", "GET", "/photos/albums/one.jpg", b"").await;
    assert!(path_style.status == 200 && path_style.body == big, "path style on the domain");
    let got = gw.client.get_object().bucket("photos").key("albums/one.jpg").send().await.unwrap();
    assert_eq!(body_bytes(got).await, big, "path style on the bare address (the SDK)");
    let rule = aws_sdk_s3::types::CorsRule::builder().allowed_origins("*").allowed_methods("GET").build().unwrap();
    let cors = aws_sdk_s3::types::CorsConfiguration::builder().cors_rules(rule).build().unwrap();
    gw.client.put_bucket_cors().bucket("photos").cors_configuration(cors).send().await.unwrap();
    let preflight = [
        ("host".to_owned(), vhost.to_owned()),
        ("origin".to_owned(), "https://app.example.eu".to_owned()),
        ("access-control-request-method".to_owned(), "GET".to_owned()),
    ];
    let r = send(gw.addr, "OPTIONS", "/albums/one.jpg", &preflight, b"").await.unwrap();
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, Some("*")), "the bucket's CORS rules");
    let r = hosted(&gw, vhost, "DELETE", "/albums/one.jpg", b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(listed_keys(&gw.client, "photos").await, ["big.jpg"]);
    gw.stop().await;
}

/// Promise: a signed GET may choose the answer's Content-Type, Content-Disposition,
/// Cache-Control, Content-Encoding, Content-Language and Expires with `response-*` (what a
/// presigned download link uses to name the saved file); the stored object keeps its own.
#[tokio::test]
async fn signed_reads_choose_their_response_headers() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("dls").send().await.unwrap();
    c.put_object()
        .bucket("dls")
        .key("r.bin")
        .content_type("application/octet-stream")
        .body(b"report".to_vec().into())
        .send()
        .await
        .unwrap();
    let expires = aws_sdk_s3::primitives::DateTime::from_secs(1_900_000_000);
    let got = c
        .get_object()
        .bucket("dls")
        .key("r.bin")
        .response_content_type("application/pdf")
        .response_content_disposition("attachment; filename=\"report.pdf\"")
        .response_cache_control("no-store")
        .response_content_encoding("identity")
        .response_content_language("de-DE")
        .response_expires(expires)
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/pdf"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"report.pdf\""));
    assert_eq!(got.cache_control(), Some("no-store"));
    assert_eq!(got.content_encoding(), Some("identity"));
    assert_eq!(got.content_language(), Some("de-DE"));
    #[allow(deprecated)]
    let got_expires = got.expires().map(aws_sdk_s3::primitives::DateTime::secs);
    assert_eq!(got_expires, Some(1_900_000_000));
    let head = c.head_object().bucket("dls").key("r.bin").send().await.unwrap();
    assert_eq!(
        (head.content_type(), head.content_disposition()),
        (Some("application/octet-stream"), None),
        "stored as put"
    );
    gw.stop().await;
}

/// `data` framed as HTTP/1.1 chunks of `size` bytes.
fn http_chunks(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / size * 12 + 16);
    for c in data.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Promise (issue 24): a PUT with `Transfer-Encoding: chunked` and no length at all (plain
/// HTTP/1.1 chunking, UNSIGNED-PAYLOAD) is stored, as S3 does (Ceph's s3-tests check it against
/// AWS: `test_object_write_with_chunked_transfer_encoding`): small and above the 8 MiB piece,
/// signed in the header or presigned, read back byte for byte with the whole body's MD5 as its
/// ETag. Left at 411 MissingContentLength, nothing stored: a part sent so, and a signed payload
/// (its SHA-256 check needs the length first).
#[tokio::test]
async fn chunked_transfer_without_any_length_is_stored() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("chunked").send().await.unwrap();
    let host = gw.addr.to_string();
    let put = |target: String, payload: String, data: Vec<u8>| {
        let host = host.clone();
        async move {
            let signer = Signer::new(SystemTime::now());
            let mut headers = vec![("transfer-encoding".to_owned(), "chunked".to_owned())];
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let query: Vec<(&str, &str)> =
                query.split('&').filter(|kv| !kv.is_empty()).filter_map(|kv| kv.split_once('=')).collect();
            signer.sign("PUT", path, &query, &mut headers, &host, &payload);
            send(gw.addr, "PUT", &target, &headers, &http_chunks(&data, 65_536)).await.unwrap()
        }
    };
    for (key, n) in [("small", 5_000usize), ("large", (20 << 20) + 7)] {
        let data = pattern(n, n as u64);
        let r = put(format!("/chunked/{key}"), "UNSIGNED-PAYLOAD".into(), data.clone()).await;
        assert_eq!(r.status, 200, "{key}: {}", r.body_text());
        let got = gw.client.get_object().bucket("chunked").key(key).send().await.unwrap();
        assert_eq!(got.e_tag(), Some(format!("\"{}\"", crate::common::md5_hex(&data)).as_str()), "{key}");
        assert!(body_bytes(got).await == data, "{key} read back");
    }
    let url = Signer::new(SystemTime::now()).presign("PUT", "/chunked/presigned", &host, 300);
    let data = pattern(100_000, 3);
    let headers = vec![("host".to_owned(), host.clone()), ("transfer-encoding".to_owned(), "chunked".to_owned())];
    let r = send(gw.addr, "PUT", &url, &headers, &http_chunks(&data, 4096)).await.unwrap();
    assert_eq!(r.status, 200, "presigned: {}", r.body_text());
    let got = gw.client.get_object().bucket("chunked").key("presigned").send().await.unwrap();
    assert!(body_bytes(got).await == data, "presigned read back");

    let before = listed_keys(&gw.client, "chunked").await;
    let signed = put("/chunked/signed".into(), sha256_hex(b"data"), b"data".to_vec()).await;
    assert_eq!(
        (signed.status, signed.code().as_deref()),
        (411, Some("MissingContentLength")),
        "{}",
        signed.body_text()
    );
    let up = gw.client.create_multipart_upload().bucket("chunked").key("parted").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part = put(format!("/chunked/parted?partNumber=1&uploadId={id}"), "UNSIGNED-PAYLOAD".into(), vec![7; 10]).await;
    assert_eq!((part.status, part.code().as_deref()), (411, Some("MissingContentLength")), "{}", part.body_text());
    let parts = gw.client.list_parts().bucket("chunked").key("parted").upload_id(&id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "no part stored");
    assert_eq!(listed_keys(&gw.client, "chunked").await, before, "nothing stored");
    gw.stop().await;
}
