//! The providers behind a test gateway: local directories (the default), or real `s3s-fs`
//! processes on 127.0.0.1 (strict SigV4) when `SOUVERAIN_TEST_PROVIDERS=s3s-fs`. `make test`
//! runs the integration suite once with each.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fault_proxy::FaultProxy;

pub const COUNTRIES: [(&str, &str); 3] = [("de", "DE"), ("fr", "FR"), ("nl", "NL")];
/// Six providers in six countries, for erasure coding (4 + 2 shards).
pub const SIX_COUNTRIES: [(&str, &str); 6] =
    [("de", "DE"), ("fr", "FR"), ("nl", "NL"), ("at", "AT"), ("be", "BE"), ("pl", "PL")];
/// Eight: two more than a 4 + 2 placement takes, so two shards have somewhere to move.
pub const EIGHT_COUNTRIES: [(&str, &str); 8] =
    [("de", "DE"), ("fr", "FR"), ("nl", "NL"), ("at", "AT"), ("be", "BE"), ("pl", "PL"), ("cz", "CZ"), ("dk", "DK")];
pub const PROVIDER_BUCKET: &str = "souverain-streams";
pub const PROVIDER_ACCESS: &str = "provider-access";
pub const PROVIDER_SECRET: &str = "provider-secret-0123456789";

/// Which kind of provider the suite runs against.
pub fn s3s_fs_mode() -> bool {
    std::env::var("SOUVERAIN_TEST_PROVIDERS").is_ok_and(|v| v == "s3s-fs")
}

/// A running `s3s-fs` process, killed on drop.
pub struct FakeProvider {
    child: Child,
    pub endpoint: String,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeProvider {
    /// Starts `s3s-fs` on a free loopback port over `root`, with the provider bucket created.
    pub fn start(root: &Path, log: &Path) -> Self {
        std::fs::create_dir_all(root.join(PROVIDER_BUCKET)).expect("provider bucket dir");
        let _ = std::fs::remove_file(log);
        let out = std::fs::File::create(log).expect("provider log");
        let child = Command::new("s3s-fs")
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--access-key",
                PROVIDER_ACCESS,
                "--secret-key",
                PROVIDER_SECRET,
            ])
            .arg(root)
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "s3s-fs missing: run `cargo install s3s-fs --version 0.14.1 --features binary --locked` (.ci/run does)",
            );
        // Owned from here on, so a failed start still kills the process (Drop).
        let mut me = Self { child, endpoint: String::new() };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(rest) = text.split("server is running at ").nth(1) {
                rest.split_whitespace().next().unwrap_or_default().clone_into(&mut me.endpoint);
                return me;
            }
            assert!(Instant::now() < deadline, "s3s-fs did not start: {text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id (benches/e2e.rs reads its CPU time; the tests do not need it).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.endpoint.trim_start_matches("http://").parse().expect("s3s-fs address")
    }
}

/// The providers of a test gateway: three (DE, FR, NL) unless started with others.
pub struct Providers {
    pub roots: Vec<PathBuf>,
    /// Each provider's id suffix and country, as `roots`.
    sites: Vec<(&'static str, &'static str)>,
    pub fakes: Vec<Option<FakeProvider>>,
    /// Fault proxies in front of the `s3s-fs` processes, when started with [`Self::start_proxied`].
    pub proxies: Vec<FaultProxy>,
    dir: PathBuf,
}

impl Providers {
    /// Local directory providers, whatever the mode (for tests that never start a gateway).
    pub fn local(dir: &Path) -> Self {
        Self {
            roots: COUNTRIES.iter().map(|(c, _)| dir.join("providers").join(c)).collect(),
            sites: COUNTRIES.to_vec(),
            fakes: Vec::new(),
            proxies: Vec::new(),
            dir: dir.to_owned(),
        }
    }

    pub fn start(dir: &Path) -> Self {
        let roots: Vec<PathBuf> = COUNTRIES.iter().map(|(c, _)| dir.join("providers").join(c)).collect();
        let fakes = if s3s_fs_mode() { Self::start_fakes(dir, &roots, &COUNTRIES) } else { Vec::new() };
        Self { roots, sites: COUNTRIES.to_vec(), fakes, proxies: Vec::new(), dir: dir.to_owned() }
    }

    fn start_fakes(dir: &Path, roots: &[PathBuf], sites: &[(&str, &str)]) -> Vec<Option<FakeProvider>> {
        roots.iter().zip(sites).map(|(r, (c, _))| Some(FakeProvider::start(r, &Self::log(dir, c)))).collect()
    }

    fn log(dir: &Path, country: &str) -> PathBuf {
        dir.join(format!("s3s-fs-{country}.log"))
    }

    /// Real `s3s-fs` processes (in either mode), each behind a [`FaultProxy`].
    pub async fn start_proxied(dir: &Path) -> Self {
        Self::start_proxied_at(dir, &COUNTRIES).await
    }

    /// [`Self::start_proxied`] with one provider per entry of `sites` (id suffix, country).
    pub async fn start_proxied_at(dir: &Path, sites: &[(&'static str, &'static str)]) -> Self {
        let roots: Vec<PathBuf> = sites.iter().map(|(c, _)| dir.join("providers").join(c)).collect();
        let fakes = Self::start_fakes(dir, &roots, sites);
        let mut proxies = Vec::new();
        for f in fakes.iter().flatten() {
            proxies.push(FaultProxy::start(f.addr()).await);
        }
        Self { roots, sites: sites.to_vec(), fakes, proxies, dir: dir.to_owned() }
    }

    /// SIGKILLs provider `i`'s process.
    pub fn kill(&mut self, i: usize) {
        drop(self.fakes[i].take());
    }

    /// Restarts provider `i`'s process over the same data, behind the same proxy (so the
    /// gateway sees it come back at the same address).
    pub fn restart(&mut self, i: usize) {
        let proxy = self.proxies.get(i).expect("restart needs Providers::start_proxied");
        let fake = FakeProvider::start(&self.roots[i], &Self::log(&self.dir, self.sites[i].0));
        proxy.set_upstream(fake.addr());
        self.fakes[i] = Some(fake);
    }

    /// The `[[provider]]` sections of the gateway config.
    pub fn config(&self) -> String {
        let mut out = String::new();
        for (i, (c, country)) in self.sites.iter().enumerate() {
            let common = format!(
                "id = \"local-{c}\"\ncountry = \"{country}\"\noperator = \"Operator {country}\"\njurisdictions = [\"{country}\"]\n"
            );
            let endpoint = match (self.proxies.get(i), self.fakes.get(i)) {
                (Some(p), _) => Some(p.endpoint()),
                (None, Some(Some(f))) => Some(f.endpoint.clone()),
                _ => None,
            };
            match endpoint {
                Some(endpoint) => writeln!(
                    out,
                    "[[provider]]\n{common}kind = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"{PROVIDER_BUCKET}\"\nregion = \"us-east-1\"\naccess_key = \"{PROVIDER_ACCESS}\"\nsecret = \"{PROVIDER_SECRET}\""
                ),
                None => writeln!(out, "[[provider]]\n{common}kind = \"fs\"\npath = \"providers/{c}\""),
            }
            .expect("writing to a String cannot fail");
        }
        out
    }

    /// Makes provider `i` fail every request (its bucket or directory disappears), without
    /// stopping a process, so it can come back at the same address.
    pub fn break_provider(&self, i: usize) {
        let (live, off) = self.switch_paths(i);
        std::fs::rename(&live, &off).expect("take provider down");
        // A file where the directory was: every listing and write fails.
        std::fs::write(&live, b"down").expect("block provider");
    }

    /// Undoes [`Self::break_provider`].
    pub fn repair_provider(&self, i: usize) {
        let (live, off) = self.switch_paths(i);
        std::fs::remove_file(&live).expect("unblock provider");
        std::fs::rename(&off, &live).expect("bring provider back");
    }

    fn switch_paths(&self, i: usize) -> (PathBuf, PathBuf) {
        let live = if self.fakes.is_empty() { self.roots[i].join("sv1") } else { self.roots[i].join(PROVIDER_BUCKET) };
        let off = live.with_extension("off");
        (live, off)
    }

    /// The stream files (`sv1/<32 hex>`) each provider holds, whatever the provider kind.
    pub fn stream_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        provider_files(&self.roots).into_iter().filter(|(p, _)| is_stream_file(p)).collect()
    }
}

pub fn is_stream_file(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    p.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "sv1")
        && name.len() == 32
        && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every file under the provider directories, with its content.
pub fn provider_files(dirs: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for d in dirs {
        let mut stack = vec![d.clone()];
        while let Some(p) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&p) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, bytes));
                }
            }
        }
    }
    out
}
