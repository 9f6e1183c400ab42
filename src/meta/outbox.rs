//! The metadata log's outbox (docs/format-v2.md, decision 3). Every commit that changes what a
//! rebuild must recover writes, in its own transaction, the change's [`LogEntry`] under its
//! commit sequence number; the log writer seals outbox entries into segments at the providers
//! and then removes them. A crash between the commit and the segment leaves the entry here,
//! so the next start logs it: the log ends up complete for every committed change.
//!
//! Commits made through the store wait for their entry to be logged before they return, once a
//! [`LogSink`] is installed, so no path can acknowledge a write the log does not hold.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::codec::encode;
use super::kv::{Cf, KvOp};
use super::log_entry::LogEntry;
use super::{BucketRecord, MetaError};
use crate::model::{BucketUid, ProviderId};

/// Where an entry's segment goes and which log key seals it: a bucket's entries go to that
/// bucket's placement under its KEK's log key; catalog entries (`bucket: None`) to the default
/// policy's placement under the default KEK's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogScope {
    /// The bucket, or `None` for the catalog.
    pub bucket: Option<BucketUid>,
    /// The residency policy whose placement receives the segment (as of the commit).
    pub policy: String,
    /// The bucket's own KEK, or `None` for the default KEK.
    pub kek: Option<String>,
}

impl LogScope {
    /// The scope of a bucket's entries.
    pub fn bucket(rec: &BucketRecord, kek: Option<String>) -> Self {
        Self { bucket: Some(rec.uid), policy: rec.policy_id.clone(), kek }
    }

    /// The scope of catalog entries: the default policy, the default KEK.
    pub fn catalog() -> Self {
        Self { bucket: None, policy: String::new(), kek: None }
    }
}

/// A provider of a segment's placement that did not take it when it was written (down, slow,
/// refusing): the segment was acknowledged at W, and this task brings it to the provider so
/// the log is as redundant as the data it describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRepairTask {
    /// The segment (its name is `sv2/l/<hex of this>`).
    pub segment_id: [u8; 16],
    /// The provider that missed it.
    pub provider: ProviderId,
    /// Where the segment belongs: the repair writes only where this scope's placement, as it
    /// is when the repair runs, grants.
    pub scope: LogScope,
    /// The providers that took it.
    pub holders: Vec<ProviderId>,
    /// When the task is due, ms since the epoch.
    pub due_ms: i64,
    /// Failed attempts so far (they space out the next ones).
    pub attempts: u32,
}

impl LogRepairTask {
    /// Its key in [`Cf::LogRepairs`]: `segment_id ‖ provider`.
    pub(crate) fn key(&self) -> Vec<u8> {
        log_repair_key(&self.segment_id, &self.provider)
    }
}

/// The key of the task of `segment_id` at `provider`.
pub(crate) fn log_repair_key(segment_id: &[u8; 16], provider: &ProviderId) -> Vec<u8> {
    let mut k = segment_id.to_vec();
    k.extend_from_slice(provider.as_str().as_bytes());
    k
}

/// A log segment as the writer recorded it (docs/format-v2.md, "Checkpoints"): where it went,
/// and which commits it holds, so that a checkpoint of its scope can delete it once the
/// checkpoint reflects all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedSegment {
    /// The segment (its name is `sv2/l/<hex of this>`).
    pub segment_id: [u8; 16],
    /// Where it belongs (as of its writing).
    pub scope: LogScope,
    /// Every provider it was sent to (those that took it and those that missed it: a request
    /// cut off may still have stored it), and every provider a repair copied it to.
    pub targets: Vec<ProviderId>,
    /// The highest commit sequence number among its entries.
    pub max_seq: u64,
    /// Its size at a provider.
    pub bytes: u64,
    /// The checkpoint it is a part of: its id and `through`.
    pub checkpoint: Option<([u8; 16], u64)>,
}

impl IndexedSegment {
    /// Its key in [`Cf::LogSegments`]: scope bucket ‖ segment id.
    pub(crate) fn key(&self) -> Vec<u8> {
        indexed_segment_key(self.scope.bucket, &self.segment_id)
    }
}

/// Where the catalog stands wherever a scope is 16 bytes: in the segment index, the audit
/// scope index and a catalog checkpoint's marker (no bucket has this identity: they are random).
pub const CATALOG_SCOPE: [u8; 16] = [0; 16];

/// The key of `segment_id` of scope `bucket` in [`Cf::LogSegments`].
pub(crate) fn indexed_segment_key(bucket: Option<BucketUid>, segment_id: &[u8; 16]) -> Vec<u8> {
    let mut k = bucket.map_or(CATALOG_SCOPE, |b| *b.as_bytes()).to_vec();
    k.extend_from_slice(segment_id);
    k
}

/// Where the next page of a bucket's live state starts (see `LogMeta::log_state_page`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCursor {
    /// In the noncurrent versions (after every latest one).
    pub noncurrent: bool,
    /// In the multipart uploads in progress (after every version).
    pub uploads: bool,
    /// In the audit records logged in the bucket's scope (after every upload; a deleted
    /// bucket's checkpoint has only these).
    pub audit: bool,
    /// After this record key (from the first when `None`).
    pub after: Option<Vec<u8>>,
}

/// Where the next page of the catalog's state starts (see `LogMeta::catalog_state_page`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogCursor {
    /// Which records.
    pub phase: CatalogPhase,
    /// After this record key (from the first when `None`).
    pub after: Option<Vec<u8>>,
}

/// The catalog's records, in the order a checkpoint writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CatalogPhase {
    /// Providers, policies and shredded KEKs changed through the admin API.
    #[default]
    Catalog,
    /// Users, access keys, admin tokens, grants and bucket settings.
    Access,
    /// The audit records logged in the catalog's scope.
    Audit,
}

/// An entry waiting to be logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlogged {
    /// The commit sequence number (the outbox's key).
    pub seq: u64,
    /// Where it goes.
    pub scope: LogScope,
    /// The encoded [`LogEntry`].
    pub entry: Vec<u8>,
}

/// The outbox record of `entry`, committed at `seq`, to add to the commit's writes.
pub(crate) fn outbox_op(seq: u64, scope: LogScope, entry: &LogEntry) -> Result<KvOp, MetaError> {
    let entry = entry.encode().map_err(|e| MetaError::codec_from("encoding a log entry", e))?;
    Ok(KvOp::Put(Cf::Outbox, seq.to_be_bytes().to_vec(), encode(&Unlogged { seq, scope, entry })?))
}

/// Why a committed change is not (yet) in the log at the providers.
#[derive(Debug, thiserror::Error)]
#[error("the change was committed but its metadata log segment is not yet durable at the providers")]
pub struct LogError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl LogError {
    /// Not logged because of `source`.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { source: source.into() }
    }
}

/// The log writer, as the store sees it.
#[async_trait]
pub trait LogSink: Send + Sync + 'static {
    /// Returns once the entry committed at `seq` is durable in the log (written now, or by an
    /// earlier round or another gateway), or why it is not.
    async fn logged(&self, seq: u64) -> Result<(), LogError>;
}

/// The sink of a stopped gateway: every logged commit fails closed (committed, not
/// acknowledged) rather than returning without its entry logged. Installing it also lets go of
/// the writer, which holds the store.
pub struct WriterStopped;

#[async_trait]
impl LogSink for WriterStopped {
    async fn logged(&self, _seq: u64) -> Result<(), LogError> {
        Err(LogError::new("the metadata log writer stopped"))
    }
}
