//! The log keys in use, one per KEK (docs/format-v2.md, decision 5): created on first use,
//! stored in the metadata store (so every gateway of a shared store, and every later run,
//! seals under the same one) and kept unwrapped in memory.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::datapath::keyring::Keyring;
use crate::error::{Context, Result};
use crate::keys::KeyProvider;
use crate::keys::log_key::LogKey;
use crate::meta::MetadataStore;

/// Log keys by KEK.
pub(super) struct LogKeys {
    keys: Arc<dyn KeyProvider>,
    meta: Arc<dyn MetadataStore>,
    open: Mutex<HashMap<String, Arc<LogKey>>>,
}

impl LogKeys {
    pub(super) fn new(keys: Arc<dyn KeyProvider>, meta: Arc<dyn MetadataStore>) -> Self {
        Self { keys, meta, open: Mutex::new(HashMap::new()) }
    }

    /// The log key of `kek` (the bucket's own KEK, or `None` for the default one). Held
    /// locked while one is created, so a gateway never draws two for one KEK.
    pub(super) async fn of(&self, kek: Option<&str>) -> Result<Arc<LogKey>> {
        let kek = self.keys.kek_for(kek);
        let mut open = self.open.lock().await;
        if let Some(key) = open.get(&kek) {
            return Ok(Arc::clone(key));
        }
        let stored = if let Some(bytes) = self.meta.log_keyring(&kek).await? {
            bytes
        } else {
            let created = LogKey::create(self.keys.as_ref(), &kek).await?;
            let bytes = created.keyring().to_bytes().context("encoding a keyring object")?;
            // Another gateway may have stored its own first: that one is the KEK's log key.
            self.meta.init_log_keyring(&kek, bytes).await?
        };
        let keyring = Keyring::parse(&stored).context("reading the stored log keyring")?;
        let key = Arc::new(LogKey::open(self.keys.as_ref(), keyring).await?);
        open.insert(kek, Arc::clone(&key));
        Ok(key)
    }
}
