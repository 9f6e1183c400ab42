//! The store's [`UploadMeta`]: multipart uploads and their parts.

use super::logging::{bucket_by_uid, bucket_scope, log_entry};
use super::{
    KvMetadataStore, LIFE_SHARED, close_upload, gc_stream, kek_changed, key_lock, part_key, upload_index_key,
    upload_object_key,
};
use crate::meta::UploadMeta;
use crate::meta::codec::{decode, encode, escape_into, key_successor, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn};
use crate::meta::log_entry::{LogEntry, LoggedPart, LoggedUpload};
use crate::meta::replica_queue::queue_repairs;
use crate::meta::{CommitOutcome, ListPage, ListQuery, ListStart, MetaError, PartRecord, UploadRecord};
use crate::meta::{CompletedUpload, RepairTask};
use crate::model::{BucketUid, UploadId};
use async_trait::async_trait;

#[async_trait]
impl<E: KvEngine> UploadMeta for KvMetadataStore<E> {
    async fn create_upload(&self, rec: UploadRecord) -> Result<Option<String>, MetaError> {
        self.run_logged(move |i| {
            let mut t = i.engine.begin(&[LIFE_SHARED])?;
            if let Some(kek) = kek_changed(&mut t, rec.bucket_uid, &rec.dek)? {
                return Ok((Some(kek), None));
            }
            let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
            let mut ops = vec![
                KvOp::Put(Cf::UploadIds, rec.upload_id.as_bytes().to_vec(), encode(&rec)?),
                KvOp::Put(Cf::Uploads, index, encode(&rec)?),
            ];
            let seq = log_upload_entry(&mut t, rec.bucket_uid, &mut ops, |seq| {
                LogEntry::Upload(Box::new(LoggedUpload::new(seq, &rec)))
            })?;
            t.commit(ops)?;
            Ok((None, seq))
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
                (ListStart::AfterPrefix(p), _) => prefix_successor(p).map_or_else(|| vec![0xFF; 32], |n| seek(&n)),
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
        self.run_logged(move |i| {
            let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok((CommitOutcome::Gone, None));
            };
            let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(rec.bucket_uid, &rec.key)])?;
            // Re-check under the key's lock: Complete and Abort take it too.
            if t.get(Cf::UploadIds, upload.as_bytes())?.is_none() {
                return Ok((CommitOutcome::Gone, None));
            }
            let pk = part_key(upload, part_number);
            let mut ops = Vec::new();
            if let Some(old) = super::stored_part(&mut t, &pk)? {
                gc_stream(&old.stream, &mut ops)?;
            }
            super::record_stream(&part.stream, rec.bucket_uid, &mut ops)?;
            ops.push(KvOp::Delete(Cf::Intents, part.stream.stream_id.as_bytes().to_vec()));
            queue_repairs(&repairs, &mut ops)?;
            ops.push(KvOp::Put(Cf::Parts, pk, part.encode_stored()?));
            let seq = log_upload_entry(&mut t, rec.bucket_uid, &mut ops, |seq| {
                LogEntry::Part(Box::new(LoggedPart::new(seq, rec.bucket_uid, upload, part_number, &part)))
            })?;
            t.commit(ops)?;
            Ok((CommitOutcome::Committed, seq))
        })
        .await
    }

    async fn parts(&self, upload: UploadId, after: u32, limit: usize) -> Result<Vec<(u32, PartRecord)>, MetaError> {
        self.run(move |i| i.parts_after(upload, after, limit)).await
    }

    async fn abort_upload(&self, upload: UploadId) -> Result<bool, MetaError> {
        self.run_logged(move |i| {
            let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok((false, None));
            };
            let mut t = i.engine.begin(&[key_lock(rec.bucket_uid, &rec.key)])?;
            // Re-read under the key's lock: a Complete or another Abort may have closed it.
            let Some(rec) = t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                return Ok((false, None));
            };
            let mut ops = Vec::new();
            close_upload(&mut t, &rec, &[], &mut ops)?;
            ops.push(KvOp::Delete(Cf::Deks, rec.version_uid.as_bytes().to_vec()));
            let seq = log_upload_entry(&mut t, rec.bucket_uid, &mut ops, |seq| upload_ended(seq, &rec))?;
            t.commit(ops)?;
            Ok((true, seq))
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

/// Adds an upload's log entry (made by `entry` from its sequence number) to `ops`, in the
/// scope of its bucket, and returns its sequence number. A bucket deleted meanwhile logs
/// nothing: its deletion, logged, takes its uploads with it.
pub(super) fn log_upload_entry(
    t: &mut impl KvTxn,
    bucket: BucketUid,
    ops: &mut Vec<KvOp>,
    entry: impl FnOnce(u64) -> LogEntry,
) -> Result<Option<u64>, MetaError> {
    let Some(rec) = bucket_by_uid(t, bucket)? else { return Ok(None) };
    let scope = bucket_scope(t, &rec)?;
    let (seq, op) = log_entry(t, scope, entry)?;
    ops.push(op);
    Ok(Some(seq))
}

/// The entry that ends `rec` (completed or aborted).
pub(super) fn upload_ended(seq: u64, rec: &UploadRecord) -> LogEntry {
    LogEntry::UploadEnded { seq, bucket: *rec.bucket_uid.as_bytes(), upload: *rec.upload_id.as_bytes() }
}

/// `Meta` key set once every upload record has the Object Lock its creation asked for.
const UPLOAD_LOCK_MARKER: &[u8] = b"migrated/upload_lock";

impl<E: KvEngine> super::Inner<E> {
    /// Up to `limit` parts of `upload` numbered above `after`, by number.
    pub(super) fn parts_after(
        &self,
        upload: UploadId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<(u32, PartRecord)>, MetaError> {
        let start = part_key(upload, after.saturating_add(1));
        let end = prefix_successor(upload.as_bytes());
        let mut out = Vec::new();
        for (k, v) in self.engine.scan(Cf::Parts, &start, end.as_deref(), limit)? {
            let number = k.get(16..20).and_then(|n| <[u8; 4]>::try_from(n).ok()).map(u32::from_be_bytes);
            let number = number.ok_or_else(|| MetaError::codec("a part record under a malformed key"))?;
            out.push((number, PartRecord::decode_stored(&v)?));
        }
        Ok(out)
    }

    /// Stores written before CreateMultipartUpload took lock headers: every upload record
    /// (by id and in the listing index) gets an empty lock, once; a marker records that it ran.
    pub(super) fn migrate_uploads(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, UPLOAD_LOCK_MARKER)?.is_some() {
            return Ok(());
        }
        // The old layout is the new one without its last two fields (tags came after).
        let tail = postcard::to_stdvec(&(
            crate::model::lock::VersionLock::default(),
            crate::model::tagging::TagSet::default(),
        ))
        .map_err(|e| MetaError::codec_from("encoding a record", e))?;
        for cf in [Cf::UploadIds, Cf::Uploads] {
            self.each_page(cf, |k, v, ops| {
                if decode::<UploadRecord>(v).is_err() {
                    let rec: UploadRecord = decode(&[v, tail.as_slice()].concat())?;
                    ops.push(KvOp::Put(cf, k.to_vec(), encode(&rec)?));
                }
                Ok(())
            })?;
        }
        self.engine.write(vec![KvOp::Put(Cf::Meta, UPLOAD_LOCK_MARKER.to_vec(), encode(&true)?)])
    }

    /// Stores written before object tagging: every version (current and noncurrent) and every
    /// upload record gets an empty tag set, once; a marker records that it ran. Runs after the
    /// older migrations, which write records in today's layout.
    pub(super) fn migrate_tags(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, TAGS_MARKER)?.is_some() {
            return Ok(());
        }
        // The old layouts are the new ones without their last field, the tags.
        let tail = postcard::to_stdvec(&crate::model::tagging::TagSet::default())
            .map_err(|e| MetaError::codec_from("encoding a record", e))?;
        for cf in [Cf::Objects, Cf::Versions] {
            self.each_page(cf, |k, v, ops| append_if_old::<crate::meta::VersionRecord>(cf, k, v, &tail, ops))?;
        }
        for cf in [Cf::UploadIds, Cf::Uploads] {
            self.each_page(cf, |k, v, ops| append_if_old::<UploadRecord>(cf, k, v, &tail, ops))?;
        }
        self.engine.write(vec![KvOp::Put(Cf::Meta, TAGS_MARKER.to_vec(), encode(&true)?)])
    }
}

/// `Meta` key set once every version and upload record has its tags.
const TAGS_MARKER: &[u8] = b"migrated/tags";

/// Rewrites `v` with `tail` appended when it only decodes that way (a record of the layout
/// before its last field).
fn append_if_old<T: serde::Serialize + serde::de::DeserializeOwned>(
    cf: Cf,
    k: &[u8],
    v: &[u8],
    tail: &[u8],
    ops: &mut Vec<KvOp>,
) -> Result<(), MetaError> {
    if decode::<T>(v).is_err() {
        let rec: T = decode(&[v, tail].concat())?;
        ops.push(KvOp::Put(cf, k.to_vec(), encode(&rec)?));
    }
    Ok(())
}
