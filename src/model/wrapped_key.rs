//! A wrapped data key as records store it, and the SSE-KMS encryption context its wrapping may
//! be bound to.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A DEK wrapped under a KEK version (empty for a delete marker, which has no data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "StoredWrappedKey")]
pub struct WrappedKey {
    /// Which KEK wrapped it.
    pub kek_id: String,
    /// Which version of that KEK.
    pub kek_version: u32,
    /// The wrapped bytes.
    pub bytes: Vec<u8>,
    /// The SSE-KMS encryption context the wrapping is bound to (part of what it authenticates,
    /// so it opens under this context only), if its writer gave one.
    pub context: Option<KmsContext>,
}

/// Between a KEK id and the encryption context in a stored key's KEK field: no KEK name holds
/// it (the local file is `local`, transit names are `[A-Za-z0-9._-]`, SSE-C's is
/// `sse-c:customer`), so a stored field splits one way only.
const CONTEXT_SEPARATOR: char = '#';

/// A [`WrappedKey`] as records and log entries store it: the fields of before encryption
/// contexts in their order, the context riding after the KEK id when there is one, so every
/// key stored before reads unchanged.
#[derive(Serialize, Deserialize)]
struct StoredWrappedKey {
    kek_id: String,
    kek_version: u32,
    bytes: Vec<u8>,
}

impl WrappedKey {
    /// The KEK field as stored: the KEK id, then the context if any.
    pub fn stored_kek_field(&self) -> String {
        match &self.context {
            None => self.kek_id.clone(),
            Some(c) => format!("{}{CONTEXT_SEPARATOR}{}", self.kek_id, c.as_json()),
        }
    }

    /// The key a stored KEK field (see [`Self::stored_kek_field`]) and its other fields make.
    pub fn from_stored(kek_field: String, kek_version: u32, bytes: Vec<u8>) -> Self {
        let (kek_id, context) = match kek_field.split_once(CONTEXT_SEPARATOR) {
            Some((kek, json)) => (kek.to_owned(), Some(KmsContext(json.to_owned()))),
            None => (kek_field, None),
        };
        Self { kek_id, kek_version, bytes, context }
    }
}

impl Serialize for WrappedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let stored = StoredWrappedKey {
            kek_id: self.stored_kek_field(),
            kek_version: self.kek_version,
            bytes: self.bytes.clone(),
        };
        stored.serialize(s)
    }
}

impl From<StoredWrappedKey> for WrappedKey {
    fn from(s: StoredWrappedKey) -> Self {
        Self::from_stored(s.kek_id, s.kek_version, s.bytes)
    }
}

/// An SSE-KMS encryption context (`x-amz-server-side-encryption-context`): string pairs, kept
/// as canonical JSON (keys sorted, no spaces), the form bound into the data key's wrapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmsContext(String);

/// The largest canonical context accepted, in bytes (AWS caps a request's headers at 8 KiB).
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// Why an encryption context header was refused (S3's 400 InvalidArgument, with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Not base64 of UTF-8 JSON holding an object of strings.
    #[error(
        "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
    )]
    Malformed,
    /// A key with AWS's reserved prefix.
    #[error("Encryption context keys may not start with the reserved prefix 'aws:'")]
    Reserved,
    /// Larger than [`MAX_CONTEXT_BYTES`].
    #[error("The encryption context is larger than 4096 bytes")]
    TooLarge,
}

impl KmsContext {
    /// The context a header value carries; `None` for an empty map (no context to bind).
    pub fn from_header(value: &str) -> Result<Option<Self>, ContextError> {
        let json =
            base64::engine::general_purpose::STANDARD.decode(value.trim()).map_err(|_| ContextError::Malformed)?;
        let pairs: BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| ContextError::Malformed)?;
        if pairs.keys().any(|k| k.to_ascii_lowercase().starts_with("aws:")) {
            return Err(ContextError::Reserved);
        }
        if pairs.is_empty() {
            return Ok(None);
        }
        let canonical = serde_json::to_string(&pairs).map_err(|_| ContextError::Malformed)?;
        if canonical.len() > MAX_CONTEXT_BYTES {
            return Err(ContextError::TooLarge);
        }
        Ok(Some(Self(canonical)))
    }

    /// The canonical JSON.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// As S3 answers it: base64 of the JSON.
    pub fn to_header(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// Promise: a key stored before encryption contexts keeps its bytes and reads back as
    /// before; one with a context round-trips with it.
    #[test]
    fn wrapped_keys_keep_their_layout_and_carry_their_context() {
        let plain = WrappedKey { kek_id: "souverain".into(), kek_version: 2, bytes: vec![7, 8], context: None };
        let before = postcard::to_stdvec(&("souverain", 2u32, vec![7u8, 8])).unwrap();
        assert_eq!(postcard::to_stdvec(&plain).unwrap(), before);
        assert_eq!(postcard::from_bytes::<WrappedKey>(&before).unwrap(), plain);
        let context = KmsContext::from_header(&header(r#"{"team": "ledger", "app":"x#y"}"#)).unwrap();
        let bound = WrappedKey { context, ..plain };
        assert_eq!(bound.stored_kek_field(), r#"souverain#{"app":"x#y","team":"ledger"}"#);
        let bytes = postcard::to_stdvec(&bound).unwrap();
        assert_eq!(postcard::from_bytes::<WrappedKey>(&bytes).unwrap(), bound);
    }

    /// Promise (AWS's rules for the header): base64 of a JSON object of strings, canonical once
    /// read (sorted, compact); an empty map binds nothing; anything else is refused.
    #[test]
    fn contexts_are_canonical_and_malformed_ones_refused() {
        let c = KmsContext::from_header(&header(r#"{ "b": "2", "a": "1" }"#)).unwrap().unwrap();
        assert_eq!(c.as_json(), r#"{"a":"1","b":"2"}"#);
        assert_eq!(c.to_header(), header(r#"{"a":"1","b":"2"}"#));
        assert_eq!(KmsContext::from_header(&header("{}")), Ok(None));
        for bad in ["not base64!", &header("[1]"), &header(r#"{"a": 1}"#), &header("{")] {
            assert_eq!(KmsContext::from_header(bad), Err(ContextError::Malformed), "{bad}");
        }
        assert_eq!(KmsContext::from_header(&header(r#"{"aws:s3:arn": "x"}"#)), Err(ContextError::Reserved));
        let big = format!(r#"{{"k": "{}"}}"#, "v".repeat(MAX_CONTEXT_BYTES));
        assert_eq!(KmsContext::from_header(&header(&big)), Err(ContextError::TooLarge));
    }
}
