//! The scrubber: a rate-limited pass over every committed stream. Each replica is checked for
//! presence and length (HEAD); a sample is read whole and checked against the recorded
//! ciphertext check (CRC64-NVME; SHA-256 for streams of before), without any key. Findings go
//! to the repair queue and the metrics, so a replica lost or damaged at rest is repaired even
//! if nobody reads it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, stream_name};
use crate::config::ScrubSettings;
use crate::datapath::ciphertext_len;
use crate::meta::{JobRecord, MetaError, MetadataStore, RepairTask};
use crate::metrics::Metrics;
use crate::model::{Redundancy, StreamId, StreamManifest};
use crate::replicate::erasure::rebuild::{ShardCheck, check_shard};
use crate::replicate::verify::{Overlong, hash_bounded};
use crate::service::now_ms;
use crate::shutdown::Shutdown;

const BATCH: usize = 128;
/// The scrubber's name in the metadata store, the admin API and the metrics.
pub const JOB: &str = crate::model::jobs::SCRUB;

/// What one pass found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScrubReport {
    /// Replicas checked.
    pub checked: usize,
    /// Replicas missing, short or damaged (queued for repair).
    pub findings: usize,
}

/// Walks the streams and queues repairs for bad replicas.
pub struct Scrubber {
    meta: Arc<dyn MetadataStore>,
    backends: super::Backends,
    metrics: Arc<Metrics>,
    settings: ScrubSettings,
    lease: super::JobLease,
}

/// The outcome of checking one replica.
enum Check {
    /// Present with the right length (and, when `deep`, the recorded ciphertext check).
    Verified { deep: bool },
    /// Missing or damaged.
    Found(Finding),
    /// The provider did not answer.
    Unknown,
}

#[derive(Debug)]
enum Finding {
    Missing,
    Length,
    Hash,
}

impl Finding {
    fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Length => "length",
            Self::Hash => "hash",
        }
    }
}

/// Deterministic sampling: the stream id's first bytes as a fraction.
fn sampled(id: StreamId, fraction: f64) -> bool {
    let x = u16::from_be_bytes([id.0[0], id.0[1]]);
    f64::from(x) < fraction * 65_536.0
}

impl Scrubber {
    /// A scrubber over the service's providers.
    pub fn new(ctx: &super::Context, settings: ScrubSettings) -> Self {
        Self {
            meta: Arc::clone(&ctx.meta),
            backends: Arc::clone(&ctx.backends),
            metrics: Arc::clone(&ctx.metrics),
            settings,
            lease: super::JobLease::new(JOB, ctx),
        }
    }

    /// One full pass; nothing while another gateway holds the scrubber's lease (it stops
    /// between batches if the lease is lost).
    pub async fn run_once(&self) -> Result<ScrubReport, MetaError> {
        let mut report = ScrubReport::default();
        if !self.lease.hold().await? {
            return Ok(report);
        }
        let mut after = None;
        let mut job = JobRecord {
            name: JOB.into(),
            state: "running".into(),
            reason: "scheduled pass".into(),
            started_ms: now_ms(),
            progress_ppm: Some(0),
            ..JobRecord::default()
        };
        self.save(&mut job, &report, 0.0).await?;
        loop {
            if !self.lease.hold().await? {
                return Ok(report);
            }
            let batch = self.meta.scan_streams(after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.stream_id);
            for m in &batch {
                self.scrub_stream(m, &mut report).await?;
            }
            // Stream ids are uniformly random and scanned in order, so the position of the
            // last one in the id space is the share of the pass done.
            let position = u64::from_be_bytes(last.stream_id.0[..8].try_into().unwrap_or([0; 8]));
            self.save(&mut job, &report, position as f64 / u64::MAX as f64).await?;
        }
        job.state = "done".into();
        self.save(&mut job, &report, 1.0).await?;
        Ok(report)
    }

    /// A pass finished less than 90 % of `every` ago (the margin keeps a gateway's own next
    /// pass, due exactly `every` after its last one ended, from being skipped).
    async fn finished_within(&self, every: Duration) -> Result<bool, MetaError> {
        let window = i64::try_from(every.as_millis() * 9 / 10).unwrap_or(i64::MAX);
        Ok(self.meta.job(JOB).await?.is_some_and(|j| j.state == "done" && now_ms() - j.updated_ms < window))
    }

    /// Publishes the pass's progress: the gauge, and the job record `/admin/v1/jobs/scrub` shows.
    async fn save(&self, job: &mut JobRecord, report: &ScrubReport, ratio: f64) -> Result<(), MetaError> {
        let ratio = ratio.clamp(0.0, 1.0);
        self.metrics.job_progress.with_label_values(&[JOB]).set(ratio);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "ratio is clamped to 0..=1 above, so the product is 0..=1e6"
        )]
        let ppm = (ratio * 1e6) as u32;
        job.progress_ppm = Some(ppm);
        job.scanned = report.checked as u64;
        job.failed = report.findings as u64;
        job.updated_ms = now_ms();
        self.meta.put_job(job.clone()).await
    }

    async fn scrub_stream(&self, m: &StreamManifest, report: &mut ScrubReport) -> Result<(), MetaError> {
        let meta = &self.meta;
        let pending = meta.stream_repairs(m.stream_id).await?;
        let len = ciphertext_len(m.plaintext_len, m.seg_log2);
        let verify = sampled(m.stream_id, self.settings.verify_fraction);
        for p in &m.replicas {
            if pending.iter().any(|t| t.provider == *p) {
                continue;
            }
            let Some(backend) = self.backends.get(p) else { continue };
            report.checked += 1;
            let outcome = self.check(backend.as_ref(), m, len, verify).await;
            let metrics = &self.metrics;
            metrics.scrub_checked.with_label_values(&[p.as_str()]).inc();
            match outcome {
                Check::Found(f) => {
                    report.findings += 1;
                    metrics.scrub_findings.with_label_values(&[p.as_str(), f.label()]).inc();
                    tracing::warn!(stream = %m.stream_id, provider = %p, finding = f.label(), "scrubber queued a repair");
                    meta.queue_repair(RepairTask::for_stream(m, p.clone(), len, now_ms())).await?;
                }
                Check::Verified { deep } => meta.record_verification(m.stream_id, p.clone(), now_ms(), deep).await?,
                Check::Unknown => {}
            }
        }
        Ok(())
    }

    /// What a check of one replica found. A provider that could not be asked is neither
    /// verified nor a finding: that is the health checker's business.
    async fn check(&self, backend: &dyn Backend, m: &StreamManifest, len: u64, verify: bool) -> Check {
        let name = stream_name(m.stream_id);
        // A shard holder holds its shard: its own length, its chunks' own checks.
        let shard = match m.redundancy {
            Redundancy::Replicas => None,
            Redundancy::ReedSolomon(shape) => {
                let Some(i) = m.replicas.iter().position(|p| p == backend.id()) else { return Check::Unknown };
                Some((shape, i))
            }
        };
        let stored_len = crate::replicate::erasure::stored_len(m.redundancy, len);
        match backend.head(&name).await {
            Ok(None) => return Check::Found(Finding::Missing),
            Ok(Some(n)) if n != stored_len => return Check::Found(Finding::Length),
            Ok(Some(_)) => {}
            Err(e) => {
                tracing::debug!(error = %crate::report::Report(&e), "scrub HEAD failed");
                return Check::Unknown;
            }
        }
        if !verify {
            return Check::Verified { deep: false };
        }
        let started = Instant::now();
        // Within a deadline (10 s plus 1 s per MiB, the provider deadlines of DESIGN §6.1).
        let deadline = Duration::from_secs(10) + Duration::from_secs_f64(stored_len as f64 / f64::from(1u32 << 20));
        let intact = if let Some((shape, i)) = shard {
            match check_shard(backend, m, shape, i, deadline).await {
                Some(ShardCheck::Intact) => true,
                Some(ShardCheck::Length) => return Check::Found(Finding::Length),
                Some(ShardCheck::Damaged) => false,
                None => return Check::Unknown,
            }
        } else {
            match hash_bounded(backend, &name, len, &m.ciphertext_check, deadline).await {
                Some(Ok(check)) => check == m.ciphertext_check,
                Some(Err(Overlong)) => return Check::Found(Finding::Length),
                None => return Check::Unknown,
            }
        };
        // Rate limit: never read faster than the configured bytes per second.
        let budget = Duration::from_secs_f64(stored_len as f64 / self.settings.rate_bytes_per_sec.max(1) as f64);
        if let Some(rest) = budget.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
        if intact { Check::Verified { deep: true } } else { Check::Found(Finding::Hash) }
    }

    /// Runs a pass every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            // Gateways sharing a database share the passes too: a pass any of them finished
            // within this interval counts (so does this gateway's own before a restart).
            match self.finished_within(every).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %crate::report::Report(&e), "reading the last scrub pass failed"),
            }
            match self.run_once().await {
                Ok(r) if r.findings > 0 => tracing::info!(checked = r.checked, findings = r.findings, "scrub pass"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %crate::report::Report(&e), "scrub pass failed"),
            }
        })
        .await;
    }
}
