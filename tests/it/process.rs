use std::process::Command;
use std::time::Duration;

use crate::common::{BinaryGateway, Providers, body_bytes, client, config_text, pattern};

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_souverain")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Promise: a missing or wrong config gives a one-line error naming the field and a non-zero
/// exit, never a panic.
#[test]
fn config_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &Providers::local(dir.path()));
    let cases = [
        (good.replace("region = \"eu-sovereign-1\"\n", ""), "region"),
        (good.replace("country = \"FR\"", "country = \"France\""), "provider[1].country"),
        (good.replace("s3_listen = \"127.0.0.1:0\"", "s3_listen = \"nowhere\""), "server.s3_listen"),
        (good.replace("[workers]", "[workers]\nunknown_knob = 3"), "unknown_knob"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        for args in [vec!["check-config", path.to_str().unwrap()], vec!["serve", "--config", path.to_str().unwrap()]] {
            let (code, stderr) = run(&args);
            assert_eq!(code, 1, "{args:?}");
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
            assert!(stderr.contains(field), "{stderr:?} names {field}");
            assert!(!stderr.contains("panicked"));
        }
    }
    let (code, stderr) = run(&["serve", "--config", "/nonexistent/souverain.toml"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/souverain.toml"), "{stderr}");
    let path = dir.path().join("good.toml");
    std::fs::write(&path, good).unwrap();
    assert_eq!(run(&["check-config", path.to_str().unwrap()]).0, 0);
}

/// Promise: SIGTERM shuts down gracefully: the gateway stops accepting connections at once,
/// an upload in flight at that moment (half its body received) is finished and acknowledged
/// within the grace period and is durable, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_graceful_shutdown() {
    use crate::common::raw::{Signer, send_paused};
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("term").send().await.unwrap();
    c.put_object().bucket("term").key("before").body(b"kept".to_vec().into()).send().await.unwrap();
    let data = pattern(30 << 20, 8);
    let mut headers = vec![("content-length".to_owned(), data.len().to_string())];
    let addr = gw.addr;
    Signer::new(std::time::SystemTime::now()).sign(
        "PUT",
        "/term/inflight",
        &[],
        &mut headers,
        &addr.to_string(),
        "UNSIGNED-PAYLOAD",
    );
    // Half the body sent (so the upload is in flight), then SIGTERM, then — once the gateway
    // is seen refusing new connections — the other half.
    let between = async {
        gw.signal("-TERM");
        crate::common::wait_until("the gateway stops accepting", Duration::from_secs(10), || {
            std::net::TcpStream::connect(addr).is_err()
        })
        .await;
    };
    let r = send_paused(addr, "PUT", "/term/inflight", &headers, &data, data.len() / 2, between).await.unwrap();
    assert_eq!(r.status, 200, "the upload in flight at SIGTERM is finished: {}", r.body_text());
    let status = tokio::task::spawn_blocking(move || gw.wait_exit()).await.unwrap();
    assert!(status.success(), "exit status {status:?}");
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    assert_eq!(body_bytes(c.get_object().bucket("term").key("before").send().await.unwrap()).await, b"kept");
    let stored = body_bytes(c.get_object().bucket("term").key("inflight").send().await.unwrap()).await;
    assert!(stored == data, "the acknowledged upload is durable and whole");
    gw.kill();
}

/// Promise: the Docker deployment is built and configured by the same steps as the README's:
/// the Dockerfile's build stage and `make run` both run `scripts/build.sh` (which `make test`
/// runs too), the compose file's gateway config passes `souverain check-config`, and every file
/// the compose file mounts exists.
#[test]
fn docker_deployment_uses_the_readme_build_steps() {
    let root = &crate::common::repo_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let dockerfile = read("docker/Dockerfile");
    assert!(dockerfile.contains("RUN scripts/build.sh --release"), "the image builds with scripts/build.sh");
    assert!(dockerfile.contains("USER souverain") && dockerfile.contains("VOLUME /data"));
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("\"health\"]"), "health check on /health");
    assert!(read("scripts/quickstart.sh").contains("scripts/build.sh"), "make run builds with scripts/build.sh");
    let (code, out) = run(&["check-config", root.join("docker/souverain.toml").to_str().unwrap()]);
    assert_eq!((code, out.trim()), (0, ""), "check-config accepts docker/souverain.toml");
    let mounted_files = |compose: &str| {
        let mut mounts = 0;
        for line in compose.lines() {
            let Some(src) = line.trim().strip_prefix("- ./").or_else(|| line.trim().strip_prefix("- ../")) else {
                continue;
            };
            let rel = if line.trim().starts_with("- ../") { src.to_owned() } else { format!("docker/{src}") };
            let file = rel.split(':').next().unwrap();
            assert!(root.join(file).is_file(), "compose mounts {file}, which does not exist");
            mounts += 1;
        }
        mounts
    };
    let compose = read("docker/compose.yml");
    assert_eq!(mounted_files(&compose), 6, "souverain.toml, prometheus.yml, alerts.yml and three Grafana files");
    let gateway_config = read("docker/souverain.toml");
    for provider in ["provider-de", "provider-fr", "provider-nl"] {
        assert!(compose.contains(&format!("  {provider}:")), "compose runs {provider}");
        assert!(gateway_config.contains(&format!("http://{provider}:8014")), "the gateway uses {provider}");
    }

    // The scale-out variant: two gateways with one config on PostgreSQL behind nginx.
    let scale_out = read("docker/compose.scale-out.yml");
    assert_eq!(mounted_files(&scale_out), 4, "the gateways' config, nginx's, prometheus.yml and alerts.yml");
    for service in
        ["postgres", "souverain-a", "souverain-b", "load-balancer", "provider-de", "provider-fr", "provider-nl"]
    {
        assert!(scale_out.contains(&format!("  {service}:")), "the scale-out compose runs {service}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["check-config", root.join("docker/souverain-scale-out.toml").to_str().unwrap()])
        .env("SOUVERAIN_PG_PASSWORD", "from-the-environment")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), stderr.trim()), (Some(0), ""), "check-config accepts the scale-out config");
    let config = read("docker/souverain-scale-out.toml");
    assert!(config.contains("engine = \"postgres\"") && config.contains("@postgres:5432/"));
    let nginx = read("docker/nginx-scale-out.conf");
    assert!(nginx.contains("souverain-a:9000") && nginx.contains("souverain-b:9000"));
    assert!(nginx.contains("proxy_set_header Host $http_host"), "SigV4 signs the client's Host");
}

/// Every key path the config structs accept (`section.key`, nested `section.key.sub`), traced
/// from their serde definitions.
fn config_keys() -> std::collections::BTreeSet<String> {
    use serde_reflection::{ContainerFormat, Format, Registry, Tracer, TracerConfig};
    fn walk(registry: &Registry, container: &str, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        let Some(ContainerFormat::Struct(fields)) = registry.get(container) else {
            panic!("{container} is not a traced struct");
        };
        for field in fields {
            let path = if prefix.is_empty() { field.name.clone() } else { format!("{prefix}.{}", field.name) };
            let mut format = &field.value;
            while let Format::Option(inner) | Format::Seq(inner) = format {
                format = inner;
            }
            match format {
                Format::TypeName(t) if matches!(registry.get(t), Some(ContainerFormat::Struct(_))) => {
                    if !prefix.is_empty() {
                        out.insert(path.clone());
                    }
                    walk(registry, t, &path, out);
                }
                _ => {
                    out.insert(path);
                }
            }
        }
    }
    let mut tracer = Tracer::new(TracerConfig::default());
    tracer.trace_simple_type::<souverain::config::raw::RawConfig>().expect("trace the config structs");
    let registry = tracer.registry().expect("complete registry");
    let mut out = std::collections::BTreeSet::new();
    walk(&registry, "RawConfig", "", &mut out);
    out
}

/// Promise: docs/configuration.md's reference documents every config key, and only keys that
/// exist (checked against the config structs themselves, so the two cannot drift).
#[test]
fn configuration_reference_matches_the_config_structs() {
    let doc = std::fs::read_to_string(crate::common::repo_root().join("docs/configuration.md")).unwrap();
    let reference = doc.split("## Reference").nth(1).expect("a Reference section");
    let mut documented = std::collections::BTreeSet::new();
    for line in reference.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).unwrap_or_default();
        for key in first_cell.split('`').skip(1).step_by(2) {
            documented.insert(key.to_owned());
        }
    }
    let actual = config_keys();
    assert!(actual.len() > 60, "traced {} keys", actual.len());
    let undocumented: Vec<_> = actual.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&actual).collect();
    assert!(undocumented.is_empty(), "keys missing from docs/configuration.md: {undocumented:?}");
    assert!(unknown.is_empty(), "documented keys the config does not have: {unknown:?}");
}

/// Promise (issue 18 items 8 and 14): the local key file is created only on the first start.
/// Once the metadata store holds data keys, a missing key file, or a different one, stops the
/// gateway at start with a one-line error naming the file (no new key is made); the right
/// file starts it again and every object reads back. The metadata directory is private (0700).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_or_swapped_key_file_refuses_to_start() {
    use std::os::unix::fs::PermissionsExt;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("keyed").send().await.unwrap();
    let data = pattern(70_000, 3);
    c.put_object().bucket("keyed").key("k").body(data.clone().into()).send().await.unwrap();
    gw.kill();
    let meta_mode = std::fs::metadata(dir.path().join("meta")).unwrap().permissions().mode();
    assert_eq!(meta_mode & 0o777, 0o700, "the metadata directory is private");
    let key = dir.path().join("kek.key");
    let original = std::fs::read(&key).unwrap();
    let cfg = dir.path().join("souverain.toml");
    // A gateway that starts after all would run for ever: wait 30 s at most, then fail.
    let serve = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_souverain"))
            .args(["serve", "--config", cfg.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the gateway started without its key file");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    std::fs::remove_file(&key).unwrap();
    let (code, stderr) = serve();
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains(&key.display().to_string()) && stderr.contains("missing"), "{stderr}");
    assert!(!key.exists(), "no new key file was made");

    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = serve();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&key.display().to_string()) && stderr.contains("fingerprint"), "{stderr}");

    std::fs::write(&key, &original).unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let got = body_bytes(client(gw.addr).get_object().bucket("keyed").key("k").send().await.unwrap()).await;
    assert!(got == data, "the right key file opens the object");
    gw.kill();
}

/// Promise: the gateway keeps serving when whoever started it does not read its standard
/// output (a supervisor that closed the pipe, or a script that read only the first line):
/// announcing its listeners never stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_does_not_stop_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::local(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = dir.path().join("souverain.toml");
    std::fs::write(&cfg, config_text(dir.path(), &addr.to_string(), "rocksdb", &providers)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The read end closes before the gateway announces anything.
    drop(child.stdout.take());
    crate::common::wait_for(
        "the gateway listens",
        30,
        || async move { tokio::net::TcpStream::connect(addr).await.is_ok() },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = client(addr);
    c.create_bucket().bucket("still-serving").send().await.unwrap();
    assert!(child.try_wait().unwrap().is_none(), "the gateway is still running");
    let _ = child.kill();
    let _ = child.wait();
}
