//! Garbage collection of provider streams: every provider-side deletion the gateway decides on
//! (replaced, deleted, aborted or refused streams; evacuated and surplus replicas; copies that
//! landed too late; uploads a crash or cancellation interrupted) is a durable task in the
//! metadata store, written in the same commit as the decision. This worker claims due tasks
//! (so gateways sharing a store split them), deletes, and retries with backoff until the
//! provider confirms; an absent object counts as deleted. A task is never dropped, except
//! when its replica became live again (the store checks that at every claim).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{BackendError, stream_name};
use crate::health::{DeletionBacklog, ProviderDeletions};
use crate::meta::{DeletionReason, DeletionTask, GcTask, MetaError, MetadataStore};
use crate::metrics::Metrics;
use crate::model::ProviderId;
use crate::service::now_ms;
use crate::shutdown::Shutdown;
use crate::workers::health::HealthState;

const BATCH: usize = 256;
/// Longest wait between two attempts at a reachable provider.
const MAX_BACKOFF_MS: i64 = 300_000;
/// A task whose provider is known to be down is looked at again after this, without counting
/// an attempt, so the deletion follows the provider's return within seconds.
const WAIT_FOR_PROVIDER_MS: i64 = 2_000;
/// How long after an upload is abandoned its copies are deleted. A write the gateway sent
/// before it crashed (or before the request was cancelled) may still be landing at a provider
/// that keeps running: the bytes already in the socket's buffer arrive after the gateway is
/// gone. A deletion before that would leave the late copy behind, an orphan nothing tracks.
const ABANDONED_SETTLE_MS: i64 = 10_000;
/// The shortest pause between two passes, however soon a task falls due.
const MIN_PASS_GAP: Duration = Duration::from_millis(500);
/// The queue is counted for the gauges and `/health` this many tasks at a time.
const COUNT_PAGE: usize = 1000;

/// The lease of a claimed deletion: long enough for one pass's DELETEs, short enough that a
/// gateway killed holding claims hands them on within seconds.
pub const DELETION_CLAIM: Duration = Duration::from_secs(30);

/// Settings of the collector.
#[derive(Debug, Clone, Copy)]
pub struct GcSettings {
    /// Intents of this run older than this are abandoned uploads (client gone, task dropped).
    pub intent_ttl: Duration,
    /// How long a claimed task is this worker's before another (of any gateway), or this
    /// gateway after a restart, may take it. Deletions are idempotent, so a short lease costs
    /// at most a repeated DELETE (`DELETION_CLAIM`).
    pub claim: Duration,
    /// Ciphertext outside policy awaiting deletion longer than this counts as overdue (the
    /// alert's bound).
    pub overdue_after: Duration,
}

/// Deletes what the gateway decided to delete at providers.
pub struct GarbageCollector {
    meta: Arc<dyn MetadataStore>,
    backends: super::Backends,
    metrics: Arc<Metrics>,
    health: Arc<HealthState>,
    boot_id: crate::model::BootId,
    settings: GcSettings,
    /// A pass ran in this process already.
    started: std::sync::atomic::AtomicBool,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Replicas deleted (or confirmed absent).
    pub deleted: usize,
    /// Tasks rescheduled because their provider failed or was down.
    pub deferred: usize,
    /// When the earliest task still queued is due (ms since the epoch), if any.
    pub next_due_ms: Option<i64>,
}

/// Why one provider deletion did not happen (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
enum DeletionError {
    #[error("the provider is not configured")]
    NotConfigured,
    #[error("the provider refused the deletion")]
    Provider(#[from] BackendError),
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl GarbageCollector {
    /// A collector for this run.
    pub fn new(ctx: &super::Context, settings: GcSettings) -> Self {
        Self {
            meta: Arc::clone(&ctx.meta),
            backends: Arc::clone(&ctx.backends),
            metrics: Arc::clone(&ctx.metrics),
            health: Arc::clone(&ctx.health),
            boot_id: ctx.boot_id,
            settings,
            started: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn meta(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    /// One pass: stale intents become deletion tasks, due tasks are carried out, the backlog
    /// is published.
    pub async fn run_once(&self) -> Result<GcReport, MetaError> {
        let mut report = GcReport::default();
        let cutoff = now_ms() - millis(self.settings.intent_ttl);
        let live = super::cluster::live_boots(self.meta.as_ref(), self.boot_id).await?;
        let stale = self.meta().stale_intents(live, cutoff, BATCH).await?;
        if !stale.is_empty() {
            let streams = stale.into_iter().map(|i| GcTask { stream_id: i.stream_id, targets: i.targets }).collect();
            self.meta().abandon_intents(streams).await?;
        }
        let metrics = &self.metrics;
        // A store this process owns: claims held by an earlier run of it (killed mid-pass)
        // are void, so the first pass takes them at once instead of after their lease.
        let first = !self.started.swap(true, std::sync::atomic::Ordering::Relaxed);
        let horizon = if first && !self.meta().is_shared() { millis(self.settings.claim) } else { 0 };
        let claimed = self.meta().claim_deletions(now_ms() + horizon, millis(self.settings.claim), BATCH).await?;
        for mut task in claimed {
            // A write the dead (or cancelled) request left in flight may still land: wait it
            // out, counted from the decision (a claim taken early at start must not skip it).
            let settled_at = task.created_ms.saturating_add(ABANDONED_SETTLE_MS);
            if task.reason == DeletionReason::Abandoned && now_ms() < settled_at {
                task.due_ms = settled_at;
                self.meta().finish_deletion(task, false).await?;
                continue;
            }
            if !self.health.reachable(&task.provider) {
                task.due_ms = now_ms() + WAIT_FOR_PROVIDER_MS;
                report.deferred += 1;
                self.meta().finish_deletion(task, false).await?;
                continue;
            }
            match self.delete(&task).await {
                Ok(()) => {
                    report.deleted += 1;
                    metrics
                        .deletions_completed
                        .with_label_values(&[task.provider.as_str(), task.reason.as_str()])
                        .inc();
                    self.meta().finish_deletion(task, true).await?;
                }
                Err(e) => {
                    report.deferred += 1;
                    tracing::warn!(stream = %task.stream_id, provider = %task.provider, reason = task.reason.as_str(), attempts = task.attempts, error = %crate::report::Report(&e), "provider deletion failed; will retry");
                    task.attempts = task.attempts.saturating_add(1);
                    let backoff = 1000i64.saturating_mul(1 << task.attempts.min(12)).min(MAX_BACKOFF_MS);
                    task.due_ms = now_ms() + backoff;
                    self.meta().finish_deletion(task, false).await?;
                }
            }
        }
        report.next_due_ms = self.publish_backlog().await?;
        // Completed-upload records answer retried Completes for a day.
        self.meta().expire_completed(now_ms() - 24 * 3600 * 1000).await?;
        Ok(report)
    }

    async fn delete(&self, task: &DeletionTask) -> Result<(), DeletionError> {
        // A provider removed from the configuration keeps its tasks: its ciphertext is still
        // there, and the backlog shows it until an operator brings the provider back.
        let backend = self.backends.get(&task.provider).ok_or(DeletionError::NotConfigured)?;
        Ok(backend.delete(&stream_name(task.stream_id)).await?)
    }

    /// Publishes the backlog; when the earliest queued task is due.
    async fn publish_backlog(&self) -> Result<Option<i64>, MetaError> {
        let overdue_after = millis(self.settings.overdue_after);
        let mut counter = DeletionCounter::new(self.backends.keys(), now_ms(), overdue_after);
        super::count_queue(COUNT_PAGE, |after, n| self.meta().deletions(after, n), |t| counter.add(t)).await?;
        let next_due = counter.next_due_ms;
        let backlog = counter.finish();
        let metrics = &self.metrics;
        for (p, b) in &backlog.providers {
            super::set_provider_gauge(&metrics.pending_deletions, p, b.pending);
            super::set_provider_gauge(&metrics.pending_deletions_oldest, p, b.oldest_pending_seconds);
            super::set_provider_gauge(&metrics.pending_deletions_overdue, p, b.overdue);
        }
        self.health.set_deletion_backlog(backlog);
        Ok(next_due)
    }

    /// Runs passes every `every`, and sooner when a queued task falls due earlier (a provider
    /// back, a backoff run out, an abandoned upload settled), until shutdown.
    pub async fn run(self, every: Duration, mut shutdown: Shutdown) {
        loop {
            let next_due = match self.run_once().await {
                Ok(r) => {
                    if r.deleted > 0 {
                        tracing::info!(deleted = r.deleted, deferred = r.deferred, "gc pass");
                    }
                    r.next_due_ms
                }
                Err(e) => {
                    tracing::error!(error = %crate::report::Report(&e), "gc pass failed");
                    None
                }
            };
            let until_due = next_due.map(|due| Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)));
            let wait = until_due.map_or(every, |d| d.clamp(MIN_PASS_GAP, every));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.wait() => return,
            }
        }
    }
}

/// Counts the queue per provider, a page at a time (every configured provider appears, with
/// zeros when idle).
struct DeletionCounter {
    per: BTreeMap<String, ProviderDeletions>,
    total: u64,
    next_due_ms: Option<i64>,
    now_ms: i64,
    overdue_after_ms: i64,
}

impl DeletionCounter {
    fn new<'a>(providers: impl Iterator<Item = &'a ProviderId>, now_ms: i64, overdue_after_ms: i64) -> Self {
        let per = providers.map(|p| (p.to_string(), ProviderDeletions::default())).collect();
        Self { per, total: 0, next_due_ms: None, now_ms, overdue_after_ms }
    }

    fn add(&mut self, t: &DeletionTask) {
        let age_ms = self.now_ms.saturating_sub(t.created_ms).max(0);
        let b = self.per.entry(t.provider.to_string()).or_default();
        b.pending += 1;
        b.oldest_pending_seconds = b.oldest_pending_seconds.max(u64::try_from(age_ms / 1000).unwrap_or(0));
        if t.reason.residency() {
            b.outside_policy += 1;
            b.overdue += u64::from(age_ms > self.overdue_after_ms);
        }
        self.total += 1;
        self.next_due_ms = Some(self.next_due_ms.map_or(t.due_ms, |d| d.min(t.due_ms)));
    }

    fn finish(self) -> DeletionBacklog {
        DeletionBacklog {
            pending: self.total,
            oldest_pending_seconds: self.per.values().map(|b| b.oldest_pending_seconds).max().unwrap_or(0),
            outside_policy: self.per.values().map(|b| b.outside_policy).sum(),
            overdue: self.per.values().map(|b| b.overdue).sum(),
            providers: self.per,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::DeletionReason;
    use crate::model::StreamId;

    fn task(provider: &str, reason: DeletionReason, created_ms: i64) -> DeletionTask {
        DeletionTask::new(StreamId([1; 16]), ProviderId::parse(provider).unwrap(), reason, created_ms)
    }

    #[test]
    fn backlog_counts_per_provider_with_oldest_age_and_overdue_residency_deletions() {
        let ids = [ProviderId::parse("a").unwrap(), ProviderId::parse("b").unwrap()];
        let mut counter = DeletionCounter::new(ids.iter(), 10_000, 5_000);
        for t in [
            task("a", DeletionReason::Evacuated, 0),
            task("a", DeletionReason::Unreferenced, 0),
            task("a", DeletionReason::Surplus, 9_000),
            task("c", DeletionReason::Orphaned, 5_000),
        ] {
            counter.add(&t);
        }
        let b = counter.finish();
        assert_eq!((b.pending, b.oldest_pending_seconds, b.outside_policy, b.overdue), (4, 10, 2, 1));
        assert_eq!(
            b.providers["a"],
            ProviderDeletions { pending: 3, oldest_pending_seconds: 10, outside_policy: 2, overdue: 1 }
        );
        assert_eq!(b.providers["b"], ProviderDeletions::default(), "idle providers show zeros");
        assert_eq!(b.providers["c"].outside_policy, 0, "an orphaned copy is not counted as outside policy");
    }
}
