//! The end-to-end benchmark (issue "performance"): the same S3 workloads against
//!   (a) one `s3s-fs` provider directly,
//!   (b) the gateway with N = 1 (encrypted, one provider),
//!   (c) the gateway with N = 3, W = 2 (encrypted),
//!   (d) `rclone serve s3` over a `crypt` remote over a `union` (create_policy = all) of three
//!       rclone `s3` remotes on the same kind of `s3s-fs` providers,
//!   (e) the gateway with N = 3, W = 2 with its metadata in PostgreSQL instead of RocksDB,
//!   (f) two such gateways on one PostgreSQL, the client's requests spread over both,
//!   (g) the gateway with N = 1 and with N = 3, W = 2 over local directory providers
//!       (`kind = "fs"`, the embedded default a newcomer measures first),
//!   (h) (c) with the bucket in the `fast` ETag mode (BLAKE3 instead of MD5),
//!   (i) the gateway with erasure coding 4 + 2 over six `s3s-fs`,
//!   (j) the gateway with N = 1 over `rclone serve s3` (gofakes3, slow for ranges not at
//!       byte 0: small reads ask from byte 0),
//! all on 127.0.0.1 with the providers' data (and the gateway's metadata) on tmpfs.
//! Workloads: 64 MiB × 16 with 4 in flight, one 1 GiB object, 4 KiB × 5,000 with 16 in
//! flight; each PUT, then GET (every byte checked), then DELETE. For every phase it reports
//! throughput, p50/p99 latency, the CPU seconds each process spent (client, gateway or rclone,
//! each provider; from /proc) per GiB or per 1,000 requests, and peak RSS; then the ratios the
//! issue sets targets for. A table on stdout, JSON in `$BENCH_E2E_JSON` (default
//! `/tmp/souverain-bench-e2e.json`).
//!
//! Run it with `make bench-e2e` (scripts/bench-e2e.sh builds the release gateway first;
//! `BENCH_E2E_BASELINE=<commit>` runs that commit's build and this one alternately and prints
//! both side by side, through `BENCH_E2E_COMPARE=label=a.json,b.json;label=…`). Every
//! loop is bounded by its object count and every phase by a deadline: it stops by itself.
//! `BENCH_E2E_SCALE=small` runs a shortened version (for a quick look, not for figures);
//! `BENCH_E2E_WORKLOADS="1GiB x1"` only those workloads; `BENCH_E2E_PERF=GET` profiles the
//! serving processes in those phases (`profile.rs`).
//! `BENCH_E2E_PROVIDER=rclone` puts `rclone serve s3` over a directory in place of every
//! `s3s-fs` (a provider with TCP_NODELAY and large file reads).
//! Under `cargo test --all-targets` (no `--bench` argument) it does nothing.

#[allow(dead_code)]
#[path = "../../tests/it/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[path = "../../tests/it/common/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../../tests/it/common/providers.rs"]
mod providers;

mod client;
mod procs;
mod profile;
mod report;
mod systems;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;

use client::object_chunks;
use procs::Watched;
use systems::{RS, bytes_under, counter, start_system, tmpfs_dir};

const ACCESS: &str = "bench-access-key";
const SECRET: &str = "bench-secret-key-0123456789";
const REGION: &str = "eu-sovereign-1";
const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
const MIB: u64 = 1 << 20;
/// The deterministic data every body is cut from (16 MiB, so 1 MiB chunks start at many offsets).
const BLOCK: usize = 16 << 20;
const CHUNK: usize = 1 << 20;
const PHASE_DEADLINE: Duration = Duration::from_mins(15);

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    size: u64,
    count: usize,
    in_flight: usize,
}

/// Every system, in the order they run, unless `BENCH_E2E_SYSTEMS` names some.
const DEFAULT_SYSTEMS: [&str; 11] = [
    "direct",
    "gateway N=1",
    "gateway N=3 W=2",
    "rclone crypt+union",
    "gateway N=3 PostgreSQL",
    "2 gateways N=3 PostgreSQL",
    "gateway N=1 local",
    "gateway N=3 local",
    "gateway N=3 W=2 etag=fast",
    RS,
    "gateway N=1 over rclone",
];

/// The workloads, in the order they run, unless `BENCH_E2E_WORKLOADS` names some (`1GiB x1`).
fn workloads() -> Vec<Workload> {
    let small = std::env::var("BENCH_E2E_SCALE").is_ok_and(|s| s == "small");
    let k = if small { 8 } else { 1 };
    let chosen = std::env::var("BENCH_E2E_WORKLOADS").ok();
    let all = vec![
        Workload { name: "64MiB x16", size: 64 * MIB, count: 16 / k.min(4), in_flight: 4 },
        Workload { name: "1GiB x1", size: if small { 128 * MIB } else { 1024 * MIB }, count: 1, in_flight: 1 },
        Workload { name: "4KiB x5000", size: 4096, count: 5000 / k, in_flight: 16 },
    ];
    all.into_iter().filter(|w| chosen.as_ref().is_none_or(|c| c.split(',').any(|n| n == w.name))).collect()
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PhaseResult {
    system: String,
    workload: String,
    op: String,
    requests: usize,
    bytes: u64,
    seconds: f64,
    mib_per_s: f64,
    ops_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU seconds per GiB (large objects) or per 1,000 requests (4 KiB), by process role.
    cpu_per_unit: BTreeMap<String, f64>,
    cpu_unit: String,
    peak_rss_mib: BTreeMap<String, f64>,
    /// Gateway only: hedged provider GETs and all provider requests during the phase.
    hedged_requests: Option<u64>,
    provider_requests: Option<u64>,
    /// PUT only: bytes the providers hold after the phase per byte written (replicas or
    /// shards, with their formats' overheads).
    stored_per_written: Option<f64>,
}

async fn run_phase(
    system: &str,
    w: Workload,
    op: &'static str,
    running: &systems::Running,
    block: &Bytes,
    watched: &Watched,
) -> PhaseResult {
    let (s3s, admins) = (&running.clients, &running.admins);
    let recording = profile::start(system, w.name, op, &running.procs);
    let hedged_before = counter(admins, "souverain_backend_hedged_requests_total").await;
    let requests_before = counter(admins, "souverain_backend_requests_total").await;
    let before = watched.cpu();
    watched.reset_peaks();
    let started = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(w.count)));
    let tasks = futures_util::stream::iter(0..w.count)
        .map(|i| {
            // Several gateways: request i goes to gateway i mod n.
            let (s3, block, lat) = (s3s[i % s3s.len()].clone(), block.clone(), Arc::clone(&latencies));
            async move {
                let path = format!("/bench/o{i:05}");
                let t = Instant::now();
                let r = match op {
                    "PUT" => s3.put(&path, object_chunks(&block, i, w.size), w.size).await,
                    "GET" => s3.get(&path, object_chunks(&block, i, w.size)).await,
                    _ => s3.delete(&path).await,
                };
                if let Ok(mut l) = lat.lock() {
                    l.push(t.elapsed());
                }
                r
            }
        })
        .buffer_unordered(w.in_flight)
        .collect::<Vec<_>>();
    let results = tokio::time::timeout(PHASE_DEADLINE, tasks).await.expect("phase within its deadline");
    let seconds = started.elapsed().as_secs_f64();
    drop(recording);
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        panic!("{system} {} {op}: {e}", w.name);
    }
    let after = watched.cpu();
    let delta = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
    let hedged_requests = delta(counter(admins, "souverain_backend_hedged_requests_total").await, hedged_before);
    let provider_requests = delta(counter(admins, "souverain_backend_requests_total").await, requests_before);
    let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "x is a quantile in 0..=1")]
    let q = |x: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * x).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let bytes = if op == "DELETE" { 0 } else { w.size * w.count as u64 };
    let large = w.size >= MIB;
    let unit = if large && op != "DELETE" { bytes as f64 / (1u64 << 30) as f64 } else { w.count as f64 / 1000.0 };
    let cpu_per_unit = after
        .iter()
        .map(|(role, a)| (role.clone(), (a - before.get(role).copied().unwrap_or(0.0)) / unit.max(1e-9)))
        .collect();
    PhaseResult {
        system: system.to_owned(),
        workload: w.name.to_owned(),
        op: op.to_owned(),
        requests: w.count,
        bytes,
        seconds,
        mib_per_s: bytes as f64 / MIB as f64 / seconds,
        ops_per_s: w.count as f64 / seconds,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        cpu_per_unit,
        cpu_unit: if large && op != "DELETE" { "s/GiB".into() } else { "s/1k req".into() },
        peak_rss_mib: watched.peaks().into_iter().map(|(k, v)| (k, v as f64 / MIB as f64)).collect(),
        hedged_requests,
        provider_requests,
        stored_per_written: None,
    }
}

async fn run_system(system: &str, block: &Bytes, all: &mut Vec<PhaseResult>) {
    for w in workloads() {
        let dir = tmpfs_dir(&format!("{}-{}", system.replace(' ', "_"), w.size));
        let Some(running) = start_system(system, &dir).await else {
            // Only a baseline build (scripts/bench-e2e.sh sets this for it) may predate a system;
            // the build under test must run them all.
            assert!(std::env::var("BENCH_E2E_MAY_SKIP").is_ok_and(|v| v == "1"), "{system}: the gateway did not start");
            eprintln!(
                "{system}: skipped, this build does not run it (its gateway did not start or refused the setting)"
            );
            let _ = std::fs::remove_dir_all(&dir);
            return;
        };
        let mut procs: Vec<(String, u32)> = vec![("client".into(), std::process::id())];
        procs.extend(running.procs.iter().cloned());
        let watched = Watched::start(procs);
        for op in ["PUT", "GET", "DELETE"] {
            let mut r = run_phase(system, w, op, &running, block, &watched).await;
            if op == "PUT" {
                let roots: Vec<PathBuf> = (0..running.providers).map(|i| dir.join(format!("p{i}"))).collect();
                r.stored_per_written = Some(bytes_under(&roots) as f64 / r.bytes.max(1) as f64);
            }
            eprintln!(
                "{:<20} {:<11} {:<6} {:>9.1} MiB/s {:>8.0} ops/s  p50 {:>8.1} ms  p99 {:>8.1} ms  hedged {:?} of {:?}  stored/written {:?}",
                r.system,
                r.workload,
                r.op,
                r.mib_per_s,
                r.ops_per_s,
                r.p50_ms,
                r.p99_ms,
                r.hedged_requests,
                r.provider_requests,
                r.stored_per_written
            );
            all.push(r);
        }
        drop(watched);
        drop(running);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // Several runs' JSON (scripts/bench-e2e.sh with BENCH_E2E_BASELINE): compare, run nothing.
    if let Ok(spec) = std::env::var("BENCH_E2E_COMPARE") {
        report::print_comparison(&spec);
        return;
    }
    let mut data = vec![0u8; BLOCK];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x.to_be_bytes()[4];
    }
    let block = Bytes::from(data);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut all = Vec::new();
    let systems: Vec<String> = std::env::var("BENCH_E2E_SYSTEMS")
        .map_or_else(|_| DEFAULT_SYSTEMS.map(String::from).to_vec(), |s| s.split(',').map(str::to_owned).collect());
    for system in &systems {
        rt.block_on(run_system(system, &block, &mut all));
    }
    let ratios = report::print_run(&all);
    let json = serde_json::json!({
        "date": time::OffsetDateTime::now_utc().date().to_string(),
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "binary": systems::gateway_bin(),
        "phases": all,
        "ratios": ratios.iter().map(|(n, v, t)| serde_json::json!({ "name": n, "value": v, "target": t })).collect::<Vec<_>>(),
    });
    let out = std::env::var("BENCH_E2E_JSON").unwrap_or_else(|_| "/tmp/souverain-bench-e2e.json".into());
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap_or_default()).expect("write JSON");
    eprintln!("JSON written to {out}");
}
