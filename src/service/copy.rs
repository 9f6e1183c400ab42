//! CopyObject (DESIGN.md §3.6): the source streams through the verified read path into the
//! write path of the destination, re-encrypted under a new data key.

use super::access::Permit;
use super::encryption::context_of;
use super::put::{MAX_OBJECT_SIZE, PlainSource, StreamTarget, VersionOrigin};
use super::{Conditions, ObjectService, PutOutput, parse_key, parse_new_key};
use crate::error::{Context as _, ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding};
use crate::meta::VersionRecord;
use crate::model::WriteCondition;
use crate::model::random_array;
use crate::model::{ContentHeaders, VersionUid};

/// CopyObject.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    /// Source bucket.
    pub src_bucket: String,
    /// Source key.
    pub src_key: String,
    /// The source's version, if named (`?versionId=` in `x-amz-copy-source`).
    pub src_version_id: Option<String>,
    /// Destination bucket.
    pub dst_bucket: String,
    /// Destination key.
    pub dst_key: String,
    /// `x-amz-metadata-directive: REPLACE` with these headers; `None` copies the source's.
    pub replace_headers: Option<ContentHeaders>,
    /// `x-amz-copy-source-if-*`.
    pub source_conditions: Conditions,
    /// If-None-Match / If-Match on the destination.
    pub condition: WriteCondition,
    /// `x-amz-object-lock-*` for the new version.
    pub lock: super::LockRequest,
    /// `x-amz-tagging-directive: REPLACE` with these tags (`x-amz-tagging`); `None` copies
    /// the source's (S3's default directive, COPY).
    pub replace_tags: Option<crate::model::tagging::TagSet>,
    /// The source's SSE-C key (`x-amz-copy-source-server-side-encryption-customer-*`).
    pub src_customer_key: Option<crate::keys::CustomerKey>,
    /// The SSE-C key of the new version (`x-amz-server-side-encryption-customer-*`).
    pub dst_customer_key: Option<crate::keys::CustomerKey>,
    /// SSE-KMS asked for the new version.
    pub dst_kms: Option<super::encryption::KmsRequest>,
}

impl ObjectService {
    /// Loads a copy source (the named version, or the current one) and checks its conditions.
    pub(crate) async fn copy_source(
        &self,
        permit: &Permit,
        key: &str,
        version_id: Option<&str>,
        cond: &Conditions,
    ) -> Result<VersionRecord> {
        let key = parse_key(key)?;
        let v = self.named_or_current(permit.bucket().uid, &key, version_id).await?;
        cond.check_copy_source(&v.etag, v.last_modified_ms)?;
        Ok(v)
    }

    /// CopyObject.
    pub(crate) async fn copy_object(
        &self,
        source: &Permit,
        dst_permit: &Permit,
        req: CopyRequest,
    ) -> Result<PutOutput> {
        let src = self.copy_source(source, &req.src_key, req.src_version_id.as_deref(), &req.source_conditions).await?;
        // A copy onto itself must change something, unless it names a source version: copying a
        // version onto its key is how S3 restores it (AWS and MinIO accept it, whatever version).
        let same = req.src_bucket == req.dst_bucket && req.src_key == req.dst_key;
        let changes_encryption = req.src_customer_key.is_some() || req.dst_customer_key.is_some();
        if same && req.replace_headers.is_none() && req.src_version_id.is_none() && !changes_encryption {
            return Err(ErrorKind::InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
            )
            .into());
        }
        if src.size > MAX_OBJECT_SIZE {
            return Err(ErrorKind::InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
                    .into(),
            )
            .into());
        }
        let dst = dst_permit.bucket();
        let dst_key = parse_new_key(&req.dst_key)?;
        self.early_condition(dst, &dst_key, &req.condition).await?;
        self.check_kms_request(dst.uid, req.dst_kms.as_ref())?;
        let lock = self.lock_for_new_version(dst, req.lock).await?;
        let placement = self.placement_for(dst)?;
        let version = VersionUid(random_array().context("drawing a random id")?);
        let dek = DataKey::generate()?;
        // The source's encryption context is not carried over (as S3): the request gives its own.
        let binding = KeyBinding::new(dst.uid, version, &req.dst_key).with_context(context_of(req.dst_kms.as_ref()));
        let wrapped = self.wrap_dek(&dek, binding, req.dst_customer_key.as_ref()).await?;
        let range = (src.size > 0).then(|| (0, src.size - 1));
        let algorithm = src.checksum.as_ref().map(|c| c.algorithm);
        let src_wrapped = self.version_key(&src).await?;
        let stream = self
            .read_version(source.bucket(), &req.src_key, &src, &src_wrapped, range, req.src_customer_key.as_ref())
            .await?;
        let source = PlainSource { len: src.size, stream, algorithm, etag: dst_permit.etag_mode() };
        let target = StreamTarget { bucket: dst.uid, version, part_number: 0, dek: &dek, placement };
        let stored = self.store_stream(target, source, |_| Ok(())).await?;
        let headers = req.replace_headers.unwrap_or(src.headers);
        let tags = req.replace_tags.unwrap_or(src.tags);
        let origin = VersionOrigin::Stream(stored.repairs());
        let (mut record, out) = super::put::single_stream_version(&dek, dst.uid, version, stored, headers)?;
        record.lock = lock;
        record.tags = tags;
        let expiration = self.expiry(dst_permit, &req.dst_key, &record);
        let encryption = super::encryption::ObjectEncryption::of(&wrapped);
        let key = super::put::VersionKey { plain: &dek, wrapped };
        let version_id = self.commit_version(dst, &dst_key, record, key, req.condition, origin).await?;
        Ok(PutOutput { version_id, expiration, encryption, ..out })
    }
}
