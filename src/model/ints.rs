//! Integer conversions made in many places, in one place with their reasons.

// souverain is built for 64-bit targets only: there, u64 and usize are the same width, so a
// size or offset in u64 indexes a buffer without loss. A 32-bit build fails here, at compile
// time, instead of truncating offsets at run time.
const _: () = assert!(usize::BITS == u64::BITS, "souverain needs a 64-bit target");

/// `n` as a `usize`: lossless on the 64-bit targets the crate builds for (asserted above).
#[allow(clippy::cast_possible_truncation, reason = "usize is 64 bits wide: asserted at compile time")]
pub const fn usize_from(n: u64) -> usize {
    n as usize
}

/// Milliseconds of `d`, saturating at `u64::MAX` (585 million years).
pub fn millis_u64(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
