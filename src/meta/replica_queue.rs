//! The per-replica queues (repairs, deletions): keys `stream_id ‖ provider`, how a task joins a
//! commit's batch, and the paged claim every worker of every gateway goes through.

use super::codec::{decode, encode, key_successor};
use super::kv::{Cf, KvOp, KvTxn};
use super::{DeletionTask, MetaError, RepairTask};
use crate::model::{ProviderId, StreamId, StreamManifest};

/// Entries read per scan while claiming.
const SCAN_BATCH: usize = 256;

/// Adds a deletion task to a batch (replacing a queued one of the same replica).
pub(super) fn queue_deletion(task: &DeletionTask, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    ops.push(KvOp::Put(Cf::Deletions, replica_key(task.stream_id, &task.provider), encode(task)?));
    Ok(())
}

/// The stream is committed and `provider` is one of its replicas: its copy there is live
/// data, never to be deleted.
pub(super) fn replica_live(t: &mut impl KvTxn, stream: StreamId, provider: &ProviderId) -> Result<bool, MetaError> {
    Ok(t.get_decoded::<StreamManifest>(Cf::Streams, stream.as_bytes())?.is_some_and(|m| m.replicas.contains(provider)))
}

/// A task of a per-replica queue: due at a time, claimed by pushing that time out.
pub(super) trait Queued: serde::Serialize + serde::de::DeserializeOwned + Clone {
    /// When the task is due, ms since the epoch.
    fn due_ms(&mut self) -> &mut i64;
}

impl Queued for RepairTask {
    fn due_ms(&mut self) -> &mut i64 {
        &mut self.due_ms
    }
}

impl Queued for super::outbox::LogRepairTask {
    fn due_ms(&mut self) -> &mut i64 {
        &mut self.due_ms
    }
}

impl Queued for DeletionTask {
    fn due_ms(&mut self) -> &mut i64 {
        &mut self.due_ms
    }
}

/// Claims up to `limit` tasks of `cf` due at `now_ms`, each due again `lease_ms` later, reading
/// the queue a page at a time. A task `drop_task` says is moot is removed instead. `t` holds
/// [`super::kv::TxnLock::Claims`]; the writes go to `ops`.
pub(super) fn claim_due<X: KvTxn, T: Queued>(
    t: &mut X,
    cf: Cf,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
    ops: &mut Vec<KvOp>,
    mut drop_task: impl FnMut(&mut X, &T) -> Result<bool, MetaError>,
) -> Result<Vec<T>, MetaError> {
    let mut out = Vec::new();
    let mut start = Vec::new();
    while out.len() < limit {
        let page = t.scan(cf, &start, None, SCAN_BATCH)?;
        let Some((last, _)) = page.last() else { break };
        start = key_successor(last);
        for (k, v) in page {
            let mut task: T = decode(&v)?;
            if *task.due_ms() > now_ms {
                continue;
            }
            if drop_task(t, &task)? {
                ops.push(KvOp::Delete(cf, k));
                continue;
            }
            let mut claimed = task.clone();
            *claimed.due_ms() = now_ms.saturating_add(lease_ms);
            ops.push(KvOp::Put(cf, k, encode(&claimed)?));
            out.push(task);
            if out.len() == limit {
                break;
            }
        }
    }
    Ok(out)
}

/// The key of one replica of a stream: `stream_id ‖ provider` (repair tasks, verifications).
pub(super) fn replica_key(stream: StreamId, provider: &ProviderId) -> Vec<u8> {
    let mut k = stream.as_bytes().to_vec();
    k.extend_from_slice(provider.as_str().as_bytes());
    k
}

pub(super) fn queue_repairs(tasks: &[RepairTask], ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    for t in tasks {
        ops.push(KvOp::Put(Cf::Repair, replica_key(t.stream_id, &t.provider), encode(t)?));
    }
    Ok(())
}
