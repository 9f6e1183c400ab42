//! Bucket operations: list, create, head, delete, location, versioning.

use s3s::dto::{
    Bucket, BucketLocationConstraint, BucketVersioningStatus, CreateBucketInput, CreateBucketOutput, DeleteBucketInput,
    DeleteBucketOutput, GetBucketLocationInput, GetBucketLocationOutput, GetBucketVersioningInput,
    GetBucketVersioningOutput, HeadBucketInput, HeadBucketOutput, ListBucketsOutput, Owner, PutBucketVersioningInput,
    PutBucketVersioningOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::timestamp;
use crate::frontend::error::not_implemented;
use crate::service::ObjectApi;

pub(super) async fn list_buckets(service: &dyn ObjectApi) -> S3Result<S3Response<ListBucketsOutput>> {
    let buckets = svc(service.list_buckets().await)?
        .into_iter()
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(timestamp(b.created_ms)),
            bucket_region: Some(service.region().to_owned()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(Owner { display_name: Some("souverain".into()), id: Some("souverain".into()) }),
        ..Default::default()
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
