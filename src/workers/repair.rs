//! The repair worker: drains the durable repair queue (hinted handoff), copying each missing
//! replica's ciphertext from a replica that has it. The copy is checked against the recorded
//! SHA-256 before its last chunk is released, so a target never receives a complete wrong
//! stream. Failed tasks stay queued with exponential backoff (never dropped).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::backend::{Backend, BodyAborted, SealedBody, stream_name};
use crate::health::{ProviderBacklog, RepairBacklog};
use crate::meta::{MetaError, MetadataStore, RepairTask};
use crate::model::ProviderId;
use crate::service::{ObjectService, now_ms};
use crate::shutdown::Shutdown;
use crate::workers::health::HealthState;

const BATCH: usize = 32;
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// A task whose target is known to be down is looked at again after this, without counting
/// an attempt: the provider's return (seen by the health checker) starts its repair.
const WAIT_FOR_TARGET_MS: i64 = 2_000;
/// Attempts after which a task counts as stuck (it stays queued and retried).
const STUCK_ATTEMPTS: u32 = 10;

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
    service: Arc<ObjectService>,
    health: Arc<HealthState>,
    /// How long a claimed task is this worker's before another (of any gateway) may take it.
    claim_ms: i64,
}

impl RepairWorker {
    /// A worker over the service's providers; each task it takes is its own for `claim`.
    pub fn new(service: Arc<ObjectService>, health: Arc<HealthState>, claim: Duration) -> Self {
        Self { service, health, claim_ms: i64::try_from(claim.as_millis()).unwrap_or(i64::MAX) }
    }

    fn meta(&self) -> &Arc<dyn MetadataStore> {
        self.service.meta()
    }

    /// One pass over the due tasks, then the backlog gauges.
    pub async fn run_once(&self) -> Result<RepairReport, MetaError> {
        let mut report = RepairReport::default();
        let metrics = self.service.metrics();
        for mut task in self.meta().claim_repairs(now_ms(), self.claim_ms, BATCH).await? {
            if !self.meta().stream_committed(task.stream_id).await? {
                self.meta().update_repair(task, true).await?;
                continue;
            }
            if !self.health.reachable(&task.provider) {
                task.due_ms = now_ms() + WAIT_FOR_TARGET_MS;
                self.meta().update_repair(task, false).await?;
                continue;
            }
            match self.repair(&task).await {
                Ok(()) => {
                    report.repaired += 1;
                    metrics.repair_completed.with_label_values(&[task.provider.as_str(), "ok"]).inc();
                    // The stream may have been deleted while it was copied: remove the copy then.
                    if !self.meta().stream_committed(task.stream_id).await? {
                        self.remove_copy(&task).await;
                    }
                    self.meta().update_repair(task, true).await?;
                }
                Err(e) => {
                    report.failed += 1;
                    metrics.repair_completed.with_label_values(&[task.provider.as_str(), "failed"]).inc();
                    tracing::warn!(stream = %task.stream_id, provider = %task.provider, attempts = task.attempts, error = %e, "repair failed; will retry");
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
        let all = self.meta().repairs(1_000_000).await?;
        let backlog = count_backlog(&all, self.service.backends().keys(), now_ms());
        let metrics = self.service.metrics();
        for (p, b) in &backlog.providers {
            let gauge = |g: &prometheus::IntGaugeVec, v: u64| {
                g.with_label_values(&[p.as_str()]).set(i64::try_from(v).unwrap_or(i64::MAX))
            };
            gauge(&metrics.replication_pending_replicas, b.pending_replicas);
            gauge(&metrics.replication_oldest_pending, b.oldest_pending_seconds);
            gauge(&metrics.repair_stuck_tasks, b.stuck_tasks);
        }
        self.health.set_repair_backlog(backlog);
        Ok(())
    }

    async fn remove_copy(&self, task: &RepairTask) {
        if let Some(b) = self.service.backends().get(&task.provider) {
            let _ = b.delete(&stream_name(task.stream_id)).await;
        }
    }

    /// Copies the stream from the first source that serves it intact.
    async fn repair(&self, task: &RepairTask) -> Result<(), String> {
        let sources = task.replicas.iter().filter(|p| **p != task.provider);
        copy_from_first(self.service.backends(), sources, task).await
    }

    /// Runs passes every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            match self.run_once().await {
                Ok(r) if r.repaired + r.failed > 0 => {
                    tracing::info!(repaired = r.repaired, failed = r.failed, "repair pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "repair pass failed"),
            }
        })
        .await
    }
}

/// Counts the queue per provider (every configured provider appears, with zeros when idle).
fn count_backlog<'a>(
    tasks: &[RepairTask],
    providers: impl Iterator<Item = &'a crate::model::ProviderId>,
    now_ms: i64,
) -> RepairBacklog {
    let mut per: BTreeMap<String, ProviderBacklog> =
        providers.map(|p| (p.to_string(), ProviderBacklog::default())).collect();
    let age = |t: &RepairTask| u64::try_from((now_ms - t.created_ms) / 1000).unwrap_or(0);
    for t in tasks {
        let b = per.entry(t.provider.to_string()).or_default();
        b.pending_replicas += 1;
        b.oldest_pending_seconds = b.oldest_pending_seconds.max(age(t));
        b.stuck_tasks += u64::from(t.attempts >= STUCK_ATTEMPTS);
    }
    RepairBacklog {
        pending_replicas: tasks.len() as u64,
        oldest_pending_seconds: per.values().map(|b| b.oldest_pending_seconds).max().unwrap_or(0),
        stuck_tasks: per.values().map(|b| b.stuck_tasks).sum(),
        providers: per,
    }
}

/// Copies the stream of `task` to `task.provider` from the first of `sources` that serves it
/// intact (verified as [`copy_verified`] does); the last failure otherwise.
pub(crate) async fn copy_from_first<'a>(
    backends: &HashMap<ProviderId, Arc<dyn Backend>>,
    sources: impl Iterator<Item = &'a ProviderId>,
    task: &RepairTask,
) -> Result<(), String> {
    let target = backends.get(&task.provider).ok_or("the provider is no longer configured")?;
    let mut last = String::from("no source replica");
    for source in sources.filter_map(|p| backends.get(p)) {
        match copy_verified(source.as_ref(), target.as_ref(), task).await {
            Ok(()) => return Ok(()),
            Err(e) => last = format!("from {}: {e}", source.id()),
        }
    }
    Err(last)
}

/// Streams `source`'s copy to `target`, holding back the last chunk until the length and
/// SHA-256 match the task.
pub(crate) async fn copy_verified(source: &dyn Backend, target: &dyn Backend, task: &RepairTask) -> Result<(), String> {
    let name = stream_name(task.stream_id);
    let mut cipher = source.get(&name, None).await.map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, BodyAborted>>(4);
    let put = target.put(&name, task.ciphertext_len, SealedBody::new(rx));
    let feed = async move {
        let mut sha = ring::digest::Context::new(&ring::digest::SHA256);
        let mut len = 0u64;
        let mut held: Option<Bytes> = None;
        while let Some(chunk) = cipher.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(BodyAborted)).await;
                    return Err(e.to_string());
                }
            };
            sha.update(&chunk);
            len += chunk.len() as u64;
            if let Some(prev) = held.replace(chunk)
                && tx.send(Ok(prev)).await.is_err()
            {
                return Err("target stopped reading".into());
            }
        }
        if len != task.ciphertext_len || sha.finish().as_ref() != task.ciphertext_sha256 {
            let _ = tx.send(Err(BodyAborted)).await;
            return Err("source replica does not match its recorded SHA-256".into());
        }
        if let Some(last) = held {
            tx.send(Ok(last)).await.map_err(|_| "target stopped reading".to_owned())?;
        }
        Ok(())
    };
    let (fed, put) = tokio::join!(feed, put);
    fed?;
    put.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ProviderId, StreamId};

    fn task(provider: &str, created_ms: i64, attempts: u32) -> RepairTask {
        RepairTask {
            stream_id: StreamId([1; 16]),
            provider: ProviderId::parse(provider).unwrap(),
            replicas: Vec::new(),
            ciphertext_len: 0,
            ciphertext_sha256: [0; 32],
            attempts,
            due_ms: 0,
            created_ms,
        }
    }

    #[test]
    fn backlog_counts_per_provider_with_oldest_age_and_stuck_tasks() {
        let ids = [ProviderId::parse("a").unwrap(), ProviderId::parse("b").unwrap()];
        let tasks = [task("a", 10_000, 0), task("a", 40_000, 12), task("c", 55_000, 1)];
        let b = count_backlog(&tasks, ids.iter(), 70_000);
        assert_eq!(b.pending_replicas, 3);
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
