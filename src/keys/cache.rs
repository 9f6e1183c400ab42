//! A bounded cache of unwrapped DEKs in front of a KMS, so a busy object does not cost one KMS
//! round trip per GET. Entries live at most `ttl` and at most `capacity` are kept; evicted and
//! expired keys are zeroized (they are `Zeroizing`). When the KMS is down, reads keep working
//! only for keys unwrapped within the last `ttl`: after that the gateway fails closed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{DataKey, KeyBinding, KeyError, KeyProvider, WrappedKey};
use crate::model::{BucketUid, KmsContext, VersionUid};

/// Which wrapping an entry came from: the binding (bucket, version, object key), the KEK, the
/// encryption context and the exact wrapped bytes, so a rewrapped key, a record that names
/// another object's key, or one whose context was changed, never hits an entry.
type CacheKey = (BucketUid, VersionUid, String, String, Option<KmsContext>, Vec<u8>);

/// `inner` with its unwraps cached.
#[derive(Debug)]
pub struct CachedKeys<K> {
    inner: K,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, Entry>>,
}

struct Entry {
    at: Instant,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Entry {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entry(<redacted>)")
    }
}

impl<K> CachedKeys<K> {
    /// Caches `inner`'s unwraps for `ttl`, at most `capacity` of them (0 disables the cache).
    pub fn new(inner: K, ttl: Duration, capacity: usize) -> Self {
        Self { inner, ttl, capacity, entries: Mutex::new(HashMap::new()) }
    }

    fn lookup(&self, k: &CacheKey) -> Option<DataKey> {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = entries.get(k).is_some_and(|e| e.at.elapsed() < self.ttl);
        if !fresh {
            entries.remove(k);
            return None;
        }
        entries.get(k).map(|e| DataKey::from_bytes(Zeroizing::new(*e.key)))
    }

    fn store(&self, k: CacheKey, dek: &DataKey) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
        }
        if entries.len() >= self.capacity {
            // Still full of fresh keys: drop the oldest.
            if let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone()) {
                entries.remove(&oldest);
            }
        }
        entries.insert(k, Entry { at: Instant::now(), key: Zeroizing::new(*dek.expose()) });
    }

    /// Forgets every key unwrapped under `kek` (it was destroyed).
    fn forget_kek(&self, kek: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|(_, _, _, id, _, _), _| id != kek);
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<K: KeyProvider> KeyProvider for CachedKeys<K> {
    fn kek_for(&self, bucket_kek: Option<&str>) -> String {
        self.inner.kek_for(bucket_kek)
    }

    async fn wrap(&self, dek: &DataKey, kek: &str, binding: KeyBinding<'_>) -> Result<WrappedKey, KeyError> {
        self.inner.wrap(dek, kek, binding).await
    }

    async fn unwrap(&self, wrapped: &WrappedKey, binding: KeyBinding<'_>) -> Result<DataKey, KeyError> {
        // Everything the unwrap depends on: a record changed in any of it is asked of the KMS.
        let k = (
            binding.bucket,
            binding.version,
            binding.key.to_owned(),
            wrapped.kek_id.clone(),
            wrapped.context.clone(),
            wrapped.bytes.clone(),
        );
        if let Some(dek) = self.lookup(&k) {
            return Ok(dek);
        }
        let dek = self.inner.unwrap(wrapped, binding).await?;
        self.store(k, &dek);
        Ok(dek)
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        kek: &str,
        binding: KeyBinding<'_>,
    ) -> Result<Option<WrappedKey>, KeyError> {
        self.inner.rewrap(wrapped, kek, binding).await
    }

    async fn ensure_kek(&self, kek: &str) -> Result<(), KeyError> {
        self.inner.ensure_kek(kek).await
    }

    async fn rotate(&self, kek: &str) -> Result<u32, KeyError> {
        self.inner.rotate(kek).await
    }

    async fn shred(&self, kek: &str) -> Result<(), KeyError> {
        let r = self.inner.shred(kek).await;
        self.forget_kek(kek);
        r
    }

    async fn check(&self) -> Result<(), KeyError> {
        self.inner.check().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::LocalKeyFile;
    use crate::keys::local::LOCAL_KEK_ID;

    #[tokio::test]
    async fn unwraps_are_cached_bounded_and_expire() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let local = LocalKeyFile::open_or_create(&dir.path().join("kek")).unwrap_or_else(|e| panic!("{e}"));
        let cache = CachedKeys::new(local, Duration::from_millis(200), 2);
        let mut wrapped = Vec::new();
        for i in 0..3u8 {
            let dek = DataKey::generate().unwrap_or_else(|e| panic!("{e}"));
            let at = KeyBinding::new(BucketUid([1; 16]), VersionUid([i; 16]), "k");
            let w = cache.wrap(&dek, LOCAL_KEK_ID, at).await.unwrap_or_else(|e| panic!("{e}"));
            let back = cache.unwrap(&w, at).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back.expose(), dek.expose());
            wrapped.push((w, at, dek));
        }
        assert_eq!(cache.len(), 2, "capacity bounds the cache");
        let (w, at, dek) = &wrapped[2];
        assert_eq!(cache.unwrap(w, *at).await.map(|d| *d.expose()).ok(), Some(*dek.expose()));
        let elsewhere = KeyBinding { version: VersionUid([9; 16]), ..*at };
        assert!(cache.unwrap(w, elsewhere).await.is_err(), "another binding never hits");
        let other_key = KeyBinding { key: "other", ..*at };
        assert!(cache.unwrap(w, other_key).await.is_err(), "another object's key never hits");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let entry = (at.bucket, at.version, at.key.to_owned(), w.kek_id.clone(), None, w.bytes.clone());
        assert!(cache.lookup(&entry).is_none(), "entries expire");
    }

    /// Promise: a key bound to an encryption context is cached under it: the same record with
    /// another context (or none) is asked of the provider, which refuses it, and destroying the
    /// KEK forgets it like any other.
    #[tokio::test]
    async fn context_bound_keys_miss_on_another_context_and_go_with_their_kek() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let local = LocalKeyFile::open_or_create(&dir.path().join("kek")).unwrap_or_else(|e| panic!("{e}"));
        let cache = CachedKeys::new(local, Duration::from_mins(1), 8);
        let of = |json: &str| {
            use base64::Engine as _;
            let header = base64::engine::general_purpose::STANDARD.encode(json);
            KmsContext::from_header(&header).unwrap_or_else(|e| panic!("{e}"))
        };
        let context = of(r#"{"team":"ledger"}"#).unwrap_or_else(|| panic!("a context"));
        let at = KeyBinding::new(BucketUid([1; 16]), VersionUid([2; 16]), "k").with_context(Some(&context));
        let dek = DataKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let w = cache.wrap(&dek, LOCAL_KEK_ID, at).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.context.as_ref(), Some(&context));
        assert!(cache.unwrap(&w, at).await.is_ok());
        assert_eq!(cache.len(), 1);
        for changed in [of(r#"{"team":"audit"}"#), None] {
            let forged = WrappedKey { context: changed, ..w.clone() };
            assert!(cache.unwrap(&forged, at).await.is_err(), "{:?}", forged.context);
        }
        assert!(cache.shred(LOCAL_KEK_ID).await.is_err(), "the key file cannot be destroyed");
        assert!(cache.is_empty(), "its keys are forgotten all the same");
    }
}
