//! The ordered key-value engine under [`super::KvMetadataStore`]. Engines (memory, RocksDB)
//! implement only this; the store logic is written once above it.

use super::MetaError;

/// Column families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// name → BucketRecord
    Buckets,
    /// bucket_uid ‖ key → VersionRecord
    Objects,
    /// version_uid → WrappedKey
    Deks,
    /// bucket_uid ‖ esc(key) ‖ upload_id → UploadRecord
    Uploads,
    /// upload_id → the `Uploads` key
    UploadIds,
    /// upload_id ‖ u32(part) → PartRecord
    Parts,
    /// stream_id → StreamManifest of a committed version or part
    Streams,
    /// stream_id → Intent
    Intents,
    /// stream_id → GcTask
    Gc,
    /// stream_id ‖ provider → RepairTask
    Repair,
    /// upload_id → CompletedUpload (so a retried Complete gets the same answer)
    Completed,
    /// fixed names → counters
    Meta,
    /// `provider/<id>` → ProviderInfo, `policy/<id>` → ResidencyPolicy (admin API changes)
    Catalog,
    /// u64(seq) → AuditRecord
    Audit,
    /// stream_id ‖ provider → (ms, deep): the scrubber's last successful check of a replica
    Verified,
    /// stream_id ‖ provider → DeletionTask: a replica to delete at a provider (replaces `Gc`,
    /// whose stream-wide tasks of older stores are split into these on the first claim)
    Deletions,
    /// stream_id → BucketUid: the bucket whose policy admits the stream's replicas (repair
    /// asks it before writing a copy)
    Owners,
    /// u64(seq) → Unlogged: committed changes not yet in the metadata log at the providers
    Outbox,
    /// A rebuild's stage (`metalog::stage`): what it has read from the log, while it runs
    Rebuild,
    /// `user/<name>` → UserRecord, `key/<id>` → AccessKeyRecord, `grant/<bucket uid hex>/<user>`
    /// → Perms: who may do what (`meta::store::access`)
    Access,
    /// bucket_uid ‖ esc(key) ‖ !u64(order) → VersionRecord: every version of a key but the
    /// latest one holding data (`meta::store::versions`)
    Versions,
    /// bucket_uid ‖ version_uid → u64(order): where a version with its own id is in `Versions`
    VersionIds,
    /// bucket_uid ‖ key → u64(order): where the key's `null` version is in `Versions`
    NullVersions,
    /// segment_id ‖ provider → LogRepairTask: a provider of its placement that missed a log
    /// segment, to be given a copy (`metalog::repair`)
    LogRepairs,
    /// scope bucket (16 zero bytes for the catalog) ‖ segment_id → IndexedSegment: where each
    /// log segment this store's gateways wrote went, so a checkpoint can delete those it
    /// supersedes (`metalog::checkpoint`)
    LogSegments,
    /// scope bucket (16 zero bytes for the catalog) ‖ u64(record seq) → u64(log seq): the
    /// audit records logged in each scope, which its checkpoints carry forward
    /// (`meta::audit_chain`)
    AuditScopes,
    /// bucket_uid → the bucket's name: a bucket by its identity without scanning them all
    /// (`meta::store::logging::bucket_by_uid`)
    BucketIds,
}

impl Cf {
    /// Every family, for engines that create them.
    pub const ALL: [Cf; 27] = [
        Cf::Buckets,
        Cf::Objects,
        Cf::Deks,
        Cf::Uploads,
        Cf::UploadIds,
        Cf::Parts,
        Cf::Streams,
        Cf::Intents,
        Cf::Gc,
        Cf::Repair,
        Cf::Completed,
        Cf::Meta,
        Cf::Catalog,
        Cf::Audit,
        Cf::Verified,
        Cf::Deletions,
        Cf::Owners,
        Cf::Outbox,
        Cf::Rebuild,
        Cf::Access,
        Cf::Versions,
        Cf::VersionIds,
        Cf::NullVersions,
        Cf::LogRepairs,
        Cf::LogSegments,
        Cf::AuditScopes,
        Cf::BucketIds,
    ];

    /// The engine-level name.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Buckets => "buckets",
            Cf::Objects => "objects",
            Cf::Deks => "deks",
            Cf::Uploads => "uploads",
            Cf::UploadIds => "upload_ids",
            Cf::Parts => "parts",
            Cf::Streams => "streams",
            Cf::Intents => "intents",
            Cf::Gc => "gc",
            Cf::Repair => "repair",
            Cf::Completed => "completed",
            Cf::Meta => "meta",
            Cf::Catalog => "catalog",
            Cf::Audit => "audit",
            Cf::Verified => "verified",
            Cf::Deletions => "deletions",
            Cf::Owners => "owners",
            Cf::Outbox => "outbox",
            Cf::Rebuild => "rebuild",
            Cf::Access => "access",
            Cf::Versions => "versions",
            Cf::VersionIds => "version_ids",
            Cf::NullVersions => "null_versions",
            Cf::LogRepairs => "log_repairs",
            Cf::LogSegments => "log_segments",
            Cf::AuditScopes => "audit_scopes",
            Cf::BucketIds => "bucket_ids",
        }
    }
}

/// Key-value pairs in key order, as scans return them.
pub type KvPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// One write of an atomic batch.
#[derive(Debug, Clone)]
pub enum KvOp {
    /// Insert or overwrite.
    Put(Cf, Vec<u8>, Vec<u8>),
    /// Remove (absent is fine).
    Delete(Cf, Vec<u8>),
}

/// A lock a transaction takes before it reads, held until it commits or is dropped. In one
/// process these are mutexes; across gateways sharing a database, the database's own locks.
/// Transactions take them in this enum's order, so two never wait on each other in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnLock {
    /// Bucket creation and deletion and residency changes (exclusive) against the commits
    /// that need their bucket to stay (shared).
    Lifecycle {
        /// Exclusive (else shared).
        exclusive: bool,
    },
    /// One object key: conditional commits, deletes, completes and moves of that key.
    Key(u32),
    /// The audit chain's head: records chain in the order they are written.
    Audit,
    /// Claiming queued work (repair and deletion tasks) and job leases.
    Claims,
}

impl TxnLock {
    /// The lock of one object key: a stable hash of the bucket and the key, the same in every
    /// gateway build (so not `DefaultHasher`).
    pub fn key(bucket: &[u8], key: &[u8]) -> Self {
        // FNV-1a, 32 bits.
        let mut h: u32 = 0x811c_9dc5;
        for b in bucket.iter().chain(key) {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
        TxnLock::Key(h)
    }
}

/// A transaction: reads see every commit made before its locks were granted; `commit`
/// applies the writes atomically and durably. Dropping it without commit writes nothing.
pub trait KvTxn {
    /// One value.
    fn get(&mut self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Up to `limit` entries with `start <= key < end`, in byte order.
    fn scan(&mut self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError>;
    /// The next value of the store-wide commit sequence (increasing; durable with the commit).
    fn next_seq(&mut self) -> Result<u64, MetaError>;
    /// Makes every later sequence number exceed `floor` (a rebuild continues above the log's).
    fn raise_seq(&mut self, floor: u64) -> Result<(), MetaError>;
    /// Applies `ops`, all or none, durably, and releases the locks.
    fn commit(self, ops: Vec<KvOp>) -> Result<(), MetaError>;

    /// One value, decoded.
    fn get_decoded<T: serde::de::DeserializeOwned>(&mut self, cf: Cf, key: &[u8]) -> Result<Option<T>, MetaError>
    where
        Self: Sized,
    {
        self.get(cf, key)?.map(|v| super::codec::decode(&v)).transpose()
    }
}

/// A synchronous, ordered, durable key-value engine. Calls block; the store runs them in
/// `spawn_blocking`.
pub trait KvEngine: Send + Sync + 'static {
    /// This engine's transactions.
    type Txn<'a>: KvTxn
    where
        Self: 'a;
    /// Several gateways share this engine, so intents of another boot may belong to a live
    /// gateway. False when one process owns the store (RocksDB's LOCK file, memory).
    const SHARED: bool = false;

    /// One value.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Applies every op or none, durably (fsynced) before returning.
    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError>;
    /// Up to `limit` entries with `start <= key < end`, in byte order.
    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError>;
    /// Starts a transaction holding `locks` (in any order; they are taken in [`TxnLock`]'s).
    fn begin(&self, locks: &[TxnLock]) -> Result<Self::Txn<'_>, MetaError>;
}

/// The `Meta` key of the commit sequence.
pub const SEQ_KEY: &[u8] = b"seq";
