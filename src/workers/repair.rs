//! The repair worker: drains the durable repair queue (hinted handoff), copying each missing
//! replica's ciphertext from a replica that has it. The copy is checked against the recorded
//! ciphertext check (CRC64-NVME; SHA-256 for streams of before) before its last chunk is
//! released, so a target never receives a complete wrong stream. Failed tasks stay queued with
//! exponential backoff (never dropped).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::stream_name;
use crate::health::{ProviderBacklog, RepairBacklog};
use crate::meta::{DeletionReason, DeletionTask, MetaError, MetadataStore, RepairTask};
use crate::metrics::Metrics;
use crate::model::{ErasureShards, ProviderId, Redundancy, StreamManifest};
use crate::placement::{WriteGrant, grant_replica};
use crate::replicate::erasure::rebuild::{ShardTarget, rebuild_shard};
use crate::replicate::read::Hedging;
use crate::replicate::verify::{CopyError, Expected, copy_from_first};
use crate::service::get::shard_events;
use crate::service::now_ms;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;
use crate::workers::health::HealthState;

const BATCH: usize = 32;
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// A task whose target is known to be down is looked at again after this, without counting
/// an attempt: the provider's return (seen by the health checker) starts its repair.
const WAIT_FOR_TARGET_MS: i64 = 2_000;
/// Attempts after which a task counts as stuck (it stays queued and retried).
const STUCK_ATTEMPTS: u32 = 10;
/// The queue is counted for the gauges this many tasks at a time.
const COUNT_PAGE: usize = 1000;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RepairReport {
    /// Replicas recreated.
    pub repaired: usize,
    /// Tasks rescheduled after a failure.
    pub failed: usize,
}

/// Recreates missing replicas.
pub struct RepairWorker {
    meta: Arc<dyn MetadataStore>,
    backends: super::Backends,
    metrics: Arc<Metrics>,
    state: Arc<GatewayState>,
    health: Arc<HealthState>,
    /// How long a claimed task is this worker's before another (of any gateway) may take it.
    claim_ms: i64,
    /// A pass ran in this process already.
    started: std::sync::atomic::AtomicBool,
}

impl RepairWorker {
    /// A worker over the service's providers; each task it takes is its own for `claim`.
    pub fn new(ctx: &super::Context, claim: Duration) -> Self {
        let claim_ms = i64::try_from(claim.as_millis()).unwrap_or(i64::MAX);
        Self {
            meta: Arc::clone(&ctx.meta),
            backends: Arc::clone(&ctx.backends),
            metrics: Arc::clone(&ctx.metrics),
            state: Arc::clone(&ctx.state),
            health: Arc::clone(&ctx.health),
            claim_ms,
            started: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn meta(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    /// One pass over the due tasks, then the backlog gauges.
    pub async fn run_once(&self) -> Result<RepairReport, MetaError> {
        let mut report = RepairReport::default();
        let metrics = &self.metrics;
        // A store this process owns: claims held by an earlier run of it (killed mid-copy) are
        // void, so the first pass takes them at once instead of after their lease (as the
        // garbage collector does).
        let first = !self.started.swap(true, std::sync::atomic::Ordering::Relaxed);
        let horizon = if first && !self.meta().is_shared() { self.claim_ms } else { 0 };
        let tasks = self.meta().claim_repairs(now_ms().saturating_add(horizon), self.claim_ms, BATCH).await?;
        // Read once per pass: every task's grant asks for its stream's bucket.
        let buckets = if tasks.is_empty() { Vec::new() } else { self.meta().buckets().await? };
        for mut task in tasks {
            // Deleted meanwhile, or the provider gave the replica up (evacuation): nothing to
            // recreate there.
            let manifest = self.meta().stream_manifest(task.stream_id).await?;
            let Some(manifest) = manifest.filter(|m| m.replicas.contains(&task.provider)) else {
                self.meta().update_repair(task, true).await?;
                continue;
            };
            if !self.health.reachable(&task.provider) {
                task.due_ms = now_ms() + WAIT_FOR_TARGET_MS;
                self.meta().update_repair(task, false).await?;
                continue;
            }
            // Leave to write there: the provider must satisfy the policy of the stream's
            // bucket today. A provider that left it gets no copy; evacuation moves the replica.
            let Some(grant) = self.grant_for(&task, &buckets).await? else {
                tracing::warn!(stream = %task.stream_id, provider = %task.provider, "repair dropped: the provider no longer satisfies the bucket's policy");
                metrics.repair_completed.with_label_values(&[task.provider.as_str(), "refused"]).inc();
                self.meta().update_repair(task, true).await?;
                continue;
            };
            match self.repair(&task, &manifest, &grant).await {
                Ok(()) => {
                    report.repaired += 1;
                    metrics.repair_completed.with_label_values(&[task.provider.as_str(), "ok"]).inc();
                    // The stream may have been deleted, or the replica moved away, while it was
                    // copied: the copy is then deleted like any other the gateway gave up.
                    if let Some(reason) = self.lands_as(&task).await? {
                        let deletion = DeletionTask::new(task.stream_id, task.provider.clone(), reason, now_ms());
                        self.meta().queue_deletions(vec![deletion]).await?;
                    }
                    self.meta().update_repair(task, true).await?;
                }
                Err(e) => {
                    report.failed += 1;
                    metrics.repair_completed.with_label_values(&[task.provider.as_str(), "failed"]).inc();
                    tracing::warn!(stream = %task.stream_id, provider = %task.provider, attempts = task.attempts, error = %crate::report::Report(&e), "repair failed; will retry");
                    task.attempts += 1;
                    let backoff = 1000i64.saturating_mul(1 << task.attempts.min(12)).min(MAX_BACKOFF_MS);
                    task.due_ms = now_ms() + backoff;
                    self.meta().update_repair(task, false).await?;
                }
            }
        }
        self.publish_backlog().await?;
        Ok(report)
    }

    async fn publish_backlog(&self) -> Result<(), MetaError> {
        // Every scheme a policy names shows, as 0 when nothing of it waits.
        let policies = self.state.residency();
        let schemes = policies.policies.values().filter_map(|p| p.erasure).map(ErasureShards::label).collect();
        let mut counter = BacklogCounter::new(self.backends.keys(), schemes, now_ms());
        super::count_queue(COUNT_PAGE, |after, n| self.meta().repairs(after, n), |t| counter.add(t)).await?;
        let backlog = counter.finish();
        let metrics = &self.metrics;
        for (p, b) in &backlog.providers {
            super::set_provider_gauge(&metrics.replication_pending_replicas, p, b.pending_replicas);
            super::set_provider_gauge(&metrics.replication_oldest_pending, p, b.oldest_pending_seconds);
            super::set_provider_gauge(&metrics.repair_stuck_tasks, p, b.stuck_tasks);
        }
        // A scheme no policy names any more, whose last task is done, drops to 0 (not its last
        // count).
        for gone in self.health.repair_backlog().schemes.keys().filter(|s| !backlog.schemes.contains_key(*s)) {
            metrics.repair_pending_by_scheme.with_label_values(&[gone.as_str()]).set(0);
        }
        for (scheme, n) in &backlog.schemes {
            metrics
                .repair_pending_by_scheme
                .with_label_values(&[scheme.as_str()])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        self.health.set_repair_backlog(backlog);
        Ok(())
    }

    /// `None` while the task's replica is wanted (its stream committed, listing the provider);
    /// else why a copy there would have to be deleted.
    async fn lands_as(&self, task: &RepairTask) -> Result<Option<DeletionReason>, MetaError> {
        Ok(match self.meta().stream_manifest(task.stream_id).await? {
            None => Some(DeletionReason::Orphaned),
            Some(m) if !m.replicas.contains(&task.provider) => Some(DeletionReason::Misplaced),
            Some(_) => None,
        })
    }

    /// Copies the stream from the first source that serves it intact; for a sharded stream,
    /// rebuilds the provider's shard from the others.
    async fn repair(&self, task: &RepairTask, m: &StreamManifest, grant: &WriteGrant) -> Result<(), CopyError> {
        if let Redundancy::ReedSolomon(shape) = m.redundancy {
            let shard = m.replicas.iter().position(|p| *p == task.provider).ok_or(CopyError::NoSource)?;
            let hedging = Hedging::of(&self.health, &self.metrics);
            let events = shard_events(&self.meta, &self.metrics, m);
            let to = ShardTarget { shard, provider: &task.provider, grant };
            return rebuild_shard(&self.backends, &hedging, events, m, shape, to).await;
        }
        let sources = task.replicas.iter().filter(|p| **p != task.provider);
        let name = stream_name(task.stream_id);
        let expected = Expected { len: task.ciphertext_len, check: task.ciphertext_check };
        copy_from_first(&self.backends, sources, &task.provider, &name, expected, grant).await
    }

    /// A grant for the task's provider under the policy of the stream's bucket as it is now;
    /// `None` when the provider does not satisfy it (or the stream or its bucket is gone).
    async fn grant_for(
        &self,
        task: &RepairTask,
        buckets: &[crate::meta::BucketRecord],
    ) -> Result<Option<WriteGrant>, MetaError> {
        let Some(owner) = self.meta().stream_owner(task.stream_id).await? else { return Ok(None) };
        let Some(bucket) = buckets.iter().find(|b| b.uid == owner) else { return Ok(None) };
        let residency = self.state.residency();
        let (Some(policy), Some(info)) =
            (residency.policies.get(&bucket.policy_id), residency.provider(&task.provider))
        else {
            return Ok(None);
        };
        Ok(grant_replica(policy, info, crate::service::today()))
    }

    /// Runs passes every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            match self.run_once().await {
                Ok(r) if r.repaired + r.failed > 0 => {
                    tracing::info!(repaired = r.repaired, failed = r.failed, "repair pass");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::report::Report(&e), "repair pass failed"),
            }
        })
        .await;
    }
}

/// Counts the queue per provider, a page at a time (every configured provider appears, with
/// zeros when idle).
struct BacklogCounter {
    per: BTreeMap<String, ProviderBacklog>,
    schemes: BTreeMap<String, u64>,
    total: u64,
    now_ms: i64,
}

impl BacklogCounter {
    /// A count starting at 0 for each of `providers` and `schemes` (and for `replicas`).
    fn new<'a>(providers: impl Iterator<Item = &'a ProviderId>, schemes: Vec<String>, now_ms: i64) -> Self {
        let schemes = schemes.into_iter().chain([Redundancy::Replicas.label()]).map(|s| (s, 0)).collect();
        let per = providers.map(|p| (p.to_string(), ProviderBacklog::default())).collect();
        Self { per, schemes, total: 0, now_ms }
    }

    fn add(&mut self, t: &RepairTask) {
        let age = u64::try_from((self.now_ms - t.created_ms) / 1000).unwrap_or(0);
        let b = self.per.entry(t.provider.to_string()).or_default();
        b.pending_replicas += 1;
        b.oldest_pending_seconds = b.oldest_pending_seconds.max(age);
        b.stuck_tasks += u64::from(t.attempts >= STUCK_ATTEMPTS);
        *self.schemes.entry(t.redundancy.label()).or_default() += 1;
        self.total += 1;
    }

    fn finish(self) -> RepairBacklog {
        RepairBacklog {
            pending_replicas: self.total,
            oldest_pending_seconds: self.per.values().map(|b| b.oldest_pending_seconds).max().unwrap_or(0),
            stuck_tasks: self.per.values().map(|b| b.stuck_tasks).sum(),
            providers: self.per,
            schemes: self.schemes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{StreamId, StripeShape};

    fn task(provider: &str, created_ms: i64, attempts: u32) -> RepairTask {
        RepairTask {
            stream_id: StreamId([1; 16]),
            provider: ProviderId::parse(provider).unwrap(),
            replicas: Vec::new(),
            redundancy: Redundancy::Replicas,
            ciphertext_len: 0,
            ciphertext_check: crate::model::CiphertextCheck([0; 32]),
            attempts,
            due_ms: 0,
            created_ms,
        }
    }

    #[test]
    fn backlog_counts_per_provider_with_oldest_age_and_stuck_tasks() {
        let ids = [ProviderId::parse("a").unwrap(), ProviderId::parse("b").unwrap()];
        let schemes = vec!["rs-4+2".to_owned(), "rs-3+2".to_owned()];
        let mut counter = BacklogCounter::new(ids.iter(), schemes, 70_000);
        let shape = StripeShape { shards: ErasureShards { data: 4, parity: 2 }, chunk: 65_536 };
        let mut shard = task("c", 55_000, 1);
        shard.redundancy = Redundancy::ReedSolomon(shape);
        for t in [task("a", 10_000, 0), task("a", 40_000, 12), shard] {
            counter.add(&t);
        }
        let b = counter.finish();
        assert_eq!(b.pending_replicas, 3);
        let by_scheme: Vec<(&str, u64)> = b.schemes.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        assert_eq!(by_scheme, [("replicas", 2), ("rs-3+2", 0), ("rs-4+2", 1)], "a policy's idle scheme shows 0");
        assert_eq!(b.oldest_pending_seconds, 60);
        assert_eq!(b.stuck_tasks, 1);
        assert_eq!(
            b.providers["a"],
            ProviderBacklog { pending_replicas: 2, oldest_pending_seconds: 60, stuck_tasks: 1 }
        );
        assert_eq!(b.providers["b"], ProviderBacklog::default(), "idle providers show zeros");
        assert_eq!(b.providers["c"].oldest_pending_seconds, 15);
    }
}
