//! Segment repair: a segment is acknowledged once W providers of its placement hold it, so the
//! others that missed it (down, refusing, left behind) would leave the log less redundant than
//! the data it describes, for ever. Each miss is a task in the store; this pass copies the
//! segment from a holder that serves it authentic to the provider, if that provider is still
//! in the placement of the segment's scope as it is now (never beyond the residency grant a
//! new segment would get), and drops the task otherwise.

use std::time::Duration;

use bytes::Bytes;

use super::Inner;
use super::read::fetch_authentic;
use super::segments::Sealed;
use crate::backend::segment_name;
use crate::error::{ErrorKind, Result};
use crate::meta::BucketRecord;
use crate::meta::outbox::{LogRepairTask, LogScope};
use crate::model::ProviderId;

/// Tasks claimed per pass.
const CLAIM: usize = 64;
/// A claimed task is claimable again after this long (its gateway may have died with it).
const LEASE: Duration = Duration::from_mins(1);
/// A pass stops taking tasks after this long (its claims last [`LEASE`]).
const PASS_BUDGET: Duration = Duration::from_secs(40);
/// The longest pause between two attempts of a repair.
const MAX_BACKOFF: Duration = Duration::from_mins(5);

/// What one repair did.
enum Repaired {
    /// The provider holds the segment now.
    Copied,
    /// The provider is no longer in the scope's placement (or the scope's KEK is destroyed):
    /// nothing to copy.
    Moot,
}

impl Inner {
    /// Records a repair for each provider that missed a segment just written, sealed under the
    /// log key of `kek` (named in the task: the default KEK may change before the repair runs).
    pub(super) async fn queue_repairs(
        &self,
        scope: &LogScope,
        kek: &str,
        segment_id: [u8; 16],
        written: super::segments::Written,
    ) {
        if written.missed.is_empty() {
            return;
        }
        let due_ms = crate::service::now_ms();
        let scope = LogScope { kek: Some(kek.to_owned()), ..scope.clone() };
        let tasks = written
            .missed
            .into_iter()
            .map(|provider| LogRepairTask {
                segment_id,
                provider,
                scope: scope.clone(),
                holders: written.holders.clone(),
                due_ms,
                attempts: 0,
            })
            .collect();
        if let Err(e) = self.meta.queue_log_repairs(tasks).await {
            // The segment is durable at W: only its extra copies are not tracked.
            tracing::warn!(error = %crate::report::Report(&e), "queueing log segment repairs failed");
        }
    }

    /// Claims the due segment repairs and carries them out one at a time, for at most
    /// [`PASS_BUDGET`] (well inside the claim's lease) and not past `stop`; a failed one is
    /// queued again with a longer pause, an unfinished one is claimable again once its lease
    /// lapses.
    pub(super) async fn repair_pass(&self, stop: &crate::shutdown::Shutdown) {
        let started = std::time::Instant::now();
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let tasks = match self.meta.claim_log_repairs(crate::service::now_ms(), lease, CLAIM).await {
            Ok(tasks) => tasks,
            Err(e) => {
                tracing::warn!(error = %crate::report::Report(&e), "claiming log segment repairs failed");
                return;
            }
        };
        let buckets = match self.meta.buckets().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %crate::report::Report(&e), "reading the buckets for log segment repairs failed");
                return;
            }
        };
        for task in tasks {
            if stop.is_triggered() || started.elapsed() > PASS_BUDGET {
                break;
            }
            let outcome = match self.repair(&task, current_scope(&task.scope, &buckets)).await {
                Ok(Repaired::Copied) => "copied",
                Ok(Repaired::Moot) => "dropped",
                Err(e) => {
                    tracing::warn!(provider = %task.provider, attempts = task.attempts, error = %crate::report::Report(&e), "log segment repair failed");
                    self.writer.count_repair(&task.provider, "failed");
                    self.retry_later(task).await;
                    continue;
                }
            };
            self.writer.count_repair(&task.provider, outcome);
            if let Err(e) = self.meta.finish_log_repair(task.segment_id, task.provider.clone()).await {
                tracing::warn!(error = %crate::report::Report(&e), "removing a done log segment repair failed");
            }
        }
    }

    /// Queues a failed repair again, due after a pause that doubles with each failure (1 s up
    /// to [`MAX_BACKOFF`]).
    async fn retry_later(&self, mut task: LogRepairTask) {
        let pause = MAX_BACKOFF.min(Duration::from_secs(1u64 << task.attempts.min(16)));
        task.attempts = task.attempts.saturating_add(1);
        task.due_ms = crate::service::now_ms().saturating_add(i64::try_from(pause.as_millis()).unwrap_or(i64::MAX));
        if let Err(e) = self.meta.queue_log_repairs(vec![task]).await {
            tracing::warn!(error = %crate::report::Report(&e), "requeueing a log segment repair failed");
        }
    }

    /// Copies the task's segment if its provider is in the placement of `scope` (the segment's
    /// scope as it is now; `None` once its bucket is deleted).
    async fn repair(&self, task: &LogRepairTask, scope: Option<LogScope>) -> Result<Repaired> {
        let Some(scope) = scope else { return Ok(Repaired::Moot) };
        if scope.kek.as_ref().is_some_and(|kek| self.state.key_state().shredded.contains_key(kek)) {
            return Ok(Repaired::Moot);
        }
        let (placement, key) = self.target(&scope).await?;
        if !placement.targets().contains(&task.provider) {
            return Ok(Repaired::Moot);
        }
        if self.writer.usable(&task.provider).is_none() {
            // Not fetched for nothing: tried again later.
            return Err(ErrorKind::unavailable(format!("provider {} is unreachable", task.provider)).into());
        }
        let name = segment_name(&task.segment_id);
        // The holders of the time, then the placement's other providers (a later repair may
        // have brought it there).
        let mut sources = task.holders.clone();
        sources.extend(placement.targets().iter().filter(|p| !task.holders.contains(p)).cloned());
        let bytes = self.authentic_copy(&sources, &task.provider, &name, &key).await?;
        let segment = Sealed { segment_id: task.segment_id, bytes: Bytes::from(bytes), key: &key };
        self.writer.copy_to(&placement, &task.provider, &segment).await?;
        Ok(Repaired::Copied)
    }

    /// The segment as the first holder serves it authentic (a damaged copy is never spread).
    async fn authentic_copy(
        &self,
        holders: &[ProviderId],
        provider: &ProviderId,
        name: &str,
        key: &crate::keys::log_key::LogKey,
    ) -> Result<Vec<u8>> {
        let mut why = Vec::new();
        for holder in holders.iter().filter(|h| *h != provider) {
            let Some(backend) = self.writer.usable(holder) else { continue };
            match fetch_authentic(backend.as_ref(), name, key).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) => why.push(format!("{holder}: {e}")),
            }
        }
        Err(ErrorKind::unavailable(format!("no holder served {name} authentic: {}", why.join("; "))).into())
    }
}

/// Where a segment of `scope` belongs now: its bucket's current policy (a rebinding moves the
/// placement), under the KEK it was sealed with; the catalog's stays the default policy's.
/// `None` when the bucket was deleted (its deletion is logged in the catalog; its earlier
/// segments need no more copies).
fn current_scope(scope: &LogScope, buckets: &[BucketRecord]) -> Option<LogScope> {
    let Some(uid) = scope.bucket else { return Some(scope.clone()) };
    let rec = buckets.iter().find(|b| b.uid == uid)?;
    Some(LogScope::bucket(rec, scope.kek.clone()))
}
