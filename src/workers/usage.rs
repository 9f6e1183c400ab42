//! Stored usage per policy: a periodic pass over every bucket's versions that sets
//! `souverain_stored_objects` and `souverain_stored_bytes` (current versions) and
//! `souverain_stored_noncurrent_objects` and `souverain_stored_noncurrent_bytes` (the older
//! versions a versioned bucket keeps) by policy (as MinIO's and Garage's usage crawlers do),
//! and what each provider holds (`souverain_provider_stored_replicas`/`_bytes`, and the
//! console's providers page). A pass reads metadata only, a page at a time, so its memory is bounded
//! whatever the store's size; between passes the gauges are as of the last one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::meta::walk::VersionWalk;
use crate::meta::{BucketRecord, MetaError, MetadataStore};
use crate::metrics::Metrics;
use crate::service::state::{GatewayState, UsageSnapshot};
use crate::shutdown::Shutdown;

const PAGE: usize = 1000;

/// Objects and plaintext bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Current versions.
    pub objects: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// Noncurrent versions holding data (delete markers hold none and are not counted).
    pub noncurrent_objects: u64,
    /// Their plaintext bytes.
    pub noncurrent_bytes: u64,
    /// Versions walked, delete markers included (what the jobs that walk them count).
    pub versions: u64,
}

impl Usage {
    fn add(&mut self, other: &Usage) {
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.noncurrent_objects += other.noncurrent_objects;
        self.noncurrent_bytes += other.noncurrent_bytes;
        self.versions += other.versions;
    }
}

/// One bucket's versions and their bytes, a page at a time.
pub(crate) async fn bucket_usage(meta: &dyn MetadataStore, bucket: &BucketRecord) -> Result<Usage, MetaError> {
    bucket_usage_at(meta, bucket, &mut BTreeMap::new()).await
}

/// [`bucket_usage`], adding each stream's holders and stored bytes to `stored_at` (per provider
/// id: replicas or shards, bytes).
async fn bucket_usage_at(
    meta: &dyn MetadataStore,
    bucket: &BucketRecord,
    stored_at: &mut BTreeMap<String, (u64, u64)>,
) -> Result<Usage, MetaError> {
    let mut usage = Usage::default();
    let mut walk = VersionWalk::new(bucket.uid, None);
    loop {
        let page = walk.next_page(meta, PAGE).await?;
        if page.is_empty() {
            return Ok(usage);
        }
        for (_, e) in page {
            usage.versions += 1;
            for st in &e.version.streams {
                let len = crate::replicate::erasure::holder_len(st);
                for p in &st.replicas {
                    let at = stored_at.entry(p.as_str().to_owned()).or_default();
                    at.0 += 1;
                    at.1 += len;
                }
            }
            match (e.version.delete_marker, e.latest) {
                (true, _) => {}
                (false, true) => {
                    usage.objects += 1;
                    usage.bytes += e.version.size;
                }
                (false, false) => {
                    usage.noncurrent_objects += 1;
                    usage.noncurrent_bytes += e.version.size;
                }
            }
        }
    }
}

/// Versions in every bucket (the total of a job's progress ratio: the jobs walk versions).
pub(crate) async fn count_objects(meta: &dyn MetadataStore) -> Result<u64, MetaError> {
    let mut n = 0;
    for bucket in meta.buckets().await? {
        n += bucket_usage(meta, &bucket).await?.versions;
    }
    Ok(n)
}

/// Counts stored usage.
pub struct UsageCounter {
    meta: Arc<dyn MetadataStore>,
    metrics: Arc<Metrics>,
    state: Arc<GatewayState>,
}

impl UsageCounter {
    /// A counter over the service's metadata.
    pub fn new(ctx: &super::Context) -> Self {
        Self { meta: Arc::clone(&ctx.meta), metrics: Arc::clone(&ctx.metrics), state: Arc::clone(&ctx.state) }
    }

    /// One pass: usage by policy id (every configured policy appears), published as gauges.
    pub async fn run_once(&self) -> Result<BTreeMap<String, Usage>, MetaError> {
        let meta = &self.meta;
        let mut by_policy: BTreeMap<String, Usage> =
            self.state.policy_ids().into_iter().map(|p| (p, Usage::default())).collect();
        let mut snapshot = UsageSnapshot::default();
        for bucket in meta.buckets().await? {
            let b = bucket_usage_at(meta.as_ref(), &bucket, &mut snapshot.by_provider).await?;
            by_policy.entry(bucket.policy_id.clone()).or_default().add(&b);
            snapshot.by_bucket.insert(bucket.name.to_string(), (b.objects, b.bytes));
        }
        let metrics = &self.metrics;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for p in self.state.residency().catalog.iter().map(|p| p.id.as_str().to_owned()) {
            let (replicas, bytes) = snapshot.by_provider.get(&p).copied().unwrap_or_default();
            metrics.provider_stored_replicas.with_label_values(&[p.as_str()]).set(gauge(replicas));
            metrics.provider_stored_bytes.with_label_values(&[p.as_str()]).set(gauge(bytes));
        }
        self.state.set_usage(snapshot);
        for (policy, u) in &by_policy {
            metrics.stored_objects.with_label_values(&[policy.as_str()]).set(gauge(u.objects));
            metrics.stored_bytes.with_label_values(&[policy.as_str()]).set(gauge(u.bytes));
            metrics.stored_noncurrent_objects.with_label_values(&[policy.as_str()]).set(gauge(u.noncurrent_objects));
            metrics.stored_noncurrent_bytes.with_label_values(&[policy.as_str()]).set(gauge(u.noncurrent_bytes));
        }
        Ok(by_policy)
    }

    /// Passes every `every` until shutdown.
    pub async fn run(self, every: Duration, shutdown: Shutdown) {
        super::repeat(every, None, shutdown, || async {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %crate::report::Report(&e), "usage pass failed");
            }
        })
        .await;
    }
}
