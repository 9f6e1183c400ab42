//! CopyObject, and the copy-source parsing UploadPartCopy shares.

use s3s::dto::{CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::{ChecksumFields, conditions, etag, timestamp};
use crate::frontend::error::not_implemented;
use crate::model::WriteCondition;
use crate::service::{CopyRequest, ObjectApi};

/// A copy's source: bucket, key and the version named, if one is.
pub(super) type Source = (String, String, Option<String>);

/// The source bucket, key and version of a copy. s3s decodes `%XX` but keeps `+`; S3 reads the
/// header as form-encoded, where `+` is a space (s5cmd sends spaces that way; SDKs send a
/// literal `+` as `%2B`), so the key is decoded again from the raw header.
pub(super) fn copy_source(src: &CopySource, raw: Option<&http::HeaderValue>) -> S3Result<Source> {
    match src {
        CopySource::Bucket { bucket, key, version_id } => {
            let version_id = version_id.as_ref().map(std::string::ToString::to_string);
            let from_raw = raw
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim_start_matches('/'))
                .and_then(|v| v.split_once('/'))
                .map(|(_, k)| k.split_once("?versionId=").map_or(k, |(k, _)| k))
                .and_then(|k| crate::model::names::percent_decode(k, true));
            Ok((bucket.to_string(), from_raw.unwrap_or_else(|| key.to_string()), version_id))
        }
        _ => Err(not_implemented("access point and outpost copy sources")),
    }
}

/// A raw `x-amz-copy-source` header as s3s parses it and [`copy_source`] decodes it (fuzzing
/// entry point).
#[cfg(any(test, feature = "fuzzing"))]
pub fn copy_source_header(header: &str) -> Option<Source> {
    let parsed = CopySource::parse(header).ok()?;
    copy_source(&parsed, Some(&http::HeaderValue::from_str(header).ok()?)).ok()
}

/// `x-amz-copy-source-range: bytes=first-last`.
pub(crate) fn parse_copy_range(r: &str) -> S3Result<(u64, u64)> {
    let bad = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last",
        )
    };
    let (a, b) = r.strip_prefix("bytes=").and_then(|s| s.split_once('-')).ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

pub(super) async fn copy_object(
    service: &dyn ObjectApi,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let raw_source = req.headers.get("x-amz-copy-source").cloned();
    let i = req.input;
    refuse_unsupported_write!(
        i,
        grants: i.grant_full_control.is_some() || i.grant_read.is_some(),
    )?;
    let dst_customer_key = customer_key!(req, i)?;
    super::sse::one_encryption(&i.server_side_encryption, &dst_customer_key)?;
    let src_customer_key = customer_key!(req, i, copy_source)?;
    let dst_kms = kms_request!(i)?;
    let answer_key = dst_customer_key.clone();
    let (src_bucket, src_key, src_version_id) = copy_source(&i.copy_source, raw_source.as_ref())?;
    let replace = match i.metadata_directive.as_ref().map(s3s::dto::MetadataDirective::as_str) {
        None | Some("COPY") => None,
        Some("REPLACE") => Some(stored_headers!(i)?),
        Some(_) => {
            return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Unknown metadata directive."));
        }
    };
    let req = CopyRequest {
        src_bucket,
        src_key,
        src_version_id: src_version_id.clone(),
        dst_bucket: i.bucket,
        dst_key: i.key,
        replace_headers: replace,
        replace_tags: super::tagging::copy_tags(i.tagging_directive.as_ref(), i.tagging.as_deref())?,
        source_conditions: conditions(
            &i.copy_source_if_match,
            &i.copy_source_if_none_match,
            &i.copy_source_if_modified_since,
            &i.copy_source_if_unmodified_since,
        ),
        src_customer_key,
        dst_customer_key,
        dst_kms,
        // s3s 0.14 does not parse If-None-Match / If-Match on CopyObject.
        condition: WriteCondition::None,
        lock: super::object_lock::lock_request(
            i.object_lock_mode.as_ref(),
            i.object_lock_retain_until_date.as_ref(),
            i.object_lock_legal_hold_status.as_ref(),
        )?,
    };
    let out = svc(service.copy_object(req).await)?;
    let sse = super::sse::SseAnswer::of(&out.encryption, answer_key.as_ref());
    let result = with_checksums!(CopyObjectResult, ChecksumFields::from(out.checksum.as_ref()), typed, {
        e_tag: Some(etag(&out.etag)),
        last_modified: Some(timestamp(out.last_modified_ms)),
    });
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        copy_source_version_id: src_version_id,
        version_id: out.version_id,
        expiration: out.expiration.as_ref().map(crate::frontend::convert::expiration_header),
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.kms_context,
        bucket_key_enabled: sse.bucket_key_enabled,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        ..Default::default()
    }))
}
