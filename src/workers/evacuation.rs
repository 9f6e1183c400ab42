//! The evacuation job (DESIGN.md §5.4): after a residency change (a provider's attributes, a
//! retirement, a policy, a bucket's binding) or a certification's expiry, every replica whose
//! provider no longer satisfies its bucket's policy moves to an allowed provider: copy (the
//! copy is checked against the recorded SHA-256), commit the new replica list with an audit
//! record, then delete the old replica. The object never has fewer verified replicas than
//! before during a move. A version stored in another scheme than its bucket's policy asks now
//! (a rebinding between replicas and erasure-coded shards) is written again in that scheme
//! (`service::convert`). The job walks buckets and keys in order and saves its cursor after
//! every page, so a restart resumes where it stopped; progress shows in `/admin/v1/jobs/
//! evacuation` and the `souverain_job_*{job="evacuation"}` gauges.

use std::sync::Arc;
use std::time::Duration;

use crate::datapath::ciphertext_len;
use crate::health::HealthState;
use crate::meta::walk::{PartWalk, VersionWalk};
use crate::meta::{BucketRecord, DeletionReason, DeletionTask, JobRecord, MetaError, MetadataStore, ReplicaMove};
use crate::metrics::Metrics;
use crate::model::audit::AuditEntry;
use crate::model::{ProviderId, Redundancy, StreamManifest, UploadId, VersionUid};
use crate::placement::{grant_replica, place};
use crate::replicate::erasure::rebuild::{ShardTarget, copy_shard, rebuild_shard};
use crate::replicate::read::Hedging;
use crate::replicate::verify::{CopyError, Expected, copy_from_first};
use crate::service::convert::{Conversion, SchemeConverter, needs_conversion};
use crate::service::get::shard_events;
use crate::service::residency::Residency;
use crate::service::state::GatewayState;
use crate::service::{now_ms, today};
use crate::shutdown::Shutdown;
use crate::workers::usage::count_objects;

const PAGE: usize = 256;

/// What holds a stream: the current version of `key`, or part `n` of an open upload of it.
#[derive(Debug, Clone, Copy)]
struct Holder<'a> {
    key: &'a str,
    version: VersionUid,
    part: Option<(UploadId, u32)>,
}
/// The job's name in the metadata store, the admin API and the metrics.
pub const JOB: &str = crate::model::jobs::EVACUATION;

/// Moves replicas that break policy.
pub struct Evacuator {
    meta: Arc<dyn MetadataStore>,
    backends: super::Backends,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    state: Arc<GatewayState>,
    lease: super::JobLease,
    /// Writes versions again in their bucket's scheme.
    service: Arc<dyn SchemeConverter>,
}

impl Evacuator {
    /// The job over the store's objects and the providers of `ctx`, converting versions
    /// between schemes through `service`.
    pub fn new(ctx: &super::Context, service: Arc<dyn SchemeConverter>) -> Self {
        Self {
            meta: Arc::clone(&ctx.meta),
            backends: Arc::clone(&ctx.backends),
            health: Arc::clone(&ctx.health),
            metrics: Arc::clone(&ctx.metrics),
            state: Arc::clone(&ctx.state),
            lease: super::JobLease::new(JOB, ctx),
            service,
        }
    }

    /// One complete pass (resuming an interrupted one first). Returns the job's final state,
    /// or its current one while another gateway holds the job's lease (it stops between pages
    /// when the lease is lost, and whoever holds it next resumes from the saved cursor).
    pub async fn run_once(&self) -> Result<JobRecord, MetaError> {
        let meta = &self.meta;
        if !self.lease.hold().await? {
            return Ok(meta.job(JOB).await?.unwrap_or_default());
        }
        let mut job = match meta.job(JOB).await? {
            Some(j) if j.state == "running" => j,
            _ => JobRecord {
                name: JOB.into(),
                state: "running".into(),
                reason: "residency check".into(),
                started_ms: now_ms(),
                updated_ms: now_ms(),
                total: count_objects(meta.as_ref()).await?,
                ..JobRecord::default()
            },
        };
        self.save(&job).await?;
        let mut buckets = meta.buckets().await?;
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        for bucket in buckets {
            if job.cursor.as_ref().is_some_and(|(b, _)| bucket.name.as_str() < b.as_str()) {
                continue;
            }
            if !self.evacuate_bucket(&bucket, &mut job).await? {
                return Ok(job);
            }
        }
        job.state = "done".into();
        job.cursor = None;
        self.save(&job).await?;
        Ok(job)
    }

    /// False if the lease was lost on the way.
    async fn evacuate_bucket(&self, bucket: &BucketRecord, job: &mut JobRecord) -> Result<bool, MetaError> {
        let meta = &self.meta;
        let resume = match &job.cursor {
            Some((b, k)) if b == bucket.name.as_str() => Some(k.as_bytes().to_vec()),
            _ => None,
        };
        if resume.is_none() {
            self.evacuate_uploads(bucket, job).await?;
        }
        // Every version, noncurrent ones too: none may stay outside the policy.
        let scheme = self.scheme_of(bucket);
        let mut walk = VersionWalk::new(bucket.uid, resume);
        loop {
            let page = walk.next_page(meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(true);
            }
            for (key, entry) in page {
                job.scanned += 1;
                let key_text = String::from_utf8_lossy(&key).into_owned();
                let converted = match scheme {
                    Some(scheme) if needs_conversion(&entry.version, scheme) => {
                        // Conversions take long (every byte read and written): the lease is
                        // renewed before each, or the pass stops where another gateway took it.
                        if !self.lease.hold().await? {
                            return Ok(false);
                        }
                        self.convert(bucket, &key_text, &entry.version, job).await
                    }
                    _ => false,
                };
                let holder = Holder { key: &key_text, version: entry.version.version_uid, part: None };
                // Once converted, the streams that were in the scheme already (kept as they
                // were) still have their holders checked; the new ones were placed by the policy.
                let kept = |s: &&StreamManifest| !converted || scheme == Some(s.redundancy);
                for stream in entry.version.streams.iter().filter(kept) {
                    self.evacuate_stream(bucket, holder, stream, job).await?;
                }
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

    /// The scheme `bucket`'s policy stores new streams in now (`None` if it cannot be placed).
    fn scheme_of(&self, bucket: &BucketRecord) -> Option<Redundancy> {
        let residency = self.state.residency();
        let policy = residency.policies.get(&bucket.policy_id)?;
        place(policy, &residency.catalog, bucket.uid, today()).ok().map(|p| p.redundancy())
    }

    /// Converts a version stored in another scheme. True when done with it (converted, or
    /// changed meanwhile); false when its streams stay as they are (under a customer key, in
    /// the scheme after all, or the conversion failed and the next pass tries again), so that
    /// at least their holders are moved into the policy.
    async fn convert(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &crate::meta::VersionRecord,
        job: &mut JobRecord,
    ) -> bool {
        // The bucket as it is now: rebound since the pass began, its new streams must go where
        // its policy now allows (the commit refuses them if it is rebound again meanwhile).
        let bucket = match self.meta.bucket(&bucket.name).await {
            Ok(Some(now)) if now.uid == bucket.uid => now,
            Ok(_) => return true,
            Err(e) => {
                tracing::warn!(bucket = %bucket.name, error = %crate::report::Report(&e), "reading the bucket failed");
                self.record(job, "failed");
                return false;
            }
        };
        let bucket = &bucket;
        match self.service.convert_version(bucket, key, v).await {
            Ok(Conversion::Converted) => {
                self.record(job, "converted");
                true
            }
            Ok(Conversion::Changed) => true,
            // The placement changed since the pass looked: its holders are checked as usual.
            Ok(Conversion::Unchanged) => false,
            Ok(Conversion::CustomerKey) => {
                tracing::warn!(bucket = %bucket.name, key, "a version under a customer key keeps its scheme");
                self.record(job, "customer_key");
                false
            }
            Err(e) => {
                tracing::warn!(bucket = %bucket.name, key, error = %crate::report::Report(&e), "converting a version failed");
                self.record(job, "failed");
                false
            }
        }
    }

    /// The parts already stored of the bucket's open uploads: a part that stays on an
    /// excluded provider until Complete would be ciphertext outside policy meanwhile (and
    /// for ever if the upload is never completed nor aborted).
    async fn evacuate_uploads(&self, bucket: &BucketRecord, job: &mut JobRecord) -> Result<(), MetaError> {
        let mut walk = PartWalk::new(bucket.uid);
        loop {
            let page = walk.next_page(self.meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            for p in &page {
                let holder = Holder { key: &p.key, version: p.version, part: Some((p.upload, p.number)) };
                self.evacuate_stream(bucket, holder, &p.part.stream, job).await?;
            }
        }
    }

    /// Moves each replica of `stream` whose provider breaks the bucket's policy.
    async fn evacuate_stream(
        &self,
        bucket: &BucketRecord,
        holder: Holder<'_>,
        stream: &StreamManifest,
        job: &mut JobRecord,
    ) -> Result<(), MetaError> {
        let residency = self.state.residency();
        let Some(policy) = residency.policies.get(&bucket.policy_id) else { return Ok(()) };
        let day = today();
        let allowed = |p: &ProviderId| residency.allows(policy, p, day);
        let leaving: Vec<ProviderId> = stream.replicas.iter().filter(|p| !allowed(p)).cloned().collect();
        if leaving.is_empty() {
            return Ok(());
        }
        let mut replicas = stream.replicas.clone();
        // A provider still deleting an earlier copy of this stream is no target: that deletion
        // could remove the new copy (the move commit refuses it too).
        let deleting: Vec<ProviderId> =
            self.meta.stream_deletions(stream.stream_id).await?.into_iter().map(|t| t.provider).collect();
        for from in leaving {
            // Enough allowed replicas remain (the policy now asks for fewer): drop this one.
            // (Never for shards: each holds a different part of the stream.)
            let remaining: Vec<&ProviderId> = replicas.iter().filter(|p| **p != from && allowed(p)).collect();
            if stream.redundancy == Redundancy::Replicas && remaining.len() >= usize::from(policy.replicas) {
                let keep = remaining[0].clone();
                if self.move_one(bucket, holder, stream, &replicas, &from, &keep, false).await? {
                    replicas.retain(|p| *p != from);
                    self.record(job, "moved");
                } else {
                    self.record(job, "failed");
                }
                continue;
            }
            let Some(to) = self.target(&residency, bucket, &replicas, &deleting) else {
                tracing::warn!(bucket = %bucket.name, provider = %from, "no allowed provider to evacuate a replica to");
                self.record(job, "no_target");
                continue;
            };
            if self.move_one(bucket, holder, stream, &replicas, &from, &to, true).await? {
                // In place: for shards, the position is the shard.
                if let Some(slot) = replicas.iter_mut().find(|p| **p == from) {
                    *slot = to;
                }
                self.record(job, "moved");
            } else {
                self.record(job, "failed");
            }
        }
        Ok(())
    }

    /// The first provider of the bucket's placement under the current policy that does not
    /// hold the stream yet, is not deleting an earlier copy of it, and is reachable.
    fn target(
        &self,
        residency: &Residency,
        bucket: &BucketRecord,
        replicas: &[ProviderId],
        deleting: &[ProviderId],
    ) -> Option<ProviderId> {
        let policy = residency.policies.get(&bucket.policy_id)?;
        let placement = place(policy, &residency.catalog, bucket.uid, today()).ok()?;
        placement
            .targets()
            .iter()
            .find(|p| {
                !replicas.contains(p)
                    && !deleting.contains(p)
                    && self.health.reachable(p)
                    && self.backends.contains_key(*p)
            })
            .cloned()
    }

    /// Copy (unless `to` already holds the stream), commit, delete. Ok(false) when the copy
    /// failed or the object changed meanwhile.
    #[allow(clippy::too_many_arguments)]
    async fn move_one(
        &self,
        bucket: &BucketRecord,
        holder: Holder<'_>,
        stream: &StreamManifest,
        replicas: &[ProviderId],
        from: &ProviderId,
        to: &ProviderId,
        copy: bool,
    ) -> Result<bool, MetaError> {
        let backends = &self.backends;
        if !backends.contains_key(to) {
            return Ok(false);
        }
        if copy {
            let len = ciphertext_len(stream.plaintext_len, stream.seg_log2);
            let expected = Expected { len, check: stream.ciphertext_check };
            // Sources: the replicas that stay first, the leaving one last (its data is as good:
            // the copy is checked against the recorded ciphertext check either way).
            let sources = replicas.iter().filter(|p| *p != from).chain(std::iter::once(from));
            // Leave to write there under the bucket's policy today (the target was chosen
            // from its placement; checked again here, where the bytes go).
            let residency = self.state.residency();
            let grant = residency
                .policies
                .get(&bucket.policy_id)
                .zip(residency.provider(to))
                .and_then(|(policy, info)| grant_replica(policy, info, today()));
            let Some(grant) = grant else { return Ok(false) };
            let name = crate::backend::stream_name(stream.stream_id);
            let copied = match stream.redundancy {
                Redundancy::Replicas => copy_from_first(backends, sources, to, &name, expected, &grant).await,
                Redundancy::ReedSolomon(shape) => {
                    // The shard `from` holds goes to `to` at the same position.
                    let Some(shard) = replicas.iter().position(|p| p == from) else { return Ok(false) };
                    let mut m = stream.clone();
                    m.replicas = replicas.to_vec();
                    let hedging = Hedging::of(&self.health, &self.metrics);
                    let events = shard_events(&self.meta, &self.metrics, &m);
                    // The leaving provider's own shard, copied and checked chunk by chunk;
                    // rebuilt from the others only if that fails.
                    let copied = match (backends.get(from), backends.get(to)) {
                        (Some(source), Some(target)) => {
                            let target_shard = ShardTarget { shard, provider: to, grant: &grant };
                            copy_shard(source.as_ref(), target.as_ref(), &m, shape, target_shard).await
                        }
                        _ => Err(CopyError::NotConfigured),
                    };
                    match copied {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            tracing::info!(stream = %stream.stream_id, error = %crate::report::Report(&e), "copying the shard failed; rebuilding it");
                            let target = ShardTarget { shard, provider: to, grant: &grant };
                            rebuild_shard(backends, &hedging, events, &m, shape, target).await
                        }
                    }
                }
            };
            if let Err(e) = copied {
                tracing::warn!(stream = %stream.stream_id, error = %crate::report::Report(&e), "evacuation copy failed");
                return Ok(false);
            }
        }
        let mut detail = serde_json::json!({
            "bucket": bucket.name, "key": holder.key, "stream": stream.stream_id.to_hex(), "from": from, "to": to,
        });
        if let Some((upload, number)) = holder.part {
            detail["upload"] = serde_json::json!(upload.to_hex());
            detail["part"] = serde_json::json!(number);
        }
        let mv = ReplicaMove {
            bucket: bucket.uid,
            key: holder.key.to_owned(),
            version: holder.version,
            stream: stream.stream_id,
            from: from.clone(),
            to: to.clone(),
            part: holder.part,
        };
        let action = if copy { "evacuation.move" } else { "evacuation.drop" };
        // The commit queues the deletion of the replica at `from` (the garbage collector
        // carries it out and retries until the provider confirms).
        if !self.meta.move_replica(mv, AuditEntry::new("gateway", action, &detail)).await? {
            // Overwritten or deleted meanwhile: the copy belongs to nothing (a copy the stream
            // lists after all is kept: the store never deletes a live replica).
            if copy {
                let orphan = DeletionTask::new(stream.stream_id, to.clone(), DeletionReason::Orphaned, now_ms());
                self.meta.queue_deletions(vec![orphan]).await?;
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Counts one replica's outcome: `moved`, `failed` (retried by the next pass) or
    /// `no_target` (no allowed provider: the policy cannot be met any more); or one version's:
    /// `converted` to its bucket's scheme, `customer_key` (left in its scheme: SSE-C).
    fn record(&self, job: &mut JobRecord, outcome: &str) {
        self.metrics.evacuation_moves.with_label_values(&[outcome]).inc();
        match outcome {
            "moved" | "converted" => job.moved += 1,
            // Not a failure the next pass retries: only its owner can convert it.
            "customer_key" => {}
            _ => job.failed += 1,
        }
    }

    async fn save(&self, job: &JobRecord) -> Result<(), MetaError> {
        super::save_job(self.meta.as_ref(), &self.metrics, job).await
    }

    /// Passes every `every`, and at once after each residency change, until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, Some(self.state.evacuation_wake()), shutdown, || async {
            match self.run_once().await {
                Ok(j) if j.moved > 0 => tracing::info!(moved = j.moved, failed = j.failed, "evacuation pass"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::report::Report(&e), "evacuation pass failed"),
            }
        })
        .await;
    }
}
