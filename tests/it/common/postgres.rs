//! A private PostgreSQL server for tests: `initdb` in a temporary directory, listening on
//! 127.0.0.1 only, password (SCRAM) authentication, stopped on drop. Run as the `postgres`
//! user when the tests run as root (PostgreSQL refuses root). Also compiled into the unit
//! tests of `meta::conformance` (by path), so it uses only std and tempfile.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The database user the tests connect as.
pub const PG_USER: &str = "souverain";
/// Its password.
pub const PG_PASSWORD: &str = "pg-test-password-0c41";

/// A running server.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

fn newest_bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (/usr/lib/postgresql): run scripts/install-deps.sh --test-tools")
        .filter_map(std::result::Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p)| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("no PostgreSQL server binaries under /usr/lib/postgresql").1
}

fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n")))
}

/// Gives `paths` to the server's owner when the tests run as root (it runs as `postgres`).
fn give_to_owner(paths: &[&Path]) {
    if is_root() {
        let mut c = Command::new("chown");
        c.arg("postgres:").args(paths);
        run(c, "chown");
    }
}

/// A command run as the server's owner.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgServer {
    /// initdb and start in the system's temporary directory; waits until it accepts
    /// connections.
    pub fn start() -> Self {
        Self::start_in(&std::env::temp_dir())
    }

    /// Like [`Self::start`], with the data in a new directory under `parent` (the benchmark
    /// puts it on tmpfs, like RocksDB's).
    pub fn start_in(parent: &Path) -> Self {
        Self::start_with(parent, None)
    }

    /// Like [`Self::start`], serving TLS (as well as plain connections) with this certificate
    /// and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::start_with(&std::env::temp_dir(), Some((cert_pem, key_pem)))
    }

    fn start_with(parent: &Path, tls: Option<(&str, &str)>) -> Self {
        let bin = newest_bin_dir();
        let dir = tempfile::Builder::new().prefix("souverain-pg").tempdir_in(parent).unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        give_to_owner(&[dir.path(), &pwfile]);
        let data = dir.path().join("data");
        let mut c = as_owner(&bin.join("initdb"));
        c.arg("-D")
            .arg(&data)
            .args(["-U", PG_USER, "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(c, "initdb");
        let mut options = String::new();
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            let (cert_path, key_path) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            std::fs::write(&cert_path, cert).unwrap();
            std::fs::write(&key_path, key).unwrap();
            // PostgreSQL refuses a key others can read, and must own it.
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
            give_to_owner(&[&cert_path, &key_path]);
            options =
                format!(" -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}", cert_path.display(), key_path.display());
        }
        let port = free_port();
        let mut c = as_owner(&bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("server.log"))
            .arg("-o")
            .arg(format!(
                "-h 127.0.0.1 -p {port} -k {} -c max_connections=200 -c shared_buffers=32MB{options}",
                dir.path().display()
            ))
            .args(["-w", "-t", "60", "start"]);
        run(c, "pg_ctl start");
        Self { dir, bin, port }
    }

    /// The server's main process (its backends are its children); for the benchmark.
    #[allow(dead_code)]
    pub fn postmaster_pid(&self) -> u32 {
        let pidfile = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).unwrap_or_default();
        pidfile.lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0)
    }

    /// A connection URL (without the password) for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{PG_USER}@127.0.0.1:{}/{db}?sslmode=disable", self.port)
    }

    /// Creates an empty database.
    pub fn create_database(&self, db: &str) {
        self.psql(&format!("CREATE DATABASE \"{db}\""));
    }

    /// Runs one SQL command in the `postgres` database; its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .env("PGPASSWORD", PG_PASSWORD)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", PG_USER, "-d", "postgres", "-qAt", "-c"])
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes the password to a 0600 file in `dir` (for `metadata.password_file`).
    pub fn password_file(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("pg-password");
        std::fs::write(&path, PG_PASSWORD).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut c = as_owner(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(self.dir.path().join("data")).args(["-m", "immediate", "-w", "stop"]);
        let _ = c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}
