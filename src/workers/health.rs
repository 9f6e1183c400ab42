//! Provider health: every interval, a cheap LIST against each provider. The results feed
//! `/health`, `/ready`, `souverain_provider_reachable` and `souverain_write_quorum_available`;
//! a successful check also half-opens an open circuit, so a returning provider gets traffic
//! (and its repairs) within one interval instead of after the whole open period.

use std::sync::Arc;
use std::time::Duration;

pub use crate::health::{HealthReport, HealthState, PolicyHealth, ProviderHealth};

use crate::backend::Backend;
use crate::metrics::Metrics;
use crate::model::ProviderId;
use crate::placement::eligible;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;

/// Checks providers periodically.
pub struct HealthChecker {
    backends: Vec<Arc<dyn Backend>>,
    keys: Arc<dyn crate::keys::KeyProvider>,
    residency: Arc<GatewayState>,
    metrics: Arc<Metrics>,
    state: Arc<HealthState>,
    timeout: Duration,
    /// Consecutive failed checks per provider.
    failures: std::sync::Mutex<std::collections::HashMap<ProviderId, u32>>,
}

/// A provider is reported down only after this many consecutive failed checks, so one slow
/// answer (a busy disk, a GC pause) does not divert writes.
const FAILURES_TO_MARK_DOWN: u32 = 2;

impl HealthChecker {
    /// A checker over the providers of `ctx` and its key provider, judging write quorum by
    /// the policies in force.
    pub fn new(ctx: &super::Context) -> Self {
        Self {
            backends: ctx.backends.values().cloned().collect(),
            keys: Arc::clone(&ctx.keys),
            residency: Arc::clone(&ctx.state),
            metrics: Arc::clone(&ctx.metrics),
            state: Arc::clone(&ctx.health),
            timeout: Duration::from_secs(5),
            failures: std::sync::Mutex::default(),
        }
    }

    /// One round of checks.
    pub async fn check_once(&self) {
        let checks = self.backends.iter().map(|b| async move {
            let r = tokio::time::timeout(self.timeout, b.list(crate::backend::STREAM_PREFIX, None, 1)).await;
            let health = match r {
                Ok(Ok(_)) => ProviderHealth { reachable: true, last_error: None, passive: None },
                Ok(Err(e)) => {
                    ProviderHealth { reachable: false, last_error: Some(crate::report::chain(&e)), passive: None }
                }
                Err(_) => ProviderHealth {
                    reachable: false,
                    last_error: Some("health check timed out".into()),
                    passive: None,
                },
            };
            (b.id().clone(), health)
        });
        let results: Vec<(ProviderId, ProviderHealth)> = futures_util::future::join_all(checks).await;
        let key_provider = match tokio::time::timeout(self.timeout, self.keys.check()).await {
            Ok(Ok(())) => "ok".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the key provider did not answer in time".to_owned(),
        };
        self.metrics.key_provider_up.set(i64::from(key_provider == "ok"));
        let mut report = HealthReport { key_provider, checked: true, ..HealthReport::default() };
        let now = std::time::Instant::now();
        for (id, mut h) in results {
            if h.reachable
                && let Some(stats) = self.state.book().get(&id)
            {
                stats.check_succeeded(now);
            }
            if let Ok(mut failures) = self.failures.lock() {
                // A provider that fails its very first check is down at once.
                let n = failures.entry(id.clone()).or_insert(FAILURES_TO_MARK_DOWN - 1);
                *n = if h.reachable { 0 } else { n.saturating_add(1) };
                h.reachable = *n < FAILURES_TO_MARK_DOWN;
            }
            self.metrics.provider_reachable.with_label_values(&[id.as_str()]).set(i64::from(h.reachable));
            report.providers.insert(id.to_string(), h);
        }
        let today = crate::service::today();
        let residency = self.residency.residency();
        for policy in residency.policies.values() {
            let reachable = residency
                .catalog
                .iter()
                .filter(|p| eligible(policy, p, today))
                .filter(|p| report.providers.get(p.id.as_str()).is_some_and(|h| h.reachable))
                .filter(|p| !self.state.book().is_open(&p.id, now))
                .count();
            let available = reachable >= usize::from(policy.write_quorum);
            self.metrics.write_quorum_available.with_label_values(&[&policy.id]).set(i64::from(available));
            report.policies.insert(
                policy.id.clone(),
                PolicyHealth {
                    write_quorum: policy.write_quorum,
                    reachable_providers: reachable,
                    write_quorum_available: available,
                },
            );
        }
        self.state.publish(report);
    }

    /// Checks every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || self.check_once()).await;
    }
}
