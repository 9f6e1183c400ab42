//! When a connection is idle: no request in flight (its response body included) since some
//! instant. hyper's HTTP/1 side cuts idle keep-alive connections at the header deadline, but its
//! HTTP/2 side has no such deadline: a client that sends the preface and then nothing (or opens no
//! stream for hours) would hold a connection slot for ever. The listener closes any connection
//! that stays idle past the header deadline, whatever its protocol.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use http_body::{Body, Frame, SizeHint};

/// Requests in flight on one connection and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` at which the last request finished (0: none yet).
    idle_since_ms: AtomicU64,
}

impl Activity {
    /// A connection opened now, with no request yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self { opened: Instant::now(), in_flight: AtomicUsize::new(0), idle_since_ms: AtomicU64::new(0) })
    }

    /// A request started; it is in flight until the guard is dropped.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// How long the connection has had no request in flight (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        let since = Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst));
        self.opened.elapsed().saturating_sub(since)
    }

    /// Resolves once the connection has been idle for `limit` without a break.
    pub async fn idle(&self, limit: Duration) {
        loop {
            let idle = self.idle_for();
            if idle >= limit {
                return;
            }
            // While a request runs, look again after a whole limit: it cannot expire sooner.
            tokio::time::sleep(if idle.is_zero() { limit } else { limit.saturating_sub(idle) }).await;
        }
    }
}

/// A request in flight; dropping it (the response body finished or was dropped) ends it.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let now = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
        activity.idle_since_ms.store(now, Ordering::SeqCst);
        activity.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `inner`, with each request counted in flight on `activity` until its response body ends.
#[derive(Debug, Clone)]
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    /// Counts `inner`'s requests on `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R, B> hyper::service::Service<R> for Tracked<S>
where
    S: hyper::service::Service<R, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Body + Unpin,
{
    type Response = http::Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn call(&self, req: R) -> Self::Future {
        let in_flight = self.activity.begin();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody { body, _in_flight: in_flight }))
        })
    }
}

/// A response body that keeps its request in flight until it ends.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn idle_counts_from_the_last_request_and_never_while_one_runs() {
        let activity = Activity::new();
        let running = activity.begin();
        // A request running longer than the limit (a big download) is not idleness.
        assert!(tokio::time::timeout(LIMIT * 2, activity.idle(LIMIT)).await.is_err());
        assert_eq!(activity.idle_for(), Duration::ZERO);
        drop(running);
        // Expires one limit after the request ended, not after the connection opened.
        let ended = Instant::now();
        activity.idle(LIMIT).await;
        let waited = ended.elapsed();
        assert!(waited >= LIMIT && waited < LIMIT * 2, "{waited:?}");
    }

    #[tokio::test]
    async fn a_connection_without_any_request_expires_one_limit_after_it_opened() {
        let activity = Activity::new();
        activity.idle(LIMIT).await;
        let waited = activity.opened.elapsed();
        assert!(waited >= LIMIT && waited < LIMIT * 2, "{waited:?}");
    }
}
