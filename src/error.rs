//! The service error: what went wrong, with its origin. Only `frontend/error.rs` turns it into
//! an S3 code and HTTP status.

use std::borrow::Cow;

use crate::backend::BackendError;
use crate::keys::KeyError;
use crate::meta::MetaError;

/// Any error, kept as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Who caused a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The request was wrong.
    Client,
    /// A provider failed.
    Provider,
    /// The gateway itself failed.
    Internal,
}

/// Why a client's request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// A chunk or payload signature did not verify.
    #[error("request signature does not match")]
    Signature,
    /// The payload's SHA-256 differs from `x-amz-content-sha256`.
    #[error("payload hash does not match x-amz-content-sha256")]
    PayloadHash,
    /// The body ended before its declared length or was malformed.
    #[error("incomplete body: {0}")]
    Incomplete(String),
    /// The client stopped sending the body.
    #[error("the client sent no body bytes within the timeout")]
    TimedOut,
    /// A form upload's file is longer than its policy's `content-length-range` allows.
    #[error("Your proposed upload exceeds the maximum allowed size ({0} bytes)")]
    TooLarge(u64),
    /// A form upload's file is shorter than its policy's `content-length-range` asks.
    #[error("Your proposed upload is smaller than the minimum allowed size ({0} bytes)")]
    TooSmall(u64),
}

/// Everything a service operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[allow(missing_docs)] // Each variant says what it is in its message.
pub enum ErrorKind {
    #[error("the specified bucket does not exist")]
    NoSuchBucket,
    #[error("no such provider in the catalog")]
    NoSuchProvider,
    #[error("the bucket already exists and is yours")]
    BucketAlreadyOwnedByYou,
    #[error("the bucket name is taken: buckets share one namespace, choose another name")]
    BucketAlreadyExists,
    #[error("{0}")]
    MalformedPolicy(String),
    #[error("the bucket policy does not exist")]
    NoSuchBucketPolicy,
    #[error("the public access block configuration was not found")]
    NoSuchPublicAccessBlockConfiguration,
    /// Refused by authorization; the reason stays in the gateway's log.
    #[error("access denied")]
    AccessDenied(#[source] crate::access::Denial),
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(String),
    #[error("the specified key does not exist")]
    NoSuchKey,
    #[error("the specified upload does not exist")]
    NoSuchUpload,
    #[error("the specified version does not exist")]
    NoSuchVersion,
    #[error("Object Lock configuration does not exist for this bucket")]
    ObjectLockConfigurationNotFound,
    #[error("the specified object does not have an Object Lock configuration")]
    NoSuchObjectLockConfiguration,
    #[error("The lifecycle configuration does not exist")]
    NoSuchLifecycleConfiguration,
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    #[error("The CORS configuration does not exist")]
    NoSuchCorsConfiguration,
    #[error("the specified method is not allowed against this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    InvalidBucketState(String),
    /// The version read is a delete marker: the latest one (`named` false, answered as
    /// NoSuchKey) or the one the request named (answered 405, as S3 does).
    #[error("the specified key does not exist (its latest version is a delete marker)")]
    DeleteMarker { version_id: String, named: bool },
    #[error("the key is longer than 1024 bytes")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the requested range is not satisfiable")]
    InvalidRange { object_len: u64 },
    #[error("The requested partnumber is not satisfiable")]
    InvalidPartNumber,
    #[error("at least one of the preconditions did not hold")]
    PreconditionFailed,
    /// 304: the version's ETag and Last-Modified, which the answer carries (RFC 9110 §15.4.5).
    #[error("not modified")]
    NotModified {
        /// The ETag, quoted.
        etag: String,
        /// Last-Modified, ms since the epoch.
        last_modified_ms: i64,
    },
    #[error("{0}")]
    BadDigest(String),
    #[error("the Content-MD5 or checksum value is not valid")]
    InvalidDigest,
    #[error("the request body is shorter than its declared length")]
    IncompleteBody,
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    #[error("a part other than the last is smaller than 5 MiB")]
    EntityTooSmall,
    #[error("the object exceeds the maximum size")]
    EntityTooLarge,
    #[error("a listed part was not found or its ETag does not match")]
    InvalidPart,
    #[error("the XML you provided was not well-formed or did not validate against our published schema")]
    MalformedXml,
    #[error("the part list is not in ascending order")]
    InvalidPartOrder,
    #[error("not implemented: {0}")]
    NotImplemented(String),
    #[error("{context}")]
    Unavailable {
        context: Cow<'static, str>,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the residency policy cannot be satisfied: {0}")]
    ResidencyUnsatisfiable(String),
    #[error("unknown location constraint (residency policy)")]
    InvalidLocationConstraint,
    #[error("storage class not supported")]
    InvalidStorageClass,
    #[error("request body: {0}")]
    Body(BodyError),
    #[error("stored data failed authentication")]
    Integrity,
    #[error("{0}")]
    Conflict(String),
    #[error("the key-encryption key {0} of this data was destroyed (crypto-shredded): it can never be read again")]
    KeyShredded(String),
    /// SSE-KMS named a key no KEK of the gateway has (S3's 400 KMS.NotFoundException).
    #[error("Key '{0}' does not exist")]
    KmsKeyNotFound(String),
    #[error("internal error: {context}")]
    Internal {
        context: Cow<'static, str>,
        #[source]
        source: Option<BoxError>,
    },
}

/// The service error. Boxed, so `Result<T>` stays small on the hot path.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<ErrorKind>);

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Who caused it.
    pub fn origin(&self) -> Origin {
        match *self.0 {
            ErrorKind::Unavailable { .. } => Origin::Provider,
            ErrorKind::Integrity | ErrorKind::Internal { .. } => Origin::Internal,
            _ => Origin::Client,
        }
    }

    /// Whether the client may succeed by retrying the same request.
    pub fn retryable(&self) -> bool {
        matches!(*self.0, ErrorKind::Unavailable { .. })
    }
}

impl ErrorKind {
    /// A failure of the gateway itself, saying what it was doing (no further cause).
    pub fn internal(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Internal { context: context.into(), source: None }
    }

    /// A provider or the key service could not serve the request (no further cause).
    pub fn unavailable(context: impl Into<Cow<'static, str>>) -> Self {
        Self::Unavailable { context: context.into(), source: None }
    }
}

/// What was being done when something failed, kept above the failure as its cause (in the
/// manner of Garage's `ok_or_internal_error`): `.context("sealing the stream")?`.
pub trait Context<T> {
    /// An internal error saying what was being done; the failure (if any) is its source.
    fn context(self, what: &'static str) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: &'static str) -> Result<T> {
        self.map_err(|e| ErrorKind::Internal { context: what.into(), source: Some(Box::new(e)) }.into())
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: &'static str) -> Result<T> {
        self.ok_or_else(|| ErrorKind::internal(what).into())
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self(Box::new(kind))
    }
}

impl From<BodyError> for Error {
    fn from(e: BodyError) -> Self {
        ErrorKind::Body(e).into()
    }
}

impl From<MetaError> for Error {
    fn from(e: MetaError) -> Self {
        if matches!(e, MetaError::Unlogged(_)) {
            // Committed but unacknowledged: a retry is safe and the providers are the cause.
            return ErrorKind::Unavailable { context: "metadata log".into(), source: Some(Box::new(e)) }.into();
        }
        ErrorKind::Internal { context: "metadata store".into(), source: Some(Box::new(e)) }.into()
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unwrap => ErrorKind::Integrity.into(),
            KeyError::Destroyed(kek) => ErrorKind::KeyShredded(kek).into(),
            KeyError::NotSupported(what) => {
                ErrorKind::NotImplemented(format!("{what} (keys.provider = \"transit\")")).into()
            }
            other => ErrorKind::Unavailable { context: "key provider".into(), source: Some(Box::new(other)) }.into(),
        }
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        ErrorKind::Unavailable { context: "provider".into(), source: Some(Box::new(e)) }.into()
    }
}

/// The service result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
