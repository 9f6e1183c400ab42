//! W-of-N writes with a durable repair queue (hinted handoff) and failover reads.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use souverain::model::{BucketName, CiphertextCheck, ObjectKey};

use crate::common::{BinaryGateway, Providers, TestGateway, body_bytes, client, error_code, error_status, pattern};

/// Waits until every provider holds `want` streams and each stream's copies are identical.
async fn wait_replicated(providers: &Providers, want: usize) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let files = providers.stream_files();
        let per_provider: Vec<usize> =
            providers.roots.iter().map(|r| files.iter().filter(|(p, _)| p.starts_with(r)).count()).collect();
        if per_provider.iter().all(|n| *n == want) {
            for (path, bytes) in &files {
                let name = path.file_name().unwrap();
                let same = files.iter().filter(|(p, _)| p.file_name() == Some(name)).all(|(_, b)| b == bytes);
                assert!(same, "copies of {} differ", name.to_string_lossy());
            }
            return;
        }
        assert!(Instant::now() < deadline, "replicas per provider stayed at {per_provider:?}, want {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn metric(gw: &TestGateway, line: &str) -> bool {
    gw.metrics_text().await.lines().any(|l| l == line)
}

/// Promise (R1): with one of three providers down, PUT and multipart uploads succeed on W = 2
/// acknowledgements and read back exactly; the missing replicas are queued durably, shown in
/// the metrics, and recreated (verified, byte-identical) once the provider returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_write_then_repair() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("quorum").send().await.unwrap();
    gw.providers.break_provider(1);
    let data = pattern(300_000, 1);
    c.put_object().bucket("quorum").key("single").body(data.clone().into()).send().await.unwrap();
    let p1 = pattern(5 << 20, 2);
    let p2 = pattern(1234, 3);
    let up = c.create_multipart_upload().bucket("quorum").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket("quorum")
            .key("multi")
            .upload_id(id)
            .part_number(n)
            .body(p.clone().into())
            .send()
            .await
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    c.complete_multipart_upload()
        .bucket("quorum")
        .key("multi")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    assert!(body_bytes(c.get_object().bucket("quorum").key("single").send().await.unwrap()).await == data);
    let whole = [p1.as_slice(), p2.as_slice()].concat();
    assert!(body_bytes(c.get_object().bucket("quorum").key("multi").send().await.unwrap()).await == whole);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metric(&gw, "souverain_replication_pending_replicas{provider=\"local-fr\"} 3").await {
        assert!(Instant::now() < deadline, "the backlog of 3 replicas is not shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // "Where is my data": the FR replica is pending until repaired.
    let mut states = gw.replica_states("quorum", "single").await;
    states.sort();
    assert_eq!(
        states,
        [
            ("local-de".into(), "stored".into()),
            ("local-fr".into(), "pending".into()),
            ("local-nl".into(), "stored".into())
        ]
    );
    gw.providers.repair_provider(1);
    wait_replicated(&gw.providers, 3).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metric(&gw, "souverain_replication_pending_replicas{provider=\"local-fr\"} 0").await {
        assert!(Instant::now() < deadline, "the backlog never drains to 0");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(metric(&gw, "souverain_repair_completed_total{outcome=\"ok\",provider=\"local-fr\"} 3").await);
    assert!(gw.replica_states("quorum", "single").await.iter().all(|(_, s)| s == "stored"));
    gw.stop().await;
}

/// Promise (R2): with two of three providers down, PUT answers 503 ServiceUnavailable, nothing
/// becomes visible, and existing objects stay readable from the remaining replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_quorum_is_503_and_reads_fail_over() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("down").send().await.unwrap();
    let data = pattern(300_000, 4);
    c.put_object().bucket("down").key("before").body(data.clone().into()).send().await.unwrap();
    gw.providers.break_provider(0);
    gw.providers.break_provider(1);
    let t = Instant::now();
    let e = c.put_object().bucket("down").key("during").body(vec![1u8; 1000].into()).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503));
    assert_eq!(error_code(&e).as_deref(), Some("ServiceUnavailable"));
    assert!(t.elapsed() < Duration::from_mins(1), "bounded by the provider deadlines");
    for _ in 0..3 {
        assert!(body_bytes(c.get_object().bucket("down").key("before").send().await.unwrap()).await == data);
    }
    let keys = c.list_objects_v2().bucket("down").send().await.unwrap();
    assert_eq!(keys.key_count(), Some(1));
    gw.stop().await;
}

/// Promise: the repair queue is durable: after a SIGKILL of the gateway while replicas are
/// missing, a restart finds the queue intact and drains it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_queue_survives_restart() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("durable").send().await.unwrap();
    providers.break_provider(2);
    let mut objects = Vec::new();
    for i in 0..5u64 {
        let data = pattern(50_000 + i as usize, i);
        c.put_object().bucket("durable").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
        objects.push(data);
    }
    gw.kill();
    providers.repair_provider(2);
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    wait_replicated(&providers, 5).await;
    let c = client(gw.addr);
    for (i, data) in objects.iter().enumerate() {
        assert!(&body_bytes(c.get_object().bucket("durable").key(format!("k{i}")).send().await.unwrap()).await == data);
    }
    gw.kill();
}

/// Promise (R11): a replica that returns tampered data is skipped (the GET still answers the
/// right bytes) and read repair rewrites it from a good replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_repair_rewrites_a_tampered_replica() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("heal").send().await.unwrap();
    let data = pattern(200_000, 9);
    c.put_object().bucket("heal").key("o").body(data.clone().into()).send().await.unwrap();
    let originals = gw.stream_files();
    assert_eq!(originals.len(), 3);
    // The replica asked first depends on recent latency: damage each in turn and read until
    // the damaged one was read (its integrity failure is counted), then expect it repaired.
    let mut healed = false;
    'replicas: for (path, bytes) in &originals {
        let mut bad = bytes.clone();
        bad[500] ^= 0x40;
        std::fs::write(path, &bad).unwrap();
        let before = integrity_failures(&gw).await;
        for _ in 0..20 {
            assert!(body_bytes(c.get_object().bucket("heal").key("o").send().await.unwrap()).await == data);
            if integrity_failures(&gw).await == before {
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while std::fs::read(path).unwrap() != *bytes {
                assert!(Instant::now() < deadline, "the tampered replica was not rewritten");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            healed = true;
            break 'replicas;
        }
        std::fs::write(path, bytes).unwrap();
    }
    assert!(healed, "a damaged replica was read, detected and rewritten");
    gw.stop().await;
}

async fn integrity_failures(gw: &TestGateway) -> u64 {
    gw.metric_sum("souverain_integrity_failures_total", &[]).await
}

async fn backend_puts(gw: &TestGateway, provider: &str) -> u64 {
    let provider = format!("provider=\"{provider}\"");
    gw.metric_sum("souverain_backend_requests_total", &["op=\"put\"", &provider]).await
}

/// Promise: a provider known to be down (failed health check) is not waited for: writes go to
/// the reachable ones and its replicas are queued for repair at once; with fewer than W
/// reachable the PUT is refused with 503 before any provider is contacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_down_provider_is_skipped() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("skip").send().await.unwrap();
    gw.providers.break_provider(1);
    let admin = gw.admin_addr();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = crate::common::raw::send(admin, "GET", "/health", &[("host".into(), admin.to_string())], b"")
            .await
            .unwrap();
        let h: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        if h["providers"]["local-fr"]["reachable"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "the health check never saw local-fr down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = backend_puts(&gw, "local-fr").await;
    for i in 0..3 {
        c.put_object().bucket("skip").key(format!("k{i}")).body(pattern(1000, i).into()).send().await.unwrap();
    }
    assert_eq!(backend_puts(&gw, "local-fr").await, before, "no write was sent to the known-down provider");
    let states = gw.replica_states("skip", "k0").await;
    assert!(states.iter().any(|(p, s)| p == "local-fr" && s == "pending"), "{states:?}");
    gw.providers.break_provider(2);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = crate::common::raw::send(admin, "GET", "/health", &[("host".into(), admin.to_string())], b"")
            .await
            .unwrap();
        let h: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        if h["providers"]["local-nl"]["reachable"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "the health check never saw local-nl down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two of three known down, W = 2: refused before any provider is contacted.
    let mut puts = Vec::new();
    for p in ["local-de", "local-fr", "local-nl"] {
        puts.push(backend_puts(&gw, p).await);
    }
    let files_before = gw.stream_files().len();
    let e = c.put_object().bucket("skip").key("refused").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(503), Some("ServiceUnavailable")));
    for (p, before) in ["local-de", "local-fr", "local-nl"].iter().zip(puts) {
        assert_eq!(backend_puts(&gw, p).await, before, "{p} was sent a write for a refused PUT");
    }
    assert_eq!(gw.stream_files().len(), files_before, "nothing stored for the refused PUT");
    assert_eq!(c.list_objects_v2().bucket("skip").send().await.unwrap().key_count(), Some(3));
    gw.providers.repair_provider(1);
    gw.providers.repair_provider(2);
    // Refused writes may leave streams for GC at the provider that took them; the three
    // objects must end with every replica stored.
    let deadline = Instant::now() + Duration::from_mins(1);
    for i in 0..3 {
        while !gw.replica_states("skip", &format!("k{i}")).await.iter().all(|(_, s)| s == "stored") {
            assert!(Instant::now() < deadline, "k{i} never fully repaired");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let fr = gw.stream_files().into_iter().filter(|(p, _)| p.starts_with(&gw.providers.roots[1])).count();
    assert_eq!(fr, 3, "the repaired provider holds exactly the three objects");
    gw.stop().await;
}

/// Promise: a replica that fails authentication after the response started does not cut the
/// body: the read resumes on the next replica at the first unreleased segment, and the client
/// gets the exact bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_stream_failure_resumes_on_another_replica() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("resume").send().await.unwrap();
    let data = pattern(1 << 20, 12);
    c.put_object().bucket("resume").key("o").body(data.clone().into()).send().await.unwrap();
    let originals = gw.stream_files();
    let mut resumed = 0;
    for (path, bytes) in &originals {
        // Damage segment 10 of this replica only.
        let mut bad = bytes.clone();
        bad[96 + 10 * (65_536 + 16) + 7] ^= 0x01;
        std::fs::write(path, &bad).unwrap();
        let before = integrity_failures(&gw).await;
        // The replica asked first depends on recent latency; read until the damaged one was.
        for _ in 0..20 {
            let got = body_bytes(c.get_object().bucket("resume").key("o").send().await.unwrap()).await;
            assert!(got == data, "exact bytes with {} damaged", path.display());
            let range = c.get_object().bucket("resume").key("o").range("bytes=600000-700000").send().await.unwrap();
            assert!(body_bytes(range).await == data[600_000..=700_000]);
            if integrity_failures(&gw).await > before {
                resumed += 1;
                break;
            }
        }
        std::fs::write(path, bytes).unwrap();
    }
    assert!(resumed >= 1, "a damaged replica was read first and its damage crossed mid-stream");
    gw.stop().await;
}

/// Promise (R12): the scrubber finds replicas lost or damaged at rest — even if nobody reads
/// them — and the repair worker restores them, verified; findings show in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrubber_finds_and_repair_restores() {
    let gw = TestGateway::start_with(|t| crate::common::scrubbing_every_second(&t)).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("scrub").send().await.unwrap();
    c.put_object().bucket("scrub").key("a").body(pattern(150_000, 1).into()).send().await.unwrap();
    c.put_object().bucket("scrub").key("b").body(pattern(150_000, 2).into()).send().await.unwrap();
    let files = gw.stream_files();
    assert_eq!(files.len(), 6);
    let originals: Vec<(std::path::PathBuf, Vec<u8>)> = files.clone();
    // One replica deleted, another with a bit flipped (same length: only the ciphertext check
    // finds it). New streams record the CRC64-NVME of their provider file (format v2 §9).
    let meta = gw.meta();
    let bucket = meta.bucket(&BucketName::parse("scrub").unwrap()).await.unwrap().unwrap();
    for key in ["a", "b"] {
        let v = meta.current(bucket.uid, &ObjectKey::parse(key).unwrap()).await.unwrap().unwrap();
        let stream = &v.streams[0];
        let replicas: Vec<&Vec<u8>> = files
            .iter()
            .filter(|(p, _)| p.file_name().is_some_and(|n| *n == *stream.stream_id.to_hex()))
            .map(|(_, b)| b)
            .collect();
        assert_eq!(replicas.len(), 3, "{key}");
        for bytes in replicas {
            let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, bytes);
            assert_eq!(stream.ciphertext_check, CiphertextCheck::crc64nvme(crc), "{key}");
        }
    }
    std::fs::remove_file(&files[0].0).unwrap();
    let mut bad = files[4].1.clone();
    bad[1000] ^= 0x01;
    std::fs::write(&files[4].0, bad).unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    while !originals.iter().all(|(p, b)| std::fs::read(p).is_ok_and(|now| now == *b)) {
        assert!(Instant::now() < deadline, "the scrubber and repair never restored both replicas");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = gw.metrics_text().await;
    assert!(text.contains("souverain_scrub_findings_total{kind=\"missing\""), "{text}");
    assert!(text.contains("souverain_scrub_findings_total{kind=\"hash\""), "{text}");
    // "Where is my data" shows when each replica was last found intact, and how.
    let deadline = Instant::now() + Duration::from_secs(30);
    for key in ["a", "b"] {
        loop {
            let v = gw.admin_json(&format!("/admin/v1/locations/scrub/{key}")).await;
            let replicas = v["streams"][0]["replicas"].as_array().unwrap().clone();
            let verified = |r: &serde_json::Value| {
                r["last_verification"] == "crc64nvme" && r["last_verified_ms"].as_i64() >= v["written_ms"].as_i64()
            };
            if replicas.iter().all(verified) {
                break;
            }
            assert!(Instant::now() < deadline, "{key}: replicas never shown verified: {v}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    gw.stop().await;
}
