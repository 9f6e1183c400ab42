//! The dry run of a residency change: before an admin applies a provider's new attributes or
//! binds a bucket to another policy, what the evacuation job would then move — per provider, the replicas (or shards) that would
//! leave it and their bytes — and which buckets' policies could no longer be met. Read only:
//! it walks every bucket's versions and open uploads' parts against the changed catalog,
//! changing nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AdminOps;
use crate::error::{ErrorKind, Result};
use crate::meta::BucketRecord;
use crate::meta::walk::PartWalk;
use crate::model::{ProviderId, ProviderInfo, ResidencyPolicy, StreamManifest};
use crate::placement::place;
use crate::service::residency::Residency;

/// Parts read per page of the open uploads' walk.
const PARTS_PAGE: usize = 512;

/// What applying a change would make the evacuation job do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvacuationPreview {
    /// Per provider that would give up data: replicas or shards, and their stored bytes.
    pub leaving: Vec<LeavingProvider>,
    /// Object versions looked at.
    pub versions: u64,
    /// Stored parts of open multipart uploads looked at (their replicas move like an
    /// object's; they keep their scheme until completed).
    pub upload_parts: u64,
    /// Streams (an object's, or a part's) stored in another scheme than the policy asks
    /// (replicas, shards, k + m), which the job would write again in its scheme.
    pub convert_streams: u64,
    /// Their plaintext bytes, to be read and sealed again.
    pub convert_bytes: u64,
    /// Versions with a stream in another scheme that stay in it: their data key is under
    /// their customer's key (SSE-C), which the gateway does not hold (their owners convert
    /// them by copying each onto itself with the key).
    pub convert_customer_keyed: u64,
    /// Buckets whose policy no placement would satisfy after the change (their data could not
    /// move anywhere: the change would leave it outside policy).
    pub unplaceable: Vec<String>,
}

/// One provider's share of an evacuation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeavingProvider {
    /// Provider id.
    pub provider: String,
    /// Replicas or shards that would move off it.
    pub replicas: u64,
    /// Their bytes as stored there.
    pub bytes: u64,
}

impl AdminOps {
    /// What the evacuation would move if provider `id` had the attributes `after`.
    pub async fn preview_provider_change(&self, id: &ProviderId, after: ProviderInfo) -> Result<EvacuationPreview> {
        let mut residency = (*self.state.residency()).clone();
        *residency.provider_mut(id).ok_or(ErrorKind::NoSuchProvider)? = after;
        let buckets = self.meta.buckets().await?;
        let bound = buckets.into_iter().map(|b| {
            let policy = b.policy_id.clone();
            (b, policy)
        });
        self.dry_run(&residency, bound).await
    }

    /// What the evacuation would move if `bucket` were bound to policy `policy_id`; refused as
    /// the binding itself would be (no such policy).
    pub async fn preview_bucket_binding(&self, bucket: &str, policy_id: &str) -> Result<EvacuationPreview> {
        let rec = self.existing_bucket(bucket).await?;
        let residency = self.state.residency();
        super::residency::check_binding(&residency, policy_id)?;
        self.dry_run(&residency, std::iter::once((rec, policy_id.to_owned()))).await
    }

    /// What the evacuation would move if `policy` replaced its namesake; refused as the change
    /// itself would be (a bound bucket no placement satisfies).
    pub async fn preview_policy_change(&self, policy: &ResidencyPolicy) -> Result<EvacuationPreview> {
        let (next, _) = self.with_policy(policy).await?;
        let buckets = self.meta.buckets().await?;
        let bound = buckets.into_iter().filter(|b| b.policy_id == policy.id).map(|b| (b, policy.id.clone()));
        self.dry_run(&next, bound).await
    }

    /// Walks each bucket's streams against the policy it is (or would be) bound to under
    /// `residency`: the replicas or shards on providers that policy does not allow leave.
    async fn dry_run(
        &self,
        residency: &Residency,
        bound: impl Iterator<Item = (BucketRecord, String)>,
    ) -> Result<EvacuationPreview> {
        let today = crate::service::today();
        let mut leaving: BTreeMap<String, LeavingProvider> = BTreeMap::new();
        let mut out = EvacuationPreview::default();
        for (bucket, policy_id) in bound {
            let Some(policy) = residency.policies.get(&policy_id) else { continue };
            let placed = place(policy, &residency.catalog, bucket.uid, today);
            let scheme = placed.as_ref().ok().map(crate::placement::Placement::redundancy);
            if placed.is_err() {
                out.unplaceable.push(bucket.name.to_string());
            }
            let allowed = |p: &ProviderId| residency.allows(policy, p, today);
            let mut leave = |s: &StreamManifest, stored: u64| {
                for p in s.replicas.iter().filter(|p| !allowed(p)) {
                    let slot = leaving.entry(p.as_str().to_owned()).or_default();
                    slot.replicas += 1;
                    slot.bytes += stored;
                }
            };
            let mut versions = super::VersionPages::of(bucket.uid);
            while let Some(page) = versions.next(self.meta.as_ref()).await? {
                for v in &page {
                    let other: Vec<&StreamManifest> =
                        v.streams.iter().filter(|s| scheme.is_some_and(|x| x != s.redundancy)).collect();
                    // Only a version to convert costs a read of its data key (is it SSE-C?).
                    if !other.is_empty() {
                        if self.meta.dek(v.version_uid).await?.is_some_and(|w| w.is_customer_wrapped()) {
                            out.convert_customer_keyed += 1;
                        } else {
                            out.convert_streams += other.len() as u64;
                            out.convert_bytes += other.iter().map(|s| s.plaintext_len).sum::<u64>();
                        }
                    }
                    for s in &v.streams {
                        leave(s, crate::replicate::erasure::holder_len(s));
                    }
                }
            }
            out.versions += versions.versions;
            let mut parts = PartWalk::new(bucket.uid);
            loop {
                let page = parts.next_page(self.meta.as_ref(), PARTS_PAGE).await?;
                if page.is_empty() {
                    break;
                }
                out.upload_parts += page.len() as u64;
                for p in &page {
                    leave(&p.part.stream, crate::replicate::erasure::holder_len(&p.part.stream));
                }
            }
        }
        out.leaving = leaving.into_iter().map(|(provider, l)| LeavingProvider { provider, ..l }).collect();
        out.unplaceable.sort();
        Ok(out)
    }
}
