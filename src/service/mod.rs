//! The object service: each S3 operation as numbered steps over placement, keys, datapath,
//! backends and metadata. HTTP-free: it never sees hyper or s3s types.

pub mod access;
mod acl;
pub mod admin;
pub mod api;
mod bucket;
mod bucket_access;
pub mod checksum;
pub mod conditional;
pub(crate) mod convert;
pub mod copy;
mod cors;
mod delete;
pub mod encryption;
pub(crate) mod get;
pub mod keys;
mod lifecycle;
pub mod list;
mod multipart;
mod object_lock;
mod placing;
mod put;
pub mod residency;
mod seal_stage;
pub mod state;
mod tagging;
mod unsized_body;
mod upload_requests;
pub(crate) mod versions;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::backend::Backend;
use crate::error::{BodyError, ErrorKind, Result};
use crate::health::HealthState;
use crate::keys::KeyProvider;
use crate::meta::MetadataStore;
use crate::metrics::Metrics;
use crate::model::{BootId, ChecksumAlgorithm, ContentHeaders, ETag, NameError, ObjectChecksum, ObjectKey, ProviderId};

pub use crate::keys::CustomerKey;
use crate::model::WriteCondition;
pub use access::{Caller, Secret};
pub use acl::AclView;
pub use api::{BucketInfo, Gate, ObjectApi};
pub use conditional::Conditions;
pub use copy::CopyRequest;
pub use delete::{DeleteResult, ObjectToDelete};
pub use lifecycle::Expiry;
pub use list::{
    ListObjectsRequest, ListResume, ListVersionsRequest, ListedObject, ListedVersion, ObjectsPage, UploadsPage,
    VersionsPage,
};
pub use multipart::{CompletePart, CompleteRequest, PartInfo, PartsPage, UploadInfo};
pub use object_lock::{LockRequest, LockView};
pub(crate) use put::MAX_OBJECT_SIZE;
pub use tagging::TagsView;
pub use upload_requests::{ListUploadsRequest, NewUpload, PartSource, PartTarget};

/// Plaintext leaving the service; an `Err` item must abort the client connection.
pub type PlainStream = BoxStream<'static, Result<Bytes>>;

/// Where trailing checksums come from once the body has been read.
pub type TrailerSource = Box<dyn Fn() -> Option<Vec<(String, String)>> + Send + Sync>;

/// A client request body, verified (signatures, payload hash) by the frontend as it flows.
pub struct ClientBody {
    /// Exact plaintext length; `None` when the client did not say (HTTP/1.1 chunked transfer
    /// without `Content-Length`), which only PutObject accepts.
    pub len: Option<u64>,
    /// The bytes.
    pub stream: BoxStream<'static, Result<Bytes, BodyError>>,
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// The checksum to compute, from `x-amz-checksum-*`, `x-amz-trailer` or
    /// `x-amz-sdk-checksum-algorithm`.
    pub algorithm: Option<ChecksumAlgorithm>,
    /// The expected value when it came as a header.
    pub expected_checksum: Option<String>,
    /// Trailing headers, read after the stream ends.
    pub trailers: Option<TrailerSource>,
}

/// The gateway's fixed setup.
pub struct ServiceConfig {
    /// The policy of buckets created without a LocationConstraint.
    pub default_policy: String,
    /// The region clients sign for.
    pub region: String,
    /// The configuration's access keys.
    pub access_keys: Vec<crate::config::AccessKey>,
    /// No public bucket policy may be stored, none allows anonymous requests.
    pub block_public_access: bool,
    /// The length of a lifecycle day (`workers.lifecycle_day_secs`, for tests).
    pub lifecycle_day: std::time::Duration,
    /// How long a converted version's old streams outlive its commit
    /// (`workers.conversion_grace_secs`).
    pub conversion_grace: std::time::Duration,
}

/// The object service.
pub struct ObjectService {
    meta: Arc<dyn MetadataStore>,
    keys: Arc<dyn KeyProvider>,
    backends: crate::backend::Backends,
    config: ServiceConfig,
    boot_id: BootId,
    metrics: Arc<Metrics>,
    health: Arc<HealthState>,
    /// The catalog, policies and key state in force (shared with the admin operations).
    state: Arc<state::GatewayState>,
    /// Access keys and grants (shared with the admin operations).
    access: Arc<access::Directory>,
}

/// What HEAD and GET report about an object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    /// Plaintext size of the whole object.
    pub size: u64,
    /// ETag.
    pub etag: ETag,
    /// Last-Modified, ms.
    pub last_modified_ms: i64,
    /// Content headers and user metadata.
    pub headers: ContentHeaders,
    /// Stored checksum (whole object).
    pub checksum: Option<ObjectChecksum>,
    /// Number of parts, for multipart objects.
    pub parts_count: Option<u32>,
    /// Its version id (`null` for the null version); `None` in an unversioned bucket.
    pub version_id: Option<String>,
    /// Its Object Lock retention and legal hold.
    pub lock: crate::model::lock::VersionLock,
    /// How many tags it has (`x-amz-tagging-count`).
    pub tag_count: usize,
    /// When the bucket's lifecycle rules expire it (a current version only).
    pub expiration: Option<Expiry>,
    /// What wraps its data key, in S3's SSE terms.
    pub encryption: encryption::ObjectEncryption,
}

/// What GetObjectAttributes shows of a version: what HEAD shows, and its parts.
#[derive(Debug, Clone)]
pub struct ObjectAttributes {
    /// Size, ETag, checksum, version id, Last-Modified.
    pub info: ObjectInfo,
    /// Each part's size and checksum value (multipart objects only), in part order.
    pub parts: Vec<(u64, Option<String>)>,
}

/// A `Range` header, unresolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=a-b` or `bytes=a-`.
    FromTo(u64, Option<u64>),
    /// `bytes=-n`.
    Suffix(u64),
}

/// GET or HEAD.
#[derive(Debug, Clone)]
pub struct GetRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Range.
    pub range: Option<RangeSpec>,
    /// `partNumber`.
    pub part_number: Option<u32>,
    /// Conditionals.
    pub conditions: Conditions,
    /// `versionId`: this version instead of the latest.
    pub version_id: Option<String>,
    /// The SSE-C key (`x-amz-server-side-encryption-customer-*`), which an SSE-C object needs.
    pub customer_key: Option<crate::keys::CustomerKey>,
}

/// A GET's result: headers are decided, the first segment is already verified.
pub struct GetOutput {
    /// The object.
    pub info: ObjectInfo,
    /// The served range `[first, last]`, if partial.
    pub range: Option<(u64, u64)>,
    /// Bytes in the body.
    pub content_length: u64,
    /// The checksum that applies to the bytes served (whole object or whole part).
    pub checksum: Option<ObjectChecksum>,
    /// The body.
    pub body: PlainStream,
}

/// PutObject.
#[derive(Debug, Clone)]
pub struct PutRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Headers to store.
    pub headers: ContentHeaders,
    /// If-None-Match / If-Match.
    pub condition: WriteCondition,
    /// `x-amz-object-lock-*`.
    pub lock: LockRequest,
    /// `x-amz-tagging`.
    pub tags: crate::model::tagging::TagSet,
    /// The SSE-C key that wraps the new version's data key instead of the bucket's KEK.
    pub customer_key: Option<crate::keys::CustomerKey>,
    /// SSE-KMS asked for (`aws:kms`), with the key it names.
    pub kms: Option<encryption::KmsRequest>,
}

/// A successful write.
#[derive(Debug, Clone)]
pub struct PutOutput {
    /// ETag of the new version.
    pub etag: ETag,
    /// Its checksum, if one was requested.
    pub checksum: Option<ObjectChecksum>,
    /// Last-Modified of the new version, ms.
    pub last_modified_ms: i64,
    /// Its version id (`null` in a suspended bucket); `None` in an unversioned bucket.
    pub version_id: Option<String>,
    /// When the bucket's lifecycle rules expire the new version (`x-amz-expiration`).
    pub expiration: Option<Expiry>,
    /// What wraps its data key, in S3's SSE terms.
    pub encryption: encryption::ObjectEncryption,
}

/// Today's date (UTC) as `YYYY-MM-DD`, the day certifications are checked against.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn name_error(e: NameError) -> crate::error::Error {
    match e {
        NameError::InvalidBucketName(why) => ErrorKind::InvalidBucketName(why.into()).into(),
        NameError::KeyTooLong => ErrorKind::KeyTooLong.into(),
        NameError::EmptyKey => ErrorKind::InvalidArgument("empty object key".into()).into(),
        NameError::KeyNotXml(_) => ErrorKind::InvalidArgument(e.to_string()).into(),
    }
}

impl ObjectService {
    /// Wires the service. `backends` must hold every provider of the catalog.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        keys: Arc<dyn KeyProvider>,
        backends: crate::backend::Backends,
        config: ServiceConfig,
        state: Arc<state::GatewayState>,
        boot_id: BootId,
        metrics: Arc<Metrics>,
        health: Arc<HealthState>,
    ) -> Self {
        let access = Arc::new(access::Directory::new(&config.access_keys, Arc::clone(&meta), Arc::clone(&keys)));
        Self { meta, keys, backends, config, boot_id, metrics, health, state, access }
    }

    /// Access keys and grants, for the admin operations to share.
    pub fn directory(&self) -> Arc<access::Directory> {
        Arc::clone(&self.access)
    }

    /// The region clients sign for.
    pub fn region(&self) -> &str {
        &self.config.region
    }

    /// The residency state in force now.
    fn residency(&self) -> Arc<residency::Residency> {
        self.state.residency()
    }

    fn backend(&self, id: &ProviderId) -> Result<&Arc<dyn Backend>> {
        self.backends.get(id).ok_or_else(|| ErrorKind::internal(format!("no backend for provider {id}")).into())
    }
}

fn parse_key(key: &str) -> Result<ObjectKey> {
    ObjectKey::parse(key).map_err(name_error)
}

/// The key of an object being created (see [`ObjectKey::parse_new`]).
fn parse_new_key(key: &str) -> Result<ObjectKey> {
    ObjectKey::parse_new(key).map_err(name_error)
}
