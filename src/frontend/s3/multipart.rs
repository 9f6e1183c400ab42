//! Multipart uploads: create, upload a part (or copy one), complete, abort, list parts and
//! uploads.

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CommonPrefix, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CompletedMultipartUpload, CopyPartResult, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput, ListPartsInput,
    ListPartsOutput, MultipartUpload, Part, StorageClass, UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput,
    UploadPartOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::copy::{copy_source, parse_copy_range};
use super::list::{encode, is_url};
use super::refuse::write_condition;
use super::sse::SseAnswer;
use super::svc;
use crate::frontend::convert::{
    ChecksumFields, algorithm_dto, checksum_type_dto, conditions, dto_i32, dto_i64, etag, header_checksum, timestamp,
};
use crate::model::{ChecksumAlgorithm, ChecksumType};
use crate::service::{CompletePart, CompleteRequest, ListUploadsRequest, NewUpload, ObjectApi, PartSource, PartTarget};

/// The checksum a CreateMultipartUpload asks for: its algorithm and type (full-object or
/// composite; by default what AWS picks for the algorithm). An unknown type is refused even
/// without an algorithm.
fn requested_checksum(
    algorithm: &Option<s3s::dto::ChecksumAlgorithm>,
    kind: &Option<s3s::dto::ChecksumType>,
) -> S3Result<Option<(ChecksumAlgorithm, ChecksumType)>> {
    let algorithm = algorithm
        .as_ref()
        .map(|a| {
            ChecksumAlgorithm::parse(a.as_str())
                .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidRequest, "unsupported checksum algorithm"))
        })
        .transpose()?;
    let kind = match (kind.as_ref().map(s3s::dto::ChecksumType::as_str), algorithm) {
        // CRC64NVME has only the full-object form, so it is the default for it.
        (Some("FULL_OBJECT"), _) | (None, Some(ChecksumAlgorithm::Crc64Nvme)) => ChecksumType::FullObject,
        (Some("COMPOSITE") | None, _) => ChecksumType::Composite,
        (Some(_), _) => return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, "unknown checksum type")),
    };
    Ok(algorithm.map(|a| (a, kind)))
}

/// The part an UploadPart or UploadPartCopy names (a number out of range is refused by the
/// service).
fn part_target(
    (bucket, key, upload_id): (String, String, String),
    number: i32,
    customer_key: Option<crate::service::CustomerKey>,
) -> PartTarget {
    PartTarget { bucket, key, upload_id, number: u32::try_from(number).unwrap_or(0), customer_key }
}

pub(super) async fn create_multipart_upload(
    service: &dyn ObjectApi,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let i = req.input;
    refuse_unsupported_write!(
        i,
        grants: i.grant_full_control.is_some() || i.grant_read.is_some(),
    )?;
    let customer_key = customer_key!(req, i)?;
    super::sse::one_encryption(&i.server_side_encryption, &customer_key)?;
    let kms = kms_request!(i)?;
    let answer_key = customer_key.clone();
    let checksum = requested_checksum(&i.checksum_algorithm, &i.checksum_type)?;
    let lock = super::object_lock::lock_request(
        i.object_lock_mode.as_ref(),
        i.object_lock_retain_until_date.as_ref(),
        i.object_lock_legal_hold_status.as_ref(),
    )?;
    let headers = stored_headers!(i)?;
    let tags = super::tagging::header_tags(i.tagging.as_deref())?;
    let (bucket, key) = (i.bucket.clone(), i.key.clone());
    let new = NewUpload { bucket, key, headers, checksum, lock, tags, customer_key, kms };
    let (id, encryption) = svc(service.create_upload(new).await)?;
    let sse = SseAnswer::of(&encryption, answer_key.as_ref());
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(id.to_hex()),
        checksum_algorithm: checksum.map(|(a, _)| algorithm_dto(a)),
        checksum_type: checksum.map(|(_, k)| checksum_type_dto(k)),
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        ssekms_encryption_context: sse.kms_context,
        bucket_key_enabled: sse.bucket_key_enabled,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        ..Default::default()
    }))
}

pub(super) async fn upload_part(
    service: &dyn ObjectApi,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let i = req.input;
    let customer_key = customer_key!(req, i)?;
    let answer_key = customer_key.clone();
    let body = request_body!(i, req);
    let target = part_target((i.bucket, i.key, i.upload_id), i.part_number, customer_key);
    let out = svc(service.upload_part(target, body).await)?;
    let sse = SseAnswer::of(&out.encryption, answer_key.as_ref());
    Ok(S3Response::new(with_checksums!(UploadPartOutput, ChecksumFields::from(out.checksum.as_ref()), {
        e_tag: Some(etag(&out.etag)),
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key_enabled,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
    })))
}

pub(super) async fn upload_part_copy(
    service: &dyn ObjectApi,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let raw_source = req.headers.get("x-amz-copy-source").cloned();
    let i = req.input;
    let customer_key = customer_key!(req, i)?;
    let source_key = customer_key!(req, i, copy_source)?;
    let answer_key = customer_key.clone();
    let (bucket, key, version_id) = copy_source(&i.copy_source, raw_source.as_ref())?;
    let range = i.copy_source_range.as_deref().map(parse_copy_range).transpose()?;
    let conditions = conditions(
        &i.copy_source_if_match,
        &i.copy_source_if_none_match,
        &i.copy_source_if_modified_since,
        &i.copy_source_if_unmodified_since,
    );
    let source =
        PartSource { bucket, key, version_id: version_id.clone(), range, conditions, customer_key: source_key };
    let target = part_target((i.bucket, i.key, i.upload_id), i.part_number, customer_key);
    let out = svc(service.upload_part_copy(target, source).await)?;
    let sse = SseAnswer::of(&out.encryption, answer_key.as_ref());
    let result = with_checksums!(CopyPartResult, ChecksumFields::from(out.checksum.as_ref()), {
        e_tag: Some(etag(&out.etag)),
        last_modified: Some(timestamp(out.last_modified_ms)),
    });
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        copy_source_version_id: version_id,
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key_enabled,
        sse_customer_algorithm: sse.customer_algorithm,
        sse_customer_key_md5: sse.customer_key_md5,
        ..Default::default()
    }))
}

/// The parts a CompleteMultipartUpload lists, with the checksums the client gives for them.
fn completed_parts(upload: Option<CompletedMultipartUpload>) -> S3Result<Vec<CompletePart>> {
    let parts = upload.and_then(|m| m.parts).unwrap_or_default();
    parts
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
        .collect()
}

pub(super) async fn complete_multipart_upload(
    service: &dyn ObjectApi,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let i = req.input;
    let parts = completed_parts(i.multipart_upload)?;
    let condition = write_condition(&i.if_none_match, &i.if_match)?;
    let customer_key = customer_key!(req, i)?;
    let answer_key = customer_key.clone();
    let (bucket, key, upload_id) = (i.bucket.clone(), i.key.clone(), i.upload_id);
    let complete = CompleteRequest { bucket, key, upload_id, parts, condition, customer_key };
    let out = svc(service.complete_upload(complete).await)?;
    let sse = SseAnswer::of(&out.encryption, answer_key.as_ref());
    let c = ChecksumFields::from(out.checksum.as_ref());
    Ok(S3Response::new(with_checksums!(CompleteMultipartUploadOutput, c, typed, {
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        bucket: Some(i.bucket),
        key: Some(i.key),
        e_tag: Some(etag(&out.etag)),
        version_id: out.version_id,
        expiration: out.expiration.as_ref().map(crate::frontend::convert::expiration_header),
        // S3's CompleteMultipartUpload answer has no SSE-C headers.
        server_side_encryption: sse.server_side_encryption,
        ssekms_key_id: sse.kms_key_id,
        bucket_key_enabled: sse.bucket_key_enabled,
    })))
}

pub(super) async fn abort_multipart_upload(
    service: &dyn ObjectApi,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    svc(service.abort_upload(&i.bucket, &i.key, &i.upload_id).await)?;
    Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(super) async fn list_parts(
    service: &dyn ObjectApi,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let marker = i.part_number_marker.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
    let max = i.max_parts.map_or(1000, |m| usize::try_from(m.clamp(0, 1000)).unwrap_or(0));
    let page = svc(service.list_parts(&i.bucket, &i.key, &i.upload_id, marker, max).await)?;
    let algorithm = page.upload.checksum.map(|(a, _)| a);
    let next = page.parts.last().map(|p| dto_i32(p.number));
    let parts =
        page.parts
            .into_iter()
            .map(|p| {
                let checksum = algorithm.zip(p.checksum.clone()).map(|(algorithm, value)| {
                    crate::model::ObjectChecksum { algorithm, value, kind: ChecksumType::FullObject }
                });
                with_checksums!(Part, ChecksumFields::from(checksum.as_ref()), {
                    part_number: Some(dto_i32(p.number)),
                    e_tag: Some(etag(&p.etag)),
                    size: Some(dto_i64(p.size)),
                    last_modified: Some(timestamp(p.last_modified_ms)),
                })
            })
            .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(i.upload_id),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: next,
        max_parts: Some(dto_i32(max)),
        is_truncated: Some(page.truncated),
        parts: Some(parts),
        checksum_algorithm: algorithm.map(algorithm_dto),
        checksum_type: page.upload.checksum.map(|(_, k)| checksum_type_dto(k)),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    service: &dyn ObjectApi,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let url = is_url(&i.encoding_type)?;
    let max = i.max_uploads.map_or(1000, |m| usize::try_from(m.clamp(0, 1000)).unwrap_or(0));
    let page = svc(service
        .list_uploads(ListUploadsRequest {
            bucket: i.bucket.clone(),
            prefix: i.prefix.clone().unwrap_or_default(),
            delimiter: i.delimiter.clone(),
            key_marker: i.key_marker.clone(),
            upload_id_marker: i.upload_id_marker.clone(),
            max,
        })
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
    let prefixes = page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode(url, p)) }).collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        prefix: i.prefix.map(|p| encode(url, p)),
        delimiter: i.delimiter.map(|d| encode(url, d)),
        key_marker: i.key_marker,
        upload_id_marker: i.upload_id_marker,
        max_uploads: Some(dto_i32(max)),
        is_truncated: Some(page.truncated),
        next_key_marker: next_key.filter(|_| page.truncated),
        next_upload_id_marker: next_id.filter(|_| page.truncated),
        uploads: Some(uploads),
        common_prefixes: Some(prefixes),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}
