//! The keyless check of a stream's ciphertext: what repair, evacuation and the scrubber
//! compare a replica with, without any key (docs/format-v2.md §9). Streams written before
//! format v2's digest decision carry the SHA-256 of their ciphertext; newer ones its
//! CRC64-NVME, a twenty-fifth of the CPU (malice is caught by authenticated decryption, on
//! every GET and in the scrubber's sampled decrypts; this only has to catch accidental damage).
//!
//! Both live in the same 32-byte field of every record, log entry and manifest MAC, so no
//! stored byte changes meaning: a CRC64-NVME is its 8 bytes big-endian followed by 24 zero
//! bytes. A SHA-256 output ends in 24 zero bytes with probability 2⁻¹⁹², so the two never mix.

use serde::{Deserialize, Serialize};

/// The recorded check of one stream's ciphertext (header included).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CiphertextCheck(pub [u8; 32]);

/// Which function a [`CiphertextCheck`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFunction {
    /// SHA-256 (streams written before the change).
    Sha256,
    /// CRC64-NVME (what new streams record).
    Crc64Nvme,
}

impl CiphertextCheck {
    /// A CRC64-NVME value in the field.
    pub fn crc64nvme(value: u64) -> Self {
        let mut field = [0u8; 32];
        field[..8].copy_from_slice(&value.to_be_bytes());
        Self(field)
    }

    /// Which function made it.
    pub fn function(&self) -> CheckFunction {
        if self.0[8..].iter().all(|b| *b == 0) { CheckFunction::Crc64Nvme } else { CheckFunction::Sha256 }
    }
}

impl std::fmt::Debug for CiphertextCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.function() {
            CheckFunction::Crc64Nvme => write!(f, "Crc64Nvme({})", hex::encode(&self.0[..8])),
            CheckFunction::Sha256 => write!(f, "Sha256({})", hex::encode(self.0)),
        }
    }
}

/// Computes a [`CiphertextCheck`] over bytes as they stream by.
pub enum CheckHasher {
    /// SHA-256.
    Sha256(ring::digest::Context),
    /// CRC64-NVME.
    Crc64Nvme(crc_fast::Digest),
}

impl CheckHasher {
    /// The function new streams record.
    pub fn for_new_stream() -> Self {
        Self::of(CheckFunction::Crc64Nvme)
    }

    /// The function that made `recorded`, to compare a replica with it.
    pub fn like(recorded: &CiphertextCheck) -> Self {
        Self::of(recorded.function())
    }

    fn of(function: CheckFunction) -> Self {
        match function {
            CheckFunction::Sha256 => Self::Sha256(ring::digest::Context::new(&ring::digest::SHA256)),
            CheckFunction::Crc64Nvme => Self::Crc64Nvme(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme)),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(c) => c.update(data),
            Self::Crc64Nvme(d) => d.update(data),
        }
    }

    /// The check over everything fed.
    pub fn finish(self) -> CiphertextCheck {
        match self {
            Self::Sha256(c) => {
                let mut field = [0u8; 32];
                field.copy_from_slice(c.finish().as_ref());
                CiphertextCheck(field)
            }
            Self::Crc64Nvme(d) => CiphertextCheck::crc64nvme(d.finalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: new streams record CRC64-NVME as the field's first 8 bytes (big-endian, the
    /// check value of the catalogue: "123456789" → 0xae8b14860a799888) and 24 zero bytes; a
    /// recorded SHA-256 is recomputed as SHA-256, so streams of before still verify.
    #[test]
    fn both_functions_fill_the_field_as_documented() {
        let mut h = CheckHasher::for_new_stream();
        h.update(b"1234");
        h.update(b"56789");
        let crc = h.finish();
        assert_eq!(hex::encode(crc.0), format!("ae8b14860a799888{}", "0".repeat(48)));
        assert_eq!(crc.function(), CheckFunction::Crc64Nvme);
        let sha = CiphertextCheck(
            <[u8; 32]>::try_from(ring::digest::digest(&ring::digest::SHA256, b"123456789").as_ref()).unwrap(),
        );
        assert_eq!(sha.function(), CheckFunction::Sha256);
        let mut again = CheckHasher::like(&sha);
        again.update(b"123456789");
        assert_eq!(again.finish(), sha);
        let mut other = CheckHasher::like(&crc);
        other.update(b"123456780");
        assert_ne!(other.finish(), crc);
    }
}
