//! Key management (DESIGN.md §4.6): which KEK wraps each bucket's data keys, rotation by rewrap
//! (the rotation job, `workers::rotation`, does the walking), and crypto-shredding. Every change
//! is persisted with its audit record in one write.

use std::collections::HashMap;

use super::ObjectService;
use crate::error::{ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding, WrappedKey};
use crate::meta::CatalogOverrides;
use crate::model::BucketUid;

/// The key state the admin API changed: buckets with their own KEK, destroyed KEKs.
#[derive(Debug, Clone, Default)]
pub struct KeyState {
    /// Buckets whose data keys are wrapped under their own KEK.
    pub bucket_keks: HashMap<BucketUid, String>,
    /// KEKs destroyed through the admin API, with when (ms).
    pub shredded: HashMap<String, i64>,
}

impl KeyState {
    /// The state stored in the metadata.
    pub fn from_overrides(o: &CatalogOverrides) -> Self {
        Self {
            bucket_keks: o.bucket_keks.iter().cloned().collect(),
            shredded: o.shredded_keks.iter().cloned().collect(),
        }
    }
}

/// The rotation job's name in the metadata store, the admin API and the metrics.
pub const ROTATION_JOB: &str = crate::model::jobs::ROTATION;

impl ObjectService {
    /// The KEK that wraps new data keys of `bucket`.
    pub(crate) fn kek_of(&self, bucket: BucketUid) -> String {
        self.state.kek_of(self.keys.as_ref(), bucket)
    }

    /// Unwraps a version's data key; a destroyed KEK is reported as such (from the audit
    /// state without asking the KMS, or from the KMS's answer).
    pub(crate) async fn unwrap_dek(&self, wrapped: &WrappedKey, binding: KeyBinding<'_>) -> Result<DataKey> {
        if self.state.key_state().shredded.contains_key(&wrapped.kek_id) {
            return Err(ErrorKind::KeyShredded(wrapped.kek_id.clone()).into());
        }
        Ok(self.keys.unwrap(wrapped, binding).await?)
    }
}
