use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{TestGateway, body_bytes, error_code, md5_hex, pattern};

const MIB: usize = 1 << 20;

/// The CompleteMultipartUpload body listing `parts` (number, ETag).
pub(crate) fn completed(parts: &[(i32, String)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(e).build()).collect()))
        .build()
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    use md5::Digest as _;
    let mut h = md5::Md5::new();
    for p in parts {
        h.update(md5::Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(h.finalize()), parts.len())
}

/// Promise: a 100 MiB multipart upload with parts sent in parallel reads back byte-exact, with
/// the md5-of-md5s-N ETag on Complete, HEAD, GET and List.
#[tokio::test]
async fn parallel_100_mib_upload() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("mpart").send().await.unwrap();
    let data = pattern(100 * MIB, 42);
    let up = c.create_multipart_upload().bucket("mpart").key("big").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part_size = 8 * MIB;
    let mut tasks = Vec::new();
    for (i, chunk) in data.chunks(part_size).enumerate() {
        let (c, id, chunk) = (c.clone(), id.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let out = c
                .upload_part()
                .bucket("mpart")
                .key("big")
                .upload_id(id)
                .part_number(i as i32 + 1)
                .body(chunk.into())
                .send()
                .await
                .unwrap();
            (i as i32 + 1, out.e_tag().unwrap().to_owned())
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap());
    }
    parts.sort();
    let listed = c.list_parts().bucket("mpart").key("big").upload_id(&id).send().await.unwrap();
    assert_eq!(listed.parts().len(), parts.len());
    let uploads = c.list_multipart_uploads().bucket("mpart").send().await.unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    let done = c
        .complete_multipart_upload()
        .bucket("mpart")
        .key("big")
        .upload_id(&id)
        .multipart_upload(completed(&parts))
        .send()
        .await
        .unwrap();
    let chunks: Vec<&[u8]> = data.chunks(part_size).collect();
    let want = multipart_etag(&chunks);
    assert_eq!(done.e_tag(), Some(want.as_str()));
    let head = c.head_object().bucket("mpart").key("big").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(want.as_str()));
    assert_eq!(head.content_length(), Some(data.len() as i64));
    let got = body_bytes(c.get_object().bucket("mpart").key("big").send().await.unwrap()).await;
    assert!(got == data, "100 MiB read back byte-exact");
    let list = c.list_objects_v2().bucket("mpart").send().await.unwrap();
    assert_eq!(list.contents()[0].e_tag(), Some(want.as_str()));
    assert!(c.list_multipart_uploads().bucket("mpart").send().await.unwrap().uploads().is_empty());
    gw.stop().await;
}

/// Promise: Complete validates the part list: InvalidPartOrder, InvalidPart (unknown number or
/// wrong ETag), EntityTooSmall (a non-last part under 5 MiB); nothing becomes visible.
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one case after another, each a few lines")]
async fn complete_validation() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("mpval").send().await.unwrap();
    let up = c.create_multipart_upload().bucket("mpval").key("k").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let small = pattern(1000, 1);
    let big = pattern(5 * MIB, 2);
    let e1 = c
        .upload_part()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(small.clone().into())
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let e2 = c
        .upload_part()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .part_number(2)
        .body(big.clone().into())
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let e3 = c
        .upload_part()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .part_number(3)
        .body(small.clone().into())
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let cases = [
        (vec![(2, e2.clone()), (1, e1.clone())], "InvalidPartOrder"),
        (vec![(1, e1.clone()), (4, e3.clone())], "InvalidPart"),
        (vec![(2, "\"0123456789abcdef0123456789abcdef\"".to_owned())], "InvalidPart"),
        (vec![(1, e1.clone()), (2, e2.clone())], "EntityTooSmall"),
    ];
    for (parts, code) in cases {
        let e = c
            .complete_multipart_upload()
            .bucket("mpval")
            .key("k")
            .upload_id(id)
            .multipart_upload(completed(&parts))
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&e).as_deref(), Some(code), "{parts:?}");
    }
    assert!(c.head_object().bucket("mpval").key("k").send().await.is_err(), "nothing visible");
    // A valid subset: parts 2 and 3 (the small one last).
    let done = c
        .complete_multipart_upload()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .multipart_upload(completed(&[(2, e2.clone()), (3, e3.clone())]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.e_tag(), Some(multipart_etag(&[&big, &small]).as_str()));
    let got = body_bytes(c.get_object().bucket("mpval").key("k").send().await.unwrap()).await;
    assert!(got == [big.as_slice(), small.as_slice()].concat());
    let e = c
        .upload_part()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .part_number(4)
        .body(small.into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchUpload"));
    // A retried Complete (after a lost response) gets the same answer; Abort no longer can.
    let again = c
        .complete_multipart_upload()
        .bucket("mpval")
        .key("k")
        .upload_id(id)
        .multipart_upload(completed(&[(2, e2), (3, e3)]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.e_tag(), done.e_tag());
    let e = c.abort_multipart_upload().bucket("mpval").key("k").upload_id(id).send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchUpload"));
    gw.stop().await;
}

/// Promise: a re-sent part replaces the earlier one; abort removes the upload; UploadPartCopy
/// copies a byte range of another object.
#[tokio::test]
async fn resend_abort_and_part_copy() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("mpcopy").send().await.unwrap();
    let src = pattern(12 * MIB, 5);
    c.put_object().bucket("mpcopy").key("src").body(src.clone().into()).send().await.unwrap();
    let up = c.create_multipart_upload().bucket("mpcopy").key("dst").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let first = c
        .upload_part_copy()
        .bucket("mpcopy")
        .key("dst")
        .upload_id(id)
        .part_number(1)
        .copy_source("mpcopy/src")
        .copy_source_range(format!("bytes=0-{}", 6 * MIB - 1))
        .send()
        .await
        .unwrap();
    let e1 = first.copy_part_result().and_then(|r| r.e_tag()).unwrap().to_owned();
    assert_eq!(e1, format!("\"{}\"", md5_hex(&src[..6 * MIB])));
    c.upload_part()
        .bucket("mpcopy")
        .key("dst")
        .upload_id(id)
        .part_number(2)
        .body(b"old".to_vec().into())
        .send()
        .await
        .unwrap();
    let e2 = c
        .upload_part()
        .bucket("mpcopy")
        .key("dst")
        .upload_id(id)
        .part_number(2)
        .body(b"new tail".to_vec().into())
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    c.complete_multipart_upload()
        .bucket("mpcopy")
        .key("dst")
        .upload_id(id)
        .multipart_upload(completed(&[(1, e1), (2, e2)]))
        .send()
        .await
        .unwrap();
    let got = body_bytes(c.get_object().bucket("mpcopy").key("dst").send().await.unwrap()).await;
    assert!(got == [&src[..6 * MIB], b"new tail"].concat());
    let up = c.create_multipart_upload().bucket("mpcopy").key("gone").send().await.unwrap();
    c.upload_part()
        .bucket("mpcopy")
        .key("gone")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    c.abort_multipart_upload().bucket("mpcopy").key("gone").upload_id(up.upload_id().unwrap()).send().await.unwrap();
    let e = c.list_parts().bucket("mpcopy").key("gone").upload_id(up.upload_id().unwrap()).send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchUpload"));
    gw.stop().await;
}

/// Promise: UploadPartCopy refuses a range outside its source as S3 does, with 400
/// InvalidArgument "Range specified is not valid for source object of size: N" (AWS's answer,
/// quoted in versitygw#610 and fsspec/s3fs#321), a malformed one with 400 InvalidArgument, and
/// neither leaves a part behind.
#[tokio::test]
async fn part_copy_ranges_outside_the_source_are_refused() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("ranges").send().await.unwrap();
    c.put_object().bucket("ranges").key("src").body(pattern(1000, 2).into()).send().await.unwrap();
    let up = c.create_multipart_upload().bucket("ranges").key("dst").send().await.unwrap();
    let id = up.upload_id().unwrap();
    for (range, message) in [
        ("bytes=0-1000", Some("Range specified is not valid for source object of size: 1000")),
        ("bytes=10-5", Some("Range specified is not valid for source object of size: 1000")),
        ("bytes=abc", None),
    ] {
        let e = c
            .upload_part_copy()
            .bucket("ranges")
            .key("dst")
            .upload_id(id)
            .part_number(1)
            .copy_source("ranges/src")
            .copy_source_range(range)
            .send()
            .await
            .unwrap_err();
        assert_eq!(crate::common::error_status(&e), Some(400), "{range}");
        assert_eq!(error_code(&e).as_deref(), Some("InvalidArgument"), "{range}");
        if let Some(m) = message {
            assert_eq!(e.as_service_error().and_then(|s| s.meta().message()), Some(m), "{range}");
        }
    }
    let parts = c.list_parts().bucket("ranges").key("dst").upload_id(id).send().await.unwrap();
    assert!(parts.parts().is_empty(), "no part was recorded");
    gw.stop().await;
}

/// Promise: when one part number is uploaded twice at once and the first upload finishes last,
/// the upload that finished last is the part (S3: "the last uploaded part overwrites"), and
/// Complete accepts its ETag, refuses the other's with InvalidPart, and the object holds the
/// winner's bytes.
#[tokio::test]
async fn the_part_upload_finishing_last_wins() {
    use crate::common::raw::{Signer, send, send_paused, sha256_hex};
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("race").send().await.unwrap();
    let up = c.create_multipart_upload().bucket("race").key("k").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let slow = pattern(256 * 1024, 1);
    let fast = pattern(1000, 2);
    let path = "/race/k";
    let query = [("partNumber", "1"), ("uploadId", id.as_str())];
    let target = format!("{path}?partNumber=1&uploadId={id}");
    let signed = |body: &[u8]| {
        let mut headers = vec![("content-length".to_owned(), body.len().to_string())];
        Signer::new(std::time::SystemTime::now()).sign(
            "PUT",
            path,
            &query,
            &mut headers,
            &gw.addr.to_string(),
            &sha256_hex(body),
        );
        headers
    };
    let (slow_headers, fast_headers) = (signed(&slow), signed(&fast));
    // The slow upload starts first and is held half-way while the fast one completes.
    let slow_done = send_paused(gw.addr, "PUT", &target, &slow_headers, &slow, slow.len() / 2, async {
        let r = send(gw.addr, "PUT", &target, &fast_headers, &fast).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body_text());
    })
    .await
    .unwrap();
    assert_eq!(slow_done.status, 200, "{}", slow_done.body_text());
    let (slow_etag, fast_etag) = (format!("\"{}\"", md5_hex(&slow)), format!("\"{}\"", md5_hex(&fast)));
    assert_eq!(slow_done.header("etag"), Some(slow_etag.as_str()));
    let parts = c.list_parts().bucket("race").key("k").upload_id(&id).send().await.unwrap();
    assert_eq!(parts.parts().iter().map(|p| p.e_tag().unwrap()).collect::<Vec<_>>(), [slow_etag.as_str()]);
    let e = c
        .complete_multipart_upload()
        .bucket("race")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, fast_etag)]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("InvalidPart"), "the overwritten part's ETag");
    c.complete_multipart_upload()
        .bucket("race")
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, slow_etag)]))
        .send()
        .await
        .unwrap();
    assert_eq!(body_bytes(c.get_object().bucket("race").key("k").send().await.unwrap()).await, slow);
    gw.stop().await;
}
