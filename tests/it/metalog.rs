//! The metadata log at the providers (issue 21, docs/format-v2.md): every acknowledged change
//! is in a sealed log segment at W or more of its bucket's providers before the client gets
//! its answer; a change the log cannot take is not acknowledged, and is logged once the
//! providers are back or the gateway restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use souverain::datapath::keyring::Keyring;
use souverain::datapath::segment::open_segment;
use souverain::keys::LocalKeyFile;
use souverain::keys::log_key::LogKey;
use souverain::meta::MetadataStore;
use souverain::meta::log_entry::LogEntry;

use crate::common::fault_proxy::Fault;
use crate::common::{TestGateway, client, error_status, md5_hex, provider_files, wait_for};

/// One entry as found at the providers: the entry and how many providers hold a segment with it.
struct Found {
    entry: LogEntry,
    providers: usize,
}

/// Every log entry the providers under `roots` hold, opened with the gateway's key file: a
/// keyring object opens its log key, which opens the segments (a segment that fails to open
/// fails the test).
async fn provider_log(roots: &[PathBuf], key_file: &Path) -> Vec<Found> {
    let keys = LocalKeyFile::open_or_create(key_file).unwrap();
    let files = provider_files(roots);
    let in_dir = |p: &Path, d: &str| p.parent().is_some_and(|p| p.ends_with(Path::new("sv2").join(d)));
    let mut log_keys = BTreeMap::new();
    for (_, bytes) in files.iter().filter(|(p, _)| in_dir(p, "k")) {
        let keyring = Keyring::parse(bytes).unwrap();
        let id = keyring.keyring_id;
        log_keys.insert(id, LogKey::open(&keys, keyring).await.unwrap());
    }
    // Segment name → (entries, providers holding it).
    let mut segments: BTreeMap<String, (Vec<Vec<u8>>, usize)> = BTreeMap::new();
    for (path, bytes) in files.iter().filter(|(p, _)| in_dir(p, "l")) {
        let header = souverain::datapath::segment::SegmentHeader::parse(bytes).unwrap();
        let key = log_keys.get(&header.keyring_id).expect("a segment's keyring is at its provider too");
        let entries = open_segment(key.expose(), bytes).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        segments.entry(name).or_insert((entries, 0)).1 += 1;
    }
    let mut out = Vec::new();
    for (entries, providers) in segments.into_values() {
        out.extend(entries.iter().map(|e| Found { entry: LogEntry::decode(e).unwrap(), providers }));
    }
    out
}

/// The object versions and tombstones logged for `key`: (sequence number, is a tombstone,
/// providers holding it).
fn logged_for(log: &[Found], key: &str) -> Vec<(u64, bool, usize)> {
    let mut out: Vec<(u64, bool, usize)> = log
        .iter()
        .filter_map(|f| match &f.entry {
            LogEntry::ObjectVersion(v) if v.version.key == key => Some((v.version.seq, false, f.providers)),
            LogEntry::Deleted { seq, key: k, .. } if k == key => Some((*seq, true, f.providers)),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out
}

async fn unlogged(meta: &Arc<dyn MetadataStore>) -> usize {
    meta.unlogged(0, 1000).await.unwrap().len()
}

/// Promise: when a PUT, a DELETE or a bucket creation is answered, its entry is already in a
/// sealed segment at W (2) or more of the bucket's three providers, with everything a rebuild
/// needs (name, size, ETag, metadata), in commit order, and the outbox empties; the providers
/// see neither the key nor the metadata in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_are_in_the_providers_log() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("logged").send().await.unwrap();
    let body = b"hello metadata log".to_vec();
    c.put_object()
        .bucket("logged")
        .key("docs/secret-name.txt")
        .content_type("text/plain")
        .metadata("owner", "team-confidential")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    c.put_object().bucket("logged").key("gone").body(b"x".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("logged").key("gone").send().await.unwrap();
    // Read at once: nothing may still be on its way.
    let log = provider_log(&gw.provider_dirs(), &gw.dir.path().join("kek.key")).await;
    let meta = gw.meta();
    wait_for("the logged entries leave the outbox (cleared after the answers)", 10, || {
        let meta = Arc::clone(&meta);
        async move { unlogged(&meta).await == 0 }
    })
    .await;

    let bucket = log.iter().find_map(|f| match &f.entry {
        LogEntry::Bucket(b) if b.name == "logged" => Some((b.policy.clone(), f.providers)),
        _ => None,
    });
    let (policy, held) = bucket.expect("the bucket's creation is logged");
    assert_eq!(policy, "eu-default");
    assert!(held >= 2, "at W or more providers: {held}");
    let version = log
        .iter()
        .find_map(|f| match &f.entry {
            LogEntry::ObjectVersion(v) if v.version.key == "docs/secret-name.txt" => Some(v.version.clone()),
            _ => None,
        })
        .expect("the PUT is logged");
    assert_eq!((version.size, version.etag.as_str()), (body.len() as u64, md5_hex(&body).as_str()));
    assert_eq!(version.content[0].as_deref(), Some("text/plain"));
    assert_eq!(version.user_metadata, [("owner".to_owned(), "team-confidential".to_owned())]);
    assert_eq!(version.streams.len(), 1);
    assert_eq!(version.streams[0].replicas.len(), 3);
    let gone = logged_for(&log, "gone");
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert!(!gone[0].1 && gone[1].1, "the tombstone comes after the version: {gone:?}");
    assert!(gone.iter().all(|(_, _, held)| *held >= 2), "{gone:?}");

    for (path, bytes) in provider_files(&gw.provider_dirs()) {
        for secret in [&b"secret-name"[..], b"team-confidential", b"logged"] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret), "{} shows a name in clear", path.display());
        }
    }
    gw.stop().await;
}

/// Promise: a DELETE whose log entry cannot reach W providers is not acknowledged (503), and
/// its entry stays in the outbox until the providers take it; then the tombstone is in the
/// log at W or more of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_log_cannot_take_is_not_acknowledged_and_is_logged_later() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("flaky").send().await.unwrap();
    c.put_object().bucket("flaky").key("k").body(b"data".to_vec().into()).send().await.unwrap();
    for p in &gw.providers.proxies[..2] {
        p.set_for_objects(Fault::Status(500));
    }
    let refused = c.delete_object().bucket("flaky").key("k").send().await.unwrap_err();
    assert_eq!(error_status(&refused), Some(503), "{refused:?}");
    let meta = gw.meta();
    let waiting = meta.unlogged(0, 10).await.unwrap();
    let tombstone = |e: &[u8]| matches!(LogEntry::decode(e), Ok(LogEntry::Deleted { key, .. }) if key == "k");
    assert!(waiting.iter().any(|u| tombstone(&u.entry)), "the tombstone waits in the outbox");

    for p in &gw.providers.proxies {
        p.set(Fault::None);
    }
    let meta_now = Arc::clone(&meta);
    wait_for("the outbox is logged once the providers are back", 30, || {
        let meta = Arc::clone(&meta_now);
        async move { unlogged(&meta).await == 0 }
    })
    .await;
    let log = provider_log(&gw.provider_dirs(), &gw.dir.path().join("kek.key")).await;
    let k = logged_for(&log, "k");
    assert!(k.last().is_some_and(|(_, tomb, held)| *tomb && *held >= 2), "{k:?}");
    gw.stop().await;
}

/// Promise: a change committed but not logged when the gateway stopped (a crash between the
/// commit and its segment) is logged by the next start, before anything else needs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_left_unlogged_is_logged_at_the_next_start() {
    use souverain::app::start;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = crate::common::Providers::start(dir.path());
    let text = crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers);
    let config = || souverain::config::Config::parse(&text, dir.path()).unwrap();
    let first = start(config()).await.unwrap();
    client(first.s3_addr).create_bucket().bucket("crashy").send().await.unwrap();
    client(first.s3_addr).put_object().bucket("crashy").key("k").body(b"v".to_vec().into()).send().await.unwrap();
    first.shutdown().await;

    // The commit without its segment: the store opened offline has no log writer.
    let engine = crate::common::open_rocks_when_released(&dir.path().join("meta")).await;
    let meta: Arc<dyn MetadataStore> = Arc::new(souverain::meta::store::KvMetadataStore::new(engine).await.unwrap());
    let name = souverain::model::BucketName::parse("crashy").unwrap();
    let bucket = meta.bucket(&name).await.unwrap().unwrap();
    let key = souverain::model::ObjectKey::parse("k").unwrap();
    let marker = souverain::meta::DeleteTarget::Key { marker: souverain::model::VersionUid([1; 16]), now_ms: 0 };
    assert!(meta.commit_delete(&name, bucket.uid, &key, marker).await.unwrap().removed.is_some());
    assert_eq!(meta.unlogged(0, 10).await.unwrap().len(), 1);
    drop(meta);
    let before = logged_for(&provider_log(&providers.roots, &dir.path().join("kek.key")).await, "k");
    assert!(before.iter().all(|(_, tomb, _)| !tomb), "not logged yet: {before:?}");

    let second = start(config()).await.unwrap();
    let meta = Arc::clone(&second.meta);
    wait_for("the next start logs the commit", 20, || {
        let meta = Arc::clone(&meta);
        async move { unlogged(&meta).await == 0 }
    })
    .await;
    let after = logged_for(&provider_log(&providers.roots, &dir.path().join("kek.key")).await, "k");
    assert!(after.last().is_some_and(|(_, tomb, held)| *tomb && *held >= 2), "{after:?}");
    second.shutdown().await;
}

/// The names of the log segments each provider under `roots` holds.
fn segments_at(roots: &[PathBuf]) -> Vec<std::collections::BTreeSet<String>> {
    roots
        .iter()
        .map(|root| {
            provider_files(std::slice::from_ref(root))
                .into_iter()
                .filter(|(p, _)| p.parent().is_some_and(|d| d.ends_with(Path::new("sv2").join("l"))))
                .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect()
        })
        .collect()
}

/// The value of `souverain_log_replicas_repaired_total` for `provider` and `outcome`.
fn log_repairs(metrics: &str, provider: &str, outcome: &str) -> u64 {
    let series = format!("souverain_log_replicas_repaired_total{{outcome=\"{outcome}\",provider=\"{provider}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(series.as_str())).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Promise: a log segment written while one provider of its placement refused it (acknowledged
/// at W = 2 of 3) is copied to that provider once it takes writes again, byte for byte, so the
/// log is back at N copies like the data it describes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_a_provider_missed_is_copied_to_it_once_it_is_back() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("patchy").send().await.unwrap();
    gw.providers.proxies[0].set_for_objects(Fault::Status(500));
    for i in 0..4 {
        c.put_object().bucket("patchy").key(format!("k{i}")).body(vec![i; 100].into()).send().await.unwrap();
    }
    let dirs = gw.provider_dirs();
    let before = segments_at(&dirs);
    let missed: Vec<&String> = before[1].intersection(&before[2]).filter(|s| !before[0].contains(*s)).collect();
    assert!(missed.len() >= 4, "the refusing provider missed the PUTs' segments: {before:?}");

    gw.providers.proxies[0].set(Fault::None);
    let dirs_now = dirs.clone();
    wait_for("every segment is at all three providers", 30, || {
        let dirs = dirs_now.clone();
        async move {
            let now = segments_at(&dirs);
            now[0] == now[1] && now[1] == now[2]
        }
    })
    .await;
    for name in &missed {
        let at = |i: usize| {
            std::fs::read(
                provider_files(&[dirs[i].clone()]).into_iter().find(|(p, _)| p.ends_with(name.as_str())).unwrap().0,
            )
            .unwrap()
        };
        assert!(at(0) == at(1), "{name}: the copy is the holder's bytes");
    }
    let copied = log_repairs(&gw.metrics_text().await, "local-de", "copied");
    assert!(copied >= missed.len() as u64, "copied {copied} of {}", missed.len());
    gw.stop().await;
}

/// Promise: a segment repair writes only where the segment's scope may go now: the bucket was
/// rebound to a policy of Germany only while the Dutch provider had missed its segments, so
/// they are never copied there (the tasks are dropped), however long the provider is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_repair_never_writes_outside_the_buckets_policy_now() {
    let gw = TestGateway::start_proxied().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("moved").send().await.unwrap();
    gw.providers.proxies[2].set_for_objects(Fault::Status(500));
    for i in 0..3 {
        c.put_object().bucket("moved").key(format!("k{i}")).body(vec![i; 100].into()).send().await.unwrap();
    }
    let body = r#"{"policy":"de-only"}"#;
    let (status, text) =
        crate::common::admin_request(gw.admin_addr(), "PUT", "/admin/v1/buckets/moved/policy", body).await;
    assert_eq!(status, 200, "{text}");
    let dirs = gw.provider_dirs();
    let nl_before = segments_at(&dirs)[2].clone();
    gw.providers.proxies[2].set(Fault::None);
    let admin = gw.admin_addr();
    wait_for("the Dutch provider's segment repairs are carried out", 30, || async move {
        let metrics = crate::common::raw::send(admin, "GET", "/metrics", &[("host".into(), admin.to_string())], b"")
            .await
            .expect("metrics")
            .body_text();
        log_repairs(&metrics, "local-nl", "dropped") + log_repairs(&metrics, "local-nl", "copied") >= 3
    })
    .await;
    assert_eq!(log_repairs(&gw.metrics_text().await, "local-nl", "copied"), 0, "dropped, not copied");
    assert_eq!(segments_at(&dirs)[2], nl_before, "nothing was copied to the provider the bucket left");
    gw.stop().await;
}

/// The test config's workers with checkpoints every second, of any bucket with `min_segments`
/// segments since its last one.
fn with_checkpoints(text: &str, min_segments: usize) -> String {
    let knobs =
        format!("checkpoint_interval_secs = 1\ncheckpoint_settle_secs = 1\ncheckpoint_min_segments = {min_segments}\n");
    assert!(text.contains("[workers]\n"));
    text.replace("[workers]\n", &format!("[workers]\n{knobs}"))
}

/// The bucket id of the bucket named `name` in the log (from its `Bucket` entry).
fn bucket_uid(log: &[Found], name: &str) -> Option<[u8; 16]> {
    log.iter().find_map(|f| match &f.entry {
        LogEntry::Bucket(b) if b.name == name => Some(b.uid),
        _ => None,
    })
}

/// Whether an entry speaks of bucket `uid` (its record, a version, a deletion, a checkpoint,
/// an upload).
fn of_bucket(entry: &LogEntry, uid: &[u8; 16]) -> bool {
    entry.bucket() == Some(uid)
}

/// Promise: a bucket's log does not grow with its history for ever: once it has enough
/// segments, a checkpoint writes its live state and the segments it replaces are deleted at
/// every provider, so an object deleted before it leaves nothing at the providers (neither
/// its version nor its tombstone), an overwritten version only its latest state, and a
/// deleted bucket only its deletion; a rebuild after the loss of the metadata reads the
/// checkpoint and recovers exactly what the client was told, the deleted object and bucket
/// stay deleted, and the rebuilt gateway's own checkpoints
/// replace what it was rebuilt from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_replaces_a_buckets_segments_and_a_rebuild_reads_it() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = crate::common::Providers::start(dir.path());
    let text = with_checkpoints(&crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers), 4);
    let config = || souverain::config::Config::parse(&text, dir.path()).unwrap();
    let gw = souverain::app::start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("compact").send().await.unwrap();
    for (key, body) in [("gone", "g"), ("kept", "first"), ("kept", "second"), ("third", "3")] {
        c.put_object().bucket("compact").key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    c.delete_object().bucket("compact").key("gone").send().await.unwrap();
    // A bucket that comes and goes: its log shrinks to its deletion (and its audit records).
    c.create_bucket().bucket("fleeting").send().await.unwrap();
    c.put_object().bucket("fleeting").key("brief").body(b"b".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("fleeting").key("brief").send().await.unwrap();
    c.delete_bucket().bucket("fleeting").send().await.unwrap();
    let key_file = dir.path().join("kek.key");
    let before = provider_log(&providers.roots, &key_file).await;
    assert_eq!(logged_for(&before, "kept").len(), 2, "both versions logged before the checkpoint");
    assert_eq!(logged_for(&before, "gone").len(), 2, "the version and its tombstone");
    let fleeting = bucket_uid(&before, "fleeting").unwrap();

    let (roots, kf) = (providers.roots.clone(), key_file.clone());
    wait_for("checkpoints replaced the buckets' segments", 60, || {
        let (roots, kf) = (roots.clone(), kf.clone());
        async move {
            let log = provider_log(&roots, &kf).await;
            let mut left: Vec<&str> = log
                .iter()
                .filter(|f| of_bucket(&f.entry, &fleeting))
                .map(|f| match f.entry {
                    LogEntry::Checkpoint(_) => "checkpoint",
                    LogEntry::BucketDeleted { .. } => "deleted",
                    LogEntry::Audited(_) => "audit record",
                    _ => "other",
                })
                .collect();
            left.sort_unstable();
            left.dedup();
            // Its deletion, and its history: the audit record of its creation.
            logged_for(&log, "gone").is_empty() && left == ["audit record", "checkpoint", "deleted"]
        }
    })
    .await;
    let after = provider_log(&providers.roots, &key_file).await;
    let kept = logged_for(&after, "kept");
    assert_eq!(kept.len(), 1, "only the latest state of the overwritten key: {kept:?}");
    assert_eq!(kept[0].0, logged_for(&before, "kept")[1].0, "the second version, under its own sequence number");
    assert!(kept[0].2 >= 2, "the checkpoint is at W or more providers: {kept:?}");
    let compact = bucket_uid(&before, "compact").unwrap();
    let read = checkpoint_ids(&after, &compact);
    assert_eq!(read.len(), 1, "one checkpoint of the bucket");
    let read_deleted = checkpoint_ids(&after, &fleeting);
    assert_eq!(read_deleted.len(), 1, "one of the deleted bucket");
    gw.shutdown().await;

    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();
    let options = souverain::metalog::rebuild::RebuildOptions::default();
    let report = souverain::app::rebuild_metadata(config(), &options, &|_, _, _| {}).await.unwrap();
    // Read from two checkpoints: the live bucket's, and the deleted one's deletion.
    assert_eq!((report.buckets, report.objects, report.checkpoints), (1, 2, 2), "{report:?}");
    let gw = souverain::app::start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    assert_eq!(crate::common::listed_keys(&c, "compact").await, ["kept", "third"]);
    let got = c.get_object().bucket("compact").key("kept").send().await.unwrap();
    assert_eq!(crate::common::body_bytes(got).await, b"second");
    let gone = c.get_object().bucket("compact").key("gone").send().await.unwrap_err();
    assert_eq!(crate::common::error_code(&gone).as_deref(), Some("NoSuchKey"));
    // The rebuild recorded the segments it read, so the rebuilt gateway's checkpoints go on
    // replacing them: a new checkpoint, the one read deleted (the deleted bucket's too, its
    // policy unknown to the rebuild's index: where the catalog goes).
    let (roots, kf) = (providers.roots.clone(), key_file.clone());
    wait_for("a checkpoint of the rebuilt store replaced the one it was rebuilt from", 60, || {
        let (roots, kf, read, read_deleted) = (roots.clone(), kf.clone(), read.clone(), read_deleted.clone());
        async move {
            let log = provider_log(&roots, &kf).await;
            let (now, now_deleted) = (checkpoint_ids(&log, &compact), checkpoint_ids(&log, &fleeting));
            !now.is_empty()
                && now.is_disjoint(&read)
                && !now_deleted.is_empty()
                && now_deleted.is_disjoint(&read_deleted)
        }
    })
    .await;
    gw.shutdown().await;
}

/// The ids of the checkpoints of bucket `uid` the log holds a part of.
fn checkpoint_ids(log: &[Found], uid: &[u8; 16]) -> std::collections::BTreeSet<[u8; 16]> {
    log.iter()
        .filter_map(|f| match &f.entry {
            LogEntry::Checkpoint(c) if c.bucket == *uid => Some(c.id),
            _ => None,
        })
        .collect()
}

/// Promise: once a bucket is rebound to a policy of Germany only, its log leaves the
/// providers the policy excludes: a checkpoint writes the bucket's state to its new placement
/// and every earlier segment of the bucket (its names and metadata) is deleted at the French
/// and Dutch providers, not only its data; the German provider holds the bucket's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rebinding_the_buckets_log_leaves_the_providers_its_policy_excludes() {
    // Never for its size: only because its segments are where its policy no longer allows.
    let gw = TestGateway::start_with(|t| with_checkpoints(&t, 1000)).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("moved").send().await.unwrap();
    for i in 0..3u8 {
        c.put_object().bucket("moved").key(format!("k{i}")).body(vec![i; 100].into()).send().await.unwrap();
    }
    let key_file = gw.dir.path().join("kek.key");
    let dirs = gw.provider_dirs();
    let log = provider_log(&dirs[2..], &key_file).await;
    let uid = bucket_uid(&log, "moved").expect("the bucket's record is at the Dutch provider");
    assert!(log.iter().filter(|f| of_bucket(&f.entry, &uid)).count() >= 4, "bucket and versions at NL");

    let body = r#"{"policy":"de-only"}"#;
    let (status, text) =
        crate::common::admin_request(gw.admin_addr(), "PUT", "/admin/v1/buckets/moved/policy", body).await;
    assert_eq!(status, 200, "{text}");
    let (outside, kf) = (dirs[1..].to_vec(), key_file.clone());
    wait_for("the bucket's log left France and the Netherlands", 60, || {
        let (outside, kf) = (outside.clone(), kf.clone());
        async move { !provider_log(&outside, &kf).await.iter().any(|f| of_bucket(&f.entry, &uid)) }
    })
    .await;
    let german = provider_log(&dirs[..1], &key_file).await;
    let mut keys: Vec<String> = german
        .iter()
        .filter_map(|f| match &f.entry {
            LogEntry::ObjectVersion(v) if v.version.bucket == uid => Some(v.version.key.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys, ["k0", "k1", "k2"], "the German provider holds the bucket's state");
    gw.stop().await;
}
