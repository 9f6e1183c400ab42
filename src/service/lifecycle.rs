//! A bucket's lifecycle configuration (Put/Get/DeleteBucketLifecycle) and the expiry a
//! response shows (`x-amz-expiration`). The lifecycle worker (`workers/lifecycle.rs`) applies
//! the rules; nothing here removes data.

use super::ObjectService;
use super::access::Permit;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::audit::AuditEntry;
use crate::model::lifecycle::{Candidate, DayLength, LifecycleConfig};

/// When a current version expires under the bucket's rules (`x-amz-expiration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// The moment, ms since the epoch (midnight UTC with real days).
    pub at_ms: i64,
    /// The rule that expires it.
    pub rule_id: String,
}

impl ObjectService {
    /// The length of a lifecycle day (86 400 s unless a test shortened it).
    pub(crate) fn lifecycle_day(&self) -> DayLength {
        DayLength::of_ms(i64::try_from(self.config.lifecycle_day.as_millis()).unwrap_or(i64::MAX))
    }

    /// PutBucketLifecycleConfiguration (`Some`) and DeleteBucketLifecycle (`None`), audited.
    pub(crate) async fn set_lifecycle(
        &self,
        permit: &Permit,
        principal: &Principal,
        config: Option<LifecycleConfig>,
    ) -> Result<()> {
        if let Some(c) = &config {
            c.validate().map_err(|e| ErrorKind::InvalidArgument(e.to_string()))?;
        }
        let bucket = permit.bucket();
        let (action, detail) = match &config {
            Some(c) => (
                "bucket.lifecycle.put",
                serde_json::json!({ "bucket": bucket.name, "rules": c.rules.iter().map(|r| &r.id).collect::<Vec<_>>() }),
            ),
            None => ("bucket.lifecycle.delete", serde_json::json!({ "bucket": bucket.name })),
        };
        let change = AuditedChange::BucketLifecycle { bucket: bucket.name.clone(), config };
        let audit = AuditEntry::new(&principal.actor(), action, &detail);
        let applied = self.meta.apply_change(change, audit).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// GetBucketLifecycleConfiguration.
    pub(crate) async fn lifecycle(&self, permit: &Permit) -> Result<LifecycleConfig> {
        self.meta.lifecycle(permit.bucket().uid).await?.ok_or_else(|| ErrorKind::NoSuchLifecycleConfiguration.into())
    }

    /// When `v`, the current version of `key`, expires, if a rule of the bucket expires it.
    pub(crate) fn expiry(&self, permit: &Permit, key: &str, v: &crate::meta::VersionRecord) -> Option<Expiry> {
        let candidate = Candidate { key, size: v.size, tags: &v.tags };
        let (at_ms, rule) = permit.lifecycle()?.current_expiry(&candidate, v.last_modified_ms, self.lifecycle_day())?;
        Some(Expiry { at_ms, rule_id: rule.to_owned() })
    }
}
