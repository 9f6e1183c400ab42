//! The store's [`AdminMeta`]: audited admin changes, the audit chain and its key, data-key rewraps and KEK fingerprints.

use super::logging::{bucket_by_uid, bucket_scope, log_entry, own_kek};
use super::versions::History;
use super::{KvMetadataStore, LIFE_EXCLUSIVE, LIFE_SHARED, bucket_kek_key, key_lock, upload_index_key, wall_ms};
use crate::meta::AdminMeta;
use crate::meta::audit_chain::{SEAL, WRAPPED_KEY, commit_audited};
use crate::meta::codec::{decode, encode};
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::meta::log_entry::{LogEntry, LoggedBucket, LoggedUpload};
use crate::meta::outbox::LogScope;
use crate::meta::{AuditedChange, CatalogOverrides, DekRewrap};
use crate::meta::{BucketRecord, MetaError, UploadRecord};
use crate::model::BucketUid;
use crate::model::WrappedKey;
use crate::model::access::ConsoleSession;
use crate::model::audit::{AuditEntry, AuditKey, AuditRecord, AuditSeal};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
impl<E: KvEngine> AdminMeta for KvMetadataStore<E> {
    async fn apply_change(&self, change: AuditedChange, audit: AuditEntry) -> Result<Option<AuditRecord>, MetaError> {
        self.run_logged(move |i| {
            let mut t = i.engine.begin(&[LIFE_EXCLUSIVE, TxnLock::Audit])?;
            let scope = audit_scope(&mut t, &change)?;
            if change.is_access() {
                let Some((ops, seq)) = super::access::apply(&mut t, change)? else { return Ok((None, vec![])) };
                let (rec, audit_seq) = commit_audited(t, ops, audit, scope, &i.sealing, wall_ms())?;
                return Ok((Some(rec), vec![seq, audit_seq]));
            }
            let mut ops = Vec::new();
            let logged = match change {
                AuditedChange::RecordOnly => None,
                AuditedChange::Provider(p) => {
                    let name = format!("provider/{}", p.id);
                    ops.push(KvOp::Put(Cf::Catalog, name.clone().into_bytes(), encode(&p)?));
                    Some(catalog_entry(&mut t, name, &p)?)
                }
                AuditedChange::Policy(p) => {
                    let name = format!("policy/{}", p.id);
                    ops.push(KvOp::Put(
                        Cf::Catalog,
                        name.clone().into_bytes(),
                        crate::meta::records::encode_policy(&p)?,
                    ));
                    Some(catalog_entry(&mut t, name, &p)?)
                }
                AuditedChange::BucketPolicy { bucket, policy_id } => {
                    let Some(mut rec) = t.get_decoded::<BucketRecord>(Cf::Buckets, bucket.as_bytes())? else {
                        return Ok((None, vec![]));
                    };
                    rec.policy_id = policy_id;
                    ops.push(KvOp::Put(Cf::Buckets, bucket.into_bytes(), encode(&rec)?));
                    let kek = own_kek(&mut t, rec.uid)?;
                    Some(bucket_entry(&mut t, &rec, kek)?)
                }
                AuditedChange::BucketKek { bucket, kek } => {
                    ops.push(KvOp::Put(Cf::Catalog, bucket_kek_key(bucket), encode(&kek)?));
                    match bucket_by_uid(&mut t, bucket)? {
                        Some(rec) => Some(bucket_entry(&mut t, &rec, Some(kek))?),
                        None => None,
                    }
                }
                AuditedChange::KekShredded { kek, at_ms } => {
                    let name = format!("shredded/{kek}");
                    ops.push(KvOp::Put(Cf::Catalog, name.clone().into_bytes(), encode(&at_ms)?));
                    Some(catalog_entry(&mut t, name, &at_ms)?)
                }
                _ => return Err(MetaError::codec("an access change outside the access store")),
            };
            let mut seqs: Vec<u64> = logged
                .map(|(seq, op)| {
                    ops.push(op);
                    seq
                })
                .into_iter()
                .collect();
            let (rec, audit_seq) = commit_audited(t, ops, audit, scope, &i.sealing, wall_ms())?;
            seqs.push(audit_seq);
            Ok((Some(rec), seqs))
        })
        .await
    }

    async fn catalog_overrides(&self) -> Result<CatalogOverrides, MetaError> {
        self.run(|i| {
            let mut out = CatalogOverrides::default();
            for (k, v) in i.engine.scan(Cf::Catalog, b"", None, usize::MAX)? {
                if k.starts_with(b"provider/") {
                    out.providers.push(decode(&v)?);
                } else if k.starts_with(b"policy/") {
                    out.policies.push(crate::meta::records::decode_policy(&v)?);
                } else if let Some(uid) = k.strip_prefix(b"bucketkek/") {
                    let uid = hex::decode(uid).ok().and_then(|b| <[u8; 16]>::try_from(b).ok());
                    if let Some(uid) = uid {
                        out.bucket_keks.push((BucketUid(uid), decode(&v)?));
                    }
                } else if let Some(kek) = k.strip_prefix(b"shredded/") {
                    out.shredded_keks.push((String::from_utf8_lossy(kek).into_owned(), decode(&v)?));
                }
            }
            Ok(out)
        })
        .await
    }

    fn set_audit_key(&self, key: Arc<AuditKey>) {
        self.inner.sealing.set(key);
    }

    async fn audit_key(&self) -> Result<Option<WrappedKey>, MetaError> {
        self.run(|i| i.get(Cf::Meta, WRAPPED_KEY)).await
    }

    async fn init_audit_key(&self, wrapped: WrappedKey) -> Result<WrappedKey, MetaError> {
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Audit])?;
            if let Some(existing) = t.get_decoded::<WrappedKey>(Cf::Meta, WRAPPED_KEY)? {
                return Ok(existing);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, WRAPPED_KEY.to_vec(), encode(&wrapped)?)])?;
            Ok(wrapped)
        })
        .await
    }

    async fn audit_seal(&self) -> Result<Option<AuditSeal>, MetaError> {
        self.run(|i| i.get(Cf::Meta, SEAL)).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, MetaError> {
        self.run(move |i| {
            let start = after.saturating_add(1).to_be_bytes();
            i.engine.scan(Cf::Audit, &start, None, limit)?.iter().map(|(_, v)| decode(v)).collect()
        })
        .await
    }

    async fn rewrap_dek(&self, r: DekRewrap) -> Result<bool, MetaError> {
        self.run_logged(move |i| {
            match r {
                DekRewrap::Version { bucket, key, version, expected, new } => {
                    let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(bucket, &key)])?;
                    let history = History::read(&mut t, bucket, key.as_bytes())?;
                    let found = history.find_uid(&mut t, version)?;
                    let stored = t.get_decoded::<WrappedKey>(Cf::Deks, version.as_bytes())?;
                    if found.is_none() || stored.as_ref() != Some(&expected) {
                        return Ok((false, None));
                    }
                    let Some(rec) = bucket_by_uid(&mut t, bucket)? else { return Ok((false, None)) };
                    let scope = bucket_scope(&mut t, &rec)?;
                    let (seq, logged) = log_entry(&mut t, scope, |seq| LogEntry::Rewrapped {
                        seq,
                        version: *version.as_bytes(),
                        dek: (&new).into(),
                    })?;
                    t.commit(vec![KvOp::Put(Cf::Deks, version.as_bytes().to_vec(), encode(&new)?), logged])?;
                    Ok((true, Some(seq)))
                }
                DekRewrap::Upload { upload, expected, new } => {
                    let Some(rec) = i.get::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? else {
                        return Ok((false, None));
                    };
                    let mut t = i.engine.begin(&[LIFE_SHARED, key_lock(rec.bucket_uid, &rec.key)])?;
                    // Read again under the key's lock: Complete and Abort remove the upload under it.
                    let mut rec = match t.get_decoded::<UploadRecord>(Cf::UploadIds, upload.as_bytes())? {
                        Some(again) if again.dek == expected => again,
                        _ => return Ok((false, None)),
                    };
                    rec.dek = new;
                    let index = upload_index_key(rec.bucket_uid, rec.key.as_bytes(), rec.upload_id);
                    let mut ops = vec![
                        KvOp::Put(Cf::UploadIds, upload.as_bytes().to_vec(), encode(&rec)?),
                        KvOp::Put(Cf::Uploads, index, encode(&rec)?),
                    ];
                    // The upload again with its new wrapping: a rebuild must not bring back a
                    // key wrapped under a KEK version that may be retired.
                    let seq = super::uploads::log_upload_entry(&mut t, rec.bucket_uid, &mut ops, |seq| {
                        LogEntry::Upload(Box::new(LoggedUpload::new(seq, &rec)))
                    })?;
                    t.commit(ops)?;
                    Ok((true, seq))
                }
            }
        })
        .await
    }

    async fn holds_data_keys(&self) -> Result<bool, MetaError> {
        self.run(|i| {
            Ok(!i.engine.scan(Cf::Deks, b"", None, 1)?.is_empty()
                || !i.engine.scan(Cf::UploadIds, b"", None, 1)?.is_empty())
        })
        .await
    }

    async fn kek_fingerprint(&self, kek: &str) -> Result<Option<String>, MetaError> {
        let key = format!("kekfp/{kek}").into_bytes();
        self.run(move |i| i.get(Cf::Meta, &key)).await
    }

    async fn console_session(&self, id: [u8; 32]) -> Result<Option<ConsoleSession>, MetaError> {
        self.run(move |i| i.get(Cf::Meta, &console_session_key(&id))).await
    }

    async fn start_console_session(
        &self,
        id: [u8; 32],
        session: ConsoleSession,
        expired_before: u64,
    ) -> Result<(), MetaError> {
        self.run(move |i| {
            let end = crate::meta::codec::prefix_successor(CONSOLE_SESSIONS);
            let mut ops = Vec::new();
            for (k, v) in i.engine.scan(Cf::Meta, CONSOLE_SESSIONS, end.as_deref(), usize::MAX)? {
                if decode::<ConsoleSession>(&v).map_or(true, |s| s.issued_secs < expired_before) {
                    ops.push(KvOp::Delete(Cf::Meta, k));
                }
            }
            ops.push(KvOp::Put(Cf::Meta, console_session_key(&id), encode(&session)?));
            i.engine.write(ops)
        })
        .await
    }

    async fn end_console_session(&self, id: [u8; 32]) -> Result<bool, MetaError> {
        self.run(move |i| {
            let key = console_session_key(&id);
            if i.engine.get(Cf::Meta, &key)?.is_none() {
                return Ok(false);
            }
            i.engine.write(vec![KvOp::Delete(Cf::Meta, key)])?;
            Ok(true)
        })
        .await
    }

    async fn record_kek_fingerprint(&self, kek: &str, fingerprint: String) -> Result<String, MetaError> {
        let key = format!("kekfp/{kek}").into_bytes();
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            if let Some(recorded) = t.get_decoded::<String>(Cf::Meta, &key)? {
                return Ok(recorded);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, key, encode(&fingerprint)?)])?;
            Ok(fingerprint)
        })
        .await
    }
}

/// A catalog change's log entry: `value` as JSON under `name`.
fn catalog_entry(t: &mut impl KvTxn, name: String, value: &impl serde::Serialize) -> Result<(u64, KvOp), MetaError> {
    let json = serde_json::to_string(value).map_err(|e| MetaError::codec_from("a catalog log entry", e))?;
    log_entry(t, LogScope::catalog(), |seq| LogEntry::Catalog { seq, name, json })
}

/// Where a change's audit record is logged: in the scope of the bucket it is about (as the
/// change leaves it: rebound, given its own KEK), or the catalog's when it is about none, or
/// the bucket is gone.
fn audit_scope(t: &mut impl KvTxn, change: &AuditedChange) -> Result<LogScope, MetaError> {
    let rec = match (change, change.bucket_named()) {
        (_, Some(name)) => t.get_decoded::<BucketRecord>(Cf::Buckets, name)?,
        (AuditedChange::BucketKek { bucket, .. }, None) => bucket_by_uid(t, *bucket)?,
        _ => None,
    };
    let Some(mut rec) = rec else { return Ok(LogScope::catalog()) };
    let kek = match change {
        AuditedChange::BucketKek { kek, .. } => Some(kek.clone()),
        AuditedChange::BucketPolicy { policy_id, .. } => {
            rec.policy_id.clone_from(policy_id);
            own_kek(t, rec.uid)?
        }
        _ => own_kek(t, rec.uid)?,
    };
    Ok(LogScope::bucket(&rec, kek))
}

/// A bucket's log entry as it now is, with its own KEK.
pub(super) fn bucket_entry(
    t: &mut impl KvTxn,
    rec: &BucketRecord,
    kek: Option<String>,
) -> Result<(u64, KvOp), MetaError> {
    let scope = LogScope::bucket(rec, kek.clone());
    log_entry(t, scope, |seq| LogEntry::Bucket(LoggedBucket::new(seq, rec, kek)))
}

/// Where console sessions are kept (`Meta`, not logged: a rebuilt store has none).
const CONSOLE_SESSIONS: &[u8] = b"console-session/";

fn console_session_key(id: &[u8; 32]) -> Vec<u8> {
    [CONSOLE_SESSIONS, hex::encode(id).as_bytes()].concat()
}
