//! Bucket policies and public access blocks: PutBucketPolicy, GetBucketPolicy,
//! DeleteBucketPolicy, GetBucketPolicyStatus, Put/Get/DeletePublicAccessBlock.

use s3s::dto::{
    DeleteBucketPolicyInput, DeleteBucketPolicyOutput, DeletePublicAccessBlockInput, DeletePublicAccessBlockOutput,
    GetBucketPolicyInput, GetBucketPolicyOutput, GetBucketPolicyStatusInput, GetBucketPolicyStatusOutput,
    GetPublicAccessBlockInput, GetPublicAccessBlockOutput, PolicyStatus, PublicAccessBlockConfiguration,
    PutBucketPolicyInput, PutBucketPolicyOutput, PutPublicAccessBlockInput, PutPublicAccessBlockOutput,
};
use s3s::{S3Request, S3Response, S3Result};

use super::svc;
use crate::model::access::PublicAccessBlock;
use crate::service::ObjectApi;

pub(super) async fn put_bucket_policy(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    svc(service.put_bucket_policy(&req.input.bucket, &req.input.policy).await)?;
    let mut resp = S3Response::new(PutBucketPolicyOutput {});
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub(super) async fn get_bucket_policy(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let policy = svc(service.bucket_policy(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
}

pub(super) async fn delete_bucket_policy(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    svc(service.delete_bucket_policy(&req.input.bucket).await)?;
    Ok(S3Response::new(DeleteBucketPolicyOutput {}))
}

pub(super) async fn get_bucket_policy_status(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let public = svc(service.bucket_policy_public(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput { policy_status: Some(PolicyStatus { is_public: Some(public) }) }))
}

pub(super) async fn put_public_access_block(
    service: &dyn ObjectApi,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let c = &req.input.public_access_block_configuration;
    let block = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    svc(service.put_public_access_block(&req.input.bucket, block).await)?;
    Ok(S3Response::new(PutPublicAccessBlockOutput {}))
}

pub(super) async fn get_public_access_block(
    service: &dyn ObjectApi,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let b = svc(service.public_access_block(&req.input.bucket).await)?;
    let configuration = PublicAccessBlockConfiguration {
        block_public_acls: Some(b.block_public_acls),
        ignore_public_acls: Some(b.ignore_public_acls),
        block_public_policy: Some(b.block_public_policy),
        restrict_public_buckets: Some(b.restrict_public_buckets),
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput { public_access_block_configuration: Some(configuration) }))
}

pub(super) async fn delete_public_access_block(
    service: &dyn ObjectApi,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    svc(service.delete_public_access_block(&req.input.bucket).await)?;
    Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
}
