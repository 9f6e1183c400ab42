//! The store's [`ObjectMeta`]: buckets, object versions and the commits that make writes visible.

use super::logging::{bucket_scope, log_entry};
use super::versions::History;
use super::{KvMetadataStore, LIFE_EXCLUSIVE, object_key, start_position, wall_ms};
use crate::meta::ObjectMeta;
use crate::meta::audit_chain::commit_audited;
use crate::meta::codec::{decode, encode, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::log_entry::{LogEntry, LoggedBucket};
use crate::meta::outbox::LogScope;
use crate::meta::replica_queue::queue_deletion;
use crate::meta::{
    BucketRecord, CommitOutcome, DeleteOutcome, DeleteTarget, GcTask, Intent, ListPage, ListQuery, MetaError,
    PutCommit, UploadRecord, VersionEntry, VersionRecord,
};
use crate::meta::{DeletionReason, DeletionTask};
use crate::meta::{LockChange, LockTarget, LockUpdate};
use crate::model::WrappedKey;
use crate::model::access::UserName;
use crate::model::audit::{AuditEntry, AuditRecord};
use crate::model::lock::LockConfig;
use crate::model::{BucketName, BucketUid, ObjectKey, VersionRef, VersionUid, Versioning};
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
        owner: Option<UserName>,
        audit: AuditEntry,
    ) -> Result<Result<AuditRecord, BucketRecord>, MetaError> {
        self.run_logged(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE, TxnLock::Audit])?;
            if let Some(existing) = t.get_decoded::<BucketRecord>(Cf::Buckets, rec.name.as_bytes())? {
                // Logged again: a CreateBucket retried after a 503 (committed, not logged) is
                // answered "already yours" only once the bucket is in the log.
                let scope = bucket_scope(&mut t, &existing)?;
                let kek = scope.kek.clone();
                let (seq, logged) =
                    log_entry(&mut t, scope, |seq| LogEntry::Bucket(LoggedBucket::new(seq, &existing, kek)))?;
                t.commit(vec![logged])?;
                return Ok((Err(existing), vec![seq]));
            }
            let (seq, logged) = log_entry(&mut t, LogScope::bucket(&rec, None), |seq| {
                LogEntry::Bucket(LoggedBucket::new(seq, &rec, None))
            })?;
            let mut ops = vec![
                KvOp::Put(Cf::Buckets, rec.name.as_bytes().to_vec(), encode(&rec)?),
                super::logging::bucket_id_op(&rec)?,
                logged,
            ];
            // Every entry the commit logs is waited for: the bucket's, its owner grant's, its
            // record's (they may land in different segments).
            let mut seqs = vec![seq];
            if let Some(owner) = &owner {
                let (grant, grant_seq) = super::access::owner_grant(&mut t, rec.uid, owner)?;
                ops.extend(grant);
                seqs.extend(grant_seq);
            }
            let scope = LogScope::bucket(&rec, None);
            let (audited, audit_seq) = commit_audited(t, ops, audit, scope, &i.sealing, wall_ms())?;
            seqs.push(audit_seq);
            Ok((Ok(audited), seqs))
        })
        .await
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<bool, MetaError> {
        let name = name.clone();
        self.run_logged(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE])?;
            let Some(rec) = t.get_decoded::<BucketRecord>(Cf::Buckets, name.as_bytes())? else {
                return Ok((true, None));
            };
            let base = rec.uid.as_bytes().to_vec();
            let end = prefix_successor(&base);
            let has_objects = !t.scan(Cf::Objects, &base, end.as_deref(), 1)?.is_empty();
            let has_versions = !t.scan(Cf::Versions, &base, end.as_deref(), 1)?.is_empty();
            if has_objects || has_versions {
                return Ok((false, None));
            }
            // Unfinished uploads go with the bucket (as S3 does): tools that clean up after an
            // interrupted upload delete the bucket without listing uploads first.
            let mut ops = Vec::new();
            for (_, v) in t.scan(Cf::Uploads, &base, end.as_deref(), usize::MAX)? {
                super::close_upload(&mut t, &decode::<UploadRecord>(&v)?, &[], &mut ops)?;
            }
            // Under the default KEK's log key: it carries only the bucket's id, and must be
            // readable even when the bucket's own KEK was destroyed.
            let scope = LogScope::bucket(&rec, None);
            let (seq, logged) =
                log_entry(&mut t, scope, |seq| LogEntry::BucketDeleted { seq, bucket: *rec.uid.as_bytes() })?;
            ops.extend(super::access::drop_grants(&mut t, rec.uid)?);
            ops.extend([
                KvOp::Delete(Cf::Buckets, name.as_bytes().to_vec()),
                KvOp::Delete(Cf::BucketIds, rec.uid.as_bytes().to_vec()),
                logged,
            ]);
            t.commit(ops)?;
            Ok((true, Some(seq)))
        })
        .await
    }

    async fn current(&self, bucket: BucketUid, key: &ObjectKey) -> Result<Option<VersionRecord>, MetaError> {
        let k = object_key(bucket, key.as_bytes());
        self.run(move |i| i.get(Cf::Objects, &k)).await
    }

    async fn latest(&self, bucket: BucketUid, key: &ObjectKey) -> Result<Option<VersionRecord>, MetaError> {
        let key = key.clone();
        self.run(move |i| {
            // Under the key's lock: a commit moves versions between families.
            let mut t = i.engine.begin(&[super::key_lock(bucket, key.as_str())])?;
            History::read(&mut t, bucket, key.as_bytes())?.latest(&mut t)
        })
        .await
    }

    async fn version(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version: VersionRef,
    ) -> Result<Option<VersionRecord>, MetaError> {
        let key = key.clone();
        self.run(move |i| {
            let mut t = i.engine.begin(&[super::key_lock(bucket, key.as_str())])?;
            Ok(History::read(&mut t, bucket, key.as_bytes())?.find(&mut t, version)?.map(|(_, v)| v))
        })
        .await
    }

    async fn versioning(&self, bucket: BucketUid) -> Result<Versioning, MetaError> {
        let k = super::versions::versioning_key(bucket);
        self.run(move |i| Ok(i.get(Cf::Access, k.as_bytes())?.unwrap_or_default())).await
    }

    async fn lock_config(&self, bucket: BucketUid) -> Result<Option<LockConfig>, MetaError> {
        let k = super::versions::lock_config_key(bucket);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn lifecycle(
        &self,
        bucket: BucketUid,
    ) -> Result<Option<crate::model::lifecycle::LifecycleConfig>, MetaError> {
        let k = super::access::lifecycle_key(bucket);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn bucket_tags(&self, bucket: BucketUid) -> Result<Option<crate::model::tagging::TagSet>, MetaError> {
        let k = super::access::bucket_tags_key(bucket);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn bucket_cors(&self, bucket: BucketUid) -> Result<Option<crate::model::cors::CorsConfig>, MetaError> {
        let k = super::access::cors_key(bucket);
        self.run(move |i| i.get(Cf::Access, k.as_bytes())).await
    }

    async fn etag_mode(&self, bucket: BucketUid) -> Result<crate::model::EtagMode, MetaError> {
        let k = super::access::etag_mode_key(bucket);
        self.run(move |i| Ok(i.get(Cf::Access, k.as_bytes())?.unwrap_or_default())).await
    }

    async fn set_version_lock(
        &self,
        target: LockTarget,
        change: LockChange,
        bypass_governance: bool,
        audit: AuditEntry,
    ) -> Result<LockUpdate, MetaError> {
        self.run_logged(move |i| i.set_version_lock(&target, change, bypass_governance, audit)).await
    }

    async fn set_version_tags(
        &self,
        target: LockTarget,
        tags: crate::model::tagging::TagSet,
    ) -> Result<LockUpdate, MetaError> {
        self.run_logged(move |i| i.set_version_tags(&target, tags)).await
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
        self.run_logged(move |i| i.commit_put(c)).await
    }

    async fn commit_delete(
        &self,
        name: &BucketName,
        bucket: BucketUid,
        key: &ObjectKey,
        target: DeleteTarget,
    ) -> Result<DeleteOutcome, MetaError> {
        let (name, key) = (name.clone(), key.clone());
        self.run_logged(move |i| i.commit_delete(&name, bucket, key.as_str(), target)).await
    }

    async fn list(&self, bucket: BucketUid, q: &ListQuery) -> Result<ListPage<VersionRecord>, MetaError> {
        let q = q.clone();
        self.run(move |i| {
            let start = object_key(bucket, &start_position(&q));
            i.list_grouped(Cf::Objects, bucket, &q, |ek| ek[16..].to_vec(), |k| object_key(bucket, k), start)
        })
        .await
    }

    async fn list_versions(
        &self,
        bucket: BucketUid,
        q: &ListQuery,
        after_order: Option<u64>,
    ) -> Result<ListPage<VersionEntry>, MetaError> {
        let q = q.clone();
        self.run(move |i| i.list_versions(bucket, &q, after_order)).await
    }
}
