//! The test harness: a real gateway (in-process or the real binary) on 127.0.0.1:0 with real
//! RocksDB and real provider directories, and real S3 clients pointed at it.

pub mod cdp;
pub mod fault_proxy;
pub mod openbao;
pub mod postgres;
pub mod providers;
pub mod raw;

pub use providers::{Providers, provider_files};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use souverain::app::{RunningGateway, start};
use souverain::config::Config;

pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key-0123456789";
pub const REGION: &str = "eu-sovereign-1";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub fn init() {
    // rustls must use ring: aws-sdk-s3 would otherwise pull aws-lc-rs and rustls panics.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A config file for a gateway over `providers` with data under `dir`.
pub fn config_text(dir: &Path, listen: &str, engine: &str, providers: &Providers) -> String {
    format!(
        r#"
[server]
s3_listen = "{listen}"
admin_listen = "127.0.0.1:0"
region = "{REGION}"
domains = ["{VIRTUAL_DOMAIN}"]
default_policy = "eu-default"
data_dir = "{dir}"
[metadata]
engine = "{engine}"
path = "meta"
[keys]
provider = "local"
key_file = "kek.key"
[workers]
gc_interval_secs = 3600
health_interval_secs = 1
repair_interval_secs = 1
usage_interval_secs = 1
evacuation_interval_secs = 2
[limits]
shutdown_grace_secs = 5
[admin]
token = "{ADMIN_TOKEN}"
{providers}
[[policy]]
id = "eu-default"
replicas = 3
write_quorum = 2
[[policy]]
id = "de-only"
allowed_countries = ["DE"]
replicas = 1
write_quorum = 1
[[policy]]
id = "secnum-only"
replicas = 1
write_quorum = 1
required_certifications = ["secnumcloud"]
[[policy]]
id = "three-countries"
replicas = 3
write_quorum = 2
min_distinct_countries = 3
min_distinct_operators = 3
[[policy]]
id = "two-in-germany"
allowed_countries = ["DE"]
replicas = 2
write_quorum = 2
[[access_key]]
id = "{ACCESS_KEY}"
secret = "{SECRET_KEY}"
"#,
        dir = dir.display(),
        providers = providers.config()
    )
}

/// A gateway running inside the test process, over real RocksDB in a temp dir.
pub struct TestGateway {
    pub providers: Providers,
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
    pub client: Client,
    running: Option<RunningGateway>,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|text| text).await
    }

    /// Starts with the test config passed through `edit` first.
    pub async fn start_with(edit: impl FnOnce(String) -> String) -> Self {
        init();
        let dir = tempfile::tempdir().expect("temp dir");
        let providers = Providers::start(dir.path());
        Self::start_over(dir, providers, edit).await
    }

    /// Starts over real `s3s-fs` providers, each behind a fault proxy (`providers.proxies`).
    pub async fn start_proxied() -> Self {
        Self::start_proxied_with(|t| t).await
    }

    /// [`Self::start_proxied`] with the test config passed through `edit` first.
    pub async fn start_proxied_with(edit: impl FnOnce(String) -> String) -> Self {
        init();
        let dir = tempfile::tempdir().expect("temp dir");
        let providers = Providers::start_proxied(dir.path()).await;
        Self::start_over(dir, providers, edit).await
    }

    /// Over one `s3s-fs` provider per entry of `sites` (`local-<cc>`, in that country), each
    /// behind a fault proxy, with the test config passed through `edit` first.
    pub async fn start_proxied_at_with(
        sites: &[(&'static str, &'static str)],
        edit: impl FnOnce(String) -> String,
    ) -> Self {
        init();
        let dir = tempfile::tempdir().expect("temp dir");
        let providers = Providers::start_proxied_at(dir.path(), sites).await;
        Self::start_over(dir, providers, edit).await
    }

    async fn start_over(dir: tempfile::TempDir, providers: Providers, edit: impl FnOnce(String) -> String) -> Self {
        let text = edit(config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers));
        let config = Config::parse(&text, dir.path()).expect("test config is valid");
        let running = start(config).await.expect("gateway starts");
        let addr = running.s3_addr;
        Self { client: client(addr), addr, providers, dir, running: Some(running) }
    }

    /// Where `/metrics`, `/health` and `/ready` are served.
    pub fn admin_addr(&self) -> SocketAddr {
        self.running.as_ref().and_then(|r| r.admin_addr).expect("admin listener configured")
    }

    /// The Prometheus text the admin listener serves now.
    pub async fn metrics_text(&self) -> String {
        metrics_text_at(self.admin_addr()).await
    }

    /// `GET` of an admin API path (with the test token), as JSON.
    pub async fn admin_json(&self, path: &str) -> serde_json::Value {
        admin_json_at(self.admin_addr(), path).await
    }

    /// The (provider, state) of each replica of the first stream of `bucket/key`, from "where
    /// is my data".
    pub async fn replica_states(&self, bucket: &str, key: &str) -> Vec<(String, String)> {
        replica_states_at(self.admin_addr(), bucket, key).await
    }

    /// `GET` of an admin API path (with the test token): the body of its 200 answer.
    pub async fn admin_text(&self, path: &str) -> String {
        let (status, body) = admin_request(self.admin_addr(), "GET", path, "").await;
        assert!(status == 200, "GET {path}: {status} {body}");
        body
    }

    /// An admin API request with the test token and a JSON body.
    pub async fn admin_send(&self, method: &str, path: &str, body: serde_json::Value) -> raw::RawResponse {
        let admin = self.admin_addr();
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let headers = [
            ("host".to_owned(), admin.to_string()),
            ("authorization".to_owned(), format!("Bearer {ADMIN_TOKEN}")),
            ("content-length".to_owned(), body.len().to_string()),
        ];
        raw::send(admin, method, path, &headers, &body).await.expect("admin request")
    }

    /// The sum of `series` over the label sets containing every fragment of `labels`.
    pub async fn metric_sum(&self, series: &str, labels: &[&str]) -> u64 {
        metric_sum_at(self.admin_addr(), series, labels).await
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn provider_dirs(&self) -> Vec<PathBuf> {
        self.providers.roots.clone()
    }

    /// The sealed streams at the providers (`sv1/<32 hex>` files), whatever the provider kind.
    pub fn stream_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        self.providers.stream_files()
    }

    /// The gateway's metadata store.
    pub fn meta(&self) -> std::sync::Arc<dyn souverain::meta::MetadataStore> {
        std::sync::Arc::clone(&self.running.as_ref().expect("gateway running").meta)
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// Serializes the tests that load the machine hardest (1 GiB uploads) with those whose
/// assertions depend on one provider being clearly faster than others: on 2 cores a 1 GiB
/// upload beside them can make a "fast" provider slow. Hold the guard for the whole test.
pub async fn heavy_or_latency_sensitive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// An admin API request to the admin listener at `addr` with the test token: (status, body).
pub async fn admin_request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let headers = [
        ("host".to_owned(), addr.to_string()),
        ("authorization".to_owned(), format!("Bearer {ADMIN_TOKEN}")),
        ("content-length".to_owned(), body.len().to_string()),
    ];
    let r = raw::send(addr, method, path, &headers, body.as_bytes()).await.expect("admin request");
    (r.status, r.body_text())
}

/// The Prometheus text the admin listener at `addr` serves now.
pub async fn metrics_text_at(addr: SocketAddr) -> String {
    raw::send(addr, "GET", "/metrics", &[("host".into(), addr.to_string())], b"").await.expect("metrics").body_text()
}

/// The sum of `series` over the label sets containing every fragment of `labels`, at the admin
/// listener `addr`.
pub async fn metric_sum_at(addr: SocketAddr, series: &str, labels: &[&str]) -> u64 {
    let (labelled, bare) = (format!("{series}{{"), format!("{series} "));
    metrics_text_at(addr)
        .await
        .lines()
        .filter(|l| (l.starts_with(&labelled) || l.starts_with(&bare)) && labels.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `GET` of an admin API path at the admin listener `addr` (with the test token), as JSON.
pub async fn admin_json_at(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = admin_request(addr, "GET", path, "").await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("admin JSON")
}

/// The (provider, state) of each replica of the first stream of `bucket/key`, from "where is
/// my data" at the admin listener `addr`.
pub async fn replica_states_at(addr: SocketAddr, bucket: &str, key: &str) -> Vec<(String, String)> {
    let v = admin_json_at(addr, &format!("/admin/v1/locations/{bucket}/{key}")).await;
    v["streams"][0]["replicas"]
        .as_array()
        .expect("replicas")
        .iter()
        .map(|r| (r["provider"].as_str().unwrap_or("").to_owned(), r["state"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// Runs `souverain admin <args>` with the test token; (success, stdout, stderr).
pub async fn admin_cli(args: Vec<String>) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_souverain"))
            .arg("admin")
            .args(&args)
            .env("SOUVERAIN_ADMIN_TOKEN", ADMIN_TOKEN)
            .output()
            .expect("run souverain admin");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    })
    .await
    .expect("admin CLI task")
}

/// An aws-sdk-s3 client for the gateway at `addr` (path style, test credentials).
pub fn client(addr: SocketAddr) -> Client {
    client_with(addr, ACCESS_KEY, SECRET_KEY)
}

pub fn client_with(addr: SocketAddr, access: &str, secret: &str) -> Client {
    client_in_region(addr, access, secret, REGION)
}

pub fn client_in_region(addr: SocketAddr, access: &str, secret: &str, region: &str) -> Client {
    built_client(addr, region, Some(Credentials::new(access, secret, None, None, "test")))
}

/// A client whose requests are not signed (anonymous).
pub fn anonymous_client(addr: SocketAddr) -> Client {
    built_client(addr, REGION, None)
}

fn built_client(addr: SocketAddr, region: &str, credentials: Option<Credentials>) -> Client {
    init();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()));
    let conf = match credentials {
        Some(c) => conf.credentials_provider(c),
        None => conf.allow_no_auth(),
    };
    // SOUVERAIN_TEST_ADDRESSING=virtual: buckets as `<bucket>.s3.test` (the SDKs' default
    // style), every name resolved to the gateway on 127.0.0.1; path style otherwise.
    let conf = if std::env::var("SOUVERAIN_TEST_ADDRESSING").as_deref() == Ok("virtual") {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_with_resolver(Loopback(addr.ip()));
        conf.endpoint_url(format!("http://{VIRTUAL_DOMAIN}:{}", addr.port())).force_path_style(false).http_client(http)
    } else {
        conf.endpoint_url(format!("http://{addr}")).force_path_style(true)
    };
    Client::from_conf(conf.build())
}

/// The domain of virtual-hosted-style addressing in the tests' configuration.
pub const VIRTUAL_DOMAIN: &str = "s3.test";

/// A resolver that sends every name to the gateway's address (`<bucket>.s3.test` included).
#[derive(Debug, Clone)]
struct Loopback(std::net::IpAddr);

impl aws_smithy_runtime_api::client::dns::ResolveDns for Loopback {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        aws_smithy_runtime_api::client::dns::DnsFuture::ready(Ok(vec![self.0]))
    }
}

/// The keys of the first page (up to 1,000) of a bucket's listing.
pub async fn listed_keys(c: &Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.expect("ListObjectsV2");
    out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

/// Waits (polling every 20 ms) until `observed` holds, failing the test with `what` after
/// `within`: what a test asserts next happens after a state it saw, never after a guessed
/// sleep.
pub async fn wait_until(what: &str, within: Duration, mut observed: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !observed() {
        assert!(std::time::Instant::now() < deadline, "never observed: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The test config `config` with a scrub pass every second that reads every replica whole,
/// unthrottled (the scrubber tests).
pub fn scrubbing_every_second(config: &str) -> String {
    config.replacen(
        "[workers]\n",
        "[workers]\nscrub_interval_secs = 1\nscrub_verify_fraction = 1.0\nscrub_rate_bytes_per_sec = 1000000000\n",
        1,
    )
}

/// Deterministic bytes of a given length.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes `mib` MiB of [`pattern`] blocks (seeds 0, 1, …) to `path`; their MD5.
pub fn write_pattern_file(path: &Path, mib: u64) -> Vec<u8> {
    use md5::Digest as _;
    use std::io::Write as _;
    let mut want = md5::Md5::new();
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("pattern file"));
    for i in 0..mib {
        let block = pattern(1 << 20, i);
        want.update(&block);
        f.write_all(&block).expect("writing the pattern file");
    }
    f.flush().expect("writing the pattern file");
    want.finalize().to_vec()
}

/// Reads a GET's body to its end: its length and MD5.
pub async fn body_len_and_md5(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> (u64, Vec<u8>) {
    use md5::Digest as _;
    let mut body = out.body;
    let mut md5 = md5::Md5::new();
    let mut n = 0u64;
    while let Some(chunk) = body.try_next().await.expect("reading the body") {
        n += chunk.len() as u64;
        md5.update(&chunk);
    }
    (n, md5.finalize().to_vec())
}

pub fn md5_hex(data: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(data))
}

/// The S3 error code of an SDK error.
pub fn error_code<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code().map(str::to_owned))
}

/// The HTTP status of an SDK error.
pub fn error_status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

pub async fn body_bytes(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

/// The real `souverain` binary, started on a free port with a config in `dir`.
pub struct BinaryGateway {
    pub child: Child,
    pub addr: SocketAddr,
    /// The admin listener, when the config has one.
    pub admin: Option<SocketAddr>,
}

impl Drop for BinaryGateway {
    /// A failed test must not leave the gateway running (it would also hold the test's output
    /// pipe open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BinaryGateway {
    /// Starts the binary over `providers`; the config is written on the first start of `dir`.
    pub fn spawn(dir: &Path, providers: &Providers) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_souverain"));
        cmd.env("SOUVERAIN_LOG", "warn,s3s::ops=off").stderr(Stdio::inherit());
        Self::spawn_cmd(cmd, dir, providers)
    }

    /// Like [`Self::spawn`], with the log (stderr) written to `log` at the config's level.
    pub fn spawn_with_log(dir: &Path, providers: &Providers, log: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_souverain"));
        cmd.env_remove("SOUVERAIN_LOG").stderr(std::fs::File::create(log).expect("log file"));
        Self::spawn_cmd(cmd, dir, providers)
    }

    fn spawn_cmd(mut cmd: Command, dir: &Path, providers: &Providers) -> Self {
        let cfg = dir.join("souverain.toml");
        if !cfg.exists() {
            std::fs::write(&cfg, config_text(dir, "127.0.0.1:0", "rocksdb", providers)).expect("write config");
        }
        let mut child =
            cmd.args(["serve", "--config"]).arg(&cfg).stdout(Stdio::piped()).spawn().expect("spawn souverain");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut read_addr = |prefix: &str| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).expect("read listen line");
            line.trim()
                .strip_prefix(prefix)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
        };
        let addr = read_addr("listening on ");
        let has_admin = std::fs::read_to_string(&cfg).is_ok_and(|t| t.contains("admin_listen"));
        let admin = has_admin.then(|| read_addr("admin listening on "));
        Self { child, addr, admin }
    }

    /// Peak resident memory of the process so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal (`-TERM`, `-HUP`) without waiting for anything.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill {signal} failed");
    }

    /// Waits up to 10 s for the process to exit by itself (then kills it).
    pub fn wait_exit(mut self) -> std::process::ExitStatus {
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }
}

/// Opens the RocksDB store once the stopped gateway's last handle on it is gone (at most 10 s).
pub async fn open_rocks_when_released(path: &Path) -> souverain::meta::rocks::RocksEngine {
    for _ in 0..100 {
        if let Ok(e) = souverain::meta::rocks::RocksEngine::open(path) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the stopped gateway still holds its metadata store");
}

/// Polls an async condition every 200 ms until it holds; fails the test after `secs` seconds.
pub async fn wait_for<F, Fut>(what: &str, secs: u64, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The test config over `providers`, with its metadata in database `db` of `pg`.
pub fn config_on_postgres(dir: &Path, providers: &Providers, pg: &postgres::PgServer, db: &str) -> String {
    let password_file = postgres::PgServer::password_file(dir);
    let text = config_text(dir, "127.0.0.1:0", "postgres", providers);
    let metadata = format!("url = \"{}\"\npassword_file = \"{}\"", pg.url(db), password_file.display());
    assert!(text.contains("path = \"meta\""));
    text.replace("path = \"meta\"", &metadata)
}

/// The checkout under test. Cargo sets `CARGO_MANIFEST_DIR` when it runs the tests; the value
/// compiled in can name another clone that shared the target directory (CI and checkers build
/// several clones into one), so the run-time one wins.
pub fn repo_root() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), std::path::PathBuf::from)
}
