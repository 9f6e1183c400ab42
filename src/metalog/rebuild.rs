//! `souverain meta rebuild` (docs/format-v2.md, "Rebuild"): recreates an empty metadata store
//! from the metadata log at the providers, given the KEK. Every reachable provider's keyrings
//! open the log keys; every segment is read from the first of its holders that serves it
//! authentic (one that fails authentication is never trusted, and reported); the entries are
//! folded (the newest per key wins); the live buckets, versions with their data keys, and
//! catalog changes are written back as they were, the commit sequence restarts above the
//! highest seen, and every replica a provider does not list becomes a repair task.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::StreamExt;

use super::fold::{Fold, Folded};
use crate::backend::{Backend, BackendError, Backends, KEYRING_PREFIX, SEGMENT_PREFIX, segment_name, stream_name};
use crate::datapath::keyring::Keyring;
use crate::datapath::range::ciphertext_len;
use crate::datapath::segment::{MAX_SEGMENT_PLAINTEXT, SEGMENT_HEADER_LEN, SegmentHeader, open_segment};
use crate::keys::KeyProvider;
use crate::keys::log_key::LogKey;
use crate::meta::log_entry::{LogEntry, LoggedVersion};
use crate::meta::restore::{RestoreBatch, RestoredVersion};
use crate::meta::{AuditedChange, MetaError, MetadataStore, RepairTask};
use crate::model::audit::AuditEntry;
use crate::model::{ObjectKey, ProviderId};

/// Versions written per store batch.
const BATCH: usize = 512;
/// The largest object a keyring or segment can be.
const MAX_LOG_OBJECT: u64 = (SEGMENT_HEADER_LEN + MAX_SEGMENT_PLAINTEXT + 16) as u64;

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebuildError {
    /// The store already holds buckets or data keys: a rebuild never merges into a live store.
    #[error("the metadata store is not empty; rebuild only into an empty (new) store")]
    NotEmpty,
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

/// What a rebuild found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RebuildReport {
    /// Log keys opened.
    pub keyrings: usize,
    /// Distinct segments read.
    pub segments: usize,
    /// Segments or keyrings that could not be read or did not authenticate, with why.
    pub rejected: Vec<String>,
    /// Providers that could not be listed.
    pub unreachable: Vec<String>,
    /// Entries read (with repeats).
    pub entries: usize,
    /// Buckets recovered.
    pub buckets: usize,
    /// Object versions recovered.
    pub objects: usize,
    /// Catalog changes recovered.
    pub catalog: usize,
    /// Replicas a provider does not hold, queued for repair.
    pub repairs: usize,
    /// The highest commit sequence number seen.
    pub highest_seq: u64,
}

/// Rebuilds `meta` (which must be empty) from the providers' log; with `dry_run`, reads and
/// reports everything but writes nothing (any store, empty or not).
pub async fn rebuild(
    meta: &dyn MetadataStore,
    keys: &dyn KeyProvider,
    backends: &Backends,
    dry_run: bool,
) -> Result<RebuildReport, RebuildError> {
    if !dry_run && (!meta.buckets().await?.is_empty() || meta.holds_data_keys().await?) {
        return Err(RebuildError::NotEmpty);
    }
    let mut report = RebuildReport::default();
    let providers: Vec<Arc<dyn Backend>> = sorted(backends);
    let log_keys = open_keyrings(&providers, keys, &mut report).await;
    let folded = read_log(&providers, &log_keys, &mut report).await;
    report.highest_seq = folded.highest_seq;
    report.entries = folded.entries;
    let held = listed_streams(&providers, &mut report).await;
    let target = (!dry_run).then_some(meta);
    write_back(target, folded, &held, &mut report).await?;
    if dry_run {
        return Ok(report);
    }
    for key in log_keys.values() {
        if let Ok(bytes) = key.keyring().to_bytes() {
            meta.init_log_keyring(&key.keyring().wrapped.kek_id, bytes).await?;
        }
    }
    let detail = serde_json::to_value(&report).unwrap_or_default();
    meta.apply_change(AuditedChange::RecordOnly, AuditEntry::new("rebuild", "meta.rebuild", &detail)).await?;
    Ok(report)
}

fn sorted(backends: &Backends) -> Vec<Arc<dyn Backend>> {
    let mut all: Vec<_> = backends.values().cloned().collect();
    all.sort_by(|a, b| a.id().cmp(b.id()));
    all
}

/// Every name under `prefix` at `backend`.
async fn list_all(backend: &dyn Backend, prefix: &str) -> Result<Vec<String>, BackendError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = backend.list(prefix, after.as_deref(), 1000).await?;
        let Some((last, _)) = page.last() else { return Ok(out) };
        after = Some(last.clone());
        out.extend(page.into_iter().map(|(name, _)| name));
    }
}

/// A whole keyring or segment object, refused beyond the largest one a gateway writes.
async fn fetch(backend: &dyn Backend, name: &str) -> Result<Vec<u8>, String> {
    let mut body = backend.get(name, None).await.map_err(|e| crate::report::chain(&e))?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(|e| crate::report::chain(&e))?);
        if out.len() as u64 > MAX_LOG_OBJECT {
            return Err("larger than any log object".into());
        }
    }
    Ok(out)
}

/// The log keys every provider's keyrings open, by keyring id.
async fn open_keyrings(
    providers: &[Arc<dyn Backend>],
    keys: &dyn KeyProvider,
    report: &mut RebuildReport,
) -> HashMap<[u8; 16], LogKey> {
    let mut out = HashMap::new();
    for backend in providers {
        let names = match list_all(backend.as_ref(), KEYRING_PREFIX).await {
            Ok(names) => names,
            Err(e) => {
                report.unreachable.push(format!("{}: {}", backend.id(), crate::report::chain(&e)));
                continue;
            }
        };
        for name in names {
            let opened = async {
                let bytes = fetch(backend.as_ref(), &name).await?;
                let keyring = Keyring::parse(&bytes).map_err(|e| e.to_string())?;
                if out.contains_key(&keyring.keyring_id) {
                    return Ok(None);
                }
                LogKey::open(keys, keyring).await.map(Some).map_err(|e| crate::report::chain(&e))
            };
            match opened.await {
                Ok(Some(key)) => {
                    out.insert(key.keyring().keyring_id, key);
                }
                Ok(None) => {}
                Err(why) => report.rejected.push(format!("{}/{name}: {why}", backend.id())),
            }
        }
    }
    report.keyrings = out.len();
    out
}

/// Reads every segment once, from the first holder that serves it authentic, and folds it in.
async fn read_log(
    providers: &[Arc<dyn Backend>],
    log_keys: &HashMap<[u8; 16], LogKey>,
    report: &mut RebuildReport,
) -> Folded {
    let mut holders: BTreeMap<String, Vec<&Arc<dyn Backend>>> = BTreeMap::new();
    for backend in providers {
        match list_all(backend.as_ref(), SEGMENT_PREFIX).await {
            Ok(names) => names.into_iter().for_each(|n| holders.entry(n).or_default().push(backend)),
            Err(e) => report.unreachable.push(format!("{}: {}", backend.id(), crate::report::chain(&e))),
        }
    }
    let mut fold = Fold::default();
    for (name, at) in holders {
        let mut why = Vec::new();
        let mut read = None;
        for backend in at {
            match read_segment(backend.as_ref(), &name, log_keys).await {
                Ok(entries) => {
                    read = Some(entries);
                    break;
                }
                Err(e) => why.push(format!("{}: {e}", backend.id())),
            }
        }
        match read {
            Some(entries) => {
                report.segments += 1;
                for e in entries {
                    fold.add(e);
                }
            }
            None => report.rejected.push(format!("{name}: {}", why.join("; "))),
        }
    }
    fold.finish()
}

/// One segment's entries, authenticated under its log key and bound to its name.
async fn read_segment(
    backend: &dyn Backend,
    name: &str,
    log_keys: &HashMap<[u8; 16], LogKey>,
) -> Result<Vec<LogEntry>, String> {
    let bytes = fetch(backend, name).await?;
    let header = SegmentHeader::parse(&bytes).map_err(|e| e.to_string())?;
    let key = log_keys.get(&header.keyring_id).ok_or("its keyring was not found or did not open")?;
    let entries = open_segment(key.expose(), &bytes).map_err(|e| e.to_string())?;
    // The id is authenticated with the body: a segment served under another's name is refused.
    if segment_name(&header.segment_id) != name {
        return Err("a segment stored under another segment's name".into());
    }
    entries.iter().map(|e| LogEntry::decode(e).map_err(|e| e.to_string())).collect()
}

/// The stream names each provider lists (`None`: it could not be listed).
async fn listed_streams(
    providers: &[Arc<dyn Backend>],
    report: &mut RebuildReport,
) -> HashMap<ProviderId, HashSet<String>> {
    let mut out = HashMap::new();
    for backend in providers {
        match list_all(backend.as_ref(), "sv1/").await {
            Ok(names) => {
                out.insert(backend.id().clone(), names.into_iter().collect());
            }
            Err(e) => report.unreachable.push(format!("{}: {}", backend.id(), crate::report::chain(&e))),
        }
    }
    out
}

/// Writes the folded state back (to `meta`; `None` only counts): buckets and catalog, then
/// versions in batches, the commit sequence above the highest seen.
async fn write_back(
    meta: Option<&dyn MetadataStore>,
    folded: Folded,
    held: &HashMap<ProviderId, HashSet<String>>,
    report: &mut RebuildReport,
) -> Result<(), RebuildError> {
    let mut first = RestoreBatch { seq_floor: folded.highest_seq, ..RestoreBatch::default() };
    for b in &folded.buckets {
        first.buckets.push((b.record().map_err(|_| RebuildError::Entry("bucket"))?, b.kek.clone()));
    }
    for (name, json) in &folded.catalog {
        first.catalog.push(catalog_change(name, json)?);
    }
    report.buckets = first.buckets.len();
    report.catalog = first.catalog.len();
    if let Some(meta) = meta {
        meta.restore(first).await?;
    }
    let now = crate::service::now_ms();
    for chunk in folded.versions.chunks(BATCH) {
        let mut batch = RestoreBatch::default();
        for v in chunk {
            batch.versions.push(restored(v, held, now)?);
        }
        report.objects += batch.versions.len();
        report.repairs += batch.versions.iter().map(|v| v.repairs.len()).sum::<usize>();
        if let Some(meta) = meta {
            meta.restore(batch).await?;
        }
    }
    Ok(())
}

fn restored(
    v: &LoggedVersion,
    held: &HashMap<ProviderId, HashSet<String>>,
    now: i64,
) -> Result<RestoredVersion, RebuildError> {
    let (version, dek) = v.record().map_err(|_| RebuildError::Entry("version"))?;
    let key = ObjectKey::parse(&v.key).map_err(|_| RebuildError::Entry("key"))?;
    let mut repairs = Vec::new();
    for s in &version.streams {
        let name = stream_name(s.stream_id);
        for p in &s.replicas {
            if held.get(p).is_some_and(|names| !names.contains(&name)) {
                repairs.push(RepairTask::for_stream(s, p.clone(), ciphertext_len(s.plaintext_len, s.seg_log2), now));
            }
        }
    }
    Ok(RestoredVersion { bucket: crate::model::BucketUid(v.bucket), key, version, dek, repairs })
}

fn catalog_change(name: &str, json: &str) -> Result<AuditedChange, RebuildError> {
    let bad = |source| RebuildError::Catalog { name: name.to_owned(), source };
    if name.starts_with("provider/") {
        Ok(AuditedChange::Provider(serde_json::from_str(json).map_err(bad)?))
    } else if name.starts_with("policy/") {
        Ok(AuditedChange::Policy(serde_json::from_str(json).map_err(bad)?))
    } else if let Some(kek) = name.strip_prefix("shredded/") {
        Ok(AuditedChange::KekShredded { kek: kek.to_owned(), at_ms: serde_json::from_str(json).map_err(bad)? })
    } else {
        Err(RebuildError::Entry("catalog name"))
    }
}
