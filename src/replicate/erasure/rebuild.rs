//! Recreating one shard of an erasure-coded stream (repair, evacuation) and checking one in
//! place (the scrubber), without any key. A shard is rebuilt by reading the stream's ciphertext
//! from `k` of the other holders (their chunks checked as they come), encoding it again and
//! sending the target only its own shard; the last chunk is held back until the whole
//! ciphertext matched its recorded length and check, so a target never receives a complete
//! wrong shard.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::encode::StripeEncoder;
use super::layout::{CHUNK_CHECK_LEN, ShardLayout, chunk_check};
use super::read::{Holder, ShardEvents};
use crate::backend::{Backend, BackendError, Backends, CipherStream, stream_name};
use crate::datapath::ciphertext_len;
use crate::model::{CheckHasher, ProviderId, StreamId, StreamManifest, StripeShape};
use crate::placement::WriteGrant;
use crate::replicate::read::Hedging;
use crate::replicate::verify::{CopyError, HeldBack, feed_and_put};

/// Where a rebuilt shard goes: which shard, to which provider, with what leave to write.
pub(crate) struct ShardTarget<'a> {
    /// The shard's index (`0..k` data, then parity).
    pub(crate) shard: usize,
    /// The provider that receives it.
    pub(crate) provider: &'a ProviderId,
    /// Leave to write there.
    pub(crate) grant: &'a WriteGrant,
}

/// Rebuilds a shard of `m` (laid out as `shape`) at its target, from the stream's other
/// holders.
pub(crate) async fn rebuild_shard(
    backends: &Backends,
    hedging: &Hedging,
    events: ShardEvents,
    m: &StreamManifest,
    shape: StripeShape,
    to: ShardTarget<'_>,
) -> Result<(), CopyError> {
    let ShardTarget { shard, provider, grant } = to;
    let target = Arc::clone(backends.get(provider).ok_or(CopyError::NotConfigured)?);
    let cipher_len = ciphertext_len(m.plaintext_len, m.seg_log2);
    let layout = ShardLayout::new(shape, cipher_len);
    let mut sources: Vec<Holder> = m
        .replicas
        .iter()
        .enumerate()
        .filter(|(i, p)| *i != shard && **p != *target.id())
        .filter_map(|(i, p)| backends.get(p).map(|b| (i, Arc::clone(b))))
        .collect();
    // Data shards first: no rebuild needed to read them.
    sources.sort_by_key(|(i, _)| *i >= layout.data_shards());
    let name = stream_name(m.stream_id);
    let mut cipher = super::read::open(hedging, layout, m.stream_id, &name, sources, 0..cipher_len, events)
        .await
        .map_err(CopyError::Rebuild)?;
    let mut encoder =
        StripeEncoder::new(shape, m.stream_id, cipher_len).map_err(|e| CopyError::Rebuild(encoding(e)))?;
    let (body, mut out) = HeldBack::open(grant)?;
    let put = target.put(&name, layout.shard_len(), body);
    let expected = m.ciphertext_check;
    let feed = async move {
        let mut check = CheckHasher::like(&expected);
        while let Some(piece) = cipher.next().await {
            let shards = piece.map_err(CopyError::Rebuild).and_then(|p| {
                check.update(&p);
                encoder.push(&p).map_err(|e| CopyError::Rebuild(encoding(e)))
            });
            match shards {
                Ok(mut shards) if shard < shards.len() => out.push(shards.swap_remove(shard)).await?,
                Ok(_) => {}
                Err(e) => {
                    out.abort().await;
                    return Err(e);
                }
            }
        }
        out.finish(encoder.finish().is_ok() && check.finish() == expected).await
    };
    feed_and_put(feed, put).await
}

fn encoding(e: super::encode::EncodeError) -> crate::error::Error {
    crate::error::ErrorKind::Internal { context: "erasure coding".into(), source: Some(Box::new(e)) }.into()
}

/// What reading one shard whole found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardCheck {
    /// Every chunk passed its check, and the length is exact.
    Intact,
    /// Longer or shorter than the layout says.
    Length,
    /// A chunk failed its check.
    Damaged,
}

/// Why a shard could not be walked to its end.
enum WalkError {
    /// The provider could not be read.
    Read(BackendError),
    /// What the walk found wrong.
    Found(ShardCheck),
}

/// A shard's body, a checked chunk at a time (memory: about one chunk).
struct ShardWalk {
    layout: ShardLayout,
    stream: StreamId,
    shard: usize,
    body: CipherStream,
    buf: BytesMut,
    stripe: u64,
}

impl ShardWalk {
    async fn open(
        backend: &dyn Backend,
        m: &StreamManifest,
        shape: StripeShape,
        shard: usize,
    ) -> Result<Self, WalkError> {
        let layout = ShardLayout::new(shape, ciphertext_len(m.plaintext_len, m.seg_log2));
        let body = backend.get(&stream_name(m.stream_id), None).await.map_err(WalkError::Read)?;
        Ok(Self { layout, stream: m.stream_id, shard, body, buf: BytesMut::new(), stripe: 0 })
    }

    /// The next chunk with its check trailer, checked; `None` after the last of an exact shard.
    async fn next(&mut self) -> Result<Option<Bytes>, WalkError> {
        loop {
            if self.stripe < self.layout.stripes() {
                let chunk = usize::try_from(self.layout.chunk_len(self.stripe)).unwrap_or(usize::MAX);
                if self.buf.len() >= chunk.saturating_add(CHUNK_CHECK_LEN) {
                    let with_check = self.buf.split_to(chunk + CHUNK_CHECK_LEN).freeze();
                    if with_check[chunk..] != chunk_check(self.stream, self.shard, self.stripe, &with_check[..chunk]) {
                        return Err(WalkError::Found(ShardCheck::Damaged));
                    }
                    self.stripe += 1;
                    return Ok(Some(with_check));
                }
            } else if !self.buf.is_empty() {
                return Err(WalkError::Found(ShardCheck::Length));
            }
            match self.body.next().await {
                Some(Ok(piece)) => self.buf.extend_from_slice(&piece),
                Some(Err(e)) => return Err(WalkError::Read(e)),
                None if self.stripe == self.layout.stripes() && self.buf.is_empty() => return Ok(None),
                None => return Err(WalkError::Found(ShardCheck::Length)),
            }
        }
    }
}

/// Reads shard `shard` of `m` at `backend` whole and checks every chunk, within `deadline`;
/// `None` when the provider could not be read in time.
pub(crate) async fn check_shard(
    backend: &dyn Backend,
    m: &StreamManifest,
    shape: StripeShape,
    shard: usize,
    deadline: Duration,
) -> Option<ShardCheck> {
    let read = async {
        let mut walk = ShardWalk::open(backend, m, shape, shard).await?;
        while walk.next().await?.is_some() {}
        Ok::<_, WalkError>(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(())) => Some(ShardCheck::Intact),
        Ok(Err(WalkError::Found(f))) => Some(f),
        Ok(Err(WalkError::Read(_))) | Err(_) => None,
    }
}

/// Copies shard `to.shard` of `m` from `source` to its target as it is, every chunk checked on
/// the way and the last held back until the whole shard proved exact (evacuation: the leaving
/// provider's shard is usually intact, and copying it needs no other holder).
pub(crate) async fn copy_shard(
    source: &dyn Backend,
    target: &dyn Backend,
    m: &StreamManifest,
    shape: StripeShape,
    to: ShardTarget<'_>,
) -> Result<(), CopyError> {
    let mut walk = match ShardWalk::open(source, m, shape, to.shard).await {
        Ok(w) => w,
        Err(WalkError::Read(e)) => return Err(CopyError::Source(e)),
        Err(WalkError::Found(_)) => return Err(CopyError::Mismatch),
    };
    let (body, mut out) = HeldBack::open(to.grant)?;
    let name = stream_name(m.stream_id);
    let put = target.put(&name, walk.layout.shard_len(), body);
    let feed = async move {
        loop {
            match walk.next().await {
                Ok(Some(chunk)) => out.push(chunk).await?,
                Ok(None) => return out.release().await,
                Err(e) => {
                    out.abort().await;
                    return Err(match e {
                        WalkError::Read(e) => CopyError::Source(e),
                        WalkError::Found(_) => CopyError::Mismatch,
                    });
                }
            }
        }
    };
    feed_and_put(feed, put).await
}
