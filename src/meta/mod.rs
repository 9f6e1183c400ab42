//! The metadata store: buckets, object versions, uploads, parts, intents and GC tasks.
//! The trait knows nothing of its engine (RocksDB lives in `rocks.rs` only).

mod audit_chain;
pub mod codec;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
#[cfg(any(test, feature = "test-util"))]
mod conformance_more;
pub mod kv;
pub mod local_txn;
pub mod memory;
pub mod postgres;
pub mod records;
mod replica_queue;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod store;
pub mod walk;

use async_trait::async_trait;

use crate::keys::WrappedKey;
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::{
    BootId, BucketUid, ProviderId, ProviderInfo, ResidencyPolicy, StreamId, StreamManifest, UploadId, VersionUid,
};

pub use records::{
    BucketRecord, CompletedUpload, DeletionReason, DeletionTask, GcTask, Intent, JobRecord, PartRecord, RepairTask,
    ReplicaTask, UploadRecord, VersionRecord,
};
pub use store::KvMetadataStore;

/// A metadata operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The engine failed (I/O, corruption, closed).
    #[error("metadata engine: {0}")]
    Engine(String),
    /// A stored value could not be decoded.
    #[error("metadata codec: {0}")]
    Codec(String),
}

/// A position in a per-replica queue (repairs, deletions): the last task seen, by its stream
/// and provider; the next page starts after it.
pub type ReplicaCursor = (StreamId, ProviderId);

/// A write condition, checked atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Unconditional.
    None,
    /// `If-None-Match: *`: only if the key has no current version.
    IfAbsent,
    /// `If-Match: <etag>`: only if the current version has this ETag.
    IfMatch(String),
}

/// A residency change made through the admin API, applied with its audit record.
#[derive(Debug, Clone)]
pub enum AuditedChange {
    /// Nothing changes: the record alone (a refusal, a decision).
    RecordOnly,
    /// A provider's residency attributes (added or replaced).
    Provider(ProviderInfo),
    /// A policy (created or replaced).
    Policy(ResidencyPolicy),
    /// A bucket bound to another policy.
    BucketPolicy {
        /// The bucket's name.
        bucket: String,
        /// The policy id.
        policy_id: String,
    },
    /// A bucket's data keys are wrapped under its own KEK from now on.
    BucketKek {
        /// The bucket.
        bucket: BucketUid,
        /// The KEK's name.
        kek: String,
    },
    /// A KEK was destroyed in the KMS (crypto-shredding).
    KekShredded {
        /// The KEK's name.
        kek: String,
        /// When, ms since the epoch.
        at_ms: i64,
    },
}

/// A current version's or an open upload's DEK wrapped anew (key rotation). Applied only if
/// the stored wrapping is still `expected`, so a concurrent overwrite or delete always wins.
#[derive(Debug, Clone)]
pub enum DekRewrap {
    /// The DEK of the current version `version` of `bucket/key`.
    Version {
        /// Bucket.
        bucket: BucketUid,
        /// Key.
        key: String,
        /// The version.
        version: VersionUid,
        /// The wrapping read before rewrapping.
        expected: WrappedKey,
        /// The new wrapping.
        new: WrappedKey,
    },
    /// The DEK of an open multipart upload.
    Upload {
        /// The upload.
        upload: UploadId,
        /// The wrapping read before rewrapping.
        expected: WrappedKey,
        /// The new wrapping.
        new: WrappedKey,
    },
}

/// Providers and policies changed through the admin API (they override the config file's).
#[derive(Debug, Clone, Default)]
pub struct CatalogOverrides {
    /// Providers.
    pub providers: Vec<ProviderInfo>,
    /// Policies.
    pub policies: Vec<ResidencyPolicy>,
    /// Buckets with their own KEK.
    pub bucket_keks: Vec<(BucketUid, String)>,
    /// KEKs destroyed through the admin API, with when.
    pub shredded_keks: Vec<(String, i64)>,
}

/// One replica of a current version moving from one provider to another (evacuation). The
/// copy at `to` exists and was verified before the move is committed.
#[derive(Debug, Clone)]
pub struct ReplicaMove {
    /// Bucket.
    pub bucket: BucketUid,
    /// Key.
    pub key: String,
    /// The version the copy was made for: the move is refused if it is no longer current.
    pub version: VersionUid,
    /// The stream.
    pub stream: StreamId,
    /// The provider that gives the replica up.
    pub from: ProviderId,
    /// The provider that now holds it.
    pub to: ProviderId,
    /// For a part of an open upload: the upload and the part number (`key` and `version` are
    /// then the upload's); the move is refused if the part was replaced or the upload ended.
    pub part: Option<(UploadId, u32)>,
}

/// Makes a new version current.
#[derive(Debug, Clone)]
pub struct PutCommit {
    /// Bucket.
    pub bucket: BucketUid,
    /// Its name, so the commit can check in one lookup that the bucket still exists.
    pub bucket_name: String,
    /// Key.
    pub key: String,
    /// The new version.
    pub version: VersionRecord,
    /// Its wrapped DEK. For a completed upload the upload's own, as stored when the commit
    /// runs, is used instead: the rotation job may have rewrapped it since it was read.
    pub dek: WrappedKey,
    /// Checked atomically.
    pub condition: WriteCondition,
    /// Intents that this commit settles.
    pub intents: Vec<StreamId>,
    /// Replicas that missed the write, queued in the same batch.
    pub repairs: Vec<RepairTask>,
    /// Copies to delete at providers, decided with this commit (parts of a completed upload
    /// left on a provider the policy no longer allows).
    pub deletions: Vec<DeletionTask>,
    /// For CompleteMultipartUpload: the upload to remove with its parts; parts whose streams
    /// are not in the version go to GC.
    pub completes_upload: Option<UploadId>,
}

/// How a conditional commit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written; the replaced version's streams were queued for GC.
    Committed,
    /// The condition failed; nothing was written.
    PreconditionFailed,
    /// `If-Match` on a key that has no current version; nothing was written.
    NoSuchKey,
    /// The bucket or the upload no longer exists; nothing was written.
    Gone,
    /// The bucket moved to its own KEK (named) after the data key was wrapped; nothing was
    /// written. Rewrap under it and commit again: a data key committed under the old KEK would
    /// stay readable after the bucket's key is shredded.
    KekChanged(String),
}

/// Where a listing page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListStart {
    /// From the first key with the prefix.
    Beginning,
    /// Strictly after this key.
    AfterKey(Vec<u8>),
    /// After every key under this common prefix.
    AfterPrefix(Vec<u8>),
}

/// A listing request over one bucket's current versions.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Only keys starting with this.
    pub prefix: Vec<u8>,
    /// Groups keys by the first delimiter after the prefix.
    pub delimiter: Option<Vec<u8>>,
    /// Resume point.
    pub start: ListStart,
    /// Keys plus common prefixes, at most.
    pub max: usize,
}

/// One listing entry.
#[derive(Debug, Clone)]
pub enum ListEntry<T> {
    /// A key and its record.
    Item(Vec<u8>, T),
    /// A common prefix.
    Prefix(Vec<u8>),
}

/// A page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    /// Entries in byte order.
    pub entries: Vec<ListEntry<T>>,
    /// More entries follow.
    pub truncated: bool,
}

/// The metadata store contract. Every mutation is atomic and durable (fsynced) before it
/// returns; a cancelled call either happened entirely or not at all.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// All buckets, by name.
    async fn buckets(&self) -> Result<Vec<BucketRecord>, MetaError>;
    /// One bucket.
    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, MetaError>;
    /// Creates the bucket unless one of that name exists (returns the existing one then), with
    /// the audit record of its placement decision in the same write.
    async fn create_bucket(
        &self,
        rec: BucketRecord,
        audit: AuditEntry,
    ) -> Result<Result<AuditRecord, BucketRecord>, MetaError>;
    /// Deletes the bucket if it holds no object and no upload. Ok(false) if not empty.
    async fn delete_bucket(&self, name: &str) -> Result<bool, MetaError>;
    /// The current version of a key.
    async fn current(&self, bucket: BucketUid, key: &str) -> Result<Option<VersionRecord>, MetaError>;
    /// A version's wrapped DEK.
    async fn dek(&self, version: VersionUid) -> Result<Option<WrappedKey>, MetaError>;
    /// Durable before the first byte goes to a provider.
    async fn record_intent(&self, intent: Intent) -> Result<(), MetaError>;
    /// Drops intents whose streams went to GC instead (failed uploads): one atomic write.
    async fn abandon_intents(&self, streams: Vec<GcTask>) -> Result<(), MetaError>;
    /// The visibility point of a PUT, copy or CompleteMultipartUpload.
    async fn commit_put(&self, c: PutCommit) -> Result<CommitOutcome, MetaError>;
    /// Removes the current version (if any) and queues its streams for GC. Returns whether a
    /// version existed.
    async fn commit_delete(&self, bucket: BucketUid, key: &str) -> Result<bool, MetaError>;
    /// Lists current versions.
    async fn list(&self, bucket: BucketUid, q: &ListQuery) -> Result<ListPage<VersionRecord>, MetaError>;
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
    /// Intents whose uploads can never commit: left by a boot not in `live` (a gateway that
    /// stopped), or created before `older_than_ms` (the upload's request is long gone).
    async fn stale_intents(
        &self,
        live: Vec<BootId>,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<Intent>, MetaError>;
    /// Several gateways share this store (their commits, claims and leases exclude each
    /// other through it).
    fn is_shared(&self) -> bool;
    /// Records that the gateway run `boot` is alive at `now_ms`. Only shared stores keep it
    /// (several gateways); a store one process owns knows every other boot is gone.
    async fn heartbeat(&self, boot: BootId, now_ms: i64) -> Result<(), MetaError>;
    /// Gateway runs that sent a heartbeat since `since_ms` (always empty for a store one
    /// process owns).
    async fn live_boots(&self, since_ms: i64) -> Result<Vec<BootId>, MetaError>;
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
    /// A completed upload, if its record has not expired.
    async fn completed_upload(&self, id: UploadId) -> Result<Option<CompletedUpload>, MetaError>;
    /// Forgets completed uploads older than `before_ms`.
    async fn expire_completed(&self, before_ms: i64) -> Result<usize, MetaError>;
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
    /// Commits an evacuation move with its audit record and the deletion task of the replica
    /// at `from`; Ok(false) (nothing written) when the version is no longer current or no
    /// longer lists `from`, or a deletion at `to` of this stream is still queued.
    async fn move_replica(&self, mv: ReplicaMove, audit: AuditEntry) -> Result<bool, MetaError>;
    /// Records the scrubber's successful check of a replica (`deep`: its SHA-256 was read and
    /// matched, else only its presence and length). Ignored for a stream no longer committed.
    async fn record_verification(
        &self,
        stream: StreamId,
        provider: ProviderId,
        at_ms: i64,
        deep: bool,
    ) -> Result<(), MetaError>;
    /// The last successful check of each replica of a stream: (provider, ms, deep).
    async fn verifications(&self, stream: StreamId) -> Result<Vec<(ProviderId, i64, bool)>, MetaError>;
    /// Replaces a DEK's wrapping if it is still the expected one; Ok(false) otherwise.
    async fn rewrap_dek(&self, r: DekRewrap) -> Result<bool, MetaError>;
    /// Whether any data key is stored (a version's, or an open upload's): the store is not new.
    async fn holds_data_keys(&self) -> Result<bool, MetaError>;
    /// The fingerprint recorded for KEK `kek` (the local key file's), if any.
    async fn kek_fingerprint(&self, kek: &str) -> Result<Option<String>, MetaError>;
    /// Records `fingerprint` for KEK `kek` unless one is recorded already; returns the one on
    /// record afterwards (so a different file, or a second gateway's own new key, is caught).
    async fn record_kek_fingerprint(&self, kek: &str, fingerprint: String) -> Result<String, MetaError>;
    /// A background job's state.
    async fn job(&self, name: &str) -> Result<Option<JobRecord>, MetaError>;
    /// Saves a background job's state.
    async fn put_job(&self, job: JobRecord) -> Result<(), MetaError>;
    /// Takes or renews the lease on the singleton job `name` (scrubber, evacuation, rotation)
    /// for `holder` until `now_ms + ttl_ms`. Ok(false) while another holder's lease runs.
    async fn take_lease(&self, name: &str, holder: BootId, now_ms: i64, ttl_ms: i64) -> Result<bool, MetaError>;
}
