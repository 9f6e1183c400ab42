//! Bucket versioning (DESIGN §12.4): PutBucketVersioning and GetBucketVersioning, and how a
//! request's version id is read. What versioning changes in writes, reads, deletes and
//! listings is in the store's commits and in the files of those operations.

use super::ObjectService;
use super::access::Permit;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::audit::AuditEntry;
use crate::model::{VersionRef, Versioning};

/// A client's version id; anything the gateway never answered is S3's `InvalidArgument`.
pub(crate) fn parse_version_id(id: &str) -> Result<VersionRef> {
    VersionRef::parse(id).ok_or_else(|| ErrorKind::InvalidArgument("Invalid version id specified".into()).into())
}

impl ObjectService {
    /// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never goes back to
    /// unversioned); audited with the caller as actor.
    pub(crate) async fn put_bucket_versioning(
        &self,
        permit: &Permit,
        principal: &Principal,
        status: &str,
    ) -> Result<()> {
        let state = Versioning::parse_status(status).ok_or_else(|| ErrorKind::MalformedXml)?;
        if state == Versioning::Suspended && self.has_object_lock(permit.bucket()).await? {
            return Err(ErrorKind::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
                    .into(),
            )
            .into());
        }
        let bucket = permit.bucket().name.clone();
        let detail = serde_json::json!({ "bucket": bucket, "status": status });
        let change = AuditedChange::BucketVersioning { bucket, state };
        let audit = AuditEntry::new(&principal.actor(), "bucket.versioning.put", &detail);
        let applied = self.meta.apply_change(change, audit).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// GetBucketVersioning: the state as stored (not as cached).
    pub(crate) async fn bucket_versioning(&self, permit: &Permit) -> Result<Versioning> {
        Ok(self.meta.versioning(permit.bucket().uid).await?)
    }
}
