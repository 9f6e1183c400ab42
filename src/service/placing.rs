//! Placement decisions as the gateway makes them: the pure placement function, with every
//! decision counted and every refusal written to the audit log. Used by bucket creation, every
//! write and the admin API's bucket binding.

use std::sync::Arc;

use crate::error::{ErrorKind, Result};
use crate::meta::{AuditedChange, MetadataStore};
use crate::metrics::Metrics;
use crate::model::audit::AuditEntry;
use crate::model::{BucketUid, ProviderInfo, ResidencyPolicy};
use crate::placement::{Placement, place};

/// Places under `policy` over `catalog`, counting the decision (and a refusal's reason) in the
/// metrics; a refusal is also recorded in the audit log, in the background (the request is
/// answered now, and a refusal changes nothing a record must be atomic with).
pub(crate) fn decide(
    policy: &ResidencyPolicy,
    catalog: &[ProviderInfo],
    seed: BucketUid,
    metrics: &Metrics,
    meta: &Arc<dyn MetadataStore>,
) -> Result<Placement> {
    let placed = place(policy, catalog, seed, super::today());
    let outcome = match &placed {
        Ok(_) => "placed",
        Err(u) => {
            tracing::warn!(policy = %u.policy, reason = u.reason(), violations = ?u.violations, "placement refused");
            metrics.placement_refusals.with_label_values(&[policy.id.as_str(), u.reason()]).inc();
            let meta = Arc::clone(meta);
            let detail = serde_json::json!({
                "policy": u.policy, "reason": u.reason(), "explanation": u.to_string(),
            });
            let record = async move {
                let entry = AuditEntry::new("s3", "placement.refused", &detail);
                if let Err(e) = meta.apply_change(AuditedChange::RecordOnly, entry).await {
                    tracing::error!(error = %crate::report::Report(&e), "writing an audit record failed");
                }
            };
            tokio::spawn(tracing::Instrument::in_current_span(record));
            "unsatisfiable"
        }
    };
    metrics.placement_decisions.with_label_values(&[policy.id.as_str(), outcome]).inc();
    placed.map_err(|u| ErrorKind::ResidencyUnsatisfiable(u.to_string()).into())
}
