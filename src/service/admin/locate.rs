//! "Where is my data": for one object, every stream, where each replica lives (provider,
//! country, operator) and whether it is stored or still waiting for repair.

use serde::Serialize;

use super::AdminOps;
use crate::datapath::ciphertext_len;
use crate::error::{ErrorKind, Result};
use crate::service::parse_key;

/// One replica of one stream.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaLocation {
    /// Provider id.
    pub provider: String,
    /// Data-centre country.
    pub country: String,
    /// Operator.
    pub operator: String,
    /// Legal systems of the operator's ownership chain.
    pub jurisdictions: Vec<String>,
    /// Certifications, `scheme until YYYY-MM-DD`.
    pub certifications: Vec<String>,
    /// `stored`, or `pending` while a repair task for it is queued.
    pub state: &'static str,
    /// When the scrubber last found it intact, ms since the epoch (none yet: not checked since
    /// it was written or moved).
    pub last_verified_ms: Option<i64>,
    /// How: `exists` (present, right length), or read whole and checked against the stream's
    /// recorded ciphertext check: `crc64nvme` (streams written since the CRC change) or
    /// `sha256` (streams of before).
    pub last_verification: Option<&'static str>,
    /// Whether the provider satisfies the bucket's policy today (false: evacuation will move it).
    pub allowed: bool,
    /// For an erasure-coded stream, the shard this provider holds (`0..k` data, then parity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
}

/// A copy of a stream the gateway gave up at a provider and has not yet seen deleted there
/// (the provider was down, or the deletion is queued): ciphertext still at that provider.
#[derive(Debug, Clone, Serialize)]
pub struct PendingDeletion {
    /// Provider id.
    pub provider: String,
    /// Data-centre country.
    pub country: String,
    /// Why it is deleted: `evacuated`, `surplus`, `misplaced` (outside policy), `unreferenced`,
    /// `abandoned`, `orphaned`.
    pub reason: &'static str,
    /// Whether the provider satisfies the bucket's policy today.
    pub allowed: bool,
    /// When the deletion was decided, ms since the epoch.
    pub since_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// One sealed stream of the object.
#[derive(Debug, Clone, Serialize)]
pub struct StreamLocation {
    /// Provider-side name.
    pub name: String,
    /// 0 for a single PUT, else the part number.
    pub part_number: u32,
    /// The stream's ciphertext bytes.
    pub ciphertext_len: u64,
    /// `replicas`, or `rs-<k>+<m>` for Reed–Solomon shards.
    pub scheme: String,
    /// Bytes stored at each provider: the ciphertext for replicas, one shard for `rs`.
    pub stored_len: u64,
    /// Where it is.
    pub replicas: Vec<ReplicaLocation>,
    /// Copies awaiting deletion, and where.
    pub awaiting_deletion: Vec<PendingDeletion>,
}

/// Where an object lives.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectLocation {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Residency policy of the bucket.
    pub policy: String,
    /// The version (its data key's id).
    pub version_uid: String,
    /// Its S3 version id (`null` for the null version).
    pub version_id: String,
    /// It is the key's latest version.
    pub latest: bool,
    /// Plaintext size.
    pub size: u64,
    /// When the version was written (every replica written then, or repaired since), ms since
    /// the epoch.
    pub written_ms: i64,
    /// KEK that wraps the version's data key, with its version (`souverain v2`).
    pub kek: String,
    /// The KEK was destroyed (crypto-shredded): the replicas below are unreadable ciphertext.
    pub kek_destroyed: bool,
    /// Its streams.
    pub streams: Vec<StreamLocation>,
}

impl AdminOps {
    /// Where a version of `bucket/key` lives: the one named by its S3 id, or the current one.
    pub async fn locate(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<ObjectLocation> {
        let rec = self.existing_bucket(bucket).await?;
        let key = parse_key(key)?;
        let v = match version {
            Some(id) => {
                let r = crate::service::versions::parse_version_id(id)?;
                self.meta.version(rec.uid, &key, r).await?.ok_or(ErrorKind::NoSuchVersion)?
            }
            None => self.meta.current(rec.uid, &key).await?.ok_or(ErrorKind::NoSuchKey)?,
        };
        let latest = self.meta.latest(rec.uid, &key).await?.is_some_and(|l| l.version_uid == v.version_uid);
        let residency = self.state.residency();
        let policy = residency.policies.get(&rec.policy_id);
        let today = crate::service::today();
        let dek = self.meta.dek(v.version_uid).await?;
        let kek = dek.as_ref().map(|w| format!("{} v{}", w.kek_id, w.kek_version)).unwrap_or_default();
        let kek_destroyed = dek.is_some_and(|w| self.state.key_state().shredded.contains_key(&w.kek_id));
        let mut streams = Vec::with_capacity(v.streams.len());
        for s in &v.streams {
            let pending = self.meta.stream_repairs(s.stream_id).await?;
            let verified = self.meta.verifications(s.stream_id).await?;
            let allowed = |p: &crate::model::ProviderId| matches!((residency.provider(p), policy), (Some(i), Some(pol)) if crate::placement::check(pol, i, today).is_empty());
            let awaiting_deletion = self
                .meta
                .stream_deletions(s.stream_id)
                .await?
                .into_iter()
                .map(|t| PendingDeletion {
                    provider: t.provider.to_string(),
                    country: residency.provider(&t.provider).map(|i| i.country.to_string()).unwrap_or_default(),
                    reason: t.reason.as_str(),
                    allowed: allowed(&t.provider),
                    since_ms: t.created_ms,
                    attempts: t.attempts,
                })
                .collect();
            let sharded = matches!(s.redundancy, crate::model::Redundancy::ReedSolomon(_));
            let replicas = s
                .replicas
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let info = residency.provider(p);
                    ReplicaLocation {
                        provider: p.to_string(),
                        country: info.map(|i| i.country.to_string()).unwrap_or_default(),
                        operator: info.map(|i| i.operator.clone()).unwrap_or_default(),
                        jurisdictions: info
                            .map(|i| i.jurisdictions.iter().map(ToString::to_string).collect())
                            .unwrap_or_default(),
                        certifications: info
                            .map(|i| {
                                i.certifications
                                    .iter()
                                    .map(|c| format!("{} until {}", c.scheme, crate::model::format_day(c.valid_until)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        state: if pending.iter().any(|t| t.provider == *p) { "pending" } else { "stored" },
                        last_verified_ms: verified.iter().find(|(q, _, _)| q == p).map(|(_, ms, _)| *ms),
                        last_verification: verified.iter().find(|(q, _, _)| q == p).map(|(_, _, deep)| {
                            match (*deep, s.ciphertext_check.function()) {
                                (false, _) => "exists",
                                (true, crate::model::CheckFunction::Crc64Nvme) => "crc64nvme",
                                (true, crate::model::CheckFunction::Sha256) => "sha256",
                            }
                        }),
                        allowed: allowed(p),
                        shard: sharded.then_some(i),
                    }
                })
                .collect();
            let cipher_len = ciphertext_len(s.plaintext_len, s.seg_log2);
            streams.push(StreamLocation {
                name: crate::backend::stream_name(s.stream_id),
                part_number: s.part_number,
                ciphertext_len: cipher_len,
                scheme: s.redundancy.label(),
                stored_len: crate::replicate::erasure::stored_len(s.redundancy, cipher_len),
                replicas,
                awaiting_deletion,
            });
        }
        Ok(ObjectLocation {
            bucket: bucket.to_owned(),
            key: key.as_str().to_owned(),
            policy: rec.policy_id,
            version_uid: v.version_uid.to_hex(),
            version_id: v.version_ref().to_s3(),
            latest,
            size: v.size,
            written_ms: v.last_modified_ms,
            kek,
            kek_destroyed,
            streams,
        })
    }
}

/// One provider under a bucket's policy.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderVerdict {
    /// Provider id.
    pub provider: String,
    /// Country.
    pub country: String,
    /// Operator.
    pub operator: String,
    /// Every rule it breaks (empty: eligible).
    pub violations: Vec<String>,
    /// Chosen as a target for this bucket.
    pub chosen: bool,
    /// Under an erasure-coding policy, the shard a chosen provider receives (`0..k` data,
    /// then parity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
}

/// A dry-run placement for a bucket, with the reasons behind it.
#[derive(Debug, Clone, Serialize)]
pub struct PlacementExplanation {
    /// Bucket.
    pub bucket: String,
    /// Its policy.
    pub policy: String,
    /// `placed` or the refusal.
    pub outcome: String,
    /// `replicas`, or `rs-<k>+<m>`: whole copies or Reed–Solomon shards.
    pub scheme: String,
    /// Copies (or shards) a write needs acknowledged.
    pub write_quorum: u8,
    /// Per provider.
    pub providers: Vec<ProviderVerdict>,
}

impl AdminOps {
    /// Explains where `bucket`'s next objects would go and why other providers are excluded.
    pub async fn explain_placement(&self, bucket: &str) -> Result<PlacementExplanation> {
        let rec = self.existing_bucket(bucket).await?;
        let residency = self.state.residency();
        let policy = residency.policy_of(&rec)?;
        let today = crate::service::today();
        let placed = crate::placement::place(policy, &residency.catalog, rec.uid, today);
        let targets = placed.as_ref().map(|p| p.targets().to_vec()).unwrap_or_default();
        let sharded = policy.erasure.is_some();
        let providers = residency
            .catalog
            .iter()
            .map(|p| ProviderVerdict {
                provider: p.id.to_string(),
                country: p.country.to_string(),
                operator: p.operator.clone(),
                violations: crate::placement::check(policy, p, today).iter().map(ToString::to_string).collect(),
                chosen: targets.contains(&p.id),
                shard: targets.iter().position(|t| *t == p.id).filter(|_| sharded),
            })
            .collect();
        let scheme = policy.erasure.map_or_else(|| "replicas".to_owned(), crate::model::ErasureShards::label);
        Ok(PlacementExplanation {
            bucket: bucket.to_owned(),
            policy: policy.id.clone(),
            scheme,
            write_quorum: policy.write_quorum,
            outcome: placed.map_or_else(|u| u.to_string(), |_| "placed".to_owned()),
            providers,
        })
    }
}

/// One queued provider-side deletion, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedDeletion {
    /// Provider-side name of the stream.
    pub name: String,
    /// Provider id.
    pub provider: String,
    /// Why (see [`PendingDeletion::reason`]).
    pub reason: &'static str,
    /// Ciphertext outside its bucket's policy until deleted.
    pub outside_policy: bool,
    /// When the deletion was decided, ms since the epoch.
    pub since_ms: i64,
    /// Not retried before, ms since the epoch.
    pub due_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
}

impl AdminOps {
    /// The first `limit` queued provider-side deletions, by stream then provider.
    pub async fn queued_deletions(&self, limit: usize) -> Result<Vec<QueuedDeletion>> {
        let tasks = self.meta.deletions(None, limit).await?;
        Ok(tasks
            .into_iter()
            .map(|t| QueuedDeletion {
                name: crate::backend::stream_name(t.stream_id),
                provider: t.provider.to_string(),
                reason: t.reason.as_str(),
                outside_policy: t.reason.residency(),
                since_ms: t.created_ms,
                due_ms: t.due_ms,
                attempts: t.attempts,
            })
            .collect())
    }
}
