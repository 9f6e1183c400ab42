//! Value and key encodings. Values are `u8(record_version) ‖ postcard(record)`; composite keys
//! use the order-preserving escape so keys containing NUL still sort correctly.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MetaError;

/// The current layout version of every record.
pub const RECORD_VERSION: u8 = 1;

/// Encodes a record with its version byte.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, MetaError> {
    encode_as(RECORD_VERSION, value)
}

/// Encodes a record under a layout version of its own (a record whose layout changed).
pub fn encode_as<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, MetaError> {
    let mut out = vec![version];
    out.extend(postcard::to_stdvec(value).map_err(|e| MetaError::codec_from("encoding a record", e))?);
    Ok(out)
}

/// Decodes a record; refuses unknown versions rather than guessing.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MetaError> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => decode_body(rest),
        Some((v, _)) => Err(MetaError::codec(format!("unknown record version {v}"))),
        None => Err(MetaError::codec("empty value")),
    }
}

/// Decodes the bytes after the version byte (the caller chose the layout by that byte).
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, MetaError> {
    postcard::from_bytes(body).map_err(|e| MetaError::codec_from("decoding a record", e))
}

/// `0x00` becomes `0x00 0xFF`, and `0x00 0x01` terminates, so `esc(a) < esc(b)` iff `a < b`
/// and no escaped key is a prefix of another.
pub fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// The smallest byte string greater than every string starting with `prefix`, or `None` if
/// there is none (all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last != 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// The smallest byte string strictly greater than `key`.
pub fn key_successor(key: &[u8]) -> Vec<u8> {
    let mut out = key.to_vec();
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_preserves_order_with_nul() {
        let keys: [&[u8]; 5] = [b"a", b"a\0", b"a\0b", b"ab", b"b"];
        let enc: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                let mut v = Vec::new();
                escape_into(&mut v, k);
                v
            })
            .collect();
        assert!(enc.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn successor_of_prefix() {
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xFF]), None);
    }
}
