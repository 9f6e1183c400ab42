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
