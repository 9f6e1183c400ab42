//! `souverain meta verify` (issue 21): the store compared with what the providers hold. A
//! healthy deployment verifies clean; a lost replica, an orphan stream and a version the log
//! lost are each found and named; `--repair` queues what sets the replicas
//! right, and the gateway's workers carry it out (never deleting a live replica).

use std::path::{Path, PathBuf};

use souverain::app::{RunningGateway, start, verify_metadata};
use souverain::config::Config;
use souverain::metalog::verify::VerifyReport;

use crate::common::providers::is_stream_file;
use crate::common::{Providers, client, config_text, pattern, provider_files, wait_for};

/// Three providers and a RocksDB gateway configuration over them, in a directory of its own.
struct Deployment {
    // Fields drop in this order: the providers stop before their directory goes.
    providers: Providers,
    text: String,
    dir: tempfile::TempDir,
}

impl Deployment {
    fn start() -> Self {
        crate::common::init();
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers::start(dir.path());
        let text = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers);
        Self { providers, text, dir }
    }

    /// The configuration, as often as a step (gateway run or verify) needs it.
    fn config(&self) -> Config {
        Config::parse(&self.text, self.dir.path()).unwrap()
    }
}

async fn verify(config: Config, repair: bool) -> VerifyReport {
    verify_metadata(config, &[], repair, &|_, _, _| {}).await.unwrap()
}

/// The stream files under `root`.
fn streams(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> =
        provider_files(&[root.to_path_buf()]).into_iter().map(|(p, _)| p).filter(|p| is_stream_file(p)).collect();
    out.sort();
    out
}

fn counts(r: &VerifyReport) -> [usize; 6] {
    [r.missing.count, r.orphans.count, r.surplus.count, r.not_in_log.count, r.not_in_store.count, r.differ.count]
}

/// Promise: verify finds each kind of disagreement and names it, changes nothing without
/// `--repair`, and with it the missing replica is rewritten and the orphan copy is deleted by
/// the gateway, after which the replicas verify clean; a version whose log segment was lost
/// at every provider is reported as not in the log, and `--repair` logs it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_missing_and_orphan_copies_and_lost_log_and_repair_sets_them_right() {
    let deployment = Deployment::start();
    let config = || deployment.config();
    let providers = &deployment.providers;
    let gw: RunningGateway = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("bkt").send().await.unwrap();
    for i in 0..4u64 {
        c.put_object().bucket("bkt").key(format!("k{i}")).body(pattern(5_000, i).into()).send().await.unwrap();
    }
    gw.shutdown().await;
    let clean = verify(config(), false).await;
    assert_eq!(counts(&clean), [0; 6], "{clean:?}");
    assert!(clean.clean() && clean.streams == 4 && clean.log.segments > 0, "{clean:?}");

    let roots = &providers.roots;
    let (de, fr) = (streams(&roots[0]), streams(&roots[1]));
    // A replica lost at `de`; at `fr`, a copy of a stream under a name nobody knows (an orphan).
    std::fs::remove_file(&de[0]).unwrap();
    let orphan = fr[1].with_file_name("0123456789abcdef0123456789abcdef");
    std::fs::copy(&fr[1], &orphan).unwrap();
    let before_files = provider_files(roots).len();
    let found = verify(config(), false).await;
    assert_eq!(counts(&found)[..3], [1, 1, 0], "{found:?}");
    assert!(found.missing.sample[0].contains(de[0].file_name().unwrap().to_str().unwrap()), "{found:?}");
    assert!(found.orphans.sample[0].ends_with("sv1/0123456789abcdef0123456789abcdef"), "{found:?}");
    assert!(!found.clean() && (found.repairs_queued, found.deletions_queued) == (0, 0), "{found:?}");
    assert_eq!(provider_files(roots).len(), before_files, "verify without --repair changes nothing");

    let repaired = verify(config(), true).await;
    assert_eq!((repaired.repairs_queued, repaired.deletions_queued), (1, 1), "{repaired:?}");
    let gw = start(config()).await.unwrap();
    let (lost, planted) = (de[0].clone(), orphan.clone());
    wait_for("the missing replica is rewritten and the orphan deleted", 60, || {
        let (lost, planted) = (lost.clone(), planted.clone());
        async move { lost.exists() && !planted.exists() }
    })
    .await;
    gw.shutdown().await;
    let after = verify(config(), false).await;
    assert_eq!(counts(&after), [0; 6], "{after:?}");

    // The log loses the segment of the last PUT (the newest segment files) at every provider:
    // its version is only in the store now.
    lose_newest_segment(roots);
    let lost_log = verify(config(), false).await;
    assert_eq!(counts(&lost_log)[3], 1, "{lost_log:?}");
    // --repair logs it again; once a gateway ran (its writer logged it), the log has it.
    let relogged = verify(config(), true).await;
    assert_eq!(relogged.relogged, 1, "{relogged:?}");
    let gw = start(config()).await.unwrap();
    gw.shutdown().await;
    let after = verify(config(), false).await;
    assert_eq!(counts(&after), [0; 6], "{after:?}");
    assert!(after.clean(), "{after:?}");
}

/// The log segments written last (the newest `sv2/l` files), removed at every provider.
fn lose_newest_segment(roots: &[PathBuf]) {
    let newest = provider_files(roots)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.parent().is_some_and(|d| d.ends_with(Path::new("sv2").join("l"))))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let newest_name = newest.unwrap().file_name().unwrap().to_owned();
    for (p, _) in provider_files(roots) {
        if p.file_name() == Some(newest_name.as_os_str()) {
            std::fs::remove_file(p).unwrap();
        }
    }
}

/// Promise: verify compares every version with the log, not only current ones: a version that
/// became noncurrent after the log lost its entry is found (named with its version id), and
/// `--repair` logs that version again, after which everything verifies clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_noncurrent_version_the_log_lost() {
    let deployment = Deployment::start();
    let config = || deployment.config();
    let providers = &deployment.providers;
    // Each step by its own gateway run, so each is in its own log segment.
    let gw = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("hist").send().await.unwrap();
    crate::versioning::set_versioning(&c, "hist", aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
    gw.shutdown().await;
    let gw = start(config()).await.unwrap();
    let first = crate::versioning::put(&client(gw.s3_addr), "hist", "k", b"first").await.unwrap();
    gw.shutdown().await;
    lose_newest_segment(&providers.roots);
    let gw = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    crate::versioning::put(&c, "hist", "k", b"second").await.unwrap();
    c.delete_object().bucket("hist").key("k").send().await.unwrap();
    gw.shutdown().await;

    let found = verify(config(), false).await;
    assert_eq!(counts(&found), [0, 0, 0, 1, 0, 0], "{found:?}");
    assert_eq!(found.not_in_log.sample, [format!("hist/k ({first})")], "{found:?}");
    let repaired = verify(config(), true).await;
    assert_eq!(repaired.relogged, 1, "{repaired:?}");
    let gw = start(config()).await.unwrap();
    gw.shutdown().await;
    let after = verify(config(), false).await;
    assert!(after.clean(), "{after:?}");
}

/// Promise: verify compares open multipart uploads both ways. An upload whose part's log
/// segment was lost at every provider (as an upload begun before uploads were logged) is found
/// and named, and `--repair` logs it again with its parts, after which a rebuild could bring
/// it back; an upload the log still holds open after its abort was lost is named as not in
/// the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_open_uploads_the_log_lost_and_repair_logs_them_again() {
    let deployment = Deployment::start();
    let config = || deployment.config();
    let roots = &deployment.providers.roots;
    // Each step by its own gateway run, so each is in its own log segment.
    let gw = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("uploads").send().await.unwrap();
    let aborted = c.create_multipart_upload().bucket("uploads").key("gone").send().await.unwrap();
    let aborted = aborted.upload_id().unwrap().to_owned();
    let open = c.create_multipart_upload().bucket("uploads").key("k").send().await.unwrap();
    let open = open.upload_id().unwrap().to_owned();
    gw.shutdown().await;
    let gw = start(config()).await.unwrap();
    let part = client(gw.s3_addr).upload_part().bucket("uploads").key("k").upload_id(&open).part_number(1);
    part.body(pattern(1000, 3).into()).send().await.unwrap();
    gw.shutdown().await;
    lose_newest_segment(roots);
    let gw = start(config()).await.unwrap();
    client(gw.s3_addr).abort_multipart_upload().bucket("uploads").key("gone").upload_id(&aborted).send().await.unwrap();
    gw.shutdown().await;
    lose_newest_segment(roots);

    let found = verify(config(), false).await;
    assert_eq!(counts(&found), [0, 0, 0, 1, 1, 0], "{found:?}");
    assert_eq!(found.not_in_log.sample, [format!("uploads/k (upload {open})")], "{found:?}");
    assert_eq!(found.not_in_store.sample.len(), 1, "{found:?}");
    assert!(found.not_in_store.sample[0].ends_with(&format!("/gone (upload {aborted})")), "{found:?}");
    let repaired = verify(config(), true).await;
    assert_eq!(repaired.relogged, 1, "{repaired:?}");
    let gw = start(config()).await.unwrap();
    gw.shutdown().await;
    let after = verify(config(), false).await;
    assert_eq!(counts(&after), [0, 0, 0, 0, 1, 0], "only the lost abort is left: {after:?}");
}

/// Promise: a committed stream's copy at a provider outside its replica list (a surplus copy,
/// e.g. left by an interrupted evacuation) is found and named; `--repair` has the gateway delete
/// that copy only, and the object still reads back from its own replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_surplus_copy_and_repair_deletes_only_it() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let deployment = Deployment::start();
    let config = || deployment.config();
    let providers = &deployment.providers;
    let gw: RunningGateway = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    let de_only = CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from("de-only"));
    c.create_bucket().bucket("german").create_bucket_configuration(de_only.build()).send().await.unwrap();
    let data = pattern(7_000, 3);
    c.put_object().bucket("german").key("k").body(data.clone().into()).send().await.unwrap();
    gw.shutdown().await;

    let roots = &providers.roots;
    let own = streams(&roots[0]);
    assert_eq!((own.len(), streams(&roots[1]).len()), (1, 0), "one replica, in Germany only");
    let surplus = roots[1].join(own[0].strip_prefix(&roots[0]).unwrap());
    std::fs::create_dir_all(surplus.parent().unwrap()).unwrap();
    std::fs::copy(&own[0], &surplus).unwrap();
    let before_files = provider_files(roots).len();
    let found = verify(config(), false).await;
    assert_eq!(counts(&found), [0, 0, 1, 0, 0, 0], "{found:?}");
    assert!(found.surplus.sample[0].contains(own[0].file_name().unwrap().to_str().unwrap()), "{found:?}");
    assert_eq!(provider_files(roots).len(), before_files, "verify without --repair changes nothing");

    let repaired = verify(config(), true).await;
    assert_eq!((repaired.repairs_queued, repaired.deletions_queued), (0, 1), "{repaired:?}");
    let gw = start(config()).await.unwrap();
    let planted = surplus.clone();
    wait_for("the surplus copy is deleted", 60, || {
        let planted = planted.clone();
        async move { !planted.exists() }
    })
    .await;
    assert!(own[0].exists(), "the object's own replica is kept");
    let got = client(gw.s3_addr).get_object().bucket("german").key("k").send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), data.as_slice());
    gw.shutdown().await;
    let after = verify(config(), false).await;
    assert_eq!(counts(&after), [0; 6], "{after:?}");
}

/// Promise: the segments a store's index does not know (a store written before the index
/// existed) are recorded by `verify --repair`, each once, so that checkpoints can delete them
/// when they are superseded; a store whose gateway wrote every segment lacks none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_repair_records_the_segments_the_index_lacks() {
    use souverain::meta::LogMeta as _;
    let deployment = Deployment::start();
    let config = || deployment.config();
    let gw: RunningGateway = start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("old").send().await.unwrap();
    for i in 0..3u64 {
        c.put_object().bucket("old").key(format!("k{i}")).body(pattern(100, i).into()).send().await.unwrap();
    }
    gw.shutdown().await;
    let first = verify(config(), true).await;
    assert_eq!(first.indexed, 0, "the gateway indexed every segment it wrote: {first:?}");

    let engine = crate::common::open_rocks_when_released(&deployment.dir.path().join("meta")).await;
    let meta = souverain::meta::store::KvMetadataStore::new(engine).await.unwrap();
    let indexed = meta.indexed_segments(None, 10_000).await.unwrap();
    assert_eq!(indexed.len(), first.log.segments, "one record per segment");
    meta.unindex_segments(indexed.iter().map(|s| (s.scope.bucket, s.segment_id)).collect()).await.unwrap();
    drop(meta);
    let repaired = verify(config(), true).await;
    assert_eq!(repaired.indexed, first.log.segments, "{repaired:?}");
    assert_eq!(verify(config(), true).await.indexed, 0, "recorded once");
}

/// `souverain admin meta verify [args]` against the admin listener at `admin`: (exit status
/// success, the report, stderr).
async fn verify_online(admin: std::net::SocketAddr, args: &[&str]) -> (bool, serde_json::Value, String) {
    let mut all = vec!["--url".to_owned(), format!("http://{admin}"), "meta".into(), "verify".into()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let (ok, out, err) = crate::common::admin_cli(all).await;
    (ok, serde_json::from_str(&out).unwrap_or(serde_json::Value::Null), err)
}

/// Promise: a gateway running on the embedded RocksDB store (which no second process can
/// open) is verified through its admin API: `souverain admin meta verify` reports a healthy
/// deployment clean; a lost replica is found and named, with nothing changed; `--repair` queues
/// it, the running gateway rewrites it and the run's start and end are in the audit log as the
/// token's; an unknown provider is refused. The offline `meta verify` on the held store says
/// why it cannot run and what to use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_rocksdb_gateway_is_verified_through_its_admin_api() {
    let deployment = Deployment::start();
    let providers = &deployment.providers;
    let gw = crate::common::BinaryGateway::spawn(deployment.dir.path(), providers);
    let admin = gw.admin.unwrap();
    let c = client(gw.addr);
    c.create_bucket().bucket("live").send().await.unwrap();
    for i in 0..3u64 {
        c.put_object().bucket("live").key(format!("k{i}")).body(pattern(6_000, i).into()).send().await.unwrap();
    }

    let config = deployment.dir.path().join("souverain.toml");
    let offline = std::process::Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["meta", "verify", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&offline.stderr);
    assert!(!offline.status.success(), "the offline verify cannot open a held store");
    assert!(stderr.contains("directory is locked") && stderr.contains("souverain admin meta verify"), "{stderr}");

    let (ok, clean, err) = verify_online(admin, &[]).await;
    assert!(ok, "{clean} {err}");
    assert_eq!((clean["streams"].as_u64(), clean["missing"]["count"].as_u64()), (Some(3), Some(0)), "{clean}");
    assert_eq!(clean["orphans"]["count"], 0, "{clean}");

    let roots = &providers.roots;
    let lost = streams(&roots[0])[0].clone();
    std::fs::remove_file(&lost).unwrap();
    let before_files = provider_files(roots).len();
    let (ok, found, _) = verify_online(admin, &[]).await;
    assert!(!ok, "a lost replica fails the verification: {found}");
    assert_eq!(found["missing"]["count"], 1, "{found}");
    let named = found["missing"]["sample"][0].as_str().unwrap_or_default();
    assert!(named.contains(lost.file_name().unwrap().to_str().unwrap()), "{found}");
    assert_eq!(found["repairs_queued"], 0, "{found}");
    assert_eq!(provider_files(roots).len(), before_files, "verify without --repair changes nothing");
    let (status, audit) = crate::common::admin_request(admin, "GET", "/admin/v1/audit", "").await;
    assert_eq!(status, 200);
    assert!(!audit.contains("meta.verify"), "a run without --repair is not recorded: {audit}");

    let (ok, repaired, _) = verify_online(admin, &["--repair"]).await;
    assert!(!ok, "the run that queues the repair still found the loss: {repaired}");
    assert_eq!(repaired["repairs_queued"], 1, "{repaired}");
    wait_for("the running gateway rewrites the lost replica", 60, || {
        let lost = lost.clone();
        async move { lost.exists() }
    })
    .await;
    let (status, audit) = crate::common::admin_request(admin, "GET", "/admin/v1/audit", "").await;
    assert_eq!(status, 200);
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["action"] == "meta.verify")
        .collect();
    let details: Vec<serde_json::Value> =
        records.iter().map(|r| serde_json::from_str(r["detail"].as_str().unwrap()).unwrap()).collect();
    assert_eq!(records.len(), 2, "the repair run's start and end: {audit}");
    assert!(records.iter().all(|r| r["actor"] == "admin"), "recorded as the token's: {records:?}");
    assert_eq!(details[0]["phase"], "started", "{details:?}");
    assert_eq!(details[1]["phase"], "finished", "{details:?}");
    let counts = &details[1]["counts"];
    assert_eq!((counts["missing"].as_u64(), counts["repairs_queued"].as_u64()), (Some(1), Some(1)), "{details:?}");

    let (ok, after, err) = verify_online(admin, &[]).await;
    assert!(ok, "clean again once repaired: {after} {err}");
    let (ok, _, err) = verify_online(admin, &["--provider", "nowhere"]).await;
    assert!(!ok && err.contains("400") && err.contains("no provider nowhere"), "{err}");
    // The gateway still serves what it holds.
    let got = c.get_object().bucket("live").key("k0").send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(got.into_bytes().as_ref(), pattern(6_000, 0).as_slice());
}
