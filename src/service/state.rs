//! What the object path, the admin operations and the workers share: the residency and key
//! state in force (the config's, then the admin API's changes, reloaded from the store by every
//! gateway), and the wakes of the jobs that follow those changes.

use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use super::keys::KeyState;
use super::residency::Residency;
use crate::keys::KeyProvider;
use crate::meta::MetadataStore;
use crate::model::BucketUid;

/// The state in force, changed by the admin API and reloaded from the metadata store.
pub struct GatewayState {
    /// The config's catalog and policies, which stored changes override.
    base: Residency,
    residency: RwLock<Arc<Residency>>,
    key_state: RwLock<Arc<KeyState>>,
    /// Wakes the evacuation job after a residency change.
    evacuation: Notify,
    /// Wakes the rotation job after a rotation or a bucket's move to its own KEK.
    rotation: Notify,
    /// What the last usage pass counted.
    usage: RwLock<Arc<UsageSnapshot>>,
}

/// What one usage pass counted (empty before the first).
#[derive(Debug, Default)]
pub struct UsageSnapshot {
    /// Per provider id: replicas (or shards) and their bytes as stored there.
    pub by_provider: std::collections::BTreeMap<String, (u64, u64)>,
    /// Per bucket name: current objects and their plaintext bytes.
    pub by_bucket: std::collections::BTreeMap<String, (u64, u64)>,
}

impl GatewayState {
    /// The config's state, before any stored change is loaded.
    pub fn new(base: Residency) -> Self {
        Self {
            residency: RwLock::new(Arc::new(base.clone())),
            base,
            key_state: RwLock::default(),
            evacuation: Notify::new(),
            rotation: Notify::new(),
            usage: RwLock::default(),
        }
    }

    /// What the last usage pass counted.
    pub fn usage(&self) -> Arc<UsageSnapshot> {
        self.usage.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    pub(crate) fn set_usage(&self, usage: UsageSnapshot) {
        if let Ok(mut slot) = self.usage.write() {
            *slot = Arc::new(usage);
        }
    }

    /// The catalog and policies in force now.
    pub fn residency(&self) -> Arc<Residency> {
        self.residency.read().map(|r| Arc::clone(&r)).unwrap_or_default()
    }

    /// Puts `r` in force and wakes the evacuation job.
    pub(crate) fn set_residency(&self, r: Residency) {
        if let Ok(mut slot) = self.residency.write() {
            *slot = Arc::new(r);
        }
        self.evacuation.notify_one();
    }

    /// Buckets' own KEKs and destroyed KEKs, now.
    pub fn key_state(&self) -> Arc<KeyState> {
        self.key_state.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    pub(crate) fn set_key_state(&self, s: KeyState) {
        if let Ok(mut slot) = self.key_state.write() {
            *slot = Arc::new(s);
        }
    }

    /// Applies the changes stored by this and other gateways (at start, then at every
    /// heartbeat of a shared store).
    pub async fn reload(&self, meta: &dyn MetadataStore) -> crate::error::Result<()> {
        let overrides = meta.catalog_overrides().await?;
        self.set_key_state(KeyState::from_overrides(&overrides));
        self.set_residency(self.base.clone().with_overrides(overrides));
        Ok(())
    }

    /// The KEK that wraps new data keys of `bucket`.
    pub fn kek_of(&self, keys: &dyn KeyProvider, bucket: BucketUid) -> String {
        keys.kek_for(self.key_state().bucket_keks.get(&bucket).map(String::as_str))
    }

    /// The policy ids in force.
    pub fn policy_ids(&self) -> Vec<String> {
        self.residency().policies.keys().cloned().collect()
    }

    /// Notified after every residency change (the evacuation job waits on it).
    pub fn evacuation_wake(&self) -> &Notify {
        &self.evacuation
    }

    /// Notified when the rotation job has work (it waits on it).
    pub fn rotation_wake(&self) -> &Notify {
        &self.rotation
    }
}
