//! Durable provider-side deletions: a copy the gateway gives up (an evacuated replica) is
//! deleted once its provider is back, however long it was down and even if the gateway was
//! SIGKILLed in between; until then it is visible in the metrics, `/health`, the admin API and
//! "where is my data". Over local directories (the provider's directory replaced by a file)
//! and over s3s-fs (the provider's process killed), as `make test` runs the suite twice.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::providers::{Providers, s3s_fs_mode};
use crate::common::{BinaryGateway, TestGateway, admin_request as admin, body_bytes, client, pattern};

const PROVIDERS: [&str; 3] = ["local-de", "local-fr", "local-nl"];
/// Two replicas in two countries, W = 1: a PUT succeeds with one provider down.
const PAIR: &str = r#"{"id":"pair","replicas":2,"write_quorum":1,"min_distinct_countries":2}"#;
/// The change that puts a provider outside every policy of the test config.
const GOES_AMERICAN: &str = r#"{"jurisdictions":["DE","US"],"exposures":["us-cloud-act"]}"#;

/// Takes provider `i` down: its process SIGKILLed (s3s-fs, behind its proxy) or its directory
/// replaced by a file (local directories).
fn take_down(p: &mut Providers, i: usize) {
    if s3s_fs_mode() { p.kill(i) } else { p.break_provider(i) }
}

/// Brings provider `i` back with the data it had.
fn bring_back(p: &mut Providers, i: usize) {
    if s3s_fs_mode() { p.restart(i) } else { p.repair_provider(i) }
}

/// The providers in the mode's kind: s3s-fs processes get proxies so one can be killed and
/// come back at the same address.
async fn providers(dir: &std::path::Path) -> Providers {
    if s3s_fs_mode() { Providers::start_proxied(dir).await } else { Providers::start(dir) }
}

async fn admin_json(addr: std::net::SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = admin(addr, "GET", path, "").await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The provider-side names (`<32 hex>`) of the streams of `bucket/key`, and its replicas.
async fn streams_of(addr: std::net::SocketAddr, bucket: &str, key: &str) -> (Vec<String>, Vec<String>) {
    let v = admin_json(addr, &format!("/admin/v1/locations/{bucket}/{key}")).await;
    let streams = v["streams"].as_array().unwrap();
    let names = streams.iter().map(|s| s["name"].as_str().unwrap().trim_start_matches("sv1/").to_owned()).collect();
    let holders = streams[0]["replicas"].as_array().unwrap();
    (names, holders.iter().map(|r| r["provider"].as_str().unwrap().to_owned()).collect())
}

/// The stream names each provider holds now, by provider index.
fn held(p: &Providers) -> Vec<BTreeSet<String>> {
    let files = p.stream_files();
    p.roots
        .iter()
        .map(|root| {
            files
                .iter()
                .filter(|(f, _)| f.starts_with(root))
                .filter_map(|(f, _)| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect()
        })
        .collect()
}

fn bucket_conf(policy: &str) -> aws_sdk_s3::types::CreateBucketConfiguration {
    aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(policy))
        .build()
}

/// Promise (issue 28): a provider that leaves policy while it is down keeps the evacuated
/// ciphertext only until it is back: the deletions are queued durably, shown per provider in
/// the metrics (with the overdue gauge past the configured bound), `/health`, the admin API,
/// the CLI and "where is my data"; once the provider answers again, it holds no stream of
/// the evacuated objects, the gauges return to 0, and nothing else was deleted (the replica
/// of an object evacuation could not move stays, every object reads back byte-exact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evacuated_replicas_are_deleted_when_the_provider_returns() {
    let edit = |t: String| {
        t.replace("gc_interval_secs = 3600", "gc_interval_secs = 1\ndeletion_overdue_secs = 1")
            .replace("evacuation_interval_secs = 2", "evacuation_interval_secs = 1")
    };
    let mut gw =
        if s3s_fs_mode() { TestGateway::start_proxied_with(edit).await } else { TestGateway::start_with(edit).await };
    let admin_addr = gw.admin_addr();
    let c = client(gw.addr);
    assert_eq!(admin(admin_addr, "PUT", "/admin/v1/policies/pair", PAIR).await.0, 200);
    c.create_bucket().bucket("pairs").create_bucket_configuration(bucket_conf("pair")).send().await.unwrap();
    // The control: three replicas over the three providers, so evacuation has nowhere to
    // move it; its replica on the leaving provider must stay.
    c.create_bucket().bucket("control").send().await.unwrap();
    let control = pattern(30_000, 99);
    c.put_object().bucket("control").key("c").body(control.clone().into()).send().await.unwrap();
    let mut objects: Vec<Vec<u8>> = (0..6).map(|i| pattern(200_000 + i * 1000, i as u64)).collect();
    for (i, data) in objects.iter().enumerate() {
        c.put_object().bucket("pairs").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
    }
    let (_, before) = streams_of(admin_addr, "pairs", "k0").await;
    let leaving = before[0].clone();
    let li = PROVIDERS.iter().position(|p| *p == leaving).unwrap();
    let (control_streams, _) = streams_of(admin_addr, "control", "c").await;
    let mut evacuated = BTreeSet::new();
    for i in 0..objects.len() {
        let (names, holders) = streams_of(admin_addr, "pairs", &format!("k{i}")).await;
        assert!(holders.contains(&leaving), "k{i} is on {leaving}: {holders:?}");
        evacuated.extend(names);
    }
    assert!(evacuated.iter().all(|n| held(&gw.providers)[li].contains(n)));

    take_down(&mut gw.providers, li);
    // A write during the outage succeeds; its replica there is pending.
    objects.push(pattern(150_000, 6));
    c.put_object().bucket("pairs").key("k6").body(objects[6].clone().into()).send().await.unwrap();
    let (names, _) = streams_of(admin_addr, "pairs", "k6").await;
    evacuated.extend(names);
    let (status, body) = admin(admin_addr, "PUT", &format!("/admin/v1/providers/{leaving}"), GOES_AMERICAN).await;
    assert_eq!(status, 200, "{body}");

    // Evacuation moves every replica (the copies come from the other replica); the old ones
    // wait for their provider, visibly.
    let series = format!("provider=\"{leaving}\"");
    crate::common::wait_for("evacuation moved every replica and queued 7 deletions", 60, || async {
        let job = admin_json(admin_addr, "/admin/v1/jobs/evacuation").await;
        job["state"] == "done"
            && gw.metric_sum("souverain_pending_deletions", &[&series]).await == 7
            && gw.metric_sum("souverain_pending_deletions_overdue", &[&series]).await == 7
    })
    .await;
    let health = admin_json(admin_addr, "/health").await;
    let queued = &health["deletions"]["providers"][leaving.as_str()];
    assert_eq!((queued["pending"].as_u64(), queued["outside_policy"].as_u64()), (Some(7), Some(7)), "{health}");
    let listed = admin_json(admin_addr, "/admin/v1/deletions").await;
    let tasks: BTreeSet<(String, String, String)> = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |f: &str| t[f].as_str().unwrap().to_owned();
            (s("provider"), s("reason"), s("name").trim_start_matches("sv1/").to_owned())
        })
        .collect();
    let want: BTreeSet<(String, String, String)> =
        evacuated.iter().map(|n| (leaving.clone(), "evacuated".to_owned(), n.clone())).collect();
    assert_eq!(tasks, want, "exactly the evacuated replicas await deletion, at {leaving}");
    let (ok, out, err) =
        crate::common::admin_cli(vec!["--url".into(), format!("http://{admin_addr}"), "deletions".into()]).await;
    assert!(ok && out.contains(&leaving) && out.contains("evacuated"), "{out}{err}");
    let located = admin_json(admin_addr, "/admin/v1/locations/pairs/k0").await;
    let awaiting = &located["streams"][0]["awaiting_deletion"];
    assert_eq!(awaiting.as_array().map(Vec::len), Some(1), "{located}");
    assert_eq!(
        (awaiting[0]["provider"].as_str(), awaiting[0]["reason"].as_str()),
        (Some(leaving.as_str()), Some("evacuated"))
    );
    assert_eq!(awaiting[0]["allowed"], false);
    let replicas = located["streams"][0]["replicas"].as_array().unwrap();
    assert!(replicas.iter().all(|r| r["provider"] != leaving.as_str() && r["allowed"] == true), "{located}");

    let others_before: Vec<BTreeSet<String>> =
        (0..3).filter(|i| *i != li).map(|i| held(&gw.providers)[i].clone()).collect();
    bring_back(&mut gw.providers, li);
    crate::common::wait_for("the returned provider holds none of the evacuated streams", 60, || async {
        held(&gw.providers)[li].is_disjoint(&evacuated)
            && gw.metric_sum("souverain_pending_deletions", &[&series]).await == 0
    })
    .await;
    assert_eq!(gw.metric_sum("souverain_pending_deletions_overdue", &[&series]).await, 0);
    assert_eq!(admin_json(admin_addr, "/health").await["deletions"]["pending"], 0);
    let located = admin_json(admin_addr, "/admin/v1/locations/pairs/k0").await;
    assert_eq!(located["streams"][0]["awaiting_deletion"], serde_json::json!([]));
    // Nothing else was deleted: the control's replica stays at the leaving provider, the
    // other providers lost nothing, and every object reads back.
    let now = held(&gw.providers);
    assert!(control_streams.iter().all(|n| now[li].contains(n)), "the control replica stays at {leaving}");
    let others_now: Vec<BTreeSet<String>> = (0..3).filter(|i| *i != li).map(|i| now[i].clone()).collect();
    for (b, n) in others_before.iter().zip(&others_now) {
        assert!(b.is_subset(n), "another provider lost a stream");
    }
    for (i, data) in objects.iter().enumerate() {
        let got = body_bytes(c.get_object().bucket("pairs").key(format!("k{i}")).send().await.unwrap()).await;
        assert!(got == *data, "k{i} reads back");
    }
    let got = body_bytes(c.get_object().bucket("control").key("c").send().await.unwrap()).await;
    assert!(got == control);
    gw.stop().await;
}

/// A free loopback port (bound, then released) for a spawned gateway's admin listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Promise (issue 28): the deletion of an evacuated replica is decided in the evacuation's
/// commit, durably: a gateway SIGKILLed after that commit (its provider still down, so the
/// deletion not done) deletes the replica after its restart, once the provider is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evacuated_replica_deletion_survives_a_sigkill() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let mut providers = providers(dir.path()).await;
    let admin_port = free_port();
    let admin_addr: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    let cfg = crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers)
        .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"{admin_addr}\""))
        .replace("gc_interval_secs = 3600", "gc_interval_secs = 1");
    std::fs::write(dir.path().join("souverain.toml"), cfg).unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    assert_eq!(admin(admin_addr, "PUT", "/admin/v1/policies/pair", PAIR).await.0, 200);
    c.create_bucket().bucket("pairs").create_bucket_configuration(bucket_conf("pair")).send().await.unwrap();
    let objects: Vec<Vec<u8>> = (0..3).map(|i| pattern(100_000 + i * 10, i as u64)).collect();
    for (i, data) in objects.iter().enumerate() {
        c.put_object().bucket("pairs").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
    }
    let mut evacuated = BTreeSet::new();
    let (_, holders) = streams_of(admin_addr, "pairs", "k0").await;
    let leaving = holders[0].clone();
    let li = PROVIDERS.iter().position(|p| *p == leaving).unwrap();
    for i in 0..objects.len() {
        evacuated.extend(streams_of(admin_addr, "pairs", &format!("k{i}")).await.0);
    }

    take_down(&mut providers, li);
    assert_eq!(admin(admin_addr, "PUT", &format!("/admin/v1/providers/{leaving}"), GOES_AMERICAN).await.0, 200);
    crate::common::wait_for("evacuation committed every move", 60, || async {
        let q = admin_json(admin_addr, "/admin/v1/deletions").await;
        q["tasks"].as_array().unwrap().len() == 3
    })
    .await;
    // SIGKILL with the three deletions decided and none done (the provider is down).
    gw.kill();
    bring_back(&mut providers, li);
    let root: PathBuf = providers.roots[li].clone();
    assert!(!held(&providers)[li].is_disjoint(&evacuated), "the replicas are still at {}", root.display());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    crate::common::wait_for("the restarted gateway deleted the evacuated replicas", 60, || async {
        held(&providers)[li].is_disjoint(&evacuated)
    })
    .await;
    let c = client(gw.addr);
    for (i, data) in objects.iter().enumerate() {
        let got = body_bytes(c.get_object().bucket("pairs").key(format!("k{i}")).send().await.unwrap()).await;
        assert!(got == *data, "k{i} reads back after the restart");
    }
    crate::common::wait_for("the queue is empty", 30, || async {
        admin_json(admin_addr, "/admin/v1/deletions").await["tasks"].as_array().unwrap().is_empty()
    })
    .await;
    gw.kill();
}

/// Promise (issue 18 item 5): a repair queued while a provider was allowed writes nothing
/// there once the provider has left the bucket's policy, even when evacuation has nowhere to
/// move the replica: the task is dropped (counted as `refused`) and the provider, back up,
/// never receives the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_never_writes_to_a_provider_outside_policy() {
    let mut gw = if s3s_fs_mode() { TestGateway::start_proxied().await } else { TestGateway::start().await };
    let admin_addr = gw.admin_addr();
    let c = client(gw.addr);
    // eu-default: three replicas over the three providers, so evacuation has no target.
    c.create_bucket().bucket("full").send().await.unwrap();
    let li = 0;
    let leaving = PROVIDERS[li];
    take_down(&mut gw.providers, li);
    let data = pattern(120_000, 7);
    c.put_object().bucket("full").key("k").body(data.clone().into()).send().await.unwrap();
    let (names, _) = streams_of(admin_addr, "full", "k").await;
    let series = format!("provider=\"{leaving}\"");
    crate::common::wait_for("the repair is queued", 30, || async {
        gw.metric_sum("souverain_replication_pending_replicas", &[&series]).await == 1
    })
    .await;
    let (status, body) = admin(admin_addr, "PUT", &format!("/admin/v1/providers/{leaving}"), GOES_AMERICAN).await;
    assert_eq!(status, 200, "{body}");
    bring_back(&mut gw.providers, li);
    crate::common::wait_for("the repair task was refused", 60, || async {
        gw.metric_sum("souverain_repair_completed_total", &[&series, "outcome=\"refused\""]).await == 1
    })
    .await;
    // A few more repair passes: still nothing there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(held(&gw.providers)[li].is_disjoint(&names.iter().cloned().collect()), "no copy at {leaving}");
    assert_eq!(gw.metric_sum("souverain_repair_completed_total", &[&series, "outcome=\"ok\""]).await, 0);
    let got = body_bytes(c.get_object().bucket("full").key("k").send().await.unwrap()).await;
    assert!(got == data);
    gw.stop().await;
}
