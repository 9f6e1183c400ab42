//! Every Prometheus series the gateway exports, on its own registry (never the global one).
//! Names use base units and `_total` for counters; labels come from closed sets or from
//! admin-defined provider and policy ids — never bucket names, object keys or access keys.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets (seconds): few, so the series count stays small.
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    names: Vec<String>,
    /// S3 requests by operation and status class.
    pub s3_requests: IntCounterVec,
    /// S3 request latency to the response head, by operation.
    pub s3_duration: HistogramVec,
    /// Requests being served.
    pub s3_inflight: IntGauge,
    /// Request body bytes received from clients.
    pub s3_received_bytes: IntCounter,
    /// Response body bytes sent to clients.
    pub s3_sent_bytes: IntCounter,
    /// 1 when the key provider answered its last check.
    pub key_provider_up: IntGauge,
    /// Data keys wrapped again by the rotation job.
    pub key_rewraps: IntCounter,
    /// Connections refused because the listener was at its connection limit.
    pub connections_rejected: IntCounterVec,
    /// Provider requests by provider, operation and outcome.
    pub backend_requests: IntCounterVec,
    /// Provider request latency.
    pub backend_duration: HistogramVec,
    /// Bytes to and from providers.
    pub backend_bytes: IntCounterVec,
    /// Whether a provider answered its last health check (1) or not (0).
    pub provider_reachable: IntGaugeVec,
    /// Whether a policy's write quorum is reachable (1) or not (0).
    pub write_quorum_available: IntGaugeVec,
    /// Bytes sealed and opened.
    pub crypto_bytes: IntCounterVec,
    /// Placement decisions by policy and outcome.
    pub placement_decisions: IntCounterVec,
    /// Placement refusals by policy and reason.
    pub placement_refusals: IntCounterVec,
    /// Metadata log segments by outcome (written, failed).
    pub log_segments: IntCounterVec,
    /// Segment (and keyring) copies a provider of the placement missed, by provider.
    pub log_replicas_missed: IntCounterVec,
    /// Segment copies brought to a provider that missed them, by provider and outcome.
    pub log_replicas_repaired: IntCounterVec,
    /// Checkpoints of a bucket's log, by outcome (written, failed).
    pub log_checkpoints: IntCounterVec,
    /// Log segments a checkpoint superseded, deleted at a provider, by provider.
    pub log_segments_deleted: IntCounterVec,
    /// Replicas queued for repair, by provider.
    pub replication_pending_replicas: IntGaugeVec,
    /// Age of the oldest queued replica, by provider.
    pub replication_oldest_pending: IntGaugeVec,
    /// Tasks in the repair queue by the stream's scheme.
    pub repair_pending_by_scheme: IntGaugeVec,
    /// Repair tasks that failed ten times or more, by provider.
    pub repair_stuck_tasks: IntGaugeVec,
    /// Circuit state by provider: 0 closed, 1 half-open, 2 open.
    pub backend_circuit_state: IntGaugeVec,
    /// Hedged reads started, by the provider the hedge went to.
    pub backend_hedged_requests: IntCounterVec,
    /// Repairs attempted, by provider and outcome.
    pub repair_completed: IntCounterVec,
    /// Evacuation outcomes per replica (moved, failed, no_target).
    pub evacuation_moves: IntCounterVec,
    /// What the lifecycle rules did, by action (and the removals Object Lock refused).
    pub lifecycle_actions: IntCounterVec,
    /// Background job progress (0–1), by job.
    pub job_progress: GaugeVec,
    /// Items a background job has still to look at, by job.
    pub job_remaining: IntGaugeVec,
    /// Replicas checked by the scrubber.
    pub scrub_checked: IntCounterVec,
    /// Scrubber findings by provider and kind (missing, length, hash).
    pub scrub_findings: IntCounterVec,
    /// Replicas waiting for deletion, by provider.
    pub pending_deletions: IntGaugeVec,
    /// Age of the oldest replica waiting for deletion, by provider.
    pub pending_deletions_oldest: IntGaugeVec,
    /// Replicas outside policy waiting for deletion longer than the bound, by provider.
    pub pending_deletions_overdue: IntGaugeVec,
    /// Replicas deleted at providers, by provider and reason.
    pub deletions_completed: IntCounterVec,
    /// Stored objects and bytes, by policy (refreshed periodically).
    pub stored_objects: IntGaugeVec,
    /// Plaintext bytes stored, by policy.
    pub stored_bytes: IntGaugeVec,
    /// Replicas or shards each provider holds, by provider (last usage pass).
    pub provider_stored_replicas: IntGaugeVec,
    /// Their bytes as stored there (ciphertext), by provider.
    pub provider_stored_bytes: IntGaugeVec,
    /// Noncurrent versions stored (versioned buckets), by policy.
    pub stored_noncurrent_objects: IntGaugeVec,
    /// Their plaintext bytes, by policy.
    pub stored_noncurrent_bytes: IntGaugeVec,
    /// Authentication failures of stored data (tags, commitments, lengths).
    pub integrity_failures: IntCounterVec,
    /// Stripes of erasure-coded reads rebuilt from parity, by scheme (`rs-4+2`).
    pub erasure_reconstructions: IntCounterVec,
    /// Erasure-coded reads that met a missing, failed or damaged data shard, by scheme.
    pub erasure_degraded_reads: IntCounterVec,
    /// Shard chunks that failed their check on a read, by provider.
    pub erasure_damaged_chunks: IntCounterVec,
    /// Metadata commit latency.
    pub meta_commit_duration: Histogram,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
    IntGaugeVec::new(Opts::new(name, help), labels)
}

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<HistogramVec> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every series, plus process metrics and build info.
    #[allow(clippy::too_many_lines, reason = "a table: one declaration per series, no logic")]
    pub fn new() -> prometheus::Result<Self> {
        let m = Self {
            registry: Registry::new(),
            names: Vec::new(),
            s3_requests: counter_vec(
                "souverain_s3_requests_total",
                "S3 requests by operation and status class.",
                &["op", "status"],
            )?,
            s3_duration: histogram_vec(
                "souverain_s3_request_duration_seconds",
                "S3 request latency to the response head.",
                &["op"],
            )?,
            s3_inflight: IntGauge::new("souverain_s3_inflight_requests", "S3 requests being served.")?,
            s3_received_bytes: IntCounter::new(
                "souverain_s3_received_bytes_total",
                "Request body bytes received from clients.",
            )?,
            s3_sent_bytes: IntCounter::new("souverain_s3_sent_bytes_total", "Response body bytes sent to clients.")?,
            key_provider_up: IntGauge::new(
                "souverain_key_provider_up",
                "1 if the key provider (key file or KMS) answered its last health check.",
            )?,
            key_rewraps: IntCounter::new(
                "souverain_key_rewraps_total",
                "Data keys wrapped again under a newer or another KEK by the rotation job.",
            )?,
            connections_rejected: counter_vec(
                "souverain_connections_rejected_total",
                "Connections refused (503 SlowDown or closed) at the connection limit, by listener.",
                &["listener"],
            )?,
            backend_requests: counter_vec(
                "souverain_backend_requests_total",
                "Provider requests by provider, operation and outcome.",
                &["provider", "op", "outcome"],
            )?,
            backend_duration: histogram_vec(
                "souverain_backend_request_duration_seconds",
                "Provider request latency.",
                &["provider", "op"],
            )?,
            backend_bytes: counter_vec(
                "souverain_backend_bytes_total",
                "Bytes sent to (out) and read from (in) providers.",
                &["provider", "direction"],
            )?,
            provider_reachable: gauge_vec(
                "souverain_provider_reachable",
                "1 if the provider answered its last health check.",
                &["provider"],
            )?,
            write_quorum_available: gauge_vec(
                "souverain_write_quorum_available",
                "1 if enough providers are reachable for the policy's write quorum.",
                &["policy"],
            )?,
            crypto_bytes: counter_vec(
                "souverain_crypto_bytes_total",
                "Plaintext bytes sealed (seal) and opened (open).",
                &["direction"],
            )?,
            placement_decisions: counter_vec(
                "souverain_placement_decisions_total",
                "Placement decisions by policy and outcome (placed, unsatisfiable).",
                &["policy", "outcome"],
            )?,
            placement_refusals: counter_vec(
                "souverain_placement_refusals_total",
                "Placements refused (bucket creation or write), by policy and reason (too_few_eligible, independence).",
                &["policy", "reason"],
            )?,
            log_segments: counter_vec(
                "souverain_log_segments_total",
                "Metadata log segments written to the providers, by outcome (written: at W or more, failed).",
                &["outcome"],
            )?,
            log_replicas_missed: counter_vec(
                "souverain_log_replicas_missed_total",
                "Metadata log segment copies a provider of the placement did not take, by provider.",
                &["provider"],
            )?,
            log_replicas_repaired: counter_vec(
                "souverain_log_replicas_repaired_total",
                "Metadata log segments brought to a provider of their placement that missed them, by \
                 provider and outcome (copied; dropped: the provider left the placement, the bucket was deleted or its KEK \
                 destroyed; failed: tried again later).",
                &["provider", "outcome"],
            )?,
            log_checkpoints: counter_vec(
                "souverain_log_checkpoints_total",
                "Checkpoints of a bucket's metadata log, by outcome (written: every part at W or more; failed).",
                &["outcome"],
            )?,
            log_segments_deleted: counter_vec(
                "souverain_log_segments_deleted_total",
                "Metadata log segments a checkpoint superseded, deleted at a provider, by provider.",
                &["provider"],
            )?,
            replication_pending_replicas: gauge_vec(
                "souverain_replication_pending_replicas",
                "Replicas queued for repair (hinted handoff), by provider.",
                &["provider"],
            )?,
            replication_oldest_pending: gauge_vec(
                "souverain_replication_oldest_pending_seconds",
                "Age of the oldest replica queued for repair, by provider (0 when none).",
                &["provider"],
            )?,
            repair_pending_by_scheme: gauge_vec(
                "souverain_repair_pending_tasks",
                "Replicas and shards queued for repair, by the stream's scheme (replicas, rs-k+m).",
                &["scheme"],
            )?,
            repair_stuck_tasks: gauge_vec(
                "souverain_repair_stuck_tasks",
                "Repair tasks that failed ten times or more (still retried), by provider.",
                &["provider"],
            )?,
            backend_circuit_state: gauge_vec(
                "souverain_backend_circuit_state",
                "Circuit breaker state by provider: 0 closed, 1 half-open, 2 open.",
                &["provider"],
            )?,
            backend_hedged_requests: counter_vec(
                "souverain_backend_hedged_requests_total",
                "Hedged reads started, by the provider the hedge went to.",
                &["provider"],
            )?,
            evacuation_moves: counter_vec(
                "souverain_evacuation_moves_total",
                "Replicas (moved, failed, no_target) and versions (converted, customer_key) the evacuation job handled, by outcome.",
                &["outcome"],
            )?,
            job_progress: GaugeVec::new(
                Opts::new("souverain_job_progress_ratio", "Progress of a background job's current pass (0-1)."),
                &["job"],
            )?,
            job_remaining: gauge_vec(
                "souverain_job_remaining_items",
                "Items a background job's current pass has still to look at.",
                &["job"],
            )?,
            repair_completed: counter_vec(
                "souverain_repair_completed_total",
                "Repair attempts by provider and outcome (ok, failed).",
                &["provider", "outcome"],
            )?,
            lifecycle_actions: counter_vec(
                "souverain_lifecycle_actions_total",
                "Lifecycle rules applied, by action: expired (current version), noncurrent_expired, \
                 delete_marker_removed, upload_aborted, and locked (a removal Object Lock refused).",
                &["action"],
            )?,
            scrub_checked: counter_vec(
                "souverain_scrub_checked_replicas_total",
                "Replicas checked by the scrubber, by provider.",
                &["provider"],
            )?,
            scrub_findings: counter_vec(
                "souverain_scrub_findings_total",
                "Replicas the scrubber found missing or damaged, by provider and kind.",
                &["provider", "kind"],
            )?,
            pending_deletions: gauge_vec(
                "souverain_pending_deletions",
                "Replicas the gateway decided to delete that the provider has not confirmed yet, by provider.",
                &["provider"],
            )?,
            pending_deletions_oldest: gauge_vec(
                "souverain_pending_deletions_oldest_seconds",
                "Age of the oldest replica waiting for deletion, by provider (0 when none).",
                &["provider"],
            )?,
            pending_deletions_overdue: gauge_vec(
                "souverain_pending_deletions_overdue",
                "Ciphertext at a provider its policy excludes (evacuated or surplus replicas), waiting for deletion longer than deletion_overdue_secs, by provider.",
                &["provider"],
            )?,
            deletions_completed: counter_vec(
                "souverain_deletions_completed_total",
                "Replicas deleted at providers (absent counts), by provider and reason.",
                &["provider", "reason"],
            )?,
            stored_objects: gauge_vec("souverain_stored_objects", "Objects stored, by policy.", &["policy"])?,
            stored_bytes: gauge_vec("souverain_stored_bytes", "Plaintext bytes stored, by policy.", &["policy"])?,
            provider_stored_replicas: gauge_vec(
                "souverain_provider_stored_replicas",
                "Replicas or shards a provider holds (every version), by provider.",
                &["provider"],
            )?,
            provider_stored_bytes: gauge_vec(
                "souverain_provider_stored_bytes",
                "Bytes a provider stores (ciphertext of every version), by provider.",
                &["provider"],
            )?,
            stored_noncurrent_objects: gauge_vec(
                "souverain_stored_noncurrent_objects",
                "Noncurrent versions stored (versioned buckets), by policy.",
                &["policy"],
            )?,
            stored_noncurrent_bytes: gauge_vec(
                "souverain_stored_noncurrent_bytes",
                "Plaintext bytes of noncurrent versions stored, by policy.",
                &["policy"],
            )?,
            integrity_failures: counter_vec(
                "souverain_integrity_failures_total",
                "Replicas that failed authentication, by provider.",
                &["provider"],
            )?,
            erasure_reconstructions: counter_vec(
                "souverain_erasure_reconstructions_total",
                "Stripes of erasure-coded reads rebuilt from parity, by scheme.",
                &["scheme"],
            )?,
            erasure_degraded_reads: counter_vec(
                "souverain_erasure_degraded_reads_total",
                "Erasure-coded reads that met a missing, failed or damaged data shard, by scheme.",
                &["scheme"],
            )?,
            erasure_damaged_chunks: counter_vec(
                "souverain_erasure_damaged_chunks_total",
                "Shard chunks that failed their check on a read (queued for repair), by provider.",
                &["provider"],
            )?,
            meta_commit_duration: Histogram::with_opts(
                HistogramOpts::new("souverain_meta_commit_duration_seconds", "Metadata commit latency.")
                    .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
        };
        m.register_all()
    }

    fn register_all(mut self) -> prometheus::Result<Self> {
        let build = gauge_vec("souverain_build_info", "Build information (always 1).", &["version"])?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.s3_requests.clone()),
            Box::new(self.s3_duration.clone()),
            Box::new(self.s3_inflight.clone()),
            Box::new(self.s3_received_bytes.clone()),
            Box::new(self.s3_sent_bytes.clone()),
            Box::new(self.connections_rejected.clone()),
            Box::new(self.key_rewraps.clone()),
            Box::new(self.key_provider_up.clone()),
            Box::new(self.backend_requests.clone()),
            Box::new(self.backend_duration.clone()),
            Box::new(self.backend_bytes.clone()),
            Box::new(self.provider_reachable.clone()),
            Box::new(self.write_quorum_available.clone()),
            Box::new(self.crypto_bytes.clone()),
            Box::new(self.placement_decisions.clone()),
            Box::new(self.placement_refusals.clone()),
            Box::new(self.log_segments.clone()),
            Box::new(self.log_replicas_missed.clone()),
            Box::new(self.log_replicas_repaired.clone()),
            Box::new(self.log_checkpoints.clone()),
            Box::new(self.log_segments_deleted.clone()),
            Box::new(self.replication_pending_replicas.clone()),
            Box::new(self.replication_oldest_pending.clone()),
            Box::new(self.repair_pending_by_scheme.clone()),
            Box::new(self.repair_stuck_tasks.clone()),
            Box::new(self.backend_circuit_state.clone()),
            Box::new(self.backend_hedged_requests.clone()),
            Box::new(self.repair_completed.clone()),
            Box::new(self.evacuation_moves.clone()),
            Box::new(self.lifecycle_actions.clone()),
            Box::new(self.job_progress.clone()),
            Box::new(self.job_remaining.clone()),
            Box::new(self.scrub_checked.clone()),
            Box::new(self.scrub_findings.clone()),
            Box::new(self.pending_deletions.clone()),
            Box::new(self.pending_deletions_oldest.clone()),
            Box::new(self.pending_deletions_overdue.clone()),
            Box::new(self.deletions_completed.clone()),
            Box::new(self.stored_objects.clone()),
            Box::new(self.stored_bytes.clone()),
            Box::new(self.provider_stored_replicas.clone()),
            Box::new(self.provider_stored_bytes.clone()),
            Box::new(self.stored_noncurrent_objects.clone()),
            Box::new(self.stored_noncurrent_bytes.clone()),
            Box::new(self.integrity_failures.clone()),
            Box::new(self.erasure_reconstructions.clone()),
            Box::new(self.erasure_degraded_reads.clone()),
            Box::new(self.erasure_damaged_chunks.clone()),
            Box::new(self.meta_commit_duration.clone()),
            Box::new(build),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for c in collectors {
            self.names.extend(c.desc().iter().map(|d| d.fq_name.clone()));
            self.registry.register(c)?;
        }
        Ok(self)
    }

    /// Every metric family name this gateway can export.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed families; a failure yields what was written.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
