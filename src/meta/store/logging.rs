//! The store's [`LogMeta`]: the metadata log's outbox (see [`crate::meta::outbox`]), the log
//! keyrings, and the helpers every logged commit uses. A logged commit draws its sequence
//! number, adds its outbox record to its own writes, and — once a sink is installed — returns
//! only after the sink logged it ([`KvMetadataStore::run_logged`]).

use std::sync::{Arc, RwLock};

use super::{KvMetadataStore, bucket_kek_key};
use crate::meta::codec::{decode, encode};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::log_entry::LogEntry;
use crate::meta::outbox::{
    CatalogCursor, IndexedSegment, LogRepairTask, LogScope, LogSink, StateCursor, Unlogged, log_repair_key, outbox_op,
};
use crate::meta::replica_queue::claim_due;
use crate::meta::restore::RestoreBatch;
use crate::meta::{BucketRecord, LogMeta, MetaError};
use crate::model::{BucketName, BucketUid, ObjectKey, ProviderId};
use async_trait::async_trait;

/// `Catalog` keys `logkey/<kek>` → the keyring object of that KEK's log key.
const LOG_KEY_PREFIX: &str = "logkey/";

/// The installed log sink, if any (none in tools that open the store offline, nor in the
/// contract tests: their commits stay in the outbox).
#[derive(Default)]
pub(super) struct SinkSlot(RwLock<Option<Arc<dyn LogSink>>>);

impl SinkSlot {
    fn get(&self) -> Option<Arc<dyn LogSink>> {
        self.0.read().ok().and_then(|s| s.clone())
    }
}

/// A commit's log entry, to write with it: draws the sequence number and returns it with the
/// outbox record.
pub(super) fn log_entry(
    t: &mut impl KvTxn,
    scope: LogScope,
    entry: impl FnOnce(u64) -> LogEntry,
) -> Result<(u64, KvOp), MetaError> {
    let seq = t.next_seq()?;
    Ok((seq, outbox_op(seq, scope, &entry(seq))?))
}

/// The bucket's own KEK, if it was given one.
pub(super) fn own_kek(t: &mut impl KvTxn, bucket: BucketUid) -> Result<Option<String>, MetaError> {
    t.get_decoded(Cf::Catalog, &bucket_kek_key(bucket))
}

/// Where a bucket's entries go, read in the commit's transaction.
pub(super) fn bucket_scope(t: &mut impl KvTxn, rec: &BucketRecord) -> Result<LogScope, MetaError> {
    Ok(LogScope::bucket(rec, own_kek(t, rec.uid)?))
}

/// A bucket by its identity: buckets are keyed by name, and [`Cf::BucketIds`] names each
/// identity. A bucket the index lacks (made by a gateway from before it, beside this one on a
/// shared store) is found by a scan all the same.
pub(super) fn bucket_by_uid(t: &mut impl KvTxn, uid: BucketUid) -> Result<Option<BucketRecord>, MetaError> {
    if let Some(name) = t.get_decoded::<String>(Cf::BucketIds, uid.as_bytes())?
        && let Some(rec) = t.get_decoded::<BucketRecord>(Cf::Buckets, name.as_bytes())?
        && rec.uid == uid
    {
        return Ok(Some(rec));
    }
    for (_, v) in t.scan(Cf::Buckets, b"", None, usize::MAX)? {
        let rec: BucketRecord = decode(&v)?;
        if rec.uid == uid {
            return Ok(Some(rec));
        }
    }
    Ok(None)
}

impl<E: KvEngine> KvMetadataStore<E> {
    /// Runs a commit that may have written log entries (their sequence numbers are returned
    /// with the result: none, one, or — a completion that also ends its upload — two), then
    /// waits for the log sink to have logged every one.
    pub(super) async fn run_logged<T, S, F>(&self, f: F) -> Result<T, MetaError>
    where
        T: Send + 'static,
        S: IntoIterator<Item = u64> + Send + 'static,
        F: FnOnce(&super::Inner<E>) -> Result<(T, S), MetaError> + Send + 'static,
    {
        let (out, seqs) = self.run(f).await?;
        if let Some(sink) = self.inner.log.get() {
            for seq in seqs {
                sink.logged(seq).await.map_err(MetaError::Unlogged)?;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl<E: KvEngine> LogMeta for KvMetadataStore<E> {
    fn set_log_sink(&self, sink: Arc<dyn LogSink>) {
        if let Ok(mut slot) = self.inner.log.0.write() {
            *slot = Some(sink);
        }
    }

    async fn unlogged(&self, after: u64, limit: usize) -> Result<Vec<Unlogged>, MetaError> {
        self.run(move |i| {
            let start = after.saturating_add(1).to_be_bytes();
            i.engine.scan(Cf::Outbox, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
        })
        .await
    }

    async fn mark_logged(&self, seqs: Vec<u64>) -> Result<(), MetaError> {
        self.run(move |i| {
            i.engine.write(seqs.iter().map(|s| KvOp::Delete(Cf::Outbox, s.to_be_bytes().to_vec())).collect())
        })
        .await
    }

    async fn log_keyring(&self, kek: &str) -> Result<Option<Vec<u8>>, MetaError> {
        let key = format!("{LOG_KEY_PREFIX}{kek}").into_bytes();
        self.run(move |i| i.get(Cf::Catalog, &key)).await
    }

    async fn relog_bucket(&self, name: &BucketName) -> Result<bool, MetaError> {
        let name = name.clone();
        self.run_logged(move |i| i.relog_bucket(&name)).await
    }

    async fn relog_version(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version: Option<crate::model::VersionRef>,
    ) -> Result<bool, MetaError> {
        let key = key.clone();
        self.run_logged(move |i| i.relog_version(bucket, &key, version)).await
    }

    async fn relog_upload(&self, upload: crate::model::UploadId) -> Result<bool, MetaError> {
        self.run_logged(move |i| i.relog_upload(upload)).await
    }

    async fn restore(&self, batch: RestoreBatch) -> Result<(), MetaError> {
        self.run(move |i| i.restore(&batch)).await
    }

    async fn queue_log_repairs(&self, tasks: Vec<LogRepairTask>) -> Result<(), MetaError> {
        self.run(move |i| {
            let ops: Result<Vec<KvOp>, MetaError> =
                tasks.iter().map(|t| Ok(KvOp::Put(Cf::LogRepairs, t.key(), encode(t)?))).collect();
            i.engine.write(ops?)
        })
        .await
    }

    async fn claim_log_repairs(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<LogRepairTask>, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            let mut ops = Vec::new();
            let out =
                claim_due(&mut t, Cf::LogRepairs, now_ms, lease_ms, limit, &mut ops, |_, _: &LogRepairTask| Ok(false))?;
            t.commit(ops)?;
            Ok(out)
        })
        .await
    }

    async fn finish_log_repair(&self, segment_id: [u8; 16], provider: ProviderId) -> Result<(), MetaError> {
        self.run(move |i| i.engine.write(vec![KvOp::Delete(Cf::LogRepairs, log_repair_key(&segment_id, &provider))]))
            .await
    }

    async fn index_segments(&self, segments: Vec<IndexedSegment>) -> Result<(), MetaError> {
        self.put_indexed(segments).await
    }

    async fn indexed_segments(
        &self,
        after: Option<(Option<BucketUid>, [u8; 16])>,
        limit: usize,
    ) -> Result<Vec<IndexedSegment>, MetaError> {
        self.scan_indexed(after, limit).await
    }

    async fn unindex_segments(&self, segments: Vec<(Option<BucketUid>, [u8; 16])>) -> Result<(), MetaError> {
        self.remove_indexed(segments).await
    }

    async fn draw_seq(&self) -> Result<u64, MetaError> {
        self.draw_one_seq().await
    }

    async fn log_state_page(
        &self,
        bucket: BucketUid,
        from: StateCursor,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<StateCursor>), MetaError> {
        self.read_log_state(bucket, from, limit).await
    }

    async fn catalog_state_page(
        &self,
        from: CatalogCursor,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<CatalogCursor>), MetaError> {
        self.run(move |i| i.catalog_state_page(from, limit)).await
    }

    async fn init_log_keyring(&self, kek: &str, keyring: Vec<u8>) -> Result<Vec<u8>, MetaError> {
        let key = format!("{LOG_KEY_PREFIX}{kek}").into_bytes();
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            if let Some(stored) = t.get_decoded::<Vec<u8>>(Cf::Catalog, &key)? {
                return Ok(stored);
            }
            t.commit(vec![KvOp::Put(Cf::Catalog, key, encode(&keyring)?)])?;
            Ok(keyring)
        })
        .await
    }
}

/// The [`Cf::BucketIds`] record of `rec`.
pub(super) fn bucket_id_op(rec: &BucketRecord) -> Result<KvOp, MetaError> {
    Ok(KvOp::Put(Cf::BucketIds, rec.uid.as_bytes().to_vec(), encode(&rec.name.to_string())?))
}

/// `Meta` key set once every bucket has its [`Cf::BucketIds`] record.
const BUCKET_IDS_MARKER: &[u8] = b"migrated/bucket_ids";

impl<E: KvEngine> super::Inner<E> {
    /// Stores written before the index: every bucket gets its record, once.
    pub(super) fn index_bucket_ids(&self) -> Result<(), MetaError> {
        if self.engine.get(Cf::Meta, BUCKET_IDS_MARKER)?.is_some() {
            return Ok(());
        }
        let mut ops = Vec::new();
        for (_, v) in self.engine.scan(Cf::Buckets, b"", None, usize::MAX)? {
            ops.push(bucket_id_op(&decode::<BucketRecord>(&v)?)?);
        }
        ops.push(KvOp::Put(Cf::Meta, BUCKET_IDS_MARKER.to_vec(), encode(&true)?));
        self.engine.write(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectMeta as _;
    use crate::meta::memory::MemoryEngine;

    fn record(uid: u8, name: &str) -> BucketRecord {
        BucketRecord {
            uid: BucketUid([uid; 16]),
            name: BucketName::parse(name).unwrap(),
            policy_id: "p".into(),
            created_ms: 0,
        }
    }

    fn indexed(store: &KvMetadataStore<MemoryEngine>, uid: u8) -> Option<String> {
        store.inner.engine.get(Cf::BucketIds, &[uid; 16]).unwrap().map(|v| decode(&v).unwrap())
    }

    /// Promise: every bucket is found by its identity in one lookup: a store from before the
    /// index gets it when opened, a created bucket is indexed with its creation and a deleted
    /// one leaves the index with it; a bucket the index lacks is still found.
    #[tokio::test]
    async fn buckets_are_indexed_by_identity() {
        let engine = MemoryEngine::default();
        let older = record(1, "older");
        engine.write(vec![KvOp::Put(Cf::Buckets, b"older".to_vec(), encode(&older).unwrap())]).unwrap();
        let store = KvMetadataStore::new(engine).await.unwrap();
        assert_eq!(indexed(&store, 1).as_deref(), Some("older"), "indexed when the store opens");
        let entry = crate::model::audit::AuditEntry::new("t", "create", &().into());
        store.create_bucket(record(2, "newer"), None, entry).await.unwrap().expect("created");
        assert_eq!(indexed(&store, 2).as_deref(), Some("newer"));
        assert!(store.delete_bucket(&BucketName::parse("newer").unwrap()).await.unwrap());
        assert_eq!(indexed(&store, 2), None, "gone with the bucket");
        store.inner.engine.write(vec![KvOp::Delete(Cf::BucketIds, vec![1; 16])]).unwrap();
        let mut t = store.inner.engine.begin(&[]).unwrap();
        assert_eq!(bucket_by_uid(&mut t, BucketUid([1; 16])).unwrap(), Some(older), "found without the index");
    }

    /// Promise: the segment index records of the catalog's scope a store kept before catalog
    /// checkpoints (a rebuild then indexed a bucket's segment of rewraps only as the
    /// catalog's) are dropped once when it opens, so no catalog checkpoint deletes such a
    /// segment; a bucket's records stay, and records made since are kept.
    #[tokio::test]
    async fn catalog_index_records_of_older_stores_are_dropped_once() {
        use crate::meta::LogMeta as _;
        use crate::meta::outbox::IndexedSegment;
        let indexed = |bucket: Option<BucketUid>, id: u8| IndexedSegment {
            segment_id: [id; 16],
            scope: crate::meta::outbox::LogScope { bucket, policy: String::new(), kek: None },
            targets: Vec::new(),
            max_seq: 1,
            bytes: 1,
            checkpoint: None,
        };
        let engine = MemoryEngine::default();
        let (old_catalog, old_bucket) = (indexed(None, 1), indexed(Some(BucketUid([3; 16])), 2));
        let put = |s: &IndexedSegment| KvOp::Put(Cf::LogSegments, s.key(), encode(s).unwrap());
        engine.write(vec![put(&old_catalog), put(&old_bucket)]).unwrap();
        let store = KvMetadataStore::new(engine).await.unwrap();
        assert_eq!(store.indexed_segments(None, 10).await.unwrap(), std::slice::from_ref(&old_bucket));
        let new_catalog = indexed(None, 9);
        store.index_segments(vec![new_catalog.clone()]).await.unwrap();
        store.inner.forget_old_catalog_index().unwrap();
        assert_eq!(store.indexed_segments(None, 10).await.unwrap(), [new_catalog, old_bucket], "once");
    }
}
