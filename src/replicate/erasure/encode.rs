//! Cutting ciphertext into shards as it streams by: whole stripes are encoded as soon as they
//! are full, so a writer holds at most one stripe of ciphertext (`k · chunk`) whatever the
//! object's size.

use bytes::{BufMut, Bytes, BytesMut};
use reed_solomon_simd::ReedSolomonEncoder;

use super::layout::{CHUNK_CHECK_LEN, ShardLayout, chunk_check};
use crate::model::{StreamId, StripeShape};

/// Why a stream could not be cut into shards.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    /// The coder refused the shape or a stripe (a bug: shapes are validated when parsed).
    #[error("Reed–Solomon coding failed")]
    Coder(#[from] reed_solomon_simd::Error),
    /// More or fewer ciphertext bytes came than the layout was made for.
    #[error("the ciphertext is not of its announced length")]
    Length,
}

/// Turns a stream's ciphertext into its `k + m` shards.
pub(crate) struct StripeEncoder {
    layout: ShardLayout,
    stream: StreamId,
    /// The stripe being filled.
    pending: BytesMut,
    /// Index of the stripe being filled.
    stripe: u64,
    coder: ReedSolomonEncoder,
}

impl StripeEncoder {
    /// An encoder for stream `stream` of `cipher_len` ciphertext bytes.
    pub(crate) fn new(shape: StripeShape, stream: StreamId, cipher_len: u64) -> Result<Self, EncodeError> {
        let layout = ShardLayout::new(shape, cipher_len);
        let chunk = usize::try_from(layout.chunk_len(0)).map_err(|_| EncodeError::Length)?;
        let coder = ReedSolomonEncoder::new(layout.data_shards(), layout.parity_shards(), chunk)?;
        let stripe_bytes = usize::try_from(layout.stripe_bytes().min(cipher_len)).map_err(|_| EncodeError::Length)?;
        Ok(Self { layout, stream, pending: BytesMut::with_capacity(stripe_bytes), stripe: 0, coder })
    }

    /// The layout being written.
    pub(crate) fn layout(&self) -> &ShardLayout {
        &self.layout
    }

    /// Takes ciphertext; returns, per shard, the bytes of the stripes it completed (empty
    /// when none).
    pub(crate) fn push(&mut self, mut cipher: &[u8]) -> Result<Vec<Bytes>, EncodeError> {
        let mut out: Vec<BytesMut> = vec![BytesMut::new(); self.layout.total_shards()];
        while !cipher.is_empty() {
            if self.stripe >= self.layout.stripes() {
                return Err(EncodeError::Length);
            }
            let want = usize::try_from(self.layout.stripe_data(self.stripe)).map_err(|_| EncodeError::Length)?;
            let take = (want - self.pending.len()).min(cipher.len());
            self.pending.extend_from_slice(&cipher[..take]);
            cipher = &cipher[take..];
            if self.pending.len() == want {
                self.encode_stripe(&mut out)?;
            }
        }
        Ok(out.into_iter().map(BytesMut::freeze).collect())
    }

    /// Checks that the whole stream came (every stripe was encoded by [`push`](Self::push)).
    pub(crate) fn finish(&self) -> Result<(), EncodeError> {
        if self.stripe == self.layout.stripes() && self.pending.is_empty() { Ok(()) } else { Err(EncodeError::Length) }
    }

    fn encode_stripe(&mut self, out: &mut [BytesMut]) -> Result<(), EncodeError> {
        let s = self.stripe;
        let chunk = usize::try_from(self.layout.chunk_len(s)).map_err(|_| EncodeError::Length)?;
        let k = self.layout.data_shards();
        self.coder.reset(k, self.layout.parity_shards(), chunk)?;
        let data = std::mem::take(&mut self.pending);
        let mut padded = vec![0u8; chunk];
        for (i, shard) in out.iter_mut().take(k).enumerate() {
            let from = (i * chunk).min(data.len());
            let to = ((i + 1) * chunk).min(data.len());
            let piece: &[u8] = if to - from == chunk {
                &data[from..to]
            } else {
                padded.fill(0);
                padded[..to - from].copy_from_slice(&data[from..to]);
                &padded
            };
            self.coder.add_original_shard(piece)?;
            append(shard, self.stream, i, s, piece);
        }
        let recovery = self.coder.encode()?;
        for (j, piece) in recovery.recovery_iter().enumerate() {
            append(&mut out[k + j], self.stream, k + j, s, piece);
        }
        self.pending = data;
        self.pending.clear();
        self.stripe += 1;
        Ok(())
    }
}

fn append(out: &mut BytesMut, stream: StreamId, shard: usize, stripe: u64, chunk: &[u8]) {
    out.reserve(chunk.len() + CHUNK_CHECK_LEN);
    out.put_slice(chunk);
    out.put_slice(&chunk_check(stream, shard, stripe, chunk));
}
