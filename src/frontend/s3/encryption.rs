//! PutBucketEncryption, GetBucketEncryption and DeleteBucketEncryption. Every object is
//! encrypted by the gateway under a data key of its own; what wraps that key is the operator's
//! choice (the local key file: SSE-S3's `AES256`; a transit KMS: `aws:kms` under the default
//! or the bucket's own KEK), so a bucket's default is reported as it is, a configuration
//! naming the default in force is accepted, and a delete leaves it in force (as S3, where
//! SSE-S3 is the default of every bucket since 2023).

use s3s::dto::{
    DeleteBucketEncryptionInput, DeleteBucketEncryptionOutput, GetBucketEncryptionInput, GetBucketEncryptionOutput,
    PutBucketEncryptionInput, PutBucketEncryptionOutput, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::error::not_implemented;
use crate::service::ObjectApi;
use crate::service::encryption::{KmsRequest, ObjectEncryption};

/// The SSE-KMS a configuration asks for (`None` for `AES256`): one rule with a default.
fn requested(config: &ServerSideEncryptionConfiguration) -> S3Result<Option<KmsRequest>> {
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
        ServerSideEncryption::AES256 => Ok(None),
        ServerSideEncryption::AWS_KMS if rule.bucket_key_enabled == Some(true) => {
            Err(not_implemented("S3 Bucket Keys (BucketKeyEnabled)"))
        }
        ServerSideEncryption::AWS_KMS => {
            Ok(Some(KmsRequest { key_id: default.kms_master_key_id.clone(), context: None }))
        }
        ServerSideEncryption::AWS_KMS_DSSE => Err(not_implemented("DSSE-KMS (aws:kms:dsse)")),
        _ => Err(S3Error::with_message(S3ErrorCode::MalformedXML, "unknown SSEAlgorithm")),
    }
}

pub(super) async fn put_bucket_encryption(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let i = req.input;
    let kms = requested(&i.server_side_encryption_configuration)?;
    svc(service.put_bucket_encryption(&i.bucket, kms).await)?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub(super) async fn get_bucket_encryption(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let (algorithm, kms_master_key_id) = match svc(service.bucket_encryption(&req.input.bucket).await)? {
        ObjectEncryption::Kms(kek, _) => (ServerSideEncryption::AWS_KMS, Some(kek)),
        ObjectEncryption::GatewayKey | ObjectEncryption::Customer => (ServerSideEncryption::AES256, None),
    };
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
            kms_master_key_id,
            sse_algorithm: ServerSideEncryption::from_static(algorithm),
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
    svc(service.put_bucket_encryption(&req.input.bucket, None).await)?;
    Ok(S3Response::with_status(DeleteBucketEncryptionOutput::default(), http::StatusCode::NO_CONTENT))
}
