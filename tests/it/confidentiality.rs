use crate::common::{TestGateway, body_bytes, error_status, pattern, provider_files};

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Promise (S6): providers receive only ciphertext under opaque `sv1/<32 hex>` names; no
/// object key, user metadata, content type or plaintext pattern reaches any provider.
#[tokio::test]
async fn provider_sees_nothing() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("opaque").send().await.unwrap();
    let marker = b"PLAINTEXT-PATTERN-0123456789-";
    let data: Vec<u8> = marker.iter().copied().cycle().take(300_000).collect();
    gw.client
        .put_object()
        .bucket("opaque")
        .key("Confidential-Key-Marker/report.pdf")
        .content_type("application/x-secret-type")
        .metadata("owner", "Metadata-Marker-XYZ")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    let streams = gw.stream_files();
    assert_eq!(streams.len(), 3, "one stream per provider, named sv1/<32 hex>");
    for (_, bytes) in &streams {
        assert_eq!(bytes.len() as u64, 96 + 300_000 + 16 * 5, "format v1 length");
    }
    // Every file a provider holds (its own bookkeeping included) is free of user data.
    for (path, bytes) in provider_files(&gw.provider_dirs()) {
        for needle in [
            &marker[..],
            b"Confidential-Key-Marker",
            b"Metadata-Marker-XYZ",
            b"application/x-secret-type",
            b"report.pdf",
        ] {
            assert!(!contains(&bytes, needle), "{} leaks {:?}", path.display(), String::from_utf8_lossy(needle));
        }
    }
    gw.stop().await;
}

fn flip_all(gw: &TestGateway, offset: usize) {
    for (path, mut bytes) in gw.stream_files() {
        bytes[offset] ^= 0x01;
        std::fs::write(path, bytes).unwrap();
    }
}

/// Promise (R11): a flipped ciphertext byte in one replica is skipped (the read fails over and
/// returns correct bytes); in every replica the GET fails, before the headers if the first
/// segment is hit, by aborting the connection if a later one is. Wrong bytes are never served.
#[tokio::test]
async fn tampered_ciphertext_never_served() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("tamper").send().await.unwrap();
    let data = pattern(1 << 20, 77);
    gw.client.put_object().bucket("tamper").key("o").body(data.clone().into()).send().await.unwrap();
    // All but one replica damaged in the first segment, for each choice of the intact one: the
    // read fails over until it finds it, and serves the right bytes.
    let originals = gw.stream_files();
    for intact in 0..originals.len() {
        for (i, (path, bytes)) in originals.iter().enumerate() {
            let mut bytes = bytes.clone();
            if i != intact {
                bytes[200] ^= 0x80;
            }
            std::fs::write(path, bytes).unwrap();
        }
        let got = body_bytes(gw.client.get_object().bucket("tamper").key("o").send().await.unwrap()).await;
        assert!(got == data, "intact replica {intact}");
    }
    for (path, bytes) in &originals {
        std::fs::write(path, bytes).unwrap();
    }
    // Every replica damaged in segment 10: headers already sent, so the body must fail.
    let late = 96 + 10 * (65_536 + 16) + 5;
    flip_all(&gw, late);
    let out = gw.client.get_object().bucket("tamper").key("o").send().await.unwrap();
    let body = out.body.collect().await;
    assert!(body.is_err(), "a late integrity failure aborts the connection instead of a clean short body");
    // Every replica damaged in the first segment: a clean 500 before any byte.
    flip_all(&gw, 120);
    let e = gw.client.get_object().bucket("tamper").key("o").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(500));
    // Ranges that avoid the damaged segments still verify and serve.
    let out = gw.client.get_object().bucket("tamper").key("o").range("bytes=200000-200099").send().await.unwrap();
    assert!(body_bytes(out).await == data[200_000..200_100]);
    gw.stop().await;
}
