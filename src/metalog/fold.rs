//! What a set of log entries says the store held (docs/format-v2.md, "Rebuild"): per bucket,
//! per object key, per version's data key and per catalog name, the entry with the highest
//! commit sequence number wins, whatever order the segments are read in; tombstones win over
//! what they delete and are dropped at the end. Reading a segment twice (it is at several
//! providers, or two gateways logged the same entry) changes nothing.

use std::collections::HashMap;

use crate::meta::log_entry::{LogEntry, LoggedBucket, LoggedKey, LoggedVersion};

/// An object key in a bucket.
type ObjectSlot = ([u8; 16], String);

/// The newest entry seen per key.
#[derive(Debug, Default)]
pub(super) struct Fold {
    buckets: HashMap<[u8; 16], (u64, Option<LoggedBucket>)>,
    objects: HashMap<ObjectSlot, (u64, Option<Box<LoggedVersion>>)>,
    rewraps: HashMap<[u8; 16], (u64, LoggedKey)>,
    catalog: HashMap<String, (u64, String)>,
    highest: u64,
    entries: usize,
}

/// The live state once every entry is folded in.
#[derive(Debug, Default)]
pub(super) struct Folded {
    /// Live buckets, one per name.
    pub(super) buckets: Vec<LoggedBucket>,
    /// Current versions of live buckets, with their latest data-key wrapping.
    pub(super) versions: Vec<LoggedVersion>,
    /// Catalog changes: name and JSON.
    pub(super) catalog: Vec<(String, String)>,
    /// The highest sequence number seen (the store's sequence restarts above it).
    pub(super) highest_seq: u64,
    /// Entries folded in (with repeats).
    pub(super) entries: usize,
}

/// Keeps `value` under `key` if its sequence number is at least the one kept (equal: the same
/// entry read again).
fn newer<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, (u64, V)>, key: K, seq: u64, value: V) {
    match map.get(&key) {
        Some((kept, _)) if *kept > seq => {}
        _ => {
            map.insert(key, (seq, value));
        }
    }
}

impl Fold {
    /// Folds one entry in.
    pub(super) fn add(&mut self, entry: LogEntry) {
        self.entries += 1;
        let seq = match entry {
            LogEntry::Bucket(b) => {
                let seq = b.seq;
                newer(&mut self.buckets, b.uid, seq, Some(b));
                seq
            }
            LogEntry::BucketDeleted { seq, bucket } => {
                newer(&mut self.buckets, bucket, seq, None);
                seq
            }
            LogEntry::Version(v) => {
                let seq = v.seq;
                newer(&mut self.objects, (v.bucket, v.key.clone()), seq, Some(v));
                seq
            }
            LogEntry::Deleted { seq, bucket, key } => {
                newer(&mut self.objects, (bucket, key), seq, None);
                seq
            }
            LogEntry::Rewrapped { seq, version, dek } => {
                newer(&mut self.rewraps, version, seq, dek);
                seq
            }
            LogEntry::Catalog { seq, name, json } => {
                newer(&mut self.catalog, name, seq, json);
                seq
            }
        };
        self.highest = self.highest.max(seq);
    }

    /// The live state: tombstones dropped, objects of buckets no longer live dropped, a data
    /// key rewrapped after its version's entry taking the newer wrapping, and of two live
    /// buckets of one name (a deletion that was not logged) the newer.
    pub(super) fn finish(self) -> Folded {
        let mut by_name: HashMap<String, (u64, LoggedBucket)> = HashMap::new();
        for (seq, b) in self.buckets.into_values().filter_map(|(seq, b)| Some((seq, b?))) {
            newer(&mut by_name, b.name.clone(), seq, b);
        }
        let buckets: Vec<LoggedBucket> = by_name.into_values().map(|(_, b)| b).collect();
        let live: std::collections::HashSet<[u8; 16]> = buckets.iter().map(|b| b.uid).collect();
        let mut versions = Vec::new();
        for (_, v) in self.objects.into_values() {
            let Some(mut v) = v.filter(|v| live.contains(&v.bucket)) else { continue };
            if let Some((seq, dek)) = self.rewraps.get(&v.version)
                && *seq > v.seq
            {
                v.dek = dek.clone();
            }
            versions.push(*v);
        }
        let catalog = self.catalog.into_iter().map(|(name, (_, json))| (name, json)).collect();
        Folded { buckets, versions, catalog, highest_seq: self.highest, entries: self.entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::BucketRecord;
    use crate::meta::log_entry::LoggedStream;
    use crate::model::{BucketName, BucketUid};

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

    fn fold(entries: Vec<LogEntry>) -> Folded {
        let mut f = Fold::default();
        for e in entries {
            f.add(e);
        }
        f.finish()
    }

    fn etags(f: &Folded) -> Vec<(String, String)> {
        let mut out: Vec<_> = f.versions.iter().map(|v| (v.key.clone(), v.etag.clone())).collect();
        out.sort();
        out
    }

    /// Promise: the outcome does not depend on the order segments are read in, nor on an
    /// entry being read twice: per key the highest sequence number wins, a tombstone deletes
    /// only what came before it, and a rewrap applies to the version it followed.
    #[test]
    fn the_newest_entry_wins_in_any_order() {
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
        let forward = fold(entries());
        let mut backward = entries();
        backward.reverse();
        backward.extend(entries());
        let backward = fold(backward);
        for f in [&forward, &backward] {
            assert_eq!(etags(f), [("a".to_owned(), "e6".to_owned()), ("b".to_owned(), "e5".to_owned())]);
            assert_eq!(f.buckets.len(), 1);
            assert_eq!(f.buckets[0].policy, "de", "the bucket as last rebound");
            let a = f.versions.iter().find(|v| v.key == "a").unwrap();
            assert_eq!(a.dek.kek_version, 2, "rewrapped after its version");
            let b = f.versions.iter().find(|v| v.key == "b").unwrap();
            assert_eq!(b.dek.kek_version, 1, "a rewrap older than the version does not apply");
            assert_eq!(f.catalog, [("policy/eu".to_owned(), "{\"v\":2}".to_owned())]);
            assert_eq!(f.highest_seq, 11);
        }
    }

    /// Promise: a deleted bucket takes its objects with it (they are not resurrected into
    /// another bucket of that name), and of a name used twice the newer bucket is kept.
    #[test]
    fn deleted_buckets_stay_deleted() {
        let f = fold(vec![
            bucket(1, 1, "logs", "eu"),
            version(2, 1, "old", 2),
            LogEntry::BucketDeleted { seq: 3, bucket: [1; 16] },
            bucket(4, 2, "logs", "de"),
            version(5, 2, "new", 5),
            bucket(6, 3, "twice", "eu"),
            bucket(7, 4, "twice", "de"),
        ]);
        assert_eq!(etags(&f), [("new".to_owned(), "e5".to_owned())]);
        let mut names: Vec<_> = f.buckets.iter().map(|b| (b.name.clone(), b.uid[0])).collect();
        names.sort();
        assert_eq!(names, [("logs".to_owned(), 2), ("twice".to_owned(), 4)]);
    }
}
