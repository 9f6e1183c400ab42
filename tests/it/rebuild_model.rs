//! Model-based rebuild (issue 21): a random workload — PUT and overwrite (with metadata, content
//! types and CRC32 checksums), CopyObject across buckets, multipart uploads with a part copied
//! from another object, DELETE, DeleteObjects, bucket creation and deletion, a bucket rebound to
//! another policy and a policy added through the admin API — is run against the real gateway
//! binary and an in-memory model of what each acknowledgement promised. The gateway is then
//! SIGKILLed right after its last acknowledgement, its metadata store destroyed, and the real
//! `souverain meta rebuild` binary run: every bucket (with its policy), every listing, and every
//! object's bytes, ETag, content type, metadata and checksum must equal the model; what was
//! deleted stays deleted. A failure names the seed and the step. Checkpoints run every second
//! meanwhile (the second half of the workload comes after one), so the rebuild reads buckets
//! from checkpoints and the segments after them, the older segments deleted.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration, Delete,
    ObjectIdentifier,
};

use crate::common::openbao::{OpenBao, ROOT_TOKEN, transit_keys, with_keys};
use crate::common::postgres::PgServer;
use crate::common::{
    BinaryGateway, Providers, admin_request, body_bytes, client, config_on_postgres, config_text, error_status,
    listed_keys, pattern, wait_for,
};

const KEYS: [&str; 6] = ["k0", "k1", "k2", "dir/k3", "dir/k4", "dir/sub/k5"];
const SIZES: [usize; 6] = [0, 1, 3000, 70_000, 300_000, 1_100_000];
const CONTENT_TYPES: [&str; 3] = ["application/octet-stream", "text/plain", "application/x-model"];
/// Policies of the test config a bucket may be rebound to (three providers: DE, FR, NL).
const POLICIES: [&str; 3] = ["eu-default", "three-countries", "de-only"];
const STEPS: usize = 70;
/// The smallest part S3 accepts before the last one.
const PART: usize = 5 << 20;

/// What a client was told it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Object {
    body: Vec<u8>,
    content_type: String,
    metadata: BTreeMap<String, String>,
    etag: String,
    crc32: Option<String>,
}

/// Buckets with their policy and objects, as acknowledged; and the policies added.
#[derive(Default)]
struct Model {
    buckets: BTreeMap<String, (String, BTreeMap<String, Object>)>,
    added_policies: Vec<String>,
    created: usize,
}

/// xorshift64*: the sequence is the seed's, on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Where the metadata lives and who holds the KEK; the test's directory and providers.
struct Setup {
    dir: tempfile::TempDir,
    providers: Providers,
    store: Store,
}

enum Store {
    /// RocksDB in `meta/`, the local key file.
    Rocks,
    /// PostgreSQL database `model`, the KEK in OpenBao's transit engine.
    PostgresTransit { pg: PgServer, _bao: OpenBao },
}

impl Setup {
    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("souverain.toml"), text).unwrap();
    }

    fn config_file(&self) -> std::path::PathBuf {
        self.dir.path().join("souverain.toml")
    }

    fn destroy_metadata(&self) {
        match &self.store {
            Store::Rocks => std::fs::remove_dir_all(self.dir.path().join("meta")).unwrap(),
            Store::PostgresTransit { pg, .. } => {
                pg.psql("DROP DATABASE model WITH (FORCE)");
                pg.create_database("model");
            }
        }
    }
}

/// A free loopback port for the admin listener of the gateway binary (it prints only the S3
/// address).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Checkpoints every second of any bucket with a segment since its last one, so the
/// workload's buckets are checkpointed, and their older segments deleted, while it runs.
pub(crate) fn with_checkpoints(text: &str) -> String {
    let knobs = "checkpoint_interval_secs = 1\ncheckpoint_settle_secs = 1\ncheckpoint_min_segments = 1\n";
    text.replace("[workers]\n", &format!("[workers]\n{knobs}"))
}

/// How many checkpoints the gateway has written (its metrics say).
pub(crate) async fn checkpoints_written(admin: std::net::SocketAddr) -> u64 {
    let headers = [("host".to_owned(), admin.to_string())];
    let Ok(r) = crate::common::raw::send(admin, "GET", "/metrics", &headers, b"").await else { return 0 };
    let series = "souverain_log_checkpoints_total{outcome=\"written\"} ";
    r.body_text().lines().find_map(|l| l.strip_prefix(series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn with_admin_port(text: &str, port: u16) -> String {
    assert!(text.contains("admin_listen = \"127.0.0.1:0\""));
    text.replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"127.0.0.1:{port}\""))
}

/// One random step against the gateway and the model; returns what it did, for the failure
/// message. Every fifth step is one of the rarer kinds in turn, so each run has all of them
/// (twice).
async fn step(c: &Client, admin: std::net::SocketAddr, m: &mut Model, rng: &mut Rng, n: usize) -> String {
    let rare = ["create", "catalog", "rebind", "multipart", "create", "delete-bucket", "delete-objects"];
    let kind = if n % 5 == 4 {
        rare[(n / 5) % rare.len()]
    } else {
        *rng.pick(&["put", "put", "put", "put", "copy", "copy", "delete", "multipart"])
    };
    let bucket = rng.pick(&m.buckets.keys().cloned().collect::<Vec<_>>()).clone();
    match kind {
        "put" => put(c, m, rng, &bucket).await,
        "copy" => copy(c, m, rng, &bucket).await,
        "delete" => {
            let key = *rng.pick(&KEYS);
            c.delete_object().bucket(&bucket).key(key).send().await.unwrap();
            m.buckets.get_mut(&bucket).unwrap().1.remove(key);
            format!("delete {bucket}/{key}")
        }
        "delete-objects" => {
            let mut keys: Vec<&str> = (0..3).map(|_| *rng.pick(&KEYS)).collect();
            keys.sort_unstable();
            keys.dedup();
            delete_objects(c, m, &bucket, &keys).await;
            format!("delete-objects {bucket} {keys:?}")
        }
        "multipart" => multipart(c, m, rng, &bucket).await,
        "create" => create_bucket(c, m, rng).await,
        "rebind" => {
            let policy = rng.pick(&POLICIES).to_string();
            let body = serde_json::json!({ "policy": policy }).to_string();
            let (status, text) =
                admin_request(admin, "PUT", &format!("/admin/v1/buckets/{bucket}/policy"), &body).await;
            assert_eq!(status, 200, "rebind {bucket} to {policy}: {text}");
            m.buckets.get_mut(&bucket).unwrap().0.clone_from(&policy);
            format!("rebind {bucket} {policy}")
        }
        "catalog" => {
            let id = format!("extra-{}", m.added_policies.len());
            let body = serde_json::json!({ "id": id, "replicas": 2, "write_quorum": 2 }).to_string();
            let (status, text) = admin_request(admin, "PUT", &format!("/admin/v1/policies/{id}"), &body).await;
            assert_eq!(status, 200, "policy {id}: {text}");
            m.added_policies.push(id.clone());
            format!("catalog {id}")
        }
        _ => delete_bucket(c, m, &bucket).await,
    }
}

async fn put(c: &Client, m: &mut Model, rng: &mut Rng, bucket: &str) -> String {
    let key = *rng.pick(&KEYS);
    let body = pattern(*rng.pick(&SIZES), rng.next());
    let content_type = rng.pick(&CONTENT_TYPES).to_string();
    let metadata: BTreeMap<String, String> =
        (0..rng.below(3)).map(|i| (format!("m{i}"), format!("v{}", rng.below(1000)))).collect();
    let mut req = c.put_object().bucket(bucket).key(key).body(body.clone().into()).content_type(&content_type);
    req = req.set_metadata(Some(metadata.clone().into_iter().collect()));
    if rng.below(3) == 0 {
        req = req.checksum_algorithm(ChecksumAlgorithm::Crc32);
    }
    let out = req.send().await.unwrap();
    let object = Object {
        body,
        content_type,
        metadata,
        etag: out.e_tag().unwrap().to_owned(),
        crc32: out.checksum_crc32().map(str::to_owned),
    };
    let what = format!("put {bucket}/{key} ({} bytes, crc32 {:?})", object.body.len(), object.crc32);
    m.buckets.get_mut(bucket).unwrap().1.insert(key.to_owned(), object);
    what
}

/// A random existing object, if any: (bucket, key, object).
fn any_object(m: &Model, rng: &mut Rng) -> Option<(String, String, Object)> {
    let all: Vec<_> = m
        .buckets
        .iter()
        .flat_map(|(b, (_, objs))| objs.iter().map(move |(k, o)| (b.clone(), k.clone(), o.clone())))
        .collect();
    (!all.is_empty()).then(|| rng.pick(&all).clone())
}

async fn copy(c: &Client, m: &mut Model, rng: &mut Rng, bucket: &str) -> String {
    let Some((sb, sk, source)) = any_object(m, rng) else { return "copy: nothing to copy".into() };
    let key = *rng.pick(&KEYS);
    if (sb.as_str(), sk.as_str()) == (bucket, key) {
        // S3 refuses a copy onto itself that changes nothing (400 InvalidRequest).
        return format!("copy {sb}/{sk}: onto itself, skipped");
    }
    let out = c.copy_object().bucket(bucket).key(key).copy_source(format!("{sb}/{sk}")).send().await.unwrap();
    let result = out.copy_object_result().unwrap();
    let object = Object {
        etag: result.e_tag().unwrap().to_owned(),
        crc32: result.checksum_crc32().map(str::to_owned),
        ..source
    };
    m.buckets.get_mut(bucket).unwrap().1.insert(key.to_owned(), object);
    format!("copy {sb}/{sk} -> {bucket}/{key}")
}

/// Two parts: 5 MiB uploaded, then a whole existing object copied as the last part (or a few
/// bytes uploaded when there is none).
async fn multipart(c: &Client, m: &mut Model, rng: &mut Rng, bucket: &str) -> String {
    let key = *rng.pick(&KEYS);
    let content_type = rng.pick(&CONTENT_TYPES).to_string();
    let metadata = BTreeMap::from([("mp".to_owned(), format!("{}", rng.below(100)))]);
    let create = c.create_multipart_upload().bucket(bucket).key(key).content_type(&content_type);
    let up = create.set_metadata(Some(metadata.clone().into_iter().collect())).send().await.unwrap();
    let id = up.upload_id().unwrap();
    let first = pattern(PART, rng.next());
    let p1 = c.upload_part().bucket(bucket).key(key).upload_id(id).part_number(1).body(first.clone().into());
    let mut parts =
        vec![CompletedPart::builder().part_number(1).e_tag(p1.send().await.unwrap().e_tag().unwrap()).build()];
    let (second, source) = if let Some((sb, sk, o)) = any_object(m, rng) {
        let p2 = c.upload_part_copy().bucket(bucket).key(key).upload_id(id).part_number(2);
        let out = p2.copy_source(format!("{sb}/{sk}")).send().await.unwrap();
        let etag = out.copy_part_result().unwrap().e_tag().unwrap().to_owned();
        parts.push(CompletedPart::builder().part_number(2).e_tag(etag).build());
        (o.body, format!("{sb}/{sk}"))
    } else {
        let body = pattern(100, rng.next());
        let p2 = c.upload_part().bucket(bucket).key(key).upload_id(id).part_number(2).body(body.clone().into());
        parts.push(CompletedPart::builder().part_number(2).e_tag(p2.send().await.unwrap().e_tag().unwrap()).build());
        (body, "uploaded".to_owned())
    };
    let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let out = c.complete_multipart_upload().bucket(bucket).key(key).upload_id(id).multipart_upload(done).send().await;
    let out = out.unwrap();
    let object = Object {
        body: [first, second].concat(),
        content_type,
        metadata,
        etag: out.e_tag().unwrap().to_owned(),
        crc32: out.checksum_crc32().map(str::to_owned),
    };
    m.buckets.get_mut(bucket).unwrap().1.insert(key.to_owned(), object);
    format!("multipart {bucket}/{key} (part 2 from {source})")
}

async fn delete_objects(c: &Client, m: &mut Model, bucket: &str, keys: &[&str]) {
    let ids: Vec<ObjectIdentifier> =
        keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
    let delete = Delete::builder().set_objects(Some(ids)).build().unwrap();
    let out = c.delete_objects().bucket(bucket).delete(delete).send().await.unwrap();
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    for k in keys {
        m.buckets.get_mut(bucket).unwrap().1.remove(*k);
    }
}

/// A new bucket under a random policy, the added ones included (at most five buckets).
async fn create_bucket(c: &Client, m: &mut Model, rng: &mut Rng) -> String {
    if m.buckets.len() >= 5 {
        return "create: enough buckets".into();
    }
    let name = format!("bkt-{}", m.created);
    m.created += 1;
    let mut choices: Vec<String> = POLICIES.iter().map(|p| (*p).to_owned()).collect();
    choices.extend(m.added_policies.iter().cloned());
    // Every other bucket under the newest policy added through the admin API, when there is one.
    let policy = match m.added_policies.last() {
        Some(added) if m.created.is_multiple_of(2) => added.clone(),
        _ => rng.pick(&choices).clone(),
    };
    let config = CreateBucketConfiguration::builder().location_constraint(policy.as_str().into()).build();
    c.create_bucket().bucket(&name).create_bucket_configuration(config).send().await.unwrap();
    m.buckets.insert(name.clone(), (policy.clone(), BTreeMap::new()));
    format!("create {name} ({policy})")
}

/// Empties a bucket with DeleteObjects, then deletes it (one bucket always stays).
async fn delete_bucket(c: &Client, m: &mut Model, bucket: &str) -> String {
    if m.buckets.len() < 2 {
        return "delete-bucket: last bucket kept".into();
    }
    let keys: Vec<String> = m.buckets[bucket].1.keys().cloned().collect();
    if !keys.is_empty() {
        delete_objects(c, m, bucket, &keys.iter().map(String::as_str).collect::<Vec<_>>()).await;
    }
    c.delete_bucket().bucket(bucket).send().await.unwrap();
    m.buckets.remove(bucket);
    format!("delete-bucket {bucket}")
}

/// Runs the workload of `seed` on the gateway binary, SIGKILLs it after the last
/// acknowledgement, destroys the metadata, rebuilds with the binary, and checks the model.
async fn run(setup: &Setup, text: &str, seed: u64) {
    let port = free_port();
    setup.write_config(&with_checkpoints(&with_admin_port(text, port)));
    let admin: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let gw = BinaryGateway::spawn(setup.dir.path(), &setup.providers);
    let c = client(gw.addr);
    let mut m = Model::default();
    c.create_bucket().bucket("first").send().await.unwrap();
    m.buckets.insert("first".into(), ("eu-default".into(), BTreeMap::new()));
    let mut rng = Rng(seed);
    let mut done = Vec::new();
    for n in 0..STEPS {
        done.push(step(&c, admin, &mut m, &mut rng, n).await);
        if n == STEPS / 2 || n == STEPS - 5 {
            // What comes next comes after a checkpoint that covers the steps so far (its
            // bound is drawn a pass, at least the 1 s settle time, before it runs): the last
            // five steps after the last one, the rest overlapping passes.
            let before = checkpoints_written(admin).await;
            tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
            wait_for(
                "a checkpoint of the steps so far",
                60,
                || async move { checkpoints_written(admin).await > before },
            )
            .await;
        }
    }
    let chain = audit_lines(admin).await;
    gw.kill();
    setup.destroy_metadata();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["meta", "rebuild", "--config"])
        .arg(setup.config_file())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "seed {seed}: rebuild failed: {report} {}", String::from_utf8_lossy(&out.stderr));
    let objects: usize = m.buckets.values().map(|(_, o)| o.len()).sum();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (report["buckets"].as_u64(), report["objects"].as_u64()),
        (Some(m.buckets.len() as u64), Some(objects as u64)),
        "seed {seed}: {report}"
    );
    assert!(report["checkpoints"].as_u64() >= Some(1), "seed {seed}: no bucket read from a checkpoint: {report}");
    let restored = &report["audit"];
    assert_eq!(
        (restored["records"].as_u64(), restored["first"].as_u64(), restored["problem_count"].as_u64()),
        (Some(chain.len() as u64), Some(1), Some(0)),
        "seed {seed}: {restored}"
    );

    let gw = BinaryGateway::spawn(setup.dir.path(), &setup.providers);
    let steps = done.join("\n");
    assert_matches(&client(gw.addr), admin, &m, &format!("seed {seed}, after the steps:\n{steps}")).await;
    assert_chain_restored(admin, &chain, &format!("seed {seed}")).await;
    gw.kill();
}

/// The live audit chain, one JSON line per record (a single page: the workload makes fewer).
async fn audit_lines(admin: std::net::SocketAddr) -> Vec<String> {
    let (status, text) = admin_request(admin, "GET", "/admin/v1/audit?after=0", "").await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines.len() > 5 && lines.len() < 1000, "{}", lines.len());
    lines
}

/// Every record the lost store held comes back byte for byte — the records of deleted buckets,
/// of rebound ones and of the catalog, from checkpoints and segments alike — followed by the
/// rebuild's own record and the new audit key's; the chain verifies, sealed again.
async fn assert_chain_restored(admin: std::net::SocketAddr, before: &[String], context: &str) {
    let after = audit_lines(admin).await;
    assert_eq!(after[..before.len()], *before, "{context}: the records before the loss");
    let actions: Vec<String> = after[before.len()..]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["meta.rebuild", "audit.key"], "{context}");
    let (status, verdict) = admin_request(admin, "GET", "/admin/v1/audit/verify", "").await;
    let verdict: serde_json::Value = serde_json::from_str(&verdict).unwrap();
    assert_eq!((status, &verdict["intact"]), (200, &serde_json::Value::Bool(true)), "{context}: {verdict}");
}

/// The rebuilt gateway holds exactly the model: bucket names and policies, the added
/// policies, listings, and each object's bytes, ETag, content type, metadata and checksum.
async fn assert_matches(c: &Client, admin: std::net::SocketAddr, m: &Model, context: &str) {
    let names: Vec<String> =
        c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    assert_eq!(names, m.buckets.keys().cloned().collect::<Vec<_>>(), "{context}");
    let (_, policies) = admin_request(admin, "GET", "/admin/v1/policies", "").await;
    for id in &m.added_policies {
        assert!(policies.contains(&format!("\"{id}\"")), "{context}: policy {id} lost: {policies}");
    }
    for (bucket, (policy, objects)) in &m.buckets {
        let (status, text) =
            admin_request(admin, "GET", &format!("/admin/v1/placement/explain?bucket={bucket}"), "").await;
        let explained: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, explained["policy"].as_str()), (200, Some(policy.as_str())), "{context}: {bucket}");
        assert_eq!(listed_keys(c, bucket).await, objects.keys().cloned().collect::<Vec<_>>(), "{context}: {bucket}");
        for (key, want) in objects {
            let head =
                c.head_object().bucket(bucket).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
            assert_eq!(head.checksum_crc32().map(str::to_owned), want.crc32, "{context}: {bucket}/{key} checksum");
            let got = c.get_object().bucket(bucket).key(key).send().await.unwrap();
            let got_meta: BTreeMap<String, String> = got.metadata().cloned().unwrap_or_default().into_iter().collect();
            let seen = (got.e_tag().map(str::to_owned), got.content_type().map(str::to_owned), got_meta);
            let want_seen = (Some(want.etag.clone()), Some(want.content_type.clone()), want.metadata.clone());
            assert_eq!(seen, want_seen, "{context}: {bucket}/{key}");
            assert!(body_bytes(got).await == want.body, "{context}: {bucket}/{key}: bytes differ");
        }
    }
    let gone = c.head_bucket().bucket("never-created").send().await.unwrap_err();
    assert_eq!(error_status(&gone), Some(404));
}

/// Promise: over RocksDB and the local key file (local directories, and s3s-fs processes in the
/// suite's second pass), every acknowledged change of a random workload survives the loss of
/// the gateway's disk right after a SIGKILL, byte for byte, and nothing deleted comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_workload_survives_a_sigkill_and_the_loss_of_the_metadata() {
    crate::common::init();
    for seed in [0x5eed_0001_u64, 0x5eed_0002] {
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::start(dir.path());
        let text = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers);
        let setup = Setup { dir, providers, store: Store::Rocks };
        run(&setup, &text, seed).await;
    }
}

/// Promise: the same on PostgreSQL with the KEK in OpenBao's transit engine (the database is
/// dropped and created again empty; the rebuild unwraps the log keys through the KMS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_with_transit_a_random_workload_survives_the_loss_of_the_database() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let pg = PgServer::start();
    pg.create_database("model");
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let keys = transit_keys(&bao.address(), &format!("token = \"{ROOT_TOKEN}\""), "");
    let text = with_keys(&config_on_postgres(dir.path(), &providers, &pg, "model"), &keys);
    let setup = Setup { dir, providers, store: Store::PostgresTransit { pg, _bao: bao } };
    run(&setup, &text, 0x5eed_0003).await;
}
