//! `souverain meta verify` (docs/format-v2.md, "Verify"): compares the live metadata store
//! with what the providers hold, without changing anything unless asked to repair.
//!
//! - **Replicas**: every committed stream's replicas against each provider's listing (one
//!   merged walk: the store's streams and each listing are both in stream-id order): a replica
//!   the provider does not list is *missing*; a stream a provider lists that the store does
//!   not know (no committed version or part, no write in flight) is an *orphan*; a copy of a
//!   committed stream at a provider not in its replica list is *surplus*.
//! - **Log**: the metadata log, folded as a rebuild would (in memory), against every version
//!   the store holds (noncurrent ones and delete markers too): versions only the store has
//!   (their entries not yet at the providers, which the outbox count explains), versions only
//!   the log has, and keys whose `null` version differs; and every open multipart upload with
//!   its parts, both ways.
//!
//! With `repair`, missing replicas are queued for repair and orphans and surplus copies for
//! deletion (the sweep DESIGN left unbuilt); the gateway's workers carry them out, and a
//! deletion task whose replica is live is dropped, never executed
//! ([`crate::meta::ReplicaMeta::claim_deletions`]). Buckets, versions and open uploads the
//! log lost or holds differently are logged again as the store holds them (the writer logs
//! them when the gateway runs).

use std::collections::HashSet;
use std::sync::Arc;

use super::generations::Superseded;
use super::listing::MergedListing;
use super::read::{open_keyrings, read_log};
use super::rebuild::{Progress, RebuildReport, selected};
use super::stage::{self, Job, MemoryStage};
use super::{fold, rebuild::RebuildError};
use crate::backend::{Backend, Backends, STREAM_PREFIX, stream_name};
use crate::datapath::range::ciphertext_len;
use crate::keys::KeyProvider;
use crate::meta::log_entry::{LogEntry, LoggedPart};
use crate::meta::walk::{UploadWalk, VersionWalk};
use crate::meta::{DeletionReason, DeletionTask, MetaError, MetadataStore, RebuildStage, RepairTask, UploadRecord};
use crate::model::{BucketUid, ObjectKey, ProviderId, StreamId, StreamManifest, UploadId, VersionRef, VersionUid};

/// Findings listed by name at most (the counts are always whole).
const SAMPLE: usize = 100;
/// Orphan candidates held before they are checked again (more are counted, not swept).
const MAX_CANDIDATES: usize = 100_000;

/// One kind of finding: how many, and the first few.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Findings {
    /// How many.
    pub count: usize,
    /// The first [`SAMPLE`], described.
    pub sample: Vec<String>,
}

impl Findings {
    fn add(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.sample.len() < SAMPLE {
            self.sample.push(what());
        }
    }
}

/// What a verification found (and, with repair, queued).
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Providers compared.
    pub providers: Vec<String>,
    /// Providers that could not be listed, with why (their replicas are not judged).
    pub unreachable: Vec<String>,
    /// Committed streams (versions and parts) checked.
    pub streams: usize,
    /// Replicas the store records that their provider does not list.
    pub missing: Findings,
    /// Streams at a provider that the store does not know.
    pub orphans: Findings,
    /// Copies of committed streams at a provider outside their replica list.
    pub surplus: Findings,
    /// Versions the store holds that the log does not (yet) have.
    pub not_in_log: Findings,
    /// Versions the log holds that the store does not.
    pub not_in_store: Findings,
    /// Keys whose `null` version differs between the store and the log.
    pub differ: Findings,
    /// Entries committed but not yet logged (the outbox), which explain `not_in_log`.
    pub unlogged: usize,
    /// The log's reading (segments, rejected ones, keyrings).
    pub log: RebuildReport,
    /// Repair tasks queued (with `repair`).
    pub repairs_queued: usize,
    /// Deletion tasks queued (with `repair`).
    pub deletions_queued: usize,
    /// Buckets and versions logged again (with `repair`): `not_in_log` and `differ` ones.
    pub relogged: usize,
    /// Segments at the providers the store's segment index lacked, recorded (`--repair`).
    pub indexed: usize,
}

impl VerifyReport {
    /// The counts of a run, for its audit record (names stay in the report).
    pub fn counts(&self) -> serde_json::Value {
        serde_json::json!({
            "providers": self.providers,
            "unreachable": self.unreachable.len(),
            "streams": self.streams,
            "missing": self.missing.count,
            "orphans": self.orphans.count,
            "surplus": self.surplus.count,
            "not_in_log": self.not_in_log.count,
            "not_in_store": self.not_in_store.count,
            "differ": self.differ.count,
            "repairs_queued": self.repairs_queued,
            "deletions_queued": self.deletions_queued,
            "relogged": self.relogged,
            "indexed": self.indexed,
        })
    }

    /// Nothing is missing, orphaned, surplus or different, and everything could be read.
    pub fn clean(&self) -> bool {
        [&self.missing, &self.orphans, &self.surplus, &self.not_in_log, &self.not_in_store, &self.differ]
            .iter()
            .all(|f| f.count == 0)
            && self.unreachable.is_empty()
            && self.log.rejected.is_empty()
    }
}

/// Compares `meta` with the providers (all, or those named in `only`); with `repair`, queues
/// the repairs and deletions that set them right.
pub async fn verify(
    meta: &dyn MetadataStore,
    keys: &dyn KeyProvider,
    backends: &Backends,
    only: &[String],
    repair: bool,
    progress: &Progress,
) -> Result<VerifyReport, RebuildError> {
    let providers = selected(backends, only)?;
    let mut report =
        VerifyReport { providers: providers.iter().map(|p| p.id().to_string()).collect(), ..Default::default() };
    let candidates = compare_replicas(meta, &providers, &mut report, repair).await?;
    sweep_orphans(meta, candidates, &mut report, repair).await?;
    compare_log(meta, keys, &providers, &mut report, repair, progress).await?;
    report.unreachable.sort();
    report.unreachable.dedup();
    Ok(report)
}

/// One provider's stream listing, with the next name looked at but not taken.
struct Peeked {
    walk: MergedListing,
    id: ProviderId,
    head: Option<String>,
}

impl Peeked {
    async fn head(&mut self) -> Option<&String> {
        if self.head.is_none() {
            self.head = self.walk.next().await.map(|(name, _)| name);
        }
        self.head.as_ref()
    }
}

/// The merged walk of the store's streams and every provider's listing. Returns the orphan
/// candidates (checked again by [`sweep_orphans`]).
async fn compare_replicas(
    meta: &dyn MetadataStore,
    providers: &[Arc<dyn Backend>],
    report: &mut VerifyReport,
    repair: bool,
) -> Result<Vec<(StreamId, ProviderId)>, MetaError> {
    let mut listings: Vec<Peeked> = providers
        .iter()
        .map(|p| Peeked {
            walk: MergedListing::new(std::slice::from_ref(p), STREAM_PREFIX),
            id: p.id().clone(),
            head: None,
        })
        .collect();
    let mut candidates = Vec::new();
    let mut after = None;
    loop {
        let page = meta.scan_streams(after, 512).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.stream_id);
        for stream in &page {
            report.streams += 1;
            let name = stream_name(stream.stream_id);
            for l in &mut listings {
                let held = take_until(l, &name, &mut candidates, report).await;
                judge(meta, stream, l, held, report, repair).await?;
            }
        }
    }
    for l in &mut listings {
        take_until(l, "\u{10ffff}", &mut candidates, report).await;
        report.unreachable.append(&mut l.walk.unreachable);
    }
    Ok(candidates)
}

/// Takes the listed names before `name` (orphan candidates) and whether `name` itself is listed.
async fn take_until(
    l: &mut Peeked,
    name: &str,
    candidates: &mut Vec<(StreamId, ProviderId)>,
    report: &mut VerifyReport,
) -> bool {
    while let Some(head) = l.head().await {
        if head.as_str() > name {
            return false;
        }
        let head = l.head.take().unwrap_or_default();
        if head == name {
            return true;
        }
        let id = head.strip_prefix(STREAM_PREFIX).and_then(StreamId::from_hex);
        match id {
            Some(id) if candidates.len() < MAX_CANDIDATES => candidates.push((id, l.id.clone())),
            _ => report.orphans.add(|| format!("{}: {head} (not swept)", l.id)),
        }
    }
    false
}

/// One committed stream at one provider: listed or not, and whether it should be.
async fn judge(
    meta: &dyn MetadataStore,
    stream: &StreamManifest,
    l: &Peeked,
    held: bool,
    report: &mut VerifyReport,
    repair: bool,
) -> Result<(), MetaError> {
    let should = stream.replicas.contains(&l.id);
    let now = crate::service::now_ms();
    if should && !held && l.walk.unreachable.is_empty() {
        report.missing.add(|| format!("{}: {}", l.id, stream_name(stream.stream_id)));
        if repair {
            let len = ciphertext_len(stream.plaintext_len, stream.seg_log2);
            meta.queue_repair(RepairTask::for_stream(stream, l.id.clone(), len, now)).await?;
            report.repairs_queued += 1;
        }
    } else if !should && held {
        report.surplus.add(|| format!("{}: {}", l.id, stream_name(stream.stream_id)));
        if repair {
            let task = DeletionTask::new(stream.stream_id, l.id.clone(), DeletionReason::Orphaned, now);
            meta.queue_deletions(vec![task]).await?;
            report.deletions_queued += 1;
        }
    }
    Ok(())
}

/// Orphan candidates checked again once the walk is over: a stream committed meanwhile, with
/// a write in flight (an intent: recorded before its first byte reaches a provider), or with
/// its deletion queued already (a deleted object's, before GC ran) is not an orphan.
async fn sweep_orphans(
    meta: &dyn MetadataStore,
    candidates: Vec<(StreamId, ProviderId)>,
    report: &mut VerifyReport,
    repair: bool,
) -> Result<(), MetaError> {
    if candidates.is_empty() {
        return Ok(());
    }
    let in_flight: HashSet<StreamId> =
        meta.stale_intents(Vec::new(), i64::MAX, usize::MAX).await?.iter().map(|i| i.stream_id).collect();
    let mut tasks = Vec::new();
    for (stream, provider) in candidates {
        if in_flight.contains(&stream)
            || meta.stream_manifest(stream).await?.is_some()
            || !meta.stream_deletions(stream).await?.is_empty()
        {
            continue;
        }
        report.orphans.add(|| format!("{provider}: {}", stream_name(stream)));
        tasks.push(DeletionTask::new(stream, provider, DeletionReason::Orphaned, crate::service::now_ms()));
    }
    if repair {
        report.deletions_queued += tasks.len();
        for chunk in tasks.chunks(512) {
            meta.queue_deletions(chunk.to_vec()).await?;
        }
    }
    Ok(())
}

/// The log folded in memory, against the store's versions, bucket by bucket.
async fn compare_log(
    meta: &dyn MetadataStore,
    keys: &dyn KeyProvider,
    providers: &[Arc<dyn Backend>],
    report: &mut VerifyReport,
    repair: bool,
    progress: &Progress,
) -> Result<(), RebuildError> {
    let stage = MemoryStage::default();
    let log_keys = open_keyrings(providers, keys, &mut report.log).await;
    let mut job = Job::default();
    read_log(providers, &log_keys, &stage, &mut job, &mut report.log, progress).await?;
    (report.log.segments, report.log.entries, report.log.highest_seq) = (job.segments, job.entries, job.highest_seq);
    report.unreachable.append(&mut report.log.unreachable);
    report.unlogged = meta.unlogged(0, MAX_CANDIDATES).await?.len();
    if repair {
        // Segments written before the store kept an index: so that checkpoints delete them.
        report.indexed = super::stage::index_read_segments(meta, &stage, true).await?;
    }
    let gens = Superseded::read(&stage).await?;
    let buckets = fold::live_buckets(&stage, &gens).await?;
    let live: HashSet<[u8; 16]> = buckets.iter().map(|b| b.uid).collect();
    let stored = meta.buckets().await?;
    for b in &stored {
        if !live.contains(&b.uid.0) {
            report.not_in_log.add(|| format!("bucket {}", b.name.as_str()));
            if repair && meta.relog_bucket(&b.name).await? {
                report.relogged += 1;
            }
        }
        store_versions_in_log(meta, (&stage, &gens), b.uid, b.name.as_str(), report, repair).await?;
    }
    compare_uploads(meta, &stored, (&stage, &gens), &live, report, repair).await?;
    fold::each_live_version(&stage, &live, &gens, 512, async |versions| -> Result<(), MetaError> {
        for v in versions {
            let Ok(key) = ObjectKey::parse(&v.version.key) else { continue };
            let version = if v.null { VersionRef::Null } else { VersionRef::Id(VersionUid(v.version.version)) };
            if meta.version(BucketUid(v.version.bucket), &key, version).await?.is_none() {
                report.not_in_store.add(|| format!("{}/{}", hex::encode(v.version.bucket), v.version.key));
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Each version of one bucket in the store (noncurrent ones and delete markers too): in the
/// log, and the same version there?
async fn store_versions_in_log(
    meta: &dyn MetadataStore,
    (stage, gens): (&dyn RebuildStage, &Superseded),
    bucket: BucketUid,
    name: &str,
    report: &mut VerifyReport,
    repair: bool,
) -> Result<(), MetaError> {
    let mut walk = VersionWalk::new(bucket, None);
    loop {
        let items = walk.next_page(meta, 512).await?;
        if items.is_empty() {
            return Ok(());
        }
        let slots = items
            .iter()
            .map(|(k, e)| {
                let v = &e.version;
                fold::version_slot(&bucket.0, &String::from_utf8_lossy(k), v.null, &v.version_uid.0)
            })
            .collect();
        for ((k, e), logged) in items.iter().zip(stage.stage_get(slots).await?) {
            let key = String::from_utf8_lossy(k);
            let v = &e.version;
            match logged.map(|l| fold::live_version(&l, gens)).transpose()?.flatten() {
                Some(l) if l.version.version == v.version_uid.0 => continue,
                Some(_) => report.differ.add(|| format!("{name}/{key} ({})", v.version_ref().to_s3())),
                None => report.not_in_log.add(|| format!("{name}/{key} ({})", v.version_ref().to_s3())),
            }
            // What the store holds is the truth the log lost: log it again.
            if repair
                && let Ok(key) = ObjectKey::parse(&key)
                && meta.relog_version(bucket, &key, Some(v.version_ref())).await?
            {
                report.relogged += 1;
            }
        }
    }
}

/// Each open upload of the store against the log (open there, with the same part streams),
/// then the log's open uploads against the store. With `repair`, an upload the log lacks or
/// holds differently (one begun before uploads were logged) is logged again.
async fn compare_uploads(
    meta: &dyn MetadataStore,
    stored: &[crate::meta::BucketRecord],
    (stage, gens): (&dyn RebuildStage, &Superseded),
    live: &HashSet<[u8; 16]>,
    report: &mut VerifyReport,
    repair: bool,
) -> Result<(), MetaError> {
    for b in stored {
        let mut walk = UploadWalk::new(b.uid);
        loop {
            let page = walk.next_page(meta, 256).await?;
            if page.is_empty() {
                break;
            }
            for u in page {
                if upload_logged(meta, (stage, gens), &u).await? {
                    continue;
                }
                report.not_in_log.add(|| format!("{}/{} (upload {})", b.name.as_str(), u.key, u.upload_id));
                if repair && meta.relog_upload(u.upload_id).await? {
                    report.relogged += 1;
                }
            }
        }
    }
    super::uploads::each_live_upload(stage, live, gens, 256, async |open| -> Result<(), MetaError> {
        for (u, _) in open {
            if meta.upload(UploadId(u.upload)).await?.is_none() {
                let id = UploadId(u.upload);
                report.not_in_store.add(|| format!("{}/{} (upload {id})", hex::encode(u.bucket), u.key));
            }
        }
        Ok(())
    })
    .await
}

/// Whether the log holds the upload open, with a part of the same stream for each the store
/// holds.
async fn upload_logged(
    meta: &dyn MetadataStore,
    (stage, gens): (&dyn RebuildStage, &Superseded),
    u: &UploadRecord,
) -> Result<bool, MetaError> {
    let (bucket, upload) = (u.bucket_uid.as_bytes(), u.upload_id.as_bytes());
    let slot = stage::key(stage::UPLOADS, &[bucket, upload]);
    let Some(Some(v)) = stage.stage_get(vec![slot]).await?.pop() else { return Ok(false) };
    let s = fold::unstaged(&v)?;
    if !gens.keeps_staged(&s) || !matches!(s.entry, LogEntry::Upload(_)) {
        return Ok(false);
    }
    let parts = meta.parts(u.upload_id, 0, usize::MAX).await?;
    let slots =
        parts.iter().map(|(n, _)| stage::key(stage::UPLOAD_PARTS, &[bucket, upload, &n.to_be_bytes()])).collect();
    for ((_, part), logged) in parts.iter().zip(stage.stage_get(slots).await?) {
        let logged = logged.map(|l| fold::unstaged(&l)).transpose()?.filter(|s| gens.keeps_staged(s));
        let same = |p: &LoggedPart| p.stream.stream_id == *part.stream.stream_id.as_bytes();
        if !logged.is_some_and(|s| matches!(&s.entry, LogEntry::Part(p) if same(p))) {
            return Ok(false);
        }
    }
    Ok(true)
}
