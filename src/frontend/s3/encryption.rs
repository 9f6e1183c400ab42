//! PutBucketEncryption, GetBucketEncryption and DeleteBucketEncryption. Every object is
//! encrypted by the gateway under a data key of its own (SSE-S3's `AES256` promise), whatever
//! the client asks, so the only default a bucket can have is that one: it is accepted, always
//! reported, and a delete leaves it in force (as S3, where SSE-S3 is the default of every
//! bucket since 2023). SSE-KMS defaults are refused until `aws:kms` is honoured per object.

use s3s::dto::{
    DeleteBucketEncryptionInput, DeleteBucketEncryptionOutput, GetBucketEncryptionInput, GetBucketEncryptionOutput,
    PutBucketEncryptionInput, PutBucketEncryptionOutput, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::error::not_implemented;
use crate::service::ObjectApi;

/// Checks a configuration the gateway can honour: one rule whose default is `AES256`.
fn accept(config: &ServerSideEncryptionConfiguration) -> S3Result<()> {
    let [rule] = config.rules.as_slice() else {
        return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "exactly one encryption rule is expected"));
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "the rule needs ApplyServerSideEncryptionByDefault",
        ));
    };
    match default.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 if default.kms_master_key_id.is_some() => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        )),
        ServerSideEncryption::AES256 => Ok(()),
        "aws:kms" | "aws:kms:dsse" => Err(not_implemented("SSE-KMS bucket defaults")),
        _ => Err(S3Error::with_message(S3ErrorCode::MalformedXML, "unknown SSEAlgorithm")),
    }
}

pub(super) async fn put_bucket_encryption(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let i = req.input;
    svc(service.may_put_bucket_encryption(&i.bucket).await)?;
    accept(&i.server_side_encryption_configuration)?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub(super) async fn get_bucket_encryption(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    svc(service.may_get_bucket_encryption(&req.input.bucket).await)?;
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
            kms_master_key_id: None,
            sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
        }),
        bucket_key_enabled: Some(false),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration { rules: vec![rule] }),
    }))
}

pub(super) async fn delete_bucket_encryption(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    svc(service.may_put_bucket_encryption(&req.input.bucket).await)?;
    Ok(S3Response::with_status(DeleteBucketEncryptionOutput::default(), http::StatusCode::NO_CONTENT))
}
