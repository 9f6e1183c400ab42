//! The log entries of multipart uploads in progress (docs/format-v2.md, "Log entries", kinds
//! 10–12): an upload as created, each part as committed, and the upload's end (completed or
//! aborted). A part acknowledged to the client is in the log before the acknowledgement, so a
//! rebuild brings back the upload with its parts and the client's CompleteMultipartUpload
//! still succeeds. Spelled out field by field like every entry (see [`super::log_entry`]).

use serde::{Deserialize, Serialize};

use super::log_entry::{
    EntryError, LoggedKey, LoggedLock, LoggedStream, algorithm_code, algorithm_of, content_fields, headers_of,
};
use super::records::{PartRecord, UploadRecord};
use crate::model::{BucketUid, ChecksumType, ProviderId, UploadId, VersionUid};

/// A multipart upload as CreateMultipartUpload made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedUpload {
    /// Commit sequence (0 in a checkpoint: the store does not keep it; the checkpoint's
    /// `through` ranks it).
    pub seq: u64,
    /// The bucket.
    pub bucket: [u8; 16],
    /// The upload id.
    pub upload: [u8; 16],
    /// The object key it completes into.
    pub key: String,
    /// The version it becomes.
    pub version: [u8; 16],
    /// The providers placed at creation.
    pub targets: Vec<String>,
    /// How many of them must hold each part.
    pub write_quorum: u8,
    /// Initiation, ms since the epoch.
    pub initiated_ms: i64,
    /// `Content-Type`, `-Encoding`, `-Disposition`, `-Language`, `Cache-Control`.
    pub content: [Option<String>; 5],
    /// `Expires`, seconds since the epoch.
    pub expires_unix: Option<i64>,
    /// User metadata, sorted by name.
    pub user_metadata: Vec<(String, String)>,
    /// The checksum asked for: algorithm code and whether composite.
    pub checksum: Option<(u8, bool)>,
    /// The upload's data key.
    pub dek: LoggedKey,
    /// The retention and legal hold asked for.
    pub lock: LoggedLock,
    /// The tags asked for, in the order given.
    pub tags: Vec<(String, String)>,
}

/// One part as UploadPart (or UploadPartCopy) committed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedPart {
    /// Commit sequence (0 in a checkpoint, as for [`LoggedUpload::seq`]).
    pub seq: u64,
    /// The bucket.
    pub bucket: [u8; 16],
    /// The upload.
    pub upload: [u8; 16],
    /// Its part number.
    pub number: u32,
    /// Its sealed stream.
    pub stream: LoggedStream,
    /// The 16 bytes its ETag is made of (MD5, or BLAKE3-128 when `fast_etag`).
    pub etag_digest: [u8; 16],
    /// The part was uploaded into a bucket in the `fast` ETag mode.
    pub fast_etag: bool,
    /// Its checksum (base64) under the upload's algorithm.
    pub checksum: Option<String>,
    /// Upload time, ms since the epoch.
    pub last_modified_ms: i64,
}

impl LoggedUpload {
    /// The entry of `rec`, committed at `seq`.
    pub fn new(seq: u64, rec: &UploadRecord) -> Self {
        let h = &rec.headers;
        Self {
            seq,
            bucket: *rec.bucket_uid.as_bytes(),
            upload: *rec.upload_id.as_bytes(),
            key: rec.key.clone(),
            version: *rec.version_uid.as_bytes(),
            targets: rec.targets.iter().map(ToString::to_string).collect(),
            write_quorum: rec.write_quorum,
            initiated_ms: rec.initiated_ms,
            content: content_fields(h),
            expires_unix: h.expires_unix,
            user_metadata: h.user_metadata.clone(),
            checksum: rec.checksum.map(|(a, t)| (algorithm_code(a), t == ChecksumType::Composite)),
            dek: (&rec.dek).into(),
            lock: (&rec.lock).into(),
            tags: rec.tags.pairs().to_vec(),
        }
    }

    /// The store's record.
    pub fn record(&self) -> Result<UploadRecord, EntryError> {
        let targets = self.targets.iter().map(|t| ProviderId::parse(t).ok_or(EntryError::Field("target")));
        let checksum = match self.checksum {
            Some((code, composite)) => {
                Some((algorithm_of(code)?, if composite { ChecksumType::Composite } else { ChecksumType::FullObject }))
            }
            None => None,
        };
        Ok(UploadRecord {
            upload_id: UploadId(self.upload),
            bucket_uid: BucketUid(self.bucket),
            key: self.key.clone(),
            version_uid: VersionUid(self.version),
            targets: targets.collect::<Result<_, _>>()?,
            initiated_ms: self.initiated_ms,
            headers: headers_of(&self.content, self.expires_unix, &self.user_metadata),
            checksum,
            dek: self.dek.clone().into(),
            write_quorum: self.write_quorum,
            lock: self.lock.lock()?,
            tags: crate::model::tagging::TagSet::new(self.tags.clone(), crate::model::tagging::MAX_OBJECT_TAGS)
                .map_err(|_| EntryError::Field("tags"))?,
        })
    }
}

impl LoggedPart {
    /// The entry of part `number` of `upload` in `bucket`, committed at `seq`.
    pub fn new(seq: u64, bucket: BucketUid, upload: UploadId, number: u32, part: &PartRecord) -> Self {
        Self {
            seq,
            bucket: *bucket.as_bytes(),
            upload: *upload.as_bytes(),
            number,
            stream: LoggedStream::new(&part.stream),
            etag_digest: part.etag_digest,
            fast_etag: part.fast_etag,
            checksum: part.checksum.clone(),
            last_modified_ms: part.last_modified_ms,
        }
    }

    /// The store's record.
    pub fn record(&self) -> Result<PartRecord, EntryError> {
        Ok(PartRecord {
            stream: self.stream.manifest()?,
            etag_digest: self.etag_digest,
            checksum: self.checksum.clone(),
            last_modified_ms: self.last_modified_ms,
            fast_etag: self.fast_etag,
        })
    }
}
