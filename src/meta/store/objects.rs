//! The store's [`ObjectMeta`]: buckets, object versions and the commits that make writes visible.

use super::{KvMetadataStore, LIFE_EXCLUSIVE, object_key, start_position, wall_ms};
use crate::meta::ObjectMeta;
use crate::meta::audit_chain::commit_audited;
use crate::meta::codec::{decode, encode, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::replica_queue::queue_deletion;
use crate::meta::{
    BucketRecord, CommitOutcome, GcTask, Intent, ListPage, ListQuery, MetaError, PutCommit, VersionRecord,
};
use crate::meta::{DeletionReason, DeletionTask};
use crate::model::WrappedKey;
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::{BucketName, BucketUid, ObjectKey, VersionUid};
use async_trait::async_trait;

#[async_trait]
impl<E: KvEngine> ObjectMeta for KvMetadataStore<E> {
    async fn buckets(&self) -> Result<Vec<BucketRecord>, MetaError> {
        self.run(|i| i.engine.scan(Cf::Buckets, b"", None, usize::MAX)?.iter().map(|(_, v)| decode(v)).collect()).await
    }

    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>, MetaError> {
        let name = name.clone();
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

    async fn delete_bucket(&self, name: &BucketName) -> Result<bool, MetaError> {
        let name = name.clone();
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
            t.commit(vec![KvOp::Delete(Cf::Buckets, name.as_bytes().to_vec())])?;
            Ok(true)
        })
        .await
    }

    async fn current(&self, bucket: BucketUid, key: &ObjectKey) -> Result<Option<VersionRecord>, MetaError> {
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
                    queue_deletion(&task, &mut ops)?;
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

    async fn commit_delete(&self, bucket: BucketUid, key: &ObjectKey) -> Result<bool, MetaError> {
        let key = key.clone();
        self.run(move |i| i.commit_delete(bucket, key.as_str())).await
    }

    async fn list(&self, bucket: BucketUid, q: &ListQuery) -> Result<ListPage<VersionRecord>, MetaError> {
        let q = q.clone();
        self.run(move |i| {
            let start = object_key(bucket, &start_position(&q));
            i.list_grouped(Cf::Objects, bucket, &q, |ek| ek[16..].to_vec(), |k| object_key(bucket, k), start)
        })
        .await
    }
}
