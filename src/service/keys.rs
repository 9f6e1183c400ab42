//! Key management (DESIGN.md §4.6): which KEK wraps each bucket's data keys, rotation by rewrap
//! (the rotation job, `workers::rotation`, does the walking), and crypto-shredding. Every change
//! is persisted with its audit record in one write.

use std::collections::HashMap;

use serde::Serialize;

use super::{ObjectService, now_ms};
use crate::error::{ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding, KeyError, WrappedKey};
use crate::meta::walk::UploadWalk;
use crate::meta::{AuditedChange, BucketRecord, CatalogOverrides, JobRecord, ListEntry, ListQuery, ListStart};
use crate::model::BucketUid;
use crate::model::audit::{AuditEntry, AuditRecord};

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

/// `GET /admin/v1/keys`.
#[derive(Debug, Clone, Serialize)]
pub struct KeysView {
    /// The KEK of buckets without their own.
    pub default_kek: String,
    /// Bucket name → its own KEK.
    pub bucket_keks: Vec<(String, String)>,
    /// Destroyed KEKs and when (ms).
    pub shredded: Vec<(String, i64)>,
}

/// The rotation job's name in the metadata store, the admin API and the metrics.
pub const ROTATION_JOB: &str = "rotation";
const ADMIN: &str = "admin";
/// Versions or uploads read per listing page when counting data keys.
const SCAN_PAGE: usize = 1000;

impl ObjectService {
    /// The KEK that wraps new data keys of `bucket`.
    pub(crate) fn kek_of(&self, bucket: BucketUid) -> String {
        let state = self.key_state();
        self.keys.kek_for(state.bucket_keks.get(&bucket).map(String::as_str))
    }

    /// Unwraps a version's data key; a destroyed KEK is reported as such (from the audit
    /// state without asking the KMS, or from the KMS's answer).
    pub(crate) async fn unwrap_dek(&self, wrapped: &WrappedKey, binding: KeyBinding<'_>) -> Result<DataKey> {
        if self.key_state().shredded.contains_key(&wrapped.kek_id) {
            return Err(ErrorKind::KeyShredded(wrapped.kek_id.clone()).into());
        }
        Ok(self.keys.unwrap(wrapped, binding).await?)
    }

    /// The key state in force now.
    pub fn key_state(&self) -> std::sync::Arc<KeyState> {
        self.key_state.read().map(|s| std::sync::Arc::clone(&s)).unwrap_or_default()
    }

    pub(crate) fn set_key_state(&self, s: KeyState) {
        if let Ok(mut slot) = self.key_state.write() {
            *slot = std::sync::Arc::new(s);
        }
    }

    /// The KEKs in force.
    pub async fn keys_view(&self) -> Result<KeysView> {
        let state = self.key_state();
        let mut bucket_keks = Vec::new();
        for b in self.meta.buckets().await? {
            if let Some(k) = state.bucket_keks.get(&b.uid) {
                bucket_keks.push((b.name, k.clone()));
            }
        }
        bucket_keks.sort();
        let mut shredded: Vec<(String, i64)> = state.shredded.iter().map(|(k, t)| (k.clone(), *t)).collect();
        shredded.sort();
        Ok(KeysView { default_kek: self.keys.kek_for(None), bucket_keks, shredded })
    }

    /// Gives `bucket` its own KEK (created in the KMS if missing); the rotation job then wraps
    /// its existing data keys under it.
    pub async fn set_bucket_kek(&self, bucket: &str, kek: &str) -> Result<AuditRecord> {
        let rec: BucketRecord = self.meta.bucket(bucket).await?.ok_or(ErrorKind::NoSuchBucket)?;
        if self.key_state().shredded.contains_key(kek) {
            return Err(ErrorKind::InvalidArgument(format!("key {kek} was destroyed")).into());
        }
        self.keys.ensure_kek(kek).await?;
        let detail = serde_json::json!({ "bucket": bucket, "kek": kek });
        let audit = self
            .meta
            .apply_change(
                AuditedChange::BucketKek { bucket: rec.uid, kek: kek.to_owned() },
                AuditEntry::new(ADMIN, "bucket.kek", &detail),
            )
            .await?
            .ok_or_else(|| ErrorKind::Internal("bucket key change not applied".into()))?;
        let mut next = (*self.key_state()).clone();
        next.bucket_keks.insert(rec.uid, kek.to_owned());
        self.set_key_state(next);
        self.start_rotation_job(&format!("bucket {bucket} moved to key {kek}")).await?;
        Ok(audit)
    }

    /// Adds a new version to `kek` (or, without one, to every KEK in use) and starts the job
    /// that rewraps every data key under the newest versions. Provider data is not touched.
    pub async fn rotate_keys(&self, kek: Option<&str>) -> Result<Vec<(String, u32)>> {
        let keks: Vec<String> = match kek {
            Some(k) => vec![k.to_owned()],
            None => {
                let mut all: Vec<String> = self.key_state().bucket_keks.values().cloned().collect();
                all.push(self.keys.kek_for(None));
                all.sort();
                all.dedup();
                all
            }
        };
        let mut rotated = Vec::new();
        for k in keks {
            let version = self.keys.rotate(&k).await?;
            let detail = serde_json::json!({ "kek": k, "version": version });
            self.meta.apply_change(AuditedChange::RecordOnly, AuditEntry::new(ADMIN, "key.rotate", &detail)).await?;
            rotated.push((k, version));
        }
        let names: Vec<String> = rotated.iter().map(|(k, v)| format!("{k} v{v}")).collect();
        self.start_rotation_job(&format!("rotated {}", names.join(", "))).await?;
        Ok(rotated)
    }

    /// Destroys `kek` in the KMS: every object whose data key it wrapped becomes unreadable,
    /// at every provider, replicas a provider failed to delete included.
    pub async fn shred_kek(&self, kek: &str) -> Result<AuditRecord> {
        if kek == self.keys.kek_for(None) {
            return Err(ErrorKind::InvalidArgument(format!(
                "{kek} is the default key-encryption key; give the buckets to shred their own key first"
            ))
            .into());
        }
        let stray = self.data_keys_outside(kek).await?;
        if stray > 0 {
            return Err(ErrorKind::Conflict(format!(
                "{stray} data keys of the buckets using {kek} are still wrapped under another key; shredding {kek} \
                 now would leave those objects readable. The rotation job moves them (GET /admin/v1/jobs/rotation); \
                 shred again once it is done"
            ))
            .into());
        }
        match self.keys.shred(kek).await {
            Ok(()) | Err(KeyError::Destroyed(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let at_ms = now_ms();
        let detail = serde_json::json!({ "kek": kek });
        let audit = self
            .meta
            .apply_change(
                AuditedChange::KekShredded { kek: kek.to_owned(), at_ms },
                AuditEntry::new(ADMIN, "key.shred", &detail),
            )
            .await?
            .ok_or_else(|| ErrorKind::Internal("shredding not recorded".into()))?;
        let mut next = (*self.key_state()).clone();
        next.shredded.insert(kek.to_owned(), at_ms);
        self.set_key_state(next);
        Ok(audit)
    }

    /// Data keys (of versions and open uploads) of the buckets whose own KEK is `kek` that are
    /// wrapped under another KEK. Read from the store, not this gateway's cached key state.
    async fn data_keys_outside(&self, kek: &str) -> Result<u64> {
        let overrides = self.meta.catalog_overrides().await?;
        let mut stray = 0;
        for (bucket, _) in overrides.bucket_keks.iter().filter(|(_, k)| k == kek) {
            let mut start = ListStart::Beginning;
            loop {
                let q = ListQuery { prefix: Vec::new(), delimiter: None, start, max: SCAN_PAGE };
                let page = self.meta.list(*bucket, &q).await?;
                let mut last = None;
                for entry in page.entries {
                    let ListEntry::Item(key, version) = entry else { continue };
                    if self.meta.dek(version.version_uid).await?.is_some_and(|w| w.kek_id != kek) {
                        stray += 1;
                    }
                    last = Some(key);
                }
                match last {
                    Some(k) if page.truncated => start = ListStart::AfterKey(k),
                    _ => break,
                }
            }
            let mut walk = UploadWalk::new(*bucket);
            loop {
                let page = walk.next_page(self.meta.as_ref(), SCAN_PAGE).await?;
                if page.is_empty() {
                    break;
                }
                stray += page.iter().filter(|u| u.dek.kek_id != kek).count() as u64;
            }
        }
        Ok(stray)
    }

    /// Marks the rotation job running (its cursor restarts) and wakes it.
    async fn start_rotation_job(&self, reason: &str) -> Result<()> {
        let job = JobRecord {
            name: ROTATION_JOB.into(),
            state: "running".into(),
            reason: reason.to_owned(),
            started_ms: now_ms(),
            updated_ms: now_ms(),
            ..JobRecord::default()
        };
        self.meta.put_job(job).await?;
        self.rotation_wake.notify_one();
        Ok(())
    }

    /// Wakes the rotation job.
    pub fn rotation_wake(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.rotation_wake
    }
}
