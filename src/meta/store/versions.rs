//! A key's versions in the store (DESIGN §12.4). The latest version, when it holds data, is
//! the key's record in `Objects` (so listings and GETs of the latest read one record, as
//! before versioning); every other version — noncurrent ones, and a delete marker that is the
//! latest — is in `Versions` under `bucket ‖ esc(key) ‖ !order`, newest first. Each version is
//! in exactly one of the two; the `Objects` record, when there is one, is the newest. A
//! noncurrent version is found by its id through `VersionIds` (or, for the `null` one,
//! `NullVersions`), which give its order.

use super::{Inner, LIFE_SHARED, SCAN_BATCH, common_prefix, gc_version, key_lock, live_bucket, object_key};
use crate::meta::audit_chain::commit_audited;
use crate::meta::codec::{decode, encode, escape_into, key_successor, prefix_successor};
use crate::meta::kv::TxnLock;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn};
use crate::meta::{ListEntry, ListPage, ListQuery, ListStart, MetaError, VersionEntry, VersionRecord};
use crate::meta::{LockChange, LockTarget, LockUpdate};
use crate::model::audit::AuditEntry;
use crate::model::lock::{LockDenial, may_remove, may_set_retention};
use crate::model::{BucketUid, VersionRef, VersionUid, Versioning};

/// `Access` key of a bucket's versioning state (absent: never enabled).
pub(crate) fn versioning_key(bucket: BucketUid) -> String {
    format!("{VERSIONING}{}", hex::encode(bucket.as_bytes()))
}

/// The prefix of [`versioning_key`] (also the catalog entry's name in the log).
pub(crate) const VERSIONING: &str = "versioning/";

/// `Access` key of a bucket's Object Lock configuration (absent: Object Lock not enabled).
pub(crate) fn lock_config_key(bucket: BucketUid) -> String {
    format!("{OBJECT_LOCK}{}", hex::encode(bucket.as_bytes()))
}

/// The prefix of [`lock_config_key`].
pub(crate) const OBJECT_LOCK: &str = "objectlock/";

/// `bucket ‖ esc(key)`: where a key's versions start in `Versions`.
pub(super) fn history_prefix(bucket: BucketUid, key: &[u8]) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    escape_into(&mut k, key);
    k
}

/// The `Versions` key of the version of `key` made at `order`: newest first.
pub(crate) fn noncurrent_key(bucket: BucketUid, key: &[u8], order: u64) -> Vec<u8> {
    let mut k = history_prefix(bucket, key);
    k.extend_from_slice(&(!order).to_be_bytes());
    k
}

fn id_key(bucket: BucketUid, uid: VersionUid) -> Vec<u8> {
    [bucket.as_bytes().as_slice(), uid.as_bytes()].concat()
}

/// The object key and the order of a `Versions` key.
pub(super) fn parse_noncurrent_key(k: &[u8]) -> Option<(Vec<u8>, u64)> {
    let body = k.get(16..)?;
    let (key, rest) = unescape(body)?;
    Some((key, !u64::from_be_bytes(rest.try_into().ok()?)))
}

/// Splits `esc(key) ‖ rest` (see [`escape_into`]).
fn unescape(body: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match (body[i], body.get(i + 1)) {
            (0, Some(0x01)) => return Some((out, &body[i + 2..])),
            (0, Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (0, _) => return None,
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

/// The bucket's versioning state, read in the commit's transaction.
pub(super) fn versioning(t: &mut impl KvTxn, bucket: BucketUid) -> Result<Versioning, MetaError> {
    Ok(t.get_decoded(Cf::Access, versioning_key(bucket).as_bytes())?.unwrap_or_default())
}

/// When, and with which right, a version is removed: what Object Lock weighs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Removal {
    /// The store's time, ms since the epoch.
    pub(super) now_ms: i64,
    /// The principal may bypass governance retention and asked to.
    pub(super) bypass_governance: bool,
}

/// Where a version of a key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// The key's `Objects` record: the latest version, holding data.
    Current,
    /// In `Versions`.
    Noncurrent,
}

/// What a transaction reads of a key's history to change it.
pub(super) struct History {
    pub(super) bucket: BucketUid,
    pub(super) key: Vec<u8>,
    /// The `Objects` record.
    pub(super) current: Option<VersionRecord>,
}

impl History {
    /// Reads the key's `Objects` record.
    pub(super) fn read(t: &mut impl KvTxn, bucket: BucketUid, key: &[u8]) -> Result<Self, MetaError> {
        let current = t.get_decoded(Cf::Objects, &object_key(bucket, key))?;
        Ok(Self { bucket, key: key.to_vec(), current })
    }

    /// Up to `n` of the newest versions in `Versions`.
    pub(super) fn newest_noncurrent(&self, t: &mut impl KvTxn, n: usize) -> Result<Vec<VersionRecord>, MetaError> {
        let start = history_prefix(self.bucket, &self.key);
        let end = prefix_successor(&start);
        t.scan(Cf::Versions, &start, end.as_deref(), n)?.iter().map(|(_, v)| decode(v)).collect()
    }

    /// The latest version, a delete marker included.
    pub(super) fn latest(&self, t: &mut impl KvTxn) -> Result<Option<VersionRecord>, MetaError> {
        match &self.current {
            Some(v) => Ok(Some(v.clone())),
            None => Ok(self.newest_noncurrent(t, 1)?.into_iter().next()),
        }
    }

    /// The version `r` names, and where it is.
    pub(super) fn find(&self, t: &mut impl KvTxn, r: VersionRef) -> Result<Option<(Place, VersionRecord)>, MetaError> {
        if let Some(v) = self.current.as_ref().filter(|v| v.version_ref() == r) {
            return Ok(Some((Place::Current, v.clone())));
        }
        let order: Option<u64> = match r {
            VersionRef::Null => t.get_decoded(Cf::NullVersions, &object_key(self.bucket, &self.key))?,
            VersionRef::Id(uid) => t.get_decoded(Cf::VersionIds, &id_key(self.bucket, uid))?,
        };
        let Some(order) = order else { return Ok(None) };
        let found: Option<VersionRecord> =
            t.get_decoded(Cf::Versions, &noncurrent_key(self.bucket, &self.key, order))?;
        Ok(found.filter(|v| v.version_ref() == r).map(|v| (Place::Noncurrent, v)))
    }

    /// The version whose data key is `uid`, wherever it is (a job that walked the versions
    /// names them so).
    pub(super) fn find_uid(
        &self,
        t: &mut impl KvTxn,
        uid: VersionUid,
    ) -> Result<Option<(Place, VersionRecord)>, MetaError> {
        for r in [VersionRef::Id(uid), VersionRef::Null] {
            if let Some(found) = self.find(t, r)?.filter(|(_, v)| v.version_uid == uid) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Writes `v` back where it is (its replica list or `seq` changed).
    pub(super) fn rewrite(&self, place: Place, v: &VersionRecord, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
        let k = match place {
            Place::Current => (Cf::Objects, object_key(self.bucket, &self.key)),
            Place::Noncurrent => (Cf::Versions, noncurrent_key(self.bucket, &self.key, v.order)),
        };
        ops.push(KvOp::Put(k.0, k.1, encode(v)?));
        Ok(())
    }

    /// Puts `v` into `Versions` with its index entry.
    pub(super) fn keep_noncurrent(&self, v: &VersionRecord, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
        ops.push(KvOp::Put(Cf::Versions, noncurrent_key(self.bucket, &self.key, v.order), encode(v)?));
        let order = encode(&v.order)?;
        ops.push(if v.null {
            KvOp::Put(Cf::NullVersions, object_key(self.bucket, &self.key), order)
        } else {
            KvOp::Put(Cf::VersionIds, id_key(self.bucket, v.version_uid), order)
        });
        Ok(())
    }

    /// Takes `v` out of `Versions` (without deleting its data).
    fn unkeep_noncurrent(&self, v: &VersionRecord, ops: &mut Vec<KvOp>) {
        ops.push(KvOp::Delete(Cf::Versions, noncurrent_key(self.bucket, &self.key, v.order)));
        ops.push(if v.null {
            KvOp::Delete(Cf::NullVersions, object_key(self.bucket, &self.key))
        } else {
            KvOp::Delete(Cf::VersionIds, id_key(self.bucket, v.version_uid))
        });
    }

    /// Deletes the version at `place` for good: its record, and its streams and data key
    /// through GC — unless Object Lock protects it ([`may_remove`]: the one check on every
    /// path that deletes a version's data), when nothing is written and the reason returned.
    pub(super) fn remove(
        &self,
        place: Place,
        v: &VersionRecord,
        by: Removal,
        ops: &mut Vec<KvOp>,
    ) -> Result<Result<(), LockDenial>, MetaError> {
        if let Err(denied) = may_remove(&v.lock, by.now_ms, by.bypass_governance) {
            return Ok(Err(denied));
        }
        match place {
            Place::Current => ops.push(KvOp::Delete(Cf::Objects, object_key(self.bucket, &self.key))),
            Place::Noncurrent => self.unkeep_noncurrent(v, ops),
        }
        gc_version(v, ops)?;
        Ok(Ok(()))
    }

    /// After the versions of `removed` orders were deleted while the key has no `Objects`
    /// record: the newest remaining version becomes the `Objects` record if it holds data
    /// (a delete marker stays where it is, the latest).
    pub(super) fn promote_newest(
        &self,
        t: &mut impl KvTxn,
        removed: &[u64],
        ops: &mut Vec<KvOp>,
    ) -> Result<(), MetaError> {
        let next = self.newest_noncurrent(t, removed.len() + 1)?.into_iter().find(|v| !removed.contains(&v.order));
        if let Some(v) = next.filter(|v| !v.delete_marker) {
            self.unkeep_noncurrent(&v, ops);
            ops.push(KvOp::Put(Cf::Objects, object_key(self.bucket, &self.key), encode(&v)?));
        }
        Ok(())
    }

    /// Makes room for a new latest version in a bucket in state `state`: the `Objects` record
    /// becomes noncurrent, or is deleted when it is the `null` version the new one replaces;
    /// in a suspended bucket a noncurrent `null` version is deleted too (the new version is
    /// the `null` one). Returns whether a `null` version was deleted, or why a locked one may
    /// not be (an overwrite never bypasses a retention).
    pub(super) fn supersede(
        &self,
        t: &mut impl KvTxn,
        state: Versioning,
        ops: &mut Vec<KvOp>,
    ) -> Result<Result<bool, LockDenial>, MetaError> {
        let by = Removal { now_ms: super::wall_ms(), bypass_governance: false };
        let mut dropped_null = false;
        if let Some(cur) = &self.current {
            if state.writes_null() && cur.null {
                if let Err(denied) = self.remove(Place::Current, cur, by, ops)? {
                    return Ok(Err(denied));
                }
                dropped_null = true;
            } else {
                ops.push(KvOp::Delete(Cf::Objects, object_key(self.bucket, &self.key)));
                self.keep_noncurrent(cur, ops)?;
            }
        }
        if state == Versioning::Suspended
            && !dropped_null
            && let Some((Place::Noncurrent, old)) = self.find(t, VersionRef::Null)?
        {
            if let Err(denied) = self.remove(Place::Noncurrent, &old, by, ops)? {
                return Ok(Err(denied));
            }
            dropped_null = true;
        }
        Ok(Ok(dropped_null))
    }

    /// Writes `v` as the new latest version (after [`Self::supersede`]).
    pub(super) fn put_latest(&self, v: &VersionRecord, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
        if v.delete_marker {
            return self.keep_noncurrent(v, ops);
        }
        ops.push(KvOp::Put(Cf::Objects, object_key(self.bucket, &self.key), encode(v)?));
        Ok(())
    }
}

impl<E: KvEngine> Inner<E> {
    /// ListObjectVersions' walk (see [`crate::meta::ObjectMeta::list_versions`]): the next key
    /// is the smaller of the next one in `Objects` and in `Versions`; each key's versions are
    /// its `Objects` record, then its `Versions` entries in order.
    pub(super) fn list_versions(
        &self,
        bucket: BucketUid,
        q: &ListQuery,
        after_order: Option<u64>,
    ) -> Result<ListPage<VersionEntry>, MetaError> {
        let (mut from, mut within) = match (&q.start, after_order) {
            (ListStart::AfterKey(k), Some(o)) => (k.clone(), Some(o)),
            (ListStart::AfterKey(k), None) => (key_successor(k), None),
            (ListStart::AfterPrefix(p), _) => match prefix_successor(p) {
                Some(next) => (next, None),
                None => return Ok(ListPage { entries: Vec::new(), truncated: false }),
            },
            (ListStart::Beginning, _) => (Vec::new(), None),
        };
        if from < q.prefix {
            (from, within) = (q.prefix.clone(), None);
        }
        let mut entries = Vec::new();
        loop {
            let Some(key) = self.next_versioned_key(bucket, &from)?.filter(|k| k.starts_with(&q.prefix)) else {
                return Ok(ListPage { entries, truncated: false });
            };
            let within = within.take().filter(|_| key == from);
            if within.is_none()
                && let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref())
            {
                if entries.len() == q.max {
                    return Ok(ListPage { entries, truncated: true });
                }
                entries.push(ListEntry::Prefix(cp.clone()));
                match prefix_successor(&cp) {
                    Some(next) => from = next,
                    None => return Ok(ListPage { entries, truncated: false }),
                }
                continue;
            }
            if !self.key_versions(bucket, &key, within, q.max, &mut entries)? {
                return Ok(ListPage { entries, truncated: true });
            }
            from = key_successor(&key);
        }
    }

    /// The first key at or after `from` that has a version.
    fn next_versioned_key(&self, bucket: BucketUid, from: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        let end = prefix_successor(bucket.as_bytes());
        let current = self.engine.scan(Cf::Objects, &object_key(bucket, from), end.as_deref(), 1)?;
        let current = current.first().map(|(k, _)| k[16..].to_vec());
        let older = self.engine.scan(Cf::Versions, &history_prefix(bucket, from), end.as_deref(), 1)?;
        let older = match older.first() {
            Some((k, _)) => Some(parse_noncurrent_key(k).ok_or_else(|| MetaError::codec("a Versions key"))?.0),
            None => None,
        };
        Ok(match (current, older) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Appends `key`'s versions older than `within` (all if `None`), newest first; false when
    /// the page filled up before the last one.
    fn key_versions(
        &self,
        bucket: BucketUid,
        key: &[u8],
        within: Option<u64>,
        max: usize,
        entries: &mut Vec<ListEntry<VersionEntry>>,
    ) -> Result<bool, MetaError> {
        let current: Option<VersionRecord> = self.get(Cf::Objects, &object_key(bucket, key))?;
        // Without an `Objects` record the newest of `Versions` (a delete marker) is the latest.
        let mut latest_pending = current.is_none() && within.is_none();
        if let Some(cur) = current.filter(|c| within.is_none_or(|o| c.order < o)) {
            if entries.len() == max {
                return Ok(false);
            }
            entries.push(ListEntry::Item(key.to_vec(), VersionEntry { version: cur, latest: true }));
        }
        let prefix = history_prefix(bucket, key);
        let end = prefix_successor(&prefix);
        let mut start = within.map_or_else(|| prefix.clone(), |o| key_successor(&noncurrent_key(bucket, key, o)));
        loop {
            let batch = self.engine.scan(Cf::Versions, &start, end.as_deref(), SCAN_BATCH)?;
            let Some((last, _)) = batch.last() else { return Ok(true) };
            start = key_successor(last);
            for (_, v) in &batch {
                if entries.len() == max {
                    return Ok(false);
                }
                let version = decode(v)?;
                entries.push(ListEntry::Item(key.to_vec(), VersionEntry { version, latest: latest_pending }));
                latest_pending = false;
            }
        }
    }

    /// See [`crate::meta::ObjectMeta::set_version_lock`].
    pub(super) fn set_version_lock(
        &self,
        target: &LockTarget,
        change: LockChange,
        bypass_governance: bool,
        audit: AuditEntry,
    ) -> Result<(LockUpdate, Vec<u64>), MetaError> {
        let locks = [LIFE_SHARED, key_lock(target.bucket, target.key.as_str()), TxnLock::Audit];
        let mut t = self.engine.begin(&locks)?;
        let changed = rewrite_version(&mut t, target, |v| match change {
            LockChange::Retention(new) => {
                may_set_retention(&v.lock, new, super::wall_ms(), bypass_governance).map_err(LockUpdate::Denied)?;
                v.lock.retention = new;
                Ok(())
            }
            LockChange::LegalHold(on) => {
                v.lock.legal_hold = on;
                Ok(())
            }
        })?;
        match changed {
            Ok((ops, v, seq, scope)) => {
                let (_, audit_seq) = commit_audited(t, ops, audit, scope, &self.sealing, super::wall_ms())?;
                Ok((LockUpdate::Done(Box::new(v)), vec![seq, audit_seq]))
            }
            Err(not_done) => Ok((not_done, vec![])),
        }
    }

    /// Replaces the tags of a version (PutObjectTagging, DeleteObjectTagging): a data-plane
    /// write like a PUT, logged, not audited.
    pub(super) fn set_version_tags(
        &self,
        target: &LockTarget,
        tags: crate::model::tagging::TagSet,
    ) -> Result<(LockUpdate, Option<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(target.bucket, target.key.as_str())])?;
        match rewrite_version(&mut t, target, |v| {
            v.tags = tags;
            Ok(())
        })? {
            Ok((ops, v, seq, _)) => {
                t.commit(ops)?;
                Ok((LockUpdate::Done(Box::new(v)), Some(seq)))
            }
            Err(not_done) => Ok((not_done, None)),
        }
    }

    /// Stores written before versioning: every `Objects` record gets its order (its `seq`)
    /// and becomes its key's `null` version, once; a marker records that it ran. A record
    /// already in the new layout (a migration that stopped half-way) is left as it is.
    pub(super) fn migrate_versions(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, VERSIONS_MARKER)?.is_some() {
            return Ok(());
        }
        // The old layout is the new one without its last five fields (tags came after).
        let tail = postcard::to_stdvec(&(
            0u64,
            true,
            false,
            crate::model::lock::VersionLock::default(),
            crate::model::tagging::TagSet::default(),
        ))
        .map_err(|e| MetaError::codec_from("encoding a record", e))?;
        self.each_page(Cf::Objects, |k, v, ops| {
            if decode::<VersionRecord>(v).is_err() {
                let mut v2: VersionRecord = decode(&[v, tail.as_slice()].concat())?;
                v2.order = v2.seq;
                ops.push(KvOp::Put(Cf::Objects, k.to_vec(), encode(&v2)?));
            }
            Ok(())
        })?;
        self.engine.write(vec![KvOp::Put(Cf::Meta, VERSIONS_MARKER.to_vec(), encode(&true)?)])
    }
}

/// A version rewritten in place: its writes, its new record, its log entry's sequence number.
type Rewritten = (Vec<KvOp>, VersionRecord, u64, crate::meta::outbox::LogScope);

/// Changes one version of a key in place with `change` and logs it again, or says why nothing
/// changed: the bucket or the version is gone, it is a delete marker, or `change` refused.
fn rewrite_version(
    t: &mut impl KvTxn,
    target: &LockTarget,
    change: impl FnOnce(&mut VersionRecord) -> Result<(), LockUpdate>,
) -> Result<Result<Rewritten, LockUpdate>, MetaError> {
    let Some(rec) = live_bucket(t, &target.bucket_name, target.bucket)? else {
        return Ok(Err(LockUpdate::Missing));
    };
    let history = History::read(t, target.bucket, target.key.as_bytes())?;
    let found = match target.version {
        Some(r) => history.find(t, r)?,
        None => history.current.clone().map(|v| (Place::Current, v)),
    };
    let Some((place, mut v)) = found else { return Ok(Err(LockUpdate::Missing)) };
    if v.delete_marker {
        return Ok(Err(LockUpdate::DeleteMarker));
    }
    if let Err(refused) = change(&mut v) {
        return Ok(Err(refused));
    }
    let dek = t.get_decoded::<crate::model::WrappedKey>(Cf::Deks, v.version_uid.as_bytes())?.unwrap_or_default();
    let scope = super::logging::bucket_scope(t, &rec)?;
    let key = target.key.as_str();
    let (seq, logged) = super::logging::log_entry(t, scope.clone(), |seq| {
        v.seq = seq;
        super::version_entry(target.bucket, key, &v, &dek)
    })?;
    let mut ops = vec![logged];
    history.rewrite(place, &v, &mut ops)?;
    Ok(Ok((ops, v, seq, scope)))
}

/// `Meta` key set once every `Objects` record has the versioning fields.
const VERSIONS_MARKER: &[u8] = b"migrated/versions";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncurrent_keys_sort_newest_first_and_parse_back() {
        let b = BucketUid([1; 16]);
        let older = noncurrent_key(b, b"a\0b", 5);
        let newer = noncurrent_key(b, b"a\0b", 9);
        assert!(newer < older);
        assert!(noncurrent_key(b, b"a\0b", 1) < noncurrent_key(b, b"a\0c", 9), "keys first");
        assert!(noncurrent_key(b, b"a", 1) < noncurrent_key(b, b"a\0", 9), "a key before its extensions");
        assert_eq!(parse_noncurrent_key(&older), Some((b"a\0b".to_vec(), 5)));
        assert_eq!(parse_noncurrent_key(&b.as_bytes()[..]), None);
    }
}
