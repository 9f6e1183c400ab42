//! The requests of the multipart operations: which part an UploadPart or UploadPartCopy
//! writes and where a copy reads from, CreateMultipartUpload and ListMultipartUploads.

use super::Conditions;
use crate::model::{ChecksumAlgorithm, ChecksumType, ContentHeaders};

/// The part an UploadPart or UploadPartCopy writes.
#[derive(Debug, Clone)]
pub struct PartTarget {
    /// Bucket of the upload.
    pub bucket: String,
    /// Key of the upload.
    pub key: String,
    /// The upload id, as the client gave it.
    pub upload_id: String,
    /// Part number (1–10,000).
    pub number: u32,
    /// The upload's SSE-C key, if it was created with one.
    pub customer_key: Option<crate::keys::CustomerKey>,
}

/// Where an UploadPartCopy reads from.
#[derive(Debug, Clone)]
pub struct PartSource {
    /// Source bucket.
    pub bucket: String,
    /// Source key.
    pub key: String,
    /// The source's version, if named.
    pub version_id: Option<String>,
    /// The inclusive `x-amz-copy-source-range`, if given.
    pub range: Option<(u64, u64)>,
    /// `x-amz-copy-source-if-*`.
    pub conditions: Conditions,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub customer_key: Option<crate::keys::CustomerKey>,
}

/// A CreateMultipartUpload request.
#[derive(Debug, Clone)]
pub struct NewUpload {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Headers the object will have.
    pub headers: ContentHeaders,
    /// The checksum algorithm and type the parts carry (`x-amz-checksum-algorithm`/`-type`).
    pub checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    /// `x-amz-object-lock-*`, applied at completion.
    pub lock: super::LockRequest,
    /// `x-amz-tagging`.
    pub tags: crate::model::tagging::TagSet,
    /// The SSE-C key that wraps the upload's data key; every part and the completion need it.
    pub customer_key: Option<crate::keys::CustomerKey>,
    /// SSE-KMS asked for, with the key it names.
    pub kms: Option<super::encryption::KmsRequest>,
}

/// A ListMultipartUploads request.
#[derive(Debug, Clone)]
pub struct ListUploadsRequest {
    /// Bucket.
    pub bucket: String,
    /// Prefix.
    pub prefix: String,
    /// Delimiter.
    pub delimiter: Option<String>,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `upload-id-marker` (used with a key marker only).
    pub upload_id_marker: Option<String>,
    /// `max-uploads` (clamped to 1,000).
    pub max: usize,
}
