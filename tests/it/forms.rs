//! POST object: HTML form uploads signed with SigV4 (AWS "Browser-based uploads using POST"):
//! the policy's conditions, its content-length-range held while the file streams, S3's three
//! kinds of answers, and refusals that store nothing.

use std::time::SystemTime;

use base64::Engine as _;

use crate::common::raw::{RawResponse, Signer, send};
use crate::common::{ACCESS_KEY, TestGateway, body_bytes, listed_keys, md5_hex, pattern};

/// A signed form: its fields (policy, credential and signature included), for a file.
pub struct Form {
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// A form for `bucket` signed by the test key, with `conditions` (JSON array items) and
    /// `fields` besides the signing ones; the policy expires in `expires_in` seconds.
    pub fn signed(bucket: &str, conditions: &[&str], fields: &[(&str, &str)], expires_in: i64) -> Self {
        let signer = Signer::new(SystemTime::now());
        let credential = format!("{}/{}", signer.access, signer.scope);
        let expiration = time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in);
        let expiration = expiration.format(&time::format_description::well_known::Rfc3339).unwrap();
        let mut all: Vec<String> = conditions.iter().map(|c| (*c).to_owned()).collect();
        all.push(format!("{{\"bucket\":\"{bucket}\"}}"));
        all.push(format!("{{\"x-amz-credential\":\"{credential}\"}}"));
        all.push("{\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\"}".to_owned());
        all.push(format!("{{\"x-amz-date\":\"{}\"}}", signer.amz_date));
        let policy = format!("{{\"expiration\":\"{expiration}\",\"conditions\":[{}]}}", all.join(","));
        let policy = base64::engine::general_purpose::STANDARD.encode(policy);
        let signature = signer.sign_string(&policy);
        let mut out: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        out.push(("x-amz-credential".into(), credential));
        out.push(("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()));
        out.push(("x-amz-date".into(), signer.amz_date.clone()));
        out.push(("policy".into(), policy));
        out.push(("x-amz-signature".into(), signature));
        Self { fields: out }
    }

    /// The multipart/form-data body with `file` last, and its boundary.
    pub fn body(&self, file_name: &str, file: &[u8]) -> (Vec<u8>, String) {
        let boundary = "----souverain-form-7d3";
        let mut out = Vec::new();
        for (k, v) in &self.fields {
            out.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
            );
        }
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(file);
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        (out, boundary.to_owned())
    }

    /// POSTs it to `/bucket`.
    pub async fn post(&self, gw: &TestGateway, bucket: &str, file_name: &str, file: &[u8]) -> RawResponse {
        let (body, boundary) = self.body(file_name, file);
        let headers = [
            ("host".to_owned(), gw.addr.to_string()),
            ("content-type".to_owned(), format!("multipart/form-data; boundary={boundary}")),
            ("content-length".to_owned(), body.len().to_string()),
        ];
        send(gw.addr, "POST", &format!("/{bucket}"), &headers, &body).await.unwrap()
    }
}

const UPLOADS: &str = r#"["starts-with","$key","uploads/"]"#;

/// Promise: a signed form stores its file under the key it names (`${filename}` replaced by
/// the file's name) with its Content-Type and metadata, and answers 204 with the ETag (the
/// MD5) and the object's Location; GET reads back the bytes, also for a file larger than the
/// 8 MiB piece the gateway holds at most (stored in pieces, the ETag over the whole).
#[tokio::test]
async fn a_signed_form_upload_is_stored() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("forms").send().await.unwrap();
    let conditions = [UPLOADS, r#"["starts-with","$Content-Type","text/"]"#, r#"{"x-amz-meta-origin":"browser"}"#];
    let fields = [("key", "uploads/${filename}"), ("Content-Type", "text/plain"), ("x-amz-meta-origin", "browser")];
    let form = Form::signed("forms", &conditions, &fields, 300);
    let data = b"hello from a form".to_vec();
    let r = form.post(&gw, "forms", "note.txt", &data).await;
    assert_eq!(r.status, 204, "{}", r.body_text());
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", md5_hex(&data)).as_str()));
    assert_eq!(r.header("location"), Some("/forms/uploads%2Fnote.txt"));
    let got = gw.client.get_object().bucket("forms").key("uploads/note.txt").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("browser"));
    assert_eq!(body_bytes(got).await, data);
    let big = pattern((8 << 20) * 2 + 777, 4);
    let form = Form::signed(
        "forms",
        &[UPLOADS, r#"["starts-with","$Content-Type",""]"#],
        &[("key", "uploads/big.bin"), ("Content-Type", "application/octet-stream")],
        300,
    );
    let r = form.post(&gw, "forms", "big.bin", &big).await;
    assert_eq!(r.status, 204, "{}", r.body_text());
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", md5_hex(&big)).as_str()), "the MD5 of the whole file");
    let got = gw.client.get_object().bucket("forms").key("uploads/big.bin").send().await.unwrap();
    assert!(body_bytes(got).await == big, "the bytes, across pieces");
    gw.stop().await;
}

/// Promise: `success_action_status` 201 answers S3's PostResponse XML, 200 an empty 200;
/// `success_action_redirect` answers 303 to it with bucket, key and ETag.
#[tokio::test]
async fn form_answers_follow_success_action_fields() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("forms").send().await.unwrap();
    let created = Form::signed(
        "forms",
        &[UPLOADS, r#"{"success_action_status":"201"}"#],
        &[("key", "uploads/a"), ("success_action_status", "201")],
        300,
    );
    let r = created.post(&gw, "forms", "a", b"a").await;
    assert_eq!(r.status, 201);
    let etag = format!("\"{}\"", md5_hex(b"a"));
    let body = r.body_text();
    assert!(body.contains("<Bucket>forms</Bucket><Key>uploads/a</Key>"), "{body}");
    assert!(body.contains(&format!("<ETag>{}</ETag>", etag.replace('"', "&quot;"))), "{body}");
    let ok = Form::signed(
        "forms",
        &[UPLOADS, r#"{"success_action_status":"200"}"#],
        &[("key", "uploads/b"), ("success_action_status", "200")],
        300,
    );
    assert_eq!(ok.post(&gw, "forms", "b", b"b").await.status, 200);
    let to = "https://app.example.eu/done";
    let redirect = Form::signed(
        "forms",
        &[UPLOADS, &format!(r#"{{"success_action_redirect":"{to}"}}"#)],
        &[("key", "uploads/c"), ("success_action_redirect", to)],
        300,
    );
    let r = redirect.post(&gw, "forms", "c", b"c").await;
    assert_eq!(r.status, 303);
    let location = r.header("location").unwrap();
    assert!(location.starts_with("https://app.example.eu/done?bucket=forms&key=uploads%2Fc&etag="), "{location}");
    assert_eq!(listed_keys(&gw.client, "forms").await, ["uploads/a", "uploads/b", "uploads/c"]);
    gw.stop().await;
}

/// Promise: what the policy or the signature does not allow is refused and stores nothing: a
/// key outside the policy's prefix, a field no condition names, an expired policy (403
/// AccessDenied), a wrong signature (403 SignatureDoesNotMatch), an unknown key (403
/// InvalidAccessKeyId), a file longer than `content-length-range` (400 EntityTooLarge, found
/// while it streams) or shorter (400 EntityTooSmall), an unsigned form to a private bucket
/// (403 AccessDenied).
#[tokio::test]
async fn forms_the_policy_refuses_store_nothing() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("forms").send().await.unwrap();
    let status = |r: &RawResponse| (r.status, r.code());
    let form = Form::signed("forms", &[UPLOADS], &[("key", "elsewhere/x")], 300);
    assert_eq!(status(&form.post(&gw, "forms", "x", b"x").await), (403, Some("AccessDenied".into())), "key prefix");
    let form = Form::signed("forms", &[UPLOADS], &[("key", "uploads/x"), ("x-amz-meta-extra", "1")], 300);
    assert_eq!(status(&form.post(&gw, "forms", "x", b"x").await), (403, Some("AccessDenied".into())), "extra field");
    let form = Form::signed("forms", &[UPLOADS], &[("key", "uploads/x")], -10);
    assert_eq!(status(&form.post(&gw, "forms", "x", b"x").await), (403, Some("AccessDenied".into())), "expired");
    let mut form = Form::signed("forms", &[UPLOADS], &[("key", "uploads/x")], 300);
    let signature = form.fields.iter_mut().find(|(k, _)| k == "x-amz-signature").unwrap();
    signature.1 = "0".repeat(64);
    assert_eq!(status(&form.post(&gw, "forms", "x", b"x").await), (403, Some("SignatureDoesNotMatch".into())));
    let mut form = Form::signed("forms", &[UPLOADS], &[("key", "uploads/x")], 300);
    let cred = form.fields.iter_mut().find(|(k, _)| k == "x-amz-credential").unwrap();
    cred.1 = cred.1.replace(ACCESS_KEY, "unknown-key");
    assert_eq!(status(&form.post(&gw, "forms", "x", b"x").await), (403, Some("InvalidAccessKeyId".into())));
    let range = r#"["content-length-range",10,1000]"#;
    let form = Form::signed("forms", &[UPLOADS, range], &[("key", "uploads/big")], 300);
    let r = form.post(&gw, "forms", "big", &pattern(5000, 1)).await;
    assert_eq!(status(&r), (400, Some("EntityTooLarge".into())), "{}", r.body_text());
    let r = form.post(&gw, "forms", "small", b"tiny").await;
    assert_eq!(status(&r), (400, Some("EntityTooSmall".into())), "{}", r.body_text());
    let unsigned = Form { fields: vec![("key".into(), "uploads/anon".into())] };
    assert_eq!(status(&unsigned.post(&gw, "forms", "anon", b"a").await), (403, Some("AccessDenied".into())));
    assert!(listed_keys(&gw.client, "forms").await.is_empty(), "nothing stored");
    gw.stop().await;
}

/// Promise (AWS's POST object fields `tagging` and `x-amz-checksum-*`): a form's `tagging`
/// document becomes the object's tags, and its checksum field is checked over the whole file —
/// also one longer than the 8 MiB piece — and stored (GET with checksum mode returns it); a
/// checksum that does not match is 400 BadDigest, a malformed tagging document 400
/// MalformedXML, eleven tags 400 InvalidTag, and nothing of a refused form is stored.
#[tokio::test]
async fn form_tags_and_checksums_are_honoured() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("forms").send().await.unwrap();
    let tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>";
    let post = |key: &'static str, fields: Vec<(&'static str, String)>, file: Vec<u8>| {
        let mut all = vec![("key", key.to_owned())];
        all.extend(fields);
        let conditions: Vec<String> =
            all.iter().map(|(k, v)| format!("{{\"{k}\":{}}}", serde_json::json!(v))).collect();
        let conditions: Vec<&str> = conditions.iter().map(String::as_str).collect();
        let fields: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let form = Form::signed("forms", &conditions, &fields, 300);
        let gw = &gw;
        async move { form.post(gw, "forms", "f.bin", &file).await }
    };
    let small = pattern(70_000, 1);
    let crc = crate::checksums::expected(&ChecksumAlgorithm::Crc32, &small);
    let fields = vec![("tagging", tagging.to_owned()), ("x-amz-checksum-crc32", crc.clone())];
    let r = post("tagged", fields, small.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body_text());
    let tags = gw.client.get_object_tagging().bucket("forms").key("tagged").send().await.unwrap();
    let tags: Vec<_> = tags.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    assert_eq!(tags, [("team".to_owned(), "blue".to_owned())]);
    let got = gw.client.get_object().bucket("forms").key("tagged").checksum_mode(ChecksumMode::Enabled).send();
    let got = got.await.unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(body_bytes(got).await, small);
    let big = pattern((8 << 20) + 5_000, 2);
    let big_crc = crate::checksums::expected(&ChecksumAlgorithm::Crc32, &big);
    let r = post("big", vec![("x-amz-checksum-crc32", big_crc.clone())], big.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body_text());
    let head = gw.client.head_object().bucket("forms").key("big").checksum_mode(ChecksumMode::Enabled).send();
    assert_eq!(head.await.unwrap().checksum_crc32(), Some(big_crc.as_str()));
    let listed = listed_keys(&gw.client, "forms").await;
    let refusals = [
        ("bad-crc", vec![("x-amz-checksum-crc32", crc.clone())], big.clone(), "BadDigest"),
        ("bad-small-crc", vec![("x-amz-checksum-crc32", big_crc.clone())], small.clone(), "BadDigest"),
        ("bad-xml", vec![("tagging", "<Tagging><TagSet>".to_owned())], small.clone(), "MalformedXML"),
        (
            "too-many",
            vec![(
                "tagging",
                format!(
                    "<Tagging><TagSet>{}</TagSet></Tagging>",
                    (0..11).map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>")).collect::<String>()
                ),
            )],
            small.clone(),
            "InvalidTag",
        ),
    ];
    for (key, fields, file, code) in refusals {
        let r = post(key, fields, file).await;
        assert_eq!(
            (r.status, r.body_text().contains(&format!("<Code>{code}</Code>"))),
            (400, true),
            "{key}: {}",
            r.body_text()
        );
    }
    assert_eq!(listed_keys(&gw.client, "forms").await, listed, "the refused forms stored nothing");
    gw.stop().await;
}

/// Promise: a form may carry an SSE-C key (`x-amz-server-side-encryption-customer-*` fields,
/// named by the policy like any field): the file is stored under it and reads back only with
/// it; a key whose MD5 field does not match is 400 InvalidArgument and stores nothing.
#[tokio::test]
async fn a_form_upload_under_a_customer_key_needs_it_to_be_read() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("forms").send().await.unwrap();
    let (key, md5) = crate::sse_c::test_key(0x71);
    let (_, other_md5) = crate::sse_c::test_key(0x72);
    let form = |name: &'static str, md5: &str| {
        let fields = [
            ("key", name.to_owned()),
            ("x-amz-server-side-encryption-customer-algorithm", "AES256".to_owned()),
            ("x-amz-server-side-encryption-customer-key", key.clone()),
            ("x-amz-server-side-encryption-customer-key-md5", md5.to_owned()),
        ];
        let conditions: Vec<String> =
            fields.iter().map(|(k, v)| format!("{{\"{k}\":{}}}", serde_json::json!(v))).collect();
        let conditions: Vec<&str> = conditions.iter().map(String::as_str).collect();
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Form::signed("forms", &conditions, &fields, 300)
    };
    let data = pattern(50_000, 6);
    let r = form("secret", &md5).post(&gw, "forms", "s.bin", &data).await;
    assert_eq!(r.status, 204, "{}", r.body_text());
    let e = gw.client.get_object().bucket("forms").key("secret").send().await.unwrap_err();
    assert_eq!(crate::common::error_status(&e), Some(400));
    let got = gw
        .client
        .get_object()
        .bucket("forms")
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert!(body_bytes(got).await == data);
    let r = form("mismatch", &other_md5).post(&gw, "forms", "s.bin", &data).await;
    assert_eq!((r.status, r.body_text().contains("<Code>InvalidArgument</Code>")), (400, true), "{}", r.body_text());
    assert_eq!(listed_keys(&gw.client, "forms").await, ["secret"]);
    gw.stop().await;
}
