//! Conformance, the metadata log's outbox (docs/format-v2.md, decision 3): every commit that
//! changes what a rebuild must recover leaves its log entry in the outbox, in the same write,
//! under its commit sequence number; a refused commit leaves none.

use super::conformance::DeleteKey as _;
use super::conformance::{bucket_name, entry, key_of, put, version};
use super::log_entry::LogEntry;
use super::outbox::LogScope;
use super::{AuditedChange, BucketRecord, CommitOutcome, DekRewrap, MetadataStore, ReplicaMove};
use crate::model::{BucketUid, ProviderId, WrappedKey, WriteCondition};

/// The entries waiting now, in order: sequence number, scope, entry.
pub(super) async fn waiting(store: &dyn MetadataStore) -> Vec<(u64, LogScope, LogEntry)> {
    let all = store.unlogged(0, 100_000).await.unwrap();
    all.into_iter().map(|u| (u.seq, u.scope, LogEntry::decode(&u.entry).unwrap())).collect()
}

/// Each logged commit (bucket creation, PUT, rebinding, a catalog change, a rewrap, a replica
/// move, DELETE, bucket deletion) leaves exactly its entry, in commit order, with its scope;
/// refused commits leave nothing; logged entries leave the outbox; a KEK's log keyring is
/// stored once, first writer wins.
pub(super) async fn commits_are_logged(store: &dyn MetadataStore) {
    let earlier: Vec<u64> = waiting(store).await.iter().map(|(seq, ..)| *seq).collect();
    assert!(!earlier.is_empty(), "the earlier parts' commits are waiting too");
    store.mark_logged(earlier).await.unwrap();
    assert!(waiting(store).await.is_empty());

    let b = BucketUid([231; 16]);
    let name = bucket_name("logb");
    let rec = BucketRecord { uid: b, name: name.clone(), policy_id: "p".into(), created_ms: 7 };
    store.create_bucket(rec.clone(), None, entry("create")).await.unwrap().expect("created");
    let mut v = version(231, "e1");
    v.streams[0].replicas = vec![ProviderId::parse("de").unwrap()];
    let at = |bucket: &str| super::PutCommit {
        bucket_name: bucket_name(bucket),
        ..put(b, "k", v.clone(), WriteCondition::None)
    };
    assert_eq!(store.commit_put(at("logb")).await.unwrap(), CommitOutcome::Committed);
    let refused = super::PutCommit { condition: WriteCondition::IfAbsent, ..at("logb") };
    assert_eq!(store.commit_put(refused).await.unwrap(), CommitOutcome::PreconditionFailed);
    assert_eq!(store.commit_put(at("other")).await.unwrap(), CommitOutcome::Gone);
    let rebind = AuditedChange::BucketPolicy { bucket: "logb".into(), policy_id: "q".into() };
    store.apply_change(rebind, entry("bind")).await.unwrap().expect("bound");
    store.apply_change(AuditedChange::KekShredded { kek: "gone".into(), at_ms: 5 }, entry("shred")).await.unwrap();
    store.apply_change(AuditedChange::RecordOnly, entry("nothing")).await.unwrap();
    let new = WrappedKey { kek_id: "souverain".into(), kek_version: 2, bytes: vec![4], context: None };
    let rewrap = |expected: WrappedKey| DekRewrap::Version {
        bucket: b,
        key: "k".into(),
        version: v.version_uid,
        expected,
        new: new.clone(),
    };
    assert!(!store.rewrap_dek(rewrap(new.clone())).await.unwrap(), "not the stored wrapping");
    assert!(store.rewrap_dek(rewrap(super::conformance::dek())).await.unwrap());
    move_and_convert(store, b, &v).await;
    let current_seq = store.current(b, &key_of("k")).await.unwrap().expect("current").seq;
    assert!(store.delete_key(&name, b, &key_of("k")).await);
    assert!(!store.delete_key(&name, b, &key_of("k")).await, "nothing to delete, a tombstone again");
    assert!(store.create_bucket(rec.clone(), None, entry("again")).await.unwrap().is_err(), "exists: logged again");
    assert!(store.delete_bucket(&name).await.unwrap());

    let all = waiting(store).await;
    let all_seqs: Vec<u64> = all.iter().map(|(seq, ..)| *seq).collect();
    assert!(all_seqs.windows(2).all(|w| w[0] < w[1]), "commit order: {all_seqs:?}");
    let (audited, logged): (Vec<_>, Vec<_>) = all.into_iter().partition(|(.., e)| kind(e) == "audited");
    let seqs: Vec<u64> = logged.iter().map(|(seq, ..)| *seq).collect();
    audit_records_are_logged_in_their_scopes(store, &audited, &logged, &rec).await;
    let kinds: Vec<&str> = logged.iter().map(|(_, _, e)| kind(e)).collect();
    let expected =
        ["bucket", "version", "bucket", "catalog", "rewrapped", "version", "version", "deleted", "deleted", "bucket"];
    assert_eq!(kinds, [&expected[..], &["bucket-deleted"]].concat());
    for (seq, scope, e) in &logged {
        assert_eq!(e.seq(), *seq, "an entry carries its commit's sequence number");
        let expected = match e {
            LogEntry::Catalog { .. } => LogScope::catalog(),
            LogEntry::Bucket(_) | LogEntry::ObjectVersion(_) if *seq < seqs[2] => LogScope::bucket(&rec, None),
            _ => LogScope { policy: "q".into(), ..LogScope::bucket(&rec, None) },
        };
        assert_eq!(*scope, expected, "{e:?}");
    }
    let LogEntry::ObjectVersion(first) = &logged[1].2 else { unreachable!() };
    let first = &first.version;
    assert_eq!((first.key.as_str(), first.etag.as_str(), first.dek.kek_version), ("k", "e1", 1));
    for at in [2, 9] {
        let LogEntry::Bucket(bound) = &logged[at].2 else { unreachable!() };
        assert_eq!((bound.name.as_str(), bound.policy.as_str(), bound.created_ms), ("logb", "q", 7));
    }
    assert!(matches!(&logged[3].2, LogEntry::Catalog { name, json, .. } if name == "shredded/gone" && json == "5"));
    assert!(matches!(&logged[4].2, LogEntry::Rewrapped { dek, .. } if dek.kek_version == 2));
    let LogEntry::ObjectVersion(moved) = &logged[5].2 else { unreachable!() };
    let moved = &moved.version;
    assert_eq!((moved.streams[0].replicas.clone(), moved.dek.kek_version), (vec!["nl".to_owned()], 2));
    let LogEntry::ObjectVersion(swapped) = &logged[6].2 else { unreachable!() };
    let swapped = &swapped.version;
    assert_eq!((swapped.streams[0].stream_id, swapped.manifest_mac), ([0xcc; 16], [3; 32]));
    assert_eq!(swapped.seq, current_seq, "the store's record carries the sequence its entry has");
    assert!(matches!(&logged[7].2, LogEntry::Deleted { key, .. } if key == "k"));

    let page = store.unlogged(all_seqs[2], 2).await.unwrap();
    assert_eq!(page.iter().map(|u| u.seq).collect::<Vec<_>>(), all_seqs[3..5]);
    store.mark_logged(all_seqs[..4].to_vec()).await.unwrap();
    store.mark_logged(all_seqs[..4].to_vec()).await.unwrap();
    assert_eq!(waiting(store).await.len(), all_seqs.len() - 4, "only the logged entries leave");
    store.mark_logged(all_seqs).await.unwrap();
    assert!(waiting(store).await.is_empty());
    let gone = super::PutCommit { bucket_name: bucket_name("gone"), ..at("logb") };
    assert_eq!(store.commit_put(gone).await.unwrap(), CommitOutcome::Gone);
    assert!(!store.delete_key(&name, b, &key_of("k")).await);
    assert!(waiting(store).await.is_empty(), "nothing is logged for a bucket that is gone");

    assert_eq!(store.log_keyring("kek-a").await.unwrap(), None);
    assert_eq!(store.init_log_keyring("kek-a", vec![1]).await.unwrap(), [1]);
    assert_eq!(store.init_log_keyring("kek-a", vec![2]).await.unwrap(), [1], "the first one stays");
    assert_eq!(store.log_keyring("kek-a").await.unwrap(), Some(vec![1]));
    assert_eq!(store.log_keyring("kek-b").await.unwrap(), None);
}

/// Records a rebuild restores read back as written (bucket with its own KEK, version, data
/// key, stream index, repairs, catalog), with no outbox entry; later commits draw sequence
/// numbers above the restored floor.
pub(super) async fn restored_records_read_back(store: &dyn MetadataStore) {
    use super::restore::{RestoreBatch, RestoredVersion};
    let b = BucketUid([241; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("restored"), policy_id: "p".into(), created_ms: 3 };
    let mut v = version(241, "r1");
    v.seq = 5_000;
    let repair = super::RepairTask::for_stream(&v.streams[0], ProviderId::parse("fr").unwrap(), 9, 0);
    let policy = super::conformance::policy("restored-policy");
    let restored = restored_chain(b, store.audit_records(0, 100_000).await.unwrap().last());
    let batch = RestoreBatch {
        buckets: vec![(rec.clone(), Some("own-kek".into()))],
        versions: vec![RestoredVersion {
            bucket: b,
            key: key_of("k"),
            version: v.clone(),
            dek: super::conformance::dek(),
            repairs: vec![repair.clone()],
        }],
        catalog: vec![AuditedChange::Policy(policy)],
        access: Vec::new(),
        uploads: Vec::new(),
        audit: restored.clone(),
        seq_floor: 1_000_000,
    };
    store.restore(batch).await.unwrap();
    assert!(waiting(store).await.is_empty(), "restored records are in the log already");
    assert_eq!(store.bucket(&bucket_name("restored")).await.unwrap(), Some(rec));
    assert_eq!(store.current(b, &key_of("k")).await.unwrap(), Some(v.clone()));
    assert_eq!(store.dek(v.version_uid).await.unwrap(), Some(super::conformance::dek()));
    assert_eq!(store.stream_owner(v.streams[0].stream_id).await.unwrap(), Some(b));
    assert_eq!(store.stream_repairs(v.streams[0].stream_id).await.unwrap(), [repair]);
    let overrides = store.catalog_overrides().await.unwrap();
    assert!(overrides.policies.iter().any(|p| p.id == "restored-policy"));
    assert!(overrides.bucket_keks.contains(&(b, "own-kek".into())));
    let next = super::PutCommit {
        bucket_name: bucket_name("restored"),
        dek: WrappedKey { kek_id: "own-kek".into(), ..super::conformance::dek() },
        ..put(b, "k", version(242, "r2"), WriteCondition::None)
    };
    assert_eq!(store.commit_put(next).await.unwrap(), CommitOutcome::Committed);
    assert!(store.current(b, &key_of("k")).await.unwrap().unwrap().seq > 1_000_000, "above the restored floor");
    restored_chain_goes_on(store, b, &restored).await;
}

/// Two records as a rebuild reads them back, after `head` (the store's chain so far): one of
/// the catalog's scope, one of bucket `b`'s.
fn restored_chain(b: BucketUid, head: Option<&crate::model::audit::AuditRecord>) -> Vec<super::restore::RestoredAudit> {
    use crate::model::audit::{AuditEntry, AuditRecord, GENESIS};
    let (seq, hash) = head.map_or((1, GENESIS), |h| (h.seq + 1, h.hash.as_str()));
    let first = AuditRecord::seal(AuditEntry::new("a", "provider.update", &"p".into()), seq, 10, hash);
    let second = AuditRecord::seal(AuditEntry::new("a", "bucket.create", &"b".into()), seq + 1, 11, &first.hash);
    vec![
        super::restore::RestoredAudit { record: first, bucket: None, log_seq: 40 },
        super::restore::RestoredAudit { record: second, bucket: Some(b), log_seq: 41 },
    ]
}

/// The restored chain reads back, its bucket record is in the bucket's checkpoint state under
/// its log number, and the next audited commit chains after it.
async fn restored_chain_goes_on(store: &dyn MetadataStore, b: BucketUid, restored: &[super::restore::RestoredAudit]) {
    let first = restored[0].record.seq;
    let chain = store.audit_records(first - 1, 100).await.unwrap();
    assert_eq!(chain, [restored[0].record.clone(), restored[1].record.clone()]);
    let from = super::outbox::StateCursor { audit: true, ..Default::default() };
    let (page, _) = store.log_state_page(b, from, 100).await.unwrap();
    let expected = super::log_entry::LoggedAudit::new(41, Some(*b.as_bytes()), &restored[1].record);
    assert_eq!(page, [LogEntry::Audited(Box::new(expected))]);
    let next = store.apply_change(AuditedChange::RecordOnly, entry("after")).await.unwrap().expect("recorded");
    assert_eq!((next.seq, next.prev_hash.as_str()), (first + 2, restored[1].record.hash.as_str()));
}

/// Every audited commit logs its record in the same commit, right after the change's own
/// entry (if it has one), in the scope of the bucket it is about (as the change leaves it) or
/// the catalog's; the logged record is the chained one, and a bucket's are indexed for its
/// checkpoints.
async fn audit_records_are_logged_in_their_scopes(
    store: &dyn MetadataStore,
    audited: &[(u64, LogScope, LogEntry)],
    changes: &[(u64, LogScope, LogEntry)],
    rec: &BucketRecord,
) {
    let bound = LogScope { policy: "q".into(), ..LogScope::bucket(rec, None) };
    let expected = [
        ("create", LogScope::bucket(rec, None)),
        ("bind", bound.clone()),
        ("shred", LogScope::catalog()),
        ("nothing", LogScope::catalog()),
        ("move", bound.clone()),
        ("convert", bound),
    ];
    assert_eq!(audited.len(), expected.len(), "{audited:?}");
    let chain = store.audit_records(0, 100_000).await.unwrap();
    for ((seq, scope, e), (action, want)) in audited.iter().zip(expected) {
        let LogEntry::Audited(a) = e else { unreachable!() };
        assert_eq!((a.action.as_str(), scope), (action, &want), "{a:?}");
        assert_eq!((a.seq, a.bucket), (*seq, want.bucket.map(|b| *b.as_bytes())));
        assert!(chain.contains(&a.record()), "the logged record is the chained one: {a:?}");
        // A change's own entry (none for a record alone) is the one just before.
        let before = changes.iter().rev().find(|(s, ..)| s < seq).map(|(s, ..)| *s);
        assert!(action == "nothing" || before == Some(seq - 1), "{action}: {before:?} then {seq}");
    }
    let from = super::outbox::StateCursor { audit: true, ..Default::default() };
    let (page, _) = store.log_state_page(rec.uid, from, 100).await.unwrap();
    let scoped: Vec<&str> =
        page.iter().filter_map(|e| if let LogEntry::Audited(a) = e { Some(a.action.as_str()) } else { None }).collect();
    assert_eq!(scoped, ["create", "bind", "move", "convert"], "the bucket's records, for its checkpoints");
}

fn kind(e: &LogEntry) -> &'static str {
    match e {
        LogEntry::Bucket(_) => "bucket",
        LogEntry::BucketDeleted { .. } => "bucket-deleted",
        LogEntry::Version(_) | LogEntry::ObjectVersion(_) | LogEntry::TaggedVersion(..) => "version",
        LogEntry::VersionDeleted { .. } => "version-deleted",
        LogEntry::Deleted { .. } => "deleted",
        LogEntry::Rewrapped { .. } => "rewrapped",
        LogEntry::Catalog { .. } => "catalog",
        LogEntry::Checkpoint(_) => "checkpoint",
        LogEntry::Upload(_) => "upload",
        LogEntry::Part(_) => "part",
        LogEntry::UploadEnded { .. } => "upload-ended",
        LogEntry::Audited(_) => "audited",
    }
}

/// A rebuild's stage keeps raw pairs apart from the store's records: they read back by key
/// and in key order within a range, a write applies its puts and deletes together, and the
/// store's own records do not see them.
pub(super) async fn staged_pairs_read_back(store: &dyn MetadataStore) {
    let pairs = |ks: &[&str]| ks.iter().map(|k| (k.as_bytes().to_vec(), k.to_uppercase().into_bytes())).collect();
    store.stage_write(pairs(&["b2", "a", "b1", "c"]), Vec::new()).await.unwrap();
    let got = store.stage_get(vec![b"b1".to_vec(), b"x".to_vec()]).await.unwrap();
    assert_eq!(got, [Some(b"B1".to_vec()), None]);
    let b: Vec<(Vec<u8>, Vec<u8>)> = pairs(&["b1", "b2"]);
    assert_eq!(store.stage_scan(b"b".to_vec(), b"c".to_vec(), 10).await.unwrap(), b);
    assert_eq!(store.stage_scan(b"b".to_vec(), b"c".to_vec(), 1).await.unwrap(), b[..1]);
    store.stage_write(pairs(&["d"]), vec![b"b1".to_vec(), b"a".to_vec()]).await.unwrap();
    let all = store.stage_scan(Vec::new(), vec![0xff], 10).await.unwrap();
    assert_eq!(all, pairs(&["b2", "c", "d"]) as Vec<(Vec<u8>, Vec<u8>)>);
    assert!(store.buckets().await.unwrap().iter().all(|b| b.name.as_str() != "b2"), "not a bucket record");
    store.stage_write(Vec::new(), all.into_iter().map(|(k, _)| k).collect()).await.unwrap();
    assert!(store.stage_scan(Vec::new(), vec![0xff], 10).await.unwrap().is_empty());
}

/// A record whose log entry the providers lost is logged again as the store holds it: the
/// bucket, and the key's current version under a new sequence number that its record follows;
/// absent ones are refused.
pub(super) async fn relogged_records_are_logged_again(store: &dyn MetadataStore) {
    let b = BucketUid([232; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("relogb"), policy_id: "p".into(), created_ms: 9 };
    store.create_bucket(rec.clone(), None, entry("create")).await.unwrap().expect("created");
    let v = version(232, "e2");
    let commit =
        super::PutCommit { bucket_name: bucket_name("relogb"), ..put(b, "k", v.clone(), WriteCondition::None) };
    assert_eq!(store.commit_put(commit).await.unwrap(), CommitOutcome::Committed);
    let before = store.current(b, &key_of("k")).await.unwrap().unwrap().seq;
    store.mark_logged(waiting(store).await.iter().map(|(seq, ..)| *seq).collect()).await.unwrap();

    assert!(store.relog_version(b, &key_of("k"), None).await.unwrap());
    assert!(store.relog_bucket(&bucket_name("relogb")).await.unwrap());
    assert!(!store.relog_version(b, &key_of("absent"), None).await.unwrap());
    assert!(!store.relog_bucket(&bucket_name("no-such-bucket")).await.unwrap());
    let now = store.current(b, &key_of("k")).await.unwrap().unwrap();
    let logged = waiting(store).await;
    assert_eq!(logged.len(), 2, "{logged:?}");
    match &logged[0] {
        (seq, _, LogEntry::ObjectVersion(e)) => {
            let e = &e.version;
            assert!(*seq > before && now.seq == *seq && e.seq == *seq, "{seq} {before} {}", now.seq);
            assert_eq!((e.key.as_str(), e.version, e.etag.as_str()), ("k", v.version_uid.0, "e2"));
        }
        other => panic!("not the version: {other:?}"),
    }
    assert!(matches!(&logged[1], (_, _, LogEntry::Bucket(e)) if e.name == "relogb" && e.uid == b.0), "{logged:?}");
    store.mark_logged(logged.iter().map(|(seq, ..)| *seq).collect()).await.unwrap();
}

/// Segment repairs: queued ones are claimed once due (and not again while claimed), a requeue
/// replaces the task of the same segment and provider, finishing removes it.
pub(super) async fn segment_repairs_are_claimed_once_due(store: &dyn MetadataStore) {
    use super::outbox::LogRepairTask;
    let task = |segment: u8, provider: &str, due_ms: i64| LogRepairTask {
        segment_id: [segment; 16],
        provider: ProviderId::parse(provider).unwrap(),
        scope: LogScope::catalog(),
        holders: vec![ProviderId::parse("p-holder").unwrap()],
        due_ms,
        attempts: 0,
    };
    store.queue_log_repairs(vec![task(1, "p-a", 100), task(1, "p-b", 100), task(2, "p-a", 5_000)]).await.unwrap();
    let claimed = store.claim_log_repairs(1_000, 60_000, 10).await.unwrap();
    assert_eq!(claimed, vec![task(1, "p-a", 100), task(1, "p-b", 100)], "due ones, in key order");
    assert!(store.claim_log_repairs(2_000, 60_000, 10).await.unwrap().is_empty(), "claimed ones wait out the lease");
    let mut later = task(1, "p-a", 3_000);
    later.attempts = 1;
    store.queue_log_repairs(vec![later.clone()]).await.unwrap();
    store.finish_log_repair([1; 16], ProviderId::parse("p-b").unwrap()).await.unwrap();
    assert_eq!(store.claim_log_repairs(6_000, 60_000, 10).await.unwrap(), vec![later, task(2, "p-a", 5_000)]);
    store.finish_log_repair([1; 16], ProviderId::parse("p-a").unwrap()).await.unwrap();
    store.finish_log_repair([2; 16], ProviderId::parse("p-a").unwrap()).await.unwrap();
    assert!(store.claim_log_repairs(i64::MAX, 60_000, 10).await.unwrap().is_empty(), "finished ones are gone");
}

/// The segment index and what a checkpoint reads: records read back in scope order (the
/// catalog's first), a page after another, replaced and removed; a drawn sequence number is
/// above every commit before it and below every one after; a bucket's live state pages
/// through its versions as the entries that log them, with their data keys, each once.
pub(super) async fn checkpoints_read_the_index_and_the_state(store: &dyn MetadataStore) {
    use super::outbox::{IndexedSegment, StateCursor};
    let b = BucketUid([233; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("ckptb"), policy_id: "p".into(), created_ms: 9 };
    let indexed = |bucket: Option<BucketUid>, id: u8, max_seq: u64| IndexedSegment {
        segment_id: [id; 16],
        scope: bucket.map_or_else(LogScope::catalog, |_| LogScope::bucket(&rec, None)),
        targets: vec![ProviderId::parse("p-a").unwrap()],
        max_seq,
        bytes: 4096,
        checkpoint: None,
    };
    let all = [indexed(Some(b), 2, 7), indexed(None, 9, 3), indexed(Some(b), 1, 5)];
    store.index_segments(all.to_vec()).await.unwrap();
    let first = store.indexed_segments(None, 2).await.unwrap();
    assert_eq!(first, [all[1].clone(), all[2].clone()], "the catalog's first, then by segment id");
    let after = Some((Some(b), [1; 16]));
    assert_eq!(store.indexed_segments(after, 10).await.unwrap(), [all[0].clone()]);
    let whole = IndexedSegment { checkpoint: Some(([4; 16], 6)), ..all[2].clone() };
    store.index_segments(vec![whole.clone()]).await.unwrap();
    store.unindex_segments(vec![(None, [9; 16]), (Some(b), [2; 16]), (Some(b), [3; 16])]).await.unwrap();
    assert_eq!(store.indexed_segments(None, 10).await.unwrap(), [whole]);
    store.unindex_segments(vec![(Some(b), [1; 16])]).await.unwrap();

    store.create_bucket(rec.clone(), None, entry("create")).await.unwrap().expect("created");
    let before = waiting(store).await.iter().map(|(seq, ..)| *seq).max().unwrap_or(0);
    let drawn = store.draw_seq().await.unwrap();
    assert!(drawn > before, "{drawn} {before}");
    for (k, etag) in [("k1", "e1"), ("k2", "e2"), ("k3", "e3")] {
        let commit = super::PutCommit {
            bucket_name: bucket_name("ckptb"),
            ..put(b, k, version(233, etag), WriteCondition::None)
        };
        assert_eq!(store.commit_put(commit).await.unwrap(), CommitOutcome::Committed);
    }
    let k1 = store.current(b, &key_of("k1")).await.unwrap().unwrap();
    assert!(k1.seq > drawn, "a commit after the draw is numbered above it");
    let (page, next) = store.log_state_page(b, StateCursor::default(), 2).await.unwrap();
    let (rest, next) = store.log_state_page(b, next.expect("more"), 2).await.unwrap();
    let (noncurrent, next) = store.log_state_page(b, next.expect("the noncurrent ones"), 2).await.unwrap();
    assert!(noncurrent.is_empty(), "{noncurrent:?}");
    let (uploads, next) = store.log_state_page(b, next.expect("the uploads in progress"), 2).await.unwrap();
    assert!(uploads.is_empty(), "{uploads:?}");
    let (audit, next) = store.log_state_page(b, next.expect("the audit records"), 2).await.unwrap();
    assert!(matches!(&audit[..], [LogEntry::Audited(a)] if a.action == "create") && next.is_none(), "{audit:?}");
    let got: Vec<_> = page
        .iter()
        .chain(&rest)
        .map(|e| match e {
            LogEntry::ObjectVersion(v) => {
                (v.version.key.clone(), v.version.etag.clone(), v.version.seq, v.version.dek.clone())
            }
            other => panic!("not a version: {other:?}"),
        })
        .collect();
    assert_eq!(
        got.iter().map(|(k, e, ..)| (k.as_str(), e.as_str())).collect::<Vec<_>>(),
        [("k1", "e1"), ("k2", "e2"), ("k3", "e3")]
    );
    assert_eq!(
        (got[0].2, &got[0].3),
        (k1.seq, &(&super::conformance::dek()).into()),
        "its record's sequence number and data key"
    );
    store.mark_logged(waiting(store).await.iter().map(|(seq, ..)| *seq).collect()).await.unwrap();
}

/// An evacuation move of `v`'s stream from `de` to `nl`, then its conversion to stream
/// `cc…cc` with manifest MAC `03…03`: two commits that log the version again.
async fn move_and_convert(store: &dyn MetadataStore, b: crate::model::BucketUid, v: &super::VersionRecord) {
    let mv = ReplicaMove {
        bucket: b,
        key: "k".into(),
        version: v.version_uid,
        stream: v.streams[0].stream_id,
        from: ProviderId::parse("de").unwrap(),
        to: ProviderId::parse("nl").unwrap(),
        part: None,
    };
    assert!(store.move_replica(mv, entry("move")).await.unwrap());
    let mut converted = v.streams[0].clone();
    converted.stream_id = crate::model::StreamId([0xcc; 16]);
    // Written as a PUT writes: under an intent, into the bucket's policy.
    let intent = super::Intent {
        stream_id: converted.stream_id,
        targets: converted.replicas.clone(),
        boot_id: crate::model::BootId([0xcc; 16]),
        created_ms: 0,
    };
    store.record_intent(intent).await.unwrap();
    let buckets = store.buckets().await.unwrap();
    let policy = buckets.into_iter().find(|r| r.uid == b).unwrap().policy_id;
    let swap = super::StreamReplacement {
        bucket: b,
        key: "k".into(),
        version: v.version_uid,
        old: vec![v.streams[0].stream_id],
        new: vec![converted],
        manifest_mac: [3; 32],
        repairs: vec![],
        policy,
        delete_old_from_ms: 0,
    };
    assert!(store.replace_streams(swap, entry("convert")).await.unwrap());
}
