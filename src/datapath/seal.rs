//! Incremental sealing of one stream: plaintext in, header and sealed segments out.

use bytes::BytesMut;

use super::crypto::{CryptoError, StreamKeys, segment_aad};
use super::format::{StreamParams, full_header};
use crate::model::{CheckHasher, CiphertextCheck};

/// Sealing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The body carried more bytes than announced.
    #[error("body longer than its declared length")]
    TooLong,
    /// The body ended before its declared length.
    #[error("body shorter than its declared length")]
    TooShort,
    /// A cryptographic primitive failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// What the metadata records about a sealed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedStreamSummary {
    /// Header commitment.
    pub commit: [u8; 32],
    /// The keyless check of every ciphertext byte, header included (CRC64-NVME).
    pub ciphertext_check: CiphertextCheck,
    /// Total ciphertext length C.
    pub ciphertext_len: u64,
}

/// Seals a stream of known plaintext length segment by segment. Holds at most one partial
/// segment of plaintext, so memory stays bounded whatever the object size.
pub struct StreamSealer {
    keys: StreamKeys,
    commit: [u8; 32],
    aad: [u8; 32],
    seg_size: usize,
    segment_count: u64,
    next_segment: u64,
    remaining: u64,
    pending: Vec<u8>,
    header: Option<[u8; 96]>,
    check: CheckHasher,
    ciphertext_len: u64,
}

impl StreamSealer {
    /// Derives the stream keys and the commitment; the header is emitted by the first push.
    pub fn new(dek: &[u8; 32], params: &StreamParams) -> Result<Self, SealError> {
        let keys = StreamKeys::derive(dek, params)?;
        let prefix = params.header_prefix();
        let commit = keys.commitment(&prefix);
        let seg_size = usize::try_from(params.segment_size()).map_err(|_| SealError::TooLong)?;
        Ok(Self {
            aad: segment_aad(&prefix, &commit),
            header: Some(full_header(&prefix, &commit)),
            keys,
            commit,
            seg_size,
            segment_count: params.segment_count(),
            next_segment: 0,
            remaining: params.plaintext_len,
            pending: Vec::with_capacity(seg_size),
            check: CheckHasher::for_new_stream(),
            ciphertext_len: 0,
        })
    }

    /// Seals every complete segment of `plaintext` into `out`.
    pub fn push(&mut self, mut plaintext: &[u8], out: &mut BytesMut) -> Result<(), SealError> {
        if plaintext.len() as u64 > self.remaining {
            return Err(SealError::TooLong);
        }
        self.remaining -= plaintext.len() as u64;
        self.emit_header(out);
        while !plaintext.is_empty() {
            let want = self.seg_size - self.pending.len();
            let take = want.min(plaintext.len());
            if self.pending.is_empty() && take == self.seg_size && !self.is_last_full_segment() {
                // Fast path: a whole segment straight from the input, no staging copy.
                self.seal_into(&plaintext[..take], out)?;
            } else {
                self.pending.extend_from_slice(&plaintext[..take]);
                if self.pending.len() == self.seg_size && !self.is_last_full_segment() {
                    let seg = std::mem::take(&mut self.pending);
                    self.seal_into(&seg, out)?;
                    self.pending = seg;
                    self.pending.clear();
                }
            }
            plaintext = &plaintext[take..];
        }
        Ok(())
    }

    /// Seals the final segment; fails if fewer bytes than announced were pushed.
    pub fn finish(mut self, out: &mut BytesMut) -> Result<SealedStreamSummary, SealError> {
        if self.remaining != 0 {
            return Err(SealError::TooShort);
        }
        self.emit_header(out);
        let last = std::mem::take(&mut self.pending);
        self.seal_into(&last, out)?;
        debug_assert_eq!(self.next_segment, self.segment_count);
        Ok(SealedStreamSummary {
            commit: self.commit,
            ciphertext_check: self.check.finish(),
            ciphertext_len: self.ciphertext_len,
        })
    }

    // The final segment is sealed only by `finish`, even when it is full, because only then is
    // it certain that no byte follows.
    fn is_last_full_segment(&self) -> bool {
        self.next_segment + 1 == self.segment_count
    }

    fn emit_header(&mut self, out: &mut BytesMut) {
        if let Some(h) = self.header.take() {
            self.check.update(&h);
            self.ciphertext_len += h.len() as u64;
            out.extend_from_slice(&h);
        }
    }

    fn seal_into(&mut self, plaintext: &[u8], out: &mut BytesMut) -> Result<(), SealError> {
        let k = self.next_segment;
        let is_final = k + 1 == self.segment_count;
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.keys.seal_segment(k, is_final, &self.aad, out, start)?;
        self.check.update(&out[start..]);
        self.ciphertext_len += (out.len() - start) as u64;
        self.next_segment += 1;
        Ok(())
    }
}
