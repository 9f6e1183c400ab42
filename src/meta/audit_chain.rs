//! The audit chain inside the store: a record is appended with its hash link to the head, and
//! the new head is sealed with the audit key in the same commit (when the gateway gave the
//! store its key), so the seal always covers exactly the chain a commit left behind; and the
//! record is logged in that commit too, so losing the store does not lose the chain.

use std::sync::{Arc, RwLock};

use super::MetaError;
use super::codec::encode;
use super::kv::{Cf, KvOp, KvTxn};
use super::log_entry::{LogEntry, LoggedAudit};
use super::outbox::{CATALOG_SCOPE, LogScope, outbox_op};
use crate::model::BucketUid;
use crate::model::audit::{AuditEntry, AuditKey, AuditRecord, AuditSeal, GENESIS};

const HEAD: &[u8] = b"audit_head";
/// `Meta` key of the latest [`AuditSeal`].
pub(super) const SEAL: &[u8] = b"audit_seal";
/// `Meta` key of the audit key, wrapped under the default KEK.
pub(super) const WRAPPED_KEY: &[u8] = b"audit_key";

/// The key the store seals with, once the gateway has unwrapped it.
#[derive(Debug, Default)]
pub(super) struct SealingKey(RwLock<Option<Arc<AuditKey>>>);

impl SealingKey {
    pub(super) fn set(&self, key: Arc<AuditKey>) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(key);
        }
    }

    pub(super) fn get(&self) -> Option<Arc<AuditKey>> {
        self.0.read().ok().and_then(|k| k.clone())
    }
}

/// Commits `ops` plus the audit record of `entry`, chained after the head, the head's new
/// seal, and the record's log entry in `scope` (the bucket's the record concerns, or the
/// catalog's), indexed under that scope so its checkpoints carry it forward. `t` holds
/// [`super::kv::TxnLock::Audit`]. The record and its entry's sequence number.
pub(super) fn commit_audited(
    mut t: impl KvTxn,
    mut ops: Vec<KvOp>,
    entry: AuditEntry,
    scope: LogScope,
    key: &SealingKey,
    now_ms: i64,
) -> Result<(AuditRecord, u64), MetaError> {
    let (last, hash) = t.get_decoded::<(u64, String)>(Cf::Meta, HEAD)?.unwrap_or((0, GENESIS.to_owned()));
    let rec = AuditRecord::seal(entry, last + 1, now_ms, &hash);
    ops.push(KvOp::Put(Cf::Audit, rec.seq.to_be_bytes().to_vec(), encode(&rec)?));
    ops.push(KvOp::Put(Cf::Meta, HEAD.to_vec(), encode(&(rec.seq, rec.hash.clone()))?));
    if let Some(key) = key.get() {
        let seal: AuditSeal = key.seal(rec.seq, &rec.hash);
        ops.push(KvOp::Put(Cf::Meta, SEAL.to_vec(), encode(&seal)?));
    }
    let seq = t.next_seq()?;
    let bucket = scope.bucket.map(|b| *b.as_bytes());
    ops.push(KvOp::Put(Cf::AuditScopes, scope_key(scope.bucket, rec.seq), encode(&seq)?));
    ops.push(outbox_op(seq, scope, &LogEntry::Audited(Box::new(LoggedAudit::new(seq, bucket, &rec))))?);
    t.commit(ops)?;
    Ok((rec, seq))
}

/// The [`Cf::AuditScopes`] key of record `seq` in the scope of `bucket` (`None`: the catalog's).
fn scope_key(bucket: Option<BucketUid>, seq: u64) -> Vec<u8> {
    [bucket.map_or(CATALOG_SCOPE, |b| *b.as_bytes()).as_slice(), &seq.to_be_bytes()].concat()
}

/// Puts restored records back as the commits that chained them wrote them (their log entries
/// are in the log already), the head moved to the highest.
pub(super) fn restore_records(
    t: &mut impl KvTxn,
    records: &[crate::meta::restore::RestoredAudit],
    ops: &mut Vec<KvOp>,
) -> Result<(), MetaError> {
    let Some(last) = records.iter().map(|r| &r.record).max_by_key(|r| r.seq) else { return Ok(()) };
    for r in records {
        ops.push(KvOp::Put(Cf::Audit, r.record.seq.to_be_bytes().to_vec(), encode(&r.record)?));
        ops.push(KvOp::Put(Cf::AuditScopes, scope_key(r.bucket, r.record.seq), encode(&r.log_seq)?));
    }
    let head = t.get_decoded::<(u64, String)>(Cf::Meta, HEAD)?;
    if head.is_none_or(|(seq, _)| seq < last.seq) {
        ops.push(KvOp::Put(Cf::Meta, HEAD.to_vec(), encode(&(last.seq, last.hash.clone()))?));
    }
    Ok(())
}
