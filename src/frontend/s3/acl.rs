//! GetBucketAcl and GetObjectAcl: the grants in S3's ACL vocabulary. ACLs cannot be set
//! (PutBucketAcl/PutObjectAcl stay 501, canned ACLs other than `private` too): grants and
//! bucket policies say who may do what, and this only shows the grants.

use s3s::dto::{
    GetBucketAclInput, GetBucketAclOutput, GetObjectAclInput, GetObjectAclOutput, Grant, Grantee, Owner, Permission,
    PutBucketAclInput, PutBucketAclOutput, PutObjectAclInput, PutObjectAclOutput, Type,
};
use s3s::{S3Request, S3Response, S3Result};

use super::refuse::refuse_version_id;
use super::svc;
use crate::service::{AclView, ObjectApi};

fn owner(acl: &AclView) -> Owner {
    Owner { display_name: Some(acl.owner.clone()), id: Some(acl.owner.clone()) }
}

fn grants(acl: &AclView) -> Vec<Grant> {
    acl.grants
        .iter()
        .map(|(user, permission)| Grant {
            grantee: Some(Grantee {
                display_name: Some(user.clone()),
                email_address: None,
                id: Some(user.clone()),
                type_: Type::from_static(Type::CANONICAL_USER),
                uri: None,
            }),
            permission: Some(Permission::from_static(permission)),
        })
        .collect()
}

pub(super) async fn get_bucket_acl(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let acl = svc(service.bucket_acl(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketAclOutput { grants: Some(grants(&acl)), owner: Some(owner(&acl)) }))
}

pub(super) async fn get_object_acl(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    refuse_version_id(&req.input.version_id)?;
    let acl = svc(service.object_acl(&req.input.bucket, &req.input.key).await)?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants(&acl)),
        owner: Some(owner(&acl)),
        ..Default::default()
    }))
}

/// Refused: 501 to the bucket's owner, AccessDenied to others (so it tells nothing more than
/// any other owner-only operation).
pub(super) async fn put_bucket_acl(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    svc(service.put_acl(&req.input.bucket, None).await)?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

/// Refused like [`put_bucket_acl`].
pub(super) async fn put_object_acl(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    svc(service.put_acl(&req.input.bucket, Some(&req.input.key)).await)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}
