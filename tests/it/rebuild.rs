//! Losing the gateway's disk loses nothing (issue 21): after the metadata store is destroyed,
//! `souverain meta rebuild` recovers every acknowledged write from the providers' log, byte
//! for byte, with its name, metadata and ETag; deleted objects and buckets stay deleted; a
//! tampered segment is refused, never trusted; a lost provider's replicas are queued for
//! repair.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration};
use souverain::app::{RunningGateway, start};
use souverain::config::Config;
use souverain::metalog::rebuild::{RebuildOptions, RebuildReport};

use crate::common::openbao::{OpenBao, ROOT_TOKEN, transit_keys, with_keys};
use crate::common::postgres::PgServer;
use crate::common::{
    Providers, admin_request, body_bytes, client, config_on_postgres, config_text, error_code, pattern, provider_files,
};

/// The content type served for an object stored without one.
const OCTETS: &str = "application/octet-stream";

/// What a client was told it stored: body, content type, user metadata, ETag.
type Model = BTreeMap<(String, String), (Vec<u8>, Option<String>, Vec<(String, String)>, String)>;

/// Where the metadata lives and who holds the KEK.
enum Store {
    /// RocksDB in `meta/`, the local key file.
    Rocks,
    /// PostgreSQL database `rebuild`, the KEK in OpenBao's transit engine.
    PostgresTransit { pg: PgServer, _bao: OpenBao },
}

struct Setup {
    dir: tempfile::TempDir,
    providers: Providers,
    text: String,
    store: Store,
}

impl Setup {
    fn new() -> Self {
        crate::common::init();
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::start(dir.path());
        let text = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers);
        Self { dir, providers, text, store: Store::Rocks }
    }

    /// The metadata in PostgreSQL, the KEK in OpenBao transit.
    async fn on_postgres_with_transit() -> Self {
        crate::common::init();
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::start(dir.path());
        let pg = PgServer::start();
        pg.create_database("rebuild");
        let bao = OpenBao::start().await;
        bao.enable_transit("souverain").await;
        let keys = transit_keys(&bao.address(), &format!("token = \"{ROOT_TOKEN}\""), "");
        let text = with_keys(&config_on_postgres(dir.path(), &providers, &pg, "rebuild"), &keys);
        Self { dir, providers, text, store: Store::PostgresTransit { pg, _bao: bao } }
    }

    fn config(&self) -> Config {
        Config::parse(&self.text, self.dir.path()).unwrap()
    }

    async fn start(&self) -> RunningGateway {
        start(self.config()).await.unwrap()
    }

    /// Destroys the metadata store (the gateway's disk, or the database), then rebuilds it
    /// from the providers.
    async fn lose_and_rebuild(&self) -> RebuildReport {
        match &self.store {
            Store::Rocks => std::fs::remove_dir_all(self.dir.path().join("meta")).unwrap(),
            Store::PostgresTransit { pg, .. } => {
                pg.psql("DROP DATABASE rebuild WITH (FORCE)");
                pg.create_database("rebuild");
            }
        }
        rebuild(self.config(), false).await.unwrap()
    }
}

/// `souverain meta rebuild` (or its dry run) over every provider, without progress output.
async fn rebuild(config: Config, dry_run: bool) -> Result<RebuildReport, souverain::app::StartError> {
    let options = RebuildOptions { dry_run, ..RebuildOptions::default() };
    souverain::app::rebuild_metadata(config, &options, &|_, _, _| {}).await
}

async fn put(c: &Client, model: &mut Model, bucket: &str, key: &str, body: Vec<u8>, meta: &[(&str, &str)]) {
    let mut req = c.put_object().bucket(bucket).key(key).body(body.clone().into());
    if !meta.is_empty() {
        req = req.content_type("application/x-test");
    }
    let content_type = Some(if meta.is_empty() { OCTETS } else { "application/x-test" }.to_owned());
    for (k, v) in meta {
        req = req.metadata(*k, *v);
    }
    let etag = req.send().await.unwrap().e_tag().unwrap().to_owned();
    let mut meta: Vec<_> = meta.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    meta.sort();
    model.insert((bucket.to_owned(), key.to_owned()), (body, content_type, meta, etag));
}

/// Every object of the model reads back exactly, and each bucket lists exactly the model's keys.
async fn assert_matches(c: &Client, model: &Model, buckets: &[&str]) {
    for b in buckets {
        let listed = crate::common::listed_keys(c, b).await;
        let expected: Vec<String> = model.keys().filter(|(mb, _)| mb == b).map(|(_, k)| k.clone()).collect();
        assert_eq!(listed, expected, "listing of {b}");
    }
    for ((b, k), (body, content_type, meta, etag)) in model {
        let got = c.get_object().bucket(b).key(k).send().await.unwrap();
        assert_eq!(got.e_tag(), Some(etag.as_str()), "{b}/{k}");
        assert_eq!(got.content_type().map(ToOwned::to_owned), *content_type, "{b}/{k}");
        let mut got_meta: Vec<(String, String)> = got.metadata().cloned().unwrap_or_default().into_iter().collect();
        got_meta.sort();
        assert_eq!(got_meta, *meta, "{b}/{k}");
        assert!(body_bytes(got).await == *body, "{b}/{k}: bytes differ");
    }
}

/// Writes the scenario: two buckets under two policies, PUTs of several sizes with metadata,
/// overwrites, deletes, a multipart upload, a copy, a bucket created and deleted, and an
/// admin policy change.
async fn write_scenario(gw: &RunningGateway, model: &mut Model) {
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("alpha").send().await.unwrap();
    let de = CreateBucketConfiguration::builder().location_constraint("de-only".into()).build();
    c.create_bucket().bucket("beta").create_bucket_configuration(de).send().await.unwrap();
    for i in 0..24u64 {
        let size = [0, 1, 4096, 100_000, 1_100_000][i as usize % 5];
        let meta: &[(&str, &str)] = if i % 3 == 0 { &[("owner", "ops"), ("n", "x")] } else { &[] };
        put(&c, model, "alpha", &format!("dir/k{i:02}"), pattern(size, i), meta).await;
    }
    for i in (0..24u64).step_by(4) {
        put(&c, model, "alpha", &format!("dir/k{i:02}"), pattern(777, 100 + i), &[("v", "2")]).await;
    }
    for i in (0..24u64).step_by(6) {
        c.delete_object().bucket("alpha").key(format!("dir/k{i:02}")).send().await.unwrap();
        model.remove(&("alpha".to_owned(), format!("dir/k{i:02}")));
    }
    c.delete_object().bucket("alpha").key("never-there").send().await.unwrap();
    let (a, b) = (pattern(5 << 20, 7), pattern(1000, 8));
    let up = c.create_multipart_upload().bucket("alpha").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, body) in [(1, &a), (2, &b)] {
        let p = c.upload_part().bucket("alpha").key("mp").upload_id(id).part_number(n);
        let etag = p.body(body.clone().into()).send().await.unwrap().e_tag().unwrap().to_owned();
        parts.push(CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    let completed = c.complete_multipart_upload().bucket("alpha").key("mp").upload_id(id).multipart_upload(done);
    let etag = completed.send().await.unwrap().e_tag().unwrap().to_owned();
    model.insert(("alpha".into(), "mp".into()), ([a, b].concat(), None, vec![], etag));
    let copied = c.copy_object().bucket("beta").key("copied").copy_source("alpha/dir/k01").send().await.unwrap();
    let (src, content_type, meta, _) = model[&("alpha".to_owned(), "dir/k01".to_owned())].clone();
    let etag = copied.copy_object_result().and_then(|r| r.e_tag()).unwrap().to_owned();
    model.insert(("beta".into(), "copied".into()), (src, content_type, meta, etag));
    for i in 0..3u64 {
        put(&c, model, "beta", &format!("b{i}"), pattern(2000, 50 + i), &[("team", "de")]).await;
    }
    c.create_bucket().bucket("gamma").send().await.unwrap();
    c.put_object().bucket("gamma").key("g").body(b"g".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("gamma").key("g").send().await.unwrap();
    c.delete_bucket().bucket("gamma").send().await.unwrap();
    let extra = r#"{"id":"extra","replicas":2,"write_quorum":2}"#;
    assert_eq!(admin_request(gw.admin_addr.unwrap(), "PUT", "/admin/v1/policies/extra", extra).await.0, 200);
}

/// Promise: the gateway's disk is destroyed after the writes were acknowledged; a rebuild from
/// the providers recovers every object byte for byte with its ETag, content type and metadata,
/// the listings exactly, and the admin's policy change; deleted objects and a deleted bucket
/// stay deleted; the gateway then serves and writes as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_metadata_store_loses_no_acknowledged_write() {
    let setup = Setup::new();
    let (gw, mut model) = lose_and_check_the_scenario(&setup).await;
    let c = client(gw.s3_addr);
    let extra = CreateBucketConfiguration::builder().location_constraint("extra".into()).build();
    c.create_bucket().bucket("delta").create_bucket_configuration(extra).send().await.unwrap();
    // Writing goes on, and a second loss recovers the new writes too (the sequence went on
    // above the recovered one, so the overwrite wins).
    put(&c, &mut model, "alpha", "dir/k01", b"after the rebuild".to_vec(), &[]).await;
    gw.shutdown().await;
    let again = setup.lose_and_rebuild().await;
    assert_eq!((again.buckets, again.objects), (3, model.len()), "{again:?}");
    let gw = setup.start().await;
    assert_matches(&client(gw.s3_addr), &model, &["alpha", "beta", "delta"]).await;
    gw.shutdown().await;
}

/// Promise: the same with the metadata in PostgreSQL and the KEK in OpenBao's transit engine:
/// the database is dropped and created again empty, the rebuild unwraps the log keys through
/// the KMS and recovers the model; a write after it survives a second loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_postgres_database_with_transit_keys_loses_no_acknowledged_write() {
    let setup = Setup::on_postgres_with_transit().await;
    let (gw, mut model) = lose_and_check_the_scenario(&setup).await;
    put(&client(gw.s3_addr), &mut model, "beta", "b0", b"after the rebuild".to_vec(), &[]).await;
    gw.shutdown().await;
    let again = setup.lose_and_rebuild().await;
    assert_eq!((again.buckets, again.objects), (2, model.len()), "{again:?}");
    let gw = setup.start().await;
    assert_matches(&client(gw.s3_addr), &model, &["alpha", "beta"]).await;
    gw.shutdown().await;
}

/// Writes the scenario, loses the store, rebuilds it, and checks the model, the deleted bucket
/// and a deleted object; returns the gateway started on the rebuilt store.
async fn lose_and_check_the_scenario(setup: &Setup) -> (RunningGateway, Model) {
    let gw = setup.start().await;
    let mut model = Model::new();
    write_scenario(&gw, &mut model).await;
    gw.shutdown().await;

    let report = setup.lose_and_rebuild().await;
    assert!(report.rejected.is_empty() && report.unreachable.is_empty(), "{report:?}");
    assert_eq!((report.buckets, report.objects, report.repairs), (2, model.len(), 0), "{report:?}");
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    assert_matches(&c, &model, &["alpha", "beta"]).await;
    let gone = c.head_bucket().bucket("gamma").send().await.unwrap_err();
    assert_eq!(crate::common::error_status(&gone), Some(404));
    let deleted = c.get_object().bucket("alpha").key("dir/k00").send().await.unwrap_err();
    assert_eq!(error_code(&deleted).as_deref(), Some("NoSuchKey"));
    (gw, model)
}

/// Promise: a rebuild refuses a store that is not empty (it never merges into a live one; a
/// dry run reads and reports but writes nothing); a segment whose every copy was altered is
/// refused and reported, never trusted; so is another deployment's keyring and a segment
/// sealed under it (here a tombstone that would delete "first" if it were believed): the
/// other segments' objects come back, and nothing is invented or lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_foreign_segments_are_refused_and_reported() {
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("bkt").send().await.unwrap();
    c.put_object().bucket("bkt").key("first").body(b"1".to_vec().into()).send().await.unwrap();
    let before: Vec<_> = segment_files(&setup.providers.roots);
    c.put_object().bucket("bkt").key("second").body(b"2".to_vec().into()).send().await.unwrap();
    let name = souverain::model::BucketName::parse("bkt").unwrap();
    let uid = gw.meta.bucket(&name).await.unwrap().unwrap().uid;
    gw.shutdown().await;
    let refused = rebuild(setup.config(), false).await.unwrap_err();
    let why = souverain::report::chain(&refused);
    assert!(why.contains("not empty"), "{why}");
    let dry = rebuild(setup.config(), true).await.unwrap();
    assert_eq!((dry.buckets, dry.objects), (1, 2), "a dry run reports on any store: {dry:?}");

    // Every copy of the segment that logged "second" altered in its last byte.
    let altered: Vec<_> = segment_files(&setup.providers.roots).into_iter().filter(|f| !before.contains(f)).collect();
    assert!(altered.len() >= 2, "the segment is at W or more providers: {altered:?}");
    for path in &altered {
        let mut bytes = std::fs::read(path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(path, bytes).unwrap();
    }
    plant_foreign_tombstone(altered[0].parent().unwrap(), uid.0, "first").await;
    std::fs::remove_dir_all(setup.dir.path().join("meta")).unwrap();
    let dry = rebuild(setup.config(), true).await.unwrap();
    let report = rebuild(setup.config(), false).await.unwrap();
    assert_eq!(dry, report, "the dry run wrote nothing (the rebuild after it found an empty store)");
    assert_eq!(report.rejected.len(), 3, "{report:?}");
    assert!(report.rejected.iter().any(|r| r.contains("authentication")), "{report:?}");
    assert!(report.rejected.iter().any(|r| r.contains("keyring was not found")), "{report:?}");
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    assert_eq!(crate::common::listed_keys(&c, "bkt").await, ["first"]);
    gw.shutdown().await;
}

/// Another deployment's keyring (another key file) and a segment sealed under it, holding a
/// tombstone for `key` with a sequence number above anything real, in the segment directory
/// `segments` of one provider and its keyring directory beside it.
async fn plant_foreign_tombstone(segments: &Path, bucket: [u8; 16], key: &str) {
    use souverain::datapath::segment::{SegmentHeader, seal_segment};
    use souverain::meta::log_entry::LogEntry;
    let other = tempfile::tempdir().unwrap();
    let other_keys = souverain::keys::LocalKeyFile::open_or_create(&other.path().join("kek")).unwrap();
    let foreign = souverain::keys::log_key::LogKey::create(&other_keys, "local").await.unwrap();
    let keyring = foreign.keyring();
    let keyrings = segments.parent().unwrap().join("k");
    std::fs::write(keyrings.join(hex::encode(keyring.keyring_id)), keyring.to_bytes().unwrap()).unwrap();
    let tombstone = LogEntry::Deleted { seq: u64::MAX / 2, bucket, key: key.into() }.encode().unwrap();
    let header = SegmentHeader { keyring_id: keyring.keyring_id, segment_id: [9; 16], salt: [1; 32] };
    let sealed = seal_segment(foreign.expose(), &header, &[&tombstone]).unwrap();
    std::fs::write(segments.join(hex::encode([9u8; 16])), sealed).unwrap();
}

/// Promise: with one of three providers lost entirely (its disk gone), a rebuild still finds
/// every segment at the others, recovers every object, and queues a repair for each replica the
/// lost provider held; the repairs put them back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_with_a_provider_lost_queues_its_replicas_for_repair() {
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let mut model = Model::new();
    for i in 0..6u64 {
        put(&c, &mut model, "bkt", &format!("k{i}"), pattern(10_000, i), &[]).await;
    }
    gw.shutdown().await;
    wipe(&setup.providers.roots[0]);
    let report = setup.lose_and_rebuild().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!((report.objects, report.repairs), (6, 6), "{report:?}");
    let gw = setup.start().await;
    assert_matches(&client(gw.s3_addr), &model, &["bkt"]).await;
    let root = setup.providers.roots[0].clone();
    crate::common::wait_for("the lost provider's replicas are repaired", 60, || {
        let root = root.clone();
        async move {
            provider_files(&[root]).iter().filter(|(p, _)| crate::common::providers::is_stream_file(p)).count() == 6
        }
    })
    .await;
    gw.shutdown().await;
}

/// The segment files (`sv2/l/*`) under `roots`.
fn segment_files(roots: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = provider_files(roots)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.parent().is_some_and(|d| d.ends_with(Path::new("sv2").join("l"))))
        .collect();
    out.sort();
    out
}

/// Empties a provider's storage (its disk lost), keeping the root (an s3s-fs bucket directory,
/// or the directory provider's subdirectories) so it serves again, empty.
fn wipe(root: &Path) {
    for (path, _) in provider_files(&[root.to_path_buf()]) {
        std::fs::remove_file(path).unwrap();
    }
}

/// Runs the `souverain meta rebuild` binary on `config` with `args`, to completion.
fn rebuild_binary(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["meta", "rebuild", "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// `done/total` of a progress line `segments [###...] done/total`, if `line` is one.
fn segment_progress(line: &str) -> Option<(u64, u64)> {
    let (done, total) = line.strip_prefix("segments [")?.rsplit(' ').next()?.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

/// Promise: a rebuild killed halfway leaves a store no gateway starts on (it is partial; the
/// refusal says to run the rebuild again), and the next run resumes: it skips the segments the
/// killed run had folded in and recovers every object. `--provider` limits the reading to
/// the providers named; an unknown one is refused. (Over s3s-fs behind fault proxies, whose
/// delay keeps the first run slow enough to be killed halfway.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_rebuild_resumes_and_no_gateway_starts_on_it_meanwhile() {
    use crate::common::fault_proxy::Fault;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start_proxied(dir.path()).await;
    let text = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers);
    let config_file = dir.path().join("souverain.toml");
    std::fs::write(&config_file, &text).unwrap();
    let config = || Config::parse(&text, dir.path()).unwrap();
    let gw = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let mut model = Model::new();
    // One at a time, so each PUT is logged in its own round: about 40 segments, of which the
    // first 16 are folded in (one batch) before the progress passes 60 %.
    for i in 0..40u64 {
        put(&c, &mut model, "bkt", &format!("k{i:02}"), pattern(100, i), &[]).await;
    }
    gw.shutdown().await;
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();

    let unknown = rebuild_binary(&config_file, &["--provider", "xx"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no provider xx"), "{unknown:?}");

    for p in &providers.proxies {
        p.set(Fault::Delay(std::time::Duration::from_millis(200)));
    }
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["meta", "rebuild", "--config"])
        .arg(&config_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = first.stderr.take().unwrap();
    let killed_at = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            if let Some((done, total)) = segment_progress(&line.unwrap())
                && done * 10 >= total * 6
            {
                return (done, total);
            }
        }
        panic!("the rebuild ended without reaching 60 % of its segments");
    })
    .await
    .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    let refused = start(config()).await.err().expect("a partial store is refused");
    let why = souverain::report::chain(&refused);
    assert!(why.contains("did not finish"), "{why}");

    for p in &providers.proxies {
        p.set(Fault::None);
    }
    // Read from two of the three (every segment is at W = 2 or more): the third is not asked.
    let asked_of_de = providers.proxies[0].requests_matching("GET");
    let second = rebuild_binary(&config_file, &["--provider", "local-fr", "--provider", "local-nl"]);
    assert_eq!(providers.proxies[0].requests_matching("GET"), asked_of_de, "local-de was not read");
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{out} {}", String::from_utf8_lossy(&second.stderr));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["resumed"], true, "{report}");
    assert_eq!(report["providers"], serde_json::json!(["local-fr", "local-nl"]), "{report}");
    let (resumed, segments) = (report["segments_resumed"].as_u64().unwrap(), report["segments"].as_u64().unwrap());
    assert!(resumed > 0 && resumed < segments, "killed at {killed_at:?}: {report}");
    assert_eq!(segments, killed_at.1, "every segment folded in once: {report}");
    assert_eq!(report["objects"], 40, "{report}");
    let gw = start(config()).await.unwrap();
    assert_matches(&client(gw.s3_addr), &model, &["bkt"]).await;
    gw.shutdown().await;
}

/// Promise: a gateway started on an empty metadata store over providers that hold its log —
/// the disk was lost, and the service came back up on a new one — refuses to start and names
/// the rebuild, before it makes a key file (one made then would open nothing) or writes
/// anything at the providers; after the key file is restored and `souverain meta restore
/// --from-providers` run (the rebuild's run under the issue's name; without the flag it says
/// where it reads), it starts and serves the object written before the loss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_does_not_start_on_an_empty_store_over_a_log() {
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("kept").send().await.unwrap();
    c.put_object().bucket("kept").key("k").body(b"before the loss".to_vec().into()).send().await.unwrap();
    gw.shutdown().await;
    let key_file = setup.dir.path().join("kek.key");
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::remove_dir_all(setup.dir.path().join("meta")).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let files = provider_files(&setup.providers.roots);

    let refused = start(setup.config()).await.err().expect("refused");
    let message = souverain::report::chain(&refused);
    assert!(message.contains("holds a metadata log") && message.contains("souverain meta rebuild"), "{message}");
    assert!(!key_file.exists(), "no new key file");
    assert_eq!(provider_files(&setup.providers.roots), files, "nothing written at the providers");

    std::fs::write(&key_file, saved).unwrap();
    std::fs::set_permissions(&key_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The restore from the continuous backup, as the issue names it: the rebuild's run.
    let config_file = setup.dir.path().join("souverain.toml");
    std::fs::write(&config_file, &setup.text).unwrap();
    let restore = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_souverain"));
        command.args(["meta", "restore"]).args(args).arg("--config").arg(&config_file).output().unwrap()
    };
    let unnamed = restore(&[]);
    let said = String::from_utf8_lossy(&unnamed.stderr);
    assert!(unnamed.status.code() == Some(2) && said.contains("--from-providers"), "{said}");
    let out = restore(&["--from-providers"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["buckets"].as_u64(), report["objects"].as_u64()), (Some(1), Some(1)), "{report}");
    let gw = setup.start().await;
    let got = client(gw.s3_addr).get_object().bucket("kept").key("k").send().await.unwrap();
    assert_eq!(body_bytes(got).await, b"before the loss");
    gw.shutdown().await;
}

/// Promise: who may do what survives the loss too: after a rebuild a user's key opens what its
/// grants allow and nothing more, the creator still owns the bucket, and a key or user deleted
/// before the loss stays refused (its removal was logged, so the rebuild does not bring it back).
/// Checkpoints run meanwhile, so the catalog is read from its checkpoint — which holds no
/// removal — and the segments it replaced are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_keys_and_grants_survive_the_loss_and_deleted_keys_stay_deleted() {
    let mut setup = Setup::new();
    setup.text = crate::rebuild_model::with_checkpoints(&setup.text);
    let gw = setup.start().await;
    let admin = gw.admin_addr.unwrap();
    let call = |method: &'static str, path: String, body: serde_json::Value| async move {
        let (status, text) = admin_request(admin, method, &path, &body.to_string()).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let key = |v: serde_json::Value| {
        (
            v["id"].as_str().unwrap().to_owned(),
            crate::common::client_with(gw.s3_addr, v["id"].as_str().unwrap(), v["secret"].as_str().unwrap()),
        )
    };
    call("POST", "/admin/v1/users".into(), serde_json::json!({ "name": "alice", "create_buckets": true })).await;
    call("POST", "/admin/v1/users".into(), serde_json::json!({ "name": "bob" })).await;
    call("POST", "/admin/v1/users".into(), serde_json::json!({ "name": "carol" })).await;
    let secrets: Vec<serde_json::Value> = [
        call("POST", "/admin/v1/access-keys".into(), serde_json::json!({ "user": "alice" })).await,
        call("POST", "/admin/v1/access-keys".into(), serde_json::json!({ "user": "bob" })).await,
        call("POST", "/admin/v1/access-keys".into(), serde_json::json!({ "user": "bob" })).await,
        call("POST", "/admin/v1/access-keys".into(), serde_json::json!({ "user": "carol" })).await,
    ]
    .into();
    let (_, alice) = key(secrets[0].clone());
    alice.create_bucket().bucket("team").send().await.unwrap();
    alice.put_object().bucket("team").key("doc").body(b"team doc".to_vec().into()).send().await.unwrap();
    call("POST", "/admin/v1/buckets/team/grants".into(), serde_json::json!({ "user": "bob", "allow": "read" })).await;
    let policy = r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::x:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::team/secret*"}]}"#;
    alice.put_bucket_policy().bucket("team").policy(policy).send().await.unwrap();
    alice.put_object().bucket("team").key("secret").body(b"s".to_vec().into()).send().await.unwrap();
    let (bob2_id, _) = key(secrets[2].clone());
    call("DELETE", format!("/admin/v1/access-keys/{bob2_id}"), serde_json::Value::Null).await;
    call("DELETE", "/admin/v1/users/carol".into(), serde_json::Value::Null).await;
    // A checkpoint pass that starts after the settle time covers every change above; the
    // catalog is the first scope of each pass.
    let before = crate::rebuild_model::checkpoints_written(admin).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let written = || async move { crate::rebuild_model::checkpoints_written(admin).await > before };
    crate::common::wait_for("a checkpoint of the changes", 60, written).await;
    gw.shutdown().await;

    let report = setup.lose_and_rebuild().await;
    assert_eq!((report.buckets, report.objects), (1, 2), "{report:?}");
    assert!(report.catalog_checkpoint, "the catalog came from its checkpoint: {report:?}");
    let gw = setup.start().await;
    let client_of = |v: &serde_json::Value| {
        crate::common::client_with(gw.s3_addr, v["id"].as_str().unwrap(), v["secret"].as_str().unwrap())
    };
    let (alice, bob, bob2, carol) =
        (client_of(&secrets[0]), client_of(&secrets[1]), client_of(&secrets[2]), client_of(&secrets[3]));
    let got = body_bytes(bob.get_object().bucket("team").key("doc").send().await.unwrap()).await;
    assert_eq!(got, b"team doc", "bob's read grant came back");
    let refused = bob.put_object().bucket("team").key("x").body(b"x".to_vec().into()).send().await.unwrap_err();
    assert_eq!(error_code(&refused).as_deref(), Some("AccessDenied"), "and nothing more");
    let kept = alice.get_bucket_policy().bucket("team").send().await.unwrap();
    assert_eq!(kept.policy(), Some(policy), "the bucket policy came back");
    let denied = bob.get_object().bucket("team").key("secret").send().await.unwrap_err();
    assert_eq!(error_code(&denied).as_deref(), Some("AccessDenied"), "and still denies");
    alice.put_object().bucket("team").key("new").body(b"n".to_vec().into()).send().await.expect("alice writes");
    alice.delete_object().bucket("team").key("new").send().await.expect("alice deletes");
    for (who, c) in [("bob's deleted key", &bob2), ("deleted carol's key", &carol)] {
        let e = c.list_buckets().send().await.unwrap_err();
        assert_eq!(error_code(&e).as_deref(), Some("InvalidAccessKeyId"), "{who}");
    }
    let users = admin_request(gw.admin_addr.unwrap(), "GET", "/admin/v1/users", "").await.1;
    assert!(users.contains("alice") && users.contains("bob") && !users.contains("carol"), "{users}");
    gw.shutdown().await;
}

/// Promise: a versioned bucket's history survives the loss: every version and delete marker
/// comes back with its id, its place (latest or not), its bytes and its tags (tags removed
/// before the loss stay removed); a version deleted for good stays deleted, and the bucket's
/// versioning state is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_delete_markers_survive_the_loss() {
    use crate::versioning::{get, put, set_versioning, versions};
    use aws_sdk_s3::types::BucketVersioningStatus as Status;
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("hist").send().await.unwrap();
    put(&c, "hist", "k", b"null before versioning").await;
    set_versioning(&c, "hist", Status::Enabled).await;
    let k_one = put(&c, "hist", "k", b"k one").await.unwrap();
    put(&c, "hist", "k", b"k two").await;
    let tag = |key: &'static str, version: &str, pairs: &[(&str, &str)]| {
        let set = pairs.iter().map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build().unwrap());
        let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(set.collect())).build().unwrap();
        c.put_object_tagging().bucket("hist").key(key).version_id(version).tagging(tagging).send()
    };
    tag("k", &k_one, &[("team", "blue"), ("class", "a b")]).await.unwrap();
    c.delete_object().bucket("hist").key("k").send().await.unwrap();
    let gone = put(&c, "hist", "j", b"deleted for good").await.unwrap();
    c.delete_object().bucket("hist").key("j").version_id(gone).send().await.unwrap();
    let m_one = put(&c, "hist", "m", b"m one").await.unwrap();
    tag("m", &m_one, &[("removed", "before the loss")]).await.unwrap();
    c.delete_object_tagging().bucket("hist").key("m").version_id(&m_one).send().await.unwrap();
    let m2 = put(&c, "hist", "m", b"m two").await.unwrap();
    c.delete_object().bucket("hist").key("m").version_id(m2).send().await.unwrap();
    set_versioning(&c, "hist", Status::Suspended).await;
    put(&c, "hist", "s", b"s null").await;
    let before = versions(&c, "hist", 1000).await;
    let mut bodies = Vec::new();
    for (key, id, _, marker) in &before {
        if !marker {
            bodies.push(get(&c, "hist", key, Some(id)).await.0);
        }
    }
    assert_eq!(before.len(), 6, "{before:?}");
    gw.shutdown().await;

    let report = setup.lose_and_rebuild().await;
    assert_eq!((report.buckets, report.objects), (1, 6), "{report:?}");
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    assert_eq!(versions(&c, "hist", 1000).await, before);
    let mut after = Vec::new();
    for (key, id, _, marker) in &before {
        if !marker {
            after.push(get(&c, "hist", key, Some(id)).await.0);
        }
    }
    assert!(after == bodies, "every version's bytes");
    let status = c.get_bucket_versioning().bucket("hist").send().await.unwrap();
    assert_eq!(status.status(), Some(&Status::Suspended));
    assert_eq!(get(&c, "hist", "m", None).await.0, b"m one");
    let tags = |key: &'static str, version: String| {
        let c = c.clone();
        async move {
            let out = c.get_object_tagging().bucket("hist").key(key).version_id(version).send().await.unwrap();
            out.tag_set().iter().map(|t| format!("{}={}", t.key(), t.value())).collect::<Vec<_>>()
        }
    };
    assert_eq!(tags("k", k_one).await, ["team=blue", "class=a b"], "tags as set, in order");
    assert!(tags("m", m_one).await.is_empty(), "removed tags stay removed");
    let e = c.get_object().bucket("hist").key("k").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchKey"), "still behind its delete marker");
    gw.shutdown().await;
}

/// Promise: Object Lock, lifecycle rules, bucket tags, CORS rules and ETag modes survive the
/// loss: after a
/// rebuild the bucket still has Object Lock with its default retention, a version keeps its
/// retention and legal hold, and its deletion is still refused (a lost gateway disk is no way
/// around a retention); a bucket's lifecycle rules, tags, CORS rules and ETag mode read back as
/// set (new objects get fast ETags), and those deleted or reset before the loss stay so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_and_lifecycle_survive_the_loss() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
        ObjectLockMode, ObjectLockRetentionMode, ObjectLockRule,
    };
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("vault").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let rule = ObjectLockRule::builder()
        .default_retention(DefaultRetention::builder().mode(ObjectLockRetentionMode::Compliance).days(2).build())
        .build();
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build();
    c.put_object_lock_configuration().bucket("vault").object_lock_configuration(conf).send().await.unwrap();
    let id = crate::versioning::put(&c, "vault", "k", b"kept").await.unwrap();
    let on = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::On).build();
    c.put_object_legal_hold().bucket("vault").key("k").version_id(&id).legal_hold(on).send().await.unwrap();
    let rules = lifecycle_rules();
    c.put_bucket_lifecycle_configuration().bucket("vault").lifecycle_configuration(rules.clone()).send().await.unwrap();
    c.create_bucket().bucket("unruled").send().await.unwrap();
    c.put_bucket_lifecycle_configuration()
        .bucket("unruled")
        .lifecycle_configuration(rules.clone())
        .send()
        .await
        .unwrap();
    c.delete_bucket_lifecycle().bucket("unruled").send().await.unwrap();
    let tags = |k: &str| {
        let tag = aws_sdk_s3::types::Tag::builder().key(k).value("v").build().unwrap();
        aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap()
    };
    c.put_bucket_tagging().bucket("vault").tagging(tags("cost-centre")).send().await.unwrap();
    c.put_bucket_tagging().bucket("unruled").tagging(tags("gone")).send().await.unwrap();
    c.delete_bucket_tagging().bucket("unruled").send().await.unwrap();
    let cors = aws_sdk_s3::types::CorsRule::builder().allowed_origins("*").allowed_methods("GET").build().unwrap();
    let cors = aws_sdk_s3::types::CorsConfiguration::builder().cors_rules(cors).build().unwrap();
    c.put_bucket_cors().bucket("vault").cors_configuration(cors.clone()).send().await.unwrap();
    c.put_bucket_cors().bucket("unruled").cors_configuration(cors.clone()).send().await.unwrap();
    c.delete_bucket_cors().bucket("unruled").send().await.unwrap();
    let admin = gw.admin_addr.unwrap();
    let etag = |b: &str| format!("/admin/v1/buckets/{b}/etag");
    for (b, mode) in [("vault", "fast"), ("unruled", "fast"), ("unruled", "md5")] {
        let body = format!(r#"{{"etag":"{mode}"}}"#);
        assert_eq!(crate::common::admin_request(admin, "PUT", &etag(b), &body).await.0, 200);
    }
    gw.shutdown().await;

    setup.lose_and_rebuild().await;
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    let conf = c.get_object_lock_configuration().bucket("vault").send().await.unwrap();
    let rule = conf.object_lock_configuration().and_then(|c| c.rule()).and_then(|r| r.default_retention()).cloned();
    assert_eq!(rule.map(|d| (d.mode().cloned(), d.days())), Some((Some(ObjectLockRetentionMode::Compliance), Some(2))));
    let head = c.head_object().bucket("vault").key("k").version_id(&id).send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    let e = c.delete_object().bucket("vault").key("k").version_id(&id).send().await.unwrap_err();
    assert_eq!(crate::common::error_status(&e), Some(403));
    assert_eq!(crate::versioning::get(&c, "vault", "k", Some(&id)).await.0, b"kept");
    let got = c.get_bucket_lifecycle_configuration().bucket("vault").send().await.unwrap();
    assert_eq!(got.rules(), rules.rules(), "the rules as set");
    let e = c.get_bucket_lifecycle_configuration().bucket("unruled").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchLifecycleConfiguration"), "deleted rules stay deleted");
    let kept = c.get_bucket_tagging().bucket("vault").send().await.unwrap();
    assert_eq!(
        kept.tag_set().iter().map(aws_sdk_s3::types::Tag::key).collect::<Vec<_>>(),
        ["cost-centre"],
        "bucket tags"
    );
    let e = c.get_bucket_tagging().bucket("unruled").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchTagSet"), "deleted bucket tags stay deleted");
    let kept = c.get_bucket_cors().bucket("vault").send().await.unwrap();
    assert_eq!(kept.cors_rules(), cors.cors_rules(), "CORS rules");
    let e = c.get_bucket_cors().bucket("unruled").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchCORSConfiguration"), "deleted CORS rules stay deleted");
    let admin = gw.admin_addr.unwrap();
    for (b, mode) in [("vault", "fast"), ("unruled", "md5")] {
        let (status, body) = crate::common::admin_request(admin, "GET", &etag(b), "").await;
        assert_eq!(
            (status, serde_json::from_str::<serde_json::Value>(&body).unwrap()["etag"].clone()),
            (200, mode.into())
        );
    }
    let put = c.put_object().bucket("vault").key("after").body(b"after the loss".to_vec().into());
    assert!(put.send().await.unwrap().e_tag().is_some_and(|e| e.ends_with("-1\"")), "a fast ETag");
    gw.shutdown().await;
}

/// Promise: an SSE-C object survives the loss of the metadata store like any other — its data
/// key, wrapped under the customer's key, is in the log — and after the rebuild it still opens
/// only with that key (none → 400, another → 403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_objects_survive_the_loss_and_still_need_their_key() {
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("ssec").send().await.unwrap();
    let ((key, md5), (other, other_md5)) = (crate::sse_c::test_key(0x61), crate::sse_c::test_key(0x62));
    let data = crate::common::pattern(200_000, 8);
    let put = c.put_object().bucket("ssec").key("doc").body(data.clone().into());
    let put = put.sse_customer_algorithm("AES256").sse_customer_key(&key).sse_customer_key_md5(&md5);
    put.send().await.unwrap();
    gw.shutdown().await;

    setup.lose_and_rebuild().await;
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    let get = |k: &str, m: &str| {
        c.get_object()
            .bucket("ssec")
            .key("doc")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(k)
            .sse_customer_key_md5(m)
            .send()
    };
    assert!(crate::common::body_bytes(get(&key, &md5).await.unwrap()).await == data);
    let e = get(&other, &other_md5).await.unwrap_err();
    assert_eq!(crate::common::error_status(&e), Some(403));
    let e = c.get_object().bucket("ssec").key("doc").send().await.unwrap_err();
    assert_eq!(crate::common::error_status(&e), Some(400));
    gw.shutdown().await;
}

fn lifecycle_rules() -> aws_sdk_s3::types::BucketLifecycleConfiguration {
    use aws_sdk_s3::types::{ExpirationStatus, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration};
    let rule = LifecycleRule::builder()
        .id("old-backups")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("backups/").build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).build())
        .build()
        .unwrap();
    aws_sdk_s3::types::BucketLifecycleConfiguration::builder().rules(rule).build().unwrap()
}

/// Promise: a multipart upload in progress survives the loss of the store. Its acknowledged
/// parts (the latest of each number) are listed again with their ETags, the client uploads
/// the last part and completes it, and the object reads back byte for byte with the content
/// type and metadata given at creation. An aborted upload stays gone; a completed one is the
/// object it became.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_progress_survive_the_loss_and_complete() {
    let setup = Setup::new();
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("mpb").send().await.unwrap();
    let open = c.create_multipart_upload().bucket("mpb").key("big").content_type("application/x-big");
    let open = open.metadata("m", "1").send().await.unwrap().upload_id().unwrap().to_owned();
    let (first, second, replaced) = (pattern(5 << 20, 1), pattern(5 << 20, 2), pattern(5 << 20, 3));
    upload_part(&c, "big", &open, 1, &replaced).await;
    let etag2 = upload_part(&c, "big", &open, 2, &second).await;
    let etag1 = upload_part(&c, "big", &open, 1, &first).await;
    let aborted = c.create_multipart_upload().bucket("mpb").key("other").send().await.unwrap();
    let aborted = aborted.upload_id().unwrap().to_owned();
    upload_part(&c, "other", &aborted, 1, &second).await;
    c.abort_multipart_upload().bucket("mpb").key("other").upload_id(&aborted).send().await.unwrap();
    let completed = c.create_multipart_upload().bucket("mpb").key("done").send().await.unwrap();
    let completed = completed.upload_id().unwrap().to_owned();
    let part = CompletedPart::builder().part_number(1).e_tag(upload_part(&c, "done", &completed, 1, b"d").await);
    let done = CompletedMultipartUpload::builder().parts(part.build()).build();
    let complete = c.complete_multipart_upload().bucket("mpb").key("done").upload_id(&completed);
    complete.multipart_upload(done).send().await.unwrap();
    gw.shutdown().await;

    let report = setup.lose_and_rebuild().await;
    assert_eq!((report.buckets, report.objects, report.uploads, report.repairs), (1, 1, 1, 0), "{report:?}");
    let gw = setup.start().await;
    let c = client(gw.s3_addr);
    let uploads = c.list_multipart_uploads().bucket("mpb").send().await.unwrap();
    let listed: Vec<_> = uploads.uploads().iter().map(|u| (u.key().unwrap(), u.upload_id().unwrap())).collect();
    assert_eq!(listed, [("big", open.as_str())], "only the open upload");
    let done = c.get_object().bucket("mpb").key("done").send().await.unwrap();
    assert!(body_bytes(done).await == b"d", "the completed upload is its object");
    let parts = c.list_parts().bucket("mpb").key("big").upload_id(&open).send().await.unwrap();
    let parts: Vec<_> =
        parts.parts().iter().map(|p| (p.part_number(), p.e_tag().map(str::to_owned), p.size())).collect();
    assert_eq!(parts, [(Some(1), Some(etag1.clone()), Some(5 << 20)), (Some(2), Some(etag2.clone()), Some(5 << 20))]);
    let gone = c.list_parts().bucket("mpb").key("other").upload_id(&aborted).send().await.unwrap_err();
    assert_eq!(error_code(&gone).as_deref(), Some("NoSuchUpload"), "the aborted upload stays gone");
    let last = pattern(1000, 4);
    let etag3 = upload_part(&c, "big", &open, 3, &last).await;
    let done: Vec<_> = [(1, etag1), (2, etag2), (3, etag3)]
        .into_iter()
        .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e).build())
        .collect();
    let done = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    let complete = c.complete_multipart_upload().bucket("mpb").key("big").upload_id(&open).multipart_upload(done);
    let etag = complete.send().await.unwrap().e_tag().unwrap().to_owned();
    let got = c.get_object().bucket("mpb").key("big").send().await.unwrap();
    assert_eq!((got.e_tag(), got.content_type()), (Some(etag.as_str()), Some("application/x-big")));
    assert_eq!(got.metadata().and_then(|m| m.get("m")).map(String::as_str), Some("1"));
    assert!(body_bytes(got).await == [first, second, last].concat(), "the completed object's bytes");
    gw.shutdown().await;
}

/// UploadPart of `body` as part `n` of upload `id` of `key` in bucket `mpb`; its ETag.
async fn upload_part(c: &Client, key: &str, id: &str, n: i32, body: &[u8]) -> String {
    let p = c.upload_part().bucket("mpb").key(key).upload_id(id).part_number(n).body(body.to_vec().into());
    p.send().await.unwrap().e_tag().unwrap().to_owned()
}
