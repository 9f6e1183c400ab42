//! The conformance suite every metadata engine must pass. Run by the unit tests below against
//! the memory engine, RocksDB and PostgreSQL; [`super::conformance_shared::shared_suite`]
//! adds what must hold between two gateways on one shared store (PostgreSQL).

use std::sync::Arc;

use super::{AuditedChange, DeletionReason, DeletionTask};
use super::{
    BucketRecord, CommitOutcome, GcTask, Intent, ListEntry, ListQuery, ListStart, MetadataStore, PartRecord, PutCommit,
    UploadRecord, VersionRecord,
};
use crate::model::ProviderId;
use crate::model::ProviderInfo;
use crate::model::WrappedKey;
use crate::model::WriteCondition;
use crate::model::audit::{AuditEntry, GENESIS};
use crate::model::{
    BootId, BucketName, BucketUid, ContentHeaders, ETag, ObjectKey, StreamId, StreamManifest, UploadId, VersionUid,
};

/// A DELETE without a version id, as the contract tests make it.
#[async_trait::async_trait]
pub trait DeleteKey {
    /// Deletes `key` (a delete marker in a versioned bucket); whether a version was removed.
    async fn delete_key(&self, name: &BucketName, bucket: BucketUid, key: &ObjectKey) -> bool;
}

#[async_trait::async_trait]
impl<T: super::ObjectMeta + ?Sized> DeleteKey for T {
    async fn delete_key(&self, name: &BucketName, bucket: BucketUid, key: &ObjectKey) -> bool {
        let target = super::DeleteTarget::Key { marker: VersionUid([0xdd; 16]), now_ms: 0 };
        self.commit_delete(name, bucket, key, target).await.unwrap().removed.is_some()
    }
}

/// A replicated stream of one byte at provider `de`, its id every byte `id` (for tests).
pub(crate) fn stream(id: u8) -> StreamManifest {
    StreamManifest {
        stream_id: StreamId([id; 16]),
        part_number: 0,
        plaintext_len: 1,
        seg_log2: 16,
        salt: [0; 32],
        commit: [0; 32],
        ciphertext_check: crate::model::CiphertextCheck([0; 32]),
        replicas: vec![ProviderId::parse("de").unwrap()],
        redundancy: crate::model::Redundancy::Replicas,
    }
}

/// The streams with a deletion queued at `provider`, by their first id byte.
pub(super) async fn deleting(store: &dyn MetadataStore, provider: &str) -> Vec<u8> {
    let all = store.deletions(None, 100_000).await.unwrap();
    all.iter().filter(|t| t.provider.as_str() == provider).map(|t| t.stream_id.0[0]).collect()
}

pub(super) fn version(id: u8, etag: &str) -> VersionRecord {
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
        order: 0,
        // As the service makes it for an unversioned bucket.
        null: true,
        delete_marker: false,
        lock: crate::model::lock::VersionLock::default(),
        tags: crate::model::tagging::TagSet::default(),
    }
}

/// An upload of `key`, its version id taken from the upload id.
pub(super) fn upload(id: UploadId, bucket: BucketUid, key: &str) -> UploadRecord {
    UploadRecord {
        upload_id: id,
        bucket_uid: bucket,
        key: key.into(),
        version_uid: VersionUid(id.0),
        targets: vec![],
        initiated_ms: 0,
        headers: ContentHeaders::default(),
        checksum: None,
        dek: dek(),
        write_quorum: 1,
        lock: crate::model::lock::VersionLock::default(),
        tags: crate::model::tagging::TagSet::default(),
    }
}

/// A bucket name the tests know to be valid.
pub(super) fn bucket_name(name: &str) -> BucketName {
    BucketName::parse(name).expect("a valid test bucket name")
}

/// An object key the tests know to be valid.
pub(super) fn key_of(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("a valid test key")
}

pub(super) fn dek() -> WrappedKey {
    WrappedKey { kek_id: "t".into(), kek_version: 1, bytes: vec![1, 2, 3], context: None }
}

pub(super) fn put(bucket: BucketUid, key: &str, v: VersionRecord, condition: WriteCondition) -> PutCommit {
    PutCommit {
        bucket,
        bucket_name: bucket_name("bkt"),
        key: key_of(key),
        intents: vec![v.streams[0].stream_id],
        version: v,
        dek: dek(),
        condition,
        repairs: vec![],
        deletions: vec![],
        completes_upload: None,
    }
}

/// The deletion queue: claims with a lease, backoff, completion, a newer decision outliving an
/// older claim, and a replica that became live again never handed out.
pub(super) async fn deletion_queue(store: &dyn MetadataStore, b: BucketUid) {
    // Drain what the suite queued so far.
    for t in store.claim_deletions(i64::MAX / 2, 1, 100_000).await.unwrap() {
        store.finish_deletion(t, true).await.unwrap();
    }
    assert!(store.deletions(None, 10).await.unwrap().is_empty());
    let sid = StreamId([120; 16]);
    let pl = ProviderId::parse("pl").unwrap();
    store.queue_deletions(vec![DeletionTask::new(sid, pl.clone(), DeletionReason::Orphaned, 1_000)]).await.unwrap();
    assert!(store.claim_deletions(999, 60_000, 10).await.unwrap().is_empty(), "not due before its time");
    let claimed = store.claim_deletions(1_000, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(store.claim_deletions(30_000, 60_000, 10).await.unwrap().is_empty(), "claimed for the lease");
    // A failed attempt: rescheduled, still queued.
    let mut retry = claimed[0].clone();
    retry.attempts = 1;
    retry.due_ms = 5_000;
    store.finish_deletion(retry.clone(), false).await.unwrap();
    assert_eq!(store.deletions(None, 10).await.unwrap(), vec![retry.clone()]);
    // Decided again while a worker holds the old claim: finishing the old claim keeps it.
    let old_claim = store.claim_deletions(5_000, 60_000, 10).await.unwrap().remove(0);
    store.queue_deletions(vec![DeletionTask::new(sid, pl.clone(), DeletionReason::Misplaced, 6_000)]).await.unwrap();
    store.finish_deletion(old_claim, true).await.unwrap();
    let again = store.deletions(None, 10).await.unwrap();
    assert_eq!(again.len(), 1, "the newer decision stays queued");
    assert_eq!((again[0].reason, again[0].created_ms, again[0].generation), (DeletionReason::Misplaced, 1_000, 1));
    let last = store.claim_deletions(6_000, 60_000, 10).await.unwrap().remove(0);
    store.finish_deletion(last.clone(), true).await.unwrap();
    assert!(store.deletions(None, 10).await.unwrap().is_empty());
    store.finish_deletion(last, false).await.unwrap();
    assert!(store.deletions(None, 10).await.unwrap().is_empty(), "a finished task is not resurrected");
    // A replica committed at the provider is live: its queued deletion is dropped, not claimed.
    let mut v = version(121, "live");
    v.streams[0].replicas = vec![pl.clone()];
    let live = v.streams[0].stream_id;
    store.queue_deletions(vec![DeletionTask::new(live, pl.clone(), DeletionReason::Orphaned, 0)]).await.unwrap();
    store.commit_put(put(b, "live", v, WriteCondition::None)).await.unwrap();
    assert!(store.claim_deletions(i64::MAX / 2, 1, 10).await.unwrap().is_empty(), "a live replica is never deleted");
    assert!(store.stream_deletions(live).await.unwrap().is_empty());
    assert!(store.delete_key(&bucket_name("bkt"), b, &key_of("live")).await);
    assert_eq!(deleting(store, "pl").await, [121], "once unreferenced, it is deleted");
    // Listings page with a cursor; claims read the queue a page at a time past the engine's
    // scan batch.
    let many: Vec<DeletionTask> = (0..300u16)
        .map(|i| {
            let mut id = [200u8; 16];
            id[14..].copy_from_slice(&i.to_be_bytes());
            DeletionTask::new(StreamId(id), pl.clone(), DeletionReason::Orphaned, 0)
        })
        .collect();
    store.queue_deletions(many).await.unwrap();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store.deletions(after, 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.stream_id, last.provider.clone()));
        paged.extend(page);
    }
    assert_eq!(paged, store.deletions(None, 100_000).await.unwrap());
    assert_eq!(paged.len(), 301);
    assert_eq!(store.claim_deletions(0, 60_000, 1000).await.unwrap().len(), 300, "the new ones are due at 0");
    for t in store.claim_deletions(i64::MAX / 2, 1, 100_000).await.unwrap() {
        store.finish_deletion(t, true).await.unwrap();
    }
}

/// Runs every check against `store` (which must be empty), in order: each part builds on
/// the state the earlier ones left.
///
/// # Panics
/// When the store breaks its contract: that is how the suite reports it.
pub async fn suite(store: Arc<dyn MetadataStore>) {
    let b = BucketUid([1; 16]);
    buckets_and_audit(&store, b).await;
    listing_order(&store, b).await;
    commits(&store, b).await;
    multipart_state(&store, b).await;
    intents(&store).await;
    super::conformance_more::repair_queue(&store, b).await;
    super::conformance_more::evacuation_moves(&store, b).await;
    super::conformance_more::stream_replacements(&store, b).await;
    super::conformance_more::records_jobs_and_leases(&store, b).await;
    super::conformance_more::console_sessions(&store).await;
    deleting_everything(&store, b).await;
}

/// A one-replica policy with no constraint, named `id`.
pub(super) fn policy(id: &str) -> crate::model::ResidencyPolicy {
    crate::model::ResidencyPolicy {
        id: id.into(),
        allowed_countries: Vec::new(),
        allowed_jurisdictions: Vec::new(),
        forbid_exposures: Vec::new(),
        replicas: 1,
        write_quorum: 1,
        distinct: crate::model::Distinct::IndependenceGroup,
        min_distinct_countries: 1,
        min_distinct_operators: 1,
        required_certifications: Vec::new(),
        erasure: None,
    }
}

/// An audit entry named after its action.
pub(super) fn entry(action: &str) -> AuditEntry {
    AuditEntry::new("test", action, &serde_json::json!({ "n": action }))
}

/// A listing from the start.
pub(super) fn query(prefix: &str, delimiter: Option<&str>, max: usize) -> ListQuery {
    ListQuery { prefix: prefix.into(), delimiter: delimiter.map(Into::into), start: ListStart::Beginning, max }
}

/// The first bucket's creation starts the audit chain; audited residency changes are applied with their record, chained, and listed as overrides.
async fn buckets_and_audit(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    let created = store
        .create_bucket(
            BucketRecord { uid: b, name: bucket_name("bkt"), policy_id: "p".into(), created_ms: 0 },
            None,
            entry("a1"),
        )
        .await
        .unwrap()
        .expect("created");
    assert_eq!((created.seq, created.prev_hash.as_str()), (1, GENESIS), "the bucket's audit record starts the chain");
    let again =
        BucketRecord { uid: BucketUid([2; 16]), name: bucket_name("bkt"), policy_id: "p".into(), created_ms: 0 };
    assert!(store.create_bucket(again, None, entry("a2")).await.unwrap().is_err());
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
    assert_eq!(store.bucket(&bucket_name("bkt")).await.unwrap().unwrap().policy_id, "q");
    let log = store.audit_records(0, 10).await.unwrap();
    assert_eq!(log.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["a1", "a3", "a4", "a6"]);
    assert!(crate::model::audit::verify(&log, Some(GENESIS)).is_empty(), "the stored chain verifies");
    assert_eq!(store.audit_records(2, 10).await.unwrap()[0].seq, 3, "paging after a sequence number");
}

/// Listing: byte order and delimiter grouping with NUL and non-ASCII keys; committed streams scannable in id order, in pages.
async fn listing_order(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Ordering and delimiter grouping, in byte order, with NUL and non-ASCII keys.
    let keys = ["a", "a/1", "a/2", "a\0z", "b", "é", "z/y/x"];
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(
            store
                .commit_put(put(b, k, version(10 + u8::try_from(i).unwrap(), "e"), WriteCondition::None))
                .await
                .unwrap(),
            CommitOutcome::Committed
        );
    }
    let all = |q: ListQuery| {
        let store = Arc::clone(store);
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
    assert_eq!(all(query("", None, 2)).await, ["a", "a\0z", "a/1", "a/2", "b", "z/y/x", "é"]);
    assert_eq!(all(query("", Some("/"), 1)).await, ["a", "a\0z", "[a/]", "b", "[z/]", "é"]);
    assert_eq!(all(query("a/", None, 1000)).await, ["a/1", "a/2"]);

    // Committed streams are scannable in id order, in pages.
    let first = store.scan_streams(None, 4).await.unwrap();
    let rest = store.scan_streams(first.last().map(|m| m.stream_id), 100).await.unwrap();
    let ids: Vec<u8> = first.iter().chain(&rest).map(|m| m.stream_id.0[0]).collect();
    assert_eq!(ids, (10..17).collect::<Vec<u8>>());
}

/// Commits: refused for a gone bucket, conditional (If-None-Match, If-Match, one winner among concurrent ones), the replaced version's stream queued for deletion, sequence numbers growing.
async fn commits(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // A commit for a bucket that is gone (or was re-created under another identity) writes nothing.
    let mut stale = put(b, "ghost", version(95, "g"), WriteCondition::None);
    stale.bucket_name = bucket_name("other-bucket");
    assert_eq!(store.commit_put(stale).await.unwrap(), CommitOutcome::Gone);
    assert!(store.current(b, &key_of("ghost")).await.unwrap().is_none());

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
    // The replaced version's stream is queued for deletion at its provider, the new one is
    // referenced.
    let gc = deleting(store.as_ref(), "de").await;
    assert!(gc.contains(&10) && !gc.contains(&33));
    assert!(store.stream_manifest(StreamId([33; 16])).await.unwrap().is_some());
    assert!(store.stream_manifest(StreamId([10; 16])).await.unwrap().is_none());
    assert_eq!(store.stream_owner(StreamId([33; 16])).await.unwrap(), Some(b), "a version's stream has its bucket");
    assert_eq!(store.stream_owner(StreamId([10; 16])).await.unwrap(), None, "dropped with the stream");
    // Sequence numbers grow.
    let s1 = store.current(b, &key_of("a")).await.unwrap().unwrap().seq;
    store.commit_put(put(b, "a", version(34, "w"), WriteCondition::None)).await.unwrap();
    assert!(store.current(b, &key_of("a")).await.unwrap().unwrap().seq > s1);

    // Concurrent If-None-Match: exactly one winner.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            s.commit_put(put(b, "race", version(100 + i, "r"), WriteCondition::IfAbsent)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1);
}

/// Multipart state: parts replace, Complete removes the upload, unlisted parts go to GC.
async fn multipart_state(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Multipart state: parts replace, Complete removes the upload, unlisted parts go to GC.
    let up = UploadId([50; 16]);
    store.create_upload(upload(up, b, "mp")).await.unwrap();
    let part = |id: u8| PartRecord {
        stream: stream(id),
        etag_digest: [0; 16],
        checksum: None,
        last_modified_ms: 0,
        fast_etag: false,
    };
    for (n, id) in [(1, 51), (2, 52), (2, 53), (3, 54)] {
        assert_eq!(store.commit_part(up, n, part(id), vec![]).await.unwrap(), CommitOutcome::Committed);
    }
    assert_eq!(store.stream_owner(StreamId([51; 16])).await.unwrap(), Some(b), "a part's stream has its bucket");
    let parts = store.parts(up, 0, 100).await.unwrap();
    assert_eq!(
        parts.iter().map(|(n, p)| (*n, p.stream.stream_id.0[0])).collect::<Vec<_>>(),
        [(1, 51), (2, 53), (3, 54)]
    );
    assert_eq!(store.parts(up, 1, 1).await.unwrap().len(), 1);
    assert_eq!(store.list_uploads(b, &query("", None, 10), None).await.unwrap().entries.len(), 1);
    assert!(!store.delete_bucket(&bucket_name("bkt")).await.unwrap(), "objects and uploads keep the bucket");
    let mut v = version(50, "m-2");
    v.streams = vec![stream(51), stream(53)];
    let c = PutCommit {
        bucket: b,
        bucket_name: bucket_name("bkt"),
        key: key_of("mp"),
        version: v,
        dek: dek(),
        condition: WriteCondition::None,
        intents: vec![],
        completes_upload: Some(up),
        repairs: vec![],
        deletions: vec![],
    };
    assert_eq!(store.commit_put(c).await.unwrap(), CommitOutcome::Committed);
    assert!(store.upload(up).await.unwrap().is_none());
    let done = store.completed_upload(up).await.unwrap().expect("a completed upload is remembered");
    assert_eq!((done.key.as_str(), done.version_uid), ("mp", VersionUid([50; 16])));
    assert_eq!(store.expire_completed(done.completed_ms).await.unwrap(), 0, "not older than itself");
    assert_eq!(store.commit_part(up, 4, part(55), vec![]).await.unwrap(), CommitOutcome::Gone);
    let gc = deleting(store.as_ref(), "de").await;
    assert!(gc.contains(&52) && gc.contains(&54) && !gc.contains(&51));
}

/// Intents: stale for another boot or when old; settled by commit; abandoned ones become deletions at every target.
async fn intents(store: &Arc<dyn MetadataStore>) {
    // Intents: stale for another boot or when old; settled by commit; abandoned ones become
    // deletions at every target.
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
    let at = |p: &str| vec![ProviderId::parse(p).unwrap()];
    let abandoned = [70u8, 71, 72].map(|i| GcTask { stream_id: StreamId([i; 16]), targets: at("at") });
    store.abandon_intents(abandoned.to_vec()).await.unwrap();
    assert_eq!(deleting(store.as_ref(), "at").await, [70, 71, 72]);
    assert!(
        store
            .deletions(None, 100_000)
            .await
            .unwrap()
            .iter()
            .all(|t| t.provider.as_str() != "at" || t.reason == DeletionReason::Abandoned)
    );
    assert!(
        store
            .stale_intents(vec![boot], i64::MAX, 10)
            .await
            .unwrap()
            .iter()
            .all(|i| i.stream_id.0[0] < 70 || i.stream_id.0[0] > 72)
    );
}

/// Delete: removes, queues GC; absent is fine; an emptied bucket can go.
async fn deleting_everything(store: &Arc<dyn MetadataStore>, b: BucketUid) {
    // Delete: removes, queues GC; absent is fine; an emptied bucket can go.
    for k in ["a", "a/1", "a/2", "a\0z", "b", "é", "z/y/x", "race", "mp"] {
        assert!(store.delete_key(&bucket_name("bkt"), b, &key_of(k)).await, "{k:?}");
    }
    assert!(!store.delete_key(&bucket_name("bkt"), b, &key_of("a")).await);
    assert!(store.delete_bucket(&bucket_name("bkt")).await.unwrap());
    assert!(store.bucket(&bucket_name("bkt")).await.unwrap().is_none());
    assert!(store.scan_streams(None, 100).await.unwrap().is_empty(), "deleted streams are not scanned");
    assert_eq!(store.expire_completed(i64::MAX).await.unwrap(), 1);
    assert!(store.completed_upload(UploadId([50; 16])).await.unwrap().is_none());
    super::conformance_more::commits_follow_the_bucket_kek(store.as_ref()).await;
    super::conformance_more::parts_of_open_uploads_move(store.as_ref()).await;
    super::conformance_log::commits_are_logged(store.as_ref()).await;
    super::conformance_log::restored_records_read_back(store.as_ref()).await;
    super::conformance_log::staged_pairs_read_back(store.as_ref()).await;
    super::conformance_log::relogged_records_are_logged_again(store.as_ref()).await;
    super::conformance_log::segment_repairs_are_claimed_once_due(store.as_ref()).await;
    super::conformance_log::checkpoints_read_the_index_and_the_state(store.as_ref()).await;
    super::conformance_uploads::upload_commits_are_logged(store.as_ref()).await;
    super::conformance_uploads::restored_uploads_go_on(store.as_ref()).await;
    super::conformance_uploads::checkpoint_state_carries_open_uploads(store.as_ref()).await;
    super::conformance_access::users_keys_and_grants(store.as_ref()).await;
    super::conformance_versions::versions_and_markers(store.as_ref()).await;
    // Last: it adds a user, a provider and a policy the parts above do not expect.
    super::conformance_catalog::catalog_state_is_what_the_log_says(store.as_ref()).await;
}

#[cfg(test)]
#[path = "../../tests/it/common/postgres.rs"]
#[allow(unreachable_pub, dead_code)] // shared with the integration tests
mod pg_server;

#[cfg(test)]
#[path = "conformance_tests.rs"]
mod tests;
