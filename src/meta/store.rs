//! The metadata store logic, written once over any [`KvEngine`]. Conditional commits run in
//! engine transactions that hold the key's lock; bucket creation and deletion hold the
//! lifecycle lock that commits share (see [`TxnLock`]). With a shared engine (PostgreSQL) these
//! locks hold across gateways.

use std::sync::Arc;

use async_trait::async_trait;

use super::audit_chain::{SEAL, SealingKey, WRAPPED_KEY, commit_audited};
use super::codec::{decode, encode, escape_into, key_successor, prefix_successor};
use super::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use super::replica_queue::{claim_due, queue_deletion, queue_repairs, replica_key, replica_live};
use super::{
    AuditedChange, CatalogOverrides, CompletedUpload, DekRewrap, DeletionReason, DeletionTask, JobRecord, RepairTask,
    ReplicaMove,
};
use super::{
    BucketRecord, CommitOutcome, GcTask, Intent, ListEntry, ListPage, ListQuery, ListStart, MetaError, MetadataStore,
    PartRecord, PutCommit, ReplicaCursor, UploadRecord, VersionRecord, WriteCondition,
};
use crate::keys::WrappedKey;
use crate::model::audit::{AuditEntry, AuditKey, AuditRecord, AuditSeal};
use crate::model::{BootId, BucketUid, ProviderId, StreamId, StreamManifest, UploadId, VersionUid};

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
}

/// Commits that need their bucket to stay.
const LIFE_SHARED: TxnLock = TxnLock::Lifecycle { exclusive: false };
/// Bucket creation and deletion, residency changes.
const LIFE_EXCLUSIVE: TxnLock = TxnLock::Lifecycle { exclusive: true };

fn key_lock(bucket: BucketUid, key: &str) -> TxnLock {
    TxnLock::key(bucket.as_bytes(), key.as_bytes())
}

impl<E: KvEngine> KvMetadataStore<E> {
    /// Wraps an opened engine, recording stream owners once for a store written before they
    /// were kept (engine calls block, so on a blocking thread).
    pub async fn new(engine: E) -> Result<Self, MetaError> {
        let store = Self { inner: Arc::new(Inner { engine, sealing: SealingKey::default() }) };
        store.run(|i| i.record_stream_owners()).await?;
        Ok(store)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner<E>) -> Result<T, MetaError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| MetaError::Engine(format!("metadata task failed: {e}")))?
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

fn upload_index_key(bucket: BucketUid, key: &[u8], id: UploadId) -> Vec<u8> {
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
        let mut start = Vec::new();
        loop {
            let page = self.engine.scan(Cf::Objects, &start, None, SCAN_BATCH)?;
            let Some((last, _)) = page.last() else { break };
            start = key_successor(last);
            let mut ops = Vec::new();
            for (k, v) in &page {
                let Some(uid) = k.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok()) else { continue };
                for s in decode::<VersionRecord>(v)?.streams {
                    ops.push(KvOp::Put(Cf::Owners, s.stream_id.as_bytes().to_vec(), encode(&BucketUid(uid))?));
                }
            }
            self.engine.write(ops)?;
        }
        for (_, v) in self.engine.scan(Cf::UploadIds, b"", None, usize::MAX)? {
            let rec: UploadRecord = decode(&v)?;
            let id = rec.upload_id.as_bytes();
            let end = prefix_successor(id);
            let mut ops = Vec::new();
            for (_, p) in self.engine.scan(Cf::Parts, id, end.as_deref(), usize::MAX)? {
                let part: PartRecord = decode(&p)?;
                ops.push(KvOp::Put(Cf::Owners, part.stream.stream_id.as_bytes().to_vec(), encode(&rec.bucket_uid)?));
            }
            self.engine.write(ops)?;
        }
        self.engine.write(vec![KvOp::Put(Cf::Meta, OWNERS_MARKER.to_vec(), encode(&true)?)])
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

    fn gc_version(&self, v: &VersionRecord, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
        for s in &v.streams {
            gc_stream(s, ops)?;
        }
        ops.push(KvOp::Delete(Cf::Deks, v.version_uid.as_bytes().to_vec()));
        Ok(())
    }

    fn commit_put(&self, mut c: PutCommit) -> Result<CommitOutcome, MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(c.bucket, &c.key)])?;
        if !bucket_exists(&mut t, &c.bucket_name, c.bucket)? {
            return Ok(CommitOutcome::Gone);
        }
        let okey = object_key(c.bucket, c.key.as_bytes());
        let current: Option<VersionRecord> = t.get_decoded(Cf::Objects, &okey)?;
        match (&c.condition, &current) {
            (WriteCondition::IfAbsent, Some(_)) => return Ok(CommitOutcome::PreconditionFailed),
            (WriteCondition::IfMatch(_), None) => return Ok(CommitOutcome::NoSuchKey),
            (WriteCondition::IfMatch(tag), Some(cur)) if !cur.etag.matches(tag) => {
                return Ok(CommitOutcome::PreconditionFailed);
            }
            _ => {}
        }
        let mut ops = Vec::new();
        let mut dek = c.dek;
        if let Some(upload) = c.completes_upload {
            let Some(rec) = t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok(CommitOutcome::Gone);
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
        }
        if let Some(kek) = kek_changed(&mut t, c.bucket, &dek)? {
            return Ok(CommitOutcome::KekChanged(kek));
        }
        if let Some(old) = &current {
            self.gc_version(old, &mut ops)?;
        }
        c.version.seq = t.next_seq()?;
        for s in &c.version.streams {
            ops.push(KvOp::Put(Cf::Streams, s.stream_id.as_bytes().to_vec(), encode(s)?));
            ops.push(KvOp::Put(Cf::Owners, s.stream_id.as_bytes().to_vec(), encode(&c.bucket)?));
        }
        for id in &c.intents {
            ops.push(KvOp::Delete(Cf::Intents, id.as_bytes().to_vec()));
        }
        queue_repairs(&c.repairs, &mut ops)?;
        for d in c.deletions {
            queue_deletion(d, &mut ops)?;
        }
        ops.push(KvOp::Put(Cf::Deks, c.version.version_uid.as_bytes().to_vec(), encode(&dek)?));
        ops.push(KvOp::Put(Cf::Objects, okey, encode(&c.version)?));
        t.commit(ops)?;
        Ok(CommitOutcome::Committed)
    }

    fn commit_delete(&self, bucket: BucketUid, key: &str) -> Result<bool, MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(bucket, key)])?;
        let okey = object_key(bucket, key.as_bytes());
        let Some(current) = t.get_decoded::<VersionRecord>(Cf::Objects, &okey)? else {
            return Ok(false);
        };
        let mut ops = vec![KvOp::Delete(Cf::Objects, okey)];
        self.gc_version(&current, &mut ops)?;
        t.next_seq()?;
        t.commit(ops)?;
        Ok(true)
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

/// The bucket still exists under this name with this identity (not deleted, nor re-created
/// meanwhile): one point lookup.
/// Where the KEK a bucket was given through the admin API is kept.
fn bucket_kek_key(bucket: BucketUid) -> Vec<u8> {
    format!("bucketkek/{}", hex::encode(bucket.as_bytes())).into_bytes()
}

/// The bucket's own KEK, when `dek` is wrapped under another one. Read inside the commit's
/// transaction, which a bucket-KEK change (exclusive lifecycle lock) cannot overlap: every data
/// key committed after the change is under the new KEK, every one before it is seen by the
/// rotation job the change starts.
fn kek_changed(t: &mut impl KvTxn, bucket: BucketUid, dek: &WrappedKey) -> Result<Option<String>, MetaError> {
    let own: Option<String> = t.get_decoded(Cf::Catalog, &bucket_kek_key(bucket))?;
    Ok(own.filter(|kek| *kek != dek.kek_id))
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

fn bucket_exists(t: &mut impl KvTxn, name: &str, bucket: BucketUid) -> Result<bool, MetaError> {
    Ok(t.get_decoded::<BucketRecord>(Cf::Buckets, name.as_bytes())?.is_some_and(|b| b.uid == bucket))
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
        let part: PartRecord = decode(&v)?;
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
    let now = wall_ms();
    // A deleted stream needs no repair (and keeps no verification record) any more.
    for p in &s.replicas {
        queue_deletion(DeletionTask::new(s.stream_id, p.clone(), DeletionReason::Unreferenced, now), ops)?;
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

#[async_trait]
impl<E: KvEngine> MetadataStore for KvMetadataStore<E> {
    async fn buckets(&self) -> Result<Vec<BucketRecord>, MetaError> {
        self.run(|i| i.engine.scan(Cf::Buckets, b"", None, usize::MAX)?.iter().map(|(_, v)| decode(v)).collect()).await
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, MetaError> {
        let name = name.to_owned();
        self.run(move |i| i.get(Cf::Buckets, name.as_bytes())).await
    }

    async fn create_bucket(
        &self,
        rec: BucketRecord,
        audit: AuditEntry,
    ) -> Result<Result<AuditRecord, BucketRecord>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE, TxnLock::Audit])?;
            if let Some(existing) = t.get_decoded::<BucketRecord>(Cf::Buckets, rec.name.as_bytes())? {
                return Ok(Err(existing));
            }
            let ops = vec![KvOp::Put(Cf::Buckets, rec.name.as_bytes().to_vec(), encode(&rec)?)];
            Ok(Ok(commit_audited(t, ops, audit, &i.sealing, wall_ms())?))
        })
        .await
    }

    async fn delete_bucket(&self, name: &str) -> Result<bool, MetaError> {
        let name = name.to_owned();
        self.run(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE])?;
            let Some(rec) = t.get_decoded::<BucketRecord>(Cf::Buckets, name.as_bytes())? else {
                return Ok(true);
            };
            let base = rec.uid.as_bytes().to_vec();
            let end = prefix_successor(&base);
            let has_objects = !t.scan(Cf::Objects, &base, end.as_deref(), 1)?.is_empty();
            let has_uploads = !t.scan(Cf::Uploads, &base, end.as_deref(), 1)?.is_empty();
            if has_objects || has_uploads {
                return Ok(false);
            }
            t.commit(vec![KvOp::Delete(Cf::Buckets, name.into_bytes())])?;
            Ok(true)
        })
        .await
    }

    async fn current(&self, bucket: BucketUid, key: &str) -> Result<Option<VersionRecord>, MetaError> {
        let k = object_key(bucket, key.as_bytes());
        self.run(move |i| i.get(Cf::Objects, &k)).await
    }

    async fn dek(&self, version: VersionUid) -> Result<Option<WrappedKey>, MetaError> {
        self.run(move |i| i.get(Cf::Deks, version.as_bytes())).await
    }

    async fn record_intent(&self, intent: Intent) -> Result<(), MetaError> {
        self.run(move |i| {
            i.engine.write(vec![KvOp::Put(Cf::Intents, intent.stream_id.as_bytes().to_vec(), encode(&intent)?)])
        })
        .await
    }

    async fn abandon_intents(&self, streams: Vec<GcTask>) -> Result<(), MetaError> {
        self.run(move |i| {
            let mut ops = Vec::new();
            let now = wall_ms();
            for t in &streams {
                for p in &t.targets {
                    // Due at once; the collector waits out its settle time from `created`.
                    let task = DeletionTask::new(t.stream_id, p.clone(), DeletionReason::Abandoned, now);
                    queue_deletion(task, &mut ops)?;
                }
                ops.push(KvOp::Delete(Cf::Intents, t.stream_id.as_bytes().to_vec()));
            }
            i.engine.write(ops)
        })
        .await
    }

    async fn commit_put(&self, c: PutCommit) -> Result<CommitOutcome, MetaError> {
        self.run(move |i| i.commit_put(c)).await
    }

    async fn commit_delete(&self, bucket: BucketUid, key: &str) -> Result<bool, MetaError> {
        let key = key.to_owned();
        self.run(move |i| i.commit_delete(bucket, &key)).await
    }

    async fn list(&self, bucket: BucketUid, q: &ListQuery) -> Result<ListPage<VersionRecord>, MetaError> {
        let q = q.clone();
        self.run(move |i| {
            let start = object_key(bucket, &start_position(&q));
            i.list_grouped(Cf::Objects, bucket, &q, |ek| ek[16..].to_vec(), |k| object_key(bucket, k), start)
        })
        .await
    }

    async fn create_upload(&self, rec: UploadRecord) -> Result<Option<String>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[LIFE_SHARED])?;
            if let Some(kek) = kek_changed(&mut t, rec.bucket_uid, &rec.dek)? {
                return Ok(Some(kek));
            }
            let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
            t.commit(vec![
                KvOp::Put(Cf::UploadIds, rec.upload_id.as_bytes().to_vec(), encode(&rec)?),
                KvOp::Put(Cf::Uploads, index, encode(&rec)?),
            ])?;
            Ok(None)
        })
        .await
    }

    async fn upload(&self, id: UploadId) -> Result<Option<UploadRecord>, MetaError> {
        self.run(move |i| i.get(Cf::UploadIds, id.as_bytes())).await
    }

    async fn list_uploads(
        &self,
        bucket: BucketUid,
        q: &ListQuery,
        after_upload: Option<UploadId>,
    ) -> Result<ListPage<UploadRecord>, MetaError> {
        let q = q.clone();
        self.run(move |i| {
            let seek = |k: &[u8]| {
                let mut out = bucket.as_bytes().to_vec();
                escape_into(&mut out, k);
                out.truncate(out.len() - 2); // without the terminator: every upload of keys ≥ k
                out
            };
            let start = match (&q.start, after_upload) {
                (ListStart::AfterKey(k), Some(id)) => key_successor(&upload_index_key(bucket, k, id)),
                (ListStart::AfterKey(k), None) => seek(&key_successor(k)),
                (ListStart::AfterPrefix(p), _) => {
                    prefix_successor(p).map(|n| seek(&n)).unwrap_or_else(|| vec![0xFF; 32])
                }
                (ListStart::Beginning, _) => seek(b""),
            };
            i.list_grouped(Cf::Uploads, bucket, &q, upload_object_key, seek, start)
        })
        .await
    }

    async fn commit_part(
        &self,
        upload: UploadId,
        part_number: u32,
        part: PartRecord,
        repairs: Vec<RepairTask>,
    ) -> Result<CommitOutcome, MetaError> {
        self.run(move |i| {
            let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok(CommitOutcome::Gone);
            };
            let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(rec.bucket_uid, &rec.key)])?;
            // Re-check under the key's lock: Complete and Abort take it too.
            if t.get(Cf::UploadIds, upload.as_bytes())?.is_none() {
                return Ok(CommitOutcome::Gone);
            }
            let pk = part_key(upload, part_number);
            let mut ops = Vec::new();
            if let Some(old) = t.get_decoded::<PartRecord>(Cf::Parts, &pk)? {
                gc_stream(&old.stream, &mut ops)?;
            }
            let sid = part.stream.stream_id.as_bytes().to_vec();
            ops.push(KvOp::Put(Cf::Streams, sid.clone(), encode(&part.stream)?));
            ops.push(KvOp::Put(Cf::Owners, sid.clone(), encode(&rec.bucket_uid)?));
            ops.push(KvOp::Delete(Cf::Intents, sid));
            queue_repairs(&repairs, &mut ops)?;
            ops.push(KvOp::Put(Cf::Parts, pk, encode(&part)?));
            t.commit(ops)?;
            Ok(CommitOutcome::Committed)
        })
        .await
    }

    async fn parts(&self, upload: UploadId, after: u32, limit: usize) -> Result<Vec<(u32, PartRecord)>, MetaError> {
        self.run(move |i| {
            let start = part_key(upload, after.saturating_add(1));
            let end = prefix_successor(upload.as_bytes());
            i.engine
                .scan(Cf::Parts, &start, end.as_deref(), limit)?
                .into_iter()
                .map(|(k, v)| {
                    let n = u32::from_be_bytes([k[16], k[17], k[18], k[19]]);
                    Ok((n, decode(&v)?))
                })
                .collect()
        })
        .await
    }

    async fn abort_upload(&self, upload: UploadId) -> Result<bool, MetaError> {
        self.run(move |i| {
            let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok(false);
            };
            let mut t = i.engine.begin(&[key_lock(rec.bucket_uid, &rec.key)])?;
            // Re-read under the key's lock: a Complete or another Abort may have closed it.
            let Some(rec) = t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok(false);
            };
            let mut ops = Vec::new();
            close_upload(&mut t, &rec, &[], &mut ops)?;
            ops.push(KvOp::Delete(Cf::Deks, rec.version_uid.as_bytes().to_vec()));
            t.commit(ops)?;
            Ok(true)
        })
        .await
    }

    async fn stale_intents(
        &self,
        live: Vec<BootId>,
        older_than_ms: i64,
        limit: usize,
    ) -> Result<Vec<Intent>, MetaError> {
        self.run(move |i| {
            let mut out = Vec::new();
            for (_, v) in i.engine.scan(Cf::Intents, b"", None, usize::MAX)? {
                let intent: Intent = decode(&v)?;
                if !live.contains(&intent.boot_id) || intent.created_ms < older_than_ms {
                    out.push(intent);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn claim_deletions(&self, now_ms: i64, lease_ms: i64, limit: usize) -> Result<Vec<DeletionTask>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            let mut ops = Vec::new();
            // Stream-wide GC tasks of a store written before per-replica deletions: split.
            for (k, v) in t.scan(Cf::Gc, b"", None, SCAN_BATCH)? {
                let legacy: GcTask = decode(&v)?;
                for p in legacy.targets {
                    let task = DeletionTask::new(legacy.stream_id, p, DeletionReason::Unreferenced, now_ms);
                    if t.get(Cf::Deletions, &replica_key(task.stream_id, &task.provider))?.is_none() {
                        queue_deletion(task, &mut ops)?;
                    }
                }
                ops.push(KvOp::Delete(Cf::Gc, k));
            }
            // Live again (a later move brought the replica back): deleting would lose it.
            let live = |t: &mut E::Txn<'_>, task: &DeletionTask| replica_live(t, task.stream_id, &task.provider);
            let out = claim_due(&mut t, Cf::Deletions, now_ms, lease_ms, limit, &mut ops, live)?;
            if !ops.is_empty() {
                t.commit(ops)?;
            }
            Ok(out)
        })
        .await
    }

    async fn finish_deletion(&self, task: DeletionTask, done: bool) -> Result<(), MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            let key = replica_key(task.stream_id, &task.provider);
            // Decided again meanwhile (a late copy landed): that newer decision stays queued.
            match t.get_decoded::<DeletionTask>(Cf::Deletions, &key)? {
                Some(stored) if stored.generation == task.generation => {}
                _ => return Ok(()),
            }
            let op =
                if done { KvOp::Delete(Cf::Deletions, key) } else { KvOp::Put(Cf::Deletions, key, encode(&task)?) };
            t.commit(vec![op])
        })
        .await
    }

    async fn queue_deletions(&self, tasks: Vec<DeletionTask>) -> Result<(), MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            let mut ops = Vec::new();
            for mut task in tasks {
                let key = replica_key(task.stream_id, &task.provider);
                if let Some(queued) = t.get_decoded::<DeletionTask>(Cf::Deletions, &key)? {
                    task.created_ms = queued.created_ms;
                    task.generation = queued.generation.wrapping_add(1);
                }
                queue_deletion(task, &mut ops)?;
            }
            t.commit(ops)
        })
        .await
    }

    async fn deletions(&self, after: Option<ReplicaCursor>, limit: usize) -> Result<Vec<DeletionTask>, MetaError> {
        self.run(move |i| i.page(Cf::Deletions, after, limit)).await
    }

    async fn stream_deletions(&self, stream: StreamId) -> Result<Vec<DeletionTask>, MetaError> {
        self.run(move |i| i.stream_tasks(Cf::Deletions, stream)).await
    }

    async fn stream_owner(&self, stream: StreamId) -> Result<Option<BucketUid>, MetaError> {
        self.run(move |i| i.get(Cf::Owners, stream.as_bytes())).await
    }

    async fn stream_manifest(&self, stream: StreamId) -> Result<Option<StreamManifest>, MetaError> {
        self.run(move |i| i.get(Cf::Streams, stream.as_bytes())).await
    }

    async fn claim_repairs(&self, now_ms: i64, lease_ms: i64, limit: usize) -> Result<Vec<RepairTask>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            let mut ops = Vec::new();
            let out = claim_due(&mut t, Cf::Repair, now_ms, lease_ms, limit, &mut ops, |_, _: &RepairTask| Ok(false))?;
            if !ops.is_empty() {
                t.commit(ops)?;
            }
            Ok(out)
        })
        .await
    }

    async fn repairs(&self, after: Option<ReplicaCursor>, limit: usize) -> Result<Vec<RepairTask>, MetaError> {
        self.run(move |i| i.page(Cf::Repair, after, limit)).await
    }

    async fn stream_repairs(&self, stream: StreamId) -> Result<Vec<RepairTask>, MetaError> {
        self.run(move |i| i.stream_tasks(Cf::Repair, stream)).await
    }

    async fn queue_repair(&self, task: RepairTask) -> Result<(), MetaError> {
        self.run(move |i| {
            // Under the claims lock, so a task being claimed (perhaps being copied right now by
            // another gateway) is neither reset nor handed to a second worker.
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            if t.get(Cf::Repair, &replica_key(task.stream_id, &task.provider))?.is_some() {
                return Ok(());
            }
            let mut ops = Vec::new();
            queue_repairs(std::slice::from_ref(&task), &mut ops)?;
            t.commit(ops)
        })
        .await
    }

    async fn update_repair(&self, task: RepairTask, done: bool) -> Result<(), MetaError> {
        self.run(move |i| {
            let key = replica_key(task.stream_id, &task.provider);
            // A task of a stream that was deleted meanwhile stays deleted.
            if !done && i.engine.get(Cf::Repair, &key)?.is_none() {
                return Ok(());
            }
            let op = if done { KvOp::Delete(Cf::Repair, key) } else { KvOp::Put(Cf::Repair, key, encode(&task)?) };
            i.engine.write(vec![op])
        })
        .await
    }

    async fn apply_change(&self, change: AuditedChange, audit: AuditEntry) -> Result<Option<AuditRecord>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE, TxnLock::Audit])?;
            let ops = match change {
                AuditedChange::RecordOnly => Vec::new(),
                AuditedChange::Provider(p) => {
                    vec![KvOp::Put(Cf::Catalog, format!("provider/{}", p.id).into_bytes(), encode(&p)?)]
                }
                AuditedChange::Policy(p) => {
                    vec![KvOp::Put(Cf::Catalog, format!("policy/{}", p.id).into_bytes(), encode(&p)?)]
                }
                AuditedChange::BucketPolicy { bucket, policy_id } => {
                    let Some(mut rec) = t.get_decoded::<BucketRecord>(Cf::Buckets, bucket.as_bytes())? else {
                        return Ok(None);
                    };
                    rec.policy_id = policy_id;
                    vec![KvOp::Put(Cf::Buckets, bucket.into_bytes(), encode(&rec)?)]
                }
                AuditedChange::BucketKek { bucket, kek } => {
                    vec![KvOp::Put(Cf::Catalog, bucket_kek_key(bucket), encode(&kek)?)]
                }
                AuditedChange::KekShredded { kek, at_ms } => {
                    vec![KvOp::Put(Cf::Catalog, format!("shredded/{kek}").into_bytes(), encode(&at_ms)?)]
                }
            };
            Ok(Some(commit_audited(t, ops, audit, &i.sealing, wall_ms())?))
        })
        .await
    }

    async fn catalog_overrides(&self) -> Result<CatalogOverrides, MetaError> {
        self.run(|i| {
            let mut out = CatalogOverrides::default();
            for (k, v) in i.engine.scan(Cf::Catalog, b"", None, usize::MAX)? {
                if k.starts_with(b"provider/") {
                    out.providers.push(decode(&v)?);
                } else if k.starts_with(b"policy/") {
                    out.policies.push(decode(&v)?);
                } else if let Some(uid) = k.strip_prefix(b"bucketkek/") {
                    let uid = hex::decode(uid).ok().and_then(|b| <[u8; 16]>::try_from(b).ok());
                    if let Some(uid) = uid {
                        out.bucket_keks.push((BucketUid(uid), decode(&v)?));
                    }
                } else if let Some(kek) = k.strip_prefix(b"shredded/") {
                    out.shredded_keks.push((String::from_utf8_lossy(kek).into_owned(), decode(&v)?));
                }
            }
            Ok(out)
        })
        .await
    }

    fn set_audit_key(&self, key: Arc<AuditKey>) {
        self.inner.sealing.set(key);
    }

    async fn audit_key(&self) -> Result<Option<WrappedKey>, MetaError> {
        self.run(|i| i.get(Cf::Meta, WRAPPED_KEY)).await
    }

    async fn init_audit_key(&self, wrapped: WrappedKey) -> Result<WrappedKey, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Audit])?;
            if let Some(existing) = t.get_decoded::<WrappedKey>(Cf::Meta, WRAPPED_KEY)? {
                return Ok(existing);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, WRAPPED_KEY.to_vec(), encode(&wrapped)?)])?;
            Ok(wrapped)
        })
        .await
    }

    async fn audit_seal(&self) -> Result<Option<AuditSeal>, MetaError> {
        self.run(|i| i.get(Cf::Meta, SEAL)).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, MetaError> {
        self.run(move |i| {
            let start = after.saturating_add(1).to_be_bytes();
            i.engine.scan(Cf::Audit, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
        })
        .await
    }

    async fn rewrap_dek(&self, r: DekRewrap) -> Result<bool, MetaError> {
        self.run(move |i| {
            match r {
                DekRewrap::Version { bucket, key, version, expected, new } => {
                    let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(bucket, &key)])?;
                    let current = t.get_decoded::<VersionRecord>(Cf::Objects, &object_key(bucket, key.as_bytes()))?;
                    let stored = t.get_decoded::<WrappedKey>(Cf::Deks, version.as_bytes())?;
                    if current.is_none_or(|v| v.version_uid != version) || stored.as_ref() != Some(&expected) {
                        return Ok(false);
                    }
                    t.commit(vec![KvOp::Put(Cf::Deks, version.as_bytes().to_vec(), encode(&new)?)])?;
                    Ok(true)
                }
                DekRewrap::Upload { upload, expected, new } => {
                    let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                        return Ok(false);
                    };
                    let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(rec.bucket_uid, &rec.key)])?;
                    // Read again under the key's lock: Complete and Abort remove the upload under it.
                    let mut rec = match t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? {
                        Some(again) if again.dek == expected => again,
                        _ => return Ok(false),
                    };
                    rec.dek = new;
                    let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
                    t.commit(vec![
                        KvOp::Put(Cf::UploadIds, upload.as_bytes().to_vec(), encode(&rec)?),
                        KvOp::Put(Cf::Uploads, index, encode(&rec)?),
                    ])?;
                    Ok(true)
                }
            }
        })
        .await
    }

    async fn move_replica(&self, mv: ReplicaMove, audit: AuditEntry) -> Result<bool, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(mv.bucket, &mv.key), TxnLock::Audit])?;
            let mut ops = Vec::new();
            let (manifest, reason) = match mv.part {
                None => {
                    let okey = object_key(mv.bucket, mv.key.as_bytes());
                    let Some(mut v) = t.get_decoded::<VersionRecord>(Cf::Objects, &okey)? else {
                        return Ok(false);
                    };
                    if v.version_uid != mv.version {
                        return Ok(false);
                    }
                    let Some(stream) = v.streams.iter_mut().find(|s| s.stream_id == mv.stream) else {
                        return Ok(false);
                    };
                    let Some(reason) = reseat_replica(&mut t, stream, &mv)? else { return Ok(false) };
                    let manifest = stream.clone();
                    ops.push(KvOp::Put(Cf::Objects, okey, encode(&v)?));
                    (manifest, reason)
                }
                Some((upload, number)) => {
                    // Read under the key's lock: Complete and Abort take it too.
                    if t.get(Cf::UploadIds, upload.as_bytes())?.is_none() {
                        return Ok(false);
                    }
                    let pk = part_key(upload, number);
                    let Some(mut part) = t.get_decoded::<PartRecord>(Cf::Parts, &pk)? else { return Ok(false) };
                    if part.stream.stream_id != mv.stream {
                        return Ok(false);
                    }
                    let Some(reason) = reseat_replica(&mut t, &mut part.stream, &mv)? else { return Ok(false) };
                    let manifest = part.stream.clone();
                    ops.push(KvOp::Put(Cf::Parts, pk, encode(&part)?));
                    (manifest, reason)
                }
            };
            ops.extend([
                KvOp::Put(Cf::Streams, mv.stream.as_bytes().to_vec(), encode(&manifest)?),
                // The provider gives the replica up: it owes no repair any more.
                KvOp::Delete(Cf::Repair, replica_key(mv.stream, &mv.from)),
                KvOp::Delete(Cf::Verified, replica_key(mv.stream, &mv.from)),
            ]);
            // Its copy there is deleted by a durable task decided in this very commit.
            queue_deletion(DeletionTask::new(mv.stream, mv.from.clone(), reason, wall_ms()), &mut ops)?;
            commit_audited(t, ops, audit, &i.sealing, wall_ms())?;
            Ok(true)
        })
        .await
    }

    async fn record_verification(
        &self,
        stream: StreamId,
        provider: ProviderId,
        at_ms: i64,
        deep: bool,
    ) -> Result<(), MetaError> {
        self.run(move |i| {
            // A stream deleted meanwhile (which drops its records) is not given a new one: a
            // delete racing this check can still leave one stale record, which the next
            // scrub of a reused id would overwrite and nothing reads for a deleted stream.
            let mut t = i.engine.begin(&[])?;
            if t.get(Cf::Streams, stream.as_bytes())?.is_none() {
                return Ok(());
            }
            t.commit(vec![KvOp::Put(Cf::Verified, replica_key(stream, &provider), encode(&(at_ms, deep))?)])
        })
        .await
    }

    async fn verifications(&self, stream: StreamId) -> Result<Vec<(ProviderId, i64, bool)>, MetaError> {
        self.run(move |i| {
            let prefix = stream.as_bytes().to_vec();
            let end = prefix_successor(&prefix);
            let mut out = Vec::new();
            for (k, v) in i.engine.scan(Cf::Verified, &prefix, end.as_deref(), usize::MAX)? {
                let provider = std::str::from_utf8(&k[prefix.len()..])
                    .ok()
                    .and_then(ProviderId::parse)
                    .ok_or_else(|| MetaError::Codec("bad verification key".into()))?;
                let (ms, deep) = decode::<(i64, bool)>(&v)?;
                out.push((provider, ms, deep));
            }
            Ok(out)
        })
        .await
    }

    async fn holds_data_keys(&self) -> Result<bool, MetaError> {
        self.run(|i| {
            Ok(!i.engine.scan(Cf::Deks, b"", None, 1)?.is_empty()
                || !i.engine.scan(Cf::UploadIds, b"", None, 1)?.is_empty())
        })
        .await
    }

    async fn kek_fingerprint(&self, kek: &str) -> Result<Option<String>, MetaError> {
        let key = format!("kekfp/{kek}").into_bytes();
        self.run(move |i| i.get(Cf::Meta, &key)).await
    }

    async fn record_kek_fingerprint(&self, kek: &str, fingerprint: String) -> Result<String, MetaError> {
        let key = format!("kekfp/{kek}").into_bytes();
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            if let Some(recorded) = t.get_decoded::<String>(Cf::Meta, &key)? {
                return Ok(recorded);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, key, encode(&fingerprint)?)])?;
            Ok(fingerprint)
        })
        .await
    }

    async fn job(&self, name: &str) -> Result<Option<JobRecord>, MetaError> {
        let key = format!("job/{name}").into_bytes();
        self.run(move |i| i.get(Cf::Meta, &key)).await
    }

    async fn put_job(&self, job: JobRecord) -> Result<(), MetaError> {
        self.run(move |i| {
            i.engine.write(vec![KvOp::Put(Cf::Meta, format!("job/{}", job.name).into_bytes(), encode(&job)?)])
        })
        .await
    }

    async fn take_lease(&self, name: &str, holder: BootId, now_ms: i64, ttl_ms: i64) -> Result<bool, MetaError> {
        let key = format!("lease/{name}").into_bytes();
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            // With a store one process owns, any other holder is an earlier run of it: gone.
            if let Some((other, until)) = t.get_decoded::<(BootId, i64)>(Cf::Meta, &key)?
                && E::SHARED
                && other != holder
                && until > now_ms
            {
                return Ok(false);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, key, encode(&(holder, now_ms.saturating_add(ttl_ms)))?)])?;
            Ok(true)
        })
        .await
    }

    fn is_shared(&self) -> bool {
        E::SHARED
    }

    async fn heartbeat(&self, boot: BootId, now_ms: i64) -> Result<(), MetaError> {
        if !E::SHARED {
            return Ok(());
        }
        self.run(move |i| {
            // Forget gateways silent for a day, so restarts do not pile up records.
            let mut ops = vec![KvOp::Put(Cf::Meta, boot_key(boot), encode(&now_ms)?)];
            for (k, last_ms) in i.heartbeats()? {
                if last_ms < now_ms - 24 * 3600 * 1000 {
                    ops.push(KvOp::Delete(Cf::Meta, k));
                }
            }
            i.engine.write(ops)
        })
        .await
    }

    async fn live_boots(&self, since_ms: i64) -> Result<Vec<BootId>, MetaError> {
        if !E::SHARED {
            return Ok(Vec::new());
        }
        self.run(move |i| {
            let live = i.heartbeats()?.into_iter().filter(|(_, last_ms)| *last_ms >= since_ms);
            Ok(live
                .filter_map(|(k, _)| std::str::from_utf8(&k[BOOT_PREFIX.len()..]).ok().and_then(BootId::from_hex))
                .collect())
        })
        .await
    }

    async fn scan_streams(&self, after: Option<StreamId>, limit: usize) -> Result<Vec<StreamManifest>, MetaError> {
        self.run(move |i| {
            let start = after.map(|a| key_successor(a.as_bytes())).unwrap_or_default();
            i.engine.scan(Cf::Streams, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
        })
        .await
    }

    async fn completed_upload(&self, id: UploadId) -> Result<Option<CompletedUpload>, MetaError> {
        self.run(move |i| i.get(Cf::Completed, id.as_bytes())).await
    }

    async fn expire_completed(&self, before_ms: i64) -> Result<usize, MetaError> {
        self.run(move |i| {
            let mut ops = Vec::new();
            for (k, v) in i.engine.scan(Cf::Completed, b"", None, usize::MAX)? {
                if decode::<CompletedUpload>(&v)?.completed_ms < before_ms {
                    ops.push(KvOp::Delete(Cf::Completed, k));
                }
            }
            let n = ops.len();
            i.engine.write(ops)?;
            Ok(n)
        })
        .await
    }
}
