//! The store's [`ReplicaMeta`]: work on stored replicas: stale intents, deletions, repairs, moves, verifications and the stream index.

use super::logging::{bucket_by_uid, bucket_scope, log_entry};
use super::versions::History;
use super::{KvMetadataStore, LIFE_SHARED, SCAN_BATCH, key_lock, part_key, reseat_replica, wall_ms};
use crate::meta::ReplicaMeta;
use crate::meta::audit_chain::commit_audited;
use crate::meta::codec::{decode, encode, key_successor, prefix_successor};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::log_entry::{LogEntry, LoggedPart};
use crate::meta::replica_queue::{claim_due, queue_deletion, queue_repairs, replica_key, replica_live};
use crate::meta::{DeletionReason, DeletionTask, RepairTask, ReplicaMove, StreamReplacement};
use crate::meta::{GcTask, Intent, MetaError, ReplicaCursor};
use crate::model::WrappedKey;
use crate::model::audit::AuditEntry;
use crate::model::{BootId, BucketUid, ProviderId, StreamId, StreamManifest};
use async_trait::async_trait;

#[async_trait]
impl<E: KvEngine> ReplicaMeta for KvMetadataStore<E> {
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
                        queue_deletion(&task, &mut ops)?;
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
                queue_deletion(&task, &mut ops)?;
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

    async fn move_replica(&self, mv: ReplicaMove, audit: AuditEntry) -> Result<bool, MetaError> {
        self.run_logged(move |i| {
            let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(mv.bucket, &mv.key), TxnLock::Audit])?;
            let Some(rec) = bucket_by_uid(&mut t, mv.bucket)? else { return Ok((false, vec![])) };
            let scope = bucket_scope(&mut t, &rec)?;
            let mut ops = Vec::new();
            let logged_seq;
            let (manifest, reason) = match mv.part {
                None => {
                    let history = History::read(&mut t, mv.bucket, mv.key.as_bytes())?;
                    let Some((place, mut v)) = history.find_uid(&mut t, mv.version)? else {
                        return Ok((false, vec![]));
                    };
                    let Some(stream) = v.streams.iter_mut().find(|s| s.stream_id == mv.stream) else {
                        return Ok((false, vec![]));
                    };
                    let Some(reason) = reseat_replica(&mut t, stream, &mv)? else { return Ok((false, vec![])) };
                    let manifest = stream.clone();
                    // The version again with its new replica list: a rebuild looks for it there.
                    let dek = t.get_decoded::<WrappedKey>(Cf::Deks, mv.version.as_bytes())?;
                    let Some(dek) = dek else { return Ok((false, vec![])) };
                    let (seq, logged) = log_entry(&mut t, scope.clone(), |seq| {
                        v.seq = seq;
                        super::version_entry(mv.bucket, &mv.key, &v, &dek)
                    })?;
                    history.rewrite(place, &v, &mut ops)?;
                    ops.push(logged);
                    logged_seq = Some(seq);
                    (manifest, reason)
                }
                Some((upload, number)) => {
                    // Read under the key's lock: Complete and Abort take it too.
                    if t.get(Cf::UploadIds, upload.as_bytes())?.is_none() {
                        return Ok((false, vec![]));
                    }
                    let pk = part_key(upload, number);
                    let Some(mut part) = super::stored_part(&mut t, &pk)? else {
                        return Ok((false, vec![]));
                    };
                    if part.stream.stream_id != mv.stream {
                        return Ok((false, vec![]));
                    }
                    let Some(reason) = reseat_replica(&mut t, &mut part.stream, &mv)? else {
                        return Ok((false, vec![]));
                    };
                    let manifest = part.stream.clone();
                    ops.push(KvOp::Put(Cf::Parts, pk, part.encode_stored()?));
                    // The part again with its new replica list, as for a version.
                    logged_seq = super::uploads::log_upload_entry(&mut t, mv.bucket, &mut ops, |seq| {
                        LogEntry::Part(Box::new(LoggedPart::new(seq, mv.bucket, upload, number, &part)))
                    })?;
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
            queue_deletion(&DeletionTask::new(mv.stream, mv.from.clone(), reason, wall_ms()), &mut ops)?;
            let (_, audit_seq) = commit_audited(t, ops, audit, scope, &i.sealing, wall_ms())?;
            Ok((true, logged_seq.into_iter().chain([audit_seq]).collect::<Vec<_>>()))
        })
        .await
    }

    async fn replace_streams(&self, r: StreamReplacement, audit: AuditEntry) -> Result<bool, MetaError> {
        self.run_logged(move |i| i.replace_streams(r, audit)).await
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
                    .ok_or_else(|| MetaError::codec("bad verification key"))?;
                let (ms, deep) = decode::<(i64, bool)>(&v)?;
                out.push((provider, ms, deep));
            }
            Ok(out)
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
}
