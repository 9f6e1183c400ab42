//! What a rebuild keeps while it reads (docs/format-v2.md, "Rebuild"), in a
//! [`RebuildStage`]: per slot (a bucket, an object key, a version's data key, a catalog name)
//! the newest entry seen; the segments already folded in; the stream names each provider
//! lists; the job's counters. The stage of the store being rebuilt keeps memory bounded by a
//! page whatever the number of objects, and lets a killed rebuild resume where it stopped; a
//! dry run stages in memory ([`MemoryStage`]), so it writes nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::meta::kv::KvPairs;
use crate::meta::{MetaError, RebuildStage};
use crate::model::ProviderId;

/// The job record: present from the first step of a rebuild until its last.
pub(super) const JOB: &[u8] = b"j";
/// Slot prefixes: buckets, object keys, data-key rewraps, catalog names, versions.
pub(super) const BUCKETS: u8 = b'b';
pub(super) const OBJECTS: u8 = b'o';
pub(super) const REWRAPS: u8 = b'r';
pub(super) const CATALOG: u8 = b'c';
/// Versions with their own id (a key's `null` version is in its `OBJECTS` slot).
pub(super) const VERSIONS: u8 = b'v';
/// Multipart uploads (bucket ‖ upload id): created, or ended.
pub(super) const UPLOADS: u8 = b'u';
/// Their parts (bucket ‖ upload id ‖ u32(part number)).
pub(super) const UPLOAD_PARTS: u8 = b'q';
/// `m` ‖ bucket ‖ version id: a version made by CompleteMultipartUpload was logged, so the
/// upload that became it ended, even if its `UploadEnded` (logged after it) was lost.
pub(super) const COMPLETED: u8 = b'm';
/// Audit records (u64(record seq)): the chain, whatever scope logged each record.
pub(super) const AUDIT: u8 = b'a';
/// `d` ‖ segment name: folded in.
const DONE: u8 = b'd';
/// `l` ‖ provider ‖ 0 ‖ stream name: the provider lists the stream.
const LISTED: u8 = b'l';
/// `L` ‖ provider: the provider's stream listing is complete.
const LISTING_DONE: u8 = b'L';
/// `s` ‖ segment name → IndexedSegment: where a segment read is, for the store's segment
/// index (so the checkpoints of the rebuilt store delete it once superseded).
pub(super) const INDEX: u8 = b's';

/// The counters a rebuild carries across a resume.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct Job {
    /// Segments folded in.
    pub(super) segments: usize,
    /// Entries folded in (with repeats).
    pub(super) entries: usize,
    /// The highest commit sequence number seen.
    pub(super) highest_seq: u64,
}

/// A key under one prefix byte.
pub(super) fn key(prefix: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![prefix];
    for r in rest {
        out.extend_from_slice(r);
    }
    out
}

/// Every key starting with `prefix`: from it to its successor (a prefix ending in 0xFF, such
/// as an upload id's, carries into the byte before). The empty prefix has none: it reaches
/// every key, all of which start with a letter, below 0xFF.
pub(super) fn range(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let end = crate::meta::codec::prefix_successor(prefix).unwrap_or_else(|| vec![0xFF; prefix.len() + 1]);
    (prefix.to_vec(), end)
}

pub(super) fn done_key(segment: &str) -> Vec<u8> {
    key(DONE, &[segment.as_bytes()])
}

pub(super) fn index_key(segment: &str) -> Vec<u8> {
    key(INDEX, &[segment.as_bytes()])
}

/// A segment read, as the segment index records it: its scope is the bucket its entries
/// name (or the catalog's), with the policy and KEK unknown — so the rebuilt gateway's
/// first checkpoint of the bucket replaces it, wherever it is — at the providers listing it.
pub(super) fn indexed(
    name: &str,
    entries: &[crate::meta::log_entry::LogEntry],
    targets: Vec<ProviderId>,
    bytes: u64,
) -> Option<crate::meta::outbox::IndexedSegment> {
    let id = hex::decode(name.strip_prefix(crate::backend::SEGMENT_PREFIX)?).ok()?;
    // A segment of rewraps only names no scope (a rewrap names its version, not the bucket):
    // it is left out of the index rather than taken for the catalog's, whose checkpoint would
    // delete it; the bucket's next checkpoint supersedes its rewraps all the same.
    let bucket = match entries.iter().find_map(super::fold::entry_bucket)? {
        b if *b == crate::meta::outbox::CATALOG_SCOPE => None,
        b => Some(crate::model::BucketUid(*b)),
    };
    Some(crate::meta::outbox::IndexedSegment {
        segment_id: <[u8; 16]>::try_from(id).ok()?,
        scope: crate::meta::outbox::LogScope { bucket, policy: String::new(), kek: None },
        targets,
        max_seq: entries.iter().map(crate::meta::log_entry::LogEntry::seq).max().unwrap_or(0),
        bytes,
        checkpoint: None,
    })
}

/// Records the segments the stage read in the store's segment index: all of them (a rebuilt
/// store has none), or only those it lacks (`meta verify --repair` on a store written before
/// the index, whose records say more). How many were recorded.
pub(super) async fn index_read_segments(
    meta: &dyn crate::meta::MetadataStore,
    stage: &dyn RebuildStage,
    only_missing: bool,
) -> Result<usize, MetaError> {
    let mut known = std::collections::HashSet::new();
    if only_missing {
        let mut after = None;
        loop {
            let page = meta.indexed_segments(after, 4096).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.scope.bucket, last.segment_id));
            known.extend(page.into_iter().map(|s| s.segment_id));
        }
    }
    let mut recorded = 0;
    each_page(stage, &[INDEX], 1024, async |pairs| -> Result<(), MetaError> {
        let mut batch = Vec::with_capacity(pairs.len());
        for (_, v) in pairs {
            let s: crate::meta::outbox::IndexedSegment = crate::meta::codec::decode(&v)?;
            if !known.contains(&s.segment_id) {
                batch.push(s);
            }
        }
        recorded += batch.len();
        meta.index_segments(batch).await
    })
    .await?;
    Ok(recorded)
}

pub(super) fn listed_key(provider: &ProviderId, stream: &str) -> Vec<u8> {
    key(LISTED, &[provider.as_str().as_bytes(), &[0], stream.as_bytes()])
}

pub(super) fn listing_done_key(provider: &ProviderId) -> Vec<u8> {
    key(LISTING_DONE, &[provider.as_str().as_bytes()])
}

/// Whether the stage holds `key` (a done marker, a completed listing).
pub(super) async fn has(stage: &dyn RebuildStage, key: Vec<u8>) -> Result<bool, MetaError> {
    Ok(stage.stage_get(vec![key]).await?.into_iter().flatten().next().is_some())
}

/// The job record, if a rebuild has started on this stage and not finished.
pub(super) async fn job(stage: &dyn RebuildStage) -> Result<Option<Job>, MetaError> {
    let got = stage.stage_get(vec![JOB.to_vec()]).await?;
    got.into_iter().flatten().next().map(|v| crate::meta::codec::decode(&v)).transpose()
}

/// Every staged pair under `prefix`, a page at a time, to `each` (which may stop the walk).
pub(super) async fn each_page<F, E>(stage: &dyn RebuildStage, prefix: &[u8], page: usize, mut each: F) -> Result<(), E>
where
    F: AsyncFnMut(KvPairs) -> Result<(), E>,
    E: From<MetaError>,
{
    let (mut start, end) = range(prefix);
    loop {
        let pairs = stage.stage_scan(start.clone(), end.clone(), page).await?;
        let Some((last, _)) = pairs.last() else { return Ok(()) };
        start = [last.as_slice(), &[0]].concat();
        each(pairs).await?;
    }
}

/// Empties the stage, the job record last (a rebuild killed while clearing is still
/// unfinished, and finishes again). Every key goes, whatever its prefix: a list of prefixes
/// is one a new kind of record can be missing from.
pub(super) async fn clear(stage: &dyn RebuildStage) -> Result<(), MetaError> {
    each_page(stage, &[], 4096, async |pairs| -> Result<(), MetaError> {
        let keys = pairs.into_iter().map(|(k, _)| k).filter(|k| k.as_slice() != JOB).collect();
        stage.stage_write(Vec::new(), keys).await
    })
    .await?;
    stage.stage_write(Vec::new(), vec![JOB.to_vec()]).await
}

/// A stage in memory: a dry run's (it must write nothing) and the unit tests'.
#[derive(Debug, Default)]
pub(super) struct MemoryStage(Mutex<StagedMap>);

type StagedMap = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemoryStage {
    fn map(&self) -> Result<std::sync::MutexGuard<'_, StagedMap>, MetaError> {
        self.0.lock().map_err(|_| MetaError::engine("the dry run's stage was poisoned"))
    }
}

#[async_trait]
impl RebuildStage for MemoryStage {
    async fn stage_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, MetaError> {
        let map = self.map()?;
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn stage_write(&self, puts: Vec<(Vec<u8>, Vec<u8>)>, deletes: Vec<Vec<u8>>) -> Result<(), MetaError> {
        let mut map = self.map()?;
        map.extend(puts);
        for k in &deletes {
            map.remove(k);
        }
        Ok(())
    }

    async fn stage_scan(&self, start: Vec<u8>, end: Vec<u8>, limit: usize) -> Result<KvPairs, MetaError> {
        let map = self.map()?;
        Ok(map.range(start..end).take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}
