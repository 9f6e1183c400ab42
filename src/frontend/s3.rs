//! `impl s3s::S3`: decodes each request, refuses what the gateway does not honour (501), and
//! forwards to the [`ObjectService`]. Operations not listed keep s3s's NotImplemented default.

use std::sync::Arc;

use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::{
    BodyHeaders, ChecksumFields, algorithm_dto, checksum_type_dto, client_body, conditions, content_headers, etag,
    expires, header_checksum, metadata, range, timestamp, url_encode,
};
use super::error::{not_implemented, to_s3};
use crate::meta::{ListStart, WriteCondition};
use crate::model::{ChecksumAlgorithm, ChecksumType};
use crate::service::{
    CompletePart, CompleteRequest, CopyRequest, GetRequest, ListObjectsRequest, ObjectService, PutRequest,
    list as svc_list,
};

/// The S3 front end over one service.
pub struct Gateway {
    service: Arc<ObjectService>,
}

impl Gateway {
    /// Wraps the service.
    pub fn new(service: Arc<ObjectService>) -> Self {
        Self { service }
    }
}

fn svc<T>(r: crate::error::Result<T>) -> S3Result<T> {
    r.map_err(to_s3)
}

/// Refuses write headers the gateway would otherwise silently ignore.
#[allow(clippy::too_many_arguments)]
fn refuse_unsupported_write(
    sse: &Option<ServerSideEncryption>,
    sse_c: bool,
    kms: bool,
    lock: bool,
    tagging: &Option<String>,
    redirect: &Option<String>,
    grants: bool,
    acl: &Option<ObjectCannedACL>,
    storage_class: &Option<StorageClass>,
) -> S3Result<()> {
    if sse_c {
        return Err(not_implemented("SSE-C (x-amz-server-side-encryption-customer-*)"));
    }
    if kms || sse.as_ref().is_some_and(|s| s.as_str() != "AES256") {
        return Err(not_implemented("SSE-KMS; every object is already encrypted by the gateway"));
    }
    if lock {
        return Err(not_implemented("Object Lock"));
    }
    if tagging.is_some() {
        return Err(not_implemented("object tagging"));
    }
    if redirect.is_some() {
        return Err(not_implemented("website redirects"));
    }
    if grants || acl.as_ref().is_some_and(|a| a.as_str() != "private") {
        return Err(not_implemented("ACLs other than private"));
    }
    if storage_class.as_ref().is_some_and(|c| c.as_str() != "STANDARD") {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        ));
    }
    Ok(())
}

fn refuse_sse_c_read(alg: &Option<String>, key: &Option<String>) -> S3Result<()> {
    if alg.is_some() || key.is_some() {
        return Err(not_implemented("SSE-C (x-amz-server-side-encryption-customer-*)"));
    }
    Ok(())
}

fn refuse_version_id(v: &Option<String>) -> S3Result<()> {
    match v.as_deref() {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid version id specified (versioning is not enabled)",
        )),
    }
}

fn write_condition(
    if_none_match: &Option<ETagCondition>,
    if_match: &Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    match (if_none_match, if_match) {
        (Some(_), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "If-Match together with If-None-Match is not supported",
        )),
        (Some(ETagCondition::Any), None) => Ok(WriteCondition::IfAbsent),
        (Some(_), None) => {
            Err(S3Error::with_message(S3ErrorCode::NotImplemented, "If-None-Match on writes accepts only *"))
        }
        (None, Some(ETagCondition::ETag(e))) => Ok(WriteCondition::IfMatch(e.value().to_owned())),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::IfMatch("*".into())),
        (None, None) => Ok(WriteCondition::None),
    }
}

/// The source bucket and key of a copy. s3s decodes `%XX` but keeps `+`; S3 reads the header
/// as form-encoded, where `+` is a space (s5cmd sends spaces that way; SDKs send a literal `+`
/// as `%2B`), so the key is decoded again from the raw header.
fn copy_source(src: &CopySource, raw: Option<&http::HeaderValue>) -> S3Result<(String, String)> {
    match src {
        CopySource::Bucket { bucket, key, version_id } => {
            refuse_version_id(&version_id.as_ref().map(|v| v.to_string()))?;
            let from_raw = raw
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim_start_matches('/'))
                .and_then(|v| v.split_once('/'))
                .map(|(_, k)| k.split_once("?versionId=").map_or(k, |(k, _)| k))
                .and_then(|k| crate::model::names::percent_decode(k, true));
            Ok((bucket.to_string(), from_raw.unwrap_or_else(|| key.to_string())))
        }
        _ => Err(not_implemented("access point and outpost copy sources")),
    }
}

/// A raw `x-amz-copy-source` header as s3s parses it and [`copy_source`] decodes it (fuzzing
/// entry point).
#[cfg(any(test, feature = "fuzzing"))]
pub fn copy_source_header(header: &str) -> Option<(String, String)> {
    let parsed = CopySource::parse(header).ok()?;
    copy_source(&parsed, Some(&http::HeaderValue::from_str(header).ok()?)).ok()
}

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

fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "max-keys must be non-negative")),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

fn is_url(e: &Option<EncodingType>) -> S3Result<bool> {
    match e.as_ref().map(|e| e.as_str()) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => {
            Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid Encoding Method specified in Request"))
        }
    }
}

fn encode(url: bool, s: String) -> String {
    if url { url_encode(&s) } else { s }
}

fn listed_objects(page: &crate::service::ObjectsPage, url: bool) -> (Vec<Object>, Vec<CommonPrefix>) {
    let objects = page
        .objects
        .iter()
        .map(|o| Object {
            key: Some(encode(url, o.key.clone())),
            size: Some(o.size as i64),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(timestamp(o.last_modified_ms)),
            storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
            ..Default::default()
        })
        .collect();
    let prefixes = page.prefixes.iter().map(|p| CommonPrefix { prefix: Some(encode(url, p.clone())) }).collect();
    (objects, prefixes)
}

fn checksum_requested(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref().is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

/// The service request of a GetObject or HeadObject input (distinct generated types with the
/// same fields), after refusing SSE-C and version ids.
macro_rules! read_request {
    ($i:expr) => {{
        refuse_sse_c_read(&$i.sse_customer_algorithm, &$i.sse_customer_key)?;
        refuse_version_id(&$i.version_id)?;
        GetRequest {
            bucket: $i.bucket.clone(),
            key: $i.key.clone(),
            range: range($i.range),
            part_number: $i.part_number.map(|n| n.max(0) as u32),
            conditions: conditions(&$i.if_match, &$i.if_none_match, &$i.if_modified_since, &$i.if_unmodified_since),
        }
    }};
}

/// The body of a PutObject or UploadPart input, with its integrity headers and trailers.
macro_rules! request_body {
    ($i:expr, $req:expr) => {{
        let checksum = header_checksum(
            &$i.checksum_crc32,
            &$i.checksum_crc32c,
            &$i.checksum_crc64nvme,
            &$i.checksum_sha1,
            &$i.checksum_sha256,
        )?;
        client_body(
            $i.body,
            BodyHeaders {
                content_length: $i.content_length,
                content_md5: $i.content_md5.as_deref(),
                header_checksum: checksum,
                sdk_algorithm: $i.checksum_algorithm.as_ref(),
                headers: &$req.headers,
                trailing: $req.trailing_headers,
            },
        )?
    }};
}

/// The content headers and user metadata an input asks to store.
macro_rules! stored_headers {
    ($i:expr) => {
        content_headers(
            $i.content_type.map(|c| c.to_string()),
            $i.content_encoding,
            $i.content_disposition,
            $i.content_language,
            $i.cache_control,
            $i.expires,
            $i.metadata,
        )
    };
}

/// Fills the fields GetObjectOutput and HeadObjectOutput share, with the `response-*`
/// overrides of the input applied.
macro_rules! read_output {
    ($ty:ident, $out:expr, $i:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let info = &$out.info;
        let c = if checksum_requested(&$i.checksum_mode) {
            ChecksumFields::from($out.checksum.as_ref())
        } else {
            ChecksumFields::default()
        };
        $ty {
            $($field: $value,)*
            accept_ranges: Some("bytes".into()),
            content_length: Some($out.content_length as i64),
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
            parts_count: info.parts_count.filter(|_| $i.part_number.is_some()).map(|n| n as i32),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            ..Default::default()
        }
    }};
}

/// 206 for a partial read, else the default 200.
fn read_response<T>(output: T, partial: bool) -> S3Response<T> {
    let mut resp = S3Response::new(output);
    if partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    resp
}

#[async_trait::async_trait]
impl S3 for Gateway {
    async fn list_buckets(&self, _req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = svc(self.service.list_buckets().await)?
            .into_iter()
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created_ms)),
                bucket_region: Some(self.service.region().to_owned()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner { display_name: Some("souverain".into()), id: Some("souverain".into()) }),
            ..Default::default()
        }))
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let i = req.input;
        if i.object_lock_enabled_for_bucket == Some(true) {
            return Err(not_implemented("Object Lock"));
        }
        if i.acl.as_ref().is_some_and(|a| a.as_str() != "private")
            || i.grant_full_control.is_some()
            || i.grant_read.is_some()
            || i.grant_write.is_some()
        {
            return Err(not_implemented("ACLs other than private"));
        }
        let location = i
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned());
        svc(self.service.create_bucket(&i.bucket, location.as_deref()).await)?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", i.bucket)) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        svc(self.service.head_bucket(&req.input.bucket).await)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.service.region().to_owned()),
            ..Default::default()
        }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        svc(self.service.delete_bucket(&req.input.bucket).await)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        svc(self.service.head_bucket(&req.input.bucket).await)?;
        let region = self.service.region().to_owned();
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: Some(BucketLocationConstraint::from(region)),
        }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        svc(self.service.head_bucket(&req.input.bucket).await)?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let i = req.input;
        refuse_unsupported_write(
            &i.server_side_encryption,
            i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some(),
            i.ssekms_key_id.is_some() || i.ssekms_encryption_context.is_some() || i.bucket_key_enabled.is_some(),
            i.object_lock_mode.is_some()
                || i.object_lock_retain_until_date.is_some()
                || i.object_lock_legal_hold_status.is_some(),
            &i.tagging,
            &i.website_redirect_location,
            i.grant_full_control.is_some()
                || i.grant_read.is_some()
                || i.grant_read_acp.is_some()
                || i.grant_write_acp.is_some(),
            &i.acl,
            &i.storage_class,
        )?;
        if i.write_offset_bytes.is_some() {
            return Err(not_implemented("appends (x-amz-write-offset-bytes)"));
        }
        let condition = write_condition(&i.if_none_match, &i.if_match)?;
        let headers = stored_headers!(i)?;
        let body = request_body!(i, req);
        let out =
            svc(self.service.put_object(PutRequest { bucket: i.bucket, key: i.key, headers, condition }, body).await)?;
        let c = ChecksumFields::from(out.checksum.as_ref());
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&out.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            server_side_encryption: i.server_side_encryption,
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let mut out = svc(self.service.get_object(read_request!(i)).await)?;
        let body = std::mem::replace(&mut out.body, futures_util::stream::empty().boxed());
        // s3s wants a Sync body; SyncStream provides it without locking (the stream is polled
        // through `&mut` only).
        let body = sync_wrapper::SyncStream::new(body.map(|r| r.map_err(to_s3)));
        let output = read_output!(GetObjectOutput, out, i, {
            body: Some(StreamingBlob::wrap(body)),
        });
        Ok(read_response(output, out.range.is_some()))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let out = svc(self.service.head_object(read_request!(i)).await)?;
        let output = read_output!(HeadObjectOutput, out, i, {});
        Ok(read_response(output, out.range.is_some()))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = req.input;
        refuse_version_id(&i.version_id)?;
        if i.if_match.is_some() {
            return Err(not_implemented("conditional DeleteObject (If-Match)"));
        }
        svc(self.service.delete_object(&i.bucket, &i.key).await)?;
        Ok(S3Response::with_status(DeleteObjectOutput::default(), http::StatusCode::NO_CONTENT))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let i = req.input;
        if i.delete.objects.len() > 1000 {
            return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "DeleteObjects accepts at most 1000 keys"));
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        let keys: Vec<String> = i.delete.objects.iter().map(|o| o.key.clone()).collect();
        let results = svc(self.service.delete_objects(&i.bucket, &keys).await)?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (obj, r) in i.delete.objects.into_iter().zip(results) {
            match r {
                Ok(()) if !quiet => deleted.push(DeletedObject { key: Some(obj.key), ..Default::default() }),
                Ok(()) => {}
                Err(e) => {
                    let e = to_s3(e);
                    errors.push(Error {
                        code: Some(e.code().as_str().to_owned()),
                        key: Some(obj.key),
                        message: e.message().map(str::to_owned),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let raw_source = req.headers.get("x-amz-copy-source").cloned();
        let i = req.input;
        refuse_unsupported_write(
            &i.server_side_encryption,
            i.sse_customer_algorithm.is_some() || i.copy_source_sse_customer_algorithm.is_some(),
            i.ssekms_key_id.is_some() || i.bucket_key_enabled.is_some(),
            i.object_lock_mode.is_some() || i.object_lock_legal_hold_status.is_some(),
            &i.tagging,
            &i.website_redirect_location,
            i.grant_full_control.is_some() || i.grant_read.is_some(),
            &i.acl,
            &i.storage_class,
        )?;
        if i.tagging_directive.is_some() {
            return Err(not_implemented("object tagging"));
        }
        let (src_bucket, src_key) = copy_source(&i.copy_source, raw_source.as_ref())?;
        let replace = match i.metadata_directive.as_ref().map(|d| d.as_str()) {
            None | Some("COPY") => None,
            Some("REPLACE") => Some(stored_headers!(i)?),
            Some(_) => {
                return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Unknown metadata directive."));
            }
        };
        let req = CopyRequest {
            src_bucket,
            src_key,
            dst_bucket: i.bucket,
            dst_key: i.key,
            replace_headers: replace,
            source_conditions: conditions(
                &i.copy_source_if_match,
                &i.copy_source_if_none_match,
                &i.copy_source_if_modified_since,
                &i.copy_source_if_unmodified_since,
            ),
            // s3s 0.14 does not parse If-None-Match / If-Match on CopyObject.
            condition: WriteCondition::None,
        };
        let out = svc(self.service.copy_object(req).await)?;
        let c = ChecksumFields::from(out.checksum.as_ref());
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&out.etag)),
                last_modified: Some(timestamp(out.last_modified_ms)),
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
                checksum_type: c.kind,
            }),
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let url = is_url(&i.encoding_type)?;
        let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
        let prefix = i.prefix.clone().unwrap_or_default();
        let start = match i.marker.as_deref().filter(|m| !m.is_empty()) {
            // A marker that is a common prefix skips everything under it (our NextMarker).
            Some(m)
                if delimiter
                    .as_deref()
                    .is_some_and(|d| m.ends_with(d) && m.starts_with(&prefix) && m.len() > prefix.len()) =>
            {
                ListStart::AfterPrefix(m.as_bytes().to_vec())
            }
            Some(m) => ListStart::AfterKey(m.as_bytes().to_vec()),
            None => ListStart::Beginning,
        };
        let max = max_keys(i.max_keys)?;
        let page = svc(self
            .service
            .list_objects(ListObjectsRequest {
                bucket: i.bucket.clone(),
                prefix,
                delimiter: delimiter.clone(),
                start,
                max_keys: max,
            })
            .await)?;
        let (contents, prefixes) = listed_objects(&page, url);
        let next_marker = match (&page.last, page.truncated && delimiter.is_some()) {
            (Some(ListStart::AfterKey(k) | ListStart::AfterPrefix(k)), true) => {
                Some(encode(url, String::from_utf8_lossy(k).into_owned()))
            }
            _ => None,
        };
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(encode(url, i.prefix.unwrap_or_default())),
            marker: Some(encode(url, i.marker.unwrap_or_default())),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: delimiter.map(|d| encode(url, d)),
            next_marker,
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let url = is_url(&i.encoding_type)?;
        let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
        let start = match (&i.continuation_token, i.start_after.as_deref().filter(|s| !s.is_empty())) {
            (Some(t), _) => svc(svc_list::decode_token(t))?,
            (None, Some(s)) => ListStart::AfterKey(s.as_bytes().to_vec()),
            (None, None) => ListStart::Beginning,
        };
        let max = max_keys(i.max_keys)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = svc(self
            .service
            .list_objects(ListObjectsRequest {
                bucket: i.bucket.clone(),
                prefix,
                delimiter: delimiter.clone(),
                start,
                max_keys: max,
            })
            .await)?;
        let (contents, prefixes) = listed_objects(&page, url);
        let key_count = (contents.len() + prefixes.len()) as i32;
        let next = if page.truncated { page.last.as_ref().and_then(svc_list::encode_token) } else { None };
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(encode(url, i.prefix.unwrap_or_default())),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: i.continuation_token,
            is_truncated: Some(page.truncated),
            next_continuation_token: next,
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: delimiter.map(|d| encode(url, d)),
            encoding_type: i.encoding_type,
            start_after: i.start_after.map(|s| encode(url, s)),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        refuse_unsupported_write(
            &i.server_side_encryption,
            i.sse_customer_algorithm.is_some() || i.sse_customer_key.is_some(),
            i.ssekms_key_id.is_some() || i.bucket_key_enabled.is_some(),
            i.object_lock_mode.is_some() || i.object_lock_legal_hold_status.is_some(),
            &i.tagging,
            &i.website_redirect_location,
            i.grant_full_control.is_some() || i.grant_read.is_some(),
            &i.acl,
            &i.storage_class,
        )?;
        let algorithm =
            match &i.checksum_algorithm {
                Some(a) => Some(ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
                    S3Error::with_message(S3ErrorCode::InvalidRequest, "unsupported checksum algorithm")
                })?),
                None => None,
            };
        let kind = match (i.checksum_type.as_ref().map(|t| t.as_str()), algorithm) {
            (Some("FULL_OBJECT"), _) => ChecksumType::FullObject,
            (Some("COMPOSITE"), _) => ChecksumType::Composite,
            (None, Some(ChecksumAlgorithm::Crc64Nvme)) => ChecksumType::FullObject,
            (None, _) => ChecksumType::Composite,
            (Some(_), _) => {
                return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, "unknown checksum type"));
            }
        };
        let headers = stored_headers!(i)?;
        let checksum = algorithm.map(|a| (a, kind));
        let id = svc(self.service.create_upload(&i.bucket, &i.key, headers, checksum).await)?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(id.to_hex()),
            checksum_algorithm: algorithm.map(algorithm_dto),
            checksum_type: checksum.map(|(_, k)| checksum_type_dto(k)),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let i = req.input;
        refuse_sse_c_read(&i.sse_customer_algorithm, &i.sse_customer_key)?;
        let number = u32::try_from(i.part_number).unwrap_or(0);
        let body = request_body!(i, req);
        let out = svc(self.service.upload_part(&i.bucket, &i.key, &i.upload_id, number, body).await)?;
        let c = ChecksumFields::from(out.checksum.as_ref());
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&out.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let raw_source = req.headers.get("x-amz-copy-source").cloned();
        let i = req.input;
        refuse_sse_c_read(&i.sse_customer_algorithm, &i.copy_source_sse_customer_algorithm)?;
        let (src_bucket, src_key) = copy_source(&i.copy_source, raw_source.as_ref())?;
        let range = i.copy_source_range.as_deref().map(parse_copy_range).transpose()?;
        let cond = conditions(
            &i.copy_source_if_match,
            &i.copy_source_if_none_match,
            &i.copy_source_if_modified_since,
            &i.copy_source_if_unmodified_since,
        );
        let number = u32::try_from(i.part_number).unwrap_or(0);
        let out = svc(self
            .service
            .upload_part_copy(&i.bucket, &i.key, &i.upload_id, number, &src_bucket, &src_key, range, &cond)
            .await)?;
        let c = ChecksumFields::from(out.checksum.as_ref());
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&out.etag)),
                last_modified: Some(timestamp(out.last_modified_ms)),
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
            }),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let i = req.input;
        let parts = i
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| {
                let checksum = header_checksum(
                    &p.checksum_crc32,
                    &p.checksum_crc32c,
                    &p.checksum_crc64nvme,
                    &p.checksum_sha1,
                    &p.checksum_sha256,
                )?;
                Ok(CompletePart {
                    number: p
                        .part_number
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| S3Error::with_message(S3ErrorCode::MalformedXML, "PartNumber missing"))?,
                    etag: p.e_tag.map(|e| e.value().to_owned()).unwrap_or_default(),
                    checksum: checksum.map(|(_, v)| v),
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        let condition = write_condition(&i.if_none_match, &i.if_match)?;
        let out = svc(self
            .service
            .complete_upload(CompleteRequest {
                bucket: i.bucket.clone(),
                key: i.key.clone(),
                upload_id: i.upload_id,
                parts,
                condition,
            })
            .await)?;
        let c = ChecksumFields::from(out.checksum.as_ref());
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket.clone()),
            key: Some(i.key.clone()),
            location: Some(format!("/{}/{}", i.bucket, i.key)),
            e_tag: Some(etag(&out.etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: c.kind,
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        svc(self.service.abort_upload(&i.bucket, &i.key, &i.upload_id).await)?;
        Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let marker = i.part_number_marker.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
        let max = i.max_parts.map_or(1000, |m| m.clamp(0, 1000) as usize);
        let page = svc(self.service.list_parts(&i.bucket, &i.key, &i.upload_id, marker, max).await)?;
        let algorithm = page.upload.checksum.map(|(a, _)| a);
        let next = page.parts.last().map(|p| p.number as i32);
        let parts = page
            .parts
            .into_iter()
            .map(|p| {
                let c = ChecksumFields::from(
                    algorithm
                        .zip(p.checksum.clone())
                        .map(|(algorithm, value)| crate::model::ObjectChecksum {
                            algorithm,
                            value,
                            kind: ChecksumType::FullObject,
                        })
                        .as_ref(),
                );
                Part {
                    part_number: Some(p.number as i32),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(p.size as i64),
                    last_modified: Some(timestamp(p.last_modified_ms)),
                    checksum_crc32: c.crc32,
                    checksum_crc32c: c.crc32c,
                    checksum_crc64nvme: c.crc64nvme,
                    checksum_sha1: c.sha1,
                    checksum_sha256: c.sha256,
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: next,
            max_parts: Some(max as i32),
            is_truncated: Some(page.truncated),
            parts: Some(parts),
            checksum_algorithm: algorithm.map(algorithm_dto),
            checksum_type: page.upload.checksum.map(|(_, k)| checksum_type_dto(k)),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let url = is_url(&i.encoding_type)?;
        let max = i.max_uploads.map_or(1000, |m| m.clamp(0, 1000) as usize);
        let page = svc(self
            .service
            .list_uploads(
                &i.bucket,
                i.prefix.clone().unwrap_or_default(),
                i.delimiter.clone(),
                i.key_marker.clone(),
                i.upload_id_marker.clone(),
                max,
            )
            .await)?;
        let next_key = page.uploads.last().map(|u| encode(url, u.key.clone()));
        let next_id = page.uploads.last().map(|u| u.upload_id.to_hex());
        let uploads = page
            .uploads
            .into_iter()
            .map(|u| MultipartUpload {
                key: Some(encode(url, u.key)),
                upload_id: Some(u.upload_id.to_hex()),
                initiated: Some(timestamp(u.initiated_ms)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                checksum_algorithm: u.checksum.map(|(a, _)| algorithm_dto(a)),
                checksum_type: u.checksum.map(|(_, k)| checksum_type_dto(k)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: i.prefix.map(|p| encode(url, p)),
            delimiter: i.delimiter.map(|d| encode(url, d)),
            key_marker: i.key_marker,
            upload_id_marker: i.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(page.truncated),
            next_key_marker: next_key.filter(|_| page.truncated),
            next_upload_id_marker: next_id.filter(|_| page.truncated),
            uploads: Some(uploads),
            common_prefixes: Some(
                page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode(url, p)) }).collect(),
            ),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }
}
