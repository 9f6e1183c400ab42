//! Reading a stream from its replicas (DESIGN.md §6.3): the healthiest first, a hedged second
//! request when the first is late, and the next replica at once when one fails. Works on
//! ciphertext ranges only; the caller verifies what comes back.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use prometheus::IntCounterVec;

use crate::backend::health::{HEDGE_FLOOR, ProviderBook};
use crate::backend::{Backend, BackendError, Backends, CipherStream};
use crate::error::{Error, ErrorKind, Result};
use crate::health::HealthState;
use crate::model::ProviderId;

/// The configured backends of `replicas`, the healthiest first: reachable before unreachable,
/// then by circuit state and recent time to first byte.
pub(crate) fn read_order(replicas: &[ProviderId], backends: &Backends, health: &HealthState) -> Vec<Arc<dyn Backend>> {
    let mut order: Vec<Arc<dyn Backend>> = replicas.iter().filter_map(|p| backends.get(p).map(Arc::clone)).collect();
    let now = Instant::now();
    let book = health.book();
    order.sort_by_key(|b| (!health.reachable(b.id()), book.get(b.id()).map(|s| s.read_rank(now))));
    order
}

/// What the read path needs to hedge: the providers' latency and the hedge budget.
pub(crate) struct Hedging {
    /// Per-provider latency and the hedge budget.
    pub(crate) book: Arc<ProviderBook>,
    /// `souverain_backend_hedged_requests_total`.
    pub(crate) hedged: IntCounterVec,
}

impl Hedging {
    /// The gateway's book of provider latencies and its hedge counter.
    pub(crate) fn of(health: &HealthState, metrics: &crate::metrics::Metrics) -> Self {
        Self { book: Arc::clone(health.book()), hedged: metrics.backend_hedged_requests.clone() }
    }
}

/// A replica's answer with its first chunk already in hand (so "answered" means bytes came).
pub(crate) async fn first_bytes(
    backend: Arc<dyn Backend>,
    name: String,
    range: Range<u64>,
) -> Result<CipherStream, BackendError> {
    let mut cipher = backend.get(&name, Some(range)).await?;
    match cipher.next().await {
        Some(Ok(first)) => Ok(futures_util::stream::once(async { Ok(first) }).chain(cipher).boxed()),
        Some(Err(e)) => Err(e),
        None => Ok(futures_util::stream::empty().boxed()),
    }
}

/// Opens `range` of stream `name` on the replica whose first bytes come first, returning it
/// with the replicas to fail over to (the winner first, then those that did not fail, in
/// order). Replicas are asked in order; one that fails is replaced by the next at once. When
/// the first bytes of the one asked have not come within its hedge delay (its recent p95 time
/// to first byte, at least 50 ms) and the hedge budget (5 % of GETs) allows, the next replica is
/// asked too — once per call — and the first answer wins; the other request is dropped, which
/// cancels it.
pub(crate) async fn open_first(
    hedging: &Hedging,
    replicas: Vec<Arc<dyn Backend>>,
    name: &str,
    range: Range<u64>,
) -> Result<(Vec<Arc<dyn Backend>>, CipherStream)> {
    let start = |i: usize| {
        let attempt = first_bytes(Arc::clone(&replicas[i]), name.to_owned(), range.clone());
        async move { (i, attempt.await) }.boxed()
    };
    let hedge_delay = |i: usize| {
        let now = Instant::now();
        hedging.book.get(replicas[i].id()).map_or(HEDGE_FLOOR, |s| s.hedge_delay(now))
    };
    let mut in_flight = FuturesUnordered::new();
    let mut started: Vec<Option<Instant>> = vec![None; replicas.len()];
    let mut failed = vec![false; replicas.len()];
    let mut next = 0;
    let mut hedge_at: Option<Instant> = None;
    let mut hedged = false;
    let mut last_error: Option<Error> = None;
    loop {
        if in_flight.is_empty() {
            if next == replicas.len() {
                break;
            }
            in_flight.push(start(next));
            started[next] = Some(Instant::now());
            hedge_at = (!hedged).then(|| Instant::now() + hedge_delay(next));
            next += 1;
        }
        let can_hedge = next < replicas.len();
        let hedge_timer = async {
            match hedge_at {
                Some(at) if can_hedge => tokio::time::sleep_until(at.into()).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            Some((i, answer)) = in_flight.next() => match answer {
                Ok(cipher) => {
                    let now = Instant::now();
                    // The losers waited at least this long: a lower bound, recorded so the
                    // next reads prefer the winner.
                    for (j, t) in started.iter().enumerate() {
                        if let (Some(t), true) = (t, j != i && !failed[j])
                            && let Some(stats) = hedging.book.get(replicas[j].id())
                        {
                            stats.observe_ttfb_at_least(now.duration_since(*t), now);
                        }
                    }
                    let mut order = vec![Arc::clone(&replicas[i])];
                    order.extend(replicas.iter().enumerate().filter(|(j, _)| *j != i && !failed[*j]).map(|(_, b)| Arc::clone(b)));
                    return Ok((order, cipher));
                }
                Err(e) => {
                    tracing::warn!(error = %crate::report::Report(&e), "replica unavailable");
                    failed[i] = true;
                    started[i] = None;
                    last_error = Some(e.into());
                }
            },
            () = hedge_timer => {
                hedge_at = None;
                hedged = true;
                if hedging.book.take_hedge() {
                    tracing::debug!(provider = %replicas[next].id(), "hedging a slow read");
                    hedging.hedged.with_label_values(&[replicas[next].id().as_str()]).inc();
                    in_flight.push(start(next));
                    started[next] = Some(Instant::now());
                    next += 1;
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| ErrorKind::unavailable("no replica reachable").into()))
}
