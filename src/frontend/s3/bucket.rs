//! Bucket operations: list, create, head, delete, location, versioning.

use s3s::dto::{
    Bucket, BucketLocationConstraint, BucketVersioningStatus, CreateBucketInput, CreateBucketOutput, DeleteBucketInput,
    DeleteBucketOutput, GetBucketLocationInput, GetBucketLocationOutput, GetBucketVersioningInput,
    GetBucketVersioningOutput, HeadBucketInput, HeadBucketOutput, ListBucketsInput, ListBucketsOutput, Owner,
    PutBucketVersioningInput, PutBucketVersioningOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::svc;
use crate::frontend::convert::timestamp;
use crate::frontend::error::not_implemented;
use crate::service::ObjectApi;

/// A ListBuckets continuation token: the last name of the page before, URL-safe base64 (S3's
/// tokens are opaque; a client only hands them back).
fn bucket_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last)
}

fn after_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
        S3Error::with_message(S3ErrorCode::InvalidArgument, "The continuation token provided is incorrect")
    })
}

/// `max-buckets`: 1 to 10,000 (S3's range); all of them when absent.
fn max_buckets(m: Option<i32>) -> S3Result<usize> {
    match m {
        None => Ok(usize::MAX),
        Some(n @ 1..=10_000) => Ok(usize::try_from(n).unwrap_or(10_000)),
        Some(_) => Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "max-buckets must be between 1 and 10000")),
    }
}

/// ListBuckets, paged by `max-buckets` and `continuation-token`, filtered by `prefix` and
/// `bucket-region` (every bucket is in the gateway's one region). The owner is the caller.
pub(super) async fn list_buckets(
    service: &dyn ObjectApi,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let i = req.input;
    let max = max_buckets(i.max_buckets)?;
    let after = i.continuation_token.as_deref().map(after_token).transpose()?;
    let region = service.region().to_owned();
    let prefix = i.prefix.clone().unwrap_or_default();
    let in_region = i.bucket_region.as_deref().is_none_or(|r| r == region);
    let mut matching = svc(service.list_buckets().await)?
        .into_iter()
        .filter(|b| in_region && b.name.starts_with(&prefix) && after.as_ref().is_none_or(|a| b.name > *a));
    let page: Vec<Bucket> = matching
        .by_ref()
        .take(max)
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(timestamp(b.created_ms)),
            bucket_region: Some(region.clone()),
        })
        .collect();
    let more = matching.next().is_some();
    let continuation_token = page.last().and_then(|b| b.name.as_deref()).filter(|_| more).map(bucket_token);
    let owner = service.caller_name();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(page),
        owner: Some(Owner { display_name: Some(owner.clone()), id: Some(owner) }),
        continuation_token,
        prefix: i.prefix,
    }))
}

pub(super) async fn create_bucket(
    service: &dyn ObjectApi,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let i = req.input;
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
    let object_lock = i.object_lock_enabled_for_bucket == Some(true);
    svc(service.create_bucket(&i.bucket, location.as_deref(), object_lock).await)?;
    Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", i.bucket)) }))
}

pub(super) async fn head_bucket(
    service: &dyn ObjectApi,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    svc(service.head_bucket(&req.input.bucket).await)?;
    Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(service.region().to_owned()), ..Default::default() }))
}

pub(super) async fn delete_bucket(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    svc(service.delete_bucket(&req.input.bucket).await)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn get_bucket_location(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    svc(service.head_bucket(&req.input.bucket).await)?;
    let region = service.region().to_owned();
    Ok(S3Response::new(GetBucketLocationOutput { location_constraint: Some(BucketLocationConstraint::from(region)) }))
}

pub(super) async fn get_bucket_versioning(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let state = svc(service.bucket_versioning(&req.input.bucket).await)?;
    let status = state.s3_status().map(BucketVersioningStatus::from_static);
    Ok(S3Response::new(GetBucketVersioningOutput { status, ..Default::default() }))
}

pub(super) async fn put_bucket_versioning(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    if i.mfa.is_some() || i.versioning_configuration.mfa_delete.as_ref().is_some_and(|m| m.as_str() == "Enabled") {
        return Err(not_implemented("MFA delete"));
    }
    let Some(status) = i.versioning_configuration.status else {
        return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "The versioning configuration has no Status."));
    };
    svc(service.put_bucket_versioning(&i.bucket, status.as_str()).await)?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}
