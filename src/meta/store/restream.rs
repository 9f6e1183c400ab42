//! The commit of a [`StreamReplacement`]: a version's streams written again in its bucket's
//! redundancy scheme as it is now (the evacuation job converting a rebound bucket between
//! replicas and erasure-coded shards) take the place of the old ones in one transaction.

use super::logging::{bucket_by_uid, bucket_scope, log_entry};
use super::versions::History;
use super::{Inner, LIFE_SHARED, gc_stream_from, key_lock, wall_ms};
use crate::meta::audit_chain::commit_audited;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::replica_queue::queue_repairs;
use crate::meta::{MetaError, StreamReplacement};
use crate::model::audit::AuditEntry;
use crate::model::{StreamId, WrappedKey};

impl<E: KvEngine> Inner<E> {
    /// Whether it was committed, and the sequence numbers of its log entries (the version's
    /// and its audit record's).
    pub(super) fn replace_streams(
        &self,
        r: StreamReplacement,
        audit: AuditEntry,
    ) -> Result<(bool, Vec<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(r.bucket, &r.key), TxnLock::Audit])?;
        let history = History::read(&mut t, r.bucket, r.key.as_bytes())?;
        let Some((place, mut v)) = history.find_uid(&mut t, r.version)? else { return Ok((false, vec![])) };
        let listed: Vec<StreamId> = v.streams.iter().map(|s| s.stream_id).collect();
        let same_parts = v.streams.iter().zip(&r.new).all(|(a, b)| a.part_number == b.part_number);
        if listed != r.old || r.new.len() != r.old.len() || !same_parts {
            return Ok((false, vec![]));
        }
        let dek = t.get_decoded::<WrappedKey>(Cf::Deks, r.version.as_bytes())?;
        let (Some(rec), Some(dek)) = (bucket_by_uid(&mut t, r.bucket)?, dek) else { return Ok((false, vec![])) };
        if rec.policy_id != r.policy {
            // Rebound meanwhile: the new streams were placed by a policy it no longer has.
            return Ok((false, vec![]));
        }
        for new in r.new.iter().filter(|s| !r.old.contains(&s.stream_id)) {
            // Its intent is what kept the garbage collector off its copies while it was being
            // written; once swept (the write outlived `intent_ttl`), they may be gone.
            if t.get(Cf::Intents, new.stream_id.as_bytes())?.is_none() {
                return Ok((false, vec![]));
            }
        }
        let mut ops = Vec::new();
        for (old, new) in v.streams.iter().zip(&r.new) {
            if old.stream_id == new.stream_id {
                continue;
            }
            // The old stream goes as an overwritten one does: every holder's copy deleted by a
            // durable task (after a grace, for the GETs reading it now), its repairs and checks
            // dropped.
            gc_stream_from(old, r.delete_old_from_ms, &mut ops)?;
            super::record_stream(new, r.bucket, &mut ops)?;
            ops.push(KvOp::Delete(Cf::Intents, new.stream_id.as_bytes().to_vec()));
        }
        queue_repairs(&r.repairs, &mut ops)?;
        v.streams = r.new;
        v.manifest_mac = r.manifest_mac;
        // The version again with its new streams: a rebuild must find them, not the old ones.
        let scope = bucket_scope(&mut t, &rec)?;
        let (seq, logged) = log_entry(&mut t, scope.clone(), |seq| {
            v.seq = seq;
            super::version_entry(r.bucket, &r.key, &v, &dek)
        })?;
        history.rewrite(place, &v, &mut ops)?;
        ops.push(logged);
        let (_, audit_seq) = commit_audited(t, ops, audit, scope, &self.sealing, wall_ms())?;
        Ok((true, vec![seq, audit_seq]))
    }
}
