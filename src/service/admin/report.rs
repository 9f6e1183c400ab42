//! The compliance report's facts, gathered once: the catalog with its evidence dates, the
//! policies, and per bucket where its data lives (the providers, countries and jurisdictions
//! holding replicas of any version) with the count of replicas outside its policy today (from
//! the metadata), next to the latest scrub pass that checked the replicas against the providers.
//! The console renders them as HTML and PDF; the audit chain's verdict is added there.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{AdminOps, JobView};
use crate::error::Result;
use crate::model::{ProviderInfo, ResidencyPolicy};

/// What the report states, as of `generated_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct ComplianceFacts {
    /// When the facts were gathered, ms since the epoch.
    pub generated_ms: i64,
    /// The gateway's version.
    pub version: &'static str,
    /// SHA-256 (hex) of the residency in force (catalog and policies as JSON, admin changes
    /// included): two reports with the same digest describe the same rules.
    pub residency_sha256: String,
    /// The providers with their legal facts and certifications.
    pub providers: Vec<ProviderInfo>,
    /// The policies.
    pub policies: Vec<ResidencyPolicy>,
    /// Per bucket, where its data is.
    pub buckets: Vec<BucketResidency>,
    /// Per provider holding data: replicas or shards, and their stored bytes.
    pub stored: Vec<ProviderStorage>,
    /// The latest scrub pass, if one ran.
    pub scrub: Option<JobView>,
}

/// What one provider holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderStorage {
    /// Provider id.
    pub provider: String,
    /// Replicas or shards.
    pub replicas: u64,
    /// Their bytes as stored there (ciphertext; a shard's share for erasure-coded streams).
    pub bytes: u64,
}

/// Where one bucket's data lives.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketResidency {
    /// Bucket name.
    pub bucket: String,
    /// Its policy.
    pub policy: String,
    /// Object versions (delete markers included).
    pub versions: u64,
    /// Replicas or shards recorded.
    pub replicas: u64,
    /// Providers holding any of them.
    pub providers: BTreeSet<String>,
    /// Their countries.
    pub countries: BTreeSet<String>,
    /// The jurisdictions of their operators' ownership chains.
    pub jurisdictions: BTreeSet<String>,
    /// Replicas at a provider the policy does not allow today (the evacuation moves them).
    pub outside_policy: u64,
    /// Replicas the latest scrub pass found present with their length (since it started).
    pub scrub_checked: u64,
    /// Of those, the ones it read whole and found their ciphertext check intact.
    pub scrub_read_whole: u64,
    /// Replicas awaiting repair (the scrubber's findings, and writes or moves a provider missed).
    pub awaiting_repair: u64,
}

impl AdminOps {
    /// Gathers the report's facts (walks every bucket's versions once).
    pub async fn compliance_facts(&self) -> Result<ComplianceFacts> {
        let residency = self.state.residency();
        let policies = self.policies();
        let rules = serde_json::to_vec(&(&residency.catalog, &policies)).unwrap_or_default();
        let today = crate::service::today();
        let mut buckets = Vec::new();
        let mut stored: std::collections::BTreeMap<String, ProviderStorage> = std::collections::BTreeMap::new();
        let mut records = self.meta.buckets().await?;
        records.sort_by(|a, b| a.name.cmp(&b.name));
        let scrub = self.job(crate::model::jobs::SCRUB).await?;
        let scrub_since = scrub.as_ref().map(|j| j.started_ms);
        for bucket in records {
            let policy = residency.policies.get(&bucket.policy_id);
            let mut out = BucketResidency {
                bucket: bucket.name.to_string(),
                policy: bucket.policy_id.clone(),
                ..Default::default()
            };
            let mut pages = super::VersionPages::of(bucket.uid);
            while let Some(page) = pages.next(self.meta.as_ref()).await? {
                for s in page.iter().flat_map(|v| &v.streams) {
                    let len = crate::replicate::erasure::holder_len(s);
                    for p in &s.replicas {
                        let at = stored.entry(p.as_str().to_owned()).or_default();
                        at.replicas += 1;
                        at.bytes += len;
                        out.replicas += 1;
                        out.providers.insert(p.as_str().to_owned());
                        if let Some(info) = residency.provider(p) {
                            out.countries.insert(info.country.to_string());
                            out.jurisdictions.extend(info.jurisdictions.iter().map(ToString::to_string));
                        }
                        if !policy.is_some_and(|policy| residency.allows(policy, p, today)) {
                            out.outside_policy += 1;
                        }
                    }
                    self.count_checks(s, scrub_since, &mut out).await?;
                }
            }
            out.versions = pages.versions;
            buckets.push(out);
        }
        Ok(ComplianceFacts {
            generated_ms: crate::service::now_ms(),
            version: env!("CARGO_PKG_VERSION"),
            residency_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &rules)),
            providers: residency.catalog.clone(),
            policies,
            buckets,
            stored: stored.into_iter().map(|(provider, at)| ProviderStorage { provider, ..at }).collect(),
            scrub,
        })
    }

    /// Counts `s`'s replicas awaiting repair, and of the others those the scrub pass that
    /// started at `scrub_since` checked (a replica written since, or at a provider that did
    /// not answer, is in neither count).
    async fn count_checks(
        &self,
        s: &crate::model::StreamManifest,
        scrub_since: Option<i64>,
        out: &mut BucketResidency,
    ) -> Result<()> {
        let repairs = self.meta.stream_repairs(s.stream_id).await?;
        let checks = match scrub_since {
            Some(_) => self.meta.verifications(s.stream_id).await?,
            None => Vec::new(),
        };
        for p in &s.replicas {
            if repairs.iter().any(|t| t.provider == *p) {
                out.awaiting_repair += 1;
                continue;
            }
            let checked = checks.iter().find(|(at, ms, _)| at == p && scrub_since.is_some_and(|since| *ms >= since));
            if let Some((_, _, read_whole)) = checked {
                out.scrub_checked += 1;
                out.scrub_read_whole += u64::from(*read_whole);
            }
        }
        Ok(())
    }
}
