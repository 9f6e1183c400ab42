//! The S3 operations as one trait: all the frontend holds (DESIGN §2.3). Everything a client
//! can ask goes through [`ObjectApi`]; the admin API uses [`super::admin::AdminOps`] and the
//! workers their own contexts, so neither can reach around the other.

use std::sync::Arc;

use async_trait::async_trait;

use super::access::{Caller, Permit, Secret};
use super::{
    ClientBody, CompleteRequest, Conditions, CopyRequest, GetOutput, GetRequest, ListObjectsRequest, ObjectService,
    ObjectsPage, PartsPage, PutOutput, PutRequest, UploadsPage,
};
use crate::access::{Action, Principal};
use crate::error::{Error, Result};
use crate::model::{ChecksumAlgorithm, ChecksumType, ContentHeaders, UploadId};

/// A bucket as ListBuckets shows it.
#[derive(Debug, Clone)]
pub struct BucketInfo {
    /// Its name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
}

/// The part an UploadPart or UploadPartCopy writes.
#[derive(Debug, Clone)]
pub struct PartTarget {
    /// Bucket of the upload.
    pub bucket: String,
    /// Key of the upload.
    pub key: String,
    /// The upload id, as the client gave it.
    pub upload_id: String,
    /// Part number (1–10,000).
    pub number: u32,
}

/// Where an UploadPartCopy reads from.
#[derive(Debug, Clone)]
pub struct PartSource {
    /// Source bucket.
    pub bucket: String,
    /// Source key.
    pub key: String,
    /// The inclusive `x-amz-copy-source-range`, if given.
    pub range: Option<(u64, u64)>,
    /// `x-amz-copy-source-if-*`.
    pub conditions: Conditions,
}

/// A ListMultipartUploads request.
#[derive(Debug, Clone)]
pub struct ListUploadsRequest {
    /// Bucket.
    pub bucket: String,
    /// Prefix.
    pub prefix: String,
    /// Delimiter.
    pub delimiter: Option<String>,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `upload-id-marker` (used with a key marker only).
    pub upload_id_marker: Option<String>,
    /// `max-uploads` (clamped to 1,000).
    pub max: usize,
}

/// What a client can ask of the gateway. Each operation validates its names, checks its
/// conditions and answers a typed error ([`crate::error::ErrorKind`]) the frontend maps to S3.
#[async_trait]
pub trait ObjectApi: Send + Sync + 'static {
    /// The region clients sign for.
    fn region(&self) -> &str;
    /// ListBuckets.
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>>;
    /// CreateBucket, under the policy named by `location` (or the default).
    async fn create_bucket(&self, name: &str, location: Option<&str>) -> Result<()>;
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
    /// DeleteObject (absent keys are fine).
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<()>;
    /// DeleteObjects: one result per key, in order.
    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<Vec<Result<(), Error>>>;
    /// CopyObject.
    async fn copy_object(&self, req: CopyRequest) -> Result<PutOutput>;
    /// ListObjects and ListObjectsV2.
    async fn list_objects(&self, req: ListObjectsRequest) -> Result<ObjectsPage>;
    /// CreateMultipartUpload.
    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ContentHeaders,
        checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    ) -> Result<UploadId>;
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
}

/// What the frontend holds: the secrets signature checks need, and the operations as one
/// caller may do them.
#[async_trait]
pub trait Gate: Send + Sync + 'static {
    /// The secret of an access key; `None` for an unknown, disabled or expired key.
    async fn secret(&self, access_key: &str) -> Result<Option<Secret>>;
    /// The operations, each authorized for `caller`.
    async fn session(&self, caller: Caller) -> Result<Box<dyn ObjectApi>>;
}

#[async_trait]
impl Gate for Arc<ObjectService> {
    async fn secret(&self, access_key: &str) -> Result<Option<Secret>> {
        self.access.secret(access_key).await
    }

    async fn session(&self, caller: Caller) -> Result<Box<dyn ObjectApi>> {
        let principal = self.access.principal(&caller).await?;
        Ok(Box::new(Session { service: Arc::clone(self), principal }))
    }
}

/// The operations of one caller: each asks [`ObjectService::permit`] for its bucket (or
/// [`ObjectService::may_create`]) before the service does anything.
struct Session {
    service: Arc<ObjectService>,
    principal: Principal,
}

impl Session {
    async fn permit(&self, action: Action, bucket: &str) -> Result<Permit> {
        self.service.permit(&self.principal, action, bucket).await
    }
}

/// Each operation is implemented once, as a crate-private method in the service's file for its
/// family; this impl is their only way out of the crate.
#[async_trait]
impl ObjectApi for Session {
    fn region(&self) -> &str {
        self.service.region()
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let buckets = self.service.visible_buckets(&self.principal).await?;
        Ok(buckets.into_iter().map(|b| BucketInfo { name: b.name.to_string(), created_ms: b.created_ms }).collect())
    }

    async fn create_bucket(&self, name: &str, location: Option<&str>) -> Result<()> {
        self.service.create_bucket(&self.principal, name, location).await
    }

    async fn head_bucket(&self, name: &str) -> Result<()> {
        self.permit(Action::HeadBucket, name).await.map(|_| ())
    }

    async fn delete_bucket(&self, name: &str) -> Result<()> {
        let permit = self.permit(Action::DeleteBucket, name).await?;
        self.service.delete_bucket(&permit).await
    }

    async fn put_object(&self, req: PutRequest, body: ClientBody) -> Result<PutOutput> {
        let permit = self.permit(Action::PutObject, &req.bucket).await?;
        self.service.put_object(&permit, req, body).await
    }

    async fn get_object(&self, req: GetRequest) -> Result<GetOutput> {
        let permit = self.permit(Action::GetObject, &req.bucket).await?;
        self.service.get_object(&permit, req).await
    }

    async fn head_object(&self, req: GetRequest) -> Result<GetOutput> {
        let permit = self.permit(Action::GetObject, &req.bucket).await?;
        self.service.head_object(&permit, req).await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let permit = self.permit(Action::DeleteObject, bucket).await?;
        self.service.delete_object(&permit, key).await
    }

    async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<Vec<Result<(), Error>>> {
        let permit = self.permit(Action::DeleteObject, bucket).await?;
        self.service.delete_objects(&permit, keys).await
    }

    async fn copy_object(&self, req: CopyRequest) -> Result<PutOutput> {
        let source = self.permit(Action::GetObject, &req.src_bucket).await?;
        let target = self.permit(Action::PutObject, &req.dst_bucket).await?;
        self.service.copy_object(&source, &target, req).await
    }

    async fn list_objects(&self, req: ListObjectsRequest) -> Result<ObjectsPage> {
        let permit = self.permit(Action::ListBucket, &req.bucket).await?;
        self.service.list_objects(&permit, req).await
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ContentHeaders,
        checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
    ) -> Result<UploadId> {
        let permit = self.permit(Action::PutObject, bucket).await?;
        self.service.create_upload(&permit, key, headers, checksum).await
    }

    async fn upload_part(&self, part: PartTarget, body: ClientBody) -> Result<PutOutput> {
        let permit = self.permit(Action::PutObject, &part.bucket).await?;
        self.service.upload_part(&permit, &part.key, &part.upload_id, part.number, body).await
    }

    async fn upload_part_copy(&self, part: PartTarget, source: PartSource) -> Result<PutOutput> {
        let from = self.permit(Action::GetObject, &source.bucket).await?;
        let permit = self.permit(Action::PutObject, &part.bucket).await?;
        self.service.upload_part_copy(&permit, &part, &from, &source).await
    }

    async fn complete_upload(&self, req: CompleteRequest) -> Result<PutOutput> {
        let permit = self.permit(Action::PutObject, &req.bucket).await?;
        self.service.complete_upload(&permit, req).await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let permit = self.permit(Action::AbortMultipartUpload, bucket).await?;
        self.service.abort_upload(&permit, key, upload_id).await
    }

    async fn list_parts(&self, bucket: &str, key: &str, upload_id: &str, marker: u32, max: usize) -> Result<PartsPage> {
        let permit = self.permit(Action::ListMultipartUploadParts, bucket).await?;
        self.service.list_parts(&permit, key, upload_id, marker, max).await
    }

    async fn list_uploads(&self, req: ListUploadsRequest) -> Result<UploadsPage> {
        let permit = self.permit(Action::ListBucketMultipartUploads, &req.bucket).await?;
        self.service.list_uploads(&permit, req).await
    }
}
