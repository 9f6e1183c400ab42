//! Background loops. Each stops on shutdown.

pub mod cluster;
pub mod evacuation;
pub mod gc;
pub mod health;
pub mod lifecycle;
pub mod repair;
pub mod rotation;
pub mod scrub;
pub mod usage;

pub use gc::GarbageCollector;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::sync::Notify;

use crate::health::HealthState;
use crate::keys::KeyProvider;
use crate::meta::{JobRecord, MetaError, MetadataStore};
use crate::metrics::Metrics;
use crate::model::BootId;
use crate::service::now_ms;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;

pub use crate::backend::Backends;

/// The gateway's shared parts, from which `app.rs` gives each worker what it uses (each
/// worker keeps only those; none reaches through the object service).
#[derive(Clone)]
pub struct Context {
    /// The metadata store.
    pub meta: Arc<dyn MetadataStore>,
    /// The providers.
    pub backends: Backends,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Provider health.
    pub health: Arc<HealthState>,
    /// The residency and key state in force, and the jobs' wakes.
    pub state: Arc<GatewayState>,
    /// The key provider.
    pub keys: Arc<dyn KeyProvider>,
    /// This gateway run.
    pub boot_id: BootId,
}

/// Runs `pass` now, then again `every` later (or at once when `wake` is notified), until
/// shutdown. The one loop every worker runs in.
pub(crate) async fn repeat<F, Fut>(every: Duration, wake: Option<&Notify>, mut shutdown: Shutdown, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        pass().await;
        let woken = async {
            match wake {
                Some(w) => w.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = woken => {}
            () = shutdown.wait() => return,
        }
    }
}

/// Reads a per-replica queue (`page` lists the tasks after a cursor) a page of `size` at a
/// time, handing each task to `add`: the gauges count a queue of any length in bounded memory.
pub(crate) async fn count_queue<T, F, Fut>(
    size: usize,
    page: F,
    mut add: impl FnMut(&T),
) -> Result<(), crate::meta::MetaError>
where
    T: crate::meta::ReplicaTask,
    F: Fn(Option<crate::meta::ReplicaCursor>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<T>, crate::meta::MetaError>>,
{
    let mut after = None;
    loop {
        let tasks = page(after, size).await?;
        let Some(last) = tasks.last() else { return Ok(()) };
        after = Some(last.cursor());
        tasks.iter().for_each(&mut add);
    }
}

/// Sets a per-provider gauge (saturating at `i64::MAX`).
pub(crate) fn set_provider_gauge(gauge: &prometheus::IntGaugeVec, provider: &str, value: u64) {
    gauge.with_label_values(&[provider]).set(i64::try_from(value).unwrap_or(i64::MAX));
}

/// How long a gateway's lease on a singleton job (scrubber, evacuation, rotation) lasts
/// without renewal: another gateway takes the job over this long after its holder died.
pub const JOB_LEASE: Duration = Duration::from_mins(1);

/// This gateway's lease on a singleton job. With several gateways on one database, one of
/// them runs each job at a time; a store one process owns always grants it.
pub(crate) struct JobLease {
    name: &'static str,
    meta: Arc<dyn MetadataStore>,
    boot_id: BootId,
    renewed: Mutex<Option<Instant>>,
}

impl JobLease {
    /// This run's lease on job `name`.
    pub(crate) fn new(name: &'static str, ctx: &Context) -> Self {
        Self { name, meta: Arc::clone(&ctx.meta), boot_id: ctx.boot_id, renewed: Mutex::new(None) }
    }

    /// True if this gateway holds the lease now: taken, or renewed once a third of it ran out.
    pub(crate) async fn hold(&self) -> Result<bool, MetaError> {
        let fresh = |r: &Option<Instant>| r.is_some_and(|t| t.elapsed() < JOB_LEASE / 3);
        if self.renewed.lock().is_ok_and(|r| fresh(&r)) {
            return Ok(true);
        }
        let ttl = i64::try_from(JOB_LEASE.as_millis()).unwrap_or(i64::MAX);
        let held = self.meta.take_lease(self.name, self.boot_id, now_ms(), ttl).await?;
        if let Ok(mut r) = self.renewed.lock() {
            *r = held.then(Instant::now);
        }
        Ok(held)
    }
}

/// Saves a walking job's state (evacuation, key rotation) and publishes its progress gauges.
pub(crate) async fn save_job(meta: &dyn MetadataStore, metrics: &Metrics, job: &JobRecord) -> Result<(), MetaError> {
    let mut j = job.clone();
    j.updated_ms = now_ms();
    let remaining = j.total.saturating_sub(j.scanned);
    metrics.job_progress.with_label_values(&[j.name.as_str()]).set(j.progress());
    metrics.job_remaining.with_label_values(&[j.name.as_str()]).set(if j.state == "done" {
        0
    } else {
        i64::try_from(remaining).unwrap_or(i64::MAX)
    });
    meta.put_job(j).await
}
