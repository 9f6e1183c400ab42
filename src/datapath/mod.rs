//! The on-provider format v1 (DESIGN.md §4): header, key derivation, segment sealing and
//! opening, range mapping. Synchronous and pure: callers run it in `spawn_blocking`.

pub mod crypto;
pub mod format;
pub mod open;
pub mod range;
pub mod seal;

pub use crypto::CryptoError;
pub use format::{DEFAULT_SEG_LOG2, StreamParams};
pub use open::{OpenError, SegmentOpener};
pub use range::{PartSlice, SegmentSpan, ciphertext_len, slice_parts};
pub use seal::{SealError, SealedStreamSummary, StreamSealer};

#[cfg(test)]
mod tests;
