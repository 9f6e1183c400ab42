//! Where the bytes of an erasure-coded stream are (docs/format-v2.md, "Erasure-coded
//! streams"). The ciphertext is cut into stripes of `k · chunk` bytes; data shard `i` holds
//! the `i`-th chunk of every stripe, parity shard `j` the `j`-th Reed–Solomon recovery chunk.
//! The last stripe is shorter: its chunks are the remainder split in `k`, rounded up to an
//! even length and zero-padded. In a shard, each chunk is followed by 8 bytes of CRC64-NVME
//! over the stream id, the shard index, the stripe index and the chunk, so a damaged or
//! misplaced chunk is found (and rebuilt from the others) before anything is decrypted.
//! Pure arithmetic: no I/O.

use std::ops::{Range, RangeInclusive};

use crate::model::{StreamId, StripeShape};

/// The CRC trailer after each chunk.
pub(crate) const CHUNK_CHECK_LEN: usize = 8;

/// The layout of one sharded stream of `cipher_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShardLayout {
    shape: StripeShape,
    cipher_len: u64,
}

impl ShardLayout {
    /// The layout of a stream of `cipher_len` (> 0) ciphertext bytes; `shape` must be valid
    /// (`StripeShape::is_valid`: parsing refuses any other).
    pub(crate) fn new(shape: StripeShape, cipher_len: u64) -> Self {
        Self { shape, cipher_len: cipher_len.max(1) }
    }

    /// k.
    pub(crate) fn data_shards(&self) -> usize {
        usize::from(self.shape.shards.data)
    }

    /// m.
    pub(crate) fn parity_shards(&self) -> usize {
        usize::from(self.shape.shards.parity)
    }

    /// k + m.
    pub(crate) fn total_shards(&self) -> usize {
        self.data_shards() + self.parity_shards()
    }

    fn chunk(&self) -> u64 {
        u64::from(self.shape.chunk)
    }

    /// Ciphertext bytes of a full stripe.
    pub(crate) fn stripe_bytes(&self) -> u64 {
        self.chunk() * u64::from(self.shape.shards.data)
    }

    /// How many stripes (at least one).
    pub(crate) fn stripes(&self) -> u64 {
        self.cipher_len.div_ceil(self.stripe_bytes())
    }

    /// Ciphertext bytes in stripe `s`.
    pub(crate) fn stripe_data(&self, s: u64) -> u64 {
        self.stripe_bytes().min(self.cipher_len.saturating_sub(s * self.stripe_bytes()))
    }

    /// The chunk length of stripe `s` (the last stripe's may be shorter).
    pub(crate) fn chunk_len(&self, s: u64) -> u64 {
        let data = self.stripe_data(s);
        if data == self.stripe_bytes() {
            return self.chunk();
        }
        let per_shard = data.div_ceil(u64::from(self.shape.shards.data));
        per_shard + per_shard % 2
    }

    /// Where stripe `s`'s chunk starts in every shard (only the last stripe is short).
    pub(crate) fn shard_offset(&self, s: u64) -> u64 {
        s * (self.chunk() + CHUNK_CHECK_LEN as u64)
    }

    /// The exact length of every shard.
    pub(crate) fn shard_len(&self) -> u64 {
        let last = self.stripes() - 1;
        self.shard_offset(last) + self.chunk_len(last) + CHUNK_CHECK_LEN as u64
    }

    /// The stripes that hold the ciphertext bytes `range` (non-empty, within the stream).
    pub(crate) fn stripes_for(&self, range: &Range<u64>) -> RangeInclusive<u64> {
        let last = self.stripes() - 1;
        (range.start / self.stripe_bytes()).min(last)..=(range.end.saturating_sub(1) / self.stripe_bytes()).min(last)
    }

    /// The bytes of every shard that hold `stripes`.
    pub(crate) fn shard_range(&self, stripes: &RangeInclusive<u64>) -> Range<u64> {
        let end = *stripes.end();
        self.shard_offset(*stripes.start())..self.shard_offset(end) + self.chunk_len(end) + CHUNK_CHECK_LEN as u64
    }
}

/// The CRC64-NVME trailer of chunk `stripe` of shard `shard` of stream `stream`.
pub(crate) fn chunk_check(stream: StreamId, shard: usize, stripe: u64, chunk: &[u8]) -> [u8; 8] {
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
    d.update(stream.as_bytes());
    d.update(&u32::try_from(shard).unwrap_or(u32::MAX).to_be_bytes());
    d.update(&stripe.to_be_bytes());
    d.update(chunk);
    d.finalize().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErasureShards;

    fn layout(k: u8, m: u8, chunk: u32, len: u64) -> ShardLayout {
        ShardLayout::new(StripeShape { shards: ErasureShards { data: k, parity: m }, chunk }, len)
    }

    /// Promise (format v2, fixed): a 4+2 stream of 64 KiB chunks has these stripes and shard
    /// lengths; the provider objects' sizes follow from them and never change meaning.
    #[test]
    fn shard_lengths_are_fixed() {
        // One full stripe and a 112-byte remainder: 28 per shard.
        let l = layout(4, 2, 65536, 4 * 65536 + 112);
        assert_eq!((l.stripes(), l.chunk_len(0), l.chunk_len(1)), (2, 65536, 28));
        assert_eq!(l.shard_len(), 65536 + 8 + 28 + 8);
        // An odd remainder rounds up to even: 113 → 29 → 30 per shard.
        assert_eq!(layout(4, 2, 65536, 113).chunk_len(0), 30);
        // Exactly two stripes: no short one.
        let l = layout(3, 2, 1024, 6144);
        assert_eq!((l.stripes(), l.chunk_len(1), l.shard_len()), (2, 1024, 2 * 1032));
        // The smallest stream, 112 bytes (an empty object's header and tag).
        assert_eq!(layout(6, 3, 65536, 112).shard_len(), 20 + 8);
    }

    /// Promise: a ciphertext range maps to the stripes that hold it, and to the shard bytes
    /// of exactly those stripes.
    #[test]
    fn ranges_map_to_whole_stripes() {
        let l = layout(4, 2, 1000, 10_000); // stripes of 4000: [0,4000) [4000,8000) [8000,10000)
        assert_eq!(l.stripes_for(&(0..1)), 0..=0);
        assert_eq!(l.stripes_for(&(0..4000)), 0..=0, "a range ending at a stripe's end stays in it");
        assert_eq!(l.stripes_for(&(3999..4001)), 0..=1);
        assert_eq!(l.stripes_for(&(8000..10_000)), 2..=2);
        assert_eq!(l.shard_range(&(0..=0)), 0..1008);
        assert_eq!(l.chunk_len(2), 500);
        assert_eq!(l.shard_range(&(1..=2)), 1008..2016 + 508);
        assert_eq!(l.shard_range(&(0..=2)).end, l.shard_len());
    }

    /// Promise: the chunk trailer is CRC64-NVME over stream id ‖ u32 shard ‖ u64 stripe ‖
    /// bytes, big-endian (a fixed vector, computed with a bitwise Python CRC64-NVME), so a chunk
    /// moved to another shard, stripe or stream does not pass.
    #[test]
    fn chunk_checks_bind_their_place() {
        let id = StreamId([7; 16]);
        let c = chunk_check(id, 1, 2, b"souverain");
        assert_eq!(hex::encode(c), "e0361066151b7dd3");
        assert_ne!(c, chunk_check(id, 2, 2, b"souverain"));
        assert_ne!(c, chunk_check(id, 1, 3, b"souverain"));
        assert_ne!(c, chunk_check(StreamId([8; 16]), 1, 2, b"souverain"));
    }
}
