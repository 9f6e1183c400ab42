//! The admin operations, apart from the S3 path: residency changes, key management, "where is
//! my data", the placement explanation, the deletion backlog, jobs and the audit chain. The
//! admin API (`crate::admin`) holds this and nothing else of the service.

mod access;
mod audit;
mod console_sessions;
mod etag;
mod keys;
mod locate;
mod preview;
mod report;
mod residency;
mod rotation_preview;

use std::sync::{Arc, OnceLock};

use super::state::GatewayState;
use crate::error::Result;
use crate::health::HealthState;
use crate::keys::KeyProvider;
use crate::meta::{BucketRecord, JobRecord, MetadataStore};
use crate::metrics::Metrics;
use crate::model::audit::AuditKey;
use crate::model::{BucketUid, ResidencyPolicy};

pub use access::{GrantView, KeyView, NewKey, NewToken, TokenView, UserView};
pub use audit::SealReport;
pub use console_sessions::{SESSION_SECS, SessionSecret};
pub use keys::{KeysView, ShredPreview, utc};
pub use locate::{ObjectLocation, PlacementExplanation, QueuedDeletion, ReplicaLocation, StreamLocation};
pub use preview::{EvacuationPreview, LeavingProvider};
pub use report::{BucketResidency, ComplianceFacts, ProviderStorage};
pub use residency::ProviderView;
pub use rotation_preview::RotationPreview;

/// Every version of a bucket (noncurrent ones and delete markers included), a page at a time,
/// for the admin walks that read it whole (the report, a change's dry run).
pub(super) struct VersionPages {
    walk: crate::meta::walk::VersionWalk,
    /// Versions read so far.
    pub(super) versions: u64,
}

impl VersionPages {
    const PAGE: usize = 512;

    pub(super) fn of(bucket: BucketUid) -> Self {
        Self { walk: crate::meta::walk::VersionWalk::new(bucket, None), versions: 0 }
    }

    /// The next page of versions; `None` once every version was read.
    pub(super) async fn next(&mut self, meta: &dyn MetadataStore) -> Result<Option<Vec<crate::meta::VersionRecord>>> {
        let page = self.walk.next_page(meta, Self::PAGE).await?;
        if page.is_empty() {
            return Ok(None);
        }
        self.versions += page.len() as u64;
        Ok(Some(page.into_iter().map(|(_, entry)| entry.version).collect()))
    }
}

/// A background job as `GET /admin/v1/jobs/{name}` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    /// Its name.
    pub name: String,
    /// `running` or `done`.
    pub state: String,
    /// Why it started.
    pub reason: String,
    /// Started, ms since the epoch.
    pub started_ms: i64,
    /// Last progress, ms since the epoch.
    pub updated_ms: i64,
    /// Items looked at in this pass.
    pub scanned: u64,
    /// Items the pass covers.
    pub total: u64,
    /// Share done (0–1).
    pub progress: f64,
    /// Items moved or rewrapped.
    pub moved: u64,
    /// Items that failed.
    pub failed: u64,
}

impl From<JobRecord> for JobView {
    fn from(job: JobRecord) -> Self {
        let progress = job.progress();
        Self {
            name: job.name,
            state: job.state,
            reason: job.reason,
            started_ms: job.started_ms,
            updated_ms: job.updated_ms,
            scanned: job.scanned,
            total: job.total,
            progress,
            moved: job.moved,
            failed: job.failed,
        }
    }
}

/// The admin operations over the gateway's shared state.
pub struct AdminOps {
    meta: Arc<dyn MetadataStore>,
    keys: Arc<dyn KeyProvider>,
    state: Arc<GatewayState>,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    /// Access keys and grants, shared with the object service.
    access: Arc<crate::service::access::Directory>,
    /// The configuration's admin tokens (hashed).
    configured_tokens: Vec<crate::config::AdminToken>,
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
        access: Arc<crate::service::access::Directory>,
        configured_tokens: Vec<crate::config::AdminToken>,
    ) -> Self {
        Self { meta, keys, state, health, metrics, access, configured_tokens, audit_key: OnceLock::new() }
    }

    /// What each provider and each bucket holds, as the last usage pass counted it.
    pub fn usage(&self) -> Arc<crate::service::state::UsageSnapshot> {
        self.state.usage()
    }

    /// Every bucket's name and policy, by name.
    pub async fn bucket_bindings(&self) -> Result<Vec<(String, String)>> {
        let mut out: Vec<_> =
            self.meta.buckets().await?.into_iter().map(|b| (b.name.to_string(), b.policy_id)).collect();
        out.sort();
        Ok(out)
    }

    /// The policies in force, by id order.
    pub fn policies(&self) -> Vec<ResidencyPolicy> {
        let mut policies: Vec<_> = self.state.residency().policies.values().cloned().collect();
        policies.sort_by(|a, b| a.id.cmp(&b.id));
        policies
    }

    /// A background job's state (`evacuation`, `rotation`, `scrub`) and progress.
    pub async fn job(&self, name: &str) -> Result<Option<JobView>> {
        Ok(self.meta.job(name).await?.map(JobView::from))
    }

    /// The bucket named `name`; `NoSuchBucket` for a name that is not one or a bucket that
    /// does not exist (as the S3 path answers).
    async fn existing_bucket(&self, name: &str) -> Result<BucketRecord> {
        let name = crate::model::BucketName::parse(name).map_err(|_| crate::error::ErrorKind::NoSuchBucket)?;
        self.meta.bucket(&name).await?.ok_or_else(|| crate::error::ErrorKind::NoSuchBucket.into())
    }
}
