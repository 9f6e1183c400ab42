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
}

impl Cf {
    /// Every family, for engines that create them.
    pub const ALL: [Cf; 15] = [
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

/// A synchronous, ordered, durable key-value engine. Calls block; the store runs them in
/// `spawn_blocking`.
pub trait KvEngine: Send + Sync + 'static {
    /// One value.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError>;
    /// Applies every op or none, durably (fsynced) before returning.
    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError>;
    /// Up to `limit` entries with `start <= key < end`, in byte order.
    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError>;
}
