//! The conformance suite every metadata engine must pass. Run by the unit tests below against
//! the memory engine, RocksDB and PostgreSQL; [`shared_suite`] adds what must hold between
//! two gateways on one shared store (PostgreSQL).

use std::sync::Arc;

use super::{AuditedChange, JobRecord, RepairTask, ReplicaMove};
use super::{
    BucketRecord, CommitOutcome, GcTask, Intent, ListEntry, ListQuery, ListStart, MetadataStore, PartRecord, PutCommit,
    UploadRecord, VersionRecord, WriteCondition,
};
use crate::keys::WrappedKey;
use crate::model::ProviderId;
use crate::model::ProviderInfo;
use crate::model::audit::{AuditEntry, GENESIS};
use crate::model::{BootId, BucketUid, ContentHeaders, ETag, StreamId, StreamManifest, UploadId, VersionUid};

fn stream(id: u8) -> StreamManifest {
    StreamManifest {
        stream_id: StreamId([id; 16]),
        part_number: 0,
        plaintext_len: 1,
        seg_log2: 16,
        salt: [0; 32],
        commit: [0; 32],
        ciphertext_sha256: [0; 32],
        replicas: vec![],
    }
}

fn version(id: u8, etag: &str) -> VersionRecord {
    VersionRecord {
        version_uid: VersionUid([id; 16]),
        seq: 0,
        size: 1,
        etag: ETag(etag.into()),
        last_modified_ms: 0,
        headers: ContentHeaders::default(),
        checksum: None,
        streams: vec![stream(id)],
        part_checksums: vec![],
        multipart: false,
        manifest_mac: [0; 32],
    }
}

fn dek() -> WrappedKey {
    WrappedKey { kek_id: "t".into(), kek_version: 1, bytes: vec![1, 2, 3] }
}

fn put(bucket: BucketUid, key: &str, v: VersionRecord, condition: WriteCondition) -> PutCommit {
    PutCommit {
        bucket,
        bucket_name: "bkt".into(),
        key: key.into(),
        intents: vec![v.streams[0].stream_id],
        version: v,
        dek: dek(),
        condition,
        repairs: vec![],
        completes_upload: None,
    }
}

/// Runs every check against `store` (which must be empty).
pub async fn suite(store: Arc<dyn MetadataStore>) {
    let b = BucketUid([1; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let created = store
        .create_bucket(BucketRecord { uid: b, name: "bkt".into(), policy_id: "p".into(), created_ms: 0 }, entry("a1"))
        .await
        .unwrap()
        .expect("created");
    assert_eq!((created.seq, created.prev_hash.as_str()), (1, GENESIS), "the bucket's audit record starts the chain");
    let again = BucketRecord { uid: BucketUid([2; 16]), name: "bkt".into(), policy_id: "p".into(), created_ms: 0 };
    assert!(store.create_bucket(again, entry("a2")).await.unwrap().is_err());
    assert_eq!(store.audit_records(0, 10).await.unwrap().len(), 1, "a refused creation writes no record");

    // Audited residency changes: applied with their record, chained, and listed as overrides.
    let de = ProviderInfo {
        id: ProviderId::parse("de").unwrap(),
        country: crate::model::CountryCode::parse("DE").unwrap(),
        operator: "o".into(),
        jurisdictions: vec![],
        exposures: vec![],
        independence_group: "o".into(),
        certifications: vec![],
        retired: true,
    };
    store.apply_change(AuditedChange::Provider(de.clone()), entry("a3")).await.unwrap().expect("applied");
    let bind = AuditedChange::BucketPolicy { bucket: "bkt".into(), policy_id: "q".into() };
    store.apply_change(bind, entry("a4")).await.unwrap().expect("applied");
    let missing = AuditedChange::BucketPolicy { bucket: "nope".into(), policy_id: "q".into() };
    assert!(store.apply_change(missing, entry("a5")).await.unwrap().is_none(), "no bucket: no change, no record");
    store.apply_change(AuditedChange::RecordOnly, entry("a6")).await.unwrap().expect("recorded");
    assert_eq!(store.catalog_overrides().await.unwrap().providers, vec![de]);
    assert_eq!(store.bucket("bkt").await.unwrap().unwrap().policy_id, "q");
    let log = store.audit_records(0, 10).await.unwrap();
    assert_eq!(log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["a1", "a3", "a4", "a6"]);
    assert!(crate::model::audit::verify(&log, Some(GENESIS)).is_empty(), "the stored chain verifies");
    assert_eq!(store.audit_records(2, 10).await.unwrap()[0].seq, 3, "paging after a sequence number");

    // Ordering and delimiter grouping, in byte order, with NUL and non-ASCII keys.
    let keys = ["a", "a/1", "a/2", "a\0z", "b", "é", "z/y/x"];
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            store.commit_put(put(b, k, version(10 + i as u8, "e"), WriteCondition::None)).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    let all = |q: ListQuery| {
        let store = Arc::clone(&store);
        async move {
            let mut out = Vec::new();
            let mut q = q;
            loop {
                let page = store.list(b, &q).await.unwrap();
                for e in &page.entries {
                    match e {
                        ListEntry::Item(k, _) => {
                            out.push(String::from_utf8_lossy(k).into_owned());
                            q.start = ListStart::AfterKey(k.clone());
                        }
                        ListEntry::Prefix(p) => {
                            out.push(format!("[{}]", String::from_utf8_lossy(p)));
                            q.start = ListStart::AfterPrefix(p.clone());
                        }
                    }
                }
                if !page.truncated {
                    return out;
                }
            }
        }
    };
    let q = |prefix: &str, delimiter: Option<&str>, max: usize| ListQuery {
        prefix: prefix.into(),
        delimiter: delimiter.map(Into::into),
        start: ListStart::Beginning,
        max,
    };
    assert_eq!(all(q("", None, 2)).await, ["a", "a\0z", "a/1", "a/2", "b", "z/y/x", "é"]);
    assert_eq!(all(q("", Some("/"), 1)).await, ["a", "a\0z", "[a/]", "b", "[z/]", "é"]);
    assert_eq!(all(q("a/", None, 1000)).await, ["a/1", "a/2"]);

    // Committed streams are scannable in id order, in pages.
    let first = store.scan_streams(None, 4).await.unwrap();
    let rest = store.scan_streams(first.last().map(|m| m.stream_id), 100).await.unwrap();
    let ids: Vec<u8> = first.iter().chain(&rest).map(|m| m.stream_id.0[0]).collect();
    assert_eq!(ids, (10..17).collect::<Vec<u8>>());

    // A commit for a bucket that is gone (or was re-created under another identity) writes nothing.
    let mut stale = put(b, "ghost", version(95, "g"), WriteCondition::None);
    stale.bucket_name = "other-bucket".into();
    assert_eq!(store.commit_put(stale).await.unwrap(), CommitOutcome::Gone);
    assert!(store.current(b, "ghost").await.unwrap().is_none());

    // Conditional commits: If-None-Match and If-Match.
    assert_eq!(
        store.commit_put(put(b, "a", version(30, "x"), WriteCondition::IfAbsent)).await.unwrap(),
        CommitOutcome::PreconditionFailed
    );
    assert_eq!(
        store.commit_put(put(b, "new", version(31, "x"), WriteCondition::IfMatch("e".into()))).await.unwrap(),
        CommitOutcome::NoSuchKey
    );
    assert_eq!(
        store.commit_put(put(b, "a", version(32, "x"), WriteCondition::IfMatch("zz".into()))).await.unwrap(),
        CommitOutcome::PreconditionFailed
    );
    assert_eq!(
        store.commit_put(put(b, "a", version(33, "y"), WriteCondition::IfMatch("\"e\"".into()))).await.unwrap(),
        CommitOutcome::Committed
    );
    // The replaced version's stream went to GC, the new one is referenced.
    let gc: Vec<StreamId> = store.gc_tasks(100).await.unwrap().iter().map(|t| t.stream_id).collect();
    assert!(gc.contains(&StreamId([10; 16])));
    assert!(store.stream_committed(StreamId([33; 16])).await.unwrap());
    assert!(!store.stream_committed(StreamId([10; 16])).await.unwrap());
    // Sequence numbers grow.
    let s1 = store.current(b, "a").await.unwrap().unwrap().seq;
    store.commit_put(put(b, "a", version(34, "w"), WriteCondition::None)).await.unwrap();
    assert!(store.current(b, "a").await.unwrap().unwrap().seq > s1);

    // Concurrent If-None-Match: exactly one winner.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            s.commit_put(put(b, "race", version(100 + i, "r"), WriteCondition::IfAbsent)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1);

    // Multipart state: parts replace, Complete removes the upload, unlisted parts go to GC.
    let up = UploadId([50; 16]);
    let rec = UploadRecord {
        upload_id: up,
        bucket_uid: b,
        key: "mp".into(),
        version_uid: VersionUid([50; 16]),
        targets: vec![],
        initiated_ms: 0,
        headers: ContentHeaders::default(),
        checksum: None,
        dek: dek(),
        write_quorum: 1,
    };
    store.create_upload(rec).await.unwrap();
    let part = |id: u8| PartRecord { stream: stream(id), md5: [0; 16], checksum: None, last_modified_ms: 0 };
    for (n, id) in [(1, 51), (2, 52), (2, 53), (3, 54)] {
        assert_eq!(store.commit_part(up, n, part(id), vec![]).await.unwrap(), CommitOutcome::Committed);
    }
    let parts = store.parts(up, 0, 100).await.unwrap();
    assert_eq!(
        parts.iter().map(|(n, p)| (*n, p.stream.stream_id.0[0])).collect::<Vec<_>>(),
        [(1, 51), (2, 53), (3, 54)]
    );
    assert_eq!(store.parts(up, 1, 1).await.unwrap().len(), 1);
    assert_eq!(store.list_uploads(b, &q("", None, 10), None).await.unwrap().entries.len(), 1);
    assert!(!store.delete_bucket("bkt").await.unwrap(), "objects and uploads keep the bucket");
    let mut v = version(50, "m-2");
    v.streams = vec![stream(51), stream(53)];
    let c = PutCommit {
        bucket: b,
        bucket_name: "bkt".into(),
        key: "mp".into(),
        version: v,
        dek: dek(),
        condition: WriteCondition::None,
        intents: vec![],
        completes_upload: Some(up),
        repairs: vec![],
    };
    assert_eq!(store.commit_put(c).await.unwrap(), CommitOutcome::Committed);
    assert!(store.upload(up).await.unwrap().is_none());
    let done = store.completed_upload(up).await.unwrap().expect("a completed upload is remembered");
    assert_eq!((done.key.as_str(), done.version_uid), ("mp", VersionUid([50; 16])));
    assert_eq!(store.expire_completed(done.completed_ms).await.unwrap(), 0, "not older than itself");
    assert_eq!(store.commit_part(up, 4, part(55), vec![]).await.unwrap(), CommitOutcome::Gone);
    let gc: Vec<StreamId> = store.gc_tasks(1000).await.unwrap().iter().map(|t| t.stream_id).collect();
    assert!(gc.contains(&StreamId([52; 16])) && gc.contains(&StreamId([54; 16])) && !gc.contains(&StreamId([51; 16])));

    // Intents: stale for another boot or when old; settled by commit; GC finishes them.
    let boot = BootId([9; 16]);
    store
        .record_intent(Intent {
            stream_id: StreamId([70; 16]),
            targets: vec![],
            boot_id: BootId([8; 16]),
            created_ms: 1_000,
        })
        .await
        .unwrap();
    store
        .record_intent(Intent { stream_id: StreamId([71; 16]), targets: vec![], boot_id: boot, created_ms: 5_000 })
        .await
        .unwrap();
    store
        .record_intent(Intent { stream_id: StreamId([72; 16]), targets: vec![], boot_id: boot, created_ms: 1_000 })
        .await
        .unwrap();
    let stale: Vec<u8> =
        store.stale_intents(vec![boot], 2_000, 10).await.unwrap().iter().map(|i| i.stream_id.0[0]).collect();
    assert_eq!(stale, [70, 72]);
    store.abandon_intents(vec![GcTask { stream_id: StreamId([71; 16]), targets: vec![] }]).await.unwrap();
    store.finish_gc(&[StreamId([70; 16]), StreamId([71; 16]), StreamId([72; 16])]).await.unwrap();
    assert!(
        store
            .stale_intents(vec![boot], i64::MAX, 10)
            .await
            .unwrap()
            .iter()
            .all(|i| i.stream_id.0[0] < 70 || i.stream_id.0[0] > 72)
    );

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
    assert_eq!(store.repairs(10).await.unwrap(), vec![later.clone()]);
    store.update_repair(later.clone(), true).await.unwrap();
    assert!(store.repairs(10).await.unwrap().is_empty());
    store.update_repair(later.clone(), false).await.unwrap();
    assert!(store.repairs(10).await.unwrap().is_empty(), "a finished task is not resurrected");
    let mut v = version(91, "r2");
    v.streams[0].replicas = vec![fr.clone()];
    let mut c = put(b, "repaired", v.clone(), WriteCondition::None);
    c.repairs = vec![RepairTask::for_stream(&v.streams[0], fr, 1, 0)];
    store.commit_put(c).await.unwrap();
    assert_eq!(store.repairs(10).await.unwrap().len(), 1);
    assert!(store.commit_delete(b, "repaired").await.unwrap());
    assert!(store.repairs(10).await.unwrap().is_empty(), "GC of the stream drops its repairs");

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
    };
    assert!(!store.move_replica(mv("de", "nl", VersionUid([9; 16])), entry("m0")).await.unwrap(), "stale version");
    assert!(!store.move_replica(mv("at", "nl", v.version_uid), entry("m1")).await.unwrap(), "not a replica");
    assert!(store.move_replica(mv("de", "nl", v.version_uid), entry("m2")).await.unwrap());
    let moved = store.current(b, "moving").await.unwrap().unwrap();
    let names: Vec<&str> = moved.streams[0].replicas.iter().map(ProviderId::as_str).collect();
    assert_eq!(names, ["nl", "fr"]);
    let scanned = store.scan_streams(None, 1000).await.unwrap();
    assert!(scanned.iter().any(|s| s.stream_id == v.streams[0].stream_id && s.replicas == moved.streams[0].replicas));
    assert_eq!(store.audit_records(0, 100).await.unwrap().last().unwrap().action, "m2");
    assert!(store.commit_delete(b, "moving").await.unwrap());

    // Verification records: per replica, dropped with the stream, refused for a gone stream.
    let mut w = version(78, "w");
    w.streams[0].replicas = vec![ProviderId::parse("de").unwrap()];
    store.commit_put(put(b, "checked", w.clone(), WriteCondition::None)).await.unwrap();
    let sid = w.streams[0].stream_id;
    store.record_verification(sid, ProviderId::parse("de").unwrap(), 42, true).await.unwrap();
    assert_eq!(store.verifications(sid).await.unwrap(), vec![(ProviderId::parse("de").unwrap(), 42, true)]);
    assert!(store.commit_delete(b, "checked").await.unwrap());
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

    // Delete: removes, queues GC; absent is fine; an emptied bucket can go.
    for k in ["a", "a/1", "a/2", "a\0z", "b", "é", "z/y/x", "race", "mp"] {
        assert!(store.commit_delete(b, k).await.unwrap(), "{k:?}");
    }
    assert!(!store.commit_delete(b, "a").await.unwrap());
    assert!(store.delete_bucket("bkt").await.unwrap());
    assert!(store.bucket("bkt").await.unwrap().is_none());
    assert!(store.scan_streams(None, 100).await.unwrap().is_empty(), "deleted streams are not scanned");
    assert_eq!(store.expire_completed(i64::MAX).await.unwrap(), 1);
    assert!(store.completed_upload(up).await.unwrap().is_none());
}

/// What must hold between two gateways `a` and `b` on one shared store (empty at the start).
pub async fn shared_suite(a: Arc<dyn MetadataStore>, b: Arc<dyn MetadataStore>) {
    let bu = BucketUid([1; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let rec = BucketRecord { uid: bu, name: "bkt".into(), policy_id: "p".into(), created_ms: 0 };
    a.create_bucket(rec.clone(), entry("create")).await.unwrap().expect("created");
    assert_eq!(b.create_bucket(rec, entry("again")).await.unwrap().err().map(|r| r.uid), Some(bu));

    // Read-after-write across gateways.
    a.commit_put(put(bu, "k", version(1, "a"), WriteCondition::None)).await.unwrap();
    assert_eq!(b.current(bu, "k").await.unwrap().map(|v| v.version_uid), Some(VersionUid([1; 16])));

    // Concurrent If-None-Match through both: exactly one winner; If-Match races likewise.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            s.commit_put(put(bu, "race", version(100 + i, "r"), WriteCondition::IfAbsent)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1, "one If-None-Match winner across gateways");
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            let cond = WriteCondition::IfMatch("\"a\"".into());
            s.commit_put(put(bu, "k", version(120 + i, &format!("\"m{i}\"")), cond)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1, "one If-Match winner across gateways");

    // The audit chain stays one chain when both append at once.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            s.apply_change(AuditedChange::RecordOnly, AuditEntry::new("t", "x", &serde_json::json!(i))).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("recorded");
    }
    let log = a.audit_records(0, 100).await.unwrap();
    assert_eq!(log.len(), 9);
    assert!(crate::model::audit::verify(&log, Some(GENESIS)).is_empty(), "one verifiable chain");

    // Repair claims: a task goes to one gateway, and to another only after the claim's lease.
    let fr = ProviderId::parse("fr").unwrap();
    let mut v = version(90, "r");
    v.streams[0].replicas = vec![fr.clone()];
    let mut c = put(bu, "repaired", v.clone(), WriteCondition::None);
    c.repairs = vec![RepairTask::for_stream(&v.streams[0], fr, 0, 1_000)];
    a.commit_put(c).await.unwrap();
    let (ca, cb) = tokio::join!(a.claim_repairs(1_000, 5_000, 10), b.claim_repairs(1_000, 5_000, 10));
    assert_eq!(ca.unwrap().len() + cb.unwrap().len(), 1, "claimed by exactly one");
    // The scrubber of the other gateway finds the replica missing meanwhile: the claim stands.
    b.queue_repair(RepairTask::for_stream(&v.streams[0], ProviderId::parse("fr").unwrap(), 0, 2_000)).await.unwrap();
    assert!(b.claim_repairs(5_999, 5_000, 10).await.unwrap().is_empty(), "a re-found replica keeps its claim");
    assert_eq!(b.claim_repairs(6_000, 5_000, 10).await.unwrap().len(), 1, "taken over after the lease");

    // Job leases: one holder at a time, renewable, free after expiry.
    let (g1, g2) = (BootId([1; 16]), BootId([2; 16]));
    assert!(a.take_lease("scrub", g1, 1_000, 10_000).await.unwrap());
    assert!(!b.take_lease("scrub", g2, 2_000, 10_000).await.unwrap(), "held by another");
    assert!(a.take_lease("scrub", g1, 5_000, 10_000).await.unwrap(), "renewed by its holder");
    assert!(!b.take_lease("scrub", g2, 14_999, 10_000).await.unwrap(), "renewal extended it");
    assert!(b.take_lease("scrub", g2, 15_000, 10_000).await.unwrap(), "free after expiry");
    assert!(a.take_lease("rotation", g1, 15_000, 10_000).await.unwrap(), "leases are per job");

    // Heartbeats: a live gateway's intents are not stale for another; a silent one's are.
    let (ga, gb, gone) = (BootId([0xA; 16]), BootId([0xB; 16]), BootId([0xC; 16]));
    a.heartbeat(ga, 100_000).await.unwrap();
    b.heartbeat(gb, 100_000).await.unwrap();
    b.heartbeat(gone, 10_000).await.unwrap();
    let mut live = a.live_boots(50_000).await.unwrap();
    live.sort();
    assert_eq!(live, [ga, gb]);
    for (id, boot) in [(1u8, gb), (2, gone)] {
        b.record_intent(Intent { stream_id: StreamId([id; 16]), targets: vec![], boot_id: boot, created_ms: 99_000 })
            .await
            .unwrap();
    }
    let mut mine = a.live_boots(50_000).await.unwrap();
    mine.push(ga);
    let stale: Vec<StreamId> = a.stale_intents(mine, 0, 10).await.unwrap().iter().map(|i| i.stream_id).collect();
    assert_eq!(stale, [StreamId([2; 16])], "only the silent gateway's intent is stale");
}

#[cfg(test)]
#[path = "../../tests/it/common/postgres.rs"]
#[allow(unreachable_pub, dead_code)] // shared with the integration tests
mod pg_server;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::KvMetadataStore;
    use crate::meta::memory::MemoryEngine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_engine_conforms() {
        suite(Arc::new(KvMetadataStore::new(MemoryEngine::default()).unwrap())).await;
    }

    async fn postgres_store(server: &super::pg_server::PgServer, db: &str, row_locks: bool) -> Arc<dyn MetadataStore> {
        let settings = crate::meta::postgres::PgSettings {
            url: server.url(db),
            password: Some(zeroize::Zeroizing::new(super::pg_server::PG_PASSWORD.into())),
            ca_file: None,
            pool_size: 8,
        };
        let engine = crate::meta::postgres::PgEngine::connect(&settings).await.unwrap();
        let engine = if row_locks { engine.with_row_locks() } else { engine };
        Arc::new(KvMetadataStore::new(engine).unwrap())
    }

    /// Both ways of locking: advisory locks (genuine PostgreSQL) and row locks (servers that
    /// only speak its protocol).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_engine_conforms_and_holds_between_gateways() {
        let server = super::pg_server::PgServer::start();
        for row_locks in [false, true] {
            let db = format!("conformance_{row_locks}");
            server.create_database(&db);
            suite(postgres_store(&server, &db, row_locks).await).await;
            // Two gateways: two pools on one database (the second also re-runs the migrations).
            let db = format!("shared_{row_locks}");
            server.create_database(&db);
            let a = postgres_store(&server, &db, row_locks).await;
            let b = postgres_store(&server, &db, row_locks).await;
            shared_suite(a, b).await;
        }
    }

    #[cfg(feature = "rocksdb")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rocksdb_engine_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::meta::rocks::RocksEngine::open(dir.path()).unwrap();
        suite(Arc::new(KvMetadataStore::new(engine).unwrap())).await;
    }
}
