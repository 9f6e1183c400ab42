//! Metrics scraped by a real Prometheus, health and readiness, alert rules, dashboard, and
//! request ids in logs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::raw::{Signer, send, sha256_hex, signed_request};
use crate::common::{Providers, SECRET_KEY, TestGateway, body_bytes, pattern};

struct Prometheus {
    child: Child,
    addr: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_prometheus(dir: &Path, target: std::net::SocketAddr) -> Prometheus {
    start_prometheus_at(dir, target, &format!("127.0.0.1:{}", free_port()), None)
}

/// A Prometheus listening on `addr` that scrapes `target` every second and, with `rules`,
/// evaluates those alert rules every second too.
fn start_prometheus_at(dir: &Path, target: std::net::SocketAddr, addr: &str, rules: Option<&Path>) -> Prometheus {
    let cfg = dir.join("prometheus.yml");
    let rules = rules.map(|r| format!("rule_files: ['{}']\n", r.display())).unwrap_or_default();
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{rules}scrape_configs:\n  - job_name: souverain\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus missing: run `apt-get install prometheus` (.ci/run does)");
    Prometheus { child, addr: addr.to_owned() }
}

/// Waits until Prometheus answers queries, so that from then on every query error is real.
async fn wait_ready(prom: &Prometheus) {
    let addr: std::net::SocketAddr = prom.addr.parse().unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let r = send(addr, "GET", "/-/ready", &[("host".into(), prom.addr.clone())], b"").await;
        if r.is_ok_and(|r| r.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "Prometheus never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One instant query; the values of the result vector. A query Prometheus does not answer
/// with `status: success` fails the test: an empty answer must mean "no such series", never
/// "the query went wrong".
async fn query(prom: &Prometheus, q: &str) -> Vec<(serde_json::Value, f64)> {
    let addr: std::net::SocketAddr = prom.addr.parse().unwrap();
    let enc: String = q
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    let r = send(addr, "GET", &format!("/api/v1/query?query={enc}"), &[("host".into(), prom.addr.clone())], b"")
        .await
        .unwrap_or_else(|e| panic!("Prometheus did not answer {q}: {e}"));
    let v: serde_json::Value =
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{q}: not JSON ({e}): {}", r.body_text()));
    assert!(r.status == 200 && v["status"] == "success", "{q}: Prometheus answered {} {v}", r.status);
    let result = v["data"]["result"].as_array().unwrap_or_else(|| panic!("{q}: no result vector in {v}"));
    result
        .iter()
        .map(|s| {
            let value = s["value"][1].as_str().and_then(|x| x.parse().ok());
            (s["metric"].clone(), value.unwrap_or_else(|| panic!("{q}: a sample without a number: {s}")))
        })
        .collect()
}

/// Waits until `q` yields exactly `want` as its single value.
async fn wait_for(prom: &Prometheus, q: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let got = query(prom, q).await;
        if got.len() == 1 && (got[0].1 - want).abs() < 1e-9 {
            return;
        }
        assert!(Instant::now() < deadline, "{q}: wanted {want}, Prometheus says {got:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until `q` (a filter expression) yields a sample.
async fn wait_until(prom: &Prometheus, q: &str) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while query(prom, q).await.is_empty() {
        assert!(Instant::now() < deadline, "{q} never held");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Promise: a real Prometheus scrapes the admin listener; the core series exist with the right
/// labels and move by exactly the traffic driven; the series count stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_gateway() {
    let gw = TestGateway::start().await;
    let prom = start_prometheus(gw.dir.path(), gw.admin_addr());
    wait_ready(&prom).await;
    let c = &gw.client;
    c.create_bucket().bucket("metrics").send().await.unwrap();
    let sizes = [1000usize, 70_000, 5];
    for (i, n) in sizes.iter().enumerate() {
        c.put_object().bucket("metrics").key(format!("k{i}")).body(pattern(*n, i as u64).into()).send().await.unwrap();
    }
    for i in 0..2 {
        body_bytes(c.get_object().bucket("metrics").key(format!("k{i}")).send().await.unwrap()).await;
    }
    assert!(c.get_object().bucket("metrics").key("missing").send().await.is_err());
    wait_for(&prom, "up{job=\"souverain\"}", 1.0).await;
    wait_for(&prom, "souverain_s3_requests_total{op=\"PutObject\",status=\"2xx\"}", 3.0).await;
    wait_for(&prom, "souverain_s3_requests_total{op=\"GetObject\",status=\"2xx\"}", 2.0).await;
    wait_for(&prom, "souverain_s3_requests_total{op=\"GetObject\",status=\"4xx\"}", 1.0).await;
    wait_for(&prom, "souverain_s3_requests_total{op=\"CreateBucket\",status=\"2xx\"}", 1.0).await;
    wait_for(&prom, "souverain_s3_request_duration_seconds_count{op=\"PutObject\"}", 3.0).await;
    wait_for(&prom, "souverain_crypto_bytes_total{direction=\"seal\"}", sizes.iter().sum::<usize>() as f64).await;
    wait_for(&prom, "souverain_crypto_bytes_total{direction=\"open\"}", (sizes[0] + sizes[1]) as f64).await;
    // The two GET bodies, plus the XML of the 404.
    wait_until(&prom, &format!("souverain_s3_sent_bytes_total > {}", sizes[0] + sizes[1])).await;
    wait_until(&prom, &format!("souverain_s3_received_bytes_total >= {}", sizes.iter().sum::<usize>())).await;
    // Five metadata log segments (the record of the audit key made at the first start, the
    // bucket's creation with its record, then one per PUT, each answered before the next
    // request), none of whose copies a provider missed.
    wait_for(&prom, "souverain_log_segments_total{outcome=\"written\"}", 5.0).await;
    wait_for(&prom, "sum(souverain_log_replicas_missed_total) or vector(0)", 0.0).await;
    for p in ["local-de", "local-fr", "local-nl"] {
        // Per provider: three streams, the log key's keyring, five segments.
        wait_for(
            &prom,
            &format!("souverain_backend_requests_total{{provider=\"{p}\",op=\"put\",outcome=\"ok\"}}"),
            9.0,
        )
        .await;
        wait_for(&prom, &format!("souverain_provider_reachable{{provider=\"{p}\"}}"), 1.0).await;
    }
    // One decision for the bucket's creation, one per PUT.
    wait_for(&prom, "souverain_placement_decisions_total{policy=\"eu-default\",outcome=\"placed\"}", 4.0).await;
    wait_for(&prom, "souverain_write_quorum_available{policy=\"eu-default\"}", 1.0).await;
    wait_for(&prom, "souverain_build_info", 1.0).await;
    wait_for(&prom, "souverain_stored_objects{policy=\"eu-default\"}", 3.0).await;
    wait_for(&prom, "souverain_stored_bytes{policy=\"eu-default\"}", sizes.iter().sum::<usize>() as f64).await;
    wait_for(&prom, "souverain_stored_objects{policy=\"de-only\"}", 0.0).await;
    for p in ["local-de", "local-fr", "local-nl"] {
        wait_for(&prom, &format!("souverain_backend_circuit_state{{provider=\"{p}\"}}"), 0.0).await;
        wait_for(&prom, &format!("souverain_replication_oldest_pending_seconds{{provider=\"{p}\"}}"), 0.0).await;
        wait_for(&prom, &format!("souverain_repair_stuck_tasks{{provider=\"{p}\"}}"), 0.0).await;
    }
    let series = query(&prom, "count({__name__=~\"souverain_.*\"})").await;
    assert!(series.len() == 1 && series[0].1 < 5000.0, "bounded series count: {series:?}");
    // No label value is ever a bucket name or key.
    let labels = query(&prom, "{__name__=~\"souverain_.*\"}").await;
    for (metric, _) in labels {
        let text = metric.to_string();
        assert!(!text.contains("\"metrics\"") && !text.contains("\"k0\""), "bucket or key in labels: {text}");
    }
    gw.stop().await;
}

/// Promise: with fewer providers reachable than the write quorum, /health and
/// souverain_write_quorum_available say so, /ready stays true while reads can be served, and
/// both recover when the provider returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_quorum_loss_and_recovery() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let get = |path: &'static str| async move {
        send(admin, "GET", path, &[("host".into(), admin.to_string())], b"").await.unwrap()
    };
    let wait_quorum = |want: bool| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let h: serde_json::Value = serde_json::from_slice(&get("/health").await.body).unwrap_or_default();
            let metrics = get("/metrics").await.body_text();
            let gauge = format!("souverain_write_quorum_available{{policy=\"eu-default\"}} {}", u8::from(want));
            if h["policies"]["eu-default"]["write_quorum_available"] == want && metrics.contains(&gauge) {
                return h;
            }
            assert!(Instant::now() < deadline, "quorum {want} never reported: {h}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let h = wait_quorum(true).await;
    assert_eq!(h["providers"]["local-fr"]["reachable"], true);
    assert_eq!(get("/ready").await.status, 200);
    // W = 2 of 3: one provider down keeps the quorum, two lose it.
    gw.providers.break_provider(1);
    gw.providers.break_provider(2);
    let h = wait_quorum(false).await;
    assert_eq!(h["providers"]["local-fr"]["reachable"], false);
    assert_eq!(h["policies"]["eu-default"]["reachable_providers"], 1);
    assert_eq!(get("/ready").await.status, 200, "reads can still be served");
    gw.providers.repair_provider(1);
    gw.providers.repair_provider(2);
    wait_quorum(true).await;
    gw.stop().await;
}

/// Promise (issue 27): with `[admin] prometheus_url`, the console's health page shows the
/// alerts that Prometheus, running the shipped rules, holds for this gateway: once the German
/// provider stops answering, `SouverainProviderDown` pending for it with its severity and
/// summary. Before that Prometheus runs, the page says it did not answer (never "no alerts").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_alerts_prometheus_holds() {
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{prom_addr}");
    let gw =
        TestGateway::start_proxied_with(|t| t.replace("[admin]\n", &format!("[admin]\nprometheus_url = \"{url}/\"\n")))
            .await;
    let admin = gw.admin_addr();
    let cookie = crate::console::login(admin, crate::common::ADMIN_TOKEN).await;
    let health =
        || async { crate::console::request(admin, "GET", "/console/health", Some(&cookie), "").await.body_text() };
    let page = health().await;
    assert!(page.contains(&format!("Prometheus at {url} did not answer: ")), "{page}");

    let rules = crate::common::repo_root().join("config/alerts.yml");
    let prom = start_prometheus_at(gw.dir.path(), admin, &prom_addr, Some(&rules));
    wait_ready(&prom).await;
    gw.providers.proxies[0].set(crate::common::fault_proxy::Fault::Reset);
    let row = "<tr><td>SouverainProviderDown</td><td>warning</td><td><span class=\"warn\">pending</span></td><td>";
    let deadline = Instant::now() + Duration::from_mins(1);
    let page = loop {
        let page = health().await;
        if page.contains(row) || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(page.contains(row), "{page}");
    assert!(page.contains("<td>provider local-de fails its health checks</td></tr>"), "{page}");
    assert!(page.contains(&format!("From Prometheus at {url}:")), "{page}");
    gw.providers.proxies[0].set(crate::common::fault_proxy::Fault::None);
    gw.stop().await;
}

/// Promise: the alert rules pass `promtool check rules`, and the rules and the Grafana
/// dashboard reference only metrics the gateway exports.
#[test]
fn alerts_and_dashboard_reference_exported_metrics() {
    let root = crate::common::repo_root();
    let root = root.display();
    let out = Command::new("promtool").args(["check", "rules", &format!("{root}/config/alerts.yml")]).output();
    let out = out.expect("promtool missing: run `apt-get install prometheus` (.ci/run does)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let exported: BTreeSet<String> = souverain::metrics::Metrics::new().unwrap().names().iter().cloned().collect();
    let mut referenced = BTreeSet::new();
    let dashboard = std::fs::read_to_string(format!("{root}/docs/grafana-dashboard.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is valid JSON");
    let mut exprs = Vec::new();
    collect_exprs(&json, &mut exprs);
    assert!(exprs.len() >= 10, "dashboard panels have queries");
    exprs.push(std::fs::read_to_string(format!("{root}/config/alerts.yml")).unwrap());
    for e in exprs {
        for (i, _) in e.match_indices("souverain_") {
            let name: String = e[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            referenced.insert(name);
        }
    }
    for name in &referenced {
        let base = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(exported.contains(name) || exported.contains(base), "{name} is not exported");
    }
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

/// Promise: every line logged while a request is served carries its request id (returned as
/// x-amz-request-id) — lines of its provider tasks, of a GET's body streamed after the handler
/// returned, and of an error answer — while background workers' lines name their worker; no
/// log line contains a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_in_every_log_line() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let cfg = crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers)
        + "[log]\nformat = \"json\"\nlevel = \"info\"\n";
    std::fs::write(dir.path().join("souverain.toml"), cfg).unwrap();
    let log = dir.path().join("gateway.log");
    let gw = crate::common::BinaryGateway::spawn_with_log(dir.path(), &providers, &log);
    let c = crate::common::client(gw.addr);
    c.create_bucket().bucket("logs").send().await.unwrap();
    // An object of several segments, for a GET that fails over while its body streams.
    let big = pattern(1 << 20, 7);
    c.put_object().bucket("logs").key("big").body(big.clone().into()).send().await.unwrap();
    let first_request = std::fs::metadata(&log).unwrap().len() as usize;
    let signer = Signer::new(std::time::SystemTime::now());
    let request = |method: &'static str, path: &'static str, body: &'static [u8]| {
        let signer = &signer;
        async move {
            let headers = vec![("content-length".into(), body.len().to_string())];
            let r = signed_request(gw.addr, signer, method, path, headers, &sha256_hex(body), body).await;
            let id = r.header("x-amz-request-id").expect("x-amz-request-id").to_owned();
            assert_eq!(id.len(), 16);
            (r, id)
        }
    };

    // 1. W = 2 of 3: the write succeeds, and the broken provider's task logs a warning.
    providers.break_provider(2);
    let (r, put_id) = request("PUT", "/logs/k", b"hello").await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    providers.repair_provider(2);
    // 2. Every replica damaged in the middle: the answer starts (200 and the first segments),
    // then each replica fails verification while the body streams.
    for (path, mut bytes) in providers.stream_files().into_iter().filter(|(_, b)| b.len() > big.len()) {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(path, bytes).unwrap();
    }
    let (r, get_id) = request("GET", "/logs/big", b"").await;
    assert_eq!(r.status, 200);
    assert!(r.body.len() < big.len() && big.starts_with(&r.body), "a damaged body is cut short, never wrong");
    // 3. Every provider down: an error answer (503) and the lines that explain it.
    (0..3).for_each(|i| providers.break_provider(i));
    let (r, down_id) = request("GET", "/logs/k", b"").await;
    assert_eq!(r.status, 503, "{}", r.body_text());
    (0..3).for_each(|i| providers.repair_provider(i));

    let mine = |id: &str, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().any(|l| l.contains(id) && l.contains(what)) {
                return;
            }
            assert!(Instant::now() < deadline, "no line {what:?} with request id {id}:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    mine(&put_id, "provider write failed");
    mine(&put_id, "request done");
    mine(&get_id, "replica failed verification");
    mine(&get_id, "failing over to the next replica");
    mine(&down_id, "replica unavailable");
    mine(&down_id, "service unavailable");
    let text = std::fs::read_to_string(&log).unwrap();
    let ids = [put_id.as_str(), get_id.as_str(), down_id.as_str()];
    let mut served = 0;
    for line in text[first_request..].lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let spans = v["spans"].as_array().cloned().unwrap_or_default();
        if spans.iter().any(|s| s["name"] == "worker" && s["worker"].is_string()) {
            continue;
        }
        let id = spans.iter().find(|s| s["name"] == "request").and_then(|s| s["request_id"].as_str());
        assert!(
            id.is_some_and(|id| ids.contains(&id)),
            "a line logged while requests were served, without their id: {line}"
        );
        served += 1;
    }
    assert!(served >= 9, "the requests' own lines were checked ({served})");
    assert!(
        !text.contains(SECRET_KEY) && !text.contains("provider-secret") && !text.contains(crate::common::ADMIN_TOKEN),
        "a secret reached the log"
    );
    gw.kill();
}

/// Promise: the admin API answers only with the configured bearer token (401 otherwise), and
/// "where is my data" names each replica's provider, country and operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_requires_its_token() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("where").send().await.unwrap();
    gw.client.put_object().bucket("where").key("dir/é k").body(b"x".to_vec().into()).send().await.unwrap();
    let admin = gw.admin_addr();
    let path = "/admin/v1/locations/where/dir/%C3%A9%20k";
    let host = ("host".to_owned(), admin.to_string());
    for auth in [None, Some("Bearer wrong"), Some("Basic abc")] {
        let mut headers = vec![host.clone()];
        headers.extend(auth.map(|a| ("authorization".to_owned(), a.to_owned())));
        let r = send(admin, "GET", path, &headers, b"").await.unwrap();
        assert_eq!(r.status, 401, "{auth:?}");
    }
    let headers = [host, ("authorization".to_owned(), format!("Bearer {}", crate::common::ADMIN_TOKEN))];
    let r = send(admin, "GET", path, &headers, b"").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["key"], "dir/é k");
    assert_eq!(v["policy"], "eu-default");
    let countries: BTreeSet<&str> =
        v["streams"][0]["replicas"].as_array().unwrap().iter().map(|r| r["country"].as_str().unwrap()).collect();
    assert_eq!(countries, BTreeSet::from(["DE", "FR", "NL"]));
    let r = send(admin, "GET", "/admin/v1/locations/where/missing", &headers, b"").await.unwrap();
    assert_eq!(r.status, 404);
    gw.stop().await;
}

/// Promise: `souverain admin locate` and `souverain admin placement explain` are clients of the
/// admin API: they print its answer and exit non-zero when it refuses (wrong token); `locate
/// --version-id` shows one version of a versioned object, the current one without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_is_a_client_of_the_api() {
    let gw = TestGateway::start().await;
    gw.client.create_bucket().bucket("cli").send().await.unwrap();
    gw.client.put_object().bucket("cli").key("a b/c").body(b"x".to_vec().into()).send().await.unwrap();
    let url = format!("http://{}", gw.admin_addr());
    let run = |args: Vec<String>, token: &'static str| {
        let out = Command::new(env!("CARGO_BIN_EXE_souverain"))
            .args(["admin", "--url", &url])
            .args(&args)
            .env("SOUVERAIN_ADMIN_TOKEN", token)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) =
        tokio::task::block_in_place(|| run(vec!["locate".into(), "cli/a b/c".into()], crate::common::ADMIN_TOKEN));
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["key"], "a b/c");
    assert_eq!(v["streams"][0]["replicas"].as_array().unwrap().len(), 3);
    let (ok, out) = tokio::task::block_in_place(|| {
        run(vec!["placement".into(), "explain".into(), "cli".into()], crate::common::ADMIN_TOKEN)
    });
    assert!(ok && out.contains("\"outcome\": \"placed\""), "{out}");
    crate::versioning::set_versioning(&gw.client, "cli", aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
    let newer = crate::versioning::put(&gw.client, "cli", "a b/c", b"y").await.unwrap();
    let locate = |version: Option<&str>| {
        let mut args = vec!["locate".to_owned(), "cli/a b/c".to_owned()];
        args.extend(version.map(|v| format!("--version-id={v}")));
        let (ok, out) = tokio::task::block_in_place(|| run(args, crate::common::ADMIN_TOKEN));
        assert!(ok, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        (v["version_id"].as_str().map(str::to_owned), v["latest"].as_bool())
    };
    assert_eq!(locate(Some("null")), (Some("null".to_owned()), Some(false)), "the version written before");
    assert_eq!(locate(None), (Some(newer.clone()), Some(true)), "the current one");
    assert_eq!(locate(Some(&newer)), (Some(newer), Some(true)));
    let (ok, _) = tokio::task::block_in_place(|| run(vec!["locate".into(), "cli/a b/c".into()], "wrong-token"));
    assert!(!ok, "a refused request exits non-zero");
    gw.stop().await;
}
