//! What a set of log entries says the store held (docs/format-v2.md, "Rebuild"): per bucket,
//! per object key, per version's data key and per catalog name, the entry with the highest
//! commit sequence number wins, whatever order the segments are read in; tombstones win over
//! what they delete and are dropped at the end. Reading a segment twice (it is at several
//! providers, or two gateways logged the same entry) changes nothing. The newest entries are
//! kept in a [`RebuildStage`] (see [`super::stage`]), one segment per atomic write.

use std::collections::{HashMap, HashSet};

use super::generations::{self, Superseded};
use super::stage::{self, AUDIT, BUCKETS, CATALOG, JOB, Job, OBJECTS, REWRAPS, UPLOAD_PARTS, UPLOADS, VERSIONS, key};
use crate::meta::log_entry::{LogEntry, LoggedBucket, LoggedObjectVersion};
use crate::meta::outbox::CATALOG_SCOPE;
use crate::meta::{MetaError, RebuildStage};

/// The slot an entry decides (a checkpoint's marker decides none: it tags its segment).
fn slot(entry: &LogEntry) -> Option<Vec<u8>> {
    Some(match entry {
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
        LogEntry::Upload(u) => key(UPLOADS, &[&u.bucket, &u.upload]),
        LogEntry::UploadEnded { bucket, upload, .. } => key(UPLOADS, &[bucket, upload]),
        LogEntry::Part(p) => key(UPLOAD_PARTS, &[&p.bucket, &p.upload, &p.number.to_be_bytes()]),
        LogEntry::Audited(a) => key(AUDIT, &[&a.record.to_be_bytes()]),
        LogEntry::Checkpoint(_) => return None,
    })
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

/// A staged value: the entry's sequence number, then (for an entry of a checkpoint)
/// [`CHECKPOINTED`] and the checkpoint's `through`, then the entry (whose first byte is the
/// entry format, never [`CHECKPOINTED`]).
fn staged(entry: &LogEntry, through: u64) -> Result<Vec<u8>, MetaError> {
    let body = entry.encode().map_err(|e| MetaError::codec(e.to_string()))?;
    let mut out = entry.seq().to_be_bytes().to_vec();
    if through > 0 {
        out.push(CHECKPOINTED);
        out.extend_from_slice(&through.to_be_bytes());
    }
    out.extend_from_slice(&body);
    Ok(out)
}

/// Marks a staged entry read from a checkpoint.
const CHECKPOINTED: u8 = 0xC7;

/// A staged entry: its sequence number, the `through` of the checkpoint it was read from (0
/// if none), the entry.
pub(super) struct Staged {
    pub(super) seq: u64,
    pub(super) through: u64,
    pub(super) entry: LogEntry,
}

impl Staged {
    /// How entries of one slot compare: a checkpoint's entry says what the slot held once every
    /// commit up to its `through` was applied, so it ranks as of `through` (or its own
    /// sequence number, if later); of equal ranks the later checkpoint's.
    fn rank(seq: u64, through: u64) -> (u64, u64) {
        (seq.max(through), through)
    }
}

fn be_u64(bytes: Option<&[u8]>) -> Result<u64, MetaError> {
    let head = bytes.and_then(|h| <[u8; 8]>::try_from(h).ok());
    head.map(u64::from_be_bytes).ok_or_else(|| MetaError::codec("a staged entry shorter than its header"))
}

/// The rank of a staged value without decoding its entry.
fn staged_rank(value: &[u8]) -> Result<(u64, u64), MetaError> {
    let seq = be_u64(value.get(..8))?;
    let through = if value.get(8) == Some(&CHECKPOINTED) { be_u64(value.get(9..17))? } else { 0 };
    Ok(Staged::rank(seq, through))
}

/// A staged value read back.
pub(super) fn unstaged(value: &[u8]) -> Result<Staged, MetaError> {
    let seq = be_u64(value.get(..8))?;
    let (through, body) = if value.get(8) == Some(&CHECKPOINTED) {
        (be_u64(value.get(9..17))?, value.get(17..))
    } else {
        (0, value.get(8..))
    };
    let entry = LogEntry::decode(body.unwrap_or_default()).map_err(|e| MetaError::codec(e.to_string()))?;
    Ok(Staged { seq, through, entry })
}

/// Folds a batch of segments in: per slot the entry is kept if its sequence number is at
/// least the one staged (equal: the same entry read again); the segments are marked done and
/// the job's counters move in the same write, so a resumed rebuild neither skips nor repeats
/// them.
pub(super) async fn fold_segments(
    stage: &dyn RebuildStage,
    segments: Vec<ReadSegment>,
    job: &mut Job,
) -> Result<(), MetaError> {
    let mut newest: HashMap<Vec<u8>, (LogEntry, u64)> = HashMap::new();
    let mut done = Vec::with_capacity(segments.len());
    for ReadSegment { name, entries, holders, bytes } in segments {
        job.segments += 1;
        job.entries += entries.len();
        if let Some(indexed) = stage::indexed(&name, &entries, holders, bytes) {
            done.push((stage::index_key(&name), crate::meta::codec::encode(&indexed)?));
        }
        let checkpoint = match entries.first() {
            Some(LogEntry::Checkpoint(c)) => Some(*c),
            _ => None,
        };
        if let Some(c) = &checkpoint {
            done.extend(generations::part_seen(c));
        }
        for e in entries {
            job.highest_seq = job.highest_seq.max(e.seq());
            if let Some(completed) = completed_marker(&e) {
                done.push((completed, Vec::new()));
            }
            let Some(s) = slot(&e) else { continue };
            // Only the checkpoint's own bucket's entries speak for it.
            let through = checkpoint.filter(|c| entry_bucket(&e) == Some(&c.bucket)).map_or(0, |c| c.through);
            let rank = Staged::rank(e.seq(), through);
            if newest.get(&s).is_none_or(|(kept, t)| Staged::rank(kept.seq(), *t) <= rank) {
                newest.insert(s, (e, through));
            }
        }
        done.push((stage::done_key(&name), Vec::new()));
    }
    let slots: Vec<Vec<u8>> = newest.keys().cloned().collect();
    let kept = stage.stage_get(slots.clone()).await?;
    let mut puts = Vec::with_capacity(slots.len() + done.len() + 1);
    for (s, kept) in slots.into_iter().zip(kept) {
        let Some((entry, through)) = newest.remove(&s) else { continue };
        if kept.map(|k| staged_rank(&k)).transpose()?.is_none_or(|k| k <= Staged::rank(entry.seq(), through)) {
            puts.push((s, staged(&entry, through)?));
        }
    }
    puts.extend(done);
    puts.push((JOB.to_vec(), crate::meta::codec::encode(job)?));
    stage.stage_write(puts, Vec::new()).await
}

/// For a version made by CompleteMultipartUpload, its [`stage::COMPLETED`] marker: the
/// completion logs the version before the upload's end, and the two may be in different
/// segments, so the version alone must end the upload (else a rebuild would bring back an
/// upload whose parts are the object's streams, and aborting it would delete them).
fn completed_marker(entry: &LogEntry) -> Option<Vec<u8>> {
    let v = match entry {
        LogEntry::Version(v) => v,
        LogEntry::ObjectVersion(v) | LogEntry::TaggedVersion(v, _) => &v.version,
        _ => return None,
    };
    v.multipart.then(|| key(stage::COMPLETED, &[&v.bucket, &v.version]))
}

/// A segment as a rebuild read it.
pub(super) struct ReadSegment {
    /// Its name at the providers.
    pub(super) name: String,
    /// Its entries.
    pub(super) entries: Vec<LogEntry>,
    /// The providers that list it.
    pub(super) holders: Vec<crate::model::ProviderId>,
    /// Its size.
    pub(super) bytes: u64,
}

/// The scope an entry speaks for, as checkpoints supersede: its bucket, or
/// [`CATALOG_SCOPE`] for a catalog change or an audit record of the catalog's (a rewrap names
/// none: its version's bucket decides).
pub(super) fn entry_bucket(entry: &LogEntry) -> Option<&[u8; 16]> {
    match entry {
        LogEntry::Catalog { .. } => Some(&CATALOG_SCOPE),
        LogEntry::Audited(a) if a.bucket.is_none() => Some(&CATALOG_SCOPE),
        _ => entry.bucket(),
    }
}

/// The live buckets, one per name (of two of one name — a deletion that was not logged — the
/// newer). Buckets are few; they are held in memory.
pub(super) async fn live_buckets(stage: &dyn RebuildStage, gens: &Superseded) -> Result<Vec<LoggedBucket>, MetaError> {
    let mut by_name: HashMap<String, LoggedBucket> = HashMap::new();
    stage::each_page(stage, &[BUCKETS], 1024, async |pairs| -> Result<(), MetaError> {
        for (_, v) in pairs {
            let s = unstaged(&v)?;
            if !gens.keeps_staged(&s) {
                continue;
            }
            if let LogEntry::Bucket(b) = s.entry
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

/// The catalog changes: name and JSON (unless a catalog checkpoint superseded them: a name
/// removed before it is not in it, and an older segment must not bring it back).
pub(super) async fn catalog(stage: &dyn RebuildStage, gens: &Superseded) -> Result<Vec<(String, String)>, MetaError> {
    let mut out = Vec::new();
    stage::each_page(stage, &[CATALOG], 1024, async |pairs| -> Result<(), MetaError> {
        for (_, v) in pairs {
            let s = unstaged(&v)?;
            if !gens.keeps_staged(&s) {
                continue;
            }
            if let LogEntry::Catalog { name, json, .. } = s.entry {
                out.push((name, json));
            }
        }
        Ok(())
    })
    .await?;
    Ok(out)
}

/// The version a staged slot holds, unless a checkpoint superseded it.
pub(super) fn live_version(value: &[u8], gens: &Superseded) -> Result<Option<LoggedObjectVersion>, MetaError> {
    let s = unstaged(value)?;
    Ok(if gens.keeps_staged(&s) { logged_version(s.entry) } else { None })
}

/// The versions (delete markers included) of `live` buckets, `page` at a time, each with its
/// latest data-key wrapping (a rewrap logged after the version's entry, and not superseded).
pub(super) async fn each_live_version<F, E>(
    stage: &dyn RebuildStage,
    live: &HashSet<[u8; 16]>,
    gens: &Superseded,
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
                if let Some(v) = live_version(&v, gens)?
                    && live.contains(&v.version.bucket)
                {
                    versions.push(v);
                }
            }
            let slots = versions.iter().map(|v| key(REWRAPS, &[&v.version.version])).collect();
            let rewraps = stage.stage_get(slots).await?;
            for (v, rewrap) in versions.iter_mut().zip(rewraps) {
                let Some(r) = rewrap.map(|r| unstaged(&r)).transpose()? else { continue };
                if let LogEntry::Rewrapped { seq, dek, .. } = r.entry
                    && seq > v.version.seq
                    && gens.keeps(Some(&v.version.bucket), seq, r.through)
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
        let named: Vec<_> = segments
            .into_iter()
            .enumerate()
            .map(|(i, entries)| ReadSegment { name: format!("seg{i}"), entries, holders: Vec::new(), bytes: 0 })
            .collect();
        let mut named = named.into_iter().peekable();
        while named.peek().is_some() {
            fold_segments(&stage, named.by_ref().take(2).collect(), &mut job).await.unwrap();
        }
        let gens = Superseded::read(&stage).await.unwrap();
        let buckets = live_buckets(&stage, &gens).await.unwrap();
        let live = buckets.iter().map(|b| b.uid).collect();
        let mut versions = Vec::new();
        each_live_version(&stage, &live, &gens, 2, async |page| -> Result<(), MetaError> {
            versions.extend(page.into_iter().map(|v| v.version));
            Ok(())
        })
        .await
        .unwrap();
        Folded { buckets, versions, catalog: catalog(&stage, &gens).await.unwrap(), job }
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

    fn marker(through: u64, part: u32, last: bool) -> LogEntry {
        LogEntry::Checkpoint(crate::meta::log_entry::LoggedCheckpoint {
            through,
            bucket: [1; 16],
            id: [9; 16],
            part,
            last,
        })
    }

    /// A checkpoint's entries as the checkpoint job writes them: a version entry of kind 6
    /// (what the store's records give), the bucket at `through`.
    fn checkpointed(seq: u64, key: &str, id: u8) -> LogEntry {
        let Some(v) = logged_version(version(seq, 1, key, id)) else { unreachable!() };
        LogEntry::ObjectVersion(Box::new(v))
    }

    /// Promise: once every part of a bucket's checkpoint is read, an older segment a provider
    /// failed to delete cannot bring back what was deleted before the checkpoint (its
    /// tombstone is gone with the segments the checkpoint replaced), nor override what the
    /// checkpoint holds; entries after the checkpoint still apply; other buckets are not
    /// touched. A checkpoint missing a part supersedes nothing.
    #[tokio::test]
    async fn a_whole_checkpoint_supersedes_older_segments() {
        // Left behind at some provider: "a" (deleted at 5, its tombstone no longer anywhere),
        // "b" at 3 (overwritten at 6), another bucket's "x".
        let stale = vec![
            bucket(1, 1, "photos", "eu"),
            version(2, 1, "a", 2),
            version(3, 1, "b", 3),
            bucket(4, 2, "other", "eu"),
            version(4, 2, "x", 4),
            // A rewrap of "b" at 8 that a later one (at 9, in a deleted segment) replaced.
            LogEntry::Rewrapped {
                seq: 8,
                version: [6; 16],
                dek: LoggedKey { kek_id: "k".into(), kek_version: 0, bytes: vec![0] },
            },
        ];
        let parts = vec![
            vec![marker(10, 0, false), bucket(10, 1, "photos", "eu"), checkpointed(6, "b", 6)],
            vec![marker(10, 1, true), checkpointed(7, "c", 7)],
        ];
        let after = vec![version(12, 1, "d", 12), deleted(13, 1, "c")];
        let whole = fold([vec![stale.clone()], parts.clone(), vec![after.clone()]].concat()).await;
        let mut want = vec![
            ("b".to_owned(), "e6".to_owned()),
            ("d".to_owned(), "e12".to_owned()),
            ("x".to_owned(), "e4".to_owned()),
        ];
        assert_eq!(etags(&whole), want);
        assert_eq!(whole.job.highest_seq, 13);
        let b = whole.versions.iter().find(|v| v.key == "b").unwrap();
        assert_eq!(b.dek.kek_version, 1, "the checkpoint's data key, not a superseded rewrap");
        // Read in another order, the same.
        let reordered =
            fold([vec![after.clone()], vec![parts[1].clone()], vec![stale.clone()], vec![parts[0].clone()]].concat())
                .await;
        assert_eq!(etags(&reordered), want);
        // Part 1 missing: the stale entries still speak ("a" is back: nothing says otherwise).
        let partial = fold([vec![stale], vec![parts[0].clone()], vec![after]].concat()).await;
        want.insert(0, ("a".to_owned(), "e2".to_owned()));
        assert_eq!(etags(&partial), want);
    }

    fn catalog_entry(seq: u64, name: &str, json: &str) -> LogEntry {
        LogEntry::Catalog { seq, name: name.into(), json: json.into() }
    }

    /// Promise: a whole checkpoint of the catalog supersedes the catalog's older entries as a
    /// bucket's does its own: a user removed before it (the removal gone with the segments it
    /// replaced) is not brought back by a segment some provider failed to delete, a value
    /// changed since wins over the checkpoint's, and the buckets' entries are not touched.
    #[tokio::test]
    async fn a_whole_catalog_checkpoint_supersedes_older_catalog_entries() {
        let stale = vec![
            catalog_entry(2, "user/carol", "{}"),
            catalog_entry(3, "policy/p", "\"old\""),
            bucket(4, 1, "photos", "eu"),
        ];
        let mut marker = marker(10, 0, true);
        if let LogEntry::Checkpoint(c) = &mut marker {
            c.bucket = CATALOG_SCOPE;
        }
        let checkpoint = vec![marker, catalog_entry(0, "policy/p", "\"kept\""), catalog_entry(0, "user/alice", "{}")];
        let after = vec![catalog_entry(12, "user/alice", "{\"changed\":1}")];
        let want = vec![
            ("policy/p".to_owned(), "\"kept\"".to_owned()),
            ("user/alice".to_owned(), "{\"changed\":1}".to_owned()),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let segments = [stale.clone(), checkpoint.clone(), after.clone()];
            let folded = fold(order.iter().map(|&i| segments[i].clone()).collect()).await;
            let mut catalog = folded.catalog.clone();
            catalog.sort();
            assert_eq!(catalog, want, "order {order:?}");
            assert_eq!(folded.buckets.len(), 1, "the bucket is not the catalog's");
        }
        let partial = fold(vec![stale, after]).await;
        assert!(partial.catalog.iter().any(|(n, _)| n == "user/carol"), "no checkpoint, nothing superseded");
    }
}
