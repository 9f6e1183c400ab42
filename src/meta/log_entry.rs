//! Format v2 log entries (docs/format-v2.md): each committed change of the metadata store, in
//! the form the providers keep for ever. Deliberately separate from the store's own records:
//! those may change with the code, these must read the same in ten years, so every field is
//! spelled out here, enums are explicit codes, and a change means a new entry kind (appended:
//! postcard encodes a variant by its index), never an edited one.
//!
//! Encoding: `u8(2) ‖ postcard(entry)` (postcard's wire format is specified and stable).

use serde::{Deserialize, Serialize};

pub use super::log_audit::LoggedAudit;
pub use super::log_upload::{LoggedPart, LoggedUpload};
use super::records::{BucketRecord, VersionRecord};
use crate::model::{
    BucketName, BucketUid, ChecksumAlgorithm, ChecksumType, ContentHeaders, ETag, ObjectChecksum, Redundancy, StreamId,
    StreamManifest, VersionUid, WrappedKey,
};

/// The first byte of every encoded entry.
pub const ENTRY_FORMAT: u8 = 2;

/// One committed change. Every entry carries the store's commit sequence number: per key (or
/// bucket), the highest wins on rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEntry {
    /// A bucket as it now is (created, bound to another policy, given a KEK).
    Bucket(LoggedBucket),
    /// A bucket was deleted.
    BucketDeleted {
        /// Commit sequence.
        seq: u64,
        /// The bucket.
        bucket: [u8; 16],
    },
    /// A version became the key's current one.
    Version(Box<LoggedVersion>),
    /// The key's current version was deleted.
    Deleted {
        /// Commit sequence.
        seq: u64,
        /// The bucket.
        bucket: [u8; 16],
        /// The object key.
        key: String,
    },
    /// A version's data key was wrapped anew (key rotation, a bucket's own KEK).
    Rewrapped {
        /// Commit sequence.
        seq: u64,
        /// The version.
        version: [u8; 16],
        /// The new wrapping.
        dek: LoggedKey,
    },
    /// A catalog change made through the admin API: a provider's attributes (`provider/<id>`),
    /// a policy (`policy/<id>`) or a KEK's destruction (`shredded/<kek>`), as JSON (the
    /// config file's vocabulary, which outlives the store's record layout).
    Catalog {
        /// Commit sequence.
        seq: u64,
        /// What changed.
        name: String,
        /// Its new value.
        json: String,
    },
    /// A version of a key with its place in the key's history (written instead of
    /// [`LogEntry::Version`] since versioning): data or a delete marker, the `null` version or
    /// one with its own id. A `null` version replaces the key's earlier `null` one (and a
    /// [`LogEntry::Deleted`] removes it); a version with its own id stays until a
    /// [`LogEntry::VersionDeleted`] of that id.
    ObjectVersion(Box<LoggedObjectVersion>),
    /// A version with its own id was deleted for good.
    VersionDeleted {
        /// Commit sequence.
        seq: u64,
        /// The bucket.
        bucket: [u8; 16],
        /// The object key.
        key: String,
        /// The version.
        version: [u8; 16],
    },
    /// [`LogEntry::ObjectVersion`] of a version with object tags, and its tags (in the order
    /// set). Only tagged versions are logged this way, so every entry written before tagging
    /// existed, and every untagged version since, reads as it always did.
    TaggedVersion(Box<LoggedObjectVersion>, Vec<(String, String)>),
    /// The first entry of every segment of a checkpoint (docs/format-v2.md, "Checkpoints"):
    /// the segment's other entries are the bucket's live state as the store held it with
    /// every commit up to `through` applied, and once every part is read, entries of the
    /// bucket at or below `through` from other segments are superseded.
    Checkpoint(LoggedCheckpoint),
    /// A multipart upload was created (or, in a checkpoint, is open).
    Upload(Box<LoggedUpload>),
    /// A part of an open upload was committed (a part number uploaded again replaces it).
    Part(Box<LoggedPart>),
    /// An upload ended: completed (its version is logged with it) or aborted. Its parts go
    /// with it.
    UploadEnded {
        /// Commit sequence.
        seq: u64,
        /// The bucket.
        bucket: [u8; 16],
        /// The upload.
        upload: [u8; 16],
    },
    /// An audit record, logged with the commit that chained it.
    Audited(Box<LoggedAudit>),
}

/// Which checkpoint a segment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoggedCheckpoint {
    /// Every commit up to this sequence number is reflected in the checkpoint.
    pub through: u64,
    /// The bucket.
    pub bucket: [u8; 16],
    /// The checkpoint (random: two checkpoints never share it).
    pub id: [u8; 16],
    /// This segment's place among the checkpoint's, from 0.
    pub part: u32,
    /// This is the checkpoint's last segment (so the parts are `0..=part`).
    pub last: bool,
}

/// A version with its place in its key's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedObjectVersion {
    /// The version (a delete marker has no streams; its data key is empty).
    pub version: LoggedVersion,
    /// The sequence number of the commit that made it: the key's latest version is the one
    /// with the highest.
    pub order: u64,
    /// S3's `null` version.
    pub null: bool,
    /// A delete marker.
    pub delete_marker: bool,
    /// Its Object Lock retention and legal hold (a change of them logs the version again).
    pub lock: LoggedLock,
    /// Its object tags: not part of this struct's encoding (entries of
    /// [`LogEntry::ObjectVersion`] never had them), carried by [`LogEntry::TaggedVersion`].
    #[serde(skip)]
    pub tags: Vec<(String, String)>,
}

/// A version's Object Lock state: retention mode code (0 none, 1 governance, 2 compliance),
/// retain-until in ms since the epoch, legal hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedLock {
    /// 0 none, 1 governance, 2 compliance.
    pub mode: u8,
    /// Retain until, ms since the epoch (0 without a retention).
    pub until_ms: i64,
    /// A legal hold is on.
    pub legal_hold: bool,
}

impl From<&crate::model::lock::VersionLock> for LoggedLock {
    fn from(l: &crate::model::lock::VersionLock) -> Self {
        use crate::model::lock::RetentionMode;
        let (mode, until_ms) = match l.retention {
            None => (0, 0),
            Some(r) => (if r.mode == RetentionMode::Governance { 1 } else { 2 }, r.until_ms),
        };
        Self { mode, until_ms, legal_hold: l.legal_hold }
    }
}

impl LoggedLock {
    pub(super) fn lock(self) -> Result<crate::model::lock::VersionLock, EntryError> {
        use crate::model::lock::{Retention, RetentionMode};
        let retention = match self.mode {
            0 => None,
            1 => Some(Retention { mode: RetentionMode::Governance, until_ms: self.until_ms }),
            2 => Some(Retention { mode: RetentionMode::Compliance, until_ms: self.until_ms }),
            _ => return Err(EntryError::Field("retention mode")),
        };
        Ok(crate::model::lock::VersionLock { retention, legal_hold: self.legal_hold })
    }
}

/// A bucket record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedBucket {
    /// Commit sequence.
    pub seq: u64,
    /// Identity.
    pub uid: [u8; 16],
    /// S3 name.
    pub name: String,
    /// Residency policy id.
    pub policy: String,
    /// Creation, ms since the epoch.
    pub created_ms: i64,
    /// Its own KEK, if it has one.
    pub kek: Option<String>,
}

/// A wrapped data key, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedKey {
    /// KEK id, followed by `#` and the encryption context when the wrapping is bound to one
    /// ([`WrappedKey::stored_kek_field`]).
    pub kek_id: String,
    /// KEK version.
    pub kek_version: u32,
    /// Wrapped bytes.
    pub bytes: Vec<u8>,
}

/// A committed object version with everything a GET needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedVersion {
    /// Commit sequence.
    pub seq: u64,
    /// The bucket.
    pub bucket: [u8; 16],
    /// The object key.
    pub key: String,
    /// Version id.
    pub version: [u8; 16],
    /// Plaintext size.
    pub size: u64,
    /// S3 ETag (quoted form without quotes, as stored).
    pub etag: String,
    /// Last-Modified, ms since the epoch.
    pub last_modified_ms: i64,
    /// `Content-Type`, `-Encoding`, `-Disposition`, `-Language`, `Cache-Control`.
    pub content: [Option<String>; 5],
    /// `Expires`, seconds since the epoch.
    pub expires_unix: Option<i64>,
    /// User metadata, sorted by name.
    pub user_metadata: Vec<(String, String)>,
    /// Whole-object checksum: algorithm code (see [`algorithm_code`]), base64 value, composite.
    pub checksum: Option<(u8, String, bool)>,
    /// Per part: its checksum value.
    pub part_checksums: Vec<Option<String>>,
    /// Made by CompleteMultipartUpload.
    pub multipart: bool,
    /// The manifest MAC (§4.4).
    pub manifest_mac: [u8; 32],
    /// The streams, in part order.
    pub streams: Vec<LoggedStream>,
    /// The data key.
    pub dek: LoggedKey,
}

/// One stream of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedStream {
    /// Id and provider object name.
    pub stream_id: [u8; 16],
    /// 0 for a single PUT, else the part number.
    pub part_number: u32,
    /// Plaintext length.
    pub plaintext_len: u64,
    /// log2 of the segment size.
    pub seg_log2: u8,
    /// HKDF salt.
    pub salt: [u8; 32],
    /// Header commitment.
    pub commit: [u8; 32],
    /// Keyless check of the ciphertext: its SHA-256 (streams written before the change), or
    /// its CRC64-NVME big-endian followed by 24 zero bytes (`model::CiphertextCheck`).
    pub ciphertext_sha256: [u8; 32],
    /// Redundancy scheme: [`SCHEME_REPLICAS`] or [`SCHEME_REED_SOLOMON`].
    pub scheme: u8,
    /// Providers holding it, as of the commit; for Reed–Solomon, shard `i`'s holder is entry
    /// `i + 1`, after the scheme's `~rs/<k>/<m>/<chunk>` entry.
    pub replicas: Vec<String>,
}

/// [`LoggedStream::scheme`] of a replicated stream.
pub const SCHEME_REPLICAS: u8 = 0;
/// [`LoggedStream::scheme`] of an erasure-coded stream.
pub const SCHEME_REED_SOLOMON: u8 = 1;

/// Why an entry could not be read back into the store's records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// postcard could not encode it (never for these plain types; reported, not hidden).
    #[error("log entry unencodable")]
    Encode,
    /// Not an entry of a format this gateway reads.
    #[error("unknown log entry format")]
    Format,
    /// postcard could not decode it.
    #[error("log entry undecodable")]
    Decode,
    /// A field holds a value no gateway writes (a bad name, an unknown code).
    #[error("log entry field {0} invalid")]
    Field(&'static str),
}

/// The log's code for a checksum algorithm (stable; never reuse a code).
pub fn algorithm_code(a: ChecksumAlgorithm) -> u8 {
    match a {
        ChecksumAlgorithm::Crc32 => 1,
        ChecksumAlgorithm::Crc32c => 2,
        ChecksumAlgorithm::Crc64Nvme => 3,
        ChecksumAlgorithm::Sha1 => 4,
        ChecksumAlgorithm::Sha256 => 5,
    }
}

pub(super) fn algorithm_of(code: u8) -> Result<ChecksumAlgorithm, EntryError> {
    ChecksumAlgorithm::ALL.into_iter().find(|a| algorithm_code(*a) == code).ok_or(EntryError::Field("checksum"))
}

/// The five content headers in the log's order: `Content-Type`, `-Encoding`,
/// `-Disposition`, `-Language`, `Cache-Control`.
pub(super) fn content_fields(h: &ContentHeaders) -> [Option<String>; 5] {
    [
        h.content_type.clone(),
        h.content_encoding.clone(),
        h.content_disposition.clone(),
        h.content_language.clone(),
        h.cache_control.clone(),
    ]
}

/// The headers [`content_fields`], `Expires` and the user metadata give.
pub(super) fn headers_of(
    content: &[Option<String>; 5],
    expires_unix: Option<i64>,
    user_metadata: &[(String, String)],
) -> ContentHeaders {
    let [content_type, content_encoding, content_disposition, content_language, cache_control] = content.clone();
    ContentHeaders {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires_unix,
        user_metadata: user_metadata.to_vec(),
    }
}

impl LogEntry {
    /// The commit sequence number of the change it logs.
    pub fn seq(&self) -> u64 {
        match self {
            LogEntry::Bucket(b) => b.seq,
            LogEntry::Version(v) => v.seq,
            LogEntry::ObjectVersion(v) | LogEntry::TaggedVersion(v, _) => v.version.seq,
            LogEntry::BucketDeleted { seq, .. }
            | LogEntry::VersionDeleted { seq, .. }
            | LogEntry::Deleted { seq, .. }
            | LogEntry::Rewrapped { seq, .. }
            | LogEntry::Catalog { seq, .. }
            | LogEntry::UploadEnded { seq, .. } => *seq,
            LogEntry::Checkpoint(c) => c.through,
            LogEntry::Upload(u) => u.seq,
            LogEntry::Part(p) => p.seq,
            LogEntry::Audited(a) => a.seq,
        }
    }

    /// The bucket it belongs to (`None`: a catalog entry or a rewrap, which name none).
    pub fn bucket(&self) -> Option<&[u8; 16]> {
        match self {
            LogEntry::Bucket(b) => Some(&b.uid),
            LogEntry::Version(v) => Some(&v.bucket),
            LogEntry::ObjectVersion(v) | LogEntry::TaggedVersion(v, _) => Some(&v.version.bucket),
            LogEntry::Checkpoint(c) => Some(&c.bucket),
            LogEntry::Upload(u) => Some(&u.bucket),
            LogEntry::Part(p) => Some(&p.bucket),
            LogEntry::BucketDeleted { bucket, .. }
            | LogEntry::Deleted { bucket, .. }
            | LogEntry::VersionDeleted { bucket, .. }
            | LogEntry::UploadEnded { bucket, .. } => Some(bucket),
            LogEntry::Audited(a) => a.bucket.as_ref(),
            LogEntry::Rewrapped { .. } | LogEntry::Catalog { .. } => None,
        }
    }

    /// `u8(2) ‖ postcard(self)`.
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = vec![ENTRY_FORMAT];
        out.extend(postcard::to_stdvec(self).map_err(|_| EntryError::Encode)?);
        Ok(out)
    }

    /// Reads an encoded entry.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        match bytes.split_first() {
            Some((&ENTRY_FORMAT, body)) => postcard::from_bytes(body).map_err(|_| EntryError::Decode),
            _ => Err(EntryError::Format),
        }
    }
}

impl From<&WrappedKey> for LoggedKey {
    fn from(k: &WrappedKey) -> Self {
        Self { kek_id: k.stored_kek_field(), kek_version: k.kek_version, bytes: k.bytes.clone() }
    }
}

impl From<LoggedKey> for WrappedKey {
    fn from(k: LoggedKey) -> Self {
        WrappedKey::from_stored(k.kek_id, k.kek_version, k.bytes)
    }
}

impl LoggedBucket {
    /// The entry of `rec` committed at `seq`, with its own KEK if any.
    pub fn new(seq: u64, rec: &BucketRecord, kek: Option<String>) -> Self {
        Self {
            seq,
            uid: *rec.uid.as_bytes(),
            name: rec.name.to_string(),
            policy: rec.policy_id.clone(),
            created_ms: rec.created_ms,
            kek,
        }
    }

    /// The store's record.
    pub fn record(&self) -> Result<BucketRecord, EntryError> {
        Ok(BucketRecord {
            uid: BucketUid(self.uid),
            name: BucketName::parse(&self.name).map_err(|_| EntryError::Field("bucket name"))?,
            policy_id: self.policy.clone(),
            created_ms: self.created_ms,
        })
    }
}

impl LoggedVersion {
    /// The entry of `v`, current for `key` of `bucket`, with its data key.
    pub fn new(bucket: BucketUid, key: &str, v: &VersionRecord, dek: &WrappedKey) -> Self {
        let h = &v.headers;
        Self {
            seq: v.seq,
            bucket: *bucket.as_bytes(),
            key: key.to_owned(),
            version: *v.version_uid.as_bytes(),
            size: v.size,
            etag: v.etag.0.clone(),
            last_modified_ms: v.last_modified_ms,
            content: content_fields(h),
            expires_unix: h.expires_unix,
            user_metadata: h.user_metadata.clone(),
            checksum: v
                .checksum
                .as_ref()
                .map(|c| (algorithm_code(c.algorithm), c.value.clone(), c.kind == ChecksumType::Composite)),
            part_checksums: v.part_checksums.clone(),
            multipart: v.multipart,
            manifest_mac: v.manifest_mac,
            streams: v.streams.iter().map(LoggedStream::new).collect(),
            dek: dek.into(),
        }
    }

    /// The store's version record and its data key.
    pub fn record(&self) -> Result<(VersionRecord, WrappedKey), EntryError> {
        let checksum = match &self.checksum {
            Some((code, value, composite)) => Some(ObjectChecksum {
                algorithm: algorithm_of(*code)?,
                value: value.clone(),
                kind: if *composite { ChecksumType::Composite } else { ChecksumType::FullObject },
            }),
            None => None,
        };
        let record = VersionRecord {
            version_uid: VersionUid(self.version),
            seq: self.seq,
            size: self.size,
            etag: ETag(self.etag.clone()),
            last_modified_ms: self.last_modified_ms,
            headers: headers_of(&self.content, self.expires_unix, &self.user_metadata),
            checksum,
            streams: self.streams.iter().map(LoggedStream::manifest).collect::<Result<_, _>>()?,
            part_checksums: self.part_checksums.clone(),
            multipart: self.multipart,
            manifest_mac: self.manifest_mac,
            // An entry written before versioning: the key's only version, the `null` one.
            order: self.seq,
            null: true,
            delete_marker: false,
            lock: crate::model::lock::VersionLock::default(),
            tags: crate::model::tagging::TagSet::default(),
        };
        Ok((record, self.dek.clone().into()))
    }
}

impl LoggedObjectVersion {
    /// The entry of `v` (committed, so its order and null-ness are set) of `key` in `bucket`.
    pub fn new(bucket: BucketUid, key: &str, v: &VersionRecord, dek: &WrappedKey) -> Self {
        Self {
            version: LoggedVersion::new(bucket, key, v, dek),
            order: v.order,
            null: v.null,
            delete_marker: v.delete_marker,
            lock: (&v.lock).into(),
            tags: v.tags.pairs().to_vec(),
        }
    }

    /// Its log entry: [`LogEntry::TaggedVersion`] when it has tags.
    pub fn entry(self) -> LogEntry {
        if self.tags.is_empty() {
            LogEntry::ObjectVersion(Box::new(self))
        } else {
            let tags = self.tags.clone();
            LogEntry::TaggedVersion(Box::new(self), tags)
        }
    }

    /// The store's version record and its data key (empty for a delete marker).
    pub fn record(&self) -> Result<(VersionRecord, WrappedKey), EntryError> {
        let (mut record, dek) = self.version.record()?;
        record.order = self.order;
        record.null = self.null;
        record.delete_marker = self.delete_marker;
        record.lock = self.lock.lock()?;
        // Checked when set; a logged set S3 would refuse is a damaged entry.
        record.tags = crate::model::tagging::TagSet::new(self.tags.clone(), crate::model::tagging::MAX_OBJECT_TAGS)
            .map_err(|_| EntryError::Field("tags"))?;
        Ok((record, dek))
    }
}

impl LoggedStream {
    pub(super) fn new(s: &StreamManifest) -> Self {
        Self {
            stream_id: *s.stream_id.as_bytes(),
            part_number: s.part_number,
            plaintext_len: s.plaintext_len,
            seg_log2: s.seg_log2,
            salt: s.salt,
            commit: s.commit,
            ciphertext_sha256: s.ciphertext_check.0,
            scheme: match s.redundancy {
                Redundancy::Replicas => SCHEME_REPLICAS,
                Redundancy::ReedSolomon(_) => SCHEME_REED_SOLOMON,
            },
            replicas: s.redundancy.holder_tag().into_iter().chain(s.replicas.iter().map(ToString::to_string)).collect(),
        }
    }

    pub(super) fn manifest(&self) -> Result<StreamManifest, EntryError> {
        let (redundancy, replicas) =
            crate::model::redundancy::split_holders(self.replicas.clone()).map_err(|_| EntryError::Field("replica"))?;
        let scheme_agrees = match redundancy {
            Redundancy::Replicas => self.scheme == SCHEME_REPLICAS,
            Redundancy::ReedSolomon(_) => self.scheme == SCHEME_REED_SOLOMON,
        };
        if !scheme_agrees {
            return Err(EntryError::Field("scheme"));
        }
        Ok(StreamManifest {
            stream_id: StreamId(self.stream_id),
            part_number: self.part_number,
            plaintext_len: self.plaintext_len,
            seg_log2: self.seg_log2,
            salt: self.salt,
            commit: self.commit,
            ciphertext_check: crate::model::CiphertextCheck(self.ciphertext_sha256),
            replicas,
            redundancy,
        })
    }
}

#[cfg(test)]
#[path = "log_entry_tests.rs"]
mod tests;
