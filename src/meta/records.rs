//! The records the metadata store persists. Each is stored as `u8(version) ‖ postcard`.

use serde::{Deserialize, Serialize};

use crate::model::{
    BootId, BucketUid, ChecksumAlgorithm, ChecksumType, ContentHeaders, ETag, ObjectChecksum, ProviderId, Redundancy,
    StreamId, StreamManifest, UploadId, VersionUid,
};
use crate::model::{BucketName, WrappedKey};

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Identity for its whole life.
    pub uid: BucketUid,
    /// The S3 name (stored as its text: a newtype encodes as the string it wraps).
    pub name: BucketName,
    /// The residency policy it is bound to.
    pub policy_id: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// One version of an object (DESIGN §12.4): data with its own key and streams, or a delete
/// marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Identity of this version; binds its DEK and streams.
    pub version_uid: VersionUid,
    /// The store-wide commit sequence number of the last commit that changed this record (its
    /// PUT, or a later replica move): the sequence number of its metadata log entry.
    pub seq: u64,
    /// Plaintext size.
    pub size: u64,
    /// S3 ETag.
    pub etag: ETag,
    /// Last-Modified, ms since the epoch.
    pub last_modified_ms: i64,
    /// Content headers and user metadata.
    pub headers: ContentHeaders,
    /// The full-object or composite checksum, if the client asked for one.
    pub checksum: Option<ObjectChecksum>,
    /// The sealed streams, in part order (one for a single PUT).
    pub streams: Vec<StreamManifest>,
    /// Per part of a multipart object: its checksum value, for partNumber reads.
    pub part_checksums: Vec<Option<String>>,
    /// True for objects made by CompleteMultipartUpload.
    pub multipart: bool,
    /// MAC over the stream list under a key derived from the DEK (§4.4).
    pub manifest_mac: [u8; 32],
    /// The sequence number of the commit that made it, which never changes (unlike `seq`):
    /// a key's versions are ordered by it, the highest is the latest. Set by the commit.
    pub order: u64,
    /// S3's `null` version: made while the bucket was unversioned or suspended (at most one
    /// per key). Set by the commit.
    pub null: bool,
    /// A delete marker: no streams, no data key, size 0.
    pub delete_marker: bool,
    /// Its Object Lock retention and legal hold.
    pub lock: crate::model::lock::VersionLock,
    /// Its object tags (PutObjectTagging, `x-amz-tagging`).
    pub tags: crate::model::tagging::TagSet,
}

impl VersionRecord {
    /// How S3 names this version.
    pub fn version_ref(&self) -> crate::model::VersionRef {
        if self.null { crate::model::VersionRef::Null } else { crate::model::VersionRef::Id(self.version_uid) }
    }

    /// A delete marker made at `now_ms` (its order and null-ness are set by the commit).
    pub fn marker(version_uid: VersionUid, now_ms: i64) -> Self {
        Self {
            version_uid,
            seq: 0,
            size: 0,
            etag: ETag(String::new()),
            last_modified_ms: now_ms,
            headers: ContentHeaders::default(),
            checksum: None,
            streams: Vec::new(),
            part_checksums: Vec::new(),
            multipart: false,
            manifest_mac: [0; 32],
            order: 0,
            null: false,
            delete_marker: true,
            lock: crate::model::lock::VersionLock::default(),
            tags: crate::model::tagging::TagSet::default(),
        }
    }
}

/// An open multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Its id.
    pub upload_id: UploadId,
    /// Owning bucket.
    pub bucket_uid: BucketUid,
    /// Target key.
    pub key: String,
    /// The version the upload becomes.
    pub version_uid: VersionUid,
    /// The placement at creation (each part is placed again when it arrives, and Complete
    /// moves replicas off providers the policy no longer allows).
    pub targets: Vec<ProviderId>,
    /// Initiation time, ms since the epoch.
    pub initiated_ms: i64,
    /// Headers given at creation.
    pub headers: ContentHeaders,
    /// Checksum algorithm and type requested at creation.
    pub checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    /// The upload's DEK, wrapped.
    pub dek: WrappedKey,
    /// How many targets must acknowledge each part.
    pub write_quorum: u8,
    /// The retention and legal hold its `x-amz-object-lock-*` headers asked for (the
    /// bucket's default retention applies at completion when it asked for none).
    pub lock: crate::model::lock::VersionLock,
    /// The tags its `x-amz-tagging` header asked for, given to the object at completion.
    pub tags: crate::model::tagging::TagSet,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The sealed stream.
    pub stream: StreamManifest,
    /// The 16 bytes of the part's ETag: its plaintext's MD5, or its BLAKE3-128 when it was
    /// uploaded into a bucket in the `fast` ETag mode (the multipart ETag is made of these).
    pub etag_digest: [u8; 16],
    /// Base64 checksum of the part under the upload's algorithm.
    pub checksum: Option<String>,
    /// Upload time, ms since the epoch.
    pub last_modified_ms: i64,
    /// `md5` holds the part's BLAKE3-128, not its MD5: its ETag is marked `-1` (a client that
    /// checks a part's ETag against its MD5, as s3cmd does, skips marked ones).
    pub fast_etag: bool,
}

impl PartRecord {
    /// The part's ETag (UploadPart's answer, ListParts, what CompleteMultipartUpload names).
    pub fn etag(&self) -> crate::model::ETag {
        let d = &self.etag_digest;
        if self.fast_etag { crate::model::ETag::fast(d) } else { crate::model::ETag::from_md5(d) }
    }

    /// Stored as `u8(2) ‖ postcard(self)`: layout 2 added `fast_etag` at the end.
    pub fn encode_stored(&self) -> Result<Vec<u8>, super::MetaError> {
        super::codec::encode_as(PART_LAYOUT, self)
    }

    /// Reads layout 2, or layout 1 (written before ETag modes, with the record version byte
    /// every record has: an MD5 part).
    pub fn decode_stored(bytes: &[u8]) -> Result<Self, super::MetaError> {
        #[derive(Deserialize)]
        struct PartLayout1 {
            stream: StreamManifest,
            md5: [u8; 16],
            checksum: Option<String>,
            last_modified_ms: i64,
        }
        match bytes.split_first() {
            Some((&PART_LAYOUT, rest)) => super::codec::decode_body(rest),
            Some((&super::codec::RECORD_VERSION, rest)) => {
                let p: PartLayout1 = super::codec::decode_body(rest)?;
                Ok(Self {
                    stream: p.stream,
                    etag_digest: p.md5,
                    checksum: p.checksum,
                    last_modified_ms: p.last_modified_ms,
                    fast_etag: false,
                })
            }
            Some((v, _)) => Err(super::MetaError::codec(format!("unknown part layout {v}"))),
            None => Err(super::MetaError::codec("empty part")),
        }
    }
}

/// The first byte of a stored [`PartRecord`] of today's layout.
const PART_LAYOUT: u8 = 2;

/// Bytes are about to be sent to providers for a stream that is not yet committed. Written
/// (fsynced) before the first byte leaves, so a crash leaves something for GC to find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The stream being written.
    pub stream_id: StreamId,
    /// Where it is being written.
    pub targets: Vec<ProviderId>,
    /// The gateway run that wrote it.
    pub boot_id: BootId,
    /// When, ms since the epoch.
    pub created_ms: i64,
}

/// A replica (or shard) to (re)create: the hinted handoff of a write that reached its quorum
/// without every target, or of a replica found damaged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StoredRepairTask")]
pub struct RepairTask {
    /// The stream.
    pub stream_id: StreamId,
    /// The provider that lacks it.
    pub provider: ProviderId,
    /// Every provider meant to hold it (sources are the others).
    pub replicas: Vec<ProviderId>,
    /// Whole replicas or shards (the stream's scheme), so the backlog is counted per scheme
    /// without reading each stream's record.
    pub redundancy: Redundancy,
    /// Ciphertext length.
    pub ciphertext_len: u64,
    /// The ciphertext's keyless check, checked on the copy.
    pub ciphertext_check: crate::model::CiphertextCheck,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before, ms since the epoch.
    pub due_ms: i64,
    /// When the replica went missing, ms since the epoch (for the oldest-pending age).
    pub created_ms: i64,
}

impl RepairTask {
    /// A task to recreate `m` at `provider`, due now.
    pub fn for_stream(m: &StreamManifest, provider: ProviderId, ciphertext_len: u64, now_ms: i64) -> Self {
        Self {
            stream_id: m.stream_id,
            provider,
            replicas: m.replicas.clone(),
            redundancy: m.redundancy,
            ciphertext_len,
            ciphertext_check: m.ciphertext_check,
            attempts: 0,
            due_ms: now_ms,
            created_ms: now_ms,
        }
    }
}

/// A [`RepairTask`] as the queue stores it: the fields of before erasure coding in their
/// order, the scheme riding as the first entry of the holder list when it is not replicas
/// (as a [`StreamManifest`]'s does), so every task queued before reads unchanged (as replicas:
/// the scheme only labels the backlog; repair reads the stream's own record).
#[derive(Serialize, Deserialize)]
struct StoredRepairTask {
    stream_id: StreamId,
    provider: ProviderId,
    holders: Vec<String>,
    ciphertext_len: u64,
    ciphertext_check: crate::model::CiphertextCheck,
    attempts: u32,
    due_ms: i64,
    created_ms: i64,
}

impl Serialize for RepairTask {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tag = self.redundancy.holder_tag();
        StoredRepairTask {
            stream_id: self.stream_id,
            provider: self.provider.clone(),
            holders: tag.into_iter().chain(self.replicas.iter().map(ToString::to_string)).collect(),
            ciphertext_len: self.ciphertext_len,
            ciphertext_check: self.ciphertext_check,
            attempts: self.attempts,
            due_ms: self.due_ms,
            created_ms: self.created_ms,
        }
        .serialize(s)
    }
}

impl TryFrom<StoredRepairTask> for RepairTask {
    type Error = String;
    fn try_from(t: StoredRepairTask) -> Result<Self, String> {
        let (redundancy, replicas) = crate::model::redundancy::split_holders(t.holders)?;
        Ok(Self {
            stream_id: t.stream_id,
            provider: t.provider,
            replicas,
            redundancy,
            ciphertext_len: t.ciphertext_len,
            ciphertext_check: t.ciphertext_check,
            attempts: t.attempts,
            due_ms: t.due_ms,
            created_ms: t.created_ms,
        })
    }
}

/// A multipart upload that was completed, kept for a day so a retried Complete is answered
/// with the same result instead of NoSuchUpload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedUpload {
    /// Bucket.
    pub bucket_uid: BucketUid,
    /// Key.
    pub key: String,
    /// The version it became.
    pub version_uid: VersionUid,
    /// When, ms since the epoch.
    pub completed_ms: i64,
}

/// A background job's durable state (evacuation), so it resumes after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// `evacuation`.
    pub name: String,
    /// `running` or `done`.
    pub state: String,
    /// Why it started (the change that triggered it).
    pub reason: String,
    /// Started, ms since the epoch.
    pub started_ms: i64,
    /// Last progress, ms since the epoch.
    pub updated_ms: i64,
    /// Resume point: the bucket name and key after which the scan continues.
    pub cursor: Option<(String, String)>,
    /// Objects examined.
    pub scanned: u64,
    /// Replicas moved.
    pub moved: u64,
    /// Replicas that could not be moved in this pass (retried by the next).
    pub failed: u64,
    /// Objects stored when the job started (for a progress ratio).
    pub total: u64,
    /// The share of the pass done in millionths, for jobs that know it without a total (the
    /// scrubber).
    pub progress_ppm: Option<u32>,
}

impl JobRecord {
    /// The share of the pass done (0–1): 1 once done, else the job's own estimate, else
    /// objects scanned of the total counted at the start.
    pub fn progress(&self) -> f64 {
        let ratio = match self.progress_ppm {
            _ if self.state == "done" => 1.0,
            Some(ppm) => f64::from(ppm) / 1e6,
            None if self.total == 0 => 1.0,
            None => self.scanned as f64 / self.total as f64,
        };
        ratio.clamp(0.0, 1.0)
    }
}

/// The streams of an upload that failed before its commit, to delete wherever they were sent
/// (also the stream-wide GC task of stores written before [`DeletionTask`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcTask {
    /// The stream.
    pub stream_id: StreamId,
    /// Providers that may hold it.
    pub targets: Vec<ProviderId>,
}

impl GcTask {
    /// The task that removes every replica of `m`.
    pub fn for_stream(m: &StreamManifest) -> Self {
        Self { stream_id: m.stream_id, targets: m.replicas.clone() }
    }
}

/// Why the gateway decided to delete a replica. Residency reasons mean the replica sits at a
/// provider its bucket's policy no longer allows (or at least no longer wants it there):
/// ciphertext outside policy until deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DeletionReason {
    /// The stream's version was overwritten or deleted, its part replaced, its upload aborted
    /// or completed without it.
    Unreferenced,
    /// An upload that never committed (failed, cancelled, or its gateway stopped).
    Abandoned,
    /// Evacuation moved the replica to an allowed provider.
    Evacuated,
    /// The policy asks for fewer replicas than the stream had: this one was dropped.
    Surplus,
    /// A copy (repair, evacuation) landed after its object changed or was deleted.
    Orphaned,
    /// A copy (a repair) landed after its provider stopped being one of the stream's replicas
    /// (evacuation moved the replica away meanwhile).
    Misplaced,
}

impl DeletionReason {
    /// The name in metrics, `/health`, the admin API and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionReason::Unreferenced => "unreferenced",
            DeletionReason::Abandoned => "abandoned",
            DeletionReason::Evacuated => "evacuated",
            DeletionReason::Surplus => "surplus",
            DeletionReason::Orphaned => "orphaned",
            DeletionReason::Misplaced => "misplaced",
        }
    }

    /// The provider lost the right to hold this replica under the bucket's policy.
    pub fn residency(self) -> bool {
        matches!(self, DeletionReason::Evacuated | DeletionReason::Surplus | DeletionReason::Misplaced)
    }
}

/// One replica to delete at one provider: written in the same commit as the decision,
/// retried with backoff until the provider confirms (absent counts as done), never dropped
/// unless the replica became live again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionTask {
    /// The stream.
    pub stream_id: StreamId,
    /// The provider that may hold it.
    pub provider: ProviderId,
    /// Why.
    pub reason: DeletionReason,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before, ms since the epoch (a claim pushes it out by the claim's lease).
    pub due_ms: i64,
    /// When the deletion was decided, ms since the epoch (for the oldest-pending age).
    pub created_ms: i64,
    /// Bumped each time the deletion is decided again while queued (a late copy landed), so
    /// a worker that finishes an older claim does not retire the newer decision.
    pub generation: u32,
}

impl DeletionTask {
    /// A task due now.
    pub fn new(stream_id: StreamId, provider: ProviderId, reason: DeletionReason, now_ms: i64) -> Self {
        Self { stream_id, provider, reason, attempts: 0, due_ms: now_ms, created_ms: now_ms, generation: 0 }
    }
}

/// A task of a per-replica queue (repairs, deletions), found by its stream and provider.
pub trait ReplicaTask {
    /// Where a page of the queue ending with this task is continued.
    fn cursor(&self) -> (StreamId, ProviderId);
}

impl ReplicaTask for RepairTask {
    fn cursor(&self) -> (StreamId, ProviderId) {
        (self.stream_id, self.provider.clone())
    }
}

impl ReplicaTask for DeletionTask {
    fn cursor(&self) -> (StreamId, ProviderId) {
        (self.stream_id, self.provider.clone())
    }
}

/// The layout byte of a stored erasure-coding policy: a replication policy keeps layout 1
/// (its bytes exactly as before erasure coding, so older gateways still read it), an erasure
/// one carries its shard counts after the fields of layout 1 and a byte older gateways refuse.
const POLICY_ERASURE_LAYOUT: u8 = 2;

/// A residency policy as the catalog stores it (see [`POLICY_ERASURE_LAYOUT`]).
pub fn encode_policy(p: &crate::model::ResidencyPolicy) -> Result<Vec<u8>, super::MetaError> {
    match p.erasure {
        // `erasure` is left out when absent: layout 1.
        None => super::codec::encode(p),
        Some(_) => super::codec::encode_as(POLICY_ERASURE_LAYOUT, p),
    }
}

/// Reads [`encode_policy`]'s bytes.
pub fn decode_policy(bytes: &[u8]) -> Result<crate::model::ResidencyPolicy, super::MetaError> {
    match bytes.split_first() {
        Some((&super::codec::RECORD_VERSION, rest)) => {
            // Layout 1 ends where `erasure` would start: read it as the `None` it is.
            let mut body = rest.to_vec();
            body.push(0);
            super::codec::decode_body(&body)
        }
        Some((&POLICY_ERASURE_LAYOUT, rest)) => super::codec::decode_body(rest),
        Some((v, _)) => Err(super::MetaError::codec(format!("unknown policy record layout {v}"))),
        None => Err(super::MetaError::codec("empty policy record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(fast_etag: bool) -> PartRecord {
        let stream = crate::meta::conformance::stream(3);
        PartRecord { stream, etag_digest: [0xab; 16], checksum: Some("x".into()), last_modified_ms: 7, fast_etag }
    }

    /// Promise: a part stored before ETag modes (layout 1: the record version byte and the four
    /// fields) still reads, as an MD5 part; today's layout round-trips either kind, and its
    /// ETag is marked `-1` only for a fast part.
    #[test]
    fn parts_of_both_layouts_read_and_only_fast_ones_are_marked() {
        let old = part(false);
        let mut layout1 = vec![crate::meta::codec::RECORD_VERSION];
        layout1
            .extend(postcard::to_stdvec(&(&old.stream, old.etag_digest, &old.checksum, old.last_modified_ms)).unwrap());
        assert_eq!(PartRecord::decode_stored(&layout1).unwrap(), old);
        for fast in [false, true] {
            let p = part(fast);
            let stored = p.encode_stored().unwrap();
            assert_eq!(stored[0], 2);
            assert_eq!(stored[1..layout1.len()], layout1[1..], "layout 2 appends one field");
            assert_eq!(PartRecord::decode_stored(&stored).unwrap(), p);
        }
        assert_eq!(part(false).etag().0, "ab".repeat(16));
        assert_eq!(part(true).etag().0, format!("{}-1", "ab".repeat(16)));
        assert!(PartRecord::decode_stored(&[9, 0]).is_err());
        assert!(PartRecord::decode_stored(&[]).is_err());
    }

    fn policy(erasure: Option<crate::model::ErasureShards>) -> crate::model::ResidencyPolicy {
        crate::model::ResidencyPolicy {
            id: "p".into(),
            allowed_countries: Vec::new(),
            allowed_jurisdictions: Vec::new(),
            forbid_exposures: vec!["x".into()],
            replicas: 6,
            write_quorum: 5,
            distinct: crate::model::Distinct::Operator,
            min_distinct_countries: 2,
            min_distinct_operators: 3,
            required_certifications: Vec::new(),
            erasure,
        }
    }

    /// Promise (issue 26): a replication policy's stored record keeps the bytes of before
    /// erasure coding (pinned by hand: version 1, then postcard's fields), an erasure one is
    /// layout 2 (which gateways of before refuse) and both read back.
    #[test]
    fn policy_records_keep_layout_one_unless_erasure_coded() {
        let plain = policy(None);
        let bytes = encode_policy(&plain).unwrap();
        assert_eq!(hex::encode(&bytes), "0101700000010178060501020300");
        assert_eq!(decode_policy(&bytes).unwrap(), plain);
        let rs = policy(Some(crate::model::ErasureShards { data: 4, parity: 2 }));
        let bytes = encode_policy(&rs).unwrap();
        assert_eq!(bytes[0], 2);
        assert!(crate::meta::codec::decode::<crate::model::ResidencyPolicy>(&bytes).is_err());
        assert_eq!(decode_policy(&bytes).unwrap(), rs);
    }
}

#[cfg(test)]
mod repair_task_tests {
    use super::*;
    use crate::model::{CiphertextCheck, ErasureShards, StripeShape};

    /// Promise: a repair task queued before tasks knew their scheme reads unchanged, as
    /// replicas; a shard's task round-trips with its scheme (which labels the backlog).
    #[test]
    fn repair_tasks_keep_their_layout_and_carry_their_scheme() {
        let holders: Vec<ProviderId> = ["de", "fr", "nl"].iter().filter_map(|p| ProviderId::parse(p)).collect();
        let task = RepairTask {
            stream_id: StreamId([1; 16]),
            provider: holders[1].clone(),
            replicas: holders.clone(),
            redundancy: Redundancy::Replicas,
            ciphertext_len: 3,
            ciphertext_check: CiphertextCheck([6; 32]),
            attempts: 4,
            due_ms: 5,
            created_ms: 6,
        };
        let before = (task.stream_id, &task.provider, &holders, 3u64, task.ciphertext_check, 4u32, 5i64, 6i64);
        let old_bytes = super::super::codec::encode(&before).unwrap();
        assert_eq!(super::super::codec::encode(&task).unwrap(), old_bytes, "a replica's task keeps its bytes");
        assert_eq!(super::super::codec::decode::<RepairTask>(&old_bytes).unwrap(), task);
        let shape = StripeShape { shards: ErasureShards { data: 2, parity: 1 }, chunk: 64 };
        let shard = RepairTask { redundancy: Redundancy::ReedSolomon(shape), ..task };
        let bytes = super::super::codec::encode(&shard).unwrap();
        assert_eq!(super::super::codec::decode::<RepairTask>(&bytes).unwrap(), shard);
    }
}
