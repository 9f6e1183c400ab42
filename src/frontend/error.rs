//! The only place that knows S3 error codes and HTTP statuses.

use http::{HeaderMap, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};

use crate::error::{BodyError, Error, ErrorKind};

fn custom(code: &'static str, status: StatusCode, message: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    e.set_status_code(status);
    e
}

/// `e` with these response headers (a value that is not a valid header is left out).
fn with_headers<const N: usize>(mut e: S3Error, headers: [(&'static str, String); N]) -> S3Error {
    let mut h = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    e.set_headers(h);
    e
}

/// Maps a service error to its S3 error. Internal and provider details are logged, never sent.
pub fn to_s3(err: &Error) -> S3Error {
    use S3ErrorCode as C;
    let msg = err.to_string();
    let (code, message) = match err.kind() {
        ErrorKind::NoSuchBucket => (C::NoSuchBucket, msg),
        ErrorKind::BucketAlreadyOwnedByYou => (C::BucketAlreadyOwnedByYou, msg),
        ErrorKind::BucketAlreadyExists => (C::BucketAlreadyExists, msg),
        ErrorKind::MalformedPolicy(_) => (C::MalformedPolicy, msg),
        ErrorKind::NoSuchBucketPolicy => (C::NoSuchBucketPolicy, msg),
        ErrorKind::NoSuchPublicAccessBlockConfiguration => {
            return custom("NoSuchPublicAccessBlockConfiguration", StatusCode::NOT_FOUND, msg);
        }
        ErrorKind::AccessDenied(why) => {
            tracing::info!(reason = %why, "access denied");
            (C::AccessDenied, "Access Denied".into())
        }
        ErrorKind::BucketNotEmpty => (C::BucketNotEmpty, msg),
        ErrorKind::InvalidBucketName(_) => (C::InvalidBucketName, msg),
        ErrorKind::NoSuchKey => (C::NoSuchKey, msg),
        ErrorKind::NoSuchUpload => (C::NoSuchUpload, msg),
        ErrorKind::NoSuchVersion => (C::NoSuchVersion, msg),
        ErrorKind::ObjectLockConfigurationNotFound => {
            return custom("ObjectLockConfigurationNotFoundError", StatusCode::NOT_FOUND, msg);
        }
        ErrorKind::NoSuchObjectLockConfiguration => {
            return custom("NoSuchObjectLockConfiguration", StatusCode::NOT_FOUND, msg);
        }
        ErrorKind::NoSuchLifecycleConfiguration => (C::NoSuchLifecycleConfiguration, msg),
        ErrorKind::NoSuchTagSet => (C::NoSuchTagSet, msg),
        ErrorKind::MissingContentLength => (C::MissingContentLength, msg),
        ErrorKind::NoSuchCorsConfiguration => (C::NoSuchCORSConfiguration, msg),
        ErrorKind::MethodNotAllowed => (C::MethodNotAllowed, msg),
        ErrorKind::InvalidBucketState(_) => (C::InvalidBucketState, msg),
        ErrorKind::DeleteMarker { version_id, named } => {
            let e = match named {
                true => S3Error::with_message(
                    C::MethodNotAllowed,
                    "The specified method is not allowed against this resource.",
                ),
                false => S3Error::with_message(C::NoSuchKey, "The specified key does not exist."),
            };
            return with_headers(e, [("x-amz-delete-marker", "true".into()), ("x-amz-version-id", version_id.clone())]);
        }
        ErrorKind::KeyTooLong => (C::KeyTooLongError, "Your key is too long".into()),
        ErrorKind::InvalidArgument(_) => (C::InvalidArgument, msg),
        ErrorKind::InvalidRequest(_) => (C::InvalidRequest, msg),
        ErrorKind::InvalidRange { object_len } => {
            let e = S3Error::with_message(C::InvalidRange, msg);
            return with_headers(e, [("content-range", format!("bytes */{object_len}"))]);
        }
        ErrorKind::InvalidPartNumber => return custom("InvalidPartNumber", StatusCode::RANGE_NOT_SATISFIABLE, msg),
        ErrorKind::PreconditionFailed => (C::PreconditionFailed, msg),
        ErrorKind::NotModified { etag, last_modified_ms } => {
            let date = crate::frontend::convert::http_date(*last_modified_ms);
            return with_headers(
                S3Error::with_message(C::NotModified, msg),
                [("etag", etag.clone()), ("last-modified", date)],
            );
        }
        ErrorKind::BadDigest(_) => (C::BadDigest, msg),
        ErrorKind::InvalidDigest => (C::InvalidDigest, msg),
        ErrorKind::IncompleteBody | ErrorKind::Body(BodyError::Incomplete(_)) => (C::IncompleteBody, msg),
        ErrorKind::EntityTooSmall | ErrorKind::Body(BodyError::TooSmall(_)) => (C::EntityTooSmall, msg),
        ErrorKind::EntityTooLarge | ErrorKind::Body(BodyError::TooLarge(_)) => (C::EntityTooLarge, msg),
        ErrorKind::InvalidPart => (C::InvalidPart, msg),
        ErrorKind::InvalidPartOrder => (C::InvalidPartOrder, msg),
        ErrorKind::MalformedXml => (C::MalformedXML, msg),
        ErrorKind::NotImplemented(_) => (C::NotImplemented, msg),
        ErrorKind::Unavailable { .. } => {
            tracing::warn!(detail = %crate::report::chain(&err), "service unavailable");
            (C::ServiceUnavailable, "A provider or the key service is unavailable; please retry.".into())
        }
        ErrorKind::ResidencyUnsatisfiable(_) => {
            return custom("ResidencyUnsatisfiable", StatusCode::CONFLICT, msg);
        }
        ErrorKind::InvalidLocationConstraint => (C::InvalidLocationConstraint, msg),
        ErrorKind::KeyShredded(_) => return custom("KeyShredded", StatusCode::GONE, msg),
        ErrorKind::KmsKeyNotFound(_) => return custom("KMS.NotFoundException", StatusCode::BAD_REQUEST, msg),
        ErrorKind::Conflict(_) => (C::OperationAborted, msg),
        ErrorKind::InvalidStorageClass => (C::InvalidStorageClass, msg),
        ErrorKind::Body(BodyError::Signature) => (C::SignatureDoesNotMatch, msg),
        ErrorKind::Body(BodyError::PayloadHash) => {
            return custom("XAmzContentSHA256Mismatch", StatusCode::BAD_REQUEST, msg);
        }
        ErrorKind::Body(BodyError::TimedOut) => (
            C::RequestTimeout,
            "Your socket connection to the server was not read from or written to within the timeout period.".into(),
        ),
        // Admin API only; never produced by an S3 operation.
        ErrorKind::NoSuchProvider | ErrorKind::Integrity | ErrorKind::Internal { .. } => {
            tracing::error!(error = %crate::report::chain(&err), "internal error");
            (C::InternalError, "We encountered an internal error. Please try again.".into())
        }
    };
    S3Error::with_message(code, message)
}

/// Classifies an error of s3s's body stream. s3s 0.14 exposes these only through their
/// Display text; the upgrade to ≥ 0.17 replaces this with typed matching.
pub fn body_error(e: &(dyn std::error::Error + Send + Sync)) -> BodyError {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        BodyError::Signature
    } else if text.contains(super::body_timeout::BODY_TIMEOUT_MESSAGE) {
        BodyError::TimedOut
    } else if text.contains("Sha256Mismatch") || text.contains("PayloadHash") {
        BodyError::PayloadHash
    } else {
        BodyError::Incomplete(text)
    }
}

/// 501 naming the feature.
pub fn not_implemented(feature: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::NotImplemented, format!("{feature} is not implemented by this gateway"))
}
