//! Garbage collection of provider streams: queued GC tasks (replaced, deleted, aborted or
//! refused streams) and stale intents (uploads a crash or cancellation interrupted).

use std::sync::Arc;
use std::time::Duration;

use crate::backend::stream_name;
use crate::meta::{GcTask, MetaError, MetadataStore};
use crate::model::StreamId;
use crate::service::ObjectService;
use crate::shutdown::Shutdown;

const BATCH: usize = 256;

/// Deletes streams nothing references any more.
pub struct GarbageCollector {
    service: Arc<ObjectService>,
    /// Intents of this run older than this are abandoned uploads (client gone, task dropped).
    intent_ttl: Duration,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GcReport {
    /// Streams deleted from every provider.
    pub deleted: usize,
    /// Streams left for a later pass because a provider failed.
    pub deferred: usize,
}

impl GarbageCollector {
    /// A collector for this run.
    pub fn new(service: Arc<ObjectService>, intent_ttl: Duration) -> Self {
        Self { service, intent_ttl }
    }

    fn meta(&self) -> &Arc<dyn MetadataStore> {
        self.service.meta()
    }

    /// One full pass over stale intents and queued tasks.
    pub async fn run_once(&self) -> Result<GcReport, MetaError> {
        let mut report = GcReport::default();
        let cutoff = crate::service::now_ms() - self.intent_ttl.as_millis() as i64;
        let live = super::cluster::live_boots(&self.service).await?;
        let mut tasks: Vec<GcTask> = self
            .meta()
            .stale_intents(live, cutoff, usize::MAX)
            .await?
            .into_iter()
            .map(|i| GcTask { stream_id: i.stream_id, targets: i.targets })
            .collect();
        // One batch of queued tasks per pass (passes repeat); stale intents all at once.
        let queued = self.meta().gc_tasks(BATCH).await?;
        tasks.extend(
            queued.into_iter().filter(|t| !tasks.iter().any(|x| x.stream_id == t.stream_id)).collect::<Vec<_>>(),
        );
        let metrics = self.service.metrics();
        metrics.gc_pending_streams.set(tasks.len() as i64);
        let mut done: Vec<StreamId> = Vec::new();
        for task in tasks {
            // Re-check: a stream that a commit references must never be deleted.
            if self.meta().stream_committed(task.stream_id).await? {
                done.push(task.stream_id);
                continue;
            }
            if self.delete_everywhere(&task).await {
                report.deleted += 1;
                metrics.gc_deleted_streams.inc();
                done.push(task.stream_id);
            } else {
                report.deferred += 1;
            }
        }
        for chunk in done.chunks(BATCH) {
            self.meta().finish_gc(chunk).await?;
        }
        // Completed-upload records answer retried Completes for a day.
        self.meta().expire_completed(crate::service::now_ms() - 24 * 3600 * 1000).await?;
        Ok(report)
    }

    async fn delete_everywhere(&self, task: &GcTask) -> bool {
        let name = stream_name(task.stream_id);
        let mut ok = true;
        for p in &task.targets {
            let Some(backend) = self.service.backends().get(p) else {
                continue;
            };
            if let Err(e) = backend.delete(&name).await {
                tracing::warn!(stream = %task.stream_id, error = %e, "gc delete failed; will retry");
                ok = false;
            }
        }
        ok
    }

    /// Runs passes every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            match self.run_once().await {
                Ok(r) if r.deleted + r.deferred > 0 => {
                    tracing::info!(deleted = r.deleted, deferred = r.deferred, "gc pass")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "gc pass failed"),
            }
        })
        .await
    }
}
