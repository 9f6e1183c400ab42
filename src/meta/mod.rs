//! The metadata store: buckets, object versions, uploads, parts, intents and GC tasks.
//! The trait knows nothing of its engine (RocksDB lives in `rocks.rs` only).

mod audit_chain;
pub mod codec;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
#[cfg(any(test, feature = "test-util"))]
mod conformance_access;
#[cfg(any(test, feature = "test-util"))]
mod conformance_catalog;
#[cfg(any(test, feature = "test-util"))]
mod conformance_log;
#[cfg(any(test, feature = "test-util"))]
mod conformance_more;
#[cfg(any(test, feature = "test-util"))]
pub mod conformance_shared;
#[cfg(any(test, feature = "test-util"))]
mod conformance_uploads;
#[cfg(any(test, feature = "test-util"))]
mod conformance_versions;
pub mod contract;
pub mod kv;
pub mod local_txn;
mod log_audit;
pub mod log_entry;
mod log_upload;
pub mod memory;
pub mod outbox;
pub mod postgres;
pub mod records;
mod replica_queue;
pub mod restore;
#[cfg(feature = "rocksdb")]
pub mod rocks;
pub mod store;
pub mod walk;

use std::borrow::Cow;

use crate::model::WrappedKey;
use crate::model::WriteCondition;
use crate::model::access::{AccessKeyRecord, AdminTokenRecord, Perms, PublicAccessBlock, UserName, UserRecord};
use crate::model::{
    BucketName, BucketUid, ObjectKey, ProviderId, ProviderInfo, ResidencyPolicy, StreamId, StreamManifest, UploadId,
    VersionUid,
};

pub use records::{
    BucketRecord, CompletedUpload, DeletionReason, DeletionTask, GcTask, Intent, JobRecord, PartRecord, RepairTask,
    ReplicaTask, UploadRecord, VersionRecord,
};
pub use store::KvMetadataStore;

/// A metadata operation failed: what was being done, and the engine's or codec's error under
/// it as its source (never flattened to text).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The engine failed (I/O, corruption, closed).
    #[error("metadata engine: {context}")]
    Engine {
        /// What was being done.
        context: Cow<'static, str>,
        /// The engine's error, if it gave one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A stored value could not be encoded or decoded.
    #[error("metadata codec: {context}")]
    Codec {
        /// What was being done.
        context: Cow<'static, str>,
        /// The codec's error, if it gave one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The change was committed, but its log entry is not durable at the providers yet: the
    /// caller must not acknowledge it (the entry stays in the outbox and is logged later).
    #[error("committed but not logged")]
    Unlogged(#[source] outbox::LogError),
}

impl MetaError {
    /// The engine failed while doing `context`, with no further cause.
    pub fn engine(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Engine { context: context.into(), source: None }
    }

    /// The engine failed while doing `context`, because of `source`.
    pub fn engine_from(
        context: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Engine { context: context.into(), source: Some(source.into()) }
    }

    /// A stored value is wrong (`context` says how), with no further cause.
    pub fn codec(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Codec { context: context.into(), source: None }
    }

    /// Encoding or decoding failed while doing `context`, because of `source`.
    pub fn codec_from(
        context: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Codec { context: context.into(), source: Some(source.into()) }
    }
}

/// A position in a per-replica queue (repairs, deletions): the last task seen, by its stream
/// and provider; the next page starts after it.
pub type ReplicaCursor = (StreamId, ProviderId);

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
    /// A user created; nothing changes (`None`) if one of that name exists.
    CreateUser(UserRecord),
    /// A user deleted with their access keys and grants; `None` if there is no such user.
    DeleteUser(UserName),
    /// An access key created or replaced (disabled, renamed); `None` if its user is not stored.
    PutAccessKey(AccessKeyRecord),
    /// An access key deleted; `None` if there is no such key.
    DeleteAccessKey(String),
    /// An admin token created; `None` if one of that name exists.
    CreateAdminToken(AdminTokenRecord),
    /// An admin token deleted; `None` if there is no such token.
    DeleteAdminToken(UserName),
    /// A bucket's policy document set (`None`: removed); `None` if there is no such bucket.
    BucketAccessPolicy {
        /// The bucket.
        bucket: BucketName,
        /// The document as the client sent it.
        document: Option<String>,
    },
    /// A bucket's public access block set (`None`: removed); `None` if there is no such bucket.
    PublicBlock {
        /// The bucket.
        bucket: BucketName,
        /// The settings.
        block: Option<PublicAccessBlock>,
    },
    /// `add` then `remove` applied to what `user` may do in `bucket`, in the transaction (two
    /// admins changing one grant at once both count; no permission left: the grant is
    /// removed); `None` if there is no such bucket.
    Grant {
        /// The bucket.
        bucket: BucketName,
        /// The user.
        user: UserName,
        /// Permissions given.
        add: Perms,
        /// Permissions taken away.
        remove: Perms,
    },
    /// A bucket's Object Lock configuration set (Object Lock enabled, with its default
    /// retention); `None` if there is no such bucket.
    BucketObjectLock {
        /// The bucket.
        bucket: BucketName,
        /// The configuration.
        config: crate::model::lock::LockConfig,
    },
    /// A bucket's lifecycle configuration set (`Some`) or deleted; `None` if there is no such
    /// bucket.
    BucketLifecycle {
        /// The bucket.
        bucket: BucketName,
        /// The configuration, or none.
        config: Option<crate::model::lifecycle::LifecycleConfig>,
    },
    /// A bucket's tags set (`Some`) or deleted; `None` if there is no such bucket.
    BucketTagging {
        /// The bucket.
        bucket: BucketName,
        /// The tags, or none.
        tags: Option<crate::model::tagging::TagSet>,
    },
    /// A bucket's CORS configuration set (`Some`) or deleted; `None` if there is no such bucket.
    BucketCors {
        /// The bucket.
        bucket: BucketName,
        /// The configuration, or none.
        config: Option<crate::model::cors::CorsConfig>,
    },
    /// How a bucket's new objects get their ETag (`admin bucket etag`); `None` if there is no
    /// such bucket.
    BucketEtagMode {
        /// The bucket.
        bucket: BucketName,
        /// The mode.
        mode: crate::model::EtagMode,
    },
    /// A bucket's versioning state set (PutBucketVersioning); `None` if there is no such bucket.
    BucketVersioning {
        /// The bucket.
        bucket: BucketName,
        /// Enabled or suspended.
        state: crate::model::Versioning,
    },
    /// An access key disabled or enabled again; `None` if there is no such key (a deleted key
    /// is never written back).
    SetAccessKeyDisabled {
        /// The key id.
        id: String,
        /// Disabled from now on, or enabled.
        disabled: bool,
    },
    /// An access key's secret wrapped anew (key rotation), applied only if its stored
    /// wrapping is still `expected`; `None` if the key is gone or was changed meanwhile.
    RewrapAccessKey {
        /// The key id.
        id: String,
        /// The wrapping read before rewrapping.
        expected: WrappedKey,
        /// The new wrapping.
        new: WrappedKey,
    },
}

impl AuditedChange {
    /// A change of users, access keys or grants.
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            AuditedChange::CreateUser(_)
                | AuditedChange::DeleteUser(_)
                | AuditedChange::PutAccessKey(_)
                | AuditedChange::DeleteAccessKey(_)
                | AuditedChange::Grant { .. }
                | AuditedChange::SetAccessKeyDisabled { .. }
                | AuditedChange::RewrapAccessKey { .. }
                | AuditedChange::CreateAdminToken(_)
                | AuditedChange::DeleteAdminToken(_)
                | AuditedChange::BucketAccessPolicy { .. }
                | AuditedChange::PublicBlock { .. }
                | AuditedChange::BucketVersioning { .. }
                | AuditedChange::BucketObjectLock { .. }
                | AuditedChange::BucketLifecycle { .. }
                | AuditedChange::BucketTagging { .. }
                | AuditedChange::BucketCors { .. }
                | AuditedChange::BucketEtagMode { .. }
        )
    }

    /// The bucket the change is about, by its name's bytes, if it names one (its audit record is logged
    /// in that bucket's scope: the record names it).
    pub fn bucket_named(&self) -> Option<&[u8]> {
        match self {
            AuditedChange::BucketPolicy { bucket, .. } => Some(bucket.as_bytes()),
            AuditedChange::BucketAccessPolicy { bucket, .. }
            | AuditedChange::PublicBlock { bucket, .. }
            | AuditedChange::Grant { bucket, .. }
            | AuditedChange::BucketObjectLock { bucket, .. }
            | AuditedChange::BucketLifecycle { bucket, .. }
            | AuditedChange::BucketTagging { bucket, .. }
            | AuditedChange::BucketCors { bucket, .. }
            | AuditedChange::BucketEtagMode { bucket, .. }
            | AuditedChange::BucketVersioning { bucket, .. } => Some(bucket.as_bytes()),
            _ => None,
        }
    }
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

/// A version's streams written again in its bucket's redundancy scheme as it is now (a
/// rebinding between replicas and erasure-coded shards): the new streams are stored, under new
/// ids, before the commit swaps them in.
#[derive(Debug, Clone)]
pub struct StreamReplacement {
    /// Bucket.
    pub bucket: BucketUid,
    /// Key.
    pub key: String,
    /// The version (current or not).
    pub version: VersionUid,
    /// The ids of the streams the version lists, in order, when the new ones were written:
    /// the commit is refused if they changed meanwhile (the version was deleted, or another
    /// conversion was first).
    pub old: Vec<StreamId>,
    /// The streams that replace them, in the same order (same parts, same plaintext); one
    /// whose id is in `old` is kept as it is.
    pub new: Vec<StreamManifest>,
    /// The version's manifest MAC over `new`.
    pub manifest_mac: [u8; 32],
    /// The hinted handoff for every target the new streams missed.
    pub repairs: Vec<RepairTask>,
    /// The bucket's policy the new streams were placed by: the commit is refused if the
    /// bucket was bound to another one meanwhile (they may sit where it no longer allows).
    pub policy: String,
    /// When the old streams' copies are deleted, ms since the epoch: a little after the
    /// commit, so that a GET that began before it can finish on them.
    pub delete_old_from_ms: i64,
}

/// Makes a new version current.
#[derive(Debug, Clone)]
pub struct PutCommit {
    /// Bucket.
    pub bucket: BucketUid,
    /// Its name, so the commit can check in one lookup that the bucket still exists.
    pub bucket_name: BucketName,
    /// Key.
    pub key: ObjectKey,
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
    /// The bucket's versioning changed since the version was made (its `null` flag is not
    /// what the bucket now writes); nothing was written. Read the state again and commit again.
    VersioningChanged,
    /// The write would replace the key's `null` version, which Object Lock protects; nothing
    /// was written.
    Locked(crate::model::lock::LockDenial),
}

pub use crate::model::lock::LockChange;

/// The version a change of Object Lock state is for.
#[derive(Debug, Clone)]
pub struct LockTarget {
    /// Its bucket's name (checked to still have identity `bucket`).
    pub bucket_name: BucketName,
    /// Its bucket.
    pub bucket: BucketUid,
    /// Its key.
    pub key: ObjectKey,
    /// The version by id; `None`: the key's current version.
    pub version: Option<crate::model::VersionRef>,
}

/// How a change of a version's Object Lock state ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockUpdate {
    /// Applied (audited and logged); the version as it now is.
    Done(Box<VersionRecord>),
    /// No such version (or key); nothing written.
    Missing,
    /// The version is a delete marker, which has no lock; nothing written.
    DeleteMarker,
    /// The retention may not be shortened or removed; nothing written.
    Denied(crate::model::lock::LockDenial),
}

/// What a DELETE removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteTarget {
    /// The key, as S3's DELETE without a version id: in an unversioned bucket its version is
    /// deleted; otherwise a delete marker with this id becomes the latest version (a suspended
    /// bucket's marker is the `null` version, replacing the earlier `null` one).
    Key {
        /// The delete marker's id, if one is made.
        marker: crate::model::VersionUid,
        /// When, ms since the epoch (the marker's Last-Modified).
        now_ms: i64,
    },
    /// As [`DeleteTarget::Key`], only if the key's latest version is still `latest` (lifecycle
    /// expiration: a version written since the worker looked is not the one that expired).
    Expire {
        /// The version that expired.
        latest: crate::model::VersionUid,
        /// The delete marker's id, if one is made.
        marker: crate::model::VersionUid,
        /// When, ms since the epoch.
        now_ms: i64,
    },
    /// One version, for good, unless Object Lock protects it (`bypass_governance`: the
    /// principal may bypass a governance retention and asked to).
    Version {
        /// Which.
        version: crate::model::VersionRef,
        /// Bypass a governance retention.
        bypass_governance: bool,
    },
}

/// What a DELETE did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version deleted for good (data or a marker), if any.
    pub removed: Option<VersionRecord>,
    /// The delete marker made, if any.
    pub marker: Option<VersionRecord>,
    /// Object Lock refused the deletion (nothing was written).
    pub locked: Option<crate::model::lock::LockDenial>,
}

/// A version as ListObjectVersions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    /// The version.
    pub version: VersionRecord,
    /// It is its key's latest version.
    pub latest: bool,
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

pub use contract::{
    AccessMeta, AdminMeta, ClusterMeta, LogMeta, MetadataStore, ObjectMeta, RebuildStage, ReplicaMeta, UploadMeta,
};
