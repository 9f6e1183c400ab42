//! Provider health as last observed: what `/health`, `/ready`, the metrics and the read path
//! (replica order) agree on. Written by the health checker and the repair worker.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// One provider's last check.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderHealth {
    /// Counted as reachable: it answered its last check, or its last failure was a single one
    /// after a success (two consecutive failures, or a failed first check, mark it down).
    pub reachable: bool,
    /// What went wrong, if it did not (no secrets: provider errors never carry them).
    pub last_error: Option<String>,
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
    /// The key provider answers (the local key file always does once loaded).
    pub key_provider: &'static str,
    /// Checks have run at least once.
    pub checked: bool,
    /// Replicas waiting in the repair queue.
    pub repair_backlog: u64,
}

/// Shared, updated by the checker.
#[derive(Default)]
pub struct HealthState {
    report: RwLock<HealthReport>,
    repair_backlog: AtomicU64,
}

impl HealthState {
    /// The latest report.
    pub fn report(&self) -> HealthReport {
        let mut r = self.report.read().map(|r| r.clone()).unwrap_or_default();
        r.repair_backlog = self.repair_backlog.load(Ordering::Relaxed);
        r
    }

    /// Set by the repair worker after each pass.
    pub fn set_repair_backlog(&self, n: u64) {
        self.repair_backlog.store(n, Ordering::Relaxed);
    }

    /// Ready: checks ran and at least one provider answered, so reads can be served.
    pub fn ready(&self) -> bool {
        let r = self.report();
        r.checked && r.providers.values().any(|p| p.reachable)
    }
}

impl HealthState {
    /// Replaces the report after a round of checks.
    pub fn publish(&self, report: HealthReport) {
        if let Ok(mut r) = self.report.write() {
            *r = report;
        }
    }

    /// False only when the provider failed its last check (unknown counts as reachable).
    pub fn reachable(&self, provider: &str) -> bool {
        self.report.read().map(|r| r.providers.get(provider).is_none_or(|h| h.reachable)).unwrap_or(true)
    }
}
