//! Format v2 keyring objects (docs/format-v2.md, decision 5): a log key wrapped under a KEK,
//! stored at the providers so that a rebuild can open the log segments with nothing but the
//! KEK. The wrapping authenticates the keyring id (it is the wrapping's binding); the KEK id
//! and version are cleartext hints that can only make the unwrap fail if altered.
//!
//! ```text
//! "SOVK" ‖ u8(2) ‖ u8(kind = 1) ‖ u16(flags = 0) ‖ keyring_id(16) ‖ u32(kek_version)
//!        ‖ len8(kek_id) ‖ kek_id ‖ u16(len) ‖ wrapped
//! ```

use super::fields::Fields;
use crate::model::WrappedKey;

/// `SOVK`.
pub const KEYRING_MAGIC: [u8; 4] = *b"SOVK";
const VERSION: u8 = 2;
const KIND_LOG_KEY: u8 = 1;

/// Why a keyring object was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// Not a keyring object, or one of a version, kind or flags this gateway does not know.
    #[error("not a keyring object this gateway reads")]
    Unsupported,
    /// Lengths that do not add up to the object.
    #[error("keyring object malformed")]
    Malformed,
    /// A KEK id longer than 255 bytes or a wrapping longer than 65,535 bytes.
    #[error("keyring entry too long")]
    TooLong,
}

/// One log key's keyring object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    /// The id segments name in their header (and the wrapping's binding).
    pub keyring_id: [u8; 16],
    /// The log key, wrapped under its KEK.
    pub wrapped: WrappedKey,
}

impl Keyring {
    /// The object's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, KeyringError> {
        let kek = self.wrapped.kek_id.as_bytes();
        let kek_len = u8::try_from(kek.len()).map_err(|_| KeyringError::TooLong)?;
        let wrapped_len = u16::try_from(self.wrapped.bytes.len()).map_err(|_| KeyringError::TooLong)?;
        let mut out = Vec::with_capacity(31 + kek.len() + self.wrapped.bytes.len());
        out.extend_from_slice(&KEYRING_MAGIC);
        out.extend_from_slice(&[VERSION, KIND_LOG_KEY, 0, 0]);
        out.extend_from_slice(&self.keyring_id);
        out.extend_from_slice(&self.wrapped.kek_version.to_be_bytes());
        out.push(kek_len);
        out.extend_from_slice(kek);
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(&self.wrapped.bytes);
        Ok(out)
    }

    /// Reads a keyring object (its wrapping is authenticated only by unwrapping it).
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyringError> {
        use KeyringError::Malformed;
        let mut f = Fields::new(bytes);
        if f.take(4).ok_or(Malformed)? != KEYRING_MAGIC || f.take(4).ok_or(Malformed)? != [VERSION, KIND_LOG_KEY, 0, 0]
        {
            return Err(KeyringError::Unsupported);
        }
        let keyring_id = f.array().ok_or(Malformed)?;
        let kek_version = f.u32().ok_or(Malformed)?;
        let kek_len = usize::from(f.u8().ok_or(Malformed)?);
        let kek_id = std::str::from_utf8(f.take(kek_len).ok_or(Malformed)?).map_err(|_| Malformed)?.to_owned();
        let len = usize::from(f.u16().ok_or(Malformed)?);
        let bytes = f.take(len).ok_or(Malformed)?.to_vec();
        if !f.rest().is_empty() {
            return Err(Malformed);
        }
        Ok(Self { keyring_id, wrapped: WrappedKey { kek_id, kek_version, bytes, context: None } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Keyring {
        Keyring {
            keyring_id: [5; 16],
            wrapped: WrappedKey { kek_id: "souverain".into(), kek_version: 3, bytes: vec![1, 2, 3], context: None },
        }
    }

    /// Promise: the layout is pinned byte for byte and reads back to what was written.
    #[test]
    fn a_keyring_has_known_bytes() {
        let bytes = sample().to_bytes().unwrap();
        let mut expected = b"SOVK\x02\x01\x00\x00".to_vec();
        expected.extend_from_slice(&[5; 16]);
        expected.extend_from_slice(&[0, 0, 0, 3, 9]);
        expected.extend_from_slice(b"souverain");
        expected.extend_from_slice(&[0, 3, 1, 2, 3]);
        assert_eq!(bytes, expected);
        assert_eq!(Keyring::parse(&bytes), Ok(sample()));
    }

    /// Promise: anything else than a whole keyring object is refused, never half-read.
    #[test]
    fn malformed_keyrings_are_refused() {
        let bytes = sample().to_bytes().unwrap();
        for cut in [0, 3, 8, 24, 28, 29, 38, bytes.len() - 1] {
            assert!(Keyring::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Keyring::parse(&longer), Err(KeyringError::Malformed));
        let mut other = bytes.clone();
        other[5] = 2;
        assert_eq!(Keyring::parse(&other), Err(KeyringError::Unsupported));
        assert_eq!(Keyring::parse(b"SOVL\x02\x01\x00\x00 a segment"), Err(KeyringError::Unsupported));
    }
}
