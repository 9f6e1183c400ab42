//! Object tagging (PutObjectTagging, GetObjectTagging, DeleteObjectTagging, the
//! `x-amz-tagging` header of writes) and bucket tagging (Put/Get/DeleteBucketTagging), see
//! docs/compatibility.md.

use s3s::dto::{
    DeleteBucketTaggingInput, DeleteBucketTaggingOutput, DeleteObjectTaggingInput, DeleteObjectTaggingOutput,
    GetBucketTaggingInput, GetBucketTaggingOutput, GetObjectTaggingInput, GetObjectTaggingOutput,
    PutBucketTaggingInput, PutBucketTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput, Tag, Tagging,
    TaggingDirective,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::model::tagging::{MAX_BUCKET_TAGS, MAX_OBJECT_TAGS, TagError, TagSet};
use crate::service::ObjectApi;

fn invalid(e: &TagError) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, e.to_string())
}

/// The tags an `x-amz-tagging` header asks a write to give its object (none without it).
pub(super) fn header_tags(header: Option<&str>) -> S3Result<TagSet> {
    header.map_or(Ok(TagSet::default()), |h| TagSet::from_header(h).map_err(|e| invalid(&e)))
}

/// CopyObject's tags: the source's (`None`) unless `x-amz-tagging-directive: REPLACE`, which
/// takes `x-amz-tagging` (none without it). S3 ignores `x-amz-tagging` under COPY.
pub(super) fn copy_tags(directive: Option<&TaggingDirective>, header: Option<&str>) -> S3Result<Option<TagSet>> {
    match directive.map(TaggingDirective::as_str) {
        None | Some(TaggingDirective::COPY) => Ok(None),
        Some(TaggingDirective::REPLACE) => header_tags(header).map(Some),
        Some(_) => Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Unknown tagging directive.")),
    }
}

/// The tags of a `<Tagging>` document, at most `max`.
pub(crate) fn body_tags(tagging: Tagging, max: usize) -> S3Result<TagSet> {
    let pairs = tagging
        .tag_set
        .into_iter()
        .map(|t| match (t.key, t.value) {
            (Some(k), Some(v)) => Ok((k, v)),
            _ => Err(S3Error::with_message(S3ErrorCode::MalformedXML, "a Tag needs a Key and a Value")),
        })
        .collect::<S3Result<Vec<_>>>()?;
    TagSet::new(pairs, max).map_err(|e| invalid(&e))
}

fn tag_set_dto(tags: &TagSet) -> Vec<Tag> {
    tags.pairs().iter().map(|(k, v)| Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect()
}

pub(super) async fn put_object_tagging(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = body_tags(i.tagging, MAX_OBJECT_TAGS)?;
    let version_id = svc(service.put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), Some(tags)).await)?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
}

pub(super) async fn get_object_tagging(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = req.input;
    let view = svc(service.object_tagging(&i.bucket, &i.key, i.version_id.as_deref()).await)?;
    Ok(S3Response::new(GetObjectTaggingOutput { tag_set: tag_set_dto(&view.tags), version_id: view.version_id }))
}

pub(super) async fn delete_object_tagging(
    service: &dyn ObjectApi,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = req.input;
    let version_id = svc(service.put_object_tagging(&i.bucket, &i.key, i.version_id.as_deref(), None).await)?;
    Ok(S3Response::with_status(DeleteObjectTaggingOutput { version_id }, http::StatusCode::NO_CONTENT))
}

pub(super) async fn put_bucket_tagging(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags = body_tags(i.tagging, MAX_BUCKET_TAGS)?;
    svc(service.put_bucket_tagging(&i.bucket, Some(tags)).await)?;
    Ok(S3Response::with_status(PutBucketTaggingOutput::default(), http::StatusCode::NO_CONTENT))
}

pub(super) async fn get_bucket_tagging(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let tags = svc(service.bucket_tagging(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketTaggingOutput { tag_set: tag_set_dto(&tags) }))
}

pub(super) async fn delete_bucket_tagging(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    svc(service.put_bucket_tagging(&req.input.bucket, None).await)?;
    Ok(S3Response::with_status(DeleteBucketTaggingOutput::default(), http::StatusCode::NO_CONTENT))
}
