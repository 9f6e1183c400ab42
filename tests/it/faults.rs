//! Replication under injected faults (DESIGN.md §6, cases R1, R3, R4, R11): real `s3s-fs`
//! processes behind fault proxies, killed, slowed, failing or corrupting, while the gateway
//! keeps answering exact bytes and tells the truth about it in /health, the admin API and the
//! metrics. These tests start their own `s3s-fs` providers, so `make test` runs them once.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::common::fault_proxy::Fault;
use crate::common::{TestGateway, body_bytes, client, pattern};

const NL: &str = "local-nl";

/// Polls `check` every 200 ms until it holds or `limit` passes.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Bytes in the top directory of a provider root (where `s3s-fs` writes its upload temp files).
fn bytes_in(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

async fn health(gw: &TestGateway, provider: &str) -> serde_json::Value {
    gw.admin_json("/health").await["providers"][provider].clone()
}

/// Promise (R1): a provider killed in the middle of a 1 GiB PUT (N = 3, W = 2) does not fail
/// the PUT; the object reads back exactly; the missing replica shows as pending in "where is
/// my data", /admin/v1/repair and the metrics; once the provider returns, repair restores
/// three stored replicas within 60 seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_killed_mid_1gib_put_is_repaired_after_it_returns() {
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    let mut gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("big").send().await.unwrap();
    let src = gw.dir.path().join("one-gib.bin");
    let want = crate::common::write_pattern_file(&src, 1024);
    let body = ByteStream::from_path(&src).await.unwrap();
    let put = tokio::spawn({
        let c = c.clone();
        async move { c.put_object().bucket("big").key("g").body(body).send().await }
    });
    // Kill the NL provider once a quarter of the object has reached the DE provider.
    let de_root = gw.providers.roots[0].clone();
    wait_for("a quarter of the upload at a provider", Duration::from_mins(5), || {
        let n = bytes_in(&de_root);
        async move { n >= 256 << 20 }
    })
    .await;
    gw.providers.kill(2);
    let out = put.await.unwrap().expect("the PUT succeeds on two acknowledgements");
    assert!(out.e_tag().is_some());
    std::fs::remove_file(&src).unwrap();
    let states = gw.replica_states("big", "g").await;
    assert_eq!(states.iter().filter(|(_, s)| s == "stored").count(), 2, "{states:?}");
    assert!(states.contains(&(NL.to_owned(), "pending".to_owned())), "{states:?}");
    wait_for("the backlog in the metrics and /admin/v1/repair", Duration::from_secs(20), || async {
        let repair = gw.admin_json("/admin/v1/repair").await;
        gw.metric_sum("souverain_replication_pending_replicas", &[NL]).await == 1
            && repair["providers"][NL]["pending_replicas"] == 1
    })
    .await;
    wait_for("the provider reported down", Duration::from_secs(20), || async {
        health(&gw, NL).await["reachable"] == false
    })
    .await;
    let got = c.get_object().bucket("big").key("g").send().await.unwrap();
    assert_eq!(crate::common::body_len_and_md5(got).await, (1 << 30, want));

    gw.providers.restart(2);
    let back = Instant::now();
    wait_for("three stored replicas", Duration::from_mins(1), || async {
        gw.replica_states("big", "g").await.iter().all(|(_, s)| s == "stored")
    })
    .await;
    println!("repair restored the 1 GiB replica {:?} after the provider returned", back.elapsed());
    wait_for("an empty backlog", Duration::from_secs(10), || async {
        gw.metric_sum("souverain_replication_pending_replicas", &[]).await == 0
            && gw.admin_json("/admin/v1/repair").await["pending_replicas"] == 0
    })
    .await;
    assert_eq!(gw.metric_sum("souverain_repair_completed_total", &[NL, "outcome=\"ok\""]).await, 1);
    gw.stop().await;
}

/// Promise (R11): providers that flip bits in what they return never reach the client: every
/// GET answers the exact bytes (failover to the intact replica), the failures are counted, and
/// read repair rewrites the damaged replicas once the providers behave again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_flipping_providers_never_reach_the_client() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("flip").send().await.unwrap();
    let data = pattern(300_000, 7);
    c.put_object().bucket("flip").key("k").body(data.clone().into()).send().await.unwrap();
    // Two of three replicas come back damaged; the intact one is also the slowest.
    gw.providers.proxies[0].set_for_objects(Fault::FlipBit);
    gw.providers.proxies[1].set_for_objects(Fault::FlipBit);
    gw.providers.proxies[2].set(Fault::Delay(Duration::from_millis(100)));
    for _ in 0..10 {
        let got = body_bytes(c.get_object().bucket("flip").key("k").send().await.unwrap()).await;
        assert!(got == data, "a GET returned wrong bytes");
    }
    let failures = gw.metric_sum("souverain_integrity_failures_total", &[]).await;
    assert!(failures >= 1, "the damaged replicas were read and rejected");
    for p in &gw.providers.proxies {
        p.set(Fault::None);
    }
    wait_for("read repair of a damaged replica", Duration::from_secs(30), || async {
        gw.metric_sum("souverain_repair_completed_total", &["outcome=\"ok\""]).await >= 1
            && gw.metric_sum("souverain_replication_pending_replicas", &[]).await == 0
    })
    .await;
    let got = body_bytes(c.get_object().bucket("flip").key("k").send().await.unwrap()).await;
    assert!(got == data);
    gw.stop().await;
}

/// Promise (R3): when the replica asked first is slow to its first byte, a hedged read goes
/// to another replica and the first answer wins; the gateway learns and asks the fast replica
/// first, so slow ones are asked only by hedges. Every GET answers the exact bytes. (The
/// latency ratio itself is measured by `benches/hedging.rs`, never asserted in a test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_providers_are_hedged_and_then_avoided() {
    let _alone = crate::common::heavy_or_latency_sensitive().await;
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("slow").send().await.unwrap();
    let data = pattern(200_000, 9);
    c.put_object().bucket("slow").key("k").body(data.clone().into()).send().await.unwrap();
    let get = || async { body_bytes(c.get_object().bucket("slow").key("k").send().await.unwrap()).await };
    let hedged = || gw.metric_sum("souverain_backend_hedged_requests_total", &[]);
    // Every replica slow: whichever is asked first, a hedge is issued.
    for p in &gw.providers.proxies {
        p.set(Fault::Delay(Duration::from_millis(1500)));
    }
    assert!(get().await == data);
    assert!(hedged().await >= 1, "a hedge was issued");
    // NL becomes fast; DE and FR get slower still (far beyond any load-induced delay of NL's).
    // Let the gateway learn.
    gw.providers.proxies[2].set(Fault::None);
    gw.providers.proxies[0].set(Fault::Delay(Duration::from_secs(3)));
    gw.providers.proxies[1].set(Fault::Delay(Duration::from_secs(3)));
    for _ in 0..10 {
        assert!(get().await == data);
    }
    let [de, fr, nl] = [0, 1, 2].map(|i| &gw.providers.proxies[i]);
    let before = (de.object_gets() + fr.object_gets(), nl.object_gets(), hedged().await);
    for _ in 0..10 {
        assert!(get().await == data);
    }
    let slow_asked = de.object_gets() + fr.object_gets() - before.0;
    let hedges = hedged().await - before.2;
    let report = gw.admin_json("/health").await["providers"].clone();
    assert!(nl.object_gets() - before.1 >= 10, "the fast replica is asked first: {report}");
    assert!(slow_asked <= hedges, "slow replicas are asked only by hedges ({slow_asked} > {hedges})");
    let nl_health = health(&gw, NL).await;
    assert!(nl_health["ttfb_p50_ms"].is_u64() && nl_health["circuit"] == "closed", "{nl_health}");
    gw.stop().await;
}

/// Promise (R4): a provider that fails every request opens its circuit (metrics and /health
/// say so), writes stop waiting for it and queue its replicas, and when it recovers the
/// circuit closes and the backlog drains to three stored replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_provider_opens_its_circuit_and_recovers() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("circuit").send().await.unwrap();
    gw.providers.proxies[1].set(Fault::Status(500));
    let fr = "provider=\"local-fr\"";
    wait_for("the circuit to open", Duration::from_secs(30), || async {
        gw.metric_sum("souverain_backend_circuit_state", &[fr]).await == 2
    })
    .await;
    assert_eq!(health(&gw, "local-fr").await["circuit"], "open");
    let data = pattern(100_000, 3);
    for i in 0..3 {
        c.put_object().bucket("circuit").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
    }
    assert_eq!(
        gw.replica_states("circuit", "k0").await.iter().filter(|(_, s)| s == "pending").count(),
        1,
        "the open provider's replica is queued"
    );
    gw.providers.proxies[1].set(Fault::None);
    // The gauge alone could still read the 0 of a pass before the writes on a loaded machine:
    // the queue itself must be empty too.
    let all_stored = || async {
        for i in 0..3 {
            if !gw.replica_states("circuit", &format!("k{i}")).await.iter().all(|(_, s)| s == "stored") {
                return false;
            }
        }
        true
    };
    wait_for("the circuit to close and the backlog to drain", Duration::from_secs(30), || async {
        gw.metric_sum("souverain_backend_circuit_state", &[fr]).await == 0
            && all_stored().await
            && gw.metric_sum("souverain_replication_pending_replicas", &[]).await == 0
    })
    .await;
    assert_eq!(health(&gw, "local-fr").await["circuit"], "closed");
    for i in 0..3 {
        let key = format!("k{i}");
        assert!(body_bytes(c.get_object().bucket("circuit").key(&key).send().await.unwrap()).await == data);
    }
    gw.stop().await;
}

/// Promise (R4): the circuit breaker, not the health check, stops writes to a provider that fails
/// them. Its health checks pass (only object requests fail, and no check runs during the test),
/// so it stays "reachable" as far as they know; five failed writes open its circuit, and from
/// then on writes send it nothing (counted at its proxy) and queue its replica for repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_open_the_circuit_and_later_writes_skip_the_provider() {
    let gw =
        TestGateway::start_proxied_with(|t| t.replace("health_interval_secs = 1", "health_interval_secs = 3600")).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("breaker").send().await.unwrap();
    let fr = "provider=\"local-fr\"";
    gw.providers.proxies[1].set_for_objects(Fault::Status(500));
    let data = pattern(50_000, 9);
    let mut opened_after = None;
    for i in 0..20 {
        c.put_object().bucket("breaker").key(format!("w{i}")).body(data.clone().into()).send().await.unwrap();
        if gw.metric_sum("souverain_backend_circuit_state", &[fr]).await == 2 {
            opened_after = Some(i + 1);
            break;
        }
    }
    assert!(opened_after.is_some(), "20 failed writes did not open the circuit");
    assert_eq!(health(&gw, "local-fr").await["reachable"], true, "the health check did not mark it down");
    let sent = gw.providers.proxies[1].object_puts();
    for i in 0..3 {
        c.put_object().bucket("breaker").key(format!("open{i}")).body(data.clone().into()).send().await.unwrap();
        let states = gw.replica_states("breaker", &format!("open{i}")).await;
        assert!(states.contains(&("local-fr".to_owned(), "pending".to_owned())), "{states:?}");
    }
    assert_eq!(gw.providers.proxies[1].object_puts(), sent, "a write was sent to the provider with the open circuit");
    gw.stop().await;
}

/// Promise (R4): a provider that accepts connections and never answers (a black hole) costs a
/// write its straggler deadline, not an error: the PUT succeeds on the other two, reads that
/// ask it first are hedged to another replica (the hedge metric counts them) and answer within
/// seconds, not the first-byte timeout, and the replica is queued for repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_holed_provider_is_cut_from_writes_and_hedged_on_reads() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("hole").send().await.unwrap();
    let data = pattern(2_000_000, 5);
    c.put_object().bucket("hole").key("before").body(data.clone().into()).send().await.unwrap();
    // Object requests only: its health checks answer, so reads still try it (and must hedge).
    gw.providers.proxies[0].set_for_objects(Fault::BlackHole);
    let t = Instant::now();
    c.put_object().bucket("hole").key("during").body(data.clone().into()).send().await.unwrap();
    assert!(t.elapsed() < Duration::from_mins(1), "bounded by the straggler deadline");
    // Reads that ask the black hole first are hedged to another replica after the hedge delay
    // (tens of milliseconds), far inside the 10 s first-byte timeout they would otherwise wait.
    let hedges = gw.metric_sum("souverain_backend_hedged_requests_total", &[]).await;
    let asked = gw.providers.proxies[0].object_gets();
    let mut slowest = Duration::ZERO;
    for key in ["before", "during", "before", "during"] {
        let t = Instant::now();
        assert!(body_bytes(c.get_object().bucket("hole").key(key).send().await.unwrap()).await == data);
        slowest = slowest.max(t.elapsed());
    }
    let (asked, hedged) = (
        gw.providers.proxies[0].object_gets() - asked,
        gw.metric_sum("souverain_backend_hedged_requests_total", &[]).await - hedges,
    );
    assert!(asked > 0, "no read asked the black-holed replica first (the test proves nothing)");
    assert!(hedged >= asked, "{asked} reads waited on the black hole, {hedged} hedges");
    assert!(slowest < Duration::from_secs(5), "a hedged read took {slowest:?}");
    let states = gw.replica_states("hole", "during").await;
    assert!(states.contains(&("local-de".to_owned(), "pending".to_owned())), "{states:?}");
    gw.stop().await;
}

/// Promise (R4, R11): replicas that cut their body off mid-way or reset the connection never
/// cost the client a byte: the read resumes on another replica at the first segment not yet
/// sent, and every GET answers the exact bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_reset_reads_resume_on_another_replica() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("cut").send().await.unwrap();
    let data = pattern(3_000_000, 11);
    c.put_object().bucket("cut").key("k").body(data.clone().into()).send().await.unwrap();
    let [de, fr, nl] = [0, 1, 2].map(|i| &gw.providers.proxies[i]);
    // NL is intact but slow, so the faulty DE and FR replicas are asked first.
    nl.set(Fault::Delay(Duration::from_millis(200)));
    for fault in [Fault::TruncateAfter(700_000), Fault::Reset] {
        de.set_for_objects(fault);
        fr.set_for_objects(fault);
        let asked = de.object_gets() + fr.object_gets();
        for _ in 0..4 {
            let got = body_bytes(c.get_object().bucket("cut").key("k").send().await.unwrap()).await;
            assert!(got == data, "{fault:?}: a GET returned wrong bytes");
        }
        assert!(de.object_gets() + fr.object_gets() > asked, "{fault:?}: the faulty replicas were read");
    }
    gw.stop().await;
}
