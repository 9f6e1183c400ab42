//! Reading an erasure-coded stream (issue 26): `k` shards at a time, the data shards of the
//! healthiest providers first, so a healthy read only concatenates. Each chunk's trailer is
//! checked as it arrives; a shard that fails (an error, a short body, a damaged chunk) is
//! replaced by the next holder from the same stripe on, and the stripe is rebuilt from any `k`
//! good chunks. Opening hedges like replica reads: when a shard's first bytes are late, one
//! more holder is asked and the first `k` to answer are read. Works on ciphertext ranges;
//! the caller decrypts and verifies.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, FuturesUnordered};
use futures_util::{FutureExt, StreamExt};
use prometheus::IntCounter;
use reed_solomon_simd::ReedSolomonDecoder;

use super::layout::{CHUNK_CHECK_LEN, ShardLayout, chunk_check};
use crate::backend::health::HEDGE_FLOOR;
use crate::backend::{Backend, BackendError, Backends, CipherStream};
use crate::error::{Error, ErrorKind, Result};
use crate::health::HealthState;
use crate::model::{ProviderId, StreamId};
use crate::pools::Pool;
use crate::replicate::read::{Hedging, first_bytes};

/// A holder of shard `.0`.
pub(crate) type Holder = (usize, Arc<dyn Backend>);

/// The configured holders of a sharded stream (holder `i` has shard `i`), in the order to
/// read them: reachable before unreachable, data shards before parity (no rebuild needed),
/// then by circuit state and recent time to first byte.
pub(crate) fn read_order(
    holders: &[ProviderId],
    data_shards: usize,
    backends: &Backends,
    health: &HealthState,
) -> Vec<Holder> {
    let mut order: Vec<Holder> =
        holders.iter().enumerate().filter_map(|(i, p)| backends.get(p).map(|b| (i, Arc::clone(b)))).collect();
    let now = Instant::now();
    let book = health.book();
    order.sort_by_key(|(i, b)| {
        (!health.reachable(b.id()), *i >= data_shards, book.get(b.id()).map(|s| s.read_rank(now)))
    });
    order
}

/// What a sharded read reports as it goes.
#[derive(Clone)]
pub(crate) struct ShardEvents {
    /// Called with the provider of a shard whose chunk failed its check (read repair).
    pub(crate) damaged: Arc<dyn Fn(&ProviderId) + Send + Sync>,
    /// Stripes rebuilt from parity.
    pub(crate) reconstructions: IntCounter,
    /// Reads that met a missing or failed data shard.
    pub(crate) degraded_reads: IntCounter,
}

/// Reads ciphertext bytes `range` of a stream laid out as `layout`, from `order` (see
/// [`read_order`]).
pub(crate) async fn open(
    hedging: &Hedging,
    layout: ShardLayout,
    stream: StreamId,
    name: &str,
    order: Vec<Holder>,
    range: Range<u64>,
    events: ShardEvents,
) -> Result<BoxStream<'static, Result<Bytes>>> {
    let stripes = layout.stripes_for(&range);
    let shard_range = layout.shard_range(&stripes);
    let k = layout.data_shards();
    let (sources, spares) = open_sources(hedging, order, name, shard_range, k).await?;
    let degraded = sources.iter().any(|s| s.shard >= k);
    if degraded {
        events.degraded_reads.inc();
    }
    let reader = Reader {
        layout,
        stream,
        name: name.to_owned(),
        sources,
        spares,
        stripe: *stripes.start(),
        last: *stripes.end(),
        range,
        decoder: None,
        degraded,
        events,
    };
    Ok(futures_util::stream::try_unfold(reader, |mut r| async move { Ok(r.next_stripe().await?.map(|b| (b, r))) })
        .boxed())
}

/// Opens `k` holders on `range` of their shard, the first `k` to send bytes; the rest are
/// spares. A holder that fails is replaced by the next; when one is late (its hedge delay,
/// at least 50 ms), one more is asked once, within the hedge budget.
async fn open_sources(
    hedging: &Hedging,
    order: Vec<Holder>,
    name: &str,
    range: Range<u64>,
    k: usize,
) -> Result<(Vec<Source>, VecDeque<Holder>)> {
    let total = order.len();
    let mut waiting: VecDeque<Holder> = order.into();
    let start = |(shard, backend): Holder| {
        let attempt = first_bytes(Arc::clone(&backend), name.to_owned(), range.clone());
        async move { ((shard, backend), attempt.await) }.boxed()
    };
    let mut in_flight = FuturesUnordered::new();
    let mut started: Vec<Holder> = Vec::new();
    for _ in 0..k {
        let Some(h) = waiting.pop_front() else { break };
        started.push((h.0, Arc::clone(&h.1)));
        in_flight.push(start(h));
    }
    let now = Instant::now();
    let delay = started
        .iter()
        .map(|(_, b)| hedging.book.get(b.id()).map_or(HEDGE_FLOOR, |s| s.hedge_delay(now)))
        .max()
        .unwrap_or(HEDGE_FLOOR);
    let mut hedge_at = Some(now + delay);
    let mut sources: Vec<Source> = Vec::new();
    let mut last_error: Option<BackendError> = None;
    while sources.len() < k {
        let hedge_timer = async {
            match hedge_at {
                Some(at) if !waiting.is_empty() => tokio::time::sleep_until(at.into()).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            answer = in_flight.next() => match answer {
                Some(((shard, backend), Ok(body))) => {
                    started.retain(|(i, _)| *i != shard);
                    sources.push(Source { shard, backend, body, buf: BytesMut::new() });
                }
                Some(((shard, _), Err(e))) => {
                    tracing::warn!(shard, error = %crate::report::Report(&e), "shard unavailable");
                    started.retain(|(i, _)| *i != shard);
                    last_error = Some(e);
                    if let Some(h) = waiting.pop_front() {
                        started.push((h.0, Arc::clone(&h.1)));
                        in_flight.push(start(h));
                    }
                }
                None => break,
            },
            () = hedge_timer => {
                hedge_at = None;
                if hedging.book.take_hedge()
                    && let Some(h) = waiting.pop_front()
                {
                    tracing::debug!(provider = %h.1.id(), "hedging a slow shard");
                    hedging.hedged.with_label_values(&[h.1.id().as_str()]).inc();
                    started.push((h.0, Arc::clone(&h.1)));
                    in_flight.push(start(h));
                }
            }
        }
    }
    if sources.len() < k {
        let detail = format!("only {} of {total} shard holders answered; {k} needed", sources.len());
        return Err(match last_error {
            Some(e) => ErrorKind::Unavailable { context: detail.into(), source: Some(Box::new(e)) }.into(),
            None => ErrorKind::unavailable(detail).into(),
        });
    }
    // Asked but beaten (requests dropped now): first in line should another fail.
    started.extend(waiting);
    Ok((sources, started.into()))
}

/// One open shard.
struct Source {
    shard: usize,
    backend: Arc<dyn Backend>,
    body: CipherStream,
    buf: BytesMut,
}

/// Why a shard's chunk could not be used.
#[derive(Debug, thiserror::Error)]
enum ChunkError {
    #[error("reading the shard failed")]
    Backend(#[source] BackendError),
    #[error("the shard ended early")]
    Short,
    #[error("the shard holder sent nothing for too long")]
    Stalled,
    #[error("the chunk fails its check")]
    Damaged,
}

impl Source {
    /// The next `n` bytes; a holder that sends nothing for [`STALL`] is given up (another
    /// takes its place from this stripe on).
    async fn take(&mut self, n: usize) -> Result<Bytes, ChunkError> {
        while self.buf.len() < n {
            match tokio::time::timeout(STALL, self.body.next()).await {
                Ok(Some(Ok(b))) => self.buf.extend_from_slice(&b),
                Ok(Some(Err(e))) => return Err(ChunkError::Backend(e)),
                Ok(None) => return Err(ChunkError::Short),
                Err(_) => return Err(ChunkError::Stalled),
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }
}

/// How long a shard holder may send nothing in the middle of a read (the provider deadline
/// of DESIGN §6.1 for a first byte).
const STALL: std::time::Duration = std::time::Duration::from_secs(10);

/// Checks a chunk with its trailer; the chunk without it.
fn verified(stream: StreamId, shard: usize, stripe: u64, with_check: &Bytes) -> Result<Bytes, ChunkError> {
    let at = with_check.len().checked_sub(CHUNK_CHECK_LEN).ok_or(ChunkError::Short)?;
    let chunk = with_check.slice(..at);
    if with_check[at..] == chunk_check(stream, shard, stripe, &chunk) { Ok(chunk) } else { Err(ChunkError::Damaged) }
}

struct Reader {
    layout: ShardLayout,
    stream: StreamId,
    name: String,
    sources: Vec<Source>,
    spares: VecDeque<Holder>,
    stripe: u64,
    last: u64,
    range: Range<u64>,
    decoder: Option<ReedSolomonDecoder>,
    degraded: bool,
    events: ShardEvents,
}

impl Reader {
    /// The requested bytes of the next stripe, `None` after the last.
    async fn next_stripe(&mut self) -> Result<Option<Bytes>> {
        if self.stripe > self.last {
            return Ok(None);
        }
        let s = self.stripe;
        let chunk = usize::try_from(self.layout.chunk_len(s)).map_err(|_| ErrorKind::internal("chunk length"))?;
        let n = chunk + CHUNK_CHECK_LEN;
        let taken = futures_util::future::join_all(self.sources.iter_mut().map(|src| src.take(n))).await;
        let mut good: Vec<(usize, Bytes)> = Vec::new();
        let mut kept = Vec::new();
        for (src, got) in std::mem::take(&mut self.sources).into_iter().zip(taken) {
            match got.and_then(|c| verified(self.stream, src.shard, s, &c)) {
                Ok(c) => {
                    good.push((src.shard, c));
                    kept.push(src);
                }
                Err(e) => self.lost(&src.backend, src.shard, &e),
            }
        }
        self.sources = kept;
        let k = self.layout.data_shards();
        while good.len() < k {
            let Some((shard, backend)) = self.spares.pop_front() else {
                return Err(ErrorKind::unavailable(format!(
                    "stripe {s}: only {} of {} shards readable; {k} needed",
                    good.len(),
                    self.layout.total_shards()
                ))
                .into());
            };
            let range = self.layout.shard_range(&(s..=self.last));
            let opened = backend.get(&self.name, Some(range)).await.map_err(ChunkError::Backend);
            let mut src = match opened {
                Ok(body) => Source { shard, backend, body, buf: BytesMut::new() },
                Err(e) => {
                    self.lost(&backend, shard, &e);
                    continue;
                }
            };
            match src.take(n).await.and_then(|c| verified(self.stream, shard, s, &c)) {
                Ok(c) => {
                    good.push((shard, c));
                    self.sources.push(src);
                }
                Err(e) => self.lost(&src.backend, shard, &e),
            }
        }
        if !self.degraded && good.iter().any(|(i, _)| *i >= k) {
            self.degraded = true;
            self.events.degraded_reads.inc();
        }
        let stripe = self.assemble(s, chunk, good).await?;
        self.stripe += 1;
        let start = s * self.layout.stripe_bytes();
        let from = self.range.start.saturating_sub(start);
        let to = (self.range.end - start).min(stripe.len() as u64);
        Ok(Some(stripe.slice(usize::try_from(from).unwrap_or(0)..usize::try_from(to).unwrap_or(0))))
    }

    fn lost(&self, backend: &Arc<dyn Backend>, shard: usize, e: &ChunkError) {
        tracing::warn!(provider = %backend.id(), shard, error = %crate::report::Report(e), "shard dropped from the read");
        if matches!(e, ChunkError::Damaged) {
            (self.events.damaged)(backend.id());
        }
    }

    /// Stripe `s`'s ciphertext from `k` verified chunks: the data chunks in order, rebuilding
    /// the missing ones from parity first.
    async fn assemble(&mut self, s: u64, chunk: usize, mut good: Vec<(usize, Bytes)>) -> Result<Bytes> {
        let k = self.layout.data_shards();
        let len = usize::try_from(self.layout.stripe_data(s)).map_err(|_| ErrorKind::internal("stripe length"))?;
        good.sort_by_key(|(i, _)| *i);
        good.truncate(k);
        let mut data = BytesMut::with_capacity(k * chunk);
        if good.iter().enumerate().all(|(want, (i, _))| *i == want) {
            for (_, c) in &good {
                data.extend_from_slice(c);
            }
        } else {
            self.events.reconstructions.inc();
            let m = self.layout.parity_shards();
            let decoder = match self.decoder.take() {
                Some(d) => d,
                None => ReedSolomonDecoder::new(k, m, chunk).map_err(coder)?,
            };
            let rebuilt = crate::pools::spawn(Pool::Erasure, move || rebuild(decoder, k, m, chunk, good));
            let (decoder, originals) = rebuilt
                .await
                .map_err(|e| ErrorKind::Internal { context: "erasure task".into(), source: Some(Box::new(e)) })??;
            self.decoder = Some(decoder);
            for c in &originals {
                data.extend_from_slice(c);
            }
        }
        data.truncate(len);
        Ok(data.freeze())
    }
}

/// The `k` data chunks of a stripe from any `k` of its chunks.
pub(crate) fn rebuild(
    mut decoder: ReedSolomonDecoder,
    k: usize,
    m: usize,
    chunk: usize,
    good: Vec<(usize, Bytes)>,
) -> Result<(ReedSolomonDecoder, Vec<Bytes>)> {
    decoder.reset(k, m, chunk).map_err(coder)?;
    let mut originals: Vec<Option<Bytes>> = vec![None; k];
    for (i, c) in good {
        if i < k {
            decoder.add_original_shard(i, &c).map_err(coder)?;
            originals[i] = Some(c);
        } else {
            decoder.add_recovery_shard(i - k, &c).map_err(coder)?;
        }
    }
    let restored: Vec<(usize, Bytes)> = decoder
        .decode()
        .map_err(coder)?
        .restored_original_iter()
        .map(|(i, c)| (i, Bytes::copy_from_slice(c)))
        .collect();
    for (i, c) in restored {
        if let Some(slot) = originals.get_mut(i) {
            *slot = Some(c);
        }
    }
    let out = originals
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ErrorKind::internal("a data chunk was not rebuilt"))?;
    Ok((decoder, out))
}

fn coder(e: reed_solomon_simd::Error) -> Error {
    ErrorKind::Internal { context: "Reed–Solomon decoding".into(), source: Some(Box::new(e)) }.into()
}
