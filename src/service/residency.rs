//! The residency state the gateway enforces, changeable at run time (DESIGN.md §5): the
//! provider catalog and the policies start from the config file, then admin API changes
//! (persisted in the metadata store with their audit record, in one write) override them.
//! Every change wakes the evacuation job, which moves replicas that now break policy.

use std::collections::HashMap;

use crate::meta::CatalogOverrides;
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
            crate::error::ErrorKind::internal(format!("bucket bound to unknown policy {}", bucket.policy_id)).into()
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
                    tracing::warn!(provider = %p.id, "ignoring the stored attributes of a provider not in the config");
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

    /// `policy` allows provider `id` on `day` (an unknown provider is not allowed): the one
    /// test the evacuation, the completion of uploads, a change's dry run and the compliance
    /// report share.
    pub fn allows(&self, policy: &ResidencyPolicy, id: &ProviderId, day: time::Date) -> bool {
        self.provider(id).is_some_and(|info| crate::placement::eligible(policy, info, day))
    }

    pub(crate) fn provider_mut(&mut self, id: &ProviderId) -> Option<&mut ProviderInfo> {
        self.catalog.iter_mut().find(|p| p.id == *id)
    }
}
