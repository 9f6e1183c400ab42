//! Background loops. Each stops on shutdown.

pub mod evacuation;
pub mod gc;
pub mod health;
pub mod repair;
pub mod rotation;
pub mod scrub;
pub mod usage;

pub use gc::GarbageCollector;

use std::future::Future;
use std::time::Duration;

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
