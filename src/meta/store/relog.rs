//! Logging again what the store holds now (`souverain meta verify --repair`): a bucket, a
//! version or an open upload whose entry the providers' log lost gets a new entry, drawn like
//! a commit's (a new sequence number, in the outbox, logged by the writer).

use super::admin::bucket_entry;
use super::logging::{bucket_by_uid, bucket_scope, log_entry, own_kek};
use super::versions::{History, Place};
use super::{Inner, LIFE_SHARED, key_lock};
use crate::meta::codec::decode;
use crate::meta::kv::{Cf, KvEngine, KvTxn};
use crate::meta::log_entry::{LogEntry, LoggedPart, LoggedUpload};
use crate::meta::{BucketRecord, MetaError, UploadRecord};
use crate::model::{BucketName, BucketUid, ObjectKey, UploadId, VersionRef, WrappedKey};

impl<E: KvEngine> Inner<E> {
    /// The bucket's entry again; `None` if it does not exist.
    pub(super) fn relog_bucket(&self, name: &BucketName) -> Result<(bool, Option<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED])?;
        let Some(rec) = t.get(Cf::Buckets, name.as_bytes())?.map(|v| decode::<BucketRecord>(&v)).transpose()? else {
            return Ok((false, None));
        };
        let kek = own_kek(&mut t, rec.uid)?;
        let (seq, logged) = bucket_entry(&mut t, &rec, kek)?;
        t.commit(vec![logged])?;
        Ok((true, Some(seq)))
    }

    /// A version of the key (the current one if `version` is `None`) again, under a new
    /// sequence number (the record follows, as a replica move's does; its order stays);
    /// `None` if there is no such version.
    pub(super) fn relog_version(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version: Option<VersionRef>,
    ) -> Result<(bool, Option<u64>), MetaError> {
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(bucket, key.as_str())])?;
        let history = History::read(&mut t, bucket, key.as_bytes())?;
        let found = match version {
            Some(r) => history.find(&mut t, r)?,
            None => history.current.clone().map(|v| (Place::Current, v)),
        };
        let Some((place, mut v)) = found else { return Ok((false, None)) };
        // A delete marker has no data key; it is logged with an empty one.
        let dek = if v.delete_marker {
            Some(WrappedKey::default())
        } else {
            t.get_decoded::<WrappedKey>(Cf::Deks, v.version_uid.as_bytes())?
        };
        let (Some(rec), Some(dek)) = (bucket_by_uid(&mut t, bucket)?, dek) else { return Ok((false, None)) };
        let scope = bucket_scope(&mut t, &rec)?;
        let (seq, logged) = log_entry(&mut t, scope, |seq| {
            v.seq = seq;
            super::version_entry(bucket, key.as_str(), &v, &dek)
        })?;
        let mut ops = vec![logged];
        history.rewrite(place, &v, &mut ops)?;
        t.commit(ops)?;
        Ok((true, Some(seq)))
    }

    /// An open upload's `Upload` entry again, and a `Part` entry for each of its parts (an
    /// upload begun before uploads were logged, or whose entries the log lost); `None` if the
    /// upload is not open.
    pub(super) fn relog_upload(&self, upload: UploadId) -> Result<(bool, Vec<u64>), MetaError> {
        let Some(rec) = self.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else { return Ok((false, vec![])) };
        // Under the key's lock, as UploadPart, Complete and Abort take it.
        let mut t = self.engine.begin(&[LIFE_SHARED, key_lock(rec.bucket_uid, &rec.key)])?;
        let Some(rec) = t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
            return Ok((false, vec![]));
        };
        let Some(bucket) = bucket_by_uid(&mut t, rec.bucket_uid)? else { return Ok((false, vec![])) };
        let scope = bucket_scope(&mut t, &bucket)?;
        let (seq, op) =
            log_entry(&mut t, scope.clone(), |seq| LogEntry::Upload(Box::new(LoggedUpload::new(seq, &rec))))?;
        let (mut ops, mut seqs) = (vec![op], vec![seq]);
        for (number, part) in self.parts_after(upload, 0, usize::MAX)? {
            let (seq, op) = log_entry(&mut t, scope.clone(), |seq| {
                LogEntry::Part(Box::new(LoggedPart::new(seq, rec.bucket_uid, upload, number, &part)))
            })?;
            ops.push(op);
            seqs.push(seq);
        }
        t.commit(ops)?;
        Ok((true, seqs))
    }
}
