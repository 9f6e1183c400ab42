//! The S3 operations as one trait: all the frontend holds (DESIGN §2.3). Everything a client
//! can ask goes through [`ObjectApi`]; the admin API uses [`super::admin::AdminOps`] and the
//! workers their own contexts, so neither can reach around the other.

use std::sync::Arc;

use async_trait::async_trait;

use super::LockView;
use super::access::{Caller, Permit, Secret};
use super::acl::AclView;
use super::{
    ClientBody, CompleteRequest, CopyRequest, DeleteResult, GetOutput, GetRequest, ListObjectsRequest,
    ListVersionsRequest, ObjectService, ObjectToDelete, ObjectsPage, PartsPage, PutOutput, PutRequest, UploadsPage,
    VersionsPage,
};
use super::{ListUploadsRequest, NewUpload, PartSource, PartTarget};
use crate::access::policy::RequestFacts;
use crate::access::{Action, Denial, Principal};
use crate::error::{Error, ErrorKind, Result};
use crate::meta::LockChange;
use crate::model::access::PublicAccessBlock;
use crate::model::lifecycle::LifecycleConfig;
use crate::model::lock::{DefaultRetention, LockConfig};
use crate::model::{UploadId, Versioning};

/// A bucket as ListBuckets shows it.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// What a client can ask of the gateway. Each operation validates its names, checks its
/// conditions and answers a typed error ([`crate::error::ErrorKind`]) the frontend maps to S3.
#[async_trait]
pub trait ObjectApi: Send + Sync + 'static {
    /// The region clients sign for.
    fn region(&self) -> &str;
    /// Who is asking, as S3 answers name an owner: the user, or `souverain` for the
    /// deployment's own keys (and an anonymous caller).
    fn caller_name(&self) -> String;
    /// ListBuckets: every bucket the caller may see, by name.
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>>;
    /// CreateBucket, under the policy named by `location` (or the default); `object_lock`:
    /// with Object Lock (and versioning) enabled.
    async fn create_bucket(&self, name: &str, location: Option<&str>, object_lock: bool) -> Result<()>;
    /// HeadBucket: `NoSuchBucket` unless it exists.
    async fn head_bucket(&self, name: &str) -> Result<()>;
    /// DeleteBucket (empty buckets only).
    async fn delete_bucket(&self, name: &str) -> Result<()>;
    /// PutObject.
    async fn put_object(&self, req: PutRequest, body: ClientBody) -> Result<PutOutput>;
    /// GetObject: headers decided, first segment verified, the rest streamed.
    async fn get_object(&self, req: GetRequest) -> Result<GetOutput>;
    /// HeadObject.
    async fn head_object(&self, req: GetRequest) -> Result<GetOutput>;
    /// GetObjectAttributes.
    async fn object_attributes(&self, req: GetRequest) -> Result<super::ObjectAttributes>;
    /// DeleteObject (absent keys are fine): a delete marker in a versioned bucket, or the
    /// version named, for good.
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<DeleteResult>;
    /// DeleteObjects: one result per object, in order.
    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectToDelete],
    ) -> Result<Vec<Result<DeleteResult, Error>>>;
    /// CopyObject.
    async fn copy_object(&self, req: CopyRequest) -> Result<PutOutput>;
    /// ListObjects and ListObjectsV2.
    async fn list_objects(&self, req: ListObjectsRequest) -> Result<ObjectsPage>;
    /// CreateMultipartUpload.
    async fn create_upload(&self, req: NewUpload) -> Result<(UploadId, super::encryption::ObjectEncryption)>;
    /// UploadPart.
    async fn upload_part(&self, part: PartTarget, body: ClientBody) -> Result<PutOutput>;
    /// UploadPartCopy.
    async fn upload_part_copy(&self, part: PartTarget, source: PartSource) -> Result<PutOutput>;
    /// CompleteMultipartUpload.
    async fn complete_upload(&self, req: CompleteRequest) -> Result<PutOutput>;
    /// AbortMultipartUpload.
    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()>;
    /// ListParts: parts numbered above `marker`, at most `max`.
    async fn list_parts(&self, bucket: &str, key: &str, upload_id: &str, marker: u32, max: usize) -> Result<PartsPage>;
    /// ListMultipartUploads.
    async fn list_uploads(&self, req: ListUploadsRequest) -> Result<UploadsPage>;
    /// ListObjectVersions.
    async fn list_object_versions(&self, req: ListVersionsRequest) -> Result<VersionsPage>;
    /// PutBucketVersioning: `Enabled` or `Suspended`.
    async fn put_bucket_versioning(&self, bucket: &str, status: &str) -> Result<()>;
    /// GetBucketVersioning.
    async fn bucket_versioning(&self, bucket: &str) -> Result<Versioning>;
    /// PutObjectLockConfiguration.
    async fn put_object_lock_configuration(&self, bucket: &str, default: Option<DefaultRetention>) -> Result<()>;
    /// GetObjectLockConfiguration.
    async fn object_lock_configuration(&self, bucket: &str) -> Result<LockConfig>;
    /// PutBucketLifecycleConfiguration (`Some`) and DeleteBucketLifecycle (`None`).
    async fn put_bucket_lifecycle(&self, bucket: &str, config: Option<LifecycleConfig>) -> Result<()>;
    /// GetBucketLifecycleConfiguration.
    async fn bucket_lifecycle(&self, bucket: &str) -> Result<LifecycleConfig>;
    /// PutObjectTagging (`Some`) and DeleteObjectTagging (`None`) of a version (the current
    /// one without `version_id`); the id of the version tagged.
    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Option<crate::model::tagging::TagSet>,
    ) -> Result<Option<String>>;
    /// GetObjectTagging.
    async fn object_tagging(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<super::TagsView>;
    /// PutBucketTagging (`Some`) and DeleteBucketTagging (`None`).
    async fn put_bucket_tagging(&self, bucket: &str, tags: Option<crate::model::tagging::TagSet>) -> Result<()>;
    /// GetBucketTagging.
    async fn bucket_tagging(&self, bucket: &str) -> Result<crate::model::tagging::TagSet>;
    /// PutBucketCors (`Some`) and DeleteBucketCors (`None`).
    async fn put_bucket_cors(&self, bucket: &str, config: Option<crate::model::cors::CorsConfig>) -> Result<()>;
    /// GetBucketCors.
    async fn bucket_cors(&self, bucket: &str) -> Result<crate::model::cors::CorsConfig>;
    /// PutBucketEncryption: the caller may set the bucket's default encryption, and the default
    /// asked for is the one in force (`None`: SSE-S3's `AES256`, which names what every
    /// object already has; SSE-KMS: the bucket's own KEK). Nothing is stored: what wraps the
    /// data keys is the admin's choice (`admin keys`), reported as it is.
    async fn put_bucket_encryption(&self, bucket: &str, kms: Option<super::encryption::KmsRequest>) -> Result<()>;
    /// GetBucketEncryption: what wraps the data keys of the bucket's new objects.
    async fn bucket_encryption(&self, bucket: &str) -> Result<super::encryption::ObjectEncryption>;
    /// PutObjectRetention and PutObjectLegalHold.
    async fn put_version_lock(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: LockChange,
        bypass_governance: bool,
    ) -> Result<()>;
    /// GetObjectRetention and GetObjectLegalHold.
    async fn version_lock(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<LockView>;
    /// GetBucketAcl: the grants as an ACL.
    async fn bucket_acl(&self, bucket: &str) -> Result<AclView>;
    /// GetObjectAcl: the bucket's, for an existing object.
    async fn object_acl(&self, bucket: &str, key: &str) -> Result<AclView>;
    /// PutBucketAcl (`key`: PutObjectAcl): refused with NotImplemented to whom may set it,
    /// AccessDenied to others (ACLs cannot be set: grants and bucket policies say who may do
    /// what).
    async fn put_acl(&self, bucket: &str, key: Option<&str>) -> Result<()>;
    /// PutBucketPolicy.
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<()>;
    /// GetBucketPolicy: the document as stored.
    async fn bucket_policy(&self, bucket: &str) -> Result<String>;
    /// DeleteBucketPolicy.
    async fn delete_bucket_policy(&self, bucket: &str) -> Result<()>;
    /// GetBucketPolicyStatus: whether the policy is public.
    async fn bucket_policy_public(&self, bucket: &str) -> Result<bool>;
    /// PutPublicAccessBlock.
    async fn put_public_access_block(&self, bucket: &str, block: PublicAccessBlock) -> Result<()>;
    /// GetPublicAccessBlock.
    async fn public_access_block(&self, bucket: &str) -> Result<PublicAccessBlock>;
    /// DeletePublicAccessBlock.
    async fn delete_public_access_block(&self, bucket: &str) -> Result<()>;
}

/// What the frontend holds: the secrets signature checks need, and the operations as one
/// caller may do them.
#[async_trait]
pub trait Gate: Send + Sync + 'static {
    /// The secret of an access key; `None` for an unknown, disabled or expired key.
    async fn secret(&self, access_key: &str) -> Result<Option<Secret>>;
    /// The operations, each authorized for `caller`.
    async fn session(&self, caller: Caller) -> Result<Box<dyn ObjectApi>>;
    /// The CORS rules of a bucket, for a browser's request (none for a bucket that does not
    /// exist); asked before authentication, as preflights are never signed.
    async fn cors(&self, bucket: &str) -> Result<Option<Arc<crate::model::cors::CorsConfig>>>;
}

#[async_trait]
impl Gate for Arc<ObjectService> {
    async fn secret(&self, access_key: &str) -> Result<Option<Secret>> {
        self.access.secret(access_key).await
    }

    async fn session(&self, caller: Caller) -> Result<Box<dyn ObjectApi>> {
        let principal = self.access.principal(&caller).await?;
        let request = RequestFacts { source_ip: caller.source_ip, secure: caller.secure, ..RequestFacts::default() };
        Ok(Box::new(Session { service: Arc::clone(self), principal, request }))
    }

    async fn cors(&self, bucket: &str) -> Result<Option<Arc<crate::model::cors::CorsConfig>>> {
        self.cors_for_browser(bucket).await
    }
}

/// The operations of one caller: each asks [`ObjectService::permit`] for its bucket (or
/// [`ObjectService::may_create`]) before the service does anything.
struct Session {
    service: Arc<ObjectService>,
    principal: Principal,
    /// The connection's facts for bucket policies' conditions.
    request: RequestFacts,
}

impl Session {
    /// A permit for a bucket action.
    async fn permit(&self, action: Action, bucket: &str) -> Result<Permit> {
        self.service.permit(&self.principal, action, bucket, None, &self.request).await
    }

    /// A permit for an object action.
    async fn permit_object(&self, action: Action, bucket: &str, key: &str) -> Result<Permit> {
        self.service.permit(&self.principal, action, bucket, Some(key), &self.request).await
    }

    /// Whether the caller may bypass a governance retention on `bucket/key` (asked only when
    /// the request says so; without the right the request goes on as if it had not).
    async fn may_bypass(&self, bucket: &str, key: &str) -> bool {
        self.permit_object(Action::BypassGovernanceRetention, bucket, key).await.is_ok()
    }

    /// A read of a key that is not there answers NoSuchKey only to a caller who may list the
    /// bucket; to others (allowed `s3:GetObject` by a bucket policy alone, say) AccessDenied,
    /// so reads cannot probe which keys exist. S3 does the same.
    async fn absence_told_to_listers<T>(&self, bucket: &str, read: Result<T>) -> Result<T> {
        let missing = matches!(
            read.as_ref().map_err(Error::kind),
            Err(ErrorKind::NoSuchKey | ErrorKind::DeleteMarker { named: false, .. })
        );
        if missing && self.permit(Action::ListBucket, bucket).await.is_err() {
            return Err(ErrorKind::AccessDenied(Denial::MissingKeyHidden).into());
        }
        read
    }

    /// A permit for a listing, whose prefix and delimiter policies may test.
    async fn permit_listing(
        &self,
        action: Action,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Permit> {
        let request = RequestFacts {
            prefix: Some(prefix.to_owned()),
            delimiter: delimiter.map(str::to_owned),
            ..self.request.clone()
        };
        self.service.permit(&self.principal, action, bucket, None, &request).await
    }
}

/// A read of the current version is `s3:GetObject`; of a version by id, `s3:GetObjectVersion`.
fn read_action(version_id: &Option<String>) -> Action {
    if version_id.is_some() { Action::GetObjectVersion } else { Action::GetObject }
}

/// A DELETE of a key is `s3:DeleteObject`; of a version by id, `s3:DeleteObjectVersion`.
fn delete_action(version_id: Option<&str>) -> Action {
    if version_id.is_some() { Action::DeleteObjectVersion } else { Action::DeleteObject }
}

/// Each operation is implemented once, as a crate-private method in the service's file for its
/// family; this impl is their only way out of the crate.
#[async_trait]
impl ObjectApi for Session {
    fn region(&self) -> &str {
        self.service.region()
    }

    fn caller_name(&self) -> String {
        self.principal.user().map_or_else(|| "souverain".to_owned(), ToString::to_string)
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let buckets = self.service.visible_buckets(&self.principal).await?;
        Ok(buckets.into_iter().map(|b| BucketInfo { name: b.name.to_string(), created_ms: b.created_ms }).collect())
    }

    async fn create_bucket(&self, name: &str, location: Option<&str>, object_lock: bool) -> Result<()> {
        self.service.create_bucket(&self.principal, name, location).await?;
        if object_lock {
            let permit = self.permit(Action::PutBucketObjectLockConfiguration, name).await?;
            self.service.enable_lock_at_creation(&permit, &self.principal).await?;
        }
        Ok(())
    }

    async fn head_bucket(&self, name: &str) -> Result<()> {
        self.permit(Action::HeadBucket, name).await.map(|_| ())
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        let permit = self.permit(Action::DeleteBucket, name).await?;
        self.service.delete_bucket(&permit).await
    }

    async fn put_object(&self, req: PutRequest, body: ClientBody) -> Result<PutOutput> {
        let permit = self.permit_object(Action::PutObject, &req.bucket, &req.key).await?;
        self.service.put_object(&permit, req, body).await
    }

    async fn get_object(&self, req: GetRequest) -> Result<GetOutput> {
        let permit = self.permit_object(read_action(&req.version_id), &req.bucket, &req.key).await?;
        let bucket = req.bucket.clone();
        self.absence_told_to_listers(&bucket, self.service.get_object(&permit, req).await).await
    }

    async fn head_object(&self, req: GetRequest) -> Result<GetOutput> {
        let permit = self.permit_object(read_action(&req.version_id), &req.bucket, &req.key).await?;
        let bucket = req.bucket.clone();
        self.absence_told_to_listers(&bucket, self.service.head_object(&permit, req).await).await
    }

    async fn object_attributes(&self, req: GetRequest) -> Result<super::ObjectAttributes> {
        let permit = self.permit_object(read_action(&req.version_id), &req.bucket, &req.key).await?;
        let bucket = req.bucket.clone();
        self.absence_told_to_listers(&bucket, self.service.object_attributes(&permit, req).await).await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<DeleteResult> {
        let permit = self.permit_object(delete_action(version_id), bucket, key).await?;
        let bypass = bypass_governance && self.may_bypass(bucket, key).await;
        self.service.delete_object(&permit, key, version_id, bypass).await
    }

    /// Decided per key (a policy may allow deleting some keys only): refused keys answer
    /// AccessDenied in the result; when none may be deleted the whole request is refused.
    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectToDelete],
    ) -> Result<Vec<Result<DeleteResult, Error>>> {
        // The cap first: a body of many thousand keys is not evaluated against the policy.
        if objects.len() > super::delete::MAX_DELETE_KEYS {
            return Err(ErrorKind::InvalidRequest("DeleteObjects accepts at most 1000 keys".into()).into());
        }
        let gate = self.service.bucket_gate(&self.principal, bucket).await?;
        let mut permit = None;
        let mut refused = Vec::with_capacity(objects.len());
        for o in objects {
            let action = delete_action(o.version_id.as_deref());
            match gate.permit(&self.principal, action, Some(&o.key), &self.request) {
                Ok(p) => {
                    permit = Some(p);
                    refused.push(None);
                }
                Err(e) => refused.push(Some(e)),
            }
        }
        let Some(permit) = permit else {
            return Err(refused
                .into_iter()
                .flatten()
                .next()
                .unwrap_or_else(|| ErrorKind::InvalidRequest("DeleteObjects needs at least one key".into()).into()));
        };
        let mut allowed: Vec<ObjectToDelete> =
            objects.iter().zip(&refused).filter(|(_, r)| r.is_none()).map(|(o, _)| o.clone()).collect();
        for o in allowed.iter_mut().filter(|o| o.bypass_governance) {
            o.bypass_governance =
                gate.permit(&self.principal, Action::BypassGovernanceRetention, Some(&o.key), &self.request).is_ok();
        }
        let mut deleted = self.service.delete_objects(&permit, &allowed).await?.into_iter();
        Ok(refused
            .into_iter()
            .map(|r| r.map_or_else(|| deleted.next().unwrap_or_else(|| Ok(DeleteResult::default())), Err))
            .collect())
    }

    async fn copy_object(&self, req: CopyRequest) -> Result<PutOutput> {
        let action = read_action(&req.src_version_id);
        let source = self.permit_object(action, &req.src_bucket, &req.src_key).await?;
        let target = self.permit_object(Action::PutObject, &req.dst_bucket, &req.dst_key).await?;
        let src_bucket = req.src_bucket.clone();
        self.absence_told_to_listers(&src_bucket, self.service.copy_object(&source, &target, req).await).await
    }

    async fn list_objects(&self, req: ListObjectsRequest) -> Result<ObjectsPage> {
        let permit =
            self.permit_listing(Action::ListBucket, &req.bucket, &req.prefix, req.delimiter.as_deref()).await?;
        self.service.list_objects(&permit, req).await
    }

    async fn create_upload(&self, req: NewUpload) -> Result<(UploadId, super::encryption::ObjectEncryption)> {
        let permit = self.permit_object(Action::PutObject, &req.bucket, &req.key).await?;
        self.service.create_upload(&permit, req).await
    }

    async fn upload_part(&self, part: PartTarget, body: ClientBody) -> Result<PutOutput> {
        let permit = self.permit_object(Action::PutObject, &part.bucket, &part.key).await?;
        self.service.upload_part(&permit, &part, body).await
    }

    async fn upload_part_copy(&self, part: PartTarget, source: PartSource) -> Result<PutOutput> {
        let from = self.permit_object(read_action(&source.version_id), &source.bucket, &source.key).await?;
        let permit = self.permit_object(Action::PutObject, &part.bucket, &part.key).await?;
        let copied = self.service.upload_part_copy(&permit, &part, &from, &source).await;
        self.absence_told_to_listers(&source.bucket, copied).await
    }

    async fn complete_upload(&self, req: CompleteRequest) -> Result<PutOutput> {
        let permit = self.permit_object(Action::PutObject, &req.bucket, &req.key).await?;
        self.service.complete_upload(&permit, req).await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let permit = self.permit_object(Action::AbortMultipartUpload, bucket, key).await?;
        self.service.abort_upload(&permit, key, upload_id).await
    }

    async fn list_parts(&self, bucket: &str, key: &str, upload_id: &str, marker: u32, max: usize) -> Result<PartsPage> {
        let permit = self.permit_object(Action::ListMultipartUploadParts, bucket, key).await?;
        self.service.list_parts(&permit, key, upload_id, marker, max).await
    }

    async fn list_uploads(&self, req: ListUploadsRequest) -> Result<UploadsPage> {
        let permit = self
            .permit_listing(Action::ListBucketMultipartUploads, &req.bucket, &req.prefix, req.delimiter.as_deref())
            .await?;
        self.service.list_uploads(&permit, req).await
    }

    async fn list_object_versions(&self, req: ListVersionsRequest) -> Result<VersionsPage> {
        let permit =
            self.permit_listing(Action::ListBucketVersions, &req.bucket, &req.prefix, req.delimiter.as_deref()).await?;
        self.service.list_object_versions(&permit, req).await
    }

    async fn put_bucket_versioning(&self, bucket: &str, status: &str) -> Result<()> {
        let permit = self.permit(Action::PutBucketVersioning, bucket).await?;
        self.service.put_bucket_versioning(&permit, &self.principal, status).await
    }

    async fn bucket_versioning(&self, bucket: &str) -> Result<Versioning> {
        let permit = self.permit(Action::HeadBucket, bucket).await?;
        self.service.bucket_versioning(&permit).await
    }

    async fn put_object_lock_configuration(&self, bucket: &str, default: Option<DefaultRetention>) -> Result<()> {
        let permit = self.permit(Action::PutBucketObjectLockConfiguration, bucket).await?;
        self.service.put_lock_config(&permit, &self.principal, default).await
    }

    async fn object_lock_configuration(&self, bucket: &str) -> Result<LockConfig> {
        let permit = self.permit(Action::HeadBucket, bucket).await?;
        self.service.lock_config(&permit).await
    }

    async fn put_bucket_lifecycle(&self, bucket: &str, config: Option<LifecycleConfig>) -> Result<()> {
        let permit = self.permit(Action::PutLifecycleConfiguration, bucket).await?;
        self.service.set_lifecycle(&permit, &self.principal, config).await
    }

    async fn bucket_lifecycle(&self, bucket: &str) -> Result<LifecycleConfig> {
        let permit = self.permit(Action::GetLifecycleConfiguration, bucket).await?;
        self.service.lifecycle(&permit).await
    }

    async fn put_object_tagging(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Option<crate::model::tagging::TagSet>,
    ) -> Result<Option<String>> {
        let action = if tags.is_some() { Action::PutObjectTagging } else { Action::DeleteObjectTagging };
        let permit = self.permit_object(action, bucket, key).await?;
        self.service.set_object_tags(&permit, key, version_id, tags.unwrap_or_default()).await
    }

    async fn object_tagging(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<super::TagsView> {
        let permit = self.permit_object(Action::GetObjectTagging, bucket, key).await?;
        self.service.object_tags(&permit, key, version_id).await
    }

    async fn put_bucket_tagging(&self, bucket: &str, tags: Option<crate::model::tagging::TagSet>) -> Result<()> {
        let permit = self.permit(Action::PutBucketTagging, bucket).await?;
        self.service.set_bucket_tags(&permit, &self.principal, tags).await
    }

    async fn bucket_tagging(&self, bucket: &str) -> Result<crate::model::tagging::TagSet> {
        let permit = self.permit(Action::GetBucketTagging, bucket).await?;
        self.service.bucket_tags(&permit).await
    }

    async fn put_bucket_encryption(&self, bucket: &str, kms: Option<super::encryption::KmsRequest>) -> Result<()> {
        let permit = self.permit(Action::PutEncryptionConfiguration, bucket).await?;
        self.service.check_kms_request(permit.bucket().uid, kms.as_ref())
    }

    async fn bucket_encryption(&self, bucket: &str) -> Result<super::encryption::ObjectEncryption> {
        let permit = self.permit(Action::GetEncryptionConfiguration, bucket).await?;
        Ok(self.service.bucket_encryption(permit.bucket().uid))
    }

    async fn put_bucket_cors(&self, bucket: &str, config: Option<crate::model::cors::CorsConfig>) -> Result<()> {
        let permit = self.permit(Action::PutBucketCors, bucket).await?;
        self.service.set_cors(&permit, &self.principal, config).await
    }

    async fn bucket_cors(&self, bucket: &str) -> Result<crate::model::cors::CorsConfig> {
        let permit = self.permit(Action::GetBucketCors, bucket).await?;
        self.service.cors_config(&permit).await
    }

    async fn put_version_lock(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: LockChange,
        bypass_governance: bool,
    ) -> Result<()> {
        let permit = self.permit_object(Action::PutObjectRetention, bucket, key).await?;
        let bypass = bypass_governance && self.may_bypass(bucket, key).await;
        self.service.set_version_lock(&permit, &self.principal, key, version_id, change, bypass).await
    }

    async fn version_lock(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<LockView> {
        let permit = self.permit_object(Action::GetObjectRetention, bucket, key).await?;
        self.service.version_lock(&permit, key, version_id).await
    }

    async fn bucket_acl(&self, bucket: &str) -> Result<AclView> {
        let permit = self.permit(Action::GetBucketAcl, bucket).await?;
        self.service.bucket_acl(&permit).await
    }

    async fn object_acl(&self, bucket: &str, key: &str) -> Result<AclView> {
        let permit = self.permit_object(Action::GetObjectAcl, bucket, key).await?;
        self.service.object_acl(&permit, key).await
    }

    async fn put_acl(&self, bucket: &str, key: Option<&str>) -> Result<()> {
        match key {
            Some(k) => self.permit_object(Action::PutObjectAcl, bucket, k).await?,
            None => self.permit(Action::PutBucketAcl, bucket).await?,
        };
        Err(ErrorKind::NotImplemented("setting ACLs (grants and bucket policies say who may do what)".into()).into())
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> Result<()> {
        let permit = self.permit(Action::PutBucketPolicy, bucket).await?;
        self.service.put_bucket_policy(&permit, &self.principal, policy).await
    }

    async fn bucket_policy(&self, bucket: &str) -> Result<String> {
        let permit = self.permit(Action::GetBucketPolicy, bucket).await?;
        self.service.bucket_policy(&permit).await
    }

    async fn delete_bucket_policy(&self, bucket: &str) -> Result<()> {
        let permit = self.permit(Action::DeleteBucketPolicy, bucket).await?;
        self.service.delete_bucket_policy(&permit, &self.principal).await
    }

    async fn bucket_policy_public(&self, bucket: &str) -> Result<bool> {
        let permit = self.permit(Action::GetBucketPolicyStatus, bucket).await?;
        self.service.bucket_policy_public(&permit).await
    }

    async fn put_public_access_block(&self, bucket: &str, block: PublicAccessBlock) -> Result<()> {
        let permit = self.permit(Action::PutBucketPublicAccessBlock, bucket).await?;
        self.service.put_public_access_block(&permit, &self.principal, block).await
    }

    async fn public_access_block(&self, bucket: &str) -> Result<PublicAccessBlock> {
        let permit = self.permit(Action::GetBucketPublicAccessBlock, bucket).await?;
        self.service.public_access_block(&permit).await
    }

    async fn delete_public_access_block(&self, bucket: &str) -> Result<()> {
        let permit = self.permit(Action::PutBucketPublicAccessBlock, bucket).await?;
        self.service.delete_public_access_block(&permit, &self.principal).await
    }
}
