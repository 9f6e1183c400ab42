//! A bucket's ETag mode (`souverain admin bucket etag`, issue 25): `md5` by default, as S3;
//! `fast` makes new objects' ETags from BLAKE3, marked so that no client takes them for an MD5,
//! except where the client sent `Content-MD5` (the MD5 is computed for that check anyway).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use md5::Digest as _;

use crate::common::{TestGateway, admin_cli};

fn blake3_128(data: &[u8]) -> String {
    hex::encode(&blake3::hash(data).as_bytes()[..16])
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

async fn set_mode(gw: &TestGateway, bucket: &str, mode: &str) -> (u16, String) {
    let r =
        gw.admin_send("PUT", &format!("/admin/v1/buckets/{bucket}/etag"), serde_json::json!({ "etag": mode })).await;
    (r.status, r.body_text())
}

/// Promise: in a `fast` bucket a PUT without Content-MD5 gets the ETag `hex(BLAKE3-128)-1`
/// (HEAD, GET, listings and If-Match agree; the bytes read back exact), a PUT with Content-MD5
/// gets the MD5, a copy into the bucket a fast ETag, a multipart upload's parts get their
/// BLAKE3-128 (marked too) and the object `hex(MD5 of the part digests)-N`; the mode is
/// audited, shown by the CLI, and a bucket left at the default keeps MD5 ETags. Unknown modes
/// and buckets are refused and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_bucket_gives_blake3_etags_unless_the_client_sent_content_md5() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    for b in ["fast", "plain"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    assert_eq!(gw.admin_json("/admin/v1/buckets/fast/etag").await["etag"], "md5");
    assert_eq!(set_mode(&gw, "fast", "fast").await.0, 200);
    assert_eq!(gw.admin_json("/admin/v1/buckets/fast/etag").await["etag"], "fast");
    let (ok, out, err) = admin_cli(vec![
        "--url".into(),
        format!("http://{}", gw.admin_addr()),
        "bucket".into(),
        "etag".into(),
        "fast".into(),
    ])
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("\"etag\": \"fast\""), "{out}");
    let audit = gw.admin_text("/admin/v1/audit").await;
    assert!(audit.lines().any(|l| l.contains("\"bucket.etag\"") && l.contains(r#"\"after\":\"fast\""#)), "{audit}");
    // Refusals: an unknown mode (400), an unknown bucket (404); the mode stays.
    let (status, body) = set_mode(&gw, "fast", "sha1").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(set_mode(&gw, "no-such-bucket", "fast").await.0, 404);
    assert_eq!(gw.admin_json("/admin/v1/buckets/fast/etag").await["etag"], "fast");

    // A single PUT without Content-MD5 (the SDK sends a CRC32 instead).
    let body = b"fast etag, one piece".repeat(1000);
    let put = c.put_object().bucket("fast").key("one").body(ByteStream::from(body.clone())).send().await.unwrap();
    let want = format!("\"{}-1\"", blake3_128(&body));
    assert_eq!(put.e_tag(), Some(want.as_str()));
    let head = c.head_object().bucket("fast").key("one").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(want.as_str()));
    let got = c.get_object().bucket("fast").key("one").if_match(&want).send().await.unwrap();
    assert_eq!(got.e_tag(), Some(want.as_str()));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &body[..]);
    let listed = c.list_objects_v2().bucket("fast").send().await.unwrap();
    assert_eq!(listed.contents()[0].e_tag(), Some(want.as_str()));

    // With Content-MD5 the ETag is the MD5.
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
    let put = c.put_object().bucket("fast").key("md5").content_md5(md5).body(ByteStream::from(body.clone())).send();
    assert_eq!(put.await.unwrap().e_tag(), Some(format!("\"{}\"", md5_hex(&body)).as_str()));

    // A copy into the bucket is a write without Content-MD5: a fast ETag, even from an MD5 one.
    let copied = c.copy_object().bucket("fast").key("copied").copy_source("fast/md5").send().await.unwrap();
    assert_eq!(copied.copy_object_result().and_then(|r| r.e_tag()), Some(want.as_str()));

    // Multipart: parts without Content-MD5.
    let parts: Vec<Vec<u8>> = vec![vec![7u8; 5 << 20], b"tail".to_vec()];
    let up = c.create_multipart_upload().bucket("fast").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c.upload_part().bucket("fast").key("mp").upload_id(id).part_number(n);
        let r = r.body(ByteStream::from(p.clone())).send().await.unwrap();
        assert_eq!(r.e_tag(), Some(format!("\"{}-1\"", blake3_128(p)).as_str()), "part {n}");
        done.push(CompletedPart::builder().part_number(n).e_tag(r.e_tag().unwrap()).build());
    }
    let list = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    let r = c.complete_multipart_upload().bucket("fast").key("mp").upload_id(id).multipart_upload(list);
    let mut joined = Vec::new();
    for p in &parts {
        joined.extend_from_slice(&blake3::hash(p).as_bytes()[..16]);
    }
    assert_eq!(r.send().await.unwrap().e_tag(), Some(format!("\"{}-2\"", md5_hex(&joined)).as_str()));
    let got = c.get_object().bucket("fast").key("mp").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), &parts.concat()[..]);

    // The default bucket still answers MD5 ETags.
    let put = c.put_object().bucket("plain").key("one").body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(put.e_tag(), Some(format!("\"{}\"", md5_hex(&body)).as_str()));
    gw.stop().await;
}

/// Promise: rclone and s3cmd are not misled by a `fast` bucket: files put there by another
/// client (fast ETags) pass `rclone check` (size only: no hash in common, never "differ"),
/// rclone and s3cmd copy and sync up and down byte-exact, their multipart uploads included
/// (s3cmd checks each part's ETag against the part's MD5 unless the ETag is marked), and a
/// second sync with s3cmd uploads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_and_s3cmd_sync_against_a_fast_bucket() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("etag-fast").send().await.unwrap();
    assert_eq!(set_mode(&gw, "etag-fast", "fast").await.0, 200);
    // Files another client put (no Content-MD5): their ETags are fast ones.
    let theirs = gw.dir.path().join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    for (name, len) in [("a.bin", 3000usize), ("b.bin", 70_000)] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(theirs.join(name), &data).unwrap();
        let put = c.put_object().bucket("etag-fast").key(format!("theirs/{name}")).body(ByteStream::from(data.clone()));
        assert_eq!(put.send().await.unwrap().e_tag(), Some(format!("\"{}-1\"", blake3_128(&data)).as_str()));
    }
    let theirs = theirs.to_string_lossy().into_owned();
    let env = [("BUCKET", "etag-fast"), ("THEIRS", theirs.as_str())];
    let g = &gw;
    tokio::task::block_in_place(|| crate::clients::run_script_with(g, "bash", "etag_fast_sync.sh", &env));
    gw.stop().await;
}
