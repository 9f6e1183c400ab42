//! Verified opening of a span of segments: ciphertext in, plaintext out only after its tag
//! verified (verify before emit, DESIGN.md §4.4).

use bytes::{Bytes, BytesMut};

use super::crypto::{CryptoError, StreamKeys, segment_aad};
use super::format::{StreamParams, TAG_LEN, full_header};
use super::range::SegmentSpan;
use crate::model::usize_from;

/// Opening failed; no plaintext of the failing segment was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The commitment does not match: wrong key, swapped metadata or tampered header.
    #[error("stream commitment mismatch")]
    Commitment,
    /// A segment's tag did not verify.
    #[error("segment authentication failed")]
    Tag,
    /// The stream header the provider sent is not the one the metadata describes.
    #[error("stream header differs from the metadata")]
    Header,
    /// The provider sent fewer or more bytes than the metadata says.
    #[error("ciphertext length differs from the metadata")]
    Length,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Opens the segments of one [`SegmentSpan`], in order, as ciphertext arrives in any chunking.
pub struct SegmentOpener {
    keys: StreamKeys,
    aad: [u8; 32],
    span: SegmentSpan,
    seg_size: u64,
    plaintext_len: u64,
    segment_count: u64,
    next_segment: u64,
    buf: BytesMut,
    emitted: u64,
    /// For a span read from byte 0: the header expected first, and how much of it arrived.
    header: Option<([u8; HEADER_BYTES], usize)>,
}

/// The header's length, as a buffer size.
const HEADER_BYTES: usize = 96;

impl SegmentOpener {
    /// Verifies the stream's commitment (before any decryption) and prepares to open `span`.
    pub fn new(dek: &[u8; 32], params: &StreamParams, commit: &[u8; 32], span: SegmentSpan) -> Result<Self, OpenError> {
        let keys = StreamKeys::derive(dek, params)?;
        let prefix = params.header_prefix();
        keys.verify_commitment(&prefix, commit).map_err(|_| OpenError::Commitment)?;
        let header = (span.cipher_start == 0).then(|| (full_header(&prefix, commit), 0));
        Ok(Self {
            header,
            aad: segment_aad(&prefix, commit),
            keys,
            seg_size: params.segment_size(),
            plaintext_len: params.plaintext_len,
            segment_count: params.segment_count(),
            next_segment: span.first_segment,
            buf: BytesMut::new(),
            emitted: 0,
            span,
        })
    }

    /// Feeds ciphertext; appends the verified plaintext of every completed segment to `out`.
    pub fn push(&mut self, mut ciphertext: &[u8], out: &mut Vec<Bytes>) -> Result<(), OpenError> {
        if let Some((want, seen)) = &mut self.header {
            let n = (HEADER_BYTES - *seen).min(ciphertext.len());
            if ciphertext[..n] != want[*seen..*seen + n] {
                return Err(OpenError::Header);
            }
            *seen += n;
            ciphertext = &ciphertext[n..];
            if *seen == HEADER_BYTES {
                self.header = None;
            }
        }
        while !ciphertext.is_empty() {
            if self.next_segment > self.span.last_segment {
                return Err(OpenError::Length);
            }
            let seg_len = usize_from(self.cipher_segment_len(self.next_segment));
            let take = (seg_len - self.buf.len()).min(ciphertext.len());
            self.buf.extend_from_slice(&ciphertext[..take]);
            ciphertext = &ciphertext[take..];
            if self.buf.len() == seg_len {
                out.push(self.open_current()?);
            }
        }
        Ok(())
    }

    /// Confirms that every segment of the span arrived and nothing more.
    pub fn finish(&self) -> Result<(), OpenError> {
        if self.header.is_none() && self.next_segment == self.span.last_segment + 1 && self.buf.is_empty() {
            Ok(())
        } else {
            Err(OpenError::Length)
        }
    }

    /// The span still to read: from the first segment not yet released, so another replica
    /// can continue exactly where this one failed (a partial segment is read again).
    pub fn remaining_span(&self) -> SegmentSpan {
        let resumed = self.next_segment;
        let skip = if resumed == self.span.first_segment { self.span.skip } else { 0 };
        // Resumed at the first segment: from byte 0 again, header included, as the span began.
        let cipher_start = if resumed == 0 {
            self.span.cipher_start
        } else {
            super::format::HEADER_LEN + resumed * (self.seg_size + TAG_LEN)
        };
        SegmentSpan {
            first_segment: resumed,
            last_segment: self.span.last_segment,
            cipher_start,
            cipher_end: self.span.cipher_end,
            skip,
            take: self.span.take - self.emitted,
        }
    }

    fn cipher_segment_len(&self, k: u64) -> u64 {
        let plain = if k + 1 == self.segment_count { self.plaintext_len - k * self.seg_size } else { self.seg_size };
        plain + TAG_LEN
    }

    fn open_current(&mut self) -> Result<Bytes, OpenError> {
        let k = self.next_segment;
        let is_final = k + 1 == self.segment_count;
        let mut seg = self.buf.split();
        let plain_len = self.keys.open_segment(k, is_final, &self.aad, &mut seg).map_err(|_| OpenError::Tag)?.len();
        seg.truncate(plain_len);
        self.next_segment += 1;
        let skip = if k == self.span.first_segment { usize_from(self.span.skip) } else { 0 };
        let left = self.span.take - self.emitted;
        let avail = (plain_len - skip.min(plain_len)) as u64;
        let n = usize_from(avail.min(left));
        self.emitted += n as u64;
        let mut seg = seg.freeze();
        Ok(seg.split_off(skip.min(plain_len)).slice(..n))
    }
}
