//! Writing a rebuild's recovered records (see [`crate::meta::restore`]): each batch in one
//! transaction, as the commits that made them wrote them, without outbox entries.

use super::{Inner, LIFE_EXCLUSIVE, bucket_kek_key, object_key};
use crate::meta::codec::encode;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn};
use crate::meta::replica_queue::queue_repairs;
use crate::meta::restore::{RestoreBatch, RestoredVersion};
use crate::meta::{AuditedChange, MetaError};

impl<E: KvEngine> Inner<E> {
    pub(super) fn restore(&self, batch: &RestoreBatch) -> Result<(), MetaError> {
        let mut t = self.engine.begin(&[LIFE_EXCLUSIVE])?;
        let mut ops = Vec::new();
        for (rec, kek) in &batch.buckets {
            ops.push(KvOp::Put(Cf::Buckets, rec.name.as_bytes().to_vec(), encode(rec)?));
            if let Some(kek) = kek {
                ops.push(KvOp::Put(Cf::Catalog, bucket_kek_key(rec.uid), encode(kek)?));
            }
        }
        for change in &batch.catalog {
            let (name, value) = match change {
                AuditedChange::Provider(p) => (format!("provider/{}", p.id), encode(p)?),
                AuditedChange::Policy(p) => (format!("policy/{}", p.id), encode(p)?),
                AuditedChange::KekShredded { kek, at_ms } => (format!("shredded/{kek}"), encode(at_ms)?),
                _ => return Err(MetaError::codec("a restored catalog change of another kind")),
            };
            ops.push(KvOp::Put(Cf::Catalog, name.into_bytes(), value));
        }
        super::access::restore_ops(&batch.access, &mut ops)?;
        for v in &batch.versions {
            restore_version(v, &mut ops)?;
        }
        if batch.seq_floor > 0 {
            t.raise_seq(batch.seq_floor)?;
        }
        t.commit(ops)
    }
}

fn restore_version(v: &RestoredVersion, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    for s in &v.version.streams {
        ops.push(KvOp::Put(Cf::Streams, s.stream_id.as_bytes().to_vec(), encode(s)?));
        ops.push(KvOp::Put(Cf::Owners, s.stream_id.as_bytes().to_vec(), encode(&v.bucket)?));
    }
    queue_repairs(&v.repairs, ops)?;
    ops.push(KvOp::Put(Cf::Deks, v.version.version_uid.as_bytes().to_vec(), encode(&v.dek)?));
    ops.push(KvOp::Put(Cf::Objects, object_key(v.bucket, v.key.as_bytes()), encode(&v.version)?));
    Ok(())
}
