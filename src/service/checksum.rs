//! Plaintext digests: the one behind the ETag (MD5, or BLAKE3 in a bucket with
//! [`EtagMode::Fast`]) and the S3 checksum algorithms.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;

use crate::error::{Context as _, ErrorKind, Result};
use crate::model::{ChecksumAlgorithm, ChecksumType, ETag, EtagMode, ObjectChecksum};

/// Computes the ETag's digest and at most one S3 checksum over the same bytes.
pub struct PlainHasher {
    etag: EtagState,
    checksum: Option<ChecksumState>,
}

enum EtagState {
    Md5(md5::Md5),
    Fast(Box<blake3::Hasher>),
}

/// The 16 bytes an ETag is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtagDigest {
    /// The plaintext's MD5.
    Md5([u8; 16]),
    /// The first 16 bytes of the plaintext's BLAKE3 ([`EtagMode::Fast`]).
    Fast([u8; 16]),
}

impl EtagDigest {
    /// The raw bytes (what a part record keeps, and what a multipart ETag is made of).
    pub fn bytes(&self) -> [u8; 16] {
        match self {
            EtagDigest::Md5(b) | EtagDigest::Fast(b) => *b,
        }
    }

    /// The MD5, if this is one (to compare with `Content-MD5`).
    pub fn md5(&self) -> Option<[u8; 16]> {
        match self {
            EtagDigest::Md5(b) => Some(*b),
            EtagDigest::Fast(_) => None,
        }
    }

    /// The ETag of an object made of these bytes in one piece.
    pub fn etag(&self) -> ETag {
        match self {
            EtagDigest::Md5(b) => ETag::from_md5(b),
            EtagDigest::Fast(b) => ETag::fast(b),
        }
    }
}

enum ChecksumState {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha(ChecksumAlgorithm, ring::digest::Context),
}

/// What a finished hasher produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainDigests {
    /// What the ETag is made of.
    pub etag: EtagDigest,
    /// The requested checksum, base64.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
}

fn crc_algorithm(a: ChecksumAlgorithm) -> Option<crc_fast::CrcAlgorithm> {
    match a {
        ChecksumAlgorithm::Crc32 => Some(crc_fast::CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(crc_fast::CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(crc_fast::CrcAlgorithm::Crc64Nvme),
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
    }
}

/// The raw bytes of a CRC value as S3 encodes it (big-endian, 4 or 8 bytes).
fn crc_bytes(a: ChecksumAlgorithm, v: u64) -> Vec<u8> {
    if a == ChecksumAlgorithm::Crc64Nvme {
        v.to_be_bytes().to_vec()
    } else {
        (v & 0xffff_ffff).to_be_bytes()[4..].to_vec()
    }
}

impl PlainHasher {
    /// The ETag's digest under `etag` plus `algorithm`, if any.
    pub fn new(etag: EtagMode, algorithm: Option<ChecksumAlgorithm>) -> Self {
        let checksum = algorithm.map(|a| match crc_algorithm(a) {
            Some(c) => ChecksumState::Crc(a, crc_fast::Digest::new(c)),
            None if a == ChecksumAlgorithm::Sha1 => {
                ChecksumState::Sha(a, ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            None => ChecksumState::Sha(a, ring::digest::Context::new(&ring::digest::SHA256)),
        });
        let etag = match etag {
            EtagMode::Md5 => EtagState::Md5(md5::Md5::new()),
            EtagMode::Fast => EtagState::Fast(Box::default()),
        };
        Self { etag, checksum }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.etag {
            EtagState::Md5(h) => h.update(data),
            EtagState::Fast(h) => {
                h.update(data);
            }
        }
        match &mut self.checksum {
            Some(ChecksumState::Crc(_, d)) => d.update(data),
            Some(ChecksumState::Sha(_, c)) => c.update(data),
            None => {}
        }
    }

    /// The digests.
    pub fn finish(self) -> PlainDigests {
        let checksum = self.checksum.map(|c| match c {
            ChecksumState::Crc(a, d) => (a, B64.encode(crc_bytes(a, d.finalize()))),
            ChecksumState::Sha(a, c) => (a, B64.encode(c.finish().as_ref())),
        });
        let etag = match self.etag {
            EtagState::Md5(h) => EtagDigest::Md5(h.finalize().into()),
            EtagState::Fast(h) => {
                let mut b = [0; 16];
                b.copy_from_slice(&h.finalize().as_bytes()[..16]);
                EtagDigest::Fast(b)
            }
        };
        PlainDigests { etag, checksum }
    }
}

/// Decodes a base64 checksum value, refusing one of the wrong length for its algorithm.
pub fn decode_checksum(algorithm: ChecksumAlgorithm, value: &str) -> Result<Vec<u8>> {
    let raw = B64.decode(value.trim()).map_err(|_| ErrorKind::InvalidDigest)?;
    let want = match algorithm {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
        ChecksumAlgorithm::Crc64Nvme => 8,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    };
    if raw.len() != want {
        return Err(ErrorKind::InvalidDigest.into());
    }
    Ok(raw)
}

/// The multipart checksum over parts given as (base64 checksum, plaintext length).
pub fn multipart_checksum(
    algorithm: ChecksumAlgorithm,
    kind: ChecksumType,
    parts: &[(String, u64)],
) -> Result<ObjectChecksum> {
    let value = match kind {
        ChecksumType::Composite => {
            let mut h = PlainHasher::new(EtagMode::Md5, Some(algorithm));
            for (v, _) in parts {
                h.update(&decode_checksum(algorithm, v)?);
            }
            let (_, v) = h.finish().checksum.context("no checksum state")?;
            format!("{v}-{}", parts.len())
        }
        ChecksumType::FullObject => {
            let crc = crc_algorithm(algorithm).ok_or_else(|| {
                ErrorKind::InvalidRequest(format!("{algorithm:?} does not support the FULL_OBJECT checksum type"))
            })?;
            let mut acc: Option<u64> = None;
            for (v, len) in parts {
                let raw = decode_checksum(algorithm, v)?;
                let part = raw.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
                acc = Some(match acc {
                    None => part,
                    Some(a) => crc_fast::checksum_combine(crc, a, part, *len),
                });
            }
            B64.encode(crc_bytes(algorithm, acc.unwrap_or(0)))
        }
    };
    Ok(ObjectChecksum { algorithm, value, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = PlainHasher::new(EtagMode::Md5, Some(algorithm));
        h.update(data);
        h.finish().checksum.unwrap().1
    }

    #[test]
    fn known_answers() {
        // Values as AWS documents / computes them for "hello world".
        assert_eq!(one(ChecksumAlgorithm::Crc32, b"hello world"), "DUoRhQ==");
        assert_eq!(one(ChecksumAlgorithm::Crc32c, b"hello world"), "yZRlqg==");
        assert_eq!(one(ChecksumAlgorithm::Sha256, b"hello world"), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert_eq!(one(ChecksumAlgorithm::Sha1, b"hello world"), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
    }

    #[test]
    fn full_object_crc_combines_parts() {
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
            let parts = vec![(one(alg, a), a.len() as u64), (one(alg, b), b.len() as u64)];
            let combined = multipart_checksum(alg, ChecksumType::FullObject, &parts).unwrap();
            assert_eq!(combined.value, one(alg, b"hello world"), "{alg:?}");
        }
    }
}
