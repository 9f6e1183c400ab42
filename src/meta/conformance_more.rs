//! Conformance, continued: the repair queue, evacuation moves, verification records, jobs and
//! leases; commits follow the KEK a bucket was given (so crypto-shredding that KEK leaves none
//! of the bucket's objects readable); evacuation moves parts of open uploads.

use std::sync::Arc;

use super::conformance::DeleteKey as _;
use super::conformance::{bucket_name, dek, deletion_queue, entry, key_of, put, stream, upload, version};
use super::{
    AuditedChange, BucketRecord, CommitOutcome, DekRewrap, DeletionReason, JobRecord, MetadataStore, PartRecord,
    PutCommit, RepairTask, ReplicaMove, StreamReplacement,
};
use crate::model::WrappedKey;
use crate::model::WriteCondition;
use crate::model::audit::AuditEntry;
use crate::model::{BootId, BucketUid, ProviderId, StreamId, UploadId, VersionUid};

fn under(kek: &str, version: u32) -> WrappedKey {
    WrappedKey { kek_id: kek.into(), kek_version: version, bytes: vec![9, 9], context: None }
}

/// A data key wrapped under another KEK than the bucket's own is refused at commit (PUT and
/// upload creation) and nothing is written; Complete commits the upload's data key as stored
/// then, not the one it read before (a rotation may have rewrapped it meanwhile, and logged
/// the upload again with it).
pub(super) async fn commits_follow_the_bucket_kek(store: &dyn MetadataStore) {
    let b = BucketUid([201; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let bucket = BucketRecord { uid: b, name: bucket_name("kekb"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(bucket, None, entry("create")).await.unwrap().expect("created");
    let before = PutCommit { bucket_name: bucket_name("kekb"), ..put(b, "k", version(201, "e"), WriteCondition::None) };
    assert_eq!(store.commit_put(before.clone()).await.unwrap(), CommitOutcome::Committed, "no own KEK yet");
    let change = AuditedChange::BucketKek { bucket: b, kek: "own".into() };
    store.apply_change(change, entry("kek")).await.unwrap().expect("applied");

    let stale = PutCommit { bucket_name: bucket_name("kekb"), ..put(b, "k", version(202, "f"), WriteCondition::None) };
    assert_eq!(store.commit_put(stale.clone()).await.unwrap(), CommitOutcome::KekChanged("own".into()));
    let current = store.current(b, &key_of("k")).await.unwrap().expect("the earlier version");
    assert_eq!(current.version_uid, VersionUid([201; 16]), "a refused commit writes nothing");
    assert!(store.dek(VersionUid([202; 16])).await.unwrap().is_none());
    let rewrapped = PutCommit { dek: under("own", 1), ..stale };
    assert_eq!(store.commit_put(rewrapped).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.dek(VersionUid([202; 16])).await.unwrap(), Some(under("own", 1)));

    let id = UploadId([201; 16]);
    let mut up = upload(id, b, "mp");
    assert_eq!(up.dek, dek(), "the helper's key is not the bucket's");
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), Some("own".into()));
    assert!(store.upload(id).await.unwrap().is_none(), "a refused upload is not registered");
    up.dek = under("own", 1);
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), None);
    // The rotation job rewraps the open upload's key after Complete read it.
    let rewrap = DekRewrap::Upload { upload: id, expected: under("own", 1), new: under("own", 2) };
    assert!(store.rewrap_dek(rewrap).await.unwrap());
    let waiting = store.unlogged(0, 100_000).await.unwrap();
    let last = waiting.last().map(|u| super::log_entry::LogEntry::decode(&u.entry).unwrap());
    let Some(super::log_entry::LogEntry::Upload(logged)) = last else { panic!("logged again: {last:?}") };
    assert_eq!(logged.record().unwrap().dek, under("own", 2), "the upload is logged with its new wrapping");
    let mut v = version(203, "m-1");
    v.version_uid = up.version_uid;
    let complete = PutCommit {
        bucket_name: bucket_name("kekb"),
        dek: under("own", 1),
        completes_upload: Some(id),
        intents: vec![],
        ..put(b, "mp", v, WriteCondition::None)
    };
    assert_eq!(store.commit_put(complete).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.dek(up.version_uid).await.unwrap(), Some(under("own", 2)), "the upload's key as stored");
}

/// A replica of a part of an open upload moves like a version's (part record, stream manifest,
/// deletion task of the old copy, audit record and the part's log entry in one commit); refused for a part that is not
/// (or no longer) the stream named, and once the upload ended.
pub(super) async fn parts_of_open_uploads_move(store: &dyn MetadataStore) {
    let b = BucketUid([211; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let bucket = BucketRecord { uid: b, name: bucket_name("partsb"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(bucket, None, entry("create")).await.unwrap().expect("created");
    let id = UploadId([211; 16]);
    let up = upload(id, b, "mp");
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), None);
    let p = |name: &str| ProviderId::parse(name).unwrap();
    let mut part_stream = stream(211);
    part_stream.replicas = vec![p("de"), p("fr")];
    let part = PartRecord {
        stream: part_stream.clone(),
        etag_digest: [0; 16],
        checksum: None,
        last_modified_ms: 0,
        fast_etag: false,
    };
    assert_eq!(store.commit_part(id, 1, part, vec![]).await.unwrap(), CommitOutcome::Committed);
    let sid = part_stream.stream_id;
    let mv = |number: u32| ReplicaMove {
        bucket: b,
        key: "mp".into(),
        version: up.version_uid,
        stream: sid,
        from: p("de"),
        to: p("nl"),
        part: Some((id, number)),
    };
    assert!(!store.move_replica(mv(2), entry("m0")).await.unwrap(), "no such part");
    assert!(store.move_replica(mv(1), entry("m1")).await.unwrap());
    let parts = store.parts(id, 0, 10).await.unwrap();
    assert_eq!(parts[0].1.stream.replicas, [p("nl"), p("fr")]);
    assert_eq!(store.stream_manifest(sid).await.unwrap().map(|m| m.replicas), Some(vec![p("nl"), p("fr")]));
    let waiting = store.unlogged(0, 100_000).await.unwrap();
    // The part, then the move's audit record.
    let last = waiting.iter().rev().nth(1).map(|u| super::log_entry::LogEntry::decode(&u.entry).unwrap());
    let Some(super::log_entry::LogEntry::Part(logged)) = last else { panic!("the part is logged again: {last:?}") };
    assert_eq!((logged.number, logged.stream.replicas.clone()), (1, vec!["nl".to_owned(), "fr".to_owned()]));
    let deleting: Vec<_> =
        store.stream_deletions(sid).await.unwrap().into_iter().map(|t| (t.provider, t.reason)).collect();
    assert_eq!(deleting, [(p("de"), DeletionReason::Evacuated)]);
    assert!(!store.move_replica(mv(1), entry("m2")).await.unwrap(), "de no longer holds it");
    assert!(store.abort_upload(id).await.unwrap());
    let again = ReplicaMove { from: p("fr"), to: p("at"), ..mv(1) };
    assert!(!store.move_replica(again, entry("m3")).await.unwrap(), "the upload ended");
}

/// Repair queue: queued with the commit, due now, rescheduled, done; deleting the version drops its pending repairs.
pub(super) async fn repair_queue(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Repair queue: queued with the commit, due now, rescheduled, done; deleting the version
    // drops its pending repairs.
    let fr = ProviderId::parse("fr").unwrap();
    let mut v = version(90, "r");
    v.streams[0].replicas = vec![ProviderId::parse("de").unwrap(), fr.clone()];
    let task = RepairTask::for_stream(&v.streams[0], fr.clone(), 123, 1_000);
    let mut c = put(b, "repaired", v, WriteCondition::None);
    c.repairs = vec![task.clone()];
    assert_eq!(store.commit_put(c).await.unwrap(), CommitOutcome::Committed);
    assert!(store.claim_repairs(999, 60_000, 10).await.unwrap().is_empty(), "not due before its time");
    assert_eq!(store.claim_repairs(1_000, 60_000, 10).await.unwrap(), vec![task.clone()]);
    assert!(store.claim_repairs(1_000, 60_000, 10).await.unwrap().is_empty(), "claimed once");
    assert!(store.claim_repairs(60_999, 60_000, 10).await.unwrap().is_empty(), "held for the lease");
    assert_eq!(
        store.claim_repairs(61_000, 60_000, 10).await.unwrap().iter().map(|t| t.stream_id).collect::<Vec<_>>(),
        [task.stream_id],
        "handed on when the lease ends"
    );
    let mut later = task.clone();
    later.attempts = 1;
    later.due_ms = 5_000;
    store.update_repair(later.clone(), false).await.unwrap();
    assert!(store.claim_repairs(4_999, 60_000, 10).await.unwrap().is_empty());
    assert_eq!(store.repairs(None, 10).await.unwrap(), vec![later.clone()]);
    store.update_repair(later.clone(), true).await.unwrap();
    assert!(store.repairs(None, 10).await.unwrap().is_empty());
    store.update_repair(later.clone(), false).await.unwrap();
    assert!(store.repairs(None, 10).await.unwrap().is_empty(), "a finished task is not resurrected");
    let mut v = version(91, "r2");
    v.streams[0].replicas = vec![fr.clone()];
    let mut c = put(b, "repaired", v.clone(), WriteCondition::None);
    c.repairs = vec![RepairTask::for_stream(&v.streams[0], fr, 1, 0)];
    store.commit_put(c).await.unwrap();
    assert_eq!(store.repairs(None, 10).await.unwrap().len(), 1);
    assert!(store.delete_key(&bucket_name("bkt"), b, &key_of("repaired")).await);
    assert!(store.repairs(None, 10).await.unwrap().is_empty(), "GC of the stream drops its repairs");
}

/// Evacuation moves: the replica list changes with an audit record; a stale version or a provider not in the list changes nothing; then the deletion queue.
pub(super) async fn evacuation_moves(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Evacuation moves: the replica list changes with an audit record; a stale version or a
    // provider not in the list changes nothing.
    let mut v = version(77, "m");
    v.streams[0].replicas = vec![ProviderId::parse("de").unwrap(), ProviderId::parse("fr").unwrap()];
    store.commit_put(put(b, "moving", v.clone(), WriteCondition::None)).await.unwrap();
    let mv = |from: &str, to: &str, version: VersionUid| ReplicaMove {
        bucket: b,
        key: "moving".into(),
        version,
        stream: v.streams[0].stream_id,
        from: ProviderId::parse(from).unwrap(),
        to: ProviderId::parse(to).unwrap(),
        part: None,
    };
    assert!(!store.move_replica(mv("de", "nl", VersionUid([9; 16])), entry("m0")).await.unwrap(), "stale version");
    assert!(!store.move_replica(mv("at", "nl", v.version_uid), entry("m1")).await.unwrap(), "not a replica");
    assert!(store.move_replica(mv("de", "nl", v.version_uid), entry("m2")).await.unwrap());
    let moved = store.current(b, &key_of("moving")).await.unwrap().unwrap();
    let names: Vec<&str> = moved.streams[0].replicas.iter().map(ProviderId::as_str).collect();
    assert_eq!(names, ["nl", "fr"]);
    let scanned = store.scan_streams(None, 1000).await.unwrap();
    assert!(scanned.iter().any(|s| s.stream_id == v.streams[0].stream_id && s.replicas == moved.streams[0].replicas));
    assert_eq!(store.audit_records(0, 100).await.unwrap().last().unwrap().action, "m2");
    let sid = v.streams[0].stream_id;
    let queued = store.stream_deletions(sid).await.unwrap();
    assert_eq!(queued.len(), 1, "the move queues the deletion at the provider it left: {queued:?}");
    assert_eq!((queued[0].provider.as_str(), queued[0].reason), ("de", DeletionReason::Evacuated));
    // Back to `de` while its deletion is queued: refused (that deletion could remove the copy).
    assert!(!store.move_replica(mv("fr", "de", v.version_uid), entry("m3")).await.unwrap());
    // Dropping a surplus replica (the target already holds one) queues its deletion too.
    assert!(store.move_replica(mv("fr", "nl", v.version_uid), entry("m4")).await.unwrap());
    let fr = store.stream_deletions(sid).await.unwrap().into_iter().find(|t| t.provider.as_str() == "fr").unwrap();
    assert_eq!(fr.reason, DeletionReason::Surplus);
    assert!(store.delete_key(&bucket_name("bkt"), b, &key_of("moving")).await);
    let reasons: Vec<(String, DeletionReason)> =
        store.stream_deletions(sid).await.unwrap().into_iter().map(|t| (t.provider.to_string(), t.reason)).collect();
    assert_eq!(
        reasons,
        [
            ("de".into(), DeletionReason::Evacuated),
            ("fr".into(), DeletionReason::Surplus),
            ("nl".into(), DeletionReason::Unreferenced)
        ],
        "deleting the object queues its last replica and keeps the earlier decisions"
    );
    deletion_queue(store.as_ref(), b).await;
}

/// Verification records, job state and leases.
pub(super) async fn records_jobs_and_leases(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Verification records: per replica, dropped with the stream, refused for a gone stream.
    let mut w = version(78, "w");
    w.streams[0].replicas = vec![ProviderId::parse("de").unwrap()];
    store.commit_put(put(b, "checked", w.clone(), WriteCondition::None)).await.unwrap();
    let sid = w.streams[0].stream_id;
    store.record_verification(sid, ProviderId::parse("de").unwrap(), 42, true).await.unwrap();
    assert_eq!(store.verifications(sid).await.unwrap(), vec![(ProviderId::parse("de").unwrap(), 42, true)]);
    assert!(store.delete_key(&bucket_name("bkt"), b, &key_of("checked")).await);
    assert!(store.verifications(sid).await.unwrap().is_empty(), "deleted with the stream");
    store.record_verification(sid, ProviderId::parse("de").unwrap(), 43, false).await.unwrap();
    assert!(store.verifications(sid).await.unwrap().is_empty(), "not recreated for a gone stream");

    // Job state round-trips.
    assert!(store.job("evacuation").await.unwrap().is_none());
    let job = JobRecord { name: "evacuation".into(), state: "running".into(), scanned: 3, ..JobRecord::default() };
    store.put_job(job.clone()).await.unwrap();
    assert_eq!(store.job("evacuation").await.unwrap(), Some(job));

    // A store one process owns grants a job's lease to its current run: an earlier holder is
    // an earlier run of the same process.
    assert!(store.take_lease("scrub", BootId([1; 16]), 1_000, 10_000).await.unwrap());
    assert!(store.take_lease("scrub", BootId([2; 16]), 2_000, 10_000).await.unwrap() || store.is_shared());
}

/// Console sessions: stored and read back under their id, ended once (a second logout finds
/// nothing), and those issued before the cut-off removed when the next one starts.
pub(super) async fn console_sessions(store: &Arc<dyn MetadataStore>) {
    use crate::model::access::ConsoleSession;
    let session = |issued_secs| ConsoleSession { token_sha256: [9; 32], issued_secs };
    store.start_console_session([1; 32], session(100), 0).await.unwrap();
    store.start_console_session([2; 32], session(200), 0).await.unwrap();
    assert_eq!(store.console_session([1; 32]).await.unwrap(), Some(session(100)));
    assert_eq!(store.console_session([3; 32]).await.unwrap(), None);
    assert!(store.end_console_session([2; 32]).await.unwrap());
    assert!(!store.end_console_session([2; 32]).await.unwrap(), "ended once");
    assert_eq!(store.console_session([2; 32]).await.unwrap(), None);
    store.start_console_session([3; 32], session(300), 150).await.unwrap();
    assert_eq!(store.console_session([1; 32]).await.unwrap(), None, "expired, removed");
    assert_eq!(store.console_session([3; 32]).await.unwrap(), Some(session(300)));
    assert!(store.end_console_session([3; 32]).await.unwrap());
}

/// A conversion's commit (evacuation between replicas and shards): the version lists the new
/// stream with its MAC, the old stream's holders are queued for deletion and it leaves the
/// index, the new one is indexed and owned with its intent closed and its repairs queued; a
/// stale version, or a stream list that changed meanwhile, changes nothing.
pub(super) async fn stream_replacements(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    let p = |id: &str| ProviderId::parse(id).unwrap();
    let mut v = version(78, "c");
    v.streams[0].replicas = vec![p("de"), p("fr")];
    let old = v.streams[0].stream_id;
    store.commit_put(put(b, "converting", v.clone(), WriteCondition::None)).await.unwrap();
    let mut new = v.streams[0].clone();
    new.stream_id = StreamId([79; 16]);
    new.replicas = vec![p("nl"), p("at")];
    let boot = BootId([78; 16]);
    let intent =
        super::Intent { stream_id: new.stream_id, targets: new.replicas.clone(), boot_id: boot, created_ms: 0 };
    store.record_intent(intent).await.unwrap();
    let policy = store.bucket(&bucket_name("bkt")).await.unwrap().unwrap().policy_id;
    // The old copies are deleted from then on (a grace for the GETs reading them).
    let later = 4_000_000_000_000;
    let replacement = |version: VersionUid, listed: StreamId| StreamReplacement {
        bucket: b,
        key: "converting".into(),
        version,
        old: vec![listed],
        new: vec![new.clone()],
        manifest_mac: [7; 32],
        repairs: vec![RepairTask::for_stream(&new, p("at"), 1, 0)],
        policy: policy.clone(),
        delete_old_from_ms: later,
    };
    let stale = replacement(VersionUid([9; 16]), old);
    assert!(!store.replace_streams(stale, entry("c0")).await.unwrap(), "no such version");
    let other = replacement(v.version_uid, StreamId([5; 16]));
    assert!(!store.replace_streams(other, entry("c1")).await.unwrap(), "it lists another stream");
    let rebound = StreamReplacement { policy: "another".into(), ..replacement(v.version_uid, old) };
    assert!(!store.replace_streams(rebound, entry("c1")).await.unwrap(), "placed by a policy the bucket left");
    let mut swept = replacement(v.version_uid, old);
    swept.new[0].stream_id = StreamId([80; 16]);
    assert!(!store.replace_streams(swept, entry("c1")).await.unwrap(), "a new stream whose intent is gone");
    assert!(store.stream_deletions(old).await.unwrap().is_empty(), "a refusal changes nothing");
    assert_eq!(store.current(b, &key_of("converting")).await.unwrap().unwrap().streams, v.streams);
    assert!(store.replace_streams(replacement(v.version_uid, old), entry("c2")).await.unwrap());
    let now = store.current(b, &key_of("converting")).await.unwrap().unwrap();
    assert_eq!((now.streams.clone(), now.manifest_mac, now.etag.0.as_str()), (vec![new.clone()], [7; 32], "c"));
    assert_eq!(store.stream_manifest(new.stream_id).await.unwrap(), Some(new.clone()));
    assert_eq!(store.stream_owner(new.stream_id).await.unwrap(), Some(b));
    assert_eq!(store.stream_manifest(old).await.unwrap(), None, "the old stream leaves the index");
    let deleting: Vec<(String, DeletionReason, i64)> = store
        .stream_deletions(old)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.provider.to_string(), t.reason, t.due_ms))
        .collect();
    let unreferenced = DeletionReason::Unreferenced;
    assert_eq!(deleting, [("de".into(), unreferenced, later), ("fr".into(), unreferenced, later)]);
    let repairs: Vec<String> =
        store.stream_repairs(new.stream_id).await.unwrap().iter().map(|t| t.provider.to_string()).collect();
    assert_eq!(repairs, ["at"]);
    let open = store.stale_intents(vec![], i64::MAX, 100).await.unwrap();
    assert!(!open.iter().any(|i| i.stream_id == new.stream_id), "the commit closes the new stream's intent");
    assert_eq!(store.audit_records(0, 1000).await.unwrap().last().unwrap().action, "c2");
    assert!(!store.replace_streams(replacement(v.version_uid, old), entry("c3")).await.unwrap(), "done already");
    assert!(store.delete_key(&bucket_name("bkt"), b, &key_of("converting")).await);
}
