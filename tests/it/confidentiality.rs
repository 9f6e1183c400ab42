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

/// The stream files of `bucket/key`'s current version, one per provider (path, bytes).
async fn object_streams(gw: &TestGateway, bucket: &str, key: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let v = gw.admin_json(&format!("/admin/v1/locations/{bucket}/{key}")).await;
    let name = v["streams"][0]["name"].as_str().unwrap().trim_start_matches("sv1/").to_owned();
    gw.stream_files().into_iter().filter(|(p, _)| p.file_name().is_some_and(|n| *n == *name)).collect()
}

/// Promise (R11, hardening): a provider that swaps two objects' ciphertexts, swaps segments
/// within one, truncates the last segment, or replays an older version's ciphertext under the
/// current name never gets its bytes served: with every replica so tampered the GET fails
/// (500 or 503, or an aborted body), never returning the other object's or the old version's
/// plaintext; with one replica tampered the scrubber detects it and repair restores it from a
/// good replica, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_side_tampering_is_detected_and_repaired() {
    let gw = TestGateway::start_with(|t| crate::common::scrubbing_every_second(&t)).await;
    let c = &gw.client;
    c.create_bucket().bucket("swap").send().await.unwrap();
    let a = pattern(300_000, 1);
    let b = pattern(300_000, 2);
    c.put_object().bucket("swap").key("a").body(a.clone().into()).send().await.unwrap();
    c.put_object().bucket("swap").key("b").body(b.clone().into()).send().await.unwrap();
    let old_a = object_streams(&gw, "swap", "a").await;
    let a2 = pattern(300_000, 3);
    c.put_object().bucket("swap").key("a").body(a2.clone().into()).send().await.unwrap();
    let cur_a = object_streams(&gw, "swap", "a").await;
    let cur_b = object_streams(&gw, "swap", "b").await;
    assert_eq!((old_a.len(), cur_a.len(), cur_b.len()), (3, 3, 3));
    let seg = 65_536 + 16;
    /// What a tampering provider stores instead of replica `i` whose bytes are given.
    type Tamper<'a> = Box<dyn Fn(&[u8], usize) -> Vec<u8> + 'a>;
    let cases: Vec<(&str, Tamper)> = vec![
        ("another object's ciphertext", Box::new(|_, i| cur_b[i].1.clone())),
        ("an older version replayed", Box::new(|_, i| old_a[i].1.clone())),
        (
            "two segments swapped",
            Box::new(move |f, _| {
                let mut t = f.to_vec();
                let (s1, s2) = (96 + seg, 96 + 2 * seg);
                let one = f[s1..s1 + seg].to_vec();
                t[s1..s1 + seg].copy_from_slice(&f[s2..s2 + seg]);
                t[s2..s2 + seg].copy_from_slice(&one);
                t
            }),
        ),
        ("the last segment truncated", Box::new(|f, _| f[..f.len() - 10].to_vec())),
    ];
    for (what, tamper) in &cases {
        // Every replica tampered: no plaintext at all, certainly not the wrong one. A repair
        // queued before the tampering (the scrubber runs every second) may legitimately put a
        // good copy back between the writes below and the GET; then the GET may serve the
        // right bytes from it, and the case is tried again (bounded).
        let mut refused = false;
        for attempt in 0..5 {
            for (i, (path, bytes)) in cur_a.iter().enumerate() {
                std::fs::write(path, tamper(bytes, i)).unwrap();
            }
            match c.get_object().bucket("swap").key("a").send().await {
                // 500 when a replica answered bytes that fail authentication, 503 when the
                // provider could not even serve the recorded length: either way, no plaintext.
                Err(e) => {
                    assert!(matches!(crate::common::error_status(&e), Some(500 | 503)), "{what}: {e:?}");
                    refused = true;
                }
                Ok(out) => match out.body.collect().await.map(aws_sdk_s3::primitives::AggregatedBytes::into_bytes) {
                    Err(_) => refused = true,
                    Ok(body) => {
                        let restored = cur_a.iter().any(|(p, b)| std::fs::read(p).ok().as_ref() == Some(b));
                        assert!(
                            body.as_ref() == a2.as_slice() && restored,
                            "{what}: a body was served in full ({} bytes, correct: {}) with no replica restored",
                            body.len(),
                            body.as_ref() == a2.as_slice()
                        );
                        eprintln!("{what}: attempt {attempt} raced a repair that restored a replica; trying again");
                    }
                },
            }
            if refused {
                break;
            }
        }
        assert!(refused, "{what}: every attempt raced a repair");
        // One replica tampered: the scrubber finds it and repair rewrites it from a good one.
        for (i, (path, bytes)) in cur_a.iter().enumerate() {
            if i == 0 {
                continue;
            }
            std::fs::write(path, bytes).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::fs::read(&cur_a[0].0).ok().as_ref() != Some(&cur_a[0].1) {
            assert!(std::time::Instant::now() < deadline, "{what}: the tampered replica was not repaired");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(body_bytes(c.get_object().bucket("swap").key("a").send().await.unwrap()).await == a2, "{what}");
        // Let every repair this case queued (read repairs of the tampered replicas included)
        // finish, so none rewrites a replica the next case tampers with.
        let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
        while gw.admin_json("/admin/v1/repair").await["pending_replicas"] != 0 {
            assert!(std::time::Instant::now() < deadline, "{what}: the repair queue did not drain");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    assert!(body_bytes(c.get_object().bucket("swap").key("b").send().await.unwrap()).await == b);
    assert!(a != a2);
    gw.stop().await;
}
