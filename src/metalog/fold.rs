//! What a set of log entries says the store held (docs/format-v2.md, "Rebuild"): per bucket,
//! per object key, per version's data key and per catalog name, the entry with the highest
//! commit sequence number wins, whatever order the segments are read in; tombstones win over
//! what they delete and are dropped at the end. Reading a segment twice (it is at several
//! providers, or two gateways logged the same entry) changes nothing. The newest entries are
//! kept in a [`RebuildStage`] (see [`super::stage`]), one segment per atomic write.

use std::collections::{HashMap, HashSet};

use super::stage::{self, BUCKETS, CATALOG, JOB, Job, OBJECTS, REWRAPS, VERSIONS, key};
use crate::meta::log_entry::{LogEntry, LoggedBucket, LoggedObjectVersion};
use crate::meta::{MetaError, RebuildStage};

/// The slot an entry decides.
fn slot(entry: &LogEntry) -> Vec<u8> {
    match entry {
        LogEntry::Bucket(b) => key(BUCKETS, &[&b.uid]),
        LogEntry::BucketDeleted { bucket, .. } => key(BUCKETS, &[bucket]),
        LogEntry::Version(v) => key(OBJECTS, &[&v.bucket, v.key.as_bytes()]),
        LogEntry::ObjectVersion(v) | LogEntry::TaggedVersion(v, _) => {
            version_slot(&v.version.bucket, &v.version.key, v.null, &v.version.version)
        }
        LogEntry::Deleted { bucket, key: k, .. } => key(OBJECTS, &[bucket, k.as_bytes()]),
        LogEntry::VersionDeleted { bucket, key: k, version, .. } => version_slot(bucket, k, false, version),
        LogEntry::Rewrapped { version, .. } => key(REWRAPS, &[version]),
        LogEntry::Catalog { name, .. } => key(CATALOG, &[name.as_bytes()]),
    }
}

/// A version's slot: a key's `null` version has the key's own slot (as every version had
/// before versioning, so a `null` version replaces the one before it and a
/// [`LogEntry::Deleted`] removes it); a version with its own id has a slot of its own.
pub(super) fn version_slot(bucket: &[u8; 16], object_key: &str, null: bool, version: &[u8; 16]) -> Vec<u8> {
    if null { key(OBJECTS, &[bucket, object_key.as_bytes()]) } else { key(VERSIONS, &[bucket, version]) }
}

/// The version an entry of a version slot holds, whichever format logged it.
pub(super) fn logged_version(entry: LogEntry) -> Option<LoggedObjectVersion> {
    match entry {
        LogEntry::ObjectVersion(v) => Some(*v),
        LogEntry::TaggedVersion(v, tags) => Some(LoggedObjectVersion { tags, ..*v }),
        // Logged before versioning: the key's only version, the `null` one.
        LogEntry::Version(v) => Some(LoggedObjectVersion {
            order: v.seq,
            null: true,
            delete_marker: false,
            lock: crate::meta::log_entry::LoggedLock::default(),
            tags: Vec::new(),
            version: *v,
        }),
        _ => None,
    }
}

/// A staged value: the entry's sequence number, then the entry.
fn staged(entry: &LogEntry) -> Result<Vec<u8>, MetaError> {
    let body = entry.encode().map_err(|e| MetaError::codec(e.to_string()))?;
    Ok([entry.seq().to_be_bytes().as_slice(), &body].concat())
}

fn staged_seq(value: &[u8]) -> Result<u64, MetaError> {
    let head = value.get(..8).and_then(|h| <[u8; 8]>::try_from(h).ok());
    head.map(u64::from_be_bytes).ok_or_else(|| MetaError::codec("a staged entry shorter than its sequence number"))
}

pub(super) fn unstaged(value: &[u8]) -> Result<LogEntry, MetaError> {
    LogEntry::decode(value.get(8..).unwrap_or_default()).map_err(|e| MetaError::codec(e.to_string()))
}

/// Folds a batch of segments in: per slot the entry is kept if its sequence number is at
/// least the one staged (equal: the same entry read again); the segments are marked done and
/// the job's counters move in the same write, so a resumed rebuild neither skips nor repeats
/// them.
pub(super) async fn fold_segments(
    stage: &dyn RebuildStage,
    segments: Vec<(String, Vec<LogEntry>)>,
    job: &mut Job,
) -> Result<(), MetaError> {
    let mut newest: HashMap<Vec<u8>, LogEntry> = HashMap::new();
    let mut done = Vec::with_capacity(segments.len());
    for (name, entries) in segments {
        job.segments += 1;
        job.entries += entries.len();
        for e in entries {
            job.highest_seq = job.highest_seq.max(e.seq());
            let s = slot(&e);
            if newest.get(&s).is_none_or(|kept| kept.seq() <= e.seq()) {
                newest.insert(s, e);
            }
        }
        done.push((stage::done_key(&name), Vec::new()));
    }
    let slots: Vec<Vec<u8>> = newest.keys().cloned().collect();
    let kept = stage.stage_get(slots.clone()).await?;
    let mut puts = Vec::with_capacity(slots.len() + done.len() + 1);
    for (s, kept) in slots.into_iter().zip(kept) {
        let Some(entry) = newest.remove(&s) else { continue };
        if kept.map(|k| staged_seq(&k)).transpose()?.is_none_or(|k| k <= entry.seq()) {
            puts.push((s, staged(&entry)?));
        }
    }
    puts.extend(done);
    puts.push((JOB.to_vec(), crate::meta::codec::encode(job)?));
    stage.stage_write(puts, Vec::new()).await
}

/// The live buckets, one per name (of two of one name — a deletion that was not logged — the
/// newer). Buckets are few; they are held in memory.
pub(super) async fn live_buckets(stage: &dyn RebuildStage) -> Result<Vec<LoggedBucket>, MetaError> {
    let mut by_name: HashMap<String, LoggedBucket> = HashMap::new();
    stage::each_page(stage, &[BUCKETS], 1024, async |pairs| -> Result<(), MetaError> {
        for (_, v) in pairs {
            if let LogEntry::Bucket(b) = unstaged(&v)?
                && by_name.get(&b.name).is_none_or(|kept| kept.seq < b.seq)
            {
                by_name.insert(b.name.clone(), b);
            }
        }
        Ok(())
    })
    .await?;
    Ok(by_name.into_values().collect())
}

/// The catalog changes: name and JSON.
pub(super) async fn catalog(stage: &dyn RebuildStage) -> Result<Vec<(String, String)>, MetaError> {
    let mut out = Vec::new();
    stage::each_page(stage, &[CATALOG], 1024, async |pairs| -> Result<(), MetaError> {
        for (_, v) in pairs {
            if let LogEntry::Catalog { name, json, .. } = unstaged(&v)? {
                out.push((name, json));
            }
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// The versions (delete markers included) of `live` buckets, `page` at a time, each with its
/// latest data-key wrapping (a rewrap logged after the version's entry).
pub(super) async fn each_live_version<F, E>(
    stage: &dyn RebuildStage,
    live: &HashSet<[u8; 16]>,
    page: usize,
    mut each: F,
) -> Result<(), E>
where
    F: AsyncFnMut(Vec<LoggedObjectVersion>) -> Result<(), E>,
    E: From<MetaError>,
{
    for prefix in [OBJECTS, VERSIONS] {
        stage::each_page(stage, &[prefix], page, async |pairs| {
            let mut versions = Vec::new();
            for (_, v) in pairs {
                if let Some(v) = logged_version(unstaged(&v)?)
                    && live.contains(&v.version.bucket)
                {
                    versions.push(v);
                }
            }
            let slots = versions.iter().map(|v| key(REWRAPS, &[&v.version.version])).collect();
            let rewraps = stage.stage_get(slots).await?;
            for (v, rewrap) in versions.iter_mut().zip(rewraps) {
                if let Some(LogEntry::Rewrapped { seq, dek, .. }) = rewrap.map(|r| unstaged(&r)).transpose()?
                    && seq > v.version.seq
                {
                    v.version.dek = dek;
                }
            }
            each(versions).await
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::BucketRecord;
    use crate::meta::log_entry::{LoggedKey, LoggedStream, LoggedVersion};
    use crate::model::{BucketName, BucketUid};
    use stage::MemoryStage;

    fn bucket(seq: u64, uid: u8, name: &str, policy: &str) -> LogEntry {
        let rec = BucketRecord {
            uid: BucketUid([uid; 16]),
            name: BucketName::parse(name).unwrap(),
            policy_id: policy.into(),
            created_ms: 0,
        };
        LogEntry::Bucket(LoggedBucket::new(seq, &rec, None))
    }

    fn version(seq: u64, bucket: u8, key: &str, id: u8) -> LogEntry {
        LogEntry::Version(Box::new(LoggedVersion {
            seq,
            bucket: [bucket; 16],
            key: key.into(),
            version: [id; 16],
            size: 1,
            etag: format!("e{id}"),
            last_modified_ms: 0,
            content: Default::default(),
            expires_unix: None,
            user_metadata: vec![],
            checksum: None,
            part_checksums: vec![],
            multipart: false,
            manifest_mac: [0; 32],
            streams: Vec::<LoggedStream>::new(),
            dek: LoggedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![id] },
        }))
    }

    fn deleted(seq: u64, bucket: u8, key: &str) -> LogEntry {
        LogEntry::Deleted { seq, bucket: [bucket; 16], key: key.into() }
    }

    /// What the stage says after folding `segments` (each a list of entries) in that order.
    struct Folded {
        buckets: Vec<LoggedBucket>,
        versions: Vec<LoggedVersion>,
        catalog: Vec<(String, String)>,
        job: Job,
    }

    async fn fold(segments: Vec<Vec<LogEntry>>) -> Folded {
        let stage = MemoryStage::default();
        let mut job = Job::default();
        // Two segments per batch: slots meet both within a batch and across batches.
        let named: Vec<_> = segments.into_iter().enumerate().map(|(i, e)| (format!("seg{i}"), e)).collect();
        for batch in named.chunks(2) {
            fold_segments(&stage, batch.to_vec(), &mut job).await.unwrap();
        }
        let buckets = live_buckets(&stage).await.unwrap();
        let live = buckets.iter().map(|b| b.uid).collect();
        let mut versions = Vec::new();
        each_live_version(&stage, &live, 2, async |page| -> Result<(), MetaError> {
            versions.extend(page.into_iter().map(|v| v.version));
            Ok(())
        })
        .await
        .unwrap();
        Folded { buckets, versions, catalog: catalog(&stage).await.unwrap(), job }
    }

    fn etags(f: &Folded) -> Vec<(String, String)> {
        let mut out: Vec<_> = f.versions.iter().map(|v| (v.key.clone(), v.etag.clone())).collect();
        out.sort();
        out
    }

    /// Promise: the outcome does not depend on the order segments are read in, on how entries
    /// are grouped into segments, nor on an entry being read twice: per key the highest
    /// sequence number wins, a tombstone deletes only what came before it, and a rewrap
    /// applies to the version it followed.
    #[tokio::test]
    async fn the_newest_entry_wins_in_any_order() {
        let entries = || {
            vec![
                bucket(1, 1, "photos", "eu"),
                version(2, 1, "a", 2),
                version(3, 1, "b", 3),
                deleted(4, 1, "a"),
                version(5, 1, "b", 5),
                version(6, 1, "a", 6),
                deleted(7, 1, "c"),
                bucket(8, 1, "photos", "de"),
                LogEntry::Rewrapped {
                    seq: 9,
                    version: [6; 16],
                    dek: LoggedKey { kek_id: "k".into(), kek_version: 2, bytes: vec![9] },
                },
                LogEntry::Rewrapped {
                    seq: 4,
                    version: [5; 16],
                    dek: LoggedKey { kek_id: "k".into(), kek_version: 0, bytes: vec![0] },
                },
                LogEntry::Catalog { seq: 10, name: "policy/eu".into(), json: "{\"v\":1}".into() },
                LogEntry::Catalog { seq: 11, name: "policy/eu".into(), json: "{\"v\":2}".into() },
            ]
        };
        let forward = fold(vec![entries()]).await;
        let one_each = fold(entries().into_iter().map(|e| vec![e]).collect()).await;
        let mut backward = entries();
        backward.reverse();
        let twice = fold(backward.chunks(5).map(<[LogEntry]>::to_vec).chain([entries()]).collect()).await;
        for f in [&forward, &one_each, &twice] {
            assert_eq!(etags(f), [("a".to_owned(), "e6".to_owned()), ("b".to_owned(), "e5".to_owned())]);
            assert_eq!(f.buckets.len(), 1);
            assert_eq!(f.buckets[0].policy, "de", "the bucket as last rebound");
            let a = f.versions.iter().find(|v| v.key == "a").unwrap();
            assert_eq!(a.dek.kek_version, 2, "rewrapped after its version");
            let b = f.versions.iter().find(|v| v.key == "b").unwrap();
            assert_eq!(b.dek.kek_version, 1, "a rewrap older than the version does not apply");
            assert_eq!(f.catalog, [("policy/eu".to_owned(), "{\"v\":2}".to_owned())]);
            assert_eq!(f.job.highest_seq, 11);
        }
        assert_eq!((twice.job.segments, twice.job.entries), (4, 24), "repeats are counted as read");
    }

    /// Promise: a deleted bucket takes its objects with it (they are not resurrected into
    /// another bucket of that name), and of a name used twice the newer bucket is kept.
    #[tokio::test]
    async fn deleted_buckets_stay_deleted() {
        let f = fold(vec![vec![
            bucket(1, 1, "logs", "eu"),
            version(2, 1, "old", 2),
            LogEntry::BucketDeleted { seq: 3, bucket: [1; 16] },
            bucket(4, 2, "logs", "de"),
            version(5, 2, "new", 5),
            bucket(6, 3, "twice", "eu"),
            bucket(7, 4, "twice", "de"),
        ]])
        .await;
        assert_eq!(etags(&f), [("new".to_owned(), "e5".to_owned())]);
        let mut names: Vec<_> = f.buckets.iter().map(|b| (b.name.clone(), b.uid[0])).collect();
        names.sort();
        assert_eq!(names, [("logs".to_owned(), 2), ("twice".to_owned(), 4)]);
    }
}
