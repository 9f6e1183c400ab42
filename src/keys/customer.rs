//! SSE-C: a key the client sends with each request wraps the object's data key in place of the
//! gateway's KEK, so neither the gateway's key file, its KMS nor its operator can open the
//! object without it. The key lives in the request only: it is never stored, logged or cached;
//! what is stored is the data key wrapped under a key derived from it
//! (`crypto::customer_wrapping_key`), whose AES-GCM tag tells a wrong key from the right one
//! (S3's 403) without keeping any digest of the key.

use std::fmt;

use md5::Digest as _;
use zeroize::Zeroizing;

use super::{DataKey, KeyBinding, KeyError, WrappedKey};
use crate::datapath::crypto::{customer_wrapping_key, unwrap_key, wrap_key};

/// The KEK id recorded for a data key wrapped under a customer key. A `:` never appears in a
/// KEK name (the local file is `local`, transit names are `[A-Za-z0-9._-]`), so no KEK can be
/// taken for it, and every KEK operation (rotation, rewrap, shredding) leaves it alone.
pub const CUSTOMER_KEK_ID: &str = "sse-c:customer";

/// A customer-provided AES-256 key (`x-amz-server-side-encryption-customer-key`). Zeroized on
/// drop; its `Debug` shows only the key's MD5, which S3 returns to the client anyway.
#[derive(Clone)]
pub struct CustomerKey {
    key: Zeroizing<[u8; 32]>,
    md5: [u8; 16],
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerKey").field("md5", &self.md5_base64()).finish_non_exhaustive()
    }
}

impl CustomerKey {
    /// The key's 32 bytes.
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        let md5 = md5::Md5::digest(key.as_ref()).into();
        Self { key, md5 }
    }

    /// The key's MD5, base64 (`x-amz-server-side-encryption-customer-key-MD5`).
    pub fn md5_base64(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(self.md5)
    }

    /// Wraps `dek` for the version `binding` names.
    pub fn wrap(&self, dek: &DataKey, binding: KeyBinding<'_>) -> Result<WrappedKey, KeyError> {
        let kek = customer_wrapping_key(&self.key).map_err(|_| KeyError::Random)?;
        let bytes = wrap_key(&kek, &binding.aad(CUSTOMER_KEK_ID), dek.expose()).map_err(|_| KeyError::Random)?;
        Ok(WrappedKey { kek_id: CUSTOMER_KEK_ID.into(), kek_version: 1, bytes, context: binding.recorded_context() })
    }

    /// Unwraps a data key this customer key wrapped for `binding`; [`KeyError::Unwrap`] for any
    /// other key or binding.
    pub fn unwrap(&self, wrapped: &WrappedKey, binding: KeyBinding<'_>) -> Result<DataKey, KeyError> {
        if !wrapped.is_customer_wrapped() {
            return Err(KeyError::Unwrap);
        }
        let kek = customer_wrapping_key(&self.key).map_err(|_| KeyError::Unwrap)?;
        let binding = binding.of_wrapped(wrapped);
        let plain = unwrap_key(&kek, &binding.aad(CUSTOMER_KEK_ID), &wrapped.bytes).map_err(|_| KeyError::Unwrap)?;
        Ok(DataKey::from_bytes(plain))
    }
}

impl WrappedKey {
    /// Whether a customer key (SSE-C) wrapped it rather than one of the gateway's KEKs.
    pub fn is_customer_wrapped(&self) -> bool {
        self.kek_id == CUSTOMER_KEK_ID
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucketUid, VersionUid};

    fn binding(key: &str) -> KeyBinding<'_> {
        KeyBinding::new(BucketUid([1; 16]), VersionUid([2; 16]), key)
    }

    #[test]
    fn a_data_key_opens_only_under_its_customer_key_and_binding() {
        let right = CustomerKey::new(Zeroizing::new([7; 32]));
        let wrong = CustomerKey::new(Zeroizing::new([8; 32]));
        let dek = DataKey::generate().unwrap();
        let wrapped = right.wrap(&dek, binding("a")).unwrap();
        assert!(wrapped.is_customer_wrapped());
        assert_eq!(wrapped.bytes.len(), 60);
        assert_eq!(right.unwrap(&wrapped, binding("a")).unwrap().expose(), dek.expose());
        assert!(matches!(wrong.unwrap(&wrapped, binding("a")), Err(KeyError::Unwrap)));
        assert!(matches!(right.unwrap(&wrapped, binding("b")), Err(KeyError::Unwrap)));
        // The customer's key is not the wrapping key: the raw key does not open it.
        let raw = unwrap_key(&[7; 32], &binding("a").aad(CUSTOMER_KEK_ID), &wrapped.bytes);
        assert!(raw.is_err());
    }

    #[test]
    fn the_debug_form_shows_the_md5_and_never_the_key() {
        let key = CustomerKey::new(Zeroizing::new([0x41; 32]));
        let shown = format!("{key:?}");
        assert!(!shown.contains("AAAA") && !shown.contains("65, 65"), "{shown}");
        // MD5 of 32 × 'A', as `printf 'A%.0s' {1..32} | openssl md5 -binary | base64` gives it.
        assert_eq!(key.md5_base64(), "UhbdzFjo2t5SVgded/ZC2g==");
        assert!(shown.contains("UhbdzFjo2t5SVgded/ZC2g=="));
    }
}
