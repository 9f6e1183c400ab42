//! Background loops. Each stops on shutdown.

pub mod cluster;
pub mod evacuation;
pub mod gc;
pub mod health;
pub mod repair;
pub mod rotation;
pub mod scrub;
pub mod usage;

pub use gc::GarbageCollector;

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::shutdown::Shutdown;

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
pub const JOB_LEASE: Duration = Duration::from_secs(60);

/// This gateway's lease on a singleton job. With several gateways on one database, one of
/// them runs each job at a time; a store one process owns always grants it.
pub(crate) struct JobLease {
    name: &'static str,
    renewed: Mutex<Option<Instant>>,
}

impl JobLease {
    /// The lease on job `name`.
    pub(crate) fn new(name: &'static str) -> Self {
        Self { name, renewed: Mutex::new(None) }
    }

    /// True if this gateway holds the lease now: taken, or renewed once a third of it ran out.
    pub(crate) async fn hold(&self, service: &crate::service::ObjectService) -> Result<bool, crate::meta::MetaError> {
        let fresh = |r: &Option<Instant>| r.is_some_and(|t| t.elapsed() < JOB_LEASE / 3);
        if self.renewed.lock().is_ok_and(|r| fresh(&r)) {
            return Ok(true);
        }
        let ttl = i64::try_from(JOB_LEASE.as_millis()).unwrap_or(i64::MAX);
        let held = service.meta().take_lease(self.name, service.boot_id(), crate::service::now_ms(), ttl).await?;
        if let Ok(mut r) = self.renewed.lock() {
            *r = held.then(Instant::now);
        }
        Ok(held)
    }
}

/// Saves a walking job's state (evacuation, key rotation) and publishes its progress gauges.
pub(crate) async fn save_job(
    service: &crate::service::ObjectService,
    job: &crate::meta::JobRecord,
) -> Result<(), crate::meta::MetaError> {
    let mut j = job.clone();
    j.updated_ms = crate::service::now_ms();
    let m = service.metrics();
    let remaining = j.total.saturating_sub(j.scanned);
    m.job_progress.with_label_values(&[j.name.as_str()]).set(j.progress());
    m.job_remaining.with_label_values(&[j.name.as_str()]).set(if j.state == "done" { 0 } else { remaining as i64 });
    service.meta().put_job(j).await
}
