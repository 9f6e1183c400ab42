//! The residency state the gateway enforces, changeable at run time (DESIGN.md §5): the
//! provider catalog and the policies start from the config file, then admin API changes
//! (persisted in the metadata store with their audit record, in one write) override them.
//! Every change wakes the evacuation job, which moves replicas that now break policy.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::ObjectService;
use crate::error::{ErrorKind, Result};
use crate::meta::{AuditedChange, CatalogOverrides};
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::{ProviderId, ProviderInfo, ResidencyPolicy};

/// The catalog and policies in force.
#[derive(Debug, Clone, Default)]
pub struct Residency {
    /// Every configured provider, with its current residency attributes.
    pub catalog: Vec<ProviderInfo>,
    /// Policies by id.
    pub policies: HashMap<String, ResidencyPolicy>,
}

impl Residency {
    /// The policy `bucket` is bound to (a binding to a policy that does not exist is a bug).
    pub(crate) fn policy_of(&self, bucket: &crate::meta::BucketRecord) -> crate::error::Result<&ResidencyPolicy> {
        self.policies.get(&bucket.policy_id).ok_or_else(|| {
            crate::error::ErrorKind::Internal(format!("bucket bound to unknown policy {}", bucket.policy_id)).into()
        })
    }

    /// The config's state with the admin API's changes applied. An override of a provider the
    /// config no longer defines is ignored (a provider needs an endpoint and credentials, which
    /// only the config file gives).
    pub fn with_overrides(mut self, o: CatalogOverrides) -> Self {
        for p in o.providers {
            match self.provider_mut(&p.id) {
                Some(slot) => *slot = p,
                None => {
                    tracing::warn!(provider = %p.id, "ignoring the stored attributes of a provider not in the config")
                }
            }
        }
        for p in o.policies {
            self.policies.insert(p.id.clone(), p);
        }
        self
    }

    /// One provider.
    pub fn provider(&self, id: &ProviderId) -> Option<&ProviderInfo> {
        self.catalog.iter().find(|p| p.id == *id)
    }

    fn provider_mut(&mut self, id: &ProviderId) -> Option<&mut ProviderInfo> {
        self.catalog.iter_mut().find(|p| p.id == *id)
    }
}

/// A provider as `GET /admin/v1/providers` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    /// Residency attributes.
    #[serde(flatten)]
    pub info: ProviderInfo,
    /// Reachable according to the active checks and the circuit breaker.
    pub reachable: bool,
}

/// The admin actor (one admin token: the API does not know people).
const ADMIN: &str = "admin";

impl ObjectService {
    /// The residency state in force now.
    pub fn residency(&self) -> Arc<Residency> {
        self.residency.read().map(|r| Arc::clone(&r)).unwrap_or_default()
    }

    fn set_residency(&self, r: Residency) {
        if let Ok(mut slot) = self.residency.write() {
            *slot = Arc::new(r);
        }
        self.evacuation_wake.notify_one();
    }

    /// Applies the changes stored by earlier runs (called once at start).
    pub async fn load_residency_overrides(&self) -> Result<()> {
        let overrides = self.meta.catalog_overrides().await?;
        self.set_key_state(super::keys::KeyState::from_overrides(&overrides));
        let base = Residency { catalog: self.config.catalog.clone(), policies: self.config.policies.clone() };
        self.set_residency(base.with_overrides(overrides));
        Ok(())
    }

    /// Every provider with its attributes and reachability.
    pub fn providers_view(&self) -> Vec<ProviderView> {
        self.residency()
            .catalog
            .iter()
            .map(|p| ProviderView { info: p.clone(), reachable: self.health.reachable(&p.id) })
            .collect()
    }

    /// Changes a provider's residency attributes (or retires it): `update` gives the new
    /// attributes from the current ones (or a one-line reason to refuse). Persisted with its
    /// audit record; replicas that now break policy are evacuated in the background.
    pub async fn update_provider(
        &self,
        id: &str,
        update: impl FnOnce(&ProviderInfo) -> std::result::Result<ProviderInfo, String>,
    ) -> Result<AuditRecord> {
        let id = ProviderId::parse(id).ok_or_else(|| ErrorKind::InvalidArgument(format!("bad provider id {id:?}")))?;
        let current = self.residency();
        let before = current.provider(&id).ok_or(ErrorKind::NoSuchProvider)?.clone();
        let after = update(&before).map_err(ErrorKind::InvalidArgument)?;
        let detail = serde_json::json!({ "provider": id.as_str(), "before": before, "after": after });
        let rec = self
            .meta
            .apply_change(AuditedChange::Provider(after.clone()), AuditEntry::new(ADMIN, "provider.update", &detail))
            .await?
            .ok_or_else(|| ErrorKind::Internal("provider change not applied".into()))?;
        let mut next = (*current).clone();
        if let Some(slot) = next.provider_mut(&id) {
            *slot = after;
        }
        self.set_residency(next);
        Ok(rec)
    }

    /// Creates or replaces a policy. Buckets bound to it must still be placeable, else the
    /// change is refused (naming the bucket) and nothing changes.
    pub async fn put_policy(&self, policy: ResidencyPolicy) -> Result<AuditRecord> {
        let current = self.residency();
        let mut next = (*current).clone();
        let before = next.policies.insert(policy.id.clone(), policy.clone());
        for b in self.meta.buckets().await? {
            if b.policy_id == policy.id
                && let Err(u) = crate::placement::place(&policy, &next.catalog, b.uid, &super::today())
            {
                return Err(ErrorKind::ResidencyUnsatisfiable(format!("bucket {}: {u}", b.name)).into());
            }
        }
        let detail = serde_json::json!({ "policy": policy.id, "before": before, "after": policy });
        let rec = self
            .meta
            .apply_change(AuditedChange::Policy(policy), AuditEntry::new(ADMIN, "policy.put", &detail))
            .await?
            .ok_or_else(|| ErrorKind::Internal("policy change not applied".into()))?;
        self.set_residency(next);
        Ok(rec)
    }

    /// Binds a bucket to another policy (which must place it); its objects move in the
    /// background where the new policy requires.
    pub async fn bind_bucket(&self, bucket: &str, policy_id: &str) -> Result<AuditRecord> {
        let rec = self.existing_bucket(bucket).await?;
        let residency = self.residency();
        let policy = residency.policies.get(policy_id).ok_or(ErrorKind::InvalidLocationConstraint)?;
        self.decide_placement(policy, rec.uid)?;
        let detail = serde_json::json!({ "bucket": bucket, "before": rec.policy_id, "after": policy_id });
        let change = AuditedChange::BucketPolicy { bucket: bucket.to_owned(), policy_id: policy_id.to_owned() };
        let out = self
            .meta
            .apply_change(change, AuditEntry::new(ADMIN, "bucket.bind", &detail))
            .await?
            .ok_or(ErrorKind::NoSuchBucket)?;
        self.evacuation_wake.notify_one();
        Ok(out)
    }

    /// Audit records after `after`, at most `limit`.
    pub async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        Ok(self.meta.audit_records(after, limit).await?)
    }
}
