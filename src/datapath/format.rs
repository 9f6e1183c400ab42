//! Format v1 constants and the 96-byte stream header (DESIGN.md §4.3). Frozen once released.

use crate::model::{BucketUid, StreamId, VersionUid};

/// `SOVG`.
pub const MAGIC: [u8; 4] = *b"SOVG";
/// The only format version.
pub const FORMAT_VERSION: u8 = 1;
/// AES-256-GCM, the only algorithm of v1.
pub const ALG_AES_256_GCM: u8 = 1;
/// Header length H.
pub const HEADER_LEN: u64 = 96;
/// GCM tag length T.
pub const TAG_LEN: u64 = 16;
/// 64 KiB segments by default.
pub const DEFAULT_SEG_LOG2: u8 = 16;
/// Smallest and largest accepted `seg_log2`.
pub const SEG_LOG2_RANGE: std::ops::RangeInclusive<u8> = 16..=20;

/// Everything that identifies one stream and is bound into its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamParams {
    /// Backend name and identity.
    pub stream_id: StreamId,
    /// Plaintext length L.
    pub plaintext_len: u64,
    /// log2 of the segment size S.
    pub seg_log2: u8,
    /// Owning bucket.
    pub bucket_uid: BucketUid,
    /// Owning object version.
    pub version_uid: VersionUid,
    /// 0 for a single PUT, else the part number.
    pub part_number: u32,
    /// Fresh per upload attempt.
    pub salt: [u8; 32],
}

impl StreamParams {
    /// Plaintext segment size S.
    pub fn segment_size(&self) -> u64 {
        1u64 << self.seg_log2
    }

    /// Number of segments n = max(1, ceil(L / S)).
    pub fn segment_count(&self) -> u64 {
        segment_count(self.plaintext_len, self.seg_log2)
    }

    /// The 63-byte HKDF context of §4.2.
    pub fn kdf_context(&self) -> [u8; 63] {
        let mut ctx = [0u8; 63];
        ctx[0] = FORMAT_VERSION;
        ctx[1] = ALG_AES_256_GCM;
        ctx[2] = self.seg_log2;
        ctx[3..19].copy_from_slice(self.stream_id.as_bytes());
        ctx[19..27].copy_from_slice(&self.plaintext_len.to_be_bytes());
        ctx[27..43].copy_from_slice(self.bucket_uid.as_bytes());
        ctx[43..59].copy_from_slice(self.version_uid.as_bytes());
        ctx[59..63].copy_from_slice(&self.part_number.to_be_bytes());
        ctx
    }

    /// The first 64 header bytes, the part the commitment covers.
    pub fn header_prefix(&self) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = FORMAT_VERSION;
        h[5] = ALG_AES_256_GCM;
        h[6] = self.seg_log2;
        h[7] = 0; // flags, reserved
        h[8..24].copy_from_slice(self.stream_id.as_bytes());
        h[24..56].copy_from_slice(&self.salt);
        h[56..64].copy_from_slice(&self.plaintext_len.to_be_bytes());
        h
    }
}

/// n = max(1, ceil(L / S)).
pub fn segment_count(plaintext_len: u64, seg_log2: u8) -> u64 {
    plaintext_len.div_ceil(1u64 << seg_log2).max(1)
}

/// The complete 96-byte header, given its commitment.
pub fn full_header(prefix: &[u8; 64], commit: &[u8; 32]) -> [u8; 96] {
    let mut h = [0u8; 96];
    h[..64].copy_from_slice(prefix);
    h[64..].copy_from_slice(commit);
    h
}

/// The 12-byte nonce of segment `k`: u88(k) ‖ u8(final).
pub fn segment_nonce(k: u64, is_final: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&k.to_be_bytes());
    n[11] = u8::from(is_final);
    n
}

/// The bytes the manifest MAC covers (§4.4): `u32(count) ‖ Σ[u32(part_number) ‖ stream_id ‖
/// u64(plaintext_len) ‖ ciphertext_check ‖ commit]` over the streams in order (the 32-byte
/// check field: SHA-256, or CRC64-NVME and 24 zero bytes, `model::CiphertextCheck`).
pub fn manifest_bytes(streams: &[crate::model::StreamManifest]) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 + streams.len() * 92);
    // At most 10,000 parts: the count always fits.
    m.extend_from_slice(&u32::try_from(streams.len()).unwrap_or(u32::MAX).to_be_bytes());
    for s in streams {
        m.extend_from_slice(&s.part_number.to_be_bytes());
        m.extend_from_slice(s.stream_id.as_bytes());
        m.extend_from_slice(&s.plaintext_len.to_be_bytes());
        m.extend_from_slice(&s.ciphertext_check.0);
        m.extend_from_slice(&s.commit);
    }
    m
}
