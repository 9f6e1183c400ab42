use std::time::SystemTime;

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::raw::{ChunkTamper, Signer, send, sha256_hex, signed_chunked_body, unsigned_trailer_body};
use crate::common::{TestGateway, body_bytes, error_code, error_status, pattern};

fn crc(alg: crc_fast::CrcAlgorithm, data: &[u8]) -> String {
    let v = crc_fast::checksum(alg, data);
    if alg == crc_fast::CrcAlgorithm::Crc64Nvme {
        B64.encode(v.to_be_bytes())
    } else {
        B64.encode((v as u32).to_be_bytes())
    }
}

pub(crate) fn expected(alg: &ChecksumAlgorithm, data: &[u8]) -> String {
    match alg {
        ChecksumAlgorithm::Crc32 => crc(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data),
        ChecksumAlgorithm::Crc32C => crc(crc_fast::CrcAlgorithm::Crc32Iscsi, data),
        ChecksumAlgorithm::Crc64Nvme => crc(crc_fast::CrcAlgorithm::Crc64Nvme, data),
        ChecksumAlgorithm::Sha1 => B64.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)),
        _ => B64.encode(ring::digest::digest(&ring::digest::SHA256, data)),
    }
}

fn stored(out: &aws_sdk_s3::operation::head_object::HeadObjectOutput, alg: &ChecksumAlgorithm) -> Option<String> {
    match alg {
        ChecksumAlgorithm::Crc32 => out.checksum_crc32(),
        ChecksumAlgorithm::Crc32C => out.checksum_crc32_c(),
        ChecksumAlgorithm::Crc64Nvme => out.checksum_crc64_nvme(),
        ChecksumAlgorithm::Sha1 => out.checksum_sha1(),
        _ => out.checksum_sha256(),
    }
    .map(str::to_owned)
}

const ALGS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32C,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

/// Promise: every algorithm, sent the way the SDK sends it (aws-chunked with a trailer), is
/// verified, stored and returned with x-amz-checksum-mode: ENABLED (and the SDK's own response
/// validation passes on GET).
#[tokio::test]
async fn sdk_trailer_checksums_all_algorithms() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("cksum").send().await.unwrap();
    let data = pattern(300_000, 11);
    for alg in ALGS {
        let key = format!("sdk-{}", alg.as_str());
        gw.client
            .put_object()
            .bucket("cksum")
            .key(&key)
            .body(data.clone().into())
            .checksum_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        let head = gw
            .client
            .head_object()
            .bucket("cksum")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(stored(&head, &alg), Some(expected(&alg, &data)), "{alg:?}");
        let get =
            gw.client.get_object().bucket("cksum").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert!(body_bytes(get).await == data);
    }
    gw.stop().await;
}

/// Promise: a checksum given as a header is verified: a wrong one is 400 BadDigest and nothing
/// is stored; a right one is stored. Content-MD5 likewise.
#[tokio::test]
async fn header_checksums_verified() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("cksum").send().await.unwrap();
    let data = pattern(70_000, 12);
    gw.client
        .put_object()
        .bucket("cksum")
        .key("good")
        .body(data.clone().into())
        .checksum_sha256(expected(&ChecksumAlgorithm::Sha256, &data))
        .send()
        .await
        .unwrap();
    let e = gw
        .client
        .put_object()
        .bucket("cksum")
        .key("bad")
        .body(data.clone().into())
        .checksum_crc32("AAAAAA==")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("BadDigest"));
    assert_eq!(error_status(&e), Some(400));
    let md5 = {
        use md5::Digest as _;
        B64.encode(md5::Md5::digest(b"other"))
    };
    let e = gw
        .client
        .put_object()
        .bucket("cksum")
        .key("bad-md5")
        .body(data.clone().into())
        .content_md5(md5)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("BadDigest"));
    let keys: Vec<String> = crate::common::listed_keys(&gw.client, "cksum").await;
    assert_eq!(keys, ["good"]);
    gw.stop().await;
}

async fn trailer_put(
    gw: &TestGateway,
    key: &str,
    data: &[u8],
    signed: bool,
    tamper: ChunkTamper,
    trailer_value: &str,
) -> crate::common::raw::RawResponse {
    let signer = Signer::new(SystemTime::now());
    let trailer = ("x-amz-checksum-crc32c", trailer_value);
    let (mode, len) = if signed {
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            signed_chunked_body(&signer, &"0".repeat(64), data, 64 * 1024, Some(trailer), tamper).len(),
        )
    } else {
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", unsigned_trailer_body(data, 64 * 1024, trailer).len())
    };
    let path = format!("/cksum/{key}");
    let mut headers = vec![
        ("content-encoding".to_owned(), "aws-chunked".to_owned()),
        ("content-length".to_owned(), len.to_string()),
        ("x-amz-decoded-content-length".to_owned(), data.len().to_string()),
        ("x-amz-trailer".to_owned(), "x-amz-checksum-crc32c".to_owned()),
    ];
    let seed = signer.sign("PUT", &path, &[], &mut headers, &gw.addr.to_string(), mode);
    let body = if signed {
        signed_chunked_body(&signer, &seed, data, 64 * 1024, Some(trailer), tamper)
    } else {
        unsigned_trailer_body(data, 64 * 1024, trailer)
    };
    send(gw.addr, "PUT", &path, &headers, &body).await.expect("sent")
}

/// Promise: both trailer modes (signed STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER and
/// STREAMING-UNSIGNED-PAYLOAD-TRAILER) are verified; a wrong trailer value is BadDigest, a
/// tampered chunk or trailer signature is refused, and nothing is stored in those cases.
#[tokio::test]
async fn raw_trailer_modes() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("cksum").send().await.unwrap();
    let data = pattern(200_000, 13);
    let good = expected(&ChecksumAlgorithm::Crc32C, &data);
    for signed in [true, false] {
        let r = trailer_put(&gw, &format!("ok-{signed}"), &data, signed, ChunkTamper::None, &good).await;
        assert_eq!(r.status, 200, "signed={signed}: {}", r.body_text());
        let r = trailer_put(&gw, &format!("bad-{signed}"), &data, signed, ChunkTamper::None, "AAAAAA==").await;
        assert_eq!((r.status, r.code().as_deref()), (400, Some("BadDigest")), "signed={signed}");
    }
    for tamper in [ChunkTamper::FlipDataByte, ChunkTamper::WrongChunkSignature, ChunkTamper::WrongTrailerSignature] {
        let r = trailer_put(&gw, "tampered", &data, true, tamper, &good).await;
        assert_eq!(r.status, 403, "{tamper:?}: {}", r.body_text());
        assert_eq!(r.code().as_deref(), Some("SignatureDoesNotMatch"), "{tamper:?}");
    }
    let keys: Vec<String> = crate::common::listed_keys(&gw.client, "cksum").await;
    assert_eq!(keys, ["ok-false", "ok-true"]);
    for key in keys {
        let head = gw
            .client
            .head_object()
            .bucket("cksum")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(head.checksum_crc32_c(), Some(good.as_str()));
        assert!(body_bytes(gw.client.get_object().bucket("cksum").key(&key).send().await.unwrap()).await == data);
    }
    let _ = sha256_hex(b"");
    gw.stop().await;
}

/// Promise: multipart uploads get composite checksums (checksum of part checksums, "-N") and,
/// for CRC algorithms, full-object checksums.
#[tokio::test]
async fn multipart_checksums() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("cksum").send().await.unwrap();
    let p1 = pattern(5 << 20, 14);
    let p2 = pattern(1000, 15);
    for (alg, kind) in [
        (ChecksumAlgorithm::Sha256, ChecksumType::Composite),
        (ChecksumAlgorithm::Crc32, ChecksumType::FullObject),
        (ChecksumAlgorithm::Crc64Nvme, ChecksumType::FullObject),
    ] {
        let key = format!("mp-{}", alg.as_str());
        let up = c
            .create_multipart_upload()
            .bucket("cksum")
            .key(&key)
            .checksum_algorithm(alg.clone())
            .checksum_type(kind.clone())
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap();
        let mut parts = Vec::new();
        for (n, p) in [(1, &p1), (2, &p2)] {
            let out = c
                .upload_part()
                .bucket("cksum")
                .key(&key)
                .upload_id(id)
                .part_number(n)
                .checksum_algorithm(alg.clone())
                .body(p.clone().into())
                .send()
                .await
                .unwrap();
            let mut part = CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap());
            part = match alg {
                ChecksumAlgorithm::Sha256 => part.checksum_sha256(out.checksum_sha256().unwrap()),
                ChecksumAlgorithm::Crc32 => part.checksum_crc32(out.checksum_crc32().unwrap()),
                _ => part.checksum_crc64_nvme(out.checksum_crc64_nvme().unwrap()),
            };
            parts.push(part.build());
        }
        c.complete_multipart_upload()
            .bucket("cksum")
            .key(&key)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .unwrap();
        let head = c.head_object().bucket("cksum").key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let whole = [p1.as_slice(), p2.as_slice()].concat();
        let want = match kind {
            ChecksumType::Composite => {
                let raw: Vec<u8> = [&p1, &p2].iter().flat_map(|p| B64.decode(expected(&alg, p)).unwrap()).collect();
                format!("{}-2", expected(&alg, &raw))
            }
            _ => expected(&alg, &whole),
        };
        assert_eq!(stored(&head, &alg), Some(want), "{alg:?} {kind:?}");
        assert_eq!(head.checksum_type(), Some(&kind));
    }
    gw.stop().await;
}
