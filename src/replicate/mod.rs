//! Redundancy across providers: how a placement's providers hold one stream. Two schemes:
//! replication (every target holds the whole ciphertext) and Reed–Solomon erasure coding
//! ([`erasure`]: target `i` holds shard `i`), each with the same three operations, which is
//! what the rest of the gateway uses through [`StreamWriter`] and the readers:
//!
//! - [`write`]: stream the ciphertext to the placement's targets, acknowledged once a write
//!   quorum holds it, with stragglers cut and the memory per request bounded;
//! - [`read`]: read a ciphertext range from the holders, the healthiest first, hedged when
//!   the first answer is late, failing over when one fails;
//! - [`verify`]: check or copy one holder's data against what was recorded at write time
//!   (length and ciphertext check), for repair, evacuation and the scrubber.
//!
//! It works on ciphertext only: encryption and its verification stay in `datapath`, so neither
//! layer needs the other's secrets or bookkeeping.

pub(crate) mod erasure;
pub(crate) mod read;
pub(crate) mod verify;
pub(crate) mod write;

use bytes::Bytes;

use crate::error::Result;
use write::{Fanout, FanoutOutcome};

/// One stream on its way to its placement, whatever the scheme.
pub(crate) enum StreamWriter {
    /// Every target gets the whole ciphertext.
    Replicas(Fanout),
    /// Every target gets its shard.
    Shards(erasure::write::ShardWriter),
}

impl StreamWriter {
    /// Sends the next ciphertext bytes.
    pub(crate) async fn send(&mut self, cipher: Bytes) -> Result<()> {
        match self {
            Self::Replicas(f) => f.send(cipher).await,
            Self::Shards(w) => w.send(cipher).await,
        }
    }

    /// Ends every upload: Ok once the write quorum holds the stream.
    pub(crate) async fn finish(self) -> Result<FanoutOutcome> {
        match self {
            Self::Replicas(f) => f.finish().await,
            Self::Shards(w) => w.finish().await,
        }
    }

    /// Aborts every upload.
    pub(crate) async fn abort(self) {
        match self {
            Self::Replicas(f) => f.abort().await,
            Self::Shards(w) => w.abort().await,
        }
    }
}
