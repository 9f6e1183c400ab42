//! The lifecycle job (issue 23): applies each bucket's lifecycle rules. It walks every
//! version of every bucket that has rules (by key, newest first) and asks the rules
//! (`model::lifecycle`) what goes: a current version that expired gets a delete marker (or is
//! deleted, unversioned), a noncurrent version past its days goes for good, a delete marker
//! left alone goes, an unfinished upload past its days is aborted. Every removal goes through
//! the store's one DELETE path, so Object Lock refuses what it protects (counted as `locked`,
//! never forced) and GC deletes the streams. One gateway runs it at a time (a lease); it
//! saves its cursor after every page and resumes there; progress shows in
//! `/admin/v1/jobs/lifecycle` and `souverain_job_*{job="lifecycle"}`.

use std::sync::Arc;
use std::time::Duration;

use crate::meta::walk::{UploadWalk, VersionWalk};
use crate::meta::{BucketRecord, DeleteTarget, JobRecord, MetaError, MetadataStore, VersionEntry, VersionRecord};
use crate::metrics::Metrics;
use crate::model::lifecycle::{Candidate, DayLength, LifecycleConfig};
use crate::model::{ObjectKey, VersionUid, random_array};
use crate::service::now_ms;
use crate::shutdown::Shutdown;

const PAGE: usize = 256;
/// The job's name in the metadata store, the admin API and the metrics.
pub const JOB: &str = crate::model::jobs::LIFECYCLE;

/// Applies lifecycle rules.
pub struct LifecycleWorker {
    meta: Arc<dyn MetadataStore>,
    metrics: Arc<Metrics>,
    day: DayLength,
    lease: super::JobLease,
}

/// What a walk has seen of the key it is in: enough to tell a noncurrent version's age and
/// rank, and whether a delete marker is its key's only version.
#[derive(Default)]
struct KeyWalk {
    key: Vec<u8>,
    /// Last-Modified of the newer version just handed out: when the next one became noncurrent.
    newer_written_ms: i64,
    /// Noncurrent versions of the key handed out so far.
    noncurrent_seen: u64,
    /// The key's latest version is this delete marker and no other version was seen yet.
    lone_marker: Option<VersionRecord>,
}

/// One bucket's pass: its rules, and the walk's state.
struct BucketPass<'a> {
    bucket: &'a BucketRecord,
    config: &'a LifecycleConfig,
    now_ms: i64,
    walk: KeyWalk,
}

impl LifecycleWorker {
    /// The job over the store's buckets; `day` is the length of a lifecycle day.
    pub fn new(ctx: &super::Context, day: Duration) -> Self {
        Self {
            meta: Arc::clone(&ctx.meta),
            metrics: Arc::clone(&ctx.metrics),
            day: DayLength::of_ms(i64::try_from(day.as_millis()).unwrap_or(i64::MAX)),
            lease: super::JobLease::new(JOB, ctx),
        }
    }

    /// One complete pass at `now_ms` (resuming an interrupted one first). Returns the job's
    /// final state, or its current one while another gateway holds the lease.
    pub async fn run_once(&self, now_ms: i64) -> Result<JobRecord, MetaError> {
        let meta = &self.meta;
        if !self.lease.hold().await? {
            return Ok(meta.job(JOB).await?.unwrap_or_default());
        }
        let mut buckets = meta.buckets().await?;
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        let mut job = match meta.job(JOB).await? {
            Some(j) if j.state == "running" => j,
            _ => JobRecord {
                name: JOB.into(),
                state: "running".into(),
                reason: "scheduled pass".into(),
                started_ms: now_ms,
                total: buckets.len() as u64,
                ..JobRecord::default()
            },
        };
        self.save(&job).await?;
        for (done, bucket) in buckets.iter().enumerate() {
            if job.cursor.as_ref().is_some_and(|(b, _)| bucket.name.as_str() < b.as_str()) {
                continue;
            }
            if let Some(config) = meta.lifecycle(bucket.uid).await?.filter(LifecycleConfig::applies)
                && !self.apply_bucket(bucket, &config, now_ms, &mut job).await?
            {
                return Ok(job);
            }
            job.progress_ppm = Some(u32::try_from((done + 1) * 1_000_000 / buckets.len().max(1)).unwrap_or(1_000_000));
        }
        job.state = "done".into();
        job.cursor = None;
        self.save(&job).await?;
        Ok(job)
    }

    /// False if the lease was lost on the way.
    async fn apply_bucket(
        &self,
        bucket: &BucketRecord,
        config: &LifecycleConfig,
        now_ms: i64,
        job: &mut JobRecord,
    ) -> Result<bool, MetaError> {
        let resume = match &job.cursor {
            Some((b, k)) if b == bucket.name.as_str() => Some(k.as_bytes().to_vec()),
            _ => None,
        };
        if resume.is_none() && config.aborts_uploads() {
            self.abort_uploads(bucket, config, now_ms).await?;
        }
        let mut pass = BucketPass { bucket, config, now_ms, walk: KeyWalk::default() };
        let mut walk = VersionWalk::new(bucket.uid, resume);
        loop {
            let page = walk.next_page(self.meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                self.settle_key(&mut pass, job).await?;
                return Ok(true);
            }
            for (key, entry) in page {
                job.scanned += 1;
                self.visit(&mut pass, key, entry, job).await?;
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

    /// One version, in the walk's order (by key, newest first).
    async fn visit(
        &self,
        pass: &mut BucketPass<'_>,
        key: Vec<u8>,
        entry: VersionEntry,
        job: &mut JobRecord,
    ) -> Result<(), MetaError> {
        if key == pass.walk.key {
            // Another version of a key whose latest is a delete marker: the marker is not alone.
            pass.walk.lone_marker = None;
        } else {
            self.settle_key(pass, job).await?;
            pass.walk = KeyWalk { key, ..KeyWalk::default() };
        }
        let v = entry.version;
        let name = String::from_utf8_lossy(&pass.walk.key).into_owned();
        let (config, now, day) = (pass.config, pass.now_ms, self.day);
        let candidate = Candidate { key: &name, size: v.size, tags: &v.tags };
        if entry.latest {
            if v.delete_marker {
                pass.walk.lone_marker = Some(v.clone());
            } else if config.current_expiry(&candidate, v.last_modified_ms, day).is_some_and(|(at, _)| at <= now) {
                let marker = VersionUid(random_array().map_err(|_| MetaError::codec("no randomness for an id"))?);
                let target = DeleteTarget::Expire { latest: v.version_uid, marker, now_ms: now };
                self.delete(pass.bucket, &name, target, job, "expired").await?;
            }
        } else {
            let newer = pass.walk.noncurrent_seen;
            pass.walk.noncurrent_seen += 1;
            if config.noncurrent_due(&candidate, pass.walk.newer_written_ms, newer, now, day) {
                let target = DeleteTarget::Version { version: v.version_ref(), bypass_governance: false };
                self.delete(pass.bucket, &name, target, job, "noncurrent_expired").await?;
            }
        }
        pass.walk.newer_written_ms = v.last_modified_ms;
        Ok(())
    }

    /// Every version of the walk's key was seen: a delete marker left alone may go.
    async fn settle_key(&self, pass: &mut BucketPass<'_>, job: &mut JobRecord) -> Result<(), MetaError> {
        let Some(marker) = pass.walk.lone_marker.take() else { return Ok(()) };
        let name = String::from_utf8_lossy(&pass.walk.key).into_owned();
        if pass.config.removes_sole_marker(&name, marker.last_modified_ms, pass.now_ms, self.day) {
            let target = DeleteTarget::Version { version: marker.version_ref(), bypass_governance: false };
            self.delete(pass.bucket, &name, target, job, "delete_marker_removed").await?;
        }
        Ok(())
    }

    /// One removal through the store's DELETE path, counted as `action` (in the job's `moved`)
    /// if it removed something, as `locked` (in `failed`) if Object Lock refused it; nothing
    /// when the key changed since the walk saw it.
    async fn delete(
        &self,
        bucket: &BucketRecord,
        key: &str,
        target: DeleteTarget,
        job: &mut JobRecord,
        action: &str,
    ) -> Result<(), MetaError> {
        let Ok(key) = ObjectKey::parse(key) else { return Ok(()) };
        let out = self.meta.commit_delete(&bucket.name, bucket.uid, &key, target).await?;
        if out.locked.is_some() {
            job.failed += 1;
            self.count("locked");
        } else if out.removed.is_some() || out.marker.is_some() {
            job.moved += 1;
            self.count(action);
        }
        Ok(())
    }

    async fn abort_uploads(&self, bucket: &BucketRecord, config: &LifecycleConfig, now: i64) -> Result<(), MetaError> {
        let mut walk = UploadWalk::new(bucket.uid);
        loop {
            let page = walk.next_page(self.meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            for u in page {
                if config.upload_due(&u.key, u.initiated_ms, now, self.day)
                    && self.meta.abort_upload(u.upload_id).await?
                {
                    self.count("upload_aborted");
                }
            }
        }
    }

    fn count(&self, action: &str) {
        self.metrics.lifecycle_actions.with_label_values(&[action]).inc();
    }

    async fn save(&self, job: &JobRecord) -> Result<(), MetaError> {
        super::save_job(self.meta.as_ref(), &self.metrics, job).await
    }

    /// A pass every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            match self.run_once(now_ms()).await {
                Ok(j) if j.moved > 0 => tracing::info!(removed = j.moved, "lifecycle pass"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::report::Report(&e), "lifecycle pass failed"),
            }
        })
        .await;
    }
}
