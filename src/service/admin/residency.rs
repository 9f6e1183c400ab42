//! Residency changes through the admin API (DESIGN.md §5): provider attributes, policies and
//! bucket bindings, each persisted with its audit record in one write; every change wakes the
//! evacuation job, which moves replicas that now break policy.

use serde::Serialize;

use super::AdminOps;
use crate::error::{Context as _, ErrorKind, Result};
use crate::meta::{AuditedChange, BucketRecord, ListQuery, ListStart};
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::{BucketUid, ProviderId, ProviderInfo, ResidencyPolicy};
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
    /// bucket bound to it can still be placed and none holding objects would change scheme.
    pub(super) async fn with_policy(&self, policy: &ResidencyPolicy) -> Result<(Residency, Option<ResidencyPolicy>)> {
        let mut next = (*self.state.residency()).clone();
        let before = next.policies.insert(policy.id.clone(), policy.clone());
        let scheme_changes = before.as_ref().is_some_and(|b| b.erasure != policy.erasure);
        for b in self.meta.buckets().await? {
            if scheme_changes && b.policy_id == policy.id && self.holds_objects(b.uid).await? {
                return Err(scheme_conversion(&b.name));
            }
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
        let policy = self.check_binding(&rec, &residency, policy_id).await?;
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

    /// The policy `policy_id`, if `rec` may be bound to it: it exists, and the bucket's objects
    /// would keep their scheme (replicas or shards).
    pub(super) async fn check_binding<'a>(
        &self,
        rec: &BucketRecord,
        residency: &'a Residency,
        policy_id: &str,
    ) -> Result<&'a ResidencyPolicy> {
        let policy = residency.policies.get(policy_id).ok_or(ErrorKind::InvalidLocationConstraint)?;
        let scheme_now = residency.policies.get(&rec.policy_id).and_then(|p| p.erasure);
        if scheme_now != policy.erasure && self.holds_objects(rec.uid).await? {
            return Err(scheme_conversion(&rec.name));
        }
        Ok(policy)
    }

    /// Whether `bucket` holds any version (delete markers included) or unfinished upload.
    async fn holds_objects(&self, bucket: BucketUid) -> Result<bool> {
        let first = ListQuery { prefix: Vec::new(), delimiter: None, start: ListStart::Beginning, max: 1 };
        Ok(!self.meta.list_versions(bucket, &first, None).await?.entries.is_empty()
            || !self.meta.list_uploads(bucket, &first, None).await?.entries.is_empty())
    }
}

/// Moving a bucket's objects between whole replicas and Reed–Solomon shards is not built: a
/// bucket that holds objects keeps its scheme (an empty one may change it), rather than
/// silently keeping old objects in the scheme it was asked to leave.
fn scheme_conversion(bucket: &crate::model::BucketName) -> crate::error::Error {
    ErrorKind::NotImplemented(format!(
        "bucket {bucket} holds objects: converting them between replicas and erasure-coded shards is not \
         supported yet; bind an empty bucket, or copy the objects into a bucket of the other scheme"
    ))
    .into()
}
