//! `souverain meta rebuild` (docs/format-v2.md, "Rebuild"): recreates an empty metadata store
//! from the metadata log at the providers, given the KEK. Every reachable provider's keyrings
//! open the log keys; every segment is read from the first of its holders that serves it
//! authentic (one that fails authentication is never trusted, and reported); the entries are
//! folded (the newest per key wins) into the store's rebuild stage, a segment at a time, so
//! memory stays bounded whatever the number of objects and a killed rebuild resumes; then the
//! live buckets, versions with their data keys, and catalog changes are written back as they
//! were, the commit sequence restarts above the highest seen, and every replica a provider
//! does not list becomes a repair task. A gateway refuses to start on a store whose rebuild
//! has not finished ([`unfinished`]).

use std::collections::HashSet;
use std::sync::Arc;

use super::fold;
use super::generations::Superseded;
use super::read::{open_keyrings, read_log, stage_stream_listings};
use super::stage::{self, Job, MemoryStage};
use crate::backend::{Backend, Backends, stream_name};
use crate::datapath::range::ciphertext_len;
use crate::keys::KeyProvider;
use crate::meta::log_entry::LoggedObjectVersion;
use crate::meta::restore::{AccessRecord, RestoreBatch, RestoredVersion};
use crate::meta::{AuditedChange, MetaError, MetadataStore, RebuildStage, RepairTask};
use crate::model::audit::AuditEntry;
use crate::model::{ObjectKey, ProviderId, StreamManifest};

/// Versions written per store batch.
const BATCH: usize = 512;

/// Told how far a phase has come: its name, items done, items in all.
pub type Progress = dyn Fn(&'static str, u64, u64) + Send + Sync;

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebuildError {
    /// The store already holds buckets or data keys: a rebuild never merges into a live store.
    #[error("the metadata store is not empty; rebuild only into an empty (new) store")]
    NotEmpty,
    /// `--provider` named a provider the configuration does not have.
    #[error("no provider {0} in the configuration")]
    UnknownProvider(String),
    /// Writing the recovered records failed.
    #[error("writing the recovered records")]
    Store(#[from] MetaError),
    /// A logged catalog change does not read back.
    #[error("catalog entry {name} unreadable")]
    Catalog {
        /// Its name (`provider/<id>`, `policy/<id>`, `shredded/<kek>`).
        name: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A logged object key or bucket name is not one the gateway accepts (a writer bug).
    #[error("log entry field {0} invalid")]
    Entry(&'static str),
}

/// How to rebuild.
#[derive(Debug, Default, Clone)]
pub struct RebuildOptions {
    /// Read and report everything, write nothing (any store, empty or not).
    pub dry_run: bool,
    /// Read only these providers (all when empty): e.g. leave out one known to be compromised.
    pub providers: Vec<String>,
}

/// What a rebuild found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RebuildReport {
    /// This run finished a rebuild that an earlier run started (and was stopped).
    pub resumed: bool,
    /// Providers read.
    pub providers: Vec<String>,
    /// Log keys opened.
    pub keyrings: usize,
    /// Distinct segments folded in (by this run and the runs it resumed).
    pub segments: usize,
    /// Of those, segments an earlier run had folded in.
    pub segments_resumed: usize,
    /// Segments or keyrings that could not be read or did not authenticate, with why.
    pub rejected: Vec<String>,
    /// Providers that could not be listed, with why.
    pub unreachable: Vec<String>,
    /// Entries read (with repeats).
    pub entries: usize,
    /// Buckets recovered.
    pub buckets: usize,
    /// Object versions recovered.
    pub objects: usize,
    /// Multipart uploads in progress recovered (with their parts).
    pub uploads: usize,
    /// Bytes of those versions (plaintext).
    pub bytes: u64,
    /// Catalog changes recovered.
    pub catalog: usize,
    /// Replicas a provider does not hold, queued for repair.
    pub repairs: usize,
    /// The highest commit sequence number seen.
    pub highest_seq: u64,
    /// Buckets whose state came from a whole checkpoint (and the segments after it).
    pub checkpoints: usize,
    /// The catalog's state came from a whole checkpoint (and the segments after it).
    pub catalog_checkpoint: bool,
    /// The audit chain restored, and its breaks.
    pub audit: super::audit::ChainReport,
}

/// Whether a rebuild started on this store and has not finished (the store is partial).
pub async fn unfinished(meta: &dyn MetadataStore) -> Result<bool, MetaError> {
    Ok(stage::job(meta).await?.is_some())
}

/// Rebuilds `meta` (which must be empty, or hold an unfinished rebuild, which is resumed)
/// from the providers' log.
pub async fn rebuild(
    meta: &dyn MetadataStore,
    keys: &dyn KeyProvider,
    backends: &Backends,
    options: &RebuildOptions,
    progress: &Progress,
) -> Result<RebuildReport, RebuildError> {
    let providers = selected(backends, &options.providers)?;
    let memory = MemoryStage::default();
    let stage: &dyn RebuildStage = if options.dry_run { &memory } else { meta };
    let mut report =
        RebuildReport { providers: providers.iter().map(|p| p.id().to_string()).collect(), ..Default::default() };
    let mut job = match stage::job(stage).await? {
        Some(job) => {
            report.resumed = true;
            job
        }
        None if !options.dry_run && (!meta.buckets().await?.is_empty() || meta.holds_data_keys().await?) => {
            return Err(RebuildError::NotEmpty);
        }
        None => Job::default(),
    };
    // Recorded before anything else, so a gateway refuses the store until this finishes.
    stage.stage_write(vec![(stage::JOB.to_vec(), crate::meta::codec::encode(&job)?)], Vec::new()).await?;
    let log_keys = open_keyrings(&providers, keys, &mut report).await;
    read_log(&providers, &log_keys, stage, &mut job, &mut report, progress).await?;
    stage_stream_listings(&providers, stage, &mut report).await?;
    (report.segments, report.entries, report.highest_seq) = (job.segments, job.entries, job.highest_seq);
    report.unreachable.sort();
    report.unreachable.dedup();
    let target = (!options.dry_run).then_some(meta);
    let listed = listed_providers(stage, &providers).await?;
    write_back(target, stage, &job, &listed, &mut report, progress).await?;
    if options.dry_run {
        return Ok(report);
    }
    for key in log_keys.values() {
        if let Ok(bytes) = key.keyring().to_bytes() {
            meta.init_log_keyring(&key.keyring().wrapped.kek_id, bytes).await?;
        }
    }
    stage::index_read_segments(meta, stage, false).await?;
    let detail = serde_json::to_value(&report).unwrap_or_default();
    meta.apply_change(AuditedChange::RecordOnly, AuditEntry::new("rebuild", "meta.rebuild", &detail)).await?;
    stage::clear(stage).await?;
    Ok(report)
}

/// The providers to read: all, or the ones named.
pub(super) fn selected(backends: &Backends, names: &[String]) -> Result<Vec<Arc<dyn Backend>>, RebuildError> {
    let mut all: Vec<_> = backends.values().cloned().collect();
    all.sort_by(|a, b| a.id().cmp(b.id()));
    if let Some(unknown) = names.iter().find(|n| !all.iter().any(|b| b.id().as_str() == n.as_str())) {
        return Err(RebuildError::UnknownProvider(unknown.clone()));
    }
    all.retain(|b| names.is_empty() || names.iter().any(|n| n.as_str() == b.id().as_str()));
    Ok(all)
}

/// Writes the staged state back (to `meta`; `None` only counts): buckets and catalog, then
/// versions in batches, the commit sequence above the highest seen. Writing a record twice
/// (a resumed write-back) writes the same record.
async fn write_back(
    meta: Option<&dyn MetadataStore>,
    stage: &dyn RebuildStage,
    job: &Job,
    listed: &[ProviderId],
    report: &mut RebuildReport,
    progress: &Progress,
) -> Result<(), RebuildError> {
    let gens = Superseded::read(stage).await?;
    report.checkpoints = gens.buckets();
    report.catalog_checkpoint = gens.catalog();
    let buckets = fold::live_buckets(stage, &gens).await?;
    let live: HashSet<[u8; 16]> = buckets.iter().map(|b| b.uid).collect();
    let mut first = RestoreBatch { seq_floor: job.highest_seq, ..RestoreBatch::default() };
    for b in &buckets {
        first.buckets.push((b.record().map_err(|_| RebuildError::Entry("bucket"))?, b.kek.clone()));
    }
    for (name, json) in fold::catalog(stage, &gens).await? {
        match catalog_change(&name, &json)? {
            Logged::Catalog(c) => first.catalog.push(c),
            Logged::Access(
                AccessRecord::Grant { bucket, .. }
                | AccessRecord::BucketPolicy { bucket, .. }
                | AccessRecord::PublicBlock { bucket, .. }
                | AccessRecord::Versioning { bucket, .. }
                | AccessRecord::ObjectLock { bucket, .. }
                | AccessRecord::Lifecycle { bucket, .. }
                | AccessRecord::BucketTags { bucket, .. }
                | AccessRecord::Cors { bucket, .. }
                | AccessRecord::EtagMode { bucket, .. },
            ) if !live.contains(bucket.as_bytes()) => {}
            Logged::Access(a) => first.access.push(a),
            Logged::Removed => {}
        }
    }
    report.buckets = first.buckets.len();
    report.catalog = first.catalog.len() + first.access.len();
    if let Some(meta) = meta {
        meta.restore(first).await?;
    }
    let now = crate::service::now_ms();
    fold::each_live_version(stage, &live, &gens, BATCH, async |versions| -> Result<(), RebuildError> {
        let batch = RestoreBatch { versions: restored(&versions, stage, listed, now).await?, ..Default::default() };
        report.objects += batch.versions.len();
        report.bytes += versions.iter().map(|v| v.version.size).sum::<u64>();
        report.repairs += batch.versions.iter().map(|v| v.repairs.len()).sum::<usize>();
        progress("objects", report.objects as u64, 0);
        if let Some(meta) = meta {
            meta.restore(batch).await?;
        }
        Ok(())
    })
    .await?;
    super::uploads::each_live_upload(stage, &live, &gens, BATCH, async |open| -> Result<(), RebuildError> {
        let uploads = super::uploads::restored_uploads(open, stage, listed, now).await?;
        report.uploads += uploads.len();
        report.repairs += uploads.iter().map(|u| u.repairs.len()).sum::<usize>();
        if let Some(meta) = meta {
            meta.restore(RestoreBatch { uploads, ..Default::default() }).await?;
        }
        Ok(())
    })
    .await?;
    let mut chain = super::audit::ChainReport::default();
    super::audit::each_record(stage, BATCH, &mut chain, async |audit| -> Result<(), RebuildError> {
        progress("audit records", audit.last().map_or(0, |r| r.record.seq), 0);
        if let Some(meta) = meta {
            meta.restore(RestoreBatch { audit, ..Default::default() }).await?;
        }
        Ok(())
    })
    .await?;
    report.audit = chain;
    Ok(())
}

/// The providers whose stream listing completed (only their missing replicas are repairs).
async fn listed_providers(
    stage: &dyn RebuildStage,
    providers: &[Arc<dyn Backend>],
) -> Result<Vec<ProviderId>, MetaError> {
    let mut out = Vec::new();
    for p in providers {
        if stage::has(stage, stage::listing_done_key(p.id())).await? {
            out.push(p.id().clone());
        }
    }
    Ok(out)
}

/// Versions as the store keeps them, each with a repair task for every replica a listed
/// provider does not hold (one stage read for the page).
async fn restored(
    logged: &[LoggedObjectVersion],
    stage: &dyn RebuildStage,
    listed: &[ProviderId],
    now: i64,
) -> Result<Vec<RestoredVersion>, RebuildError> {
    let mut out = Vec::with_capacity(logged.len());
    for v in logged {
        let (version, dek) = v.record().map_err(|_| RebuildError::Entry("version"))?;
        let key = ObjectKey::parse(&v.version.key).map_err(|_| RebuildError::Entry("key"))?;
        let bucket = crate::model::BucketUid(v.version.bucket);
        out.push(RestoredVersion { bucket, key, version, dek, repairs: Vec::new() });
    }
    let owners: Vec<usize> =
        out.iter().enumerate().flat_map(|(i, r)| r.version.streams.iter().map(move |_| i)).collect();
    let missing = {
        let streams: Vec<&StreamManifest> = out.iter().flat_map(|r| &r.version.streams).collect();
        missing_replicas(&streams, stage, listed, now).await?
    };
    for (i, tasks) in owners.into_iter().zip(missing) {
        out[i].repairs.extend(tasks);
    }
    Ok(out)
}

/// Per stream, a repair task for every replica a listed provider does not hold (one stage
/// read for them all).
pub(super) async fn missing_replicas(
    streams: &[&StreamManifest],
    stage: &dyn RebuildStage,
    listed: &[ProviderId],
    now: i64,
) -> Result<Vec<Vec<RepairTask>>, MetaError> {
    let mut checked = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        let name = stream_name(s.stream_id);
        checked.extend(
            s.replicas.iter().filter(|p| listed.contains(p)).map(|p| (i, p.clone(), stage::listed_key(p, &name))),
        );
    }
    let held = stage.stage_get(checked.iter().map(|(.., k)| k.clone()).collect()).await?;
    let mut out = vec![Vec::new(); streams.len()];
    for ((i, p, _), held) in checked.into_iter().zip(held) {
        if held.is_none() {
            let s = streams[i];
            out[i].push(RepairTask::for_stream(s, p, ciphertext_len(s.plaintext_len, s.seg_log2), now));
        }
    }
    Ok(out)
}

/// What a catalog entry of the log restores.
enum Logged {
    /// A provider, policy or shredded KEK.
    Catalog(AuditedChange),
    /// A user, access key or grant.
    Access(AccessRecord),
    /// A removed user, key or grant (its last entry is `null`).
    Removed,
}

fn catalog_change(name: &str, json: &str) -> Result<Logged, RebuildError> {
    let bad = |source| RebuildError::Catalog { name: name.to_owned(), source };
    let removed = json.trim() == "null";
    if name.starts_with("provider/") {
        Ok(Logged::Catalog(AuditedChange::Provider(serde_json::from_str(json).map_err(bad)?)))
    } else if name.starts_with("policy/") {
        Ok(Logged::Catalog(AuditedChange::Policy(serde_json::from_str(json).map_err(bad)?)))
    } else if let Some(kek) = name.strip_prefix("shredded/") {
        let at_ms = serde_json::from_str(json).map_err(bad)?;
        Ok(Logged::Catalog(AuditedChange::KekShredded { kek: kek.to_owned(), at_ms }))
    } else if removed
        && ["user/", "accesskey/", "admintoken/", "grant/", "bucketpolicy/", "publicblock/"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        Ok(Logged::Removed)
    } else if name.starts_with("user/") {
        Ok(Logged::Access(AccessRecord::User(serde_json::from_str(json).map_err(bad)?)))
    } else if name.starts_with("accesskey/") {
        Ok(Logged::Access(AccessRecord::Key(serde_json::from_str(json).map_err(bad)?)))
    } else if name.starts_with("admintoken/") {
        Ok(Logged::Access(AccessRecord::Token(serde_json::from_str(json).map_err(bad)?)))
    } else if let Some((bucket, setting)) = crate::meta::store::parse_bucket_entry_key(name) {
        use crate::meta::store::BucketSetting;
        Ok(Logged::Access(match setting {
            BucketSetting::Policy => {
                AccessRecord::BucketPolicy { bucket, document: serde_json::from_str(json).map_err(bad)? }
            }
            BucketSetting::PublicBlock => {
                AccessRecord::PublicBlock { bucket, block: serde_json::from_str(json).map_err(bad)? }
            }
            BucketSetting::Versioning => {
                AccessRecord::Versioning { bucket, state: serde_json::from_str(json).map_err(bad)? }
            }
            BucketSetting::ObjectLock => {
                AccessRecord::ObjectLock { bucket, config: serde_json::from_str(json).map_err(bad)? }
            }
            BucketSetting::Lifecycle => {
                AccessRecord::Lifecycle { bucket, config: serde_json::from_str(json).map_err(bad)? }
            }
            BucketSetting::Tags => AccessRecord::BucketTags { bucket, tags: serde_json::from_str(json).map_err(bad)? },
            BucketSetting::Cors => AccessRecord::Cors { bucket, config: serde_json::from_str(json).map_err(bad)? },
            BucketSetting::EtagMode => {
                AccessRecord::EtagMode { bucket, mode: serde_json::from_str(json).map_err(bad)? }
            }
        }))
    } else if let Some((bucket, user)) = crate::meta::store::parse_grant_key(name) {
        let perms = serde_json::from_str(json).map_err(bad)?;
        Ok(Logged::Access(AccessRecord::Grant { bucket, user, perms }))
    } else {
        Err(RebuildError::Entry("catalog name"))
    }
}
