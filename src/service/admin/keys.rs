//! Key management through the admin API (DESIGN.md §4.6): a bucket's own KEK, rotation by
//! rewrap (the rotation job, `workers::rotation`, does the walking) and crypto-shredding. Every
//! change is persisted with its audit record in one write.

use serde::Serialize;

use super::AdminOps;
use crate::error::{Context as _, ErrorKind, Result};
use crate::keys::{KeyError, WrappedKey};
use crate::meta::walk::{UploadWalk, VersionWalk};
use crate::meta::{AuditedChange, BucketRecord, JobRecord};
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::service::keys::ROTATION_JOB;
use crate::service::now_ms;

/// Versions or uploads read per listing page when counting data keys.
const SCAN_PAGE: usize = 1000;

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

impl AdminOps {
    /// The KEKs in force.
    pub async fn keys_view(&self) -> Result<KeysView> {
        let state = self.state.key_state();
        let mut bucket_keks = Vec::new();
        for b in self.meta.buckets().await? {
            if let Some(k) = state.bucket_keks.get(&b.uid) {
                bucket_keks.push((b.name.to_string(), k.clone()));
            }
        }
        bucket_keks.sort();
        let mut shredded: Vec<(String, i64)> = state.shredded.iter().map(|(k, t)| (k.clone(), *t)).collect();
        shredded.sort();
        Ok(KeysView { default_kek: self.keys.kek_for(None), bucket_keks, shredded })
    }

    /// Gives `bucket` its own KEK (created in the KMS if missing); the rotation job then wraps
    /// its existing data keys under it.
    pub async fn set_bucket_kek(&self, actor: &str, bucket: &str, kek: &str) -> Result<AuditRecord> {
        let rec: BucketRecord = self.existing_bucket(bucket).await?;
        if self.state.key_state().shredded.contains_key(kek) {
            return Err(ErrorKind::InvalidArgument(format!("key {kek} was destroyed")).into());
        }
        self.keys.ensure_kek(kek).await?;
        let detail = serde_json::json!({ "bucket": bucket, "kek": kek });
        let audit = self
            .meta
            .apply_change(
                AuditedChange::BucketKek { bucket: rec.uid, kek: kek.to_owned() },
                AuditEntry::new(actor, "bucket.kek", &detail),
            )
            .await?
            .context("bucket key change not applied")?;
        let mut next = (*self.state.key_state()).clone();
        next.bucket_keks.insert(rec.uid, kek.to_owned());
        self.state.set_key_state(next);
        self.start_rotation_job(&format!("bucket {bucket} moved to key {kek}")).await?;
        Ok(audit)
    }

    /// Adds a new version to `kek` (or, without one, to every KEK in use) and starts the job
    /// that rewraps every data key under the newest versions. Provider data is not touched.
    pub async fn rotate_keys(&self, actor: &str, kek: Option<&str>) -> Result<Vec<(String, u32)>> {
        let mut rotated = Vec::new();
        for k in self.keks_to_rotate(kek) {
            let version = self.keys.rotate(&k).await?;
            let detail = serde_json::json!({ "kek": k, "version": version });
            self.meta.apply_change(AuditedChange::RecordOnly, AuditEntry::new(actor, "key.rotate", &detail)).await?;
            rotated.push((k, version));
        }
        let names: Vec<String> = rotated.iter().map(|(k, v)| format!("{k} v{v}")).collect();
        self.start_rotation_job(&format!("rotated {}", names.join(", "))).await?;
        Ok(rotated)
    }

    /// The KEKs `rotate_keys(kek)` gives a new version: `kek`, or every KEK in force.
    pub(super) fn keks_to_rotate(&self, kek: Option<&str>) -> Vec<String> {
        if let Some(k) = kek {
            return vec![k.to_owned()];
        }
        let mut all: Vec<String> = self.state.key_state().bucket_keks.values().cloned().collect();
        all.push(self.keys.kek_for(None));
        all.sort();
        all.dedup();
        all
    }

    /// Destroys `kek` in the KMS: every object whose data key it wrapped becomes unreadable,
    /// at every provider, replicas a provider failed to delete included.
    pub async fn shred_kek(&self, actor: &str, kek: &str) -> Result<AuditRecord> {
        let held = self.data_keys_of(kek).await?;
        if let Some(refused) = self.shred_refusal(kek, &held) {
            return Err(refused);
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
                AuditEntry::new(actor, "key.shred", &detail),
            )
            .await?
            .context("shredding not recorded")?;
        let mut next = (*self.state.key_state()).clone();
        next.shredded.insert(kek.to_owned(), at_ms);
        self.state.set_key_state(next);
        Ok(audit)
    }

    /// What shredding `kek` would destroy, for a confirmation (nothing changes); the refusal
    /// [`Self::shred_kek`] would answer, if any.
    pub async fn preview_shred(&self, kek: &str) -> Result<ShredPreview> {
        let held = self.data_keys_of(kek).await?;
        if let Some(refused) = self.shred_refusal(kek, &held) {
            return Err(refused);
        }
        Ok(ShredPreview { buckets: held.buckets, data_keys: held.under, customer_keyed: held.customer })
    }

    /// Why `kek` may not be shredded now, if it may not: it is the default KEK, one it wraps
    /// is under Object Lock, or a data key of its buckets is still under another KEK.
    fn shred_refusal(&self, kek: &str, held: &KekHoldings) -> Option<crate::error::Error> {
        if kek == self.keys.kek_for(None) {
            return Some(
                ErrorKind::InvalidArgument(format!(
                    "{kek} is the default key-encryption key; give the buckets to shred their own key first"
                ))
                .into(),
            );
        }
        if held.locked > 0 {
            let until = held.earliest_until.map_or_else(
                || "under a legal hold".to_owned(),
                |ms| format!("the earliest retention ends {}", utc(ms)),
            );
            return Some(
                ErrorKind::Conflict(format!(
                    "{} versions whose data keys {kek} wraps are under Object Lock ({until}); shredding {kek} would \
                     destroy them before their retention ends",
                    held.locked
                ))
                .into(),
            );
        }
        (held.outside > 0).then(|| {
            ErrorKind::Conflict(format!(
                "{} data keys of the buckets using {kek} are still wrapped under another key; shredding {kek} \
                 now would leave those objects readable. The rotation job moves them (GET /admin/v1/jobs/rotation); \
                 shred again once it is done",
                held.outside
            ))
            .into()
        })
    }

    /// What shredding `kek` would touch, read from the store (not this gateway's cached key
    /// state): over the buckets whose own KEK it is, the data keys (of versions and open
    /// uploads) wrapped under another KEK, and the versions under Object Lock.
    async fn data_keys_of(&self, kek: &str) -> Result<KekHoldings> {
        let overrides = self.meta.catalog_overrides().await?;
        let now = now_ms();
        let mut held = KekHoldings::default();
        let live = self.meta.buckets().await?;
        for (bucket, _) in overrides.bucket_keks.iter().filter(|(_, k)| k == kek) {
            held.buckets.extend(live.iter().filter(|b| b.uid == *bucket).map(|b| b.name.to_string()));
            let mut versions = VersionWalk::new(*bucket, None);
            loop {
                let page = versions.next_page(self.meta.as_ref(), SCAN_PAGE).await?;
                if page.is_empty() {
                    break;
                }
                for (_, entry) in page {
                    let v = &entry.version;
                    let wrapped = self.meta.dek(v.version_uid).await?;
                    // An SSE-C version's data key is under its customer's key: shredding the
                    // KEK neither destroys it nor leaves it readable by the gateway.
                    if wrapped.as_ref().is_some_and(WrappedKey::is_customer_wrapped) {
                        held.customer += 1;
                        continue;
                    }
                    if v.lock.protects(now) {
                        held.locked += 1;
                        if let Some(r) = v.lock.active_retention(now) {
                            held.earliest_until = Some(held.earliest_until.map_or(r.until_ms, |e| e.min(r.until_ms)));
                        }
                    }
                    match wrapped {
                        Some(w) if w.kek_id != kek => held.outside += 1,
                        Some(_) => held.under += 1,
                        None => {}
                    }
                }
            }
            let mut walk = UploadWalk::new(*bucket);
            loop {
                let page = walk.next_page(self.meta.as_ref(), SCAN_PAGE).await?;
                if page.is_empty() {
                    break;
                }
                for u in &page {
                    match (u.dek.is_customer_wrapped(), u.dek.kek_id == kek) {
                        (true, _) => held.customer += 1,
                        (false, true) => held.under += 1,
                        (false, false) => held.outside += 1,
                    }
                }
            }
        }
        Ok(held)
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
        self.state.rotation_wake().notify_one();
        Ok(())
    }
}

/// What shredding a KEK would touch (see `AdminOps::data_keys_of`).
#[derive(Debug, Default)]
struct KekHoldings {
    /// The buckets whose own KEK it is.
    buckets: Vec<String>,
    /// Data keys (of versions and open uploads) it wraps.
    under: u64,
    /// Data keys of those buckets under their customers' keys (SSE-C), which it does not wrap.
    customer: u64,
    /// Data keys wrapped under another KEK.
    outside: u64,
    /// Versions under Object Lock (a retention not ended, or a legal hold).
    locked: u64,
    /// The earliest end of those retentions, ms since the epoch.
    earliest_until: Option<i64>,
}

/// What shredding a KEK would destroy (`AdminOps::preview_shred`).
#[derive(Debug, Clone, Serialize)]
pub struct ShredPreview {
    /// The buckets whose own KEK it is.
    pub buckets: Vec<String>,
    /// The data keys it wraps (object versions and open uploads): their data becomes
    /// unreadable everywhere.
    pub data_keys: u64,
    /// Data keys of those buckets under their customers' keys (SSE-C): untouched.
    pub customer_keyed: u64,
}

/// A time in RFC 3339 (UTC), or the raw milliseconds if it is out of range.
pub fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("{ms} ms after the epoch"))
}
