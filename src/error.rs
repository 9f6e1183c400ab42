//! The service error: what went wrong, with its origin. Only `frontend/error.rs` turns it into
//! an S3 code and HTTP status.

use crate::backend::BackendError;
use crate::keys::KeyError;
use crate::meta::MetaError;

/// An error and every cause under it, `outer: inner: innermost` (for logs: a line shows the
/// whole chain, not only the outermost context).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

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
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(String),
    #[error("the specified key does not exist")]
    NoSuchKey,
    #[error("the specified upload does not exist")]
    NoSuchUpload,
    #[error("the key is longer than 1024 bytes")]
    KeyTooLong,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the requested range is not satisfiable")]
    InvalidRange { object_len: u64 },
    #[error("at least one of the preconditions did not hold")]
    PreconditionFailed,
    #[error("not modified")]
    NotModified,
    #[error("{0}")]
    BadDigest(String),
    #[error("the Content-MD5 or checksum value is not valid")]
    InvalidDigest,
    #[error("the request body is shorter than its declared length")]
    IncompleteBody,
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
    #[error("{0}")]
    Unavailable(String),
    #[error("the residency policy cannot be satisfied: {0}")]
    ResidencyUnsatisfiable(String),
    #[error("unknown location constraint (residency policy)")]
    InvalidLocationConstraint,
    #[error("storage class not supported")]
    InvalidStorageClass,
    #[error("request body: {0}")]
    Body(#[from] BodyError),
    #[error("stored data failed authentication")]
    Integrity,
    #[error("{0}")]
    Conflict(String),
    #[error("the key-encryption key {0} of this data was destroyed (crypto-shredded): it can never be read again")]
    KeyShredded(String),
    #[error("internal error: {0}")]
    Internal(String),
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
            ErrorKind::Unavailable(_) => Origin::Provider,
            ErrorKind::Integrity | ErrorKind::Internal(_) => Origin::Internal,
            _ => Origin::Client,
        }
    }

    /// Whether the client may succeed by retrying the same request.
    pub fn retryable(&self) -> bool {
        matches!(*self.0, ErrorKind::Unavailable(_))
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
        ErrorKind::Internal(e.to_string()).into()
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
            other => ErrorKind::Unavailable(format!("key provider: {other}")).into(),
        }
    }
}

impl From<BackendError> for Error {
    fn from(e: BackendError) -> Self {
        ErrorKind::Unavailable(e.to_string()).into()
    }
}

/// The service result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
