//! Residency changes through the admin API (DESIGN.md §5): provider attributes, policies and
//! bucket bindings, each persisted with its audit record in one write; every change wakes the
//! evacuation job, which moves replicas that now break policy.

use serde::Serialize;

use super::AdminOps;
use crate::error::{Context as _, ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::{ProviderId, ProviderInfo, ResidencyPolicy};
use crate::service::residency::Residency;

/// A provider as `GET /admin/v1/providers` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    /// Residency attributes.
    #[serde(flatten)]
    pub info: ProviderInfo,
    /// Reachable according to the active checks and the circuit breaker.
    pub reachable: bool,
}

impl AdminOps {
    /// Every provider with its attributes and reachability.
    pub fn providers_view(&self) -> Vec<ProviderView> {
        self.state
            .residency()
            .catalog
            .iter()
            .map(|p| ProviderView { info: p.clone(), reachable: self.health.reachable(&p.id) })
            .collect()
    }

    /// Changes a provider's residency attributes (or retires it): `update` gives the new
    /// attributes from the current ones (or a one-line reason to refuse, answered as the
    /// client's mistake). Persisted with its
    /// audit record; replicas that now break policy are evacuated in the background.
    pub async fn update_provider<E: std::fmt::Display>(
        &self,
        actor: &str,
        id: &str,
        update: impl FnOnce(&ProviderInfo) -> std::result::Result<ProviderInfo, E>,
    ) -> Result<AuditRecord> {
        let id = ProviderId::parse(id).ok_or_else(|| ErrorKind::InvalidArgument(format!("bad provider id {id:?}")))?;
        let current = self.state.residency();
        let before = current.provider(&id).ok_or(ErrorKind::NoSuchProvider)?.clone();
        let after = update(&before).map_err(|e| ErrorKind::InvalidArgument(e.to_string()))?;
        let detail = serde_json::json!({ "provider": id.as_str(), "before": before, "after": after });
        let rec = self
            .meta
            .apply_change(AuditedChange::Provider(after.clone()), AuditEntry::new(actor, "provider.update", &detail))
            .await?
            .context("provider change not applied")?;
        let mut next = (*current).clone();
        if let Some(slot) = next.provider_mut(&id) {
            *slot = after;
        }
        self.state.set_residency(next);
        Ok(rec)
    }

    /// Creates or replaces a policy. Buckets bound to it must still be placeable, else the
    /// change is refused (naming the bucket) and nothing changes.
    pub async fn put_policy(&self, actor: &str, policy: ResidencyPolicy) -> Result<AuditRecord> {
        self.put_policy_checked(actor, policy, |_| Ok(())).await
    }

    /// [`Self::put_policy`], if `unchanged` accepts the policy as it is now (`None`: a new one);
    /// its refusal is a conflict (the console's confirmation showed another state).
    pub async fn put_policy_checked(
        &self,
        actor: &str,
        policy: ResidencyPolicy,
        unchanged: impl FnOnce(Option<&ResidencyPolicy>) -> std::result::Result<(), String>,
    ) -> Result<AuditRecord> {
        let (next, before) = self.with_policy(&policy).await?;
        unchanged(before.as_ref()).map_err(ErrorKind::Conflict)?;
        let detail = serde_json::json!({ "policy": policy.id, "before": before, "after": policy });
        let rec = self
            .meta
            .apply_change(AuditedChange::Policy(policy), AuditEntry::new(actor, "policy.put", &detail))
            .await?
            .context("policy change not applied")?;
        self.state.set_residency(next);
        Ok(rec)
    }

    /// The residency rules with `policy` in place of its namesake (and that one), if every
    /// bucket bound to it can still be placed. A change of scheme (replicas, shards, k + m) is
    /// carried out for the objects of its buckets by the evacuation job.
    pub(super) async fn with_policy(&self, policy: &ResidencyPolicy) -> Result<(Residency, Option<ResidencyPolicy>)> {
        let mut next = (*self.state.residency()).clone();
        let before = next.policies.insert(policy.id.clone(), policy.clone());
        for b in self.meta.buckets().await? {
            if b.policy_id == policy.id
                && let Err(u) = crate::placement::place(policy, &next.catalog, b.uid, crate::service::today())
            {
                return Err(ErrorKind::ResidencyUnsatisfiable(format!("bucket {}: {u}", b.name)).into());
            }
        }
        Ok((next, before))
    }

    /// Binds a bucket to another policy (which must place it); its objects move in the
    /// background where the new policy requires.
    pub async fn bind_bucket(&self, actor: &str, bucket: &str, policy_id: &str) -> Result<AuditRecord> {
        let rec = self.existing_bucket(bucket).await?;
        let residency = self.state.residency();
        let policy = check_binding(&residency, policy_id)?;
        crate::service::placing::decide(policy, &residency.catalog, rec.uid, &self.metrics, &self.meta)?;
        let detail = serde_json::json!({ "bucket": bucket, "before": rec.policy_id, "after": policy_id });
        let change = AuditedChange::BucketPolicy { bucket: bucket.to_owned(), policy_id: policy_id.to_owned() };
        let out = self
            .meta
            .apply_change(change, AuditEntry::new(actor, "bucket.bind", &detail))
            .await?
            .ok_or(ErrorKind::NoSuchBucket)?;
        self.state.evacuation_wake().notify_one();
        Ok(out)
    }

    /// Audit records after `after`, at most `limit`.
    pub async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>> {
        Ok(self.meta.audit_records(after, limit).await?)
    }
}

/// The policy `policy_id`, if a bucket may be bound to it: it exists. Its objects stored in
/// another scheme (replicas or shards) are converted by the evacuation job.
pub(super) fn check_binding<'a>(residency: &'a Residency, policy_id: &str) -> Result<&'a ResidencyPolicy> {
    residency.policies.get(policy_id).ok_or_else(|| ErrorKind::InvalidLocationConstraint.into())
}
