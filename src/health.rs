//! Provider health as last observed: what `/health`, `/ready`, the metrics, the write path
//! (which providers to wait for) and the read path (replica order) agree on. Active checks
//! come from the health checker, passive signals (circuit breaker, latency) from every
//! provider request, the backlog from the repair worker.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;

use crate::backend::health::{PassiveReport, ProviderBook};
use crate::model::ProviderId;

/// One provider's last check.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderHealth {
    /// Counted as reachable: it answered its last check, or its last failure was a single one
    /// after a success (two consecutive failures, or a failed first check, mark it down).
    pub reachable: bool,
    /// What went wrong, if it did not (no secrets: provider errors never carry them).
    pub last_error: Option<String>,
    /// Circuit state and latency from real requests (filled in when the report is read).
    #[serde(flatten)]
    pub passive: Option<PassiveReport>,
}

/// One provider's share of the repair queue.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProviderBacklog {
    /// Replicas waiting to be recreated there.
    pub pending_replicas: u64,
    /// Age of the oldest of them, in seconds (0 when none).
    pub oldest_pending_seconds: u64,
    /// Tasks that failed 10 times or more (still retried, but an operator should look).
    pub stuck_tasks: u64,
}

/// The repair queue as last counted by the repair worker.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RepairBacklog {
    /// Replicas waiting in the queue.
    pub pending_replicas: u64,
    /// Age of the oldest, in seconds.
    pub oldest_pending_seconds: u64,
    /// Stuck tasks in all.
    pub stuck_tasks: u64,
    /// By provider id.
    pub providers: BTreeMap<String, ProviderBacklog>,
    /// Tasks waiting, by the stream's scheme (`replicas`, `rs-4+2`, …).
    pub schemes: BTreeMap<String, u64>,
}

/// One provider's share of the deletion queue.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProviderDeletions {
    /// Replicas waiting to be deleted there.
    pub pending: u64,
    /// Age of the oldest, in seconds (0 when none).
    pub oldest_pending_seconds: u64,
    /// Of them, ciphertext the bucket's policy no longer allows there (evacuated or surplus).
    pub outside_policy: u64,
    /// Of those, the ones older than the configured bound (`deletion_overdue_secs`).
    pub overdue: u64,
}

/// The deletion queue as last counted by the garbage collector.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DeletionBacklog {
    /// Replicas waiting to be deleted.
    pub pending: u64,
    /// Age of the oldest, in seconds.
    pub oldest_pending_seconds: u64,
    /// Ciphertext awaiting deletion at a provider its policy excludes.
    pub outside_policy: u64,
    /// Of those, older than the bound.
    pub overdue: u64,
    /// By provider id.
    pub providers: BTreeMap<String, ProviderDeletions>,
}

/// A policy's write reachability.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyHealth {
    /// W.
    pub write_quorum: u8,
    /// Eligible providers that are reachable.
    pub reachable_providers: usize,
    /// Whether writes can reach W providers.
    pub write_quorum_available: bool,
}

/// The health report served at `/health`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HealthReport {
    /// By provider id.
    pub providers: BTreeMap<String, ProviderHealth>,
    /// By policy id.
    pub policies: BTreeMap<String, PolicyHealth>,
    /// `ok` when the key provider answers with the gateway's credentials (the local key file
    /// always does once loaded), else what went wrong (never a secret).
    pub key_provider: String,
    /// Checks have run at least once.
    pub checked: bool,
    /// Replicas waiting in the repair queue.
    pub repair_backlog: u64,
    /// The queue in detail.
    pub repair: RepairBacklog,
    /// Replicas the gateway decided to delete that their providers have not confirmed yet.
    pub deletions: DeletionBacklog,
}

/// Shared, updated by the checker and the repair worker.
#[derive(Default)]
pub struct HealthState {
    report: RwLock<HealthReport>,
    repair: RwLock<RepairBacklog>,
    deletions: RwLock<DeletionBacklog>,
    book: Arc<ProviderBook>,
}

impl HealthState {
    /// Health over the passive stats in `book`.
    pub fn new(book: Arc<ProviderBook>) -> Self {
        Self { report: RwLock::default(), repair: RwLock::default(), deletions: RwLock::default(), book }
    }

    /// The providers' passive health.
    pub fn book(&self) -> &Arc<ProviderBook> {
        &self.book
    }

    /// The latest report, with the passive state as of now.
    pub fn report(&self) -> HealthReport {
        let mut r = self.report.read().map(|r| r.clone()).unwrap_or_default();
        r.repair = self.repair_backlog();
        r.repair_backlog = r.repair.pending_replicas;
        r.deletions = self.deletions.read().map(|d| d.clone()).unwrap_or_default();
        let now = Instant::now();
        for (id, stats) in self.book.iter() {
            let entry = r.providers.entry(id.to_string()).or_insert(ProviderHealth {
                reachable: true,
                last_error: None,
                passive: None,
            });
            entry.passive = Some(stats.report(now));
        }
        r
    }

    /// The repair queue as last counted.
    pub fn repair_backlog(&self) -> RepairBacklog {
        self.repair.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Set by the repair worker after each pass.
    pub fn set_repair_backlog(&self, backlog: RepairBacklog) {
        if let Ok(mut r) = self.repair.write() {
            *r = backlog;
        }
    }

    /// Set by the garbage collector after each pass.
    pub fn set_deletion_backlog(&self, backlog: DeletionBacklog) {
        if let Ok(mut d) = self.deletions.write() {
            *d = backlog;
        }
    }

    /// Ready: checks ran, the key provider answered and at least one provider answered, so
    /// reads can be served.
    pub fn ready(&self) -> bool {
        let r = self.report();
        r.checked && r.key_provider == "ok" && r.providers.values().any(|p| p.reachable)
    }
}

impl HealthState {
    /// Replaces the report after a round of checks.
    pub fn publish(&self, report: HealthReport) {
        if let Ok(mut r) = self.report.write() {
            *r = report;
        }
    }

    /// False when the provider failed its last checks or its circuit is open (unknown counts
    /// as reachable).
    pub fn reachable(&self, provider: &ProviderId) -> bool {
        let checked =
            self.report.read().map_or(true, |r| r.providers.get(provider.as_str()).is_none_or(|h| h.reachable));
        checked && !self.book.is_open(provider, Instant::now())
    }
}
