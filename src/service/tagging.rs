//! Object tagging (PutObjectTagging, GetObjectTagging, DeleteObjectTagging): a version's tags
//! are part of its record, so they are logged with it (and rebuilt from the providers), copied
//! with it, and deleted with it. Setting them rewrites the version in place, as S3 does: the
//! object's data, ETag and Last-Modified do not change. Bucket tagging (Put/Get/Delete
//! BucketTagging) is a bucket setting, audited like the others.

use super::ObjectService;
use super::access::Permit;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::meta::{AuditedChange, LockTarget, LockUpdate};
use crate::model::audit::AuditEntry;
use crate::model::tagging::TagSet;

/// A version's tags, with the id of the version they belong to (for `x-amz-version-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsView {
    /// The tags, in the order set.
    pub tags: TagSet,
    /// The version's id, as reads show it (none for the `null` version of an unversioned
    /// bucket).
    pub version_id: Option<String>,
}

impl ObjectService {
    /// PutObjectTagging (`tags`) and DeleteObjectTagging (no tags) of the version `version_id`
    /// names, or of the current one; the id of the version changed.
    pub(crate) async fn set_object_tags(
        &self,
        permit: &Permit,
        key: &str,
        version_id: Option<&str>,
        tags: TagSet,
    ) -> Result<Option<String>> {
        let bucket = permit.bucket();
        let version = version_id.map(super::versions::parse_version_id).transpose()?;
        let target =
            LockTarget { bucket_name: bucket.name.clone(), bucket: bucket.uid, key: super::parse_key(key)?, version };
        match self.meta.set_version_tags(target, tags).await? {
            LockUpdate::Done(v) => Ok(super::get::version_id_of(&v, permit.versioning())),
            LockUpdate::Missing if version.is_some() => Err(ErrorKind::NoSuchVersion.into()),
            LockUpdate::Missing => Err(ErrorKind::NoSuchKey.into()),
            // S3 answers 405 for a delete marker, named or latest.
            LockUpdate::DeleteMarker | LockUpdate::Denied(_) => Err(ErrorKind::MethodNotAllowed.into()),
        }
    }

    /// PutBucketTagging (`Some`) and DeleteBucketTagging (`None`), audited.
    pub(crate) async fn set_bucket_tags(
        &self,
        permit: &Permit,
        principal: &Principal,
        tags: Option<TagSet>,
    ) -> Result<()> {
        let bucket = permit.bucket();
        let (action, detail) = match &tags {
            Some(t) => ("bucket.tagging.put", serde_json::json!({ "bucket": bucket.name, "tags": t.pairs() })),
            None => ("bucket.tagging.delete", serde_json::json!({ "bucket": bucket.name })),
        };
        let change = AuditedChange::BucketTagging { bucket: bucket.name.clone(), tags };
        let audit = AuditEntry::new(&principal.actor(), action, &detail);
        let applied = self.meta.apply_change(change, audit).await?;
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// GetBucketTagging: NoSuchTagSet (404) for a bucket without tags, as S3.
    pub(crate) async fn bucket_tags(&self, permit: &Permit) -> Result<TagSet> {
        self.meta.bucket_tags(permit.bucket().uid).await?.ok_or_else(|| ErrorKind::NoSuchTagSet.into())
    }

    /// GetObjectTagging of the version `version_id` names, or of the current one.
    pub(crate) async fn object_tags(&self, permit: &Permit, key: &str, version_id: Option<&str>) -> Result<TagsView> {
        let v = self.named_or_current(permit.bucket().uid, &super::parse_key(key)?, version_id).await?;
        let version_id = super::get::version_id_of(&v, permit.versioning());
        Ok(TagsView { tags: v.tags, version_id })
    }
}
