//! GetObjectAttributes: the attributes a client names (`x-amz-object-attributes`) of the
//! current version or of the one `versionId` names; parts paged as ListParts pages them.

use s3s::dto::{
    Checksum, GetObjectAttributesInput, GetObjectAttributesOutput, GetObjectAttributesParts, ObjectAttributes,
    ObjectPart, StorageClass,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::{ChecksumFields, dto_i32, dto_i64, etag, timestamp};
use crate::model::{ObjectChecksum, usize_from};
use crate::service::{Conditions, GetRequest, ObjectApi};

const KNOWN: [&str; 5] = [
    ObjectAttributes::ETAG,
    ObjectAttributes::CHECKSUM,
    ObjectAttributes::OBJECT_PARTS,
    ObjectAttributes::OBJECT_SIZE,
    ObjectAttributes::STORAGE_CLASS,
];

/// Parts per answer unless `max-parts` says fewer, as ListParts.
const MAX_PARTS: usize = 1000;

/// The page of parts after `marker`, at most `max`, each with its checksum under the object's
/// algorithm.
fn parts_page(
    parts: &[(u64, Option<String>)],
    checksum: Option<&ObjectChecksum>,
    marker: usize,
    max: usize,
) -> GetObjectAttributesParts {
    let page: Vec<ObjectPart> = parts
        .iter()
        .enumerate()
        .skip(marker)
        .take(max)
        .map(|(i, (size, value))| {
            let c = checksum.zip(value.clone()).map(|(c, value)| ObjectChecksum { value, ..c.clone() });
            with_checksums!(ObjectPart, ChecksumFields::from(c.as_ref()), {
                part_number: Some(dto_i32(i + 1)),
                size: Some(dto_i64(*size)),
            })
        })
        .collect();
    let last = marker + page.len();
    GetObjectAttributesParts {
        is_truncated: Some(last < parts.len()),
        max_parts: Some(dto_i32(max)),
        next_part_number_marker: (last < parts.len()).then(|| dto_i32(last)),
        part_number_marker: Some(dto_i32(marker)),
        parts: Some(page),
        total_parts_count: Some(dto_i32(parts.len())),
    }
}

pub(super) async fn get_object_attributes(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let i = req.input;
    let customer_key = customer_key!(req, i)?;
    let asked: Vec<&str> = i.object_attributes.iter().map(ObjectAttributes::as_str).collect();
    if asked.is_empty() || asked.iter().any(|a| !KNOWN.contains(a)) {
        return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid attribute name specified."));
    }
    let wants = |a: &str| asked.contains(&a);
    let req = GetRequest {
        bucket: i.bucket,
        key: i.key,
        range: None,
        part_number: None,
        conditions: Conditions::default(),
        version_id: i.version_id,
        customer_key,
    };
    let a = svc(service.object_attributes(req).await)?;
    let info = &a.info;
    let marker = usize_from(u64::try_from(i.part_number_marker.unwrap_or(0)).unwrap_or(0));
    let max = i.max_parts.map_or(MAX_PARTS, |m| usize::try_from(m).unwrap_or(0).min(MAX_PARTS));
    let checksum = info
        .checksum
        .as_ref()
        .filter(|_| wants(ObjectAttributes::CHECKSUM))
        .map(|c| with_checksums!(Checksum, ChecksumFields::from(Some(c)), typed, {}));
    Ok(S3Response::new(GetObjectAttributesOutput {
        e_tag: wants(ObjectAttributes::ETAG).then(|| etag(&info.etag)),
        checksum,
        object_parts: (wants(ObjectAttributes::OBJECT_PARTS) && !a.parts.is_empty())
            .then(|| parts_page(&a.parts, info.checksum.as_ref(), marker, max)),
        object_size: wants(ObjectAttributes::OBJECT_SIZE).then(|| dto_i64(info.size)),
        storage_class: wants(ObjectAttributes::STORAGE_CLASS)
            .then(|| StorageClass::from_static(StorageClass::STANDARD)),
        last_modified: Some(timestamp(info.last_modified_ms)),
        version_id: info.version_id.clone(),
        delete_marker: None,
        request_charged: None,
    }))
}
