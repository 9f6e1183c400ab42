//! HTTPS on the S3 and admin listeners, with certificate reload on SIGHUP.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, ServerName};

use crate::common::raw::exchange;
use crate::common::{BinaryGateway, Providers, TestGateway, config_text};

/// A fresh CA and a certificate for 127.0.0.1 it signed: (CA DER, cert PEM, key PEM).
fn issue() -> (CertificateDer<'static>, String, String) {
    let (ca, _, cert, key) = issue_with_ca_pem();
    (ca, cert, key)
}

/// Like [`issue`], with the CA's PEM too: (CA DER, CA PEM, cert PEM, key PEM).
pub(crate) fn issue_with_ca_pem() -> (CertificateDer<'static>, String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A subject of its own: OpenSSL (the aws CLI) takes a leaf whose issuer equals its subject
    // for self-signed.
    // Each CA its own name, so that a client trusting another CA finds no issuer at all
    // (UnknownIssuer) rather than one of the same name whose signature does not match.
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("souverain test CA {n}"));
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca.der().clone(), ca.pem(), cert.pem(), key.serialize_pem())
}

/// Why a TLS request got no answer: the handshake's own error (a certificate refused, no
/// common protocol version), or anything else (connection refused or reset).
#[derive(Debug, PartialEq)]
enum TlsRefusal {
    Handshake(rustls::Error),
    Other(String),
}

/// The refusal a client gives a server whose certificate its CA did not sign.
fn unknown_issuer() -> TlsRefusal {
    TlsRefusal::Handshake(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
}

/// An anonymous GET over TLS trusting only `ca`, offering only `versions`: the status and the
/// protocol version negotiated, or why there was no answer.
async fn get_with_versions(
    addr: std::net::SocketAddr,
    ca: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(u16, rustls::ProtocolVersion), TlsRefusal> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| TlsRefusal::Other(e.to_string()))?;
    let name = ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let tls = connector.connect(name, tcp).await.map_err(|e| {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(handshake) => TlsRefusal::Handshake(handshake.clone()),
            None => TlsRefusal::Other(e.to_string()),
        }
    })?;
    let version = tls.get_ref().1.protocol_version().expect("a finished handshake has a version");
    let r = exchange(tls, "GET", "/", &[("host".into(), addr.to_string())], b"")
        .await
        .map_err(|e| TlsRefusal::Other(e.to_string()))?;
    Ok((r.status, version))
}

/// An anonymous GET over TLS (1.2 or 1.3) trusting only `ca`: the status, or why there was no
/// answer.
async fn get_over_tls(addr: std::net::SocketAddr, ca: &CertificateDer<'static>) -> Result<u16, TlsRefusal> {
    get_with_versions(addr, ca, rustls::DEFAULT_VERSIONS).await.map(|(status, _)| status)
}

fn write_pair(dir: &Path, cert: &str, key: &str) {
    std::fs::write(dir.join("s3.crt"), cert).unwrap();
    std::fs::write(dir.join("s3.key"), key).unwrap();
}

/// The real binary serving S3 over HTTPS with `cert`/`key` (written as `s3.crt`/`s3.key`, the
/// files SIGHUP re-reads).
fn https_gateway(dir: &Path, cert: &str, key: &str) -> (Providers, BinaryGateway) {
    write_pair(dir, cert, key);
    let providers = Providers::start(dir);
    let cfg = config_text(dir, "127.0.0.1:0", "rocksdb", &providers)
        .replace("[server]\n", "[server]\ntls_cert_file = \"s3.crt\"\ntls_key_file = \"s3.key\"\n");
    std::fs::write(dir.join("souverain.toml"), cfg).unwrap();
    let gw = BinaryGateway::spawn(dir, &providers);
    (providers, gw)
}

/// Promise: the S3 listener speaks HTTPS with the configured certificate (an S3 answer comes
/// back over TLS), refuses clients that do not trust it, and picks up a new certificate on
/// SIGHUP without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_and_sighup_reload() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let (ca1, cert1, key1) = issue();
    let (ca2, cert2, key2) = issue();
    let (_providers, gw) = https_gateway(dir.path(), &cert1, &key1);
    assert_eq!(get_over_tls(gw.addr, &ca1).await, Ok(403), "anonymous S3 request answered over TLS");
    assert_eq!(get_over_tls(gw.addr, &ca2).await, Err(unknown_issuer()), "a client not trusting the CA refuses it");
    write_pair(dir.path(), &cert2, &key2);
    gw.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_over_tls(gw.addr, &ca2).await != Ok(403) {
        assert!(Instant::now() < deadline, "the new certificate was not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get_over_tls(gw.addr, &ca1).await, Err(unknown_issuer()), "the old certificate is no longer served");
    gw.kill();
}

/// Promise: the HTTPS listener serves TLS 1.2 clients and TLS 1.3 clients (the README says
/// both), each negotiating the version it asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_clients_are_served() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = issue();
    write_pair(certs.path(), &cert, &key);
    let section = format!(
        "[server]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        certs.path().join("s3.crt").display(),
        certs.path().join("s3.key").display()
    );
    let gw = TestGateway::start_with(|t| t.replace("[server]\n", &section)).await;
    let addr = gw.addr;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let answer = get_with_versions(addr, &ca, &[version]).await;
        assert_eq!(answer, Ok((403, version.version)), "a client offering only {:?}", version.version);
    }
    gw.stop().await;
}

/// The real binary serving S3 and admin over HTTPS, each listener with its own pair
/// (`s3.crt`/`s3.key`, `admin.crt`/`admin.key`), its log in `gateway.log`: (providers, gateway,
/// admin address).
fn https_gateway_with_admin(dir: &Path, cert: &str, key: &str) -> (Providers, BinaryGateway, std::net::SocketAddr) {
    write_pair(dir, cert, key);
    write_admin_pair(dir, cert, key);
    let providers = Providers::start(dir);
    let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let section = "[server]\ntls_cert_file = \"s3.crt\"\ntls_key_file = \"s3.key\"\n\
                   admin_tls_cert_file = \"admin.crt\"\nadmin_tls_key_file = \"admin.key\"\n";
    let cfg = config_text(dir, "127.0.0.1:0", "rocksdb", &providers)
        .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"{admin}\""))
        .replace("[server]\n", section);
    std::fs::write(dir.join("souverain.toml"), cfg).unwrap();
    let gw = BinaryGateway::spawn_with_log(dir, &providers, &dir.join("gateway.log"));
    (providers, gw, admin)
}

fn write_admin_pair(dir: &Path, cert: &str, key: &str) {
    std::fs::write(dir.join("admin.crt"), cert).unwrap();
    std::fs::write(dir.join("admin.key"), key).unwrap();
}

/// Sends SIGHUP and waits until the gateway logs the outcome `what` once more than before:
/// what a test asserts next is then the state after the reload, never before it.
async fn sighup_and_wait(gw: &BinaryGateway, log: &Path, what: &str) {
    let count = || std::fs::read_to_string(log).unwrap_or_default().matches(what).count();
    let before = count();
    gw.signal("-HUP");
    crate::common::wait_until(&format!("{what:?} logged after SIGHUP"), Duration::from_secs(10), || count() > before)
        .await;
}

/// Promise: SIGHUP reloads the admin listener's certificate as well as the S3 listener's; a
/// bad new pair (a certificate with a key that is not its own, a file that is not PEM) is
/// refused with a logged error and both listeners keep serving the old certificate; a good
/// pair after that is picked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_both_listeners_and_a_bad_pair_keeps_the_old() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gateway.log");
    let (ca1, cert1, key1) = issue();
    let (ca2, cert2, key2) = issue();
    let (_providers, gw, admin) = https_gateway_with_admin(dir.path(), &cert1, &key1);
    let wait_served = |addr: std::net::SocketAddr| {
        let ca1 = ca1.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while get_over_tls(addr, &ca1).await.is_err() {
                assert!(Instant::now() < deadline, "{addr} never answered over TLS");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_served(gw.addr).await;
    wait_served(admin).await;
    let answers =
        |ca: CertificateDer<'static>| async move { (get_over_tls(gw.addr, &ca).await, get_over_tls(admin, &ca).await) };
    assert_eq!(answers(ca1.clone()).await, (Ok(403), Ok(404)));

    // A certificate with a key that is not its own on the S3 listener, a file that is not PEM
    // on the admin listener: both refused, both listeners keep the old pair.
    write_pair(dir.path(), &cert2, &key1);
    write_admin_pair(dir.path(), "not a certificate", &key2);
    sighup_and_wait(&gw, &log, "TLS reload failed").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("s3 listener") && text.contains("admin listener"), "both refusals are logged: {text}");
    assert_eq!(answers(ca1.clone()).await, (Ok(403), Ok(404)), "the old certificate still serves");
    assert_eq!(answers(ca2.clone()).await, (Err(unknown_issuer()), Err(unknown_issuer())));

    // A good pair on both: picked up by both listeners at the next SIGHUP.
    write_pair(dir.path(), &cert2, &key2);
    write_admin_pair(dir.path(), &cert2, &key2);
    sighup_and_wait(&gw, &log, "TLS certificate reloaded").await;
    assert_eq!(answers(ca2).await, (Ok(403), Ok(404)), "the new certificate serves both listeners");
    assert_eq!(answers(ca1).await, (Err(unknown_issuer()), Err(unknown_issuer())), "the old one is gone");
    gw.kill();
}

/// Promise: the admin listener serves HTTPS with its own certificate: `souverain admin
/// --ca-file … health` and `… repair` work over TLS, a client that does not trust the CA is
/// refused (the CLI fails with a certificate error), and plain HTTP gets no answer there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_listener_over_https() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, ca_pem, cert, key) = issue_with_ca_pem();
    let (other_ca, _, _) = issue();
    let path = |name: &str| certs.path().join(name).display().to_string();
    std::fs::write(path("admin.crt"), cert).unwrap();
    std::fs::write(path("admin.key"), key).unwrap();
    std::fs::write(path("ca.pem"), ca_pem).unwrap();
    let section = format!(
        "[server]\nadmin_tls_cert_file = \"{}\"\nadmin_tls_key_file = \"{}\"\n",
        path("admin.crt"),
        path("admin.key")
    );
    let gw = TestGateway::start_with(|t| t.replace("[server]\n", &section)).await;
    let admin = gw.admin_addr();
    assert_eq!(get_over_tls(admin, &ca).await, Ok(404), "an admin answer over TLS");
    assert_eq!(get_over_tls(admin, &other_ca).await, Err(unknown_issuer()), "a client not trusting the CA refuses it");
    let url = format!("https://{admin}");
    let (ok, out, err) = crate::common::admin_cli(vec![
        "--url".into(),
        url.clone(),
        "--ca-file".into(),
        path("ca.pem"),
        "health".into(),
    ])
    .await;
    assert!(ok, "{err}");
    let health: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(health["providers"]["local-de"].is_object(), "{out}");
    let (ok, out, err) = crate::common::admin_cli(vec![
        "--url".into(),
        url.clone(),
        "--ca-file".into(),
        path("ca.pem"),
        "repair".into(),
    ])
    .await;
    assert!(ok, "{err}");
    let repair: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(repair["pending_replicas"], 0, "{out}");
    let (ok, _, err) = crate::common::admin_cli(vec!["--url".into(), url, "health".into()]).await;
    assert!(!ok && err.contains("invalid peer certificate: UnknownIssuer"), "untrusted certificate refused: {err}");
    let plain = crate::common::raw::send(admin, "GET", "/health", &[("host".into(), admin.to_string())], b"").await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status != 200), "no plain-HTTP answer on the TLS listener");
    gw.stop().await;
}

/// Promise: real clients use the HTTPS listener with a private CA: aws-sdk-s3 (trusting the CA)
/// and the aws CLI (`--ca-bundle`) store and read back an object; after a certificate swap and
/// SIGHUP, new connections get the new certificate (a client trusting only the new CA works, one
/// trusting only the old one is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_and_cli_over_https_with_a_private_ca() {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let (_, ca1_pem, cert1, key1) = issue_with_ca_pem();
    let (_, ca2_pem, cert2, key2) = issue_with_ca_pem();
    let (_providers, gw) = https_gateway(dir.path(), &cert1, &key1);
    let sdk = |ca_pem: &str| {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(TrustStore::empty().with_pem_certificate(ca_pem.as_bytes().to_vec()))
                    .build()
                    .unwrap(),
            )
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(format!("https://{}", gw.addr))
            .force_path_style(true)
            .region(aws_sdk_s3::config::Region::new(crate::common::REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                crate::common::ACCESS_KEY,
                crate::common::SECRET_KEY,
                None,
                None,
                "test",
            ))
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    };
    let data = crate::common::pattern(300_000, 21);
    let c = sdk(&ca1_pem);
    c.create_bucket().bucket("tls").send().await.unwrap();
    c.put_object().bucket("tls").key("sdk").body(data.clone().into()).send().await.unwrap();
    assert!(crate::common::body_bytes(c.get_object().bucket("tls").key("sdk").send().await.unwrap()).await == data);

    // The aws CLI, trusting the CA through --ca-bundle.
    let ca_file = dir.path().join("ca1.pem");
    std::fs::write(&ca_file, &ca1_pem).unwrap();
    let local = dir.path().join("cli-upload.bin");
    std::fs::write(&local, &data).unwrap();
    let aws = |args: Vec<String>| {
        let out = std::process::Command::new("aws")
            .args(["--endpoint-url", &format!("https://{}", gw.addr), "--ca-bundle"])
            .arg(&ca_file)
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", crate::common::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", crate::common::SECRET_KEY)
            .env("AWS_DEFAULT_REGION", crate::common::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("aws CLI missing: run `python3 -m pip install awscli` (.ci/run does)");
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let back = dir.path().join("cli-back.bin");
    tokio::task::block_in_place(|| {
        aws(vec!["s3".into(), "cp".into(), local.display().to_string(), "s3://tls/cli".into()]);
        aws(vec!["s3".into(), "cp".into(), "s3://tls/cli".into(), back.display().to_string()]);
    });
    assert!(std::fs::read(&back).unwrap() == data, "the CLI read back what it wrote over HTTPS");

    // Certificate swap + SIGHUP: new connections present the new certificate.
    write_pair(dir.path(), &cert2, &key2);
    gw.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = sdk(&ca2_pem);
        if fresh.head_object().bucket("tls").key("sdk").send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the new certificate was not served after SIGHUP");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old = sdk(&ca1_pem);
    let refused = old.head_object().bucket("tls").key("sdk").send().await.expect_err("the old CA no longer verifies");
    let chain = aws_sdk_s3::error::DisplayErrorContext(&refused).to_string();
    assert!(chain.contains("invalid peer certificate: UnknownIssuer"), "refused for its certificate: {chain}");
    gw.kill();
}
