//! End-to-end GET latency with one provider slowed down 10× (issue "replication", R3): does
//! the gateway keep the client's p99 near the healthy p99 (hedged reads, replica ranking)?
//!
//! One run, all on 127.0.0.1: three real `s3s-fs` providers, each behind the test suite's
//! fault proxy, and the gateway in-process (N = 3, W = 2, in-memory metadata). Phase 1 measures
//! GETs with every provider healthy; phase 2 delays the provider the gateway prefers by nine
//! times the healthy median GET latency (so it answers about 10× slower) and measures again.
//! It prints both phases, the p99 ratio (target ≤ 1.5) and the same as JSON; bounded by the
//! request counts below, it stops by itself. Run with `make bench-hedging`.

// The test suite's provider harness, shared rather than copied (only part of it is used here).
#[allow(dead_code)]
#[path = "../tests/it/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[path = "../tests/it/common/providers.rs"]
mod providers;

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use fault_proxy::Fault;
use providers::Providers;

const OBJECTS: usize = 16;
const OBJECT_SIZE: usize = 64 << 10;
/// GETs per phase under `cargo bench`; `cargo test --all-targets` runs a short smoke pass.
const WARMUP_GETS: usize = 100;
const MEASURED_GETS: usize = 500;
const SMOKE_GETS: usize = 20;
const ACCESS: &str = "bench-access-key";
const SECRET: &str = "bench-secret-key-0123456789";

struct Phase {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "q is a quantile in 0..=1")]
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at]
}

async fn measure(c: &Client, count: usize, want: &[Vec<u8>]) -> Phase {
    let mut lat = Vec::with_capacity(count);
    for i in 0..count {
        let k = i % OBJECTS;
        let t = Instant::now();
        let out = c.get_object().bucket("bench").key(format!("o{k}")).send().await.expect("GET");
        let body = out.body.collect().await.expect("body").into_bytes();
        lat.push(t.elapsed());
        assert!(body.as_ref() == want[k].as_slice(), "GET o{k} returned wrong bytes");
    }
    lat.sort_unstable();
    Phase { p50: quantile(&lat, 0.5), p99: quantile(&lat, 0.99), max: quantile(&lat, 1.0) }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let providers = Providers::start_proxied(dir.path()).await;
    let config = format!(
        r#"
[server]
s3_listen = "127.0.0.1:0"
region = "eu-bench-1"
default_policy = "eu"
data_dir = "{dir}"
[metadata]
engine = "memory"
[keys]
provider = "local"
key_file = "kek.key"
[workers]
health_interval_secs = 1
{providers}
[[policy]]
id = "eu"
replicas = 3
write_quorum = 2
[[access_key]]
id = "{ACCESS}"
secret = "{SECRET}"
"#,
        dir = dir.path().display(),
        providers = providers.config()
    );
    let config = souverain::config::Config::parse(&config, dir.path()).expect("bench config");
    let gw = souverain::app::start(config).await.expect("gateway starts");
    let c = Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://{}", gw.s3_addr))
            .force_path_style(true)
            .region(Region::new("eu-bench-1"))
            .credentials_provider(Credentials::new(ACCESS, SECRET, None, None, "bench"))
            .build(),
    );
    c.create_bucket().bucket("bench").send().await.expect("create bucket");
    let objects: Vec<Vec<u8>> =
        (0..OBJECTS).map(|i| (0..OBJECT_SIZE).map(|j| ((j * 31 + i * 7) % 256).to_le_bytes()[0]).collect()).collect();
    for (i, o) in objects.iter().enumerate() {
        c.put_object().bucket("bench").key(format!("o{i}")).body(o.clone().into()).send().await.expect("PUT");
    }
    let full = std::env::args().any(|a| a == "--bench");
    let (warmup, gets) = if full { (WARMUP_GETS, MEASURED_GETS) } else { (SMOKE_GETS, SMOKE_GETS) };
    measure(&c, warmup, &objects).await;
    let before: Vec<u64> = providers.proxies.iter().map(fault_proxy::FaultProxy::object_gets).collect();
    let healthy = measure(&c, gets, &objects).await;
    // Slow down the provider that served most of the healthy reads: the worst case.
    let served: Vec<u64> = providers.proxies.iter().zip(&before).map(|(p, b)| p.object_gets() - b).collect();
    let slow = (0..served.len()).max_by_key(|i| served[*i]).unwrap_or(0);
    let delay = (healthy.p50 * 9).max(Duration::from_millis(5));
    providers.proxies[slow].set(Fault::Delay(delay));
    let hedge_total = || {
        ["local-de", "local-fr", "local-nl"]
            .iter()
            .map(|p| gw.metrics.backend_hedged_requests.with_label_values(&[p]).get())
            .sum::<u64>()
    };
    let hedged_before = hedge_total();
    let delayed = measure(&c, gets, &objects).await;
    let hedges = hedge_total() - hedged_before;
    let ratio = delayed.p99.as_secs_f64() / healthy.p99.as_secs_f64();
    println!("hedged reads: {gets} GETs of {} KiB per phase, N = 3", OBJECT_SIZE >> 10);
    println!("{:<34} {:>9} {:>9} {:>9}", "phase", "p50 ms", "p99 ms", "max ms");
    for (name, p) in [("all providers healthy", &healthy), ("one provider delayed 10x", &delayed)] {
        println!("{name:<34} {:>9.2} {:>9.2} {:>9.2}", ms(p.p50), ms(p.p99), ms(p.max));
    }
    println!(
        "delayed provider: {} (+{:.2} ms per request); hedges issued: {hedges}",
        providers.proxies[slow].endpoint(),
        ms(delay)
    );
    println!("p99 ratio delayed / healthy: {ratio:.2} (target <= 1.5)");
    println!(
        "{{\"bench\":\"hedging\",\"gets_per_phase\":{gets},\"object_bytes\":{OBJECT_SIZE},\"healthy_p50_ms\":{:.3},\"healthy_p99_ms\":{:.3},\"delayed_p50_ms\":{:.3},\"delayed_p99_ms\":{:.3},\"added_delay_ms\":{:.3},\"hedges\":{hedges},\"p99_ratio\":{ratio:.3}}}",
        ms(healthy.p50),
        ms(healthy.p99),
        ms(delayed.p50),
        ms(delayed.p99),
        ms(delay)
    );
    gw.shutdown().await;
}
