//! The on-provider format (DESIGN.md §4, docs/format-v1.md and docs/format-v2.md): stream
//! header, key derivation, segment sealing and opening, range mapping, v2 log segments.
//! Synchronous and pure: callers run it in `spawn_blocking`.

pub mod crypto;
mod fields;
pub mod format;
pub mod keyring;
pub mod open;
pub mod range;
pub mod seal;
pub mod segment;

pub use crypto::CryptoError;
pub use format::{DEFAULT_SEG_LOG2, StreamParams};
pub use open::{OpenError, SegmentOpener};
pub use range::{PartSlice, SegmentSpan, ciphertext_len, slice_parts};
pub use seal::{SealError, SealedStreamSummary, StreamSealer};
pub use segment::{SegmentError, SegmentHeader, open_segment, seal_segment};

#[cfg(test)]
mod tests;
