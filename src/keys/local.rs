//! The local key file: one 32-byte KEK, created at first start with mode 0600.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{DataKey, KeyBinding, KeyError, KeyProvider, WrappedKey};
use crate::datapath::crypto::{unwrap_key, wrap_key};
use crate::model::random_array;

/// The KEK id of the local key file.
pub const LOCAL_KEK_ID: &str = "local";

/// A KEK held in a local file.
pub struct LocalKeyFile {
    kek: Zeroizing<[u8; 32]>,
    path: PathBuf,
}

impl fmt::Debug for LocalKeyFile {
    // Never print the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl LocalKeyFile {
    /// Opens the key file, creating it (mode 0600, 32 random bytes) if absent. Refuses a file
    /// that is group- or world-accessible or not exactly 32 bytes.
    pub fn open_or_create(path: &Path) -> Result<Self, KeyError> {
        Self::open(path, true)
    }

    /// Opens the key file; creates it only when `may_create` (a metadata store that holds no
    /// data key yet), else a missing file is an error naming it: a new key would silently
    /// replace the one every stored data key is wrapped under.
    pub fn open(path: &Path, may_create: bool) -> Result<Self, KeyError> {
        let err = |reason: String| KeyError::KeyFile { path: path.display().to_string(), reason };
        if !may_create && !path.exists() {
            return Err(err(
                "missing, but the metadata store holds data keys wrapped under it; restore the file (a new key would open none of them)"
                    .into(),
            ));
        }
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                let kek: [u8; 32] = random_array().map_err(|_| KeyError::Random)?;
                file.write_all(&kek).and_then(|()| file.sync_all()).map_err(|e| err(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err(e.to_string()))?;
                }
                return Ok(Self { kek: Zeroizing::new(kek), path: path.to_owned() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e.to_string())),
        }
        let mut file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mode = file.metadata().map_err(|e| err(e.to_string()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(err(format!("mode {:o} is readable by others; chmod 600 it", mode & 0o777)));
        }
        let mut buf = Zeroizing::new(Vec::new());
        file.read_to_end(&mut buf).map_err(|e| err(e.to_string()))?;
        let mut kek = Zeroizing::new([0u8; 32]);
        if buf.len() != 32 {
            return Err(err("must hold exactly 32 bytes".into()));
        }
        kek.copy_from_slice(&buf);
        Ok(Self { kek, path: path.to_owned() })
    }
}

impl LocalKeyFile {
    /// A public fingerprint of the key (HMAC-SHA256 of a fixed label, 16 bytes in hex): the
    /// metadata store records it at first start, so a different file is recognised.
    pub fn fingerprint(&self) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.kek.as_ref());
        let tag = ring::hmac::sign(&key, b"souverain local kek fingerprint v1");
        hex::encode(&tag.as_ref()[..16])
    }

    /// The key file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl KeyProvider for LocalKeyFile {
    fn kek_for(&self, _bucket_kek: Option<&str>) -> String {
        LOCAL_KEK_ID.to_owned()
    }

    async fn wrap(&self, dek: &DataKey, kek: &str, binding: KeyBinding<'_>) -> Result<WrappedKey, KeyError> {
        if kek != LOCAL_KEK_ID {
            return Err(KeyError::UnknownKek(kek.to_owned()));
        }
        let bytes = wrap_key(&self.kek, &binding.aad(LOCAL_KEK_ID), dek.expose()).map_err(|_| KeyError::Random)?;
        Ok(WrappedKey { kek_id: LOCAL_KEK_ID.into(), kek_version: 1, bytes, context: binding.recorded_context() })
    }

    async fn unwrap(&self, wrapped: &WrappedKey, binding: KeyBinding<'_>) -> Result<DataKey, KeyError> {
        if wrapped.kek_id != LOCAL_KEK_ID {
            return Err(KeyError::UnknownKek(wrapped.kek_id.clone()));
        }
        let binding = binding.of_wrapped(wrapped);
        unwrap_key(&self.kek, &binding.aad(LOCAL_KEK_ID), &wrapped.bytes)
            .or_else(|e| match wrapped.context {
                None => unwrap_key(&self.kek, &binding.legacy_aad(LOCAL_KEK_ID), &wrapped.bytes),
                Some(_) => Err(e),
            })
            .map(DataKey::from_bytes)
            .map_err(|_| KeyError::Unwrap)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        kek: &str,
        _binding: KeyBinding<'_>,
    ) -> Result<Option<WrappedKey>, KeyError> {
        match (wrapped.kek_id.as_str(), kek) {
            (LOCAL_KEK_ID, LOCAL_KEK_ID) => Ok(None),
            _ => Err(KeyError::UnknownKek(wrapped.kek_id.clone())),
        }
    }

    async fn ensure_kek(&self, _kek: &str) -> Result<(), KeyError> {
        Err(KeyError::NotSupported("a bucket's own key-encryption key"))
    }

    async fn rotate(&self, _kek: &str) -> Result<u32, KeyError> {
        Err(KeyError::NotSupported("key rotation"))
    }

    async fn shred(&self, _kek: &str) -> Result<(), KeyError> {
        Err(KeyError::NotSupported("crypto-shredding"))
    }

    async fn check(&self) -> Result<(), KeyError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::{BucketUid, VersionUid};

    #[tokio::test]
    async fn key_file_is_private_and_wrap_binds_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let kf = LocalKeyFile::open_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let dek = DataKey::generate().unwrap();
        let at = KeyBinding::new(BucketUid([1; 16]), VersionUid([2; 16]), "invoices/2026.pdf");
        let w = kf.wrap(&dek, LOCAL_KEK_ID, at).await.unwrap();
        assert_eq!(w.bytes.len(), 60);
        let back = kf.unwrap(&w, at).await.unwrap();
        assert_eq!(back.expose(), dek.expose());
        assert!(kf.unwrap(&w, KeyBinding { version: VersionUid([3; 16]), ..at }).await.is_err());
        // Another object's record pointing at this key (a swapped metadata record) opens nothing.
        assert!(kf.unwrap(&w, KeyBinding { key: "invoices/2025.pdf", ..at }).await.is_err());
        // A key wrapped before object keys were bound still opens, under its version alone.
        let legacy = wrap_key(&kf.kek, &at.legacy_aad(LOCAL_KEK_ID), dek.expose()).unwrap();
        let legacy = WrappedKey { kek_id: LOCAL_KEK_ID.into(), kek_version: 1, bytes: legacy, context: None };
        assert_eq!(kf.unwrap(&legacy, KeyBinding { key: "anything", ..at }).await.unwrap().expose(), dek.expose());
        let again = LocalKeyFile::open_or_create(&path).unwrap();
        assert!(again.unwrap(&w, at).await.is_ok());
        assert_eq!(again.fingerprint(), kf.fingerprint());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(LocalKeyFile::open_or_create(&path).is_err());
    }

    /// Promise (issue 18 item 8): without leave to create it, a missing key file is an error
    /// naming the file, and nothing is created; another key has another fingerprint.
    #[test]
    fn missing_key_file_is_not_replaced_when_creation_is_not_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek.key");
        let err = LocalKeyFile::open(&path, false).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()) && err.contains("missing"), "{err}");
        assert!(!path.exists(), "no new key file");
        let first = LocalKeyFile::open(&path, true).unwrap();
        let other = LocalKeyFile::open(&dir.path().join("other.key"), true).unwrap();
        assert_ne!(first.fingerprint(), other.fingerprint());
        assert_eq!(first.fingerprint().len(), 32);
    }
}
