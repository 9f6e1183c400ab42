//! The key rotation job (DESIGN.md §4.6): after `admin keys rotate` (or a bucket's move to its
//! own KEK) every data key, of current versions and of open multipart uploads, is wrapped
//! again under the newest version of its bucket's KEK. Only metadata changes: provider data is
//! never read or written, and objects stay readable throughout (a DEK is replaced only if its
//! wrapping is still the one read, so concurrent writes and deletes win). The job walks buckets
//! and keys in order and saves its cursor after every page; when the KMS fails it stops and
//! resumes from the cursor on the next tick. Progress: `/admin/v1/jobs/rotation` and
//! `souverain_job_*{job="rotation"}`.

use std::sync::Arc;
use std::time::Duration;

use crate::keys::KeyProvider;
use crate::keys::{KeyBinding, KeyError, WrappedKey};
use crate::meta::walk::{UploadWalk, VersionWalk};
use crate::meta::{AuditedChange, BucketRecord, DekRewrap, JobRecord, MetaError, MetadataStore, VersionEntry};
use crate::metrics::Metrics;
use crate::model::audit::AuditEntry;
use crate::service::keys::ROTATION_JOB as JOB;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;
use crate::workers::usage::count_objects;

const PAGE: usize = 256;
/// The audit log's actor for the job's own changes (access-key rewraps).
const ROTATION_ACTOR: &str = "key-rotation";

/// Why a pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The metadata store failed.
    #[error(transparent)]
    Meta(#[from] MetaError),
    /// The KMS failed; the pass resumes from its cursor later.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Rewraps data keys.
pub struct Rotator {
    meta: Arc<dyn MetadataStore>,
    keys: Arc<dyn KeyProvider>,
    metrics: Arc<Metrics>,
    state: Arc<GatewayState>,
    lease: super::JobLease,
}

impl Rotator {
    /// A job over the service's objects.
    pub fn new(ctx: &super::Context) -> Self {
        Self {
            meta: Arc::clone(&ctx.meta),
            keys: Arc::clone(&ctx.keys),
            metrics: Arc::clone(&ctx.metrics),
            state: Arc::clone(&ctx.state),
            lease: super::JobLease::new(JOB, ctx),
        }
    }

    /// Runs the job if it was started and is not done; its state after.
    /// While another gateway holds the job's lease, nothing is done and the job's current
    /// state is returned; a lost lease stops it between pages.
    pub async fn run_once(&self) -> Result<Option<JobRecord>, RotationError> {
        let meta = &self.meta;
        let mut job = match meta.job(JOB).await? {
            Some(j) if j.state == "running" => j,
            _ => return Ok(None),
        };
        if !self.lease.hold().await? {
            return Ok(Some(job));
        }
        if job.total == 0 && job.scanned == 0 {
            job.total = count_objects(meta.as_ref()).await?;
        }
        let mut buckets = meta.buckets().await?;
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        for bucket in buckets {
            if job.cursor.as_ref().is_some_and(|(b, _)| bucket.name.as_str() < b.as_str()) {
                continue;
            }
            let result = self.rotate_bucket(&bucket, &mut job).await;
            self.save(&job).await?;
            if !result? {
                return Ok(Some(job));
            }
        }
        self.rotate_access_keys(&mut job).await?;
        job.state = "done".into();
        job.cursor = None;
        self.save(&job).await?;
        Ok(Some(job))
    }

    /// False if the lease was lost on the way.
    async fn rotate_bucket(&self, bucket: &BucketRecord, job: &mut JobRecord) -> Result<bool, RotationError> {
        let meta = &self.meta;
        let kek = self.state.kek_of(self.keys.as_ref(), bucket.uid);
        let resume = match &job.cursor {
            Some((b, k)) if b == bucket.name.as_str() => Some(k.as_bytes().to_vec()),
            _ => None,
        };
        if resume.is_none() {
            self.rotate_uploads(bucket, &kek, job).await?;
        }
        // Every version's data key, noncurrent ones too (a delete marker has none).
        let mut walk = VersionWalk::new(bucket.uid, resume);
        loop {
            let page = walk.next_page(meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(true);
            }
            for (key, VersionEntry { version, .. }) in page {
                let key_text = String::from_utf8_lossy(&key).into_owned();
                if let Some(expected) = meta.dek(version.version_uid).await? {
                    let at = KeyBinding::new(bucket.uid, version.version_uid, &key_text);
                    let rewrap = self.rewrap(&expected, &kek, at).await?;
                    if let Some(new) = rewrap {
                        let r = DekRewrap::Version {
                            bucket: bucket.uid,
                            key: key_text.clone(),
                            version: version.version_uid,
                            expected,
                            new,
                        };
                        self.count(job, meta.rewrap_dek(r).await?);
                    }
                }
                job.scanned += 1;
            }
            if let Some(k) = walk.settled() {
                job.cursor = Some((bucket.name.to_string(), String::from_utf8_lossy(k).into_owned()));
            }
            self.save(job).await?;
            if !self.lease.hold().await? {
                return Ok(false);
            }
        }
    }

    /// Open multipart uploads carry their own DEK, used by every later part.
    async fn rotate_uploads(&self, bucket: &BucketRecord, kek: &str, job: &mut JobRecord) -> Result<(), RotationError> {
        let meta = &self.meta;
        let mut walk = UploadWalk::new(bucket.uid);
        loop {
            let page = walk.next_page(meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            for upload in page {
                let at = KeyBinding::new(bucket.uid, upload.version_uid, &upload.key);
                if let Some(new) = self.rewrap(&upload.dek, kek, at).await? {
                    let r = DekRewrap::Upload { upload: upload.upload_id, expected: upload.dek.clone(), new };
                    self.count(job, meta.rewrap_dek(r).await?);
                }
            }
        }
    }

    /// Access-key secrets are wrapped under the default KEK like data keys (SigV4 needs them,
    /// so they cannot be hashed): they are rewrapped too, so that retiring an old KEK version
    /// never locks a user out. Each rewrap is an audited change, applied only if the key was
    /// not changed meanwhile.
    async fn rotate_access_keys(&self, job: &mut JobRecord) -> Result<(), RotationError> {
        let kek = self.keys.kek_for(None);
        for rec in self.meta.access_keys(None).await? {
            let binding = crate::service::access::secret_binding(&rec.id);
            let Some(new) = self.rewrap(&rec.secret, &kek, binding).await? else { continue };
            let detail = serde_json::json!({ "id": rec.id, "kek": kek, "kek_version": new.kek_version });
            let change = AuditedChange::RewrapAccessKey { id: rec.id, expected: rec.secret, new };
            let audit = AuditEntry::new(ROTATION_ACTOR, "key.rewrap", &detail);
            self.count(job, self.meta.apply_change(change, audit).await?.is_some());
        }
        Ok(())
    }

    async fn rewrap(
        &self,
        wrapped: &WrappedKey,
        kek: &str,
        binding: KeyBinding<'_>,
    ) -> Result<Option<WrappedKey>, KeyError> {
        // A DEK under a destroyed KEK can never be rewrapped: it stays as it is. One under a
        // customer's SSE-C key is none of the gateway's KEKs' business.
        if wrapped.is_customer_wrapped() || self.state.key_state().shredded.contains_key(&wrapped.kek_id) {
            return Ok(None);
        }
        self.keys.rewrap(wrapped, kek, binding).await
    }

    fn count(&self, job: &mut JobRecord, replaced: bool) {
        if replaced {
            job.moved += 1;
            self.metrics.key_rewraps.inc();
        }
    }

    async fn save(&self, job: &JobRecord) -> Result<(), MetaError> {
        super::save_job(self.meta.as_ref(), &self.metrics, job).await
    }

    /// Looks for a started job every `every`, and at once when one is started, until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, Some(self.state.rotation_wake()), shutdown, || async {
            match self.run_once().await {
                Ok(Some(j)) => tracing::info!(rewrapped = j.moved, scanned = j.scanned, "key rotation pass done"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %crate::report::Report(&e), "key rotation pass stopped; it resumes from its cursor"),
            }
        })
        .await;
    }
}
