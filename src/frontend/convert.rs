//! DTO ↔ model conversion: timestamps, ETags, checksums, content headers, request bodies.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::StreamExt;
use s3s::dto::{self, StreamingBlob, Timestamp};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders};

use super::error::body_error;
use crate::error::BodyError;
use crate::model::{ChecksumAlgorithm, ChecksumType, ContentHeaders, ETag, ObjectChecksum};
use crate::service::{ClientBody, Conditions, RangeSpec};

/// Milliseconds since the epoch → S3 timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// S3 timestamp → seconds since the epoch.
pub fn unix_secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

/// `x-amz-server-side-encryption` of every object: the gateway encrypts each one under a data
/// key of its own (AES-256-GCM) before any byte reaches a provider, which is what SSE-S3's
/// `AES256` promises.
pub fn sse_s3() -> Option<dto::ServerSideEncryption> {
    Some(dto::ServerSideEncryption::from_static(dto::ServerSideEncryption::AES256))
}

/// Model ETag → DTO.
pub fn etag(e: &ETag) -> dto::ETag {
    dto::ETag::Strong(e.0.clone())
}

fn condition(c: &Option<dto::ETagCondition>) -> Option<String> {
    c.as_ref().map(|c| match c {
        dto::ETagCondition::Any => "*".to_owned(),
        dto::ETagCondition::ETag(e) => e.value().to_owned(),
    })
}

/// Conditional read headers.
pub fn conditions(
    if_match: &Option<dto::ETagCondition>,
    if_none_match: &Option<dto::ETagCondition>,
    if_modified_since: &Option<Timestamp>,
    if_unmodified_since: &Option<Timestamp>,
) -> Conditions {
    Conditions {
        if_match: condition(if_match),
        if_none_match: condition(if_none_match),
        if_modified_since: if_modified_since.as_ref().map(unix_secs),
        if_unmodified_since: if_unmodified_since.as_ref().map(unix_secs),
    }
}

/// A raw `Range` header as s3s parses it and the service sees it (fuzzing entry point).
#[cfg(any(test, feature = "fuzzing"))]
pub fn range_header(header: &str) -> Option<RangeSpec> {
    range(Some(dto::Range::parse(header).ok()?))
}

/// The `Range` header.
pub fn range(r: Option<dto::Range>) -> Option<RangeSpec> {
    r.map(|r| match r {
        dto::Range::Int { first, last } => RangeSpec::FromTo(first, last),
        dto::Range::Suffix { length } => RangeSpec::Suffix(length),
    })
}

/// Content headers and user metadata as stored.
pub fn content_headers(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<dto::Metadata>,
) -> S3Result<ContentHeaders> {
    let mut user_metadata: Vec<(String, String)> =
        metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    user_metadata.sort();
    let size: usize = user_metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 2048 {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size (2 KiB)",
        ));
    }
    Ok(ContentHeaders {
        content_type,
        content_encoding: content_encoding.and_then(|e| without_aws_chunked(&e)),
        content_disposition,
        content_language,
        cache_control,
        expires_unix: expires.map(|t| unix_secs(&t)),
        user_metadata,
    })
}

/// A `Content-Encoding` without the `aws-chunked` framing of the request (S3 stores
/// `gzip, aws-chunked` as `gzip`, and nothing for `aws-chunked` alone): the framing is the
/// transfer's, not the object's.
fn without_aws_chunked(encoding: &str) -> Option<String> {
    let kept: Vec<&str> = encoding
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

/// Stored user metadata → DTO map.
pub fn metadata(h: &ContentHeaders) -> Option<dto::Metadata> {
    (!h.user_metadata.is_empty()).then(|| h.user_metadata.iter().cloned().collect())
}

/// Expires as stored → DTO.
pub fn expires(h: &ContentHeaders) -> Option<Timestamp> {
    h.expires_unix.map(|s| timestamp(s.saturating_mul(1000)))
}

/// Model checksum algorithm ↔ DTO.
pub fn algorithm_dto(a: ChecksumAlgorithm) -> dto::ChecksumAlgorithm {
    dto::ChecksumAlgorithm::from_static(match a {
        ChecksumAlgorithm::Crc32 => dto::ChecksumAlgorithm::CRC32,
        ChecksumAlgorithm::Crc32c => dto::ChecksumAlgorithm::CRC32C,
        ChecksumAlgorithm::Crc64Nvme => dto::ChecksumAlgorithm::CRC64NVME,
        ChecksumAlgorithm::Sha1 => dto::ChecksumAlgorithm::SHA1,
        ChecksumAlgorithm::Sha256 => dto::ChecksumAlgorithm::SHA256,
    })
}

/// Model checksum type → DTO.
pub fn checksum_type_dto(t: ChecksumType) -> dto::ChecksumType {
    dto::ChecksumType::from_static(match t {
        ChecksumType::FullObject => dto::ChecksumType::FULL_OBJECT,
        ChecksumType::Composite => dto::ChecksumType::COMPOSITE,
    })
}

/// The five checksum fields every output carries, set from one checksum.
#[derive(Default)]
pub struct ChecksumFields {
    /// `x-amz-checksum-crc32`.
    pub crc32: Option<String>,
    /// `x-amz-checksum-crc32c`.
    pub crc32c: Option<String>,
    /// `x-amz-checksum-crc64nvme`.
    pub crc64nvme: Option<String>,
    /// `x-amz-checksum-sha1`.
    pub sha1: Option<String>,
    /// `x-amz-checksum-sha256`.
    pub sha256: Option<String>,
    /// `x-amz-checksum-type`.
    pub kind: Option<dto::ChecksumType>,
}

impl ChecksumFields {
    /// Spreads a checksum over its field.
    pub fn from(c: Option<&ObjectChecksum>) -> Self {
        let mut f = Self::default();
        let Some(c) = c else { return f };
        let v = Some(c.value.clone());
        match c.algorithm {
            ChecksumAlgorithm::Crc32 => f.crc32 = v,
            ChecksumAlgorithm::Crc32c => f.crc32c = v,
            ChecksumAlgorithm::Crc64Nvme => f.crc64nvme = v,
            ChecksumAlgorithm::Sha1 => f.sha1 = v,
            ChecksumAlgorithm::Sha256 => f.sha256 = v,
        }
        f.kind = Some(checksum_type_dto(c.kind));
        f
    }
}

/// The checksum headers of a request, as (algorithm, value) if one was given.
pub fn header_checksum(
    crc32: &Option<String>,
    crc32c: &Option<String>,
    crc64nvme: &Option<String>,
    sha1: &Option<String>,
    sha256: &Option<String>,
) -> S3Result<Option<(ChecksumAlgorithm, String)>> {
    let given: Vec<(ChecksumAlgorithm, &String)> = [
        (ChecksumAlgorithm::Crc32, crc32),
        (ChecksumAlgorithm::Crc32c, crc32c),
        (ChecksumAlgorithm::Crc64Nvme, crc64nvme),
        (ChecksumAlgorithm::Sha1, sha1),
        (ChecksumAlgorithm::Sha256, sha256),
    ]
    .into_iter()
    .filter_map(|(a, v)| v.as_ref().map(|v| (a, v)))
    .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(a, v)] => Ok(Some((*a, (*v).clone()))),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )),
    }
}

/// Everything the frontend knows about a body, gathered from headers.
pub struct BodyHeaders<'a> {
    /// Content-Length (decoded length for aws-chunked).
    pub content_length: Option<i64>,
    /// Content-MD5, base64.
    pub content_md5: Option<&'a str>,
    /// A checksum header, if one was given.
    pub header_checksum: Option<(ChecksumAlgorithm, String)>,
    /// `x-amz-sdk-checksum-algorithm`.
    pub sdk_algorithm: Option<&'a dto::ChecksumAlgorithm>,
    /// The request headers (for `x-amz-trailer`).
    pub headers: &'a http::HeaderMap,
    /// Trailers, filled once the body ends.
    pub trailing: Option<TrailingHeaders>,
    /// The request was marked [`super::unknown_length::UnknownLength`]: its Content-Length is
    /// not the client's.
    pub unknown_length: bool,
}

/// Builds the service's view of a request body.
pub fn client_body(blob: Option<StreamingBlob>, h: BodyHeaders<'_>) -> S3Result<ClientBody> {
    // aws-chunked bodies without Content-Length (boto3's unsigned trailers over HTTPS) carry
    // the plaintext length in x-amz-decoded-content-length only.
    let decoded =
        h.headers.get("x-amz-decoded-content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    // A body of unknown length (HTTP/1.1 chunked transfer without a length) reaches this
    // point only marked by `unknown_length` (PutObject); anything else needs a length.
    let len = if h.unknown_length {
        None
    } else {
        let len = h.content_length.or(decoded).ok_or_else(|| {
            S3Error::with_message(S3ErrorCode::MissingContentLength, "You must provide the Content-Length HTTP header.")
        })?;
        Some(
            u64::try_from(len)
                .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidArgument, "negative Content-Length"))?,
        )
    };
    // s3s reads an empty header as none; S3 refuses it (an empty digest checks nothing).
    let empty_md5 = h.headers.get("content-md5").is_some_and(|v| v.as_bytes().trim_ascii().is_empty());
    let content_md5 =
        h.content_md5.filter(|_| !empty_md5).or(empty_md5.then_some("")).map(decode_content_md5).transpose()?;
    let trailer_algorithm = match h.headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        Some(name) => Some(
            name.trim()
                .strip_prefix("x-amz-checksum-")
                .and_then(ChecksumAlgorithm::parse)
                .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidRequest, "unsupported x-amz-trailer"))?,
        ),
        None => None,
    };
    let sdk = match h.sdk_algorithm {
        Some(a) => Some(
            ChecksumAlgorithm::parse(a.as_str())
                .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidRequest, "unsupported checksum algorithm"))?,
        ),
        None => None,
    };
    let (algorithm, expected_checksum) = match h.header_checksum {
        Some((a, v)) => (Some(a), Some(v)),
        None => (trailer_algorithm.or(sdk), None),
    };
    let trailers = h.trailing.filter(|_| trailer_algorithm.is_some()).map(|t| {
        let t = Arc::new(t);
        Box::new(move || {
            t.read(|hm| {
                hm.iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect::<Vec<_>>()
            })
        }) as crate::service::TrailerSource
    });
    let stream = match blob {
        Some(b) => b.map(|r| r.map_err(|e| body_error(e.as_ref()))).boxed(),
        None => futures_util::stream::empty::<Result<bytes::Bytes, BodyError>>().boxed(),
    };
    Ok(ClientBody { len, stream, content_md5, algorithm, expected_checksum, trailers })
}

/// A `Content-Md5` value: 16 bytes in base64, else 400 InvalidDigest.
pub fn decode_content_md5(m: &str) -> S3Result<[u8; 16]> {
    let raw = base64::engine::general_purpose::STANDARD.decode(m.trim()).ok();
    raw.and_then(|r| <[u8; 16]>::try_from(r).ok())
        .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified was invalid."))
}

/// An HTTP date (IMF-fixdate, RFC 9110 §5.6.7): `Fri, 23 Dec 2012 00:00:00 GMT`.
pub fn http_date(ms: i64) -> String {
    const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // Formatting a valid date with a fixed description cannot fail; the fallback is unreachable.
    at.format(HTTP_DATE).unwrap_or_default()
}

/// `x-amz-expiration`: `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="<id, URL-encoded>"`.
pub fn expiration_header(e: &crate::service::Expiry) -> String {
    format!("expiry-date=\"{}\", rule-id=\"{}\"", http_date(e.at_ms), url_encode(&e.rule_id))
}

/// Percent-encodes a listing value for `encoding-type=url` (RFC 3986 unreserved and `/` kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A count or part number for an S3 answer field (the DTOs type them `i32`; ours are at most
/// 10,000), saturating rather than wrapping should that ever change.
pub(crate) fn dto_i32(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// A size for an S3 answer field (the DTOs type them `i64`; objects are at most 5 TiB),
/// saturating likewise.
pub(crate) fn dto_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_is_not_stored_as_the_objects_encoding() {
        assert_eq!(without_aws_chunked("gzip, aws-chunked").as_deref(), Some("gzip"));
        assert_eq!(without_aws_chunked("aws-chunked,gzip").as_deref(), Some("gzip"));
        assert_eq!(without_aws_chunked("AWS-CHUNKED"), None);
        assert_eq!(without_aws_chunked("br, gzip").as_deref(), Some("br, gzip"));
    }
}
