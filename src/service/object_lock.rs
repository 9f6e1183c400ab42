//! Object Lock (docs/object-lock.md): a bucket's configuration, each version's retention and
//! legal hold, and the lock a new version gets. Whether a version may be removed is decided in
//! the store's one removal path ([`crate::model::lock::may_remove`]), not here.

use super::ObjectService;
use super::access::Permit;
use crate::access::{Denial, Principal};
use crate::error::{ErrorKind, Result};
use crate::meta::{AuditedChange, BucketRecord, LockChange, LockTarget, LockUpdate};
use crate::model::Versioning;
use crate::model::audit::AuditEntry;
use crate::model::lock::{DefaultRetention, LockConfig, Retention, VersionLock};

/// What a write asks for its new version (`x-amz-object-lock-*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockRequest {
    /// Mode and retain-until date, if given.
    pub retention: Option<Retention>,
    /// `x-amz-object-lock-legal-hold: ON`.
    pub legal_hold: bool,
}

impl LockRequest {
    /// Whether the request names any lock.
    pub fn is_empty(&self) -> bool {
        *self == LockRequest::default()
    }
}

/// One version's lock state as the retention and legal-hold calls show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockView {
    /// Its retention, if one was set.
    pub retention: Option<Retention>,
    /// Its legal hold.
    pub legal_hold: bool,
}

impl ObjectService {
    /// The lock a new version of a bucket gets: the one the request names (only in a bucket
    /// with Object Lock), else the bucket's default retention.
    pub(crate) async fn lock_for_new_version(&self, bucket: &BucketRecord, asked: LockRequest) -> Result<VersionLock> {
        let config = self.meta.lock_config(bucket.uid).await?;
        let Some(config) = config else {
            if asked.is_empty() {
                return Ok(VersionLock::default());
            }
            return Err(ErrorKind::InvalidRequest("Bucket is missing Object Lock Configuration".into()).into());
        };
        let now = super::now_ms();
        if asked.retention.is_some_and(|r| r.until_ms <= now) {
            return Err(ErrorKind::InvalidArgument("The retain until date must be in the future!".into()).into());
        }
        Ok(VersionLock { retention: asked.retention.or_else(|| config.default_for(now)), legal_hold: asked.legal_hold })
    }

    /// Enables Object Lock on a versioning-enabled bucket, or changes its default retention
    /// (`None`: none). Once enabled it stays: versioning can no longer be suspended.
    pub(crate) async fn put_lock_config(
        &self,
        permit: &Permit,
        principal: &Principal,
        default: Option<DefaultRetention>,
    ) -> Result<()> {
        let bucket = permit.bucket();
        if self.meta.versioning(bucket.uid).await? != Versioning::Enabled {
            return Err(ErrorKind::InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration".into(),
            )
            .into());
        }
        self.apply_lock_config(bucket, principal, LockConfig { default }).await
    }

    /// Object Lock for a bucket created with `x-amz-bucket-object-lock-enabled: true`:
    /// versioning enabled, no default retention.
    pub(crate) async fn enable_lock_at_creation(&self, permit: &Permit, principal: &Principal) -> Result<()> {
        self.put_bucket_versioning(permit, principal, "Enabled").await?;
        self.apply_lock_config(permit.bucket(), principal, LockConfig::default()).await
    }

    async fn apply_lock_config(&self, bucket: &BucketRecord, principal: &Principal, config: LockConfig) -> Result<()> {
        let detail =
            serde_json::json!({ "bucket": bucket.name, "default": config.default.map(|d| (d.mode.as_s3(), d.days)) });
        let change = AuditedChange::BucketObjectLock { bucket: bucket.name.clone(), config };
        let audit = AuditEntry::new(&principal.actor(), "bucket.object_lock.put", &detail);
        let applied = self.meta.apply_change(change, audit).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// GetObjectLockConfiguration.
    pub(crate) async fn lock_config(&self, permit: &Permit) -> Result<LockConfig> {
        self.meta
            .lock_config(permit.bucket().uid)
            .await?
            .ok_or_else(|| ErrorKind::ObjectLockConfigurationNotFound.into())
    }

    /// Whether the bucket has Object Lock enabled (versioning may not be suspended then).
    pub(crate) async fn has_object_lock(&self, bucket: &BucketRecord) -> Result<bool> {
        Ok(self.meta.lock_config(bucket.uid).await?.is_some())
    }

    /// PutObjectRetention and PutObjectLegalHold: audited with the caller as actor.
    pub(crate) async fn set_version_lock(
        &self,
        permit: &Permit,
        principal: &Principal,
        key: &str,
        version_id: Option<&str>,
        change: LockChange,
        bypass_governance: bool,
    ) -> Result<()> {
        let bucket = permit.bucket();
        if self.meta.lock_config(bucket.uid).await?.is_none() {
            return Err(ErrorKind::InvalidRequest("Bucket is missing Object Lock Configuration".into()).into());
        }
        if let LockChange::Retention(Some(r)) = change
            && r.until_ms <= super::now_ms()
        {
            return Err(ErrorKind::InvalidArgument("The retain until date must be in the future!".into()).into());
        }
        let version = version_id.map(super::versions::parse_version_id).transpose()?;
        let target =
            LockTarget { bucket_name: bucket.name.clone(), bucket: bucket.uid, key: super::parse_key(key)?, version };
        let (action, detail) = match change {
            LockChange::Retention(r) => (
                "object.retention.put",
                serde_json::json!({ "bucket": bucket.name, "key": key, "version": version_id,
                    "mode": r.map(|r| r.mode.as_s3()), "until_ms": r.map(|r| r.until_ms), "bypass": bypass_governance }),
            ),
            LockChange::LegalHold(on) => (
                "object.legal_hold.put",
                serde_json::json!({ "bucket": bucket.name, "key": key, "version": version_id, "on": on }),
            ),
        };
        let audit = AuditEntry::new(&principal.actor(), action, &detail);
        match self.meta.set_version_lock(target, change, bypass_governance, audit).await? {
            LockUpdate::Done(_) => Ok(()),
            LockUpdate::Missing if version.is_some() => Err(ErrorKind::NoSuchVersion.into()),
            LockUpdate::Missing => Err(ErrorKind::NoSuchKey.into()),
            LockUpdate::DeleteMarker => Err(ErrorKind::MethodNotAllowed.into()),
            LockUpdate::Denied(d) => Err(ErrorKind::AccessDenied(Denial::ObjectLocked(d)).into()),
        }
    }

    /// GetObjectRetention and GetObjectLegalHold.
    pub(crate) async fn version_lock(&self, permit: &Permit, key: &str, version_id: Option<&str>) -> Result<LockView> {
        let bucket = permit.bucket();
        if self.meta.lock_config(bucket.uid).await?.is_none() {
            return Err(ErrorKind::InvalidRequest("Bucket is missing Object Lock Configuration".into()).into());
        }
        let v = self.named_or_current(bucket.uid, &super::parse_key(key)?, version_id).await?;
        Ok(LockView { retention: v.lock.retention, legal_hold: v.lock.legal_hold })
    }
}
