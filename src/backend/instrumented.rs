//! A [`Backend`] wrapper that records each provider call in the metrics (count by outcome,
//! latency, bytes in both directions) and in the provider's passive health (circuit breaker,
//! time to first byte of reads).

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures_util::StreamExt;

use super::health::ProviderStats;
use super::{Backend, BackendError, BackendErrorKind, CipherStream, GrantedBody};
use crate::metrics::Metrics;
use crate::model::ProviderId;

/// Measures every call of the wrapped backend.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    stats: Arc<ProviderStats>,
}

/// Whether an error says the provider is not working (as opposed to answering, say, 404).
fn provider_failed(e: &BackendError) -> bool {
    match e.kind {
        BackendErrorKind::Connect
        | BackendErrorKind::Timeout
        | BackendErrorKind::Io
        | BackendErrorKind::Protocol
        | BackendErrorKind::Auth => true,
        BackendErrorKind::Status(s) => s >= 500,
        BackendErrorKind::NotFound
        | BackendErrorKind::Aborted
        | BackendErrorKind::Throttled
        | BackendErrorKind::Refused => false,
    }
}

impl Instrumented {
    /// Wraps `inner`, reporting to `metrics` and `stats`.
    pub fn new(inner: Arc<dyn Backend>, metrics: Arc<Metrics>, stats: Arc<ProviderStats>) -> Self {
        Self { inner, metrics, stats }
    }

    fn record<T>(&self, op: &str, started: Instant, result: &Result<T, BackendError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => match e.kind {
                BackendErrorKind::Timeout => "timeout",
                BackendErrorKind::Connect => "connect_error",
                BackendErrorKind::Throttled => "throttled",
                BackendErrorKind::Status(s) if s >= 500 => "server_error",
                BackendErrorKind::Io => "server_error",
                _ => "client_error",
            },
        };
        let provider = self.inner.id().as_str();
        self.metrics.backend_requests.with_label_values(&[provider, op, outcome]).inc();
        self.metrics.backend_duration.with_label_values(&[provider, op]).observe(started.elapsed().as_secs_f64());
        self.stats.record(result.as_ref().err().is_some_and(provider_failed), Instant::now());
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for Instrumented {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn put(&self, name: &str, len: u64, body: GrantedBody) -> Result<(), BackendError> {
        let started = Instant::now();
        let r = self.inner.put(name, len, body).await;
        self.record("put", started, &r);
        if r.is_ok() {
            self.metrics.backend_bytes.with_label_values(&[self.inner.id().as_str(), "out"]).inc_by(len);
        }
        r
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<CipherStream, BackendError> {
        let started = Instant::now();
        let r = self.inner.get(name, range).await;
        self.record("get", started, &r);
        let counter = self.metrics.backend_bytes.with_label_values(&[self.inner.id().as_str(), "in"]);
        let stats = Arc::clone(&self.stats);
        let mut first = true;
        r.map(|s| {
            s.inspect(move |chunk| match chunk {
                Ok(c) => {
                    if std::mem::take(&mut first) {
                        stats.observe_ttfb(started.elapsed(), Instant::now());
                    }
                    counter.inc_by(c.len() as u64);
                }
                // A body cut off or garbled in flight is a provider failure too.
                Err(e) => stats.record(provider_failed(e), Instant::now()),
            })
            .boxed()
        })
    }

    async fn head(&self, name: &str) -> Result<Option<u64>, BackendError> {
        let started = Instant::now();
        let r = self.inner.head(name).await;
        self.record("head", started, &r);
        r
    }

    async fn delete(&self, name: &str) -> Result<(), BackendError> {
        let started = Instant::now();
        let r = self.inner.delete(name).await;
        self.record("delete", started, &r);
        r
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>, BackendError> {
        let started = Instant::now();
        let r = self.inner.list(prefix, after, limit).await;
        self.record("list", started, &r);
        r
    }

    async fn protection(&self) -> Result<super::ProviderProtection, BackendError> {
        self.inner.protection().await
    }
}
