//! Format v2 log segments (docs/format-v2.md): the sealed container that carries metadata log
//! entries to the providers. Entries are opaque bytes here; the header names the log key and
//! the segment, and is authenticated with the body.
//!
//! ```text
//! header (72) = "SOVL" ‖ u8(2) ‖ u8(kind = 1) ‖ u16(flags = 0) ‖ keyring_id(16) ‖ segment_id(16) ‖ salt(32)
//! body        = AES-256-GCM(K_seg, 0^12, AAD = header, pad(u32(count) ‖ Σ[u32(len) ‖ entry]))
//! ```
//! `pad` appends zeros up to the size class (4 KiB, then powers of two), so a segment's size
//! tells a provider only a coarse batch size.

use super::crypto::{CryptoError, open_log_segment, seal_log_segment};
use super::fields::Fields;

/// `SOVL`.
pub const SEGMENT_MAGIC: [u8; 4] = *b"SOVL";
/// The format version of log segments.
pub const SEGMENT_VERSION: u8 = 2;
/// The only kind so far: a batch of log entries.
pub const KIND_LOG: u8 = 1;
/// Header length.
pub const SEGMENT_HEADER_LEN: usize = 72;
/// The smallest padded plaintext.
pub const MIN_SIZE_CLASS: usize = 4096;
/// The largest padded plaintext a segment may have (writers cut batches well before).
pub const MAX_SEGMENT_PLAINTEXT: usize = 64 << 20;
const TAG_LEN: usize = 16;

/// Why a segment was not accepted. Carries nothing that would help forge one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// Shorter than a header and a tag.
    #[error("segment truncated")]
    Truncated,
    /// Not a souverain log segment.
    #[error("not a log segment (magic)")]
    Magic,
    /// A version or kind this gateway does not know, or reserved flags set.
    #[error("unsupported segment version, kind or flags")]
    Unsupported,
    /// More entries than a segment may carry.
    #[error("segment too large")]
    TooLarge,
    /// The tag did not verify (wrong key, another deployment, altered bytes).
    #[error("segment failed authentication")]
    Authentication,
    /// Authenticated, but the entry framing is inconsistent (a writer bug, never an attacker).
    #[error("segment framing inconsistent")]
    Framing,
    /// Sealing failed.
    #[error("sealing a segment failed")]
    Seal,
}

impl From<CryptoError> for SegmentError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Authentication => Self::Authentication,
            _ => Self::Seal,
        }
    }
}

/// What the header says: which log key seals the segment, its identity and its salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The keyring object holding the wrapped log key.
    pub keyring_id: [u8; 16],
    /// The segment's identity (its provider object name is derived from it).
    pub segment_id: [u8; 16],
    /// Fresh per segment.
    pub salt: [u8; 32],
}

impl SegmentHeader {
    /// The 72 header bytes.
    pub fn to_bytes(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        h[0..4].copy_from_slice(&SEGMENT_MAGIC);
        h[4] = SEGMENT_VERSION;
        h[5] = KIND_LOG;
        h[8..24].copy_from_slice(&self.keyring_id);
        h[24..40].copy_from_slice(&self.segment_id);
        h[40..72].copy_from_slice(&self.salt);
        h
    }

    /// Reads a header (not yet authenticated: the caller needs `keyring_id` to find the key).
    pub fn parse(bytes: &[u8]) -> Result<Self, SegmentError> {
        let h = bytes.get(..SEGMENT_HEADER_LEN).ok_or(SegmentError::Truncated)?;
        if h[0..4] != SEGMENT_MAGIC {
            return Err(SegmentError::Magic);
        }
        if h[4] != SEGMENT_VERSION || h[5] != KIND_LOG || h[6..8] != [0, 0] {
            return Err(SegmentError::Unsupported);
        }
        let mut out = Self { keyring_id: [0; 16], segment_id: [0; 16], salt: [0; 32] };
        out.keyring_id.copy_from_slice(&h[8..24]);
        out.segment_id.copy_from_slice(&h[24..40]);
        out.salt.copy_from_slice(&h[40..72]);
        Ok(out)
    }
}

/// The padded plaintext size for `len` framed bytes.
pub fn size_class(len: usize) -> usize {
    len.next_power_of_two().max(MIN_SIZE_CLASS)
}

/// Frames, pads and seals `entries` into one segment under `log_key`.
pub fn seal_segment(log_key: &[u8; 32], header: &SegmentHeader, entries: &[&[u8]]) -> Result<Vec<u8>, SegmentError> {
    let framed_len = 4 + entries.iter().map(|e| 4 + e.len()).sum::<usize>();
    let padded = size_class(framed_len);
    if padded > MAX_SEGMENT_PLAINTEXT {
        return Err(SegmentError::TooLarge);
    }
    let count = u32::try_from(entries.len()).map_err(|_| SegmentError::TooLarge)?;
    let header_bytes = header.to_bytes();
    let mut body = Vec::with_capacity(SEGMENT_HEADER_LEN + padded + TAG_LEN);
    body.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        let len = u32::try_from(e.len()).map_err(|_| SegmentError::TooLarge)?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(e);
    }
    body.resize(padded, 0);
    seal_log_segment(log_key, &header.salt, &header.segment_id, &header_bytes, &mut body)?;
    let mut out = Vec::with_capacity(SEGMENT_HEADER_LEN + body.len());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Authenticates a segment under `log_key` and returns its entries, in order.
pub fn open_segment(log_key: &[u8; 32], segment: &[u8]) -> Result<Vec<Vec<u8>>, SegmentError> {
    let header = SegmentHeader::parse(segment)?;
    let body = &segment[SEGMENT_HEADER_LEN..];
    if body.len() < TAG_LEN + 4 {
        return Err(SegmentError::Truncated);
    }
    if body.len() - TAG_LEN > MAX_SEGMENT_PLAINTEXT {
        return Err(SegmentError::TooLarge);
    }
    let mut buf = zeroize::Zeroizing::new(body.to_vec());
    let plain = open_log_segment(
        log_key,
        &header.salt,
        &header.segment_id,
        &segment[..SEGMENT_HEADER_LEN],
        buf.as_mut_slice(),
    )?;
    unframe(plain)
}

/// Splits authenticated plaintext into its entries; the padding after them must be zeros.
fn unframe(plain: &[u8]) -> Result<Vec<Vec<u8>>, SegmentError> {
    let mut fields = Fields::new(plain);
    let count = fields.u32().ok_or(SegmentError::Framing)?;
    let mut entries = Vec::new();
    for _ in 0..count {
        let len = fields.u32().ok_or(SegmentError::Framing)?;
        entries.push(fields.take(crate::model::usize_from(u64::from(len))).ok_or(SegmentError::Framing)?.to_vec());
    }
    if fields.rest().iter().any(|&b| b != 0) {
        return Err(SegmentError::Framing);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG_KEY: [u8; 32] = [7; 32];
    const HEADER: SegmentHeader = SegmentHeader { keyring_id: [1; 16], segment_id: [2; 16], salt: [3; 32] };

    /// Promise: the layout is pinned. A fixed key, header and entries give exactly the bytes an
    /// independent implementation of docs/format-v2.md computes (their SHA-256 and length), so
    /// a change to the framing, padding, key derivation or AAD cannot slip in unnoticed.
    #[test]
    fn a_segment_has_known_bytes() {
        let sealed = seal_segment(&LOG_KEY, &HEADER, &[b"first entry", b"", b"third"]).unwrap();
        assert_eq!(sealed.len(), SEGMENT_HEADER_LEN + MIN_SIZE_CLASS + TAG_LEN);
        assert_eq!(&sealed[..8], b"SOVL\x02\x01\x00\x00");
        assert_eq!(hex::encode(super::super::crypto::sha256(&sealed)), KNOWN_SHA256);
        let entries = open_segment(&LOG_KEY, &sealed).unwrap();
        assert_eq!(entries, [b"first entry".to_vec(), Vec::new(), b"third".to_vec()]);
    }

    /// Computed by `tests/fixtures/format-v2/segment_reference.py`, an implementation of the spec
    /// with Python's `cryptography` package, not derived from this code.
    const KNOWN_SHA256: &str = "2a189ec8340d15ca3362b5c175fe92481de171786a127d6fe76bedec078564e5";

    /// Promise: a segment opens only under its own key and with every byte as written: any
    /// flipped bit (header or body), a truncation or another key is refused, never decoded.
    #[test]
    fn a_segment_opens_only_as_written() {
        let sealed = seal_segment(&LOG_KEY, &HEADER, &[b"entry"]).unwrap();
        assert_eq!(open_segment(&[8; 32], &sealed), Err(SegmentError::Authentication));
        for i in [8, 30, 50, SEGMENT_HEADER_LEN, SEGMENT_HEADER_LEN + 100, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(open_segment(&LOG_KEY, &bad), Err(SegmentError::Authentication), "bit flipped at {i}");
        }
        let mut bad = sealed.clone();
        bad[4] = 3;
        assert_eq!(open_segment(&LOG_KEY, &bad), Err(SegmentError::Unsupported));
        assert_eq!(open_segment(&LOG_KEY, &sealed[..sealed.len() - 1]), Err(SegmentError::Authentication));
        assert_eq!(open_segment(&LOG_KEY, &sealed[..40]), Err(SegmentError::Truncated));
        assert_eq!(open_segment(&LOG_KEY, b"SOVG not a segment at all, a stream"), Err(SegmentError::Truncated));
    }

    /// Promise: authenticated plaintext whose framing disagrees with itself (a count beyond
    /// the bytes, an entry running past the end, bytes after the entries that are not
    /// padding) is refused rather than read partly.
    #[test]
    fn inconsistent_framing_is_refused() {
        assert_eq!(unframe(&[0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b', 0, 0]), Ok(vec![b"ab".to_vec()]));
        assert_eq!(unframe(&[0, 0, 0, 2, 0, 0, 0, 1, b'a']), Err(SegmentError::Framing));
        assert_eq!(unframe(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']), Err(SegmentError::Framing));
        assert_eq!(unframe(&[0, 0, 0, 1, 0, 0, 0, 1, b'a', 0, 7]), Err(SegmentError::Framing));
        assert_eq!(unframe(&[0, 0]), Err(SegmentError::Framing));
    }

    /// Promise: sizes reveal only a size class.
    #[test]
    fn sizes_are_padded_to_classes() {
        let size = |n: usize| seal_segment(&LOG_KEY, &HEADER, &[&vec![9u8; n]]).unwrap().len();
        assert_eq!(size(0), size(4000));
        assert_eq!(size(4100), SEGMENT_HEADER_LEN + 8192 + TAG_LEN);
        assert_eq!(size_class(1), MIN_SIZE_CLASS);
        assert_eq!(size_class(70_000), 131_072);
    }
}
