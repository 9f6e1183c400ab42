//! Stored usage per policy: a periodic pass over every bucket's current versions that sets
//! `souverain_stored_objects` and `souverain_stored_bytes` by policy (as MinIO's and Garage's
//! usage crawlers do). A pass reads metadata only, a page at a time, so its memory is bounded
//! whatever the store's size; between passes the gauges are as of the last one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::meta::{BucketRecord, ListEntry, ListQuery, ListStart, MetaError, MetadataStore};
use crate::metrics::Metrics;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;

const PAGE: usize = 1000;

/// Objects and plaintext bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Current versions.
    pub objects: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
}

/// One bucket's current versions and their bytes, a page at a time.
pub(crate) async fn bucket_usage(meta: &dyn MetadataStore, bucket: &BucketRecord) -> Result<Usage, MetaError> {
    let mut usage = Usage::default();
    let mut start = ListStart::Beginning;
    loop {
        let q = ListQuery { prefix: Vec::new(), delimiter: None, start, max: PAGE };
        let page = meta.list(bucket.uid, &q).await?;
        let mut last = None;
        for entry in page.entries {
            if let ListEntry::Item(key, v) = entry {
                usage.objects += 1;
                usage.bytes += v.size;
                last = Some(key);
            }
        }
        match last {
            Some(key) if page.truncated => start = ListStart::AfterKey(key),
            _ => return Ok(usage),
        }
    }
}

/// Current versions in every bucket (the total of a job's progress ratio).
pub(crate) async fn count_objects(meta: &dyn MetadataStore) -> Result<u64, MetaError> {
    let mut n = 0;
    for bucket in meta.buckets().await? {
        n += bucket_usage(meta, &bucket).await?.objects;
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
        for bucket in meta.buckets().await? {
            let b = bucket_usage(meta.as_ref(), &bucket).await?;
            let usage = by_policy.entry(bucket.policy_id.clone()).or_default();
            usage.objects += b.objects;
            usage.bytes += b.bytes;
        }
        let metrics = &self.metrics;
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for (policy, u) in &by_policy {
            metrics.stored_objects.with_label_values(&[policy.as_str()]).set(gauge(u.objects));
            metrics.stored_bytes.with_label_values(&[policy.as_str()]).set(gauge(u.bytes));
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
