//! The audit chain inside the store: a record is appended with its hash link to the head, and
//! the new head is sealed with the audit key in the same commit (when the gateway gave the
//! store its key), so the seal always covers exactly the chain a commit left behind.

use std::sync::{Arc, RwLock};

use super::MetaError;
use super::codec::encode;
use super::kv::{Cf, KvOp, KvTxn};
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

/// Commits `ops` plus the audit record of `entry`, chained after the head, and the head's new
/// seal. `t` holds [`super::kv::TxnLock::Audit`].
pub(super) fn commit_audited(
    mut t: impl KvTxn,
    mut ops: Vec<KvOp>,
    entry: AuditEntry,
    key: &SealingKey,
    now_ms: i64,
) -> Result<AuditRecord, MetaError> {
    let (last, hash) = t.get_decoded::<(u64, String)>(Cf::Meta, HEAD)?.unwrap_or((0, GENESIS.to_owned()));
    let rec = AuditRecord::seal(entry, last + 1, now_ms, &hash);
    ops.push(KvOp::Put(Cf::Audit, rec.seq.to_be_bytes().to_vec(), encode(&rec)?));
    ops.push(KvOp::Put(Cf::Meta, HEAD.to_vec(), encode(&(rec.seq, rec.hash.clone()))?));
    if let Some(key) = key.get() {
        let seal: AuditSeal = key.seal(rec.seq, &rec.hash);
        ops.push(KvOp::Put(Cf::Meta, SEAL.to_vec(), encode(&seal)?));
    }
    t.commit(ops)?;
    Ok(rec)
}
