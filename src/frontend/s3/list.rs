//! ListObjects (v1) and ListObjectsV2: one service request, two shapes of answer.

use s3s::dto::{
    CommonPrefix, DeleteMarkerEntry, EncodingType, ListObjectVersionsInput, ListObjectVersionsOutput, ListObjectsInput,
    ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, Object, ObjectStorageClass, ObjectVersion,
    ObjectVersionStorageClass, Owner,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::{dto_i32, dto_i64, etag, timestamp, url_encode};
use crate::service::{ListObjectsRequest, ListResume, ListVersionsRequest, ObjectApi, ObjectsPage};

/// `max-keys`/`max-uploads`: 1,000 by default and at most.
pub(super) fn max_keys(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "max-keys must be non-negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

/// Whether `encoding-type=url` was asked (the only encoding S3 knows).
pub(super) fn is_url(e: &Option<EncodingType>) -> S3Result<bool> {
    match e.as_ref().map(s3s::dto::EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => {
            Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid Encoding Method specified in Request"))
        }
    }
}

/// A key or prefix as the answer carries it: URL-encoded when asked.
pub(super) fn encode(url: bool, s: String) -> String {
    if url { url_encode(&s) } else { s }
}

/// The listing both versions ask the service for.
async fn page(
    service: &dyn ObjectApi,
    bucket: &str,
    prefix: &Option<String>,
    delimiter: &Option<String>,
    resume: ListResume,
    max_keys: usize,
    fetch_owner: bool,
) -> S3Result<ObjectsPage> {
    let req = ListObjectsRequest {
        bucket: bucket.to_owned(),
        prefix: prefix.clone().unwrap_or_default(),
        delimiter: delimiter.clone(),
        resume,
        max_keys,
        fetch_owner,
    };
    svc(service.list_objects(req).await)
}

fn listed_objects(page: &ObjectsPage, url: bool) -> (Vec<Object>, Vec<CommonPrefix>) {
    let objects = page
        .objects
        .iter()
        .map(|o| Object {
            key: Some(encode(url, o.key.clone())),
            size: Some(dto_i64(o.size)),
            e_tag: Some(etag(&o.etag)),
            last_modified: Some(timestamp(o.last_modified_ms)),
            storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
            owner: page.owner.as_ref().map(|o| Owner { display_name: Some(o.clone()), id: Some(o.clone()) }),
            ..Default::default()
        })
        .collect();
    let prefixes = page.prefixes.iter().map(|p| CommonPrefix { prefix: Some(encode(url, p.clone())) }).collect();
    (objects, prefixes)
}

pub(super) async fn list_objects(
    service: &dyn ObjectApi,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = req.input;
    let url = is_url(&i.encoding_type)?;
    let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
    let resume = i.marker.clone().map_or(ListResume::Beginning, ListResume::Marker);
    let max = max_keys(i.max_keys)?;
    let page = page(service, &i.bucket, &i.prefix, &delimiter, resume, max, true).await?;
    let (contents, prefixes) = listed_objects(&page, url);
    // S3 gives NextMarker only with a delimiter; without one the last key is the marker.
    let next_marker = page.next_marker.filter(|_| delimiter.is_some()).map(|m| encode(url, m));
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket),
        prefix: Some(encode(url, i.prefix.unwrap_or_default())),
        marker: Some(encode(url, i.marker.unwrap_or_default())),
        max_keys: Some(dto_i32(max)),
        is_truncated: Some(page.truncated),
        contents: Some(contents),
        common_prefixes: Some(prefixes),
        delimiter: delimiter.map(|d| encode(url, d)),
        next_marker,
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}

pub(super) async fn list_objects_v2(
    service: &dyn ObjectApi,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = req.input;
    let url = is_url(&i.encoding_type)?;
    let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
    let resume = match (&i.continuation_token, &i.start_after) {
        (Some(t), _) => ListResume::Token(t.clone()),
        (None, Some(s)) => ListResume::StartAfter(s.clone()),
        (None, None) => ListResume::Beginning,
    };
    let max = max_keys(i.max_keys)?;
    let page = page(service, &i.bucket, &i.prefix, &delimiter, resume, max, i.fetch_owner == Some(true)).await?;
    let (contents, prefixes) = listed_objects(&page, url);
    let key_count = dto_i32(contents.len() + prefixes.len());
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: Some(encode(url, i.prefix.unwrap_or_default())),
        max_keys: Some(dto_i32(max)),
        key_count: Some(key_count),
        continuation_token: i.continuation_token,
        is_truncated: Some(page.truncated),
        next_continuation_token: page.next_token,
        contents: Some(contents),
        common_prefixes: Some(prefixes),
        delimiter: delimiter.map(|d| encode(url, d)),
        encoding_type: i.encoding_type,
        start_after: i.start_after.map(|s| encode(url, s)),
        ..Default::default()
    }))
}

pub(super) async fn list_object_versions(
    service: &dyn ObjectApi,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = req.input;
    let url = is_url(&i.encoding_type)?;
    let delimiter = i.delimiter.clone().filter(|d| !d.is_empty());
    let max = max_keys(i.max_keys)?;
    let page = svc(service
        .list_object_versions(ListVersionsRequest {
            bucket: i.bucket.clone(),
            prefix: i.prefix.clone().unwrap_or_default(),
            delimiter: delimiter.clone(),
            key_marker: i.key_marker.clone(),
            version_id_marker: i.version_id_marker.clone(),
            max,
        })
        .await)?;
    let (mut versions, mut markers) = (Vec::new(), Vec::new());
    for v in page.versions {
        let (key, version_id, is_latest) = (Some(encode(url, v.key)), Some(v.version_id), Some(v.latest));
        let last_modified = Some(timestamp(v.last_modified_ms));
        if v.delete_marker {
            markers.push(DeleteMarkerEntry { key, version_id, is_latest, last_modified, ..Default::default() });
        } else {
            versions.push(ObjectVersion {
                key,
                version_id,
                is_latest,
                last_modified,
                e_tag: Some(etag(&v.etag)),
                size: Some(dto_i64(v.size)),
                storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                ..Default::default()
            });
        }
    }
    let prefixes = page.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(encode(url, p)) }).collect();
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(i.bucket),
        prefix: Some(encode(url, i.prefix.unwrap_or_default())),
        key_marker: Some(encode(url, i.key_marker.unwrap_or_default())),
        version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
        max_keys: Some(dto_i32(max)),
        is_truncated: Some(page.truncated),
        next_key_marker: page.next_key_marker.map(|k| encode(url, k)),
        next_version_id_marker: page.next_version_id_marker,
        versions: Some(versions),
        delete_markers: Some(markers),
        common_prefixes: Some(prefixes),
        delimiter: delimiter.map(|d| encode(url, d)),
        encoding_type: i.encoding_type,
        ..Default::default()
    }))
}
