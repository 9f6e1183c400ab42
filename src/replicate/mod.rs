//! Redundancy across providers: how a placement's providers hold one stream. Today the scheme
//! is replication (every target holds the whole ciphertext); erasure coding will be a second
//! scheme beside it with the same three operations, which is what the rest of the gateway uses:
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

pub(crate) mod read;
pub(crate) mod verify;
pub(crate) mod write;
