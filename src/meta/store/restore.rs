//! Writing a rebuild's recovered records (see [`crate::meta::restore`]): each batch in one
//! transaction, as the commits that made them wrote them, without outbox entries.

use super::versions::{History, Place};
use super::{Inner, LIFE_EXCLUSIVE, bucket_kek_key, object_key, part_key, upload_index_key};
use crate::meta::codec::encode;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn};
use crate::meta::replica_queue::queue_repairs;
use crate::meta::restore::{RestoreBatch, RestoredUpload, RestoredVersion};
use crate::meta::{AuditedChange, MetaError};
use crate::model::BucketUid;

impl<E: KvEngine> Inner<E> {
    pub(super) fn restore(&self, batch: &RestoreBatch) -> Result<(), MetaError> {
        let mut t = self.engine.begin(&[LIFE_EXCLUSIVE, crate::meta::kv::TxnLock::Audit])?;
        let mut ops = Vec::new();
        for (rec, kek) in &batch.buckets {
            ops.push(KvOp::Put(Cf::Buckets, rec.name.as_bytes().to_vec(), encode(rec)?));
            ops.push(super::logging::bucket_id_op(rec)?);
            if let Some(kek) = kek {
                ops.push(KvOp::Put(Cf::Catalog, bucket_kek_key(rec.uid), encode(kek)?));
            }
        }
        for change in &batch.catalog {
            let (name, value) = match change {
                AuditedChange::Provider(p) => (format!("provider/{}", p.id), encode(p)?),
                AuditedChange::Policy(p) => (format!("policy/{}", p.id), crate::meta::records::encode_policy(p)?),
                AuditedChange::KekShredded { kek, at_ms } => (format!("shredded/{kek}"), encode(at_ms)?),
                _ => return Err(MetaError::codec("a restored catalog change of another kind")),
            };
            ops.push(KvOp::Put(Cf::Catalog, name.into_bytes(), value));
        }
        super::access::restore_ops(&batch.access, &mut ops)?;
        let mut by_key: std::collections::BTreeMap<_, Vec<&RestoredVersion>> = std::collections::BTreeMap::new();
        for v in &batch.versions {
            restore_version(v, &mut ops)?;
            by_key.entry((v.bucket, v.key.as_bytes())).or_default().push(v);
        }
        for ((bucket, key), mut versions) in by_key {
            versions.sort_by_key(|v| v.version.order);
            place_versions(&mut t, bucket, key, &versions, &mut ops)?;
        }
        for u in &batch.uploads {
            restore_upload(u, &mut ops)?;
        }
        crate::meta::audit_chain::restore_records(&mut t, &batch.audit, &mut ops)?;
        if batch.seq_floor > 0 {
            t.raise_seq(batch.seq_floor)?;
        }
        t.commit(ops)
    }
}

fn restore_version(v: &RestoredVersion, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    for s in &v.version.streams {
        super::record_stream(s, v.bucket, ops)?;
    }
    queue_repairs(&v.repairs, ops)?;
    if !v.version.delete_marker {
        ops.push(KvOp::Put(Cf::Deks, v.version.version_uid.as_bytes().to_vec(), encode(&v.dek)?));
    }
    Ok(())
}

/// An upload as CreateMultipartUpload and its UploadPart commits wrote it.
fn restore_upload(u: &RestoredUpload, ops: &mut Vec<KvOp>) -> Result<(), MetaError> {
    let rec = &u.record;
    let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
    ops.push(KvOp::Put(Cf::UploadIds, rec.upload_id.as_bytes().to_vec(), encode(rec)?));
    ops.push(KvOp::Put(Cf::Uploads, index, encode(rec)?));
    for (number, part) in &u.parts {
        super::record_stream(&part.stream, rec.bucket_uid, ops)?;
        ops.push(KvOp::Put(Cf::Parts, part_key(rec.upload_id, *number), part.encode_stored()?));
    }
    queue_repairs(&u.repairs, ops)
}

/// Puts recovered versions of one key (oldest first) where the store keeps them, beside the
/// ones it holds already (an earlier batch's, or this very batch written before a resume):
/// the newest is the latest.
fn place_versions(
    t: &mut impl KvTxn,
    bucket: BucketUid,
    key: &[u8],
    versions: &[&RestoredVersion],
    ops: &mut Vec<KvOp>,
) -> Result<(), MetaError> {
    let history = History::read(t, bucket, key)?;
    let mut current = history.current.clone();
    let newest_kept = history.newest_noncurrent(t, 1)?.into_iter().next();
    let mut latest = current.as_ref().or(newest_kept.as_ref()).map(|v| v.order);
    for v in versions.iter().map(|v| &v.version) {
        if current.as_ref().is_some_and(|c| c.order == v.order) {
            history.rewrite(Place::Current, v, ops)?;
            current = Some(v.clone());
        } else if latest.is_none_or(|l| v.order > l) {
            if let Some(old) = current.take() {
                history.keep_noncurrent(&old, ops)?;
                ops.push(KvOp::Delete(Cf::Objects, object_key(bucket, key)));
            }
            history.put_latest(v, ops)?;
            current = (!v.delete_marker).then(|| v.clone());
            latest = Some(v.order);
        } else {
            history.keep_noncurrent(v, ops)?;
        }
    }
    Ok(())
}
