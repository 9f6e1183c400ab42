//! The admin operations, apart from the S3 path: residency changes, key management, "where is
//! my data", the placement explanation, the deletion backlog, jobs and the audit chain. The
//! admin API (`crate::admin`) holds this and nothing else of the service.

mod audit;
mod keys;
mod locate;
mod residency;

use std::sync::{Arc, OnceLock};

use super::state::GatewayState;
use crate::error::{ErrorKind, Result};
use crate::health::HealthState;
use crate::keys::KeyProvider;
use crate::meta::{BucketRecord, JobRecord, MetadataStore};
use crate::metrics::Metrics;
use crate::model::audit::AuditKey;
use crate::model::{BucketName, ResidencyPolicy};

pub use audit::SealReport;
pub use keys::KeysView;
pub use locate::{ObjectLocation, PlacementExplanation, QueuedDeletion, ReplicaLocation, StreamLocation};
pub use residency::ProviderView;

/// The admin actor (one admin token: the API does not know people).
const ADMIN: &str = "admin";

/// The admin operations over the gateway's shared state.
pub struct AdminOps {
    meta: Arc<dyn MetadataStore>,
    keys: Arc<dyn KeyProvider>,
    state: Arc<GatewayState>,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    /// The key the chain is sealed with, once loaded (see [`AdminOps::start_audit_sealing`]).
    audit_key: OnceLock<Arc<AuditKey>>,
}

impl AdminOps {
    /// The admin operations over this store, key provider and state.
    pub fn new(
        meta: Arc<dyn MetadataStore>,
        keys: Arc<dyn KeyProvider>,
        state: Arc<GatewayState>,
        health: Arc<HealthState>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { meta, keys, state, health, metrics, audit_key: OnceLock::new() }
    }

    /// The policies in force, by id order.
    pub fn policies(&self) -> Vec<ResidencyPolicy> {
        let mut policies: Vec<_> = self.state.residency().policies.values().cloned().collect();
        policies.sort_by(|a, b| a.id.cmp(&b.id));
        policies
    }

    /// A background job's state (`evacuation`, `rotation`, `scrub`).
    pub async fn job(&self, name: &str) -> Result<Option<JobRecord>> {
        Ok(self.meta.job(name).await?)
    }

    async fn existing_bucket(&self, name: &str) -> Result<BucketRecord> {
        BucketName::parse(name).map_err(|_| ErrorKind::NoSuchBucket)?;
        self.meta.bucket(name).await?.ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }
}
