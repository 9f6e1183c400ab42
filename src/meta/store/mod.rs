//! The metadata store logic, written once over any [`KvEngine`]. Conditional commits run in
//! engine transactions that hold the key's lock; bucket creation and deletion hold the
//! lifecycle lock that commits share (see [`TxnLock`]). With a shared engine (PostgreSQL) these
//! locks hold across gateways.
//!
//! One file per part of the contract ([`super::contract`]): `objects`, `uploads`, `replicas`,
//! `admin`, `cluster`; this one holds the engine access and the helpers they share.

mod access;
mod admin;
mod catalog_state;
mod cluster;
mod logging;
mod objects;
mod relog;
mod replicas;
mod restore;
mod restream;
mod segment_index;
mod stage;
mod uploads;
mod versions;
#[cfg(test)]
pub(crate) use versions::noncurrent_key;

pub use access::{BucketSetting, parse_bucket_entry_key, parse_grant_key};

use std::sync::Arc;

use super::audit_chain::SealingKey;
use super::codec::{decode, encode, escape_into, key_successor, prefix_successor};
use super::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use super::log_entry::{LogEntry, LoggedObjectVersion};
use super::outbox::LogScope;
use super::replica_queue::{queue_deletion, queue_repairs, replica_key};
use super::{
    BucketRecord, CommitOutcome, DeleteOutcome, DeleteTarget, ListEntry, ListPage, ListQuery, ListStart, MetaError,
    PartRecord, PutCommit, ReplicaCursor, UploadRecord, VersionRecord,
};
use super::{CompletedUpload, DeletionReason, DeletionTask, ReplicaMove};
use crate::model::WrappedKey;
use crate::model::WriteCondition;
use crate::model::{BootId, BucketName, BucketUid, StreamId, StreamManifest, UploadId, VersionRef, Versioning};
use versions::{History, Place};

/// `Meta` keys `boot/<hex>` → the last heartbeat (ms) of a gateway run (shared engines).
const BOOT_PREFIX: &[u8] = b"boot/";
const SCAN_BATCH: usize = 256;
/// `Meta` key set once every committed stream has its `Owners` record.
const OWNERS_MARKER: &[u8] = b"migrated/stream_owners";

/// A [`MetadataStore`] over an ordered key-value engine.
pub struct KvMetadataStore<E: KvEngine> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    engine: E,
    /// The audit key, once the gateway has given it.
    sealing: SealingKey,
    /// The metadata log writer, once the gateway has started it.
    log: logging::SinkSlot,
}

/// Commits that need their bucket to stay.
const LIFE_SHARED: TxnLock = TxnLock::Lifecycle { exclusive: false };
/// Bucket creation and deletion, residency changes.
const LIFE_EXCLUSIVE: TxnLock = TxnLock::Lifecycle { exclusive: true };

/// A committed stream's manifest and the bucket whose policy admits its replicas (repair asks
/// it before writing a copy).
fn record_stream(stream: &StreamManifest, owner: BucketUid, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    ops.push(KvOp::Put(Cf::Streams, stream.stream_id.as_bytes().to_vec(), encode(stream)?));
    ops.push(KvOp::Put(Cf::Owners, stream.stream_id.as_bytes().to_vec(), encode(&owner)?));
    Ok(())
}

fn key_lock(bucket: BucketUid, key: &str) -> TxnLock {
    TxnLock::key(bucket.as_bytes(), key.as_bytes())
}

impl<E: KvEngine> KvMetadataStore<E> {
    /// Wraps an opened engine, recording stream owners once for a store written before they
    /// were kept (engine calls block, so on a blocking thread).
    pub async fn new(engine: E) -> Result<Self, MetaError> {
        let store = Self {
            inner: Arc::new(Inner { engine, sealing: SealingKey::default(), log: logging::SinkSlot::default() }),
        };
        store.run(Inner::migrate_versions).await?;
        store.run(Inner::migrate_uploads).await?;
        store.run(Inner::migrate_tags).await?;
        store.run(Inner::migrate_lifecycle_tags).await?;
        store.run(Inner::index_bucket_ids).await?;
        store.run(Inner::forget_old_catalog_index).await?;
        store.run(Inner::record_stream_owners).await?;
        Ok(store)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner<E>) -> Result<T, MetaError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        crate::pools::spawn(crate::pools::Pool::Metadata, move || f(&inner))
            .await
            .map_err(|e| MetaError::engine_from("metadata task", e))?
    }
}

fn boot_key(boot: BootId) -> Vec<u8> {
    let mut k = BOOT_PREFIX.to_vec();
    k.extend_from_slice(boot.to_hex().as_bytes());
    k
}

fn object_key(bucket: BucketUid, key: &[u8]) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.extend_from_slice(key);
    k
}

pub(crate) fn upload_index_key(bucket: BucketUid, key: &[u8], id: UploadId) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    escape_into(&mut k, key);
    k.extend_from_slice(id.as_bytes());
    k
}

fn part_key(id: UploadId, part: u32) -> Vec<u8> {
    let mut k = id.as_bytes().to_vec();
    k.extend_from_slice(&part.to_be_bytes());
    k
}

/// The part stored under `key` (a [`part_key`]), whichever layout it was written in.
fn stored_part(t: &mut impl KvTxn, key: &[u8]) -> Result<Option<PartRecord>, MetaError> {
    t.get(Cf::Parts, key)?.map(|v| PartRecord::decode_stored(&v)).transpose()
}

/// Decodes the object key out of an `Uploads` key (inverse of the escape).
fn upload_object_key(index_key: &[u8]) -> Vec<u8> {
    let body = &index_key[16..index_key.len().saturating_sub(16)];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == 0 {
            if body.get(i + 1) == Some(&0x01) {
                break;
            }
            out.push(0);
            i += 2;
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

impl<E: KvEngine> Inner<E> {
    fn get<T: serde::de::DeserializeOwned>(&self, cf: Cf, key: &[u8]) -> Result<Option<T>, MetaError> {
        self.engine.get(cf, key)?.map(|v| decode(&v)).transpose()
    }

    /// Stores written before `Owners` existed: every committed stream (a current version's,
    /// an open upload's part) gets its bucket, once; a marker records that it ran.
    fn record_stream_owners(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, OWNERS_MARKER)?.is_some() {
            return Ok(());
        }
        self.each_page(Cf::Objects, |k, v, ops| {
            let Some(uid) = k.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) else { return Ok(()) };
            for s in decode::<VersionRecord>(v)?.streams {
                ops.push(KvOp::Put(Cf::Owners, s.stream_id.as_bytes().to_vec(), encode(&BucketUid(uid))?));
            }
            Ok(())
        })?;
        for (_, v) in self.engine.scan(Cf::UploadIds, b"", None, usize::MAX)? {
            let rec: UploadRecord = decode(&v)?;
            let id = rec.upload_id.as_bytes();
            let end = prefix_successor(id);
            let mut ops = Vec::new();
            for (_, p) in self.engine.scan(Cf::Parts, id, end.as_deref(), usize::MAX)? {
                let part = PartRecord::decode_stored(&p)?;
                ops.push(KvOp::Put(Cf::Owners, part.stream.stream_id.as_bytes().to_vec(), encode(&rec.bucket_uid)?));
            }
            self.engine.write(ops)?;
        }
        self.engine.write(vec![KvOp::Put(Cf::Meta, OWNERS_MARKER.to_vec(), encode(&true)?)])
    }

    /// A one-time migration's walk: every record of `cf`, a page at a time, each page's
    /// writes (what `each` adds for its records) applied before the next is read.
    fn each_page(
        &self,
        cf: Cf,
        mut each: impl FnMut(&[u8], &[u8], &mut Vec<KvOp>) -> Result<(), MetaError>,
    ) -> Result<(), MetaError> {
        let mut start = Vec::new();
        loop {
            let page = self.engine.scan(cf, &start, None, SCAN_BATCH)?;
            let Some((last, _)) = page.last() else { return Ok(()) };
            start = key_successor(last);
            let mut ops = Vec::new();
            for (k, v) in &page {
                each(k, v, &mut ops)?;
            }
            self.engine.write(ops)?;
        }
    }

    /// A page of a per-replica queue (repairs, deletions) after `after`.
    fn page<T: serde::de::DeserializeOwned>(
        &self,
        cf: Cf,
        after: Option<ReplicaCursor>,
        limit: usize,
    ) -> Result<Vec<T>, MetaError> {
        let start = after.map(|(s, p)| key_successor(&replica_key(s, &p))).unwrap_or_default();
        self.engine.scan(cf, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
    }

    /// Every task of one stream's replicas in a per-replica queue (repairs, deletions).
    fn stream_tasks<T: serde::de::DeserializeOwned>(&self, cf: Cf, stream: StreamId) -> Result<Vec<T>, MetaError> {
        let end = prefix_successor(stream.as_bytes());
        self.engine.scan(cf, stream.as_bytes(), end.as_deref(), usize::MAX)?.iter().map(|(_, v)| decode(v)).collect()
    }

    /// Every gateway heartbeat record: (key, last heartbeat in ms).
    fn heartbeats(&self) -> Result<Vec<(Vec<u8>, i64)>, MetaError> {
        let end = prefix_successor(BOOT_PREFIX);
        self.engine
            .scan(Cf::Meta, BOOT_PREFIX, end.as_deref(), usize::MAX)?
            .into_iter()
            .map(|(k, v)| Ok((k, decode::<i64>(&v)?)))
            .collect()
    }

    /// The commit and, when it happened, the sequence number of its log entry.
    fn commit_put(&self, mut c: PutCommit) -> Result<(CommitOutcome, Vec<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(c.bucket, c.key.as_str())])?;
        let Some(bucket) = live_bucket(&mut t, &c.bucket_name, c.bucket)? else {
            return Ok((CommitOutcome::Gone, Vec::new()));
        };
        let history = History::read(&mut t, c.bucket, c.key.as_bytes())?;
        match (&c.condition, &history.current) {
            (WriteCondition::IfAbsent, Some(_)) => return Ok((CommitOutcome::PreconditionFailed, Vec::new())),
            (WriteCondition::IfMatch(_), None) => return Ok((CommitOutcome::NoSuchKey, Vec::new())),
            (WriteCondition::IfMatch(tag), Some(cur)) if !cur.etag.matches(tag) => {
                return Ok((CommitOutcome::PreconditionFailed, Vec::new()));
            }
            _ => {}
        }
        let state = versions::versioning(&mut t, c.bucket)?;
        if state.writes_null() != c.version.null {
            return Ok((CommitOutcome::VersioningChanged, Vec::new()));
        }
        let mut ops = Vec::new();
        let mut dek = c.dek;
        let mut ended = None;
        if let Some(upload) = c.completes_upload {
            let Some(rec) = t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok((CommitOutcome::Gone, Vec::new()));
            };
            dek = rec.dek.clone();
            let kept: Vec<StreamId> = c.version.streams.iter().map(|s| s.stream_id).collect();
            close_upload(&mut t, &rec, &kept, &mut ops)?;
            let done = CompletedUpload {
                bucket_uid: rec.bucket_uid,
                key: rec.key.clone(),
                version_uid: c.version.version_uid,
                completed_ms: c.version.last_modified_ms,
            };
            ops.push(KvOp::Put(Cf::Completed, upload.as_bytes().to_vec(), encode(&done)?));
            ended = Some(rec);
        }
        let own_kek = logging::own_kek(&mut t, c.bucket)?;
        if let Some(kek) = own_kek.as_ref().filter(|kek| **kek != dek.kek_id && !dek.is_customer_wrapped()) {
            // The bucket moved to its own KEK after the data key was wrapped. Read inside the
            // commit's transaction, which a bucket-KEK change (exclusive lifecycle lock) cannot
            // overlap: every data key committed after the change is under the new KEK, every
            // one before it is seen by the rotation job the change starts.
            return Ok((CommitOutcome::KekChanged(kek.clone()), Vec::new()));
        }
        if let Err(denied) = history.supersede(&mut t, state, &mut ops)? {
            return Ok((CommitOutcome::Locked(denied), Vec::new()));
        }
        let scope = LogScope::bucket(&bucket, own_kek);
        let (seq, logged) = logging::log_entry(&mut t, scope.clone(), |seq| {
            c.version.seq = seq;
            c.version.order = seq;
            version_entry(c.bucket, c.key.as_str(), &c.version, &dek)
        })?;
        ops.push(logged);
        let mut seqs = vec![seq];
        // The upload's end, logged after its version: a rebuild does not bring it back.
        if let Some(rec) = ended {
            let (ended_seq, op) = logging::log_entry(&mut t, scope, |s| uploads::upload_ended(s, &rec))?;
            ops.push(op);
            seqs.push(ended_seq);
        }
        for s in &c.version.streams {
            record_stream(s, c.bucket, &mut ops)?;
        }
        for id in &c.intents {
            ops.push(KvOp::Delete(Cf::Intents, id.as_bytes().to_vec()));
        }
        queue_repairs(&c.repairs, &mut ops)?;
        for d in c.deletions {
            queue_deletion(&d, &mut ops)?;
        }
        ops.push(KvOp::Put(Cf::Deks, c.version.version_uid.as_bytes().to_vec(), encode(&dek)?));
        history.put_latest(&c.version, &mut ops)?;
        t.commit(ops)?;
        Ok((CommitOutcome::Committed, seqs))
    }

    fn commit_delete(
        &self,
        name: &BucketName,
        bucket: BucketUid,
        key: &str,
        target: DeleteTarget,
    ) -> Result<(DeleteOutcome, Option<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(bucket, key)])?;
        let Some(rec) = live_bucket(&mut t, name, bucket)? else { return Ok((DeleteOutcome::default(), None)) };
        let history = History::read(&mut t, bucket, key.as_bytes())?;
        let target = match target {
            DeleteTarget::Expire { latest, marker, now_ms } => {
                if history.latest(&mut t)?.map(|v| v.version_uid) != Some(latest) {
                    return Ok((DeleteOutcome::default(), None));
                }
                DeleteTarget::Key { marker, now_ms }
            }
            other => other,
        };
        let state = versions::versioning(&mut t, bucket)?;
        let scope = logging::bucket_scope(&mut t, &rec)?;
        let mut ops = Vec::new();
        let mut out = DeleteOutcome::default();
        let by = |bypass_governance| versions::Removal { now_ms: wall_ms(), bypass_governance };
        let (seq, logged) = match target {
            DeleteTarget::Key { .. } if state == Versioning::Unversioned => {
                if let Some(current) = &history.current
                    && let Err(denied) = history.remove(Place::Current, current, by(false), &mut ops)?
                {
                    return Ok((DeleteOutcome { locked: Some(denied), ..DeleteOutcome::default() }, None));
                }
                out.removed.clone_from(&history.current);
                // A tombstone even when nothing was there: the DELETE is answered 204 either
                // way, and a retried DELETE after a 503 (committed, not logged) must not be
                // acknowledged before a tombstone is in the log, or a rebuild would bring the
                // object back.
                logging::log_entry(&mut t, scope, |seq| LogEntry::Deleted {
                    seq,
                    bucket: *bucket.as_bytes(),
                    key: key.to_owned(),
                })?
            }
            DeleteTarget::Key { marker, now_ms } => {
                let mut m = VersionRecord::marker(marker, now_ms);
                m.null = state.writes_null();
                if let Err(denied) = history.supersede(&mut t, state, &mut ops)? {
                    return Ok((DeleteOutcome { locked: Some(denied), ..DeleteOutcome::default() }, None));
                }
                let logged = logging::log_entry(&mut t, scope, |seq| {
                    m.seq = seq;
                    m.order = seq;
                    version_entry(bucket, key, &m, &WrappedKey::default())
                })?;
                history.put_latest(&m, &mut ops)?;
                out.marker = Some(m);
                logged
            }
            DeleteTarget::Expire { .. } => return Err(MetaError::codec("an expiration left unresolved")),
            DeleteTarget::Version { version: r, bypass_governance } => {
                let found = history.find(&mut t, r)?;
                if let Some((place, v)) = &found {
                    if let Err(denied) = history.remove(*place, v, by(bypass_governance), &mut ops)? {
                        return Ok((DeleteOutcome { locked: Some(denied), ..DeleteOutcome::default() }, None));
                    }
                    if history.current.is_none() || *place == Place::Current {
                        history.promote_newest(&mut t, &[v.order], &mut ops)?;
                    }
                }
                out.removed = found.map(|(_, v)| v);
                logging::log_entry(&mut t, scope, |seq| match r {
                    VersionRef::Null => LogEntry::Deleted { seq, bucket: *bucket.as_bytes(), key: key.to_owned() },
                    VersionRef::Id(uid) => LogEntry::VersionDeleted {
                        seq,
                        bucket: *bucket.as_bytes(),
                        key: key.to_owned(),
                        version: *uid.as_bytes(),
                    },
                })?
            }
        };
        ops.push(logged);
        t.commit(ops)?;
        Ok((out, Some(seq)))
    }

    /// The grouping walk shared by object and upload listings. `item_key` extracts the S3 key
    /// from an engine key; `seek` maps an S3 key to the engine key where it starts.
    fn list_grouped<T: serde::de::DeserializeOwned>(
        &self,
        cf: Cf,
        bucket: BucketUid,
        q: &ListQuery,
        item_key: impl Fn(&[u8]) -> Vec<u8>,
        seek: impl Fn(&[u8]) -> Vec<u8>,
        mut start_key: Vec<u8>,
    ) -> Result<ListPage<T>, MetaError> {
        let base = bucket.as_bytes().to_vec();
        let end = prefix_successor(&base);
        let prefix_start = seek(&q.prefix);
        if start_key < prefix_start {
            start_key = prefix_start;
        }
        let mut entries = Vec::new();
        'outer: loop {
            let batch = self.engine.scan(cf, &start_key, end.as_deref(), SCAN_BATCH)?;
            if batch.is_empty() {
                return Ok(ListPage { entries, truncated: false });
            }
            for (ek, v) in &batch {
                let key = item_key(ek);
                if !key.starts_with(&q.prefix) {
                    return Ok(ListPage { entries, truncated: false });
                }
                if entries.len() == q.max {
                    return Ok(ListPage { entries, truncated: true });
                }
                if let Some(cp) = common_prefix(&key, &q.prefix, q.delimiter.as_deref()) {
                    entries.push(ListEntry::Prefix(cp.clone()));
                    match prefix_successor(&cp) {
                        Some(next) => {
                            start_key = seek(&next);
                            continue 'outer;
                        }
                        None => {
                            return Ok(ListPage { entries, truncated: false });
                        }
                    }
                }
                entries.push(ListEntry::Item(key, decode(v)?));
            }
            start_key = key_successor(&batch[batch.len() - 1].0);
        }
    }
}

/// The log entry of a committed version (its order and null-ness set).
fn version_entry(bucket: BucketUid, key: &str, v: &VersionRecord, dek: &WrappedKey) -> LogEntry {
    LoggedObjectVersion::new(bucket, key, v, dek).entry()
}

/// Where the KEK a bucket was given through the admin API is kept.
fn bucket_kek_key(bucket: BucketUid) -> Vec<u8> {
    format!("bucketkek/{}", hex::encode(bucket.as_bytes())).into_bytes()
}

/// The bucket's own KEK, when `dek` is wrapped under another one (see `commit_put` for why
/// reading it in the commit's transaction suffices).
fn kek_changed(t: &mut impl KvTxn, bucket: BucketUid, dek: &WrappedKey) -> Result<Option<String>, MetaError> {
    // A customer (SSE-C) key wraps it instead of any KEK: it does not follow the bucket's.
    Ok(logging::own_kek(t, bucket)?.filter(|kek| *kek != dek.kek_id && !dek.is_customer_wrapped()))
}

/// Replaces `mv.from` by `mv.to` in `stream`'s replica list (or drops it when `to` holds the
/// stream already): the reason the copy at `from` is deleted, or `None` (nothing changes) when
/// `from` no longer holds it or `to` is still deleting an earlier copy, which could remove the
/// new one.
fn reseat_replica(
    t: &mut impl KvTxn,
    stream: &mut StreamManifest,
    mv: &ReplicaMove,
) -> Result<Option<DeletionReason>, MetaError> {
    let Some(pos) = stream.replicas.iter().position(|p| *p == mv.from) else { return Ok(None) };
    if stream.replicas.contains(&mv.to) && stream.redundancy != crate::model::Redundancy::Replicas {
        // `to` holds another shard: a shard's holder is replaced, never dropped.
        return Ok(None);
    }
    if stream.replicas.contains(&mv.to) {
        stream.replicas.remove(pos);
        return Ok(Some(DeletionReason::Surplus));
    }
    if t.get(Cf::Deletions, &replica_key(mv.stream, &mv.to))?.is_some() {
        return Ok(None);
    }
    stream.replicas[pos] = mv.to.clone();
    Ok(Some(DeletionReason::Evacuated))
}

/// The bucket, if it still exists under this name with this identity (not deleted, nor
/// re-created meanwhile): one point lookup.
fn live_bucket(t: &mut impl KvTxn, name: &BucketName, bucket: BucketUid) -> Result<Option<BucketRecord>, MetaError> {
    Ok(t.get_decoded::<BucketRecord>(Cf::Buckets, name.as_bytes())?.filter(|b| b.uid == bucket))
}

/// Removes an upload and its parts; parts whose streams are not in `keep` go to GC.
fn close_upload(
    t: &mut impl KvTxn,
    rec: &UploadRecord,
    keep: &[StreamId],
    ops: &mut Vec<KvOp>,
) -> Result<(), MetaError> {
    let id = rec.upload_id.as_bytes();
    let end = prefix_successor(id);
    for (k, v) in t.scan(Cf::Parts, id, end.as_deref(), usize::MAX)? {
        let part = PartRecord::decode_stored(&v)?;
        if !keep.contains(&part.stream.stream_id) {
            gc_stream(&part.stream, ops)?;
        }
        ops.push(KvOp::Delete(Cf::Parts, k));
    }
    ops.push(KvOp::Delete(Cf::UploadIds, id.to_vec()));
    let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
    ops.push(KvOp::Delete(Cf::Uploads, index));
    Ok(())
}

/// Queues a stream for deletion at its providers and drops its ownership record.
fn gc_stream(s: &StreamManifest, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    gc_stream_from(s, wall_ms(), ops)
}

/// [`gc_stream`], its copies deleted from `due_ms` on.
fn gc_stream_from(s: &StreamManifest, due_ms: i64, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    let now = wall_ms();
    // A deleted stream needs no repair (and keeps no verification record) any more.
    for p in &s.replicas {
        let mut task = DeletionTask::new(s.stream_id, p.clone(), DeletionReason::Unreferenced, now);
        task.due_ms = due_ms.max(now);
        queue_deletion(&task, ops)?;
        ops.push(KvOp::Delete(Cf::Repair, replica_key(s.stream_id, p)));
        ops.push(KvOp::Delete(Cf::Verified, replica_key(s.stream_id, p)));
    }
    ops.push(KvOp::Delete(Cf::Streams, s.stream_id.as_bytes().to_vec()));
    ops.push(KvOp::Delete(Cf::Owners, s.stream_id.as_bytes().to_vec()));
    Ok(())
}

/// Wall-clock time in ms since the epoch (record times; never used for ordering).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The common prefix `key` rolls up into, if the delimiter occurs after the prefix.
fn common_prefix(key: &[u8], prefix: &[u8], delimiter: Option<&[u8]>) -> Option<Vec<u8>> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = &key[prefix.len()..];
    let pos = rest.windows(d.len()).position(|w| w == d)?;
    Some(key[..prefix.len() + pos + d.len()].to_vec())
}

fn start_position(q: &ListQuery) -> Vec<u8> {
    match &q.start {
        ListStart::Beginning => Vec::new(),
        ListStart::AfterKey(k) => key_successor(k),
        ListStart::AfterPrefix(p) => prefix_successor(p).unwrap_or_else(|| vec![0xFF; 1025]),
    }
}

fn gc_version(v: &VersionRecord, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    for s in &v.streams {
        gc_stream(s, ops)?;
    }
    ops.push(KvOp::Delete(Cf::Deks, v.version_uid.as_bytes().to_vec()));
    Ok(())
}
