//! Object operations: PUT, GET, HEAD, DELETE and DeleteObjects.

use futures_util::StreamExt;
use s3s::dto::{
    ChecksumMode, DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, Error,
    GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, PutObjectInput, PutObjectOutput, StreamingBlob,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::refuse::write_condition;
use super::svc;
use crate::frontend::convert::{ChecksumFields, etag, expiration_header, expires, metadata, timestamp};
use crate::frontend::error::{not_implemented, to_s3};
use crate::service::{ObjectApi, ObjectToDelete, PutRequest};

fn checksum_requested(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref().is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

/// Fills the fields GetObjectOutput and HeadObjectOutput share, with the `response-*`
/// overrides of the input applied.
macro_rules! read_output {
    ($ty:ident, $out:expr, $i:expr, $customer:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let info = &$out.info;
        let sse = super::sse::SseAnswer::of(&info.encryption, $customer);
        let c = if checksum_requested(&$i.checksum_mode) {
            ChecksumFields::from($out.checksum.as_ref())
        } else {
            ChecksumFields::default()
        };
        with_checksums!($ty, c, typed, {
            $($field: $value,)*
            accept_ranges: Some("bytes".into()),
            content_length: Some($crate::frontend::convert::dto_i64($out.content_length)),
            content_range: $out.range.map(|(a, b)| format!("bytes {a}-{b}/{}", info.size)),
            e_tag: Some(etag(&info.etag)),
            last_modified: Some(timestamp(info.last_modified_ms)),
            content_type: $i.response_content_type.clone().or(info.headers.content_type.clone()).and_then(|c| c.parse().ok()),
            content_encoding: $i.response_content_encoding.clone().or(info.headers.content_encoding.clone()),
            content_disposition: $i.response_content_disposition.clone().or(info.headers.content_disposition.clone()),
            content_language: $i.response_content_language.clone().or(info.headers.content_language.clone()),
            cache_control: $i.response_cache_control.clone().or(info.headers.cache_control.clone()),
            expires: $i.response_expires.clone().or(expires(&info.headers)),
            metadata: metadata(&info.headers),
            parts_count: info.parts_count.filter(|_| $i.part_number.is_some()).map($crate::frontend::convert::dto_i32),
            version_id: info.version_id.clone(),
            expiration: info.expiration.as_ref().map(expiration_header),
            object_lock_mode: super::object_lock::lock_headers(&info.lock).0,
            object_lock_retain_until_date: super::object_lock::lock_headers(&info.lock).1,
            object_lock_legal_hold_status: super::object_lock::lock_headers(&info.lock).2,
            server_side_encryption: sse.server_side_encryption,
            ssekms_key_id: sse.kms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            sse_customer_algorithm: sse.customer_algorithm,
            sse_customer_key_md5: sse.customer_key_md5,
        })
    }};
}

/// `x-amz-tagging-count`, sent only for a tagged object (as S3).
fn tag_count(n: usize) -> Option<i32> {
    (n > 0).then(|| crate::frontend::convert::dto_i32(n))
}

/// 206 for a partial read, else the default 200.
fn read_response<T>(output: T, partial: bool) -> S3Response<T> {
    let mut resp = S3Response::new(output);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    resp
}

pub(super) async fn put_object(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let i = req.input;
    refuse_unsupported_write!(
        i,
        grants: i.grant_full_control.is_some()
            || i.grant_read.is_some()
            || i.grant_read_acp.is_some()
            || i.grant_write_acp.is_some(),
    )?;
    if i.write_offset_bytes.is_some() {
        return Err(not_implemented("appends (x-amz-write-offset-bytes)"));
    }
    let condition = write_condition(&i.if_none_match, &i.if_match)?;
    let lock = super::object_lock::lock_request(
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    if !lock.is_empty() {
        super::object_lock::require_integrity_header(&req.headers)?;
    }
    let headers = stored_headers!(i)?;
    let tags = super::tagging::header_tags(i.tagging.as_deref())?;
    let customer_key = customer_key!(req, i)?;
    super::sse::one_encryption(&i.server_side_encryption, &customer_key)?;
    let kms = kms_request!(i)?;
    let body = request_body!(i, req);
    let put = PutRequest { bucket: i.bucket, key: i.key, headers, condition, lock, tags, customer_key, kms };
    let customer_key = put.customer_key.clone();
    let out = svc(service.put_object(put, body).await)?;
    let sse = super::sse::SseAnswer::of(&out.encryption, customer_key.as_ref());
    Ok(S3Response::new(with_checksums!(PutObjectOutput, ChecksumFields::from(out.checksum.as_ref()), typed, {
        e_tag: Some(etag(&out.etag)),
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.kms_context,
        bucket_key_enabled: sse.bucket_key_enabled,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        version_id: out.version_id,
        expiration: out.expiration.as_ref().map(expiration_header),
    })))
}

pub(super) async fn get_object(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let i = req.input;
    let overrides = [
        &i.response_content_type,
        &i.response_content_encoding,
        &i.response_content_disposition,
        &i.response_content_language,
        &i.response_cache_control,
    ];
    // S3 lets only signed requests choose the answer's headers (a public object's link cannot
    // be made to serve, say, text/html).
    if req.credentials.is_none() && (overrides.iter().any(|o| o.is_some()) || i.response_expires.is_some()) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    let customer_key = customer_key!(req, i)?;
    let mut out = svc(service.get_object(read_request!(i, customer_key.clone())).await)?;
    let body = std::mem::replace(&mut out.body, futures_util::stream::empty().boxed());
    // s3s wants a Sync body; SyncStream provides it without locking (the stream is polled
    // through `&mut` only).
    let body = sync_wrapper::SyncStream::new(body.map(|r| r.map_err(|e| to_s3(&e))));
    let output = read_output!(GetObjectOutput, out, i, customer_key.as_ref(), {
        body: Some(StreamingBlob::wrap(body)),
        tag_count: tag_count(out.info.tag_count),
    });
    Ok(read_response(output, out.range.is_some()))
}

pub(super) async fn head_object(
    service: &dyn ObjectApi,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = req.input;
    let customer_key = customer_key!(req, i)?;
    let out = svc(service.head_object(read_request!(i, customer_key.clone())).await)?;
    let output = read_output!(HeadObjectOutput, out, i, customer_key.as_ref(), {});
    let mut resp = read_response(output, out.range.is_some());
    // s3s's HeadObjectOutput has no tag count; S3 sends the header on HEAD as on GET.
    if let Some(n) = tag_count(out.info.tag_count) {
        resp.headers.insert("x-amz-tagging-count", http::HeaderValue::from(n));
    }
    Ok(resp)
}

pub(super) async fn delete_object(
    service: &dyn ObjectApi,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let i = req.input;
    if i.if_match.is_some() {
        return Err(not_implemented("conditional DeleteObject (If-Match)"));
    }
    let bypass = i.bypass_governance_retention == Some(true);
    let out = svc(service.delete_object(&i.bucket, &i.key, i.version_id.as_deref(), bypass).await)?;
    let output = DeleteObjectOutput {
        delete_marker: out.delete_marker.then_some(true),
        version_id: out.version_id,
        ..Default::default()
    };
    Ok(S3Response::with_status(output, http::StatusCode::NO_CONTENT))
}

pub(super) async fn delete_objects(
    service: &dyn ObjectApi,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let i = req.input;
    if i.delete.objects.len() > 1000 {
        return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "DeleteObjects accepts at most 1000 keys"));
    }
    let quiet = i.delete.quiet.unwrap_or(false);
    let objects: Vec<ObjectToDelete> = i
        .delete
        .objects
        .iter()
        .map(|o| ObjectToDelete {
            key: o.key.clone(),
            version_id: o.version_id.clone(),
            bypass_governance: i.bypass_governance_retention == Some(true),
        })
        .collect();
    let results = svc(service.delete_objects(&i.bucket, &objects).await)?;
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for (obj, r) in i.delete.objects.into_iter().zip(results) {
        match r {
            Ok(d) if !quiet => {
                let named = obj.version_id.is_some();
                deleted.push(DeletedObject {
                    key: Some(obj.key),
                    delete_marker: d.delete_marker.then_some(true),
                    // The marker made by a DELETE of a key; the version named otherwise.
                    delete_marker_version_id: d.version_id.clone().filter(|_| !named && d.delete_marker),
                    version_id: obj.version_id,
                });
            }
            Ok(_) => {}
            Err(e) => {
                let e = to_s3(&e);
                errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(obj.key),
                    message: e.message().map(str::to_owned),
                    version_id: obj.version_id,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
}
