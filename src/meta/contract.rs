//! The metadata store contract, in seven parts by what each serves; [`MetadataStore`] is all
//! of them, and one implementation ([`super::KvMetadataStore`]) holds them over any engine.

use async_trait::async_trait;

use super::outbox::{LogSink, Unlogged};
use super::{
    AuditedChange, BucketRecord, CatalogOverrides, CommitOutcome, CompletedUpload, DekRewrap, DeleteOutcome,
    DeleteTarget, DeletionTask, GcTask, Intent, JobRecord, ListPage, ListQuery, MetaError, PartRecord, PutCommit,
    RepairTask, ReplicaCursor, ReplicaMove, StreamReplacement, UploadRecord, VersionEntry, VersionRecord,
};
use super::{LockChange, LockTarget, LockUpdate};
use crate::model::WrappedKey;
use crate::model::access::{
    AccessKeyRecord, AdminTokenRecord, ConsoleSession, Perms, PublicAccessBlock, UserName, UserRecord,
};
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::lock::LockConfig;
use crate::model::{
    BootId, BucketName, BucketUid, ObjectKey, ProviderId, StreamId, StreamManifest, UploadId, VersionRef, VersionUid,
    Versioning,
};

/// The metadata store contract. Every mutation is atomic and durable (fsynced) before it
/// returns; a cancelled call either happened entirely or not at all.
pub trait MetadataStore:
    ObjectMeta + UploadMeta + ReplicaMeta + AdminMeta + AccessMeta + ClusterMeta + LogMeta + Send + Sync + 'static
{
}

impl<T: ObjectMeta + UploadMeta + ReplicaMeta + AdminMeta + AccessMeta + ClusterMeta + LogMeta + Send + Sync + 'static>
    MetadataStore for T
{
}

/// Buckets, object versions and the commits that make writes visible.
#[async_trait]
pub trait ObjectMeta: Send + Sync {
    /// All buckets, by name.
    async fn buckets(&self) -> Result<Vec<BucketRecord>, MetaError>;
    /// One bucket.
    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>, MetaError>;
    /// Creates the bucket unless one of that name exists (returns the existing one then, logged
    /// again), with the audit record of its placement decision in the same write, and `owner`
    /// (its creator, if a user) granted every permission on it.
    async fn create_bucket(
        &self,
        rec: BucketRecord,
        owner: Option<UserName>,
        audit: AuditEntry,
    ) -> Result<Result<AuditRecord, BucketRecord>, MetaError>;
    /// Deletes the bucket, and every grant on it, if it holds no version of any object (a
    /// delete marker counts); its unfinished multipart uploads are aborted with it (their
    /// parts go to GC). Ok(false) if not empty.
    async fn delete_bucket(&self, name: &BucketName) -> Result<bool, MetaError>;
    /// The current version of a key: its latest, if that holds data (not a delete marker).
    async fn current(&self, bucket: BucketUid, key: &ObjectKey) -> Result<Option<VersionRecord>, MetaError>;
    /// The latest version of a key, a delete marker included.
    async fn latest(&self, bucket: BucketUid, key: &ObjectKey) -> Result<Option<VersionRecord>, MetaError>;
    /// One version of a key, by the id S3 showed (or `null`).
    async fn version(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version: VersionRef,
    ) -> Result<Option<VersionRecord>, MetaError>;
    /// The bucket's versioning state.
    async fn versioning(&self, bucket: BucketUid) -> Result<Versioning, MetaError>;
    /// The bucket's Object Lock configuration, if Object Lock is enabled.
    async fn lock_config(&self, bucket: BucketUid) -> Result<Option<LockConfig>, MetaError>;
    /// The bucket's lifecycle configuration, if one is set.
    async fn lifecycle(&self, bucket: BucketUid)
    -> Result<Option<crate::model::lifecycle::LifecycleConfig>, MetaError>;
    /// The bucket's tags, if it has any (PutBucketTagging).
    async fn bucket_tags(&self, bucket: BucketUid) -> Result<Option<crate::model::tagging::TagSet>, MetaError>;
    /// The bucket's CORS configuration, if it has one (PutBucketCors).
    async fn bucket_cors(&self, bucket: BucketUid) -> Result<Option<crate::model::cors::CorsConfig>, MetaError>;
    /// How the bucket's new objects get their ETag (MD5 unless set otherwise).
    async fn etag_mode(&self, bucket: BucketUid) -> Result<crate::model::EtagMode, MetaError>;
    /// Changes the Object Lock state of a version of `key` (the current one if `version` is
    /// `None`) in the bucket `name` (if it still has identity `bucket`), with its audit record
    /// and its log entry (the version logged again), unless the change would shorten or remove
    /// a retention that [`crate::model::lock::may_set_retention`] keeps.
    async fn set_version_lock(
        &self,
        target: LockTarget,
        change: LockChange,
        bypass_governance: bool,
        audit: AuditEntry,
    ) -> Result<LockUpdate, MetaError>;
    /// Replaces the tags of a version of `key` (the current one if `version` is `None`) in the
    /// bucket `name` (if it still has identity `bucket`), logging the version again; never
    /// [`LockUpdate::Denied`].
    async fn set_version_tags(
        &self,
        target: LockTarget,
        tags: crate::model::tagging::TagSet,
    ) -> Result<LockUpdate, MetaError>;
    /// A version's wrapped DEK.
    async fn dek(&self, version: VersionUid) -> Result<Option<WrappedKey>, MetaError>;
    /// Durable before the first byte goes to a provider.
    async fn record_intent(&self, intent: Intent) -> Result<(), MetaError>;
    /// Drops intents whose streams went to GC instead (failed uploads): one atomic write.
    async fn abandon_intents(&self, streams: Vec<GcTask>) -> Result<(), MetaError>;
    /// The visibility point of a PUT, copy or CompleteMultipartUpload: the version becomes the
    /// key's latest; the one it replaces becomes noncurrent (versioning enabled) or is deleted
    /// with its streams queued for GC (the `null` version, when the bucket writes `null` ones).
    /// The commit sets the version's order (and `seq`).
    async fn commit_put(&self, c: PutCommit) -> Result<CommitOutcome, MetaError>;
    /// A DELETE of `key` in the bucket `name` (if it still has identity `bucket`), see
    /// [`DeleteTarget`]; a deleted version's streams are queued for GC. Logs a tombstone or the
    /// marker either way (while the bucket exists): a retried DELETE is logged again.
    async fn commit_delete(
        &self,
        name: &BucketName,
        bucket: BucketUid,
        key: &ObjectKey,
        target: DeleteTarget,
    ) -> Result<DeleteOutcome, MetaError>;
    /// Lists current versions.
    async fn list(&self, bucket: BucketUid, q: &ListQuery) -> Result<ListPage<VersionRecord>, MetaError>;
    /// Lists every version (delete markers included): by key, then newest first. With
    /// `after_order` and a start after key `k`, the page starts with `k`'s versions older than
    /// the one made at that order.
    async fn list_versions(
        &self,
        bucket: BucketUid,
        q: &ListQuery,
        after_order: Option<u64>,
    ) -> Result<ListPage<VersionEntry>, MetaError>;
}

/// Multipart uploads and their parts.
#[async_trait]
pub trait UploadMeta: Send + Sync {
    /// Registers a new multipart upload; when the bucket moved to its own KEK after the
    /// upload's data key was wrapped, nothing is written and that KEK is returned (rewrap under
    /// it and register again).
    async fn create_upload(&self, rec: UploadRecord) -> Result<Option<String>, MetaError>;
    /// One upload.
    async fn upload(&self, id: UploadId) -> Result<Option<UploadRecord>, MetaError>;
    /// Lists uploads of a bucket, keyed by object key then upload id.
    async fn list_uploads(
        &self,
        bucket: BucketUid,
        q: &ListQuery,
        after_upload: Option<UploadId>,
    ) -> Result<ListPage<UploadRecord>, MetaError>;
    /// Records a part (replacing an earlier one of that number, whose stream goes to GC),
    /// settles its intent and queues its missing replicas. `Gone` if the upload was completed
    /// or aborted meanwhile.
    async fn commit_part(
        &self,
        upload: UploadId,
        part_number: u32,
        part: PartRecord,
        repairs: Vec<RepairTask>,
    ) -> Result<CommitOutcome, MetaError>;
    /// Parts of an upload with a number above `after`, at most `limit`.
    async fn parts(&self, upload: UploadId, after: u32, limit: usize) -> Result<Vec<(u32, PartRecord)>, MetaError>;
    /// Removes an upload and its parts; their streams go to GC. Ok(false) if absent.
    async fn abort_upload(&self, upload: UploadId) -> Result<bool, MetaError>;
    /// A completed upload, if its record has not expired.
    async fn completed_upload(&self, id: UploadId) -> Result<Option<CompletedUpload>, MetaError>;
    /// Forgets completed uploads older than `before_ms`.
    async fn expire_completed(&self, before_ms: i64) -> Result<usize, MetaError>;
}

/// Work on stored replicas: stale intents, deletions, repairs, moves, verifications and the stream index.
#[async_trait]
pub trait ReplicaMeta: Send + Sync {
    /// Intents whose uploads can never commit: left by a boot not in `live` (a gateway that
    /// stopped), or created before `older_than_ms` (the upload's request is long gone).
    async fn stale_intents(
        &self,
        live: Vec<BootId>,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<Intent>, MetaError>;
    /// Claims up to `limit` deletion tasks due at `now_ms`, as [`Self::claim_repairs`] does.
    /// A task whose replica is live again (committed, and listing that provider) is removed
    /// instead of returned: a live replica is never deleted.
    async fn claim_deletions(&self, now_ms: i64, lease_ms: i64, limit: usize) -> Result<Vec<DeletionTask>, MetaError>;
    /// Removes a claimed task once the provider confirmed (`done`), or saves its new schedule;
    /// ignored when the deletion was decided again after the claim (a newer generation).
    async fn finish_deletion(&self, task: DeletionTask, done: bool) -> Result<(), MetaError>;
    /// Queues deletions decided outside a commit (a copy that landed too late). A task queued
    /// already is decided again: due now, a new generation, its first decision time kept.
    async fn queue_deletions(&self, tasks: Vec<DeletionTask>) -> Result<(), MetaError>;
    /// Queued deletions after `after` in (stream, provider) order, at most `limit` (for the
    /// gauges, `/health` and the admin API).
    async fn deletions(&self, after: Option<ReplicaCursor>, limit: usize) -> Result<Vec<DeletionTask>, MetaError>;
    /// The queued deletions of one stream's replicas.
    async fn stream_deletions(&self, stream: StreamId) -> Result<Vec<DeletionTask>, MetaError>;
    /// The bucket of a committed stream (a version's or a part's), whose policy decides where
    /// its replicas may be written; `None` for a stream no longer committed.
    async fn stream_owner(&self, stream: StreamId) -> Result<Option<BucketUid>, MetaError>;
    /// The manifest of a committed stream (a version's or a part's), `None` otherwise.
    async fn stream_manifest(&self, stream: StreamId) -> Result<Option<StreamManifest>, MetaError>;
    /// Committed streams (versions and parts) after `after` in id order, for the scrubber.
    async fn scan_streams(&self, after: Option<StreamId>, limit: usize) -> Result<Vec<StreamManifest>, MetaError>;
    /// Claims up to `limit` repair tasks due at `now_ms`: each is due again only `lease_ms`
    /// later, so no other worker (of any gateway) takes it meanwhile, and a worker that dies
    /// holding it hands it on when the lease ends. Returned as they were before the claim.
    async fn claim_repairs(&self, now_ms: i64, lease_ms: i64, limit: usize) -> Result<Vec<RepairTask>, MetaError>;
    /// Queued repair tasks after `after` in (stream, provider) order, at most `limit` (the
    /// gauges and `/health` count them a page at a time).
    async fn repairs(&self, after: Option<ReplicaCursor>, limit: usize) -> Result<Vec<RepairTask>, MetaError>;
    /// The pending repairs of one stream.
    async fn stream_repairs(&self, stream: StreamId) -> Result<Vec<RepairTask>, MetaError>;
    /// Queues a repair found outside a commit (read repair, scrubbing), unless that replica's
    /// repair is queued already: a queued task keeps its schedule and its claim.
    async fn queue_repair(&self, task: RepairTask) -> Result<(), MetaError>;
    /// Reschedules a task, or removes it when `done`.
    async fn update_repair(&self, task: RepairTask, done: bool) -> Result<(), MetaError>;
    /// Commits an evacuation move with its audit record and the deletion task of the replica
    /// at `from`; Ok(false) (nothing written) when the version was deleted or no
    /// longer lists `from`, or a deletion at `to` of this stream is still queued.
    async fn move_replica(&self, mv: ReplicaMove, audit: AuditEntry) -> Result<bool, MetaError>;
    /// Commits a [`StreamReplacement`] with its audit record: the version lists the new
    /// streams (logged again), each replaced stream's replicas or shards are queued for
    /// deletion and its repairs, checks and index entries dropped, the new streams' intents
    /// closed. Ok(false) (nothing written) when the version is gone or lists other streams.
    async fn replace_streams(&self, r: StreamReplacement, audit: AuditEntry) -> Result<bool, MetaError>;
    /// Records the scrubber's successful check of a replica (`deep`: it was read whole and its
    /// ciphertext check matched, else only its presence and length). Ignored for a stream no longer committed.
    async fn record_verification(
        &self,
        stream: StreamId,
        provider: ProviderId,
        at_ms: i64,
        deep: bool,
    ) -> Result<(), MetaError>;
    /// The last successful check of each replica of a stream: (provider, ms, deep).
    async fn verifications(&self, stream: StreamId) -> Result<Vec<(ProviderId, i64, bool)>, MetaError>;
}

/// Audited admin changes, the audit chain and its key, data-key rewraps and KEK fingerprints.
#[async_trait]
pub trait AdminMeta: Send + Sync {
    /// Applies a residency change and appends its audit record, in one atomic write. A bucket
    /// binding to a missing bucket changes nothing and returns `None`.
    async fn apply_change(&self, change: AuditedChange, audit: AuditEntry) -> Result<Option<AuditRecord>, MetaError>;
    /// The providers and policies changed through the admin API.
    async fn catalog_overrides(&self) -> Result<CatalogOverrides, MetaError>;
    /// Audit records with a sequence number above `after`, in order, at most `limit`.
    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, MetaError>;
    /// From now on every audited commit also seals the chain's new head with `key`.
    fn set_audit_key(&self, key: std::sync::Arc<crate::model::audit::AuditKey>);
    /// The audit key as stored (wrapped under the default KEK), if one was created.
    async fn audit_key(&self) -> Result<Option<WrappedKey>, MetaError>;
    /// Stores `wrapped` as the audit key unless one exists; returns the one stored (another
    /// gateway may have been first).
    async fn init_audit_key(&self, wrapped: WrappedKey) -> Result<WrappedKey, MetaError>;
    /// The latest seal of the chain's head.
    async fn audit_seal(&self) -> Result<Option<crate::model::audit::AuditSeal>, MetaError>;
    /// Replaces a DEK's wrapping if it is still the expected one; Ok(false) otherwise.
    async fn rewrap_dek(&self, r: DekRewrap) -> Result<bool, MetaError>;
    /// Whether any data key is stored (a version's, or an open upload's): the store is not new.
    async fn holds_data_keys(&self) -> Result<bool, MetaError>;
    /// The fingerprint recorded for KEK `kek` (the local key file's), if any.
    async fn kek_fingerprint(&self, kek: &str) -> Result<Option<String>, MetaError>;
    /// Records `fingerprint` for KEK `kek` unless one is recorded already; returns the one on
    /// record afterwards (so a different file, or a second gateway's own new key, is caught).
    async fn record_kek_fingerprint(&self, kek: &str, fingerprint: String) -> Result<String, MetaError>;
    /// The console session stored under `id` (the SHA-256 of its cookie's secret), if any.
    async fn console_session(&self, id: [u8; 32]) -> Result<Option<ConsoleSession>, MetaError>;
    /// Stores a console session under `id`, removing every session issued before
    /// `expired_before` (seconds) in the same write: sessions nobody logged out of go then.
    async fn start_console_session(
        &self,
        id: [u8; 32],
        session: ConsoleSession,
        expired_before: u64,
    ) -> Result<(), MetaError>;
    /// Removes the console session stored under `id` (a logout); true if there was one.
    async fn end_console_session(&self, id: [u8; 32]) -> Result<bool, MetaError>;
}

/// Users, their access keys and their grants (changed through [`AdminMeta::apply_change`],
/// audited and logged like the catalog).
#[async_trait]
pub trait AccessMeta: Send + Sync {
    /// A user.
    async fn user(&self, name: &UserName) -> Result<Option<UserRecord>, MetaError>;
    /// Every user, by name.
    async fn users(&self) -> Result<Vec<UserRecord>, MetaError>;
    /// An access key.
    async fn access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>, MetaError>;
    /// The access keys of `user`, or of every user, by id.
    async fn access_keys(&self, user: Option<&UserName>) -> Result<Vec<AccessKeyRecord>, MetaError>;
    /// What `user` was granted on the bucket `bucket` (nothing if no grant).
    async fn grant(&self, bucket: BucketUid, user: &UserName) -> Result<Perms, MetaError>;
    /// Every grant: bucket, user, permissions, in that order.
    async fn grants(&self) -> Result<Vec<(BucketUid, UserName, Perms)>, MetaError>;
    /// A bucket's policy document and public access block, if set.
    async fn bucket_access(&self, bucket: BucketUid) -> Result<(Option<String>, Option<PublicAccessBlock>), MetaError>;
    /// Every admin token created through the API, by name.
    async fn admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, MetaError>;
}

/// What several gateways on one store share: heartbeats, job records and leases.
#[async_trait]
pub trait ClusterMeta: Send + Sync {
    /// Several gateways share this store (their commits, claims and leases exclude each
    /// other through it).
    fn is_shared(&self) -> bool;
    /// Records that the gateway run `boot` is alive at `now_ms`. Only shared stores keep it
    /// (several gateways); a store one process owns knows every other boot is gone.
    async fn heartbeat(&self, boot: BootId, now_ms: i64) -> Result<(), MetaError>;
    /// Gateway runs that sent a heartbeat since `since_ms` (always empty for a store one
    /// process owns).
    async fn live_boots(&self, since_ms: i64) -> Result<Vec<BootId>, MetaError>;
    /// A background job's state.
    async fn job(&self, name: &str) -> Result<Option<JobRecord>, MetaError>;
    /// Saves a background job's state.
    async fn put_job(&self, job: JobRecord) -> Result<(), MetaError>;
    /// Takes or renews the lease on the singleton job `name` (scrubber, evacuation, rotation)
    /// for `holder` until `now_ms + ttl_ms`. Ok(false) while another holder's lease runs.
    async fn take_lease(&self, name: &str, holder: BootId, now_ms: i64, ttl_ms: i64) -> Result<bool, MetaError>;
}

/// The metadata log's outbox and log keys (docs/format-v2.md): every commit that changes what a
/// rebuild recovers (buckets, versions, deletes, data-key rewraps, replica moves, catalog
/// changes) also writes its [`crate::meta::log_entry::LogEntry`] to the outbox, in the same
/// transaction, under its commit sequence number.
#[async_trait]
pub trait LogMeta: RebuildStage + Send + Sync {
    /// From now on every commit that writes a log entry returns only once `sink` logged it
    /// (or with [`MetaError::Unlogged`]: committed, but not acknowledged).
    fn set_log_sink(&self, sink: std::sync::Arc<dyn LogSink>);
    /// Entries still to log with a sequence number above `after`, in sequence order, at most
    /// `limit`.
    async fn unlogged(&self, after: u64, limit: usize) -> Result<Vec<Unlogged>, MetaError>;
    /// Removes logged entries from the outbox (absent ones are fine: another gateway's writer
    /// may have logged them too).
    async fn mark_logged(&self, seqs: Vec<u64>) -> Result<(), MetaError>;
    /// The keyring object of `kek`'s log key, if one was created.
    async fn log_keyring(&self, kek: &str) -> Result<Option<Vec<u8>>, MetaError>;
    /// Stores `keyring` as `kek`'s log keyring unless one exists; returns the one stored
    /// (another gateway may have been first).
    async fn init_log_keyring(&self, kek: &str, keyring: Vec<u8>) -> Result<Vec<u8>, MetaError>;
    /// Logs the bucket again as the store holds it (its entry was lost at the providers);
    /// false if there is no such bucket.
    async fn relog_bucket(&self, name: &BucketName) -> Result<bool, MetaError>;
    /// Logs a version of the key (its current one if `version` is `None`) again, under a new
    /// sequence number its record takes; false if there is no such version.
    async fn relog_version(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version: Option<crate::model::VersionRef>,
    ) -> Result<bool, MetaError>;
    /// Logs an open upload again (its `Upload`, then a `Part` per part), under new sequence
    /// numbers; false if it is not open.
    async fn relog_upload(&self, upload: crate::model::UploadId) -> Result<bool, MetaError>;
    /// Writes records a rebuild recovered from the log, as they were (no outbox entries), in
    /// one atomic write, and raises the commit sequence to at least `batch.seq_floor`.
    async fn restore(&self, batch: crate::meta::restore::RestoreBatch) -> Result<(), MetaError>;
    /// Records segments some providers of their placement missed (replacing a task of the same
    /// segment and provider).
    async fn queue_log_repairs(&self, tasks: Vec<crate::meta::outbox::LogRepairTask>) -> Result<(), MetaError>;
    /// Claims up to `limit` segment repairs due at `now_ms`, each due again `lease_ms` later
    /// (so a gateway that dies with it claimed leaves it to the next claim).
    async fn claim_log_repairs(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::meta::outbox::LogRepairTask>, MetaError>;
    /// Removes a segment repair (done, or moot: the provider left the placement).
    async fn finish_log_repair(&self, segment_id: [u8; 16], provider: ProviderId) -> Result<(), MetaError>;
    /// Records written segments in the segment index (replacing a record of the same scope
    /// and segment).
    async fn index_segments(&self, segments: Vec<crate::meta::outbox::IndexedSegment>) -> Result<(), MetaError>;
    /// Up to `limit` indexed segments after `after` (a scope's bucket and a segment id), in
    /// order of scope (the catalog's first), then segment id.
    async fn indexed_segments(
        &self,
        after: Option<(Option<BucketUid>, [u8; 16])>,
        limit: usize,
    ) -> Result<Vec<crate::meta::outbox::IndexedSegment>, MetaError>;
    /// Removes segments from the index (absent ones are fine).
    async fn unindex_segments(&self, segments: Vec<(Option<BucketUid>, [u8; 16])>) -> Result<(), MetaError>;
    /// Draws a commit sequence number that no commit will use: every commit drawing one
    /// afterwards gets a higher one.
    async fn draw_seq(&self) -> Result<u64, MetaError>;
    /// A page of the bucket's live log state from `from`: each version (latest ones, then
    /// the others; delete markers included) as the entry that logs it as it is now, with its
    /// data key as stored; and where the next page starts (`None` after the last).
    async fn log_state_page(
        &self,
        bucket: BucketUid,
        from: crate::meta::outbox::StateCursor,
        limit: usize,
    ) -> Result<(Vec<crate::meta::log_entry::LogEntry>, Option<crate::meta::outbox::StateCursor>), MetaError>;
    /// A page of the catalog's live log state from `from`: each provider, policy and shredded
    /// KEK, then each user, access key, admin token, grant and bucket setting, as the
    /// `Catalog` entry that logs its current value (numbered 0: the store does not keep their
    /// commits' numbers), then the audit records logged in the catalog's scope; and where the
    /// next page starts (`None` after the last).
    async fn catalog_state_page(
        &self,
        from: crate::meta::outbox::CatalogCursor,
        limit: usize,
    ) -> Result<(Vec<crate::meta::log_entry::LogEntry>, Option<crate::meta::outbox::CatalogCursor>), MetaError>;
}

/// A rebuild's scratch space in the store being rebuilt (`metalog::stage` gives the keys their
/// meaning): raw key-value pairs beside the store's records, so the rebuild's memory stays
/// bounded and a killed rebuild resumes. Nothing else reads it.
#[async_trait]
pub trait RebuildStage: Send + Sync {
    /// The values of `keys`, in order.
    async fn stage_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, MetaError>;
    /// Writes `puts` and removes `deletes`, all or none, durably.
    async fn stage_write(&self, puts: Vec<(Vec<u8>, Vec<u8>)>, deletes: Vec<Vec<u8>>) -> Result<(), MetaError>;
    /// Up to `limit` pairs with `start <= key < end`, in key order.
    async fn stage_scan(
        &self,
        start: Vec<u8>,
        end: Vec<u8>,
        limit: usize,
    ) -> Result<crate::meta::kv::KvPairs, MetaError>;
}
