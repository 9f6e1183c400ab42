//! The log segment index (`LogSegments`) and what a checkpoint reads (docs/format-v2.md,
//! "Checkpoints"): the writer records each segment it wrote; a checkpoint of a bucket reads
//! the bucket's live versions, open uploads and audit records as log entries a page at a
//! time, then removes the segments it superseded from the index once the providers deleted
//! them.

use super::{Inner, KvMetadataStore, version_entry};
use crate::meta::codec::{decode, encode, key_successor, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp};
use crate::meta::log_entry::{LogEntry, LoggedAudit, LoggedPart, LoggedUpload};
use crate::meta::outbox::{CATALOG_SCOPE, IndexedSegment, StateCursor, indexed_segment_key};
use crate::meta::{MetaError, UploadRecord, VersionRecord};
use crate::model::audit::AuditRecord;
use crate::model::{BucketUid, WrappedKey};

impl<E: KvEngine> KvMetadataStore<E> {
    pub(super) async fn put_indexed(&self, segments: Vec<IndexedSegment>) -> Result<(), MetaError> {
        self.run(move |i| {
            let ops: Result<Vec<KvOp>, MetaError> =
                segments.iter().map(|s| Ok(KvOp::Put(Cf::LogSegments, s.key(), encode(s)?))).collect();
            i.engine.write(ops?)
        })
        .await
    }

    pub(super) async fn scan_indexed(
        &self,
        after: Option<(Option<BucketUid>, [u8; 16])>,
        limit: usize,
    ) -> Result<Vec<IndexedSegment>, MetaError> {
        self.run(move |i| {
            let start = after.map_or_else(Vec::new, |(b, id)| {
                let mut k = indexed_segment_key(b, &id);
                k.push(0);
                k
            });
            i.engine.scan(Cf::LogSegments, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
        })
        .await
    }

    pub(super) async fn remove_indexed(&self, keys: Vec<(Option<BucketUid>, [u8; 16])>) -> Result<(), MetaError> {
        self.run(move |i| {
            i.engine
                .write(keys.iter().map(|(b, id)| KvOp::Delete(Cf::LogSegments, indexed_segment_key(*b, id))).collect())
        })
        .await
    }

    pub(super) async fn draw_one_seq(&self) -> Result<u64, MetaError> {
        self.run(|i| {
            let mut t = i.engine.begin(&[])?;
            let seq = crate::meta::kv::KvTxn::next_seq(&mut t)?;
            crate::meta::kv::KvTxn::commit(t, Vec::new())?;
            Ok(seq)
        })
        .await
    }

    pub(super) async fn read_log_state(
        &self,
        bucket: BucketUid,
        from: StateCursor,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<StateCursor>), MetaError> {
        self.run(move |i| i.log_state_page(bucket, from, limit)).await
    }
}

impl<E: KvEngine> Inner<E> {
    /// Up to `limit` of the bucket's versions from `from` as the log entries that make them:
    /// the latest versions holding data (`Objects`), then every other one (`Versions`), each
    /// with its data key as stored and the sequence number of its last logged change; then
    /// its multipart uploads in progress ([`Self::upload_state_page`]).
    fn log_state_page(
        &self,
        bucket: BucketUid,
        from: StateCursor,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<StateCursor>), MetaError> {
        if from.audit {
            let (entries, last) = self.audit_scope_page(Some(bucket), from.after, limit)?;
            let next = last.map(|k| StateCursor { audit: true, after: Some(k), ..StateCursor::default() });
            return Ok((entries, next));
        }
        if from.uploads {
            return self.upload_state_page(bucket, from.after, limit);
        }
        let base = bucket.as_bytes().to_vec();
        let end = prefix_successor(&base);
        let cf = if from.noncurrent { Cf::Versions } else { Cf::Objects };
        let start = from.after.map_or_else(
            || base.clone(),
            |mut k| {
                k.push(0);
                k
            },
        );
        let pairs = self.engine.scan(cf, &start, end.as_deref(), limit)?;
        let mut entries = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            let v: VersionRecord = decode(v)?;
            let key = if from.noncurrent {
                super::versions::parse_noncurrent_key(k).map(|(key, _)| key)
            } else {
                k.get(16..).map(<[u8]>::to_vec)
            };
            let key = key.ok_or_else(|| MetaError::codec("a version record under a malformed key"))?;
            let key = String::from_utf8(key).map_err(|e| MetaError::codec_from("an object key", e))?;
            let dek = if v.delete_marker {
                WrappedKey::default()
            } else {
                // A version whose data key is gone cannot be read; a rebuild could not serve it.
                let Some(dek) = self.get::<WrappedKey>(Cf::Deks, v.version_uid.as_bytes())? else { continue };
                dek
            };
            entries.push(version_entry(bucket, &key, &v, &dek));
        }
        let next = match pairs.last() {
            Some((k, _)) if pairs.len() == limit => Some(StateCursor { after: Some(k.clone()), ..from }),
            _ if !from.noncurrent => Some(StateCursor { noncurrent: true, ..StateCursor::default() }),
            _ => Some(StateCursor { uploads: true, ..StateCursor::default() }),
        };
        Ok((entries, next))
    }

    /// The bucket's uploads in progress after the upload record key `after`, each as its
    /// [`LogEntry::Upload`] followed by a [`LogEntry::Part`] per part, until `limit` entries
    /// (an upload's parts are never split across pages). Numbered 0: the store does not keep
    /// their commits' numbers, and in a checkpoint the checkpoint's `through` ranks them.
    fn upload_state_page(
        &self,
        bucket: BucketUid,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<StateCursor>), MetaError> {
        let base = bucket.as_bytes().to_vec();
        let end = prefix_successor(&base);
        let start = after.map_or(base, |mut k| {
            k.push(0);
            k
        });
        let mut entries = Vec::new();
        for (k, v) in self.engine.scan(Cf::Uploads, &start, end.as_deref(), limit.max(1))? {
            let rec: UploadRecord = decode(&v)?;
            entries.push(LogEntry::Upload(Box::new(LoggedUpload::new(0, &rec))));
            for (number, part) in self.parts_after(rec.upload_id, 0, usize::MAX)? {
                entries.push(LogEntry::Part(Box::new(LoggedPart::new(0, bucket, rec.upload_id, number, &part))));
            }
            if entries.len() >= limit {
                return Ok((entries, Some(StateCursor { uploads: true, after: Some(k), ..StateCursor::default() })));
            }
        }
        Ok((entries, Some(StateCursor { audit: true, ..StateCursor::default() })))
    }

    /// Up to `limit` of the audit records logged in `scope` (a bucket's, or the catalog's)
    /// after the [`Cf::AuditScopes`] key `after`, each as the entry that logged it, and the
    /// last key read if there may be more: an audit log is history, so a checkpoint carries it
    /// forward rather than dropping it.
    pub(super) fn audit_scope_page(
        &self,
        scope: Option<BucketUid>,
        after: Option<Vec<u8>>,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<Vec<u8>>), MetaError> {
        let base = scope.map_or(CATALOG_SCOPE, |b| *b.as_bytes()).to_vec();
        let end = prefix_successor(&base);
        let start = after.map_or(base, |k| key_successor(&k));
        let pairs = self.engine.scan(Cf::AuditScopes, &start, end.as_deref(), limit.max(1))?;
        let mut entries = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            let record = k.get(16..).and_then(|s| <[u8; 8]>::try_from(s).ok());
            let record = record.ok_or_else(|| MetaError::codec("an audit scope record under a malformed key"))?;
            let Some(rec) = self.get::<AuditRecord>(Cf::Audit, &record)? else { continue };
            let seq: u64 = decode(v)?;
            entries.push(LogEntry::Audited(Box::new(LoggedAudit::new(seq, scope.map(|b| *b.as_bytes()), &rec))));
        }
        let last = pairs.last().filter(|_| pairs.len() >= limit).map(|(k, _)| k.clone());
        Ok((entries, last))
    }

    /// Stores from before catalog checkpoints: their index records of the catalog's scope are
    /// dropped, once. A rebuild or `meta verify --repair` of then indexed a segment of rewraps
    /// only as the catalog's (a rewrap names no bucket), and a catalog checkpoint, which does
    /// not carry rewraps, would delete it. Those segments stay at the providers; what they
    /// hold is superseded all the same.
    pub(super) fn forget_old_catalog_index(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, CATALOG_INDEX_MARKER)?.is_some() {
            return Ok(());
        }
        let end = prefix_successor(&CATALOG_SCOPE);
        let old = self.engine.scan(Cf::LogSegments, &CATALOG_SCOPE, end.as_deref(), usize::MAX)?;
        let mut ops: Vec<KvOp> = old.into_iter().map(|(k, _)| KvOp::Delete(Cf::LogSegments, k)).collect();
        ops.push(KvOp::Put(Cf::Meta, CATALOG_INDEX_MARKER.to_vec(), encode(&true)?));
        self.engine.write(ops)
    }
}

/// `Meta` key set once the catalog's index records of before catalog checkpoints are dropped.
const CATALOG_INDEX_MARKER: &[u8] = b"migrated/catalog_index";
