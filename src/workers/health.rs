//! Provider health: every interval, a cheap LIST against each provider. The results feed
//! `/health`, `/ready`, `souverain_provider_reachable` and `souverain_write_quorum_available`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::model::{ProviderId, ProviderInfo, ResidencyPolicy};
use crate::placement::eligible;
use crate::shutdown::Shutdown;

/// One provider's last check.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderHealth {
    /// Answered the last check.
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
    repair_backlog: std::sync::atomic::AtomicU64,
}

impl HealthState {
    /// The latest report.
    pub fn report(&self) -> HealthReport {
        let mut r = self.report.read().map(|r| r.clone()).unwrap_or_default();
        r.repair_backlog = self
            .repair_backlog
            .load(std::sync::atomic::Ordering::Relaxed);
        r
    }

    /// Set by the repair worker after each pass.
    pub fn set_repair_backlog(&self, n: u64) {
        self.repair_backlog
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ready: checks ran and at least one provider answered, so reads can be served.
    pub fn ready(&self) -> bool {
        let r = self.report();
        r.checked && r.providers.values().any(|p| p.reachable)
    }
}

/// Checks providers periodically.
pub struct HealthChecker {
    backends: Vec<Arc<dyn Backend>>,
    catalog: Vec<ProviderInfo>,
    policies: Vec<ResidencyPolicy>,
    metrics: Arc<Metrics>,
    state: Arc<HealthState>,
    timeout: Duration,
}

impl HealthChecker {
    /// A checker over the configured providers and policies.
    pub fn new(
        backends: Vec<Arc<dyn Backend>>,
        catalog: Vec<ProviderInfo>,
        policies: Vec<ResidencyPolicy>,
        metrics: Arc<Metrics>,
        state: Arc<HealthState>,
    ) -> Self {
        Self {
            backends,
            catalog,
            policies,
            metrics,
            state,
            timeout: Duration::from_secs(5),
        }
    }

    /// One round of checks.
    pub async fn check_once(&self) {
        let checks = self.backends.iter().map(|b| async move {
            let r = tokio::time::timeout(self.timeout, b.list(None, 1)).await;
            let health = match r {
                Ok(Ok(_)) => ProviderHealth {
                    reachable: true,
                    last_error: None,
                },
                Ok(Err(e)) => ProviderHealth {
                    reachable: false,
                    last_error: Some(e.to_string()),
                },
                Err(_) => ProviderHealth {
                    reachable: false,
                    last_error: Some("health check timed out".into()),
                },
            };
            (b.id().clone(), health)
        });
        let results: Vec<(ProviderId, ProviderHealth)> =
            futures_util::future::join_all(checks).await;
        let mut report = HealthReport {
            key_provider: "ok",
            checked: true,
            ..HealthReport::default()
        };
        for (id, h) in results {
            self.metrics
                .provider_reachable
                .with_label_values(&[id.as_str()])
                .set(i64::from(h.reachable));
            report.providers.insert(id.to_string(), h);
        }
        for policy in &self.policies {
            let reachable = self
                .catalog
                .iter()
                .filter(|p| eligible(policy, p))
                .filter(|p| {
                    report
                        .providers
                        .get(p.id.as_str())
                        .is_some_and(|h| h.reachable)
                })
                .count();
            let available = reachable >= usize::from(policy.write_quorum);
            self.metrics
                .write_quorum_available
                .with_label_values(&[&policy.id])
                .set(i64::from(available));
            report.policies.insert(
                policy.id.clone(),
                PolicyHealth {
                    write_quorum: policy.write_quorum,
                    reachable_providers: reachable,
                    write_quorum_available: available,
                },
            );
        }
        if let Ok(mut r) = self.state.report.write() {
            *r = report;
        }
    }

    /// Checks every `every` until shutdown.
    pub async fn run(self, every: Duration, mut shutdown: Shutdown) {
        loop {
            self.check_once().await;
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = shutdown.wait() => return,
            }
        }
    }
}
