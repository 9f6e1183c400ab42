//! Log keys (docs/format-v2.md, decision 5): one random key per KEK that seals the metadata log
//! segments at the providers. Wrapped under its KEK, bound to its keyring id, and kept at the
//! providers as a keyring object, so a rebuild needs one unwrap per KEK rather than one per
//! object. Destroying the KEK destroys the log key with it.

use crate::datapath::keyring::Keyring;
use crate::model::random_array;

use super::{AUDIT_KEY_PURPOSE, DataKey, KeyBinding, KeyError, KeyProvider};

/// An unwrapped log key and the keyring object that stores it.
pub struct LogKey {
    key: DataKey,
    keyring: Keyring,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey").field("keyring", &self.keyring).finish_non_exhaustive()
    }
}

impl LogKey {
    /// Draws a new log key for `kek` and wraps it there.
    pub async fn create(keys: &dyn KeyProvider, kek: &str) -> Result<Self, KeyError> {
        let keyring_id = loop {
            let id: [u8; 16] = random_array().map_err(|_| KeyError::Random)?;
            if id != AUDIT_KEY_PURPOSE {
                break id;
            }
        };
        let key = DataKey::generate()?;
        let wrapped = keys.wrap(&key, kek, KeyBinding::internal(keyring_id)).await?;
        Ok(Self { key, keyring: Keyring { keyring_id, wrapped } })
    }

    /// Unwraps the log key a keyring object holds; fails unless the KEK it names opens it
    /// under that keyring id.
    pub async fn open(keys: &dyn KeyProvider, keyring: Keyring) -> Result<Self, KeyError> {
        if keyring.keyring_id == AUDIT_KEY_PURPOSE {
            return Err(KeyError::Unwrap);
        }
        let key = keys.unwrap(&keyring.wrapped, KeyBinding::internal(keyring.keyring_id)).await?;
        Ok(Self { key, keyring })
    }

    /// The key bytes (for sealing and opening segments).
    pub fn expose(&self) -> &[u8; 32] {
        self.key.expose()
    }

    /// The keyring object to store at the providers.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LocalKeyFile;
    use crate::model::{BucketUid, VersionUid};

    /// Promise: a log key comes back from its keyring object with nothing but the KEK, and
    /// only from its own: another keyring id, another key file, or the object-key domain
    /// (a data key's binding) opens nothing.
    #[tokio::test]
    async fn a_log_key_opens_only_from_its_own_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeyFile::open_or_create(&dir.path().join("kek")).unwrap();
        let created = LogKey::create(&keys, "local").await.unwrap();
        let stored = created.keyring().to_bytes().unwrap();
        let opened = LogKey::open(&keys, Keyring::parse(&stored).unwrap()).await.unwrap();
        assert_eq!(opened.expose(), created.expose());

        let mut moved = Keyring::parse(&stored).unwrap();
        moved.keyring_id[0] ^= 1;
        assert!(LogKey::open(&keys, moved).await.is_err(), "bound to its keyring id");
        let other = LocalKeyFile::open_or_create(&dir.path().join("other")).unwrap();
        assert!(LogKey::open(&other, Keyring::parse(&stored).unwrap()).await.is_err(), "another KEK");
        let as_object = KeyBinding::new(BucketUid([0; 16]), VersionUid(created.keyring().keyring_id), "k");
        assert!(keys.unwrap(&created.keyring().wrapped, as_object).await.is_err(), "not an object's data key");
        // The audit key's wrapping planted as a keyring: refused, not taken for a log key.
        let audit_key = DataKey::generate().unwrap();
        let wrapped = keys.wrap(&audit_key, "local", KeyBinding::internal(AUDIT_KEY_PURPOSE)).await.unwrap();
        let planted = Keyring { keyring_id: AUDIT_KEY_PURPOSE, wrapped };
        assert!(LogKey::open(&keys, planted).await.is_err(), "never the audit key's purpose");
    }
}
