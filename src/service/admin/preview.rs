//! The dry run of a residency change: before an admin applies a provider's new attributes,
//! what the evacuation job would then move — per provider, the replicas (or shards) that would
//! leave it and their bytes — and which buckets' policies could no longer be met. Read only:
//! it walks every bucket's versions against the changed catalog, changing nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AdminOps;
use crate::error::{ErrorKind, Result};
use crate::model::{ProviderId, ProviderInfo};
use crate::placement::place;

/// What applying a change would make the evacuation job do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvacuationPreview {
    /// Per provider that would give up data: replicas or shards, and their stored bytes.
    pub leaving: Vec<LeavingProvider>,
    /// Object versions looked at.
    pub versions: u64,
    /// Buckets whose policy no placement would satisfy after the change (their data could not
    /// move anywhere: the change would leave it outside policy).
    pub unplaceable: Vec<String>,
}

/// One provider's share of an evacuation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeavingProvider {
    /// Provider id.
    pub provider: String,
    /// Replicas or shards that would move off it.
    pub replicas: u64,
    /// Their bytes as stored there.
    pub bytes: u64,
}

impl AdminOps {
    /// What the evacuation would move if provider `id` had the attributes `after`.
    pub async fn preview_provider_change(&self, id: &ProviderId, after: ProviderInfo) -> Result<EvacuationPreview> {
        let mut residency = (*self.state.residency()).clone();
        *residency.provider_mut(id).ok_or(ErrorKind::NoSuchProvider)? = after;
        let today = crate::service::today();
        let mut leaving: BTreeMap<String, LeavingProvider> = BTreeMap::new();
        let mut out = EvacuationPreview::default();
        for bucket in self.meta.buckets().await? {
            let Some(policy) = residency.policies.get(&bucket.policy_id) else { continue };
            if place(policy, &residency.catalog, bucket.uid, today).is_err() {
                out.unplaceable.push(bucket.name.to_string());
            }
            let allowed = |p: &ProviderId| residency.allows(policy, p, today);
            out.versions += self
                .each_stream(bucket.uid, |s, stored| {
                    for p in s.replicas.iter().filter(|p| !allowed(p)) {
                        let slot = leaving.entry(p.as_str().to_owned()).or_default();
                        slot.replicas += 1;
                        slot.bytes += stored;
                    }
                })
                .await?;
        }
        out.leaving = leaving.into_iter().map(|(provider, l)| LeavingProvider { provider, ..l }).collect();
        out.unplaceable.sort();
        Ok(out)
    }
}
