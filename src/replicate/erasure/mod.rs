//! Reed–Solomon erasure coding across providers (issue 26, DESIGN.md §12.5): a stream's
//! ciphertext in `k` data shards and `m` parity shards, one per provider, any `k` of which
//! give it back. The second redundancy scheme beside replication; [`layout`] says where every
//! byte is, [`encode`] and [`write`] cut a stream as it streams in, [`read`] reads (and
//! rebuilds) a range, [`rebuild`] recreates or checks one shard.

pub(crate) mod encode;
pub(crate) mod layout;
pub(crate) mod read;
pub(crate) mod rebuild;
pub(crate) mod write;

use crate::model::Redundancy;

/// The bytes each holder of a stream of `cipher_len` ciphertext bytes stores: all of them for
/// a replica, one shard for Reed–Solomon.
pub(crate) fn stored_len(redundancy: Redundancy, cipher_len: u64) -> u64 {
    match redundancy {
        Redundancy::Replicas => cipher_len,
        Redundancy::ReedSolomon(shape) => layout::ShardLayout::new(shape, cipher_len).shard_len(),
    }
}

/// The bytes each holder of stream `m` stores ([`stored_len`] of its ciphertext length).
pub(crate) fn holder_len(m: &crate::model::StreamManifest) -> u64 {
    stored_len(m.redundancy, crate::datapath::ciphertext_len(m.plaintext_len, m.seg_log2))
}

#[cfg(test)]
mod tests;
