//! Multipart uploads (DESIGN.md §3.2). Each part is one sealed stream under the upload's data
//! key; Complete is metadata-only.

use super::access::Permit;
use super::checksum::multipart_checksum;
use super::encryption::context_of;
use super::put::{BodyChecks, KEK_CHANGE_RETRIES, MAX_OBJECT_SIZE, PlainSource, StreamTarget, VersionOrigin};
use super::{ClientBody, ObjectService, PutOutput, now_ms, parse_key, parse_new_key};
use crate::datapath::ciphertext_len;
use crate::error::{Context as _, ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding};
use crate::meta::{
    BucketRecord, CommitOutcome, DeletionReason, DeletionTask, GcTask, PartRecord, RepairTask, UploadRecord,
    VersionRecord,
};
use crate::model::WriteCondition;
use crate::model::random_array;
use crate::model::{ChecksumAlgorithm, ChecksumType, ETag, ObjectKey, ProviderId, UploadId, VersionUid};

/// Parts other than the last must be at least this large.
const MIN_PART_SIZE: u64 = 5 << 20;
/// Highest part number.
const MAX_PART_NUMBER: u32 = 10_000;

/// One entry of a CompleteMultipartUpload body.
#[derive(Debug, Clone)]
pub struct CompletePart {
    /// Part number.
    pub number: u32,
    /// The ETag the client got for it.
    pub etag: String,
    /// The checksum the client got for it, if any.
    pub checksum: Option<String>,
}

/// CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct CompleteRequest {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// The parts, as listed by the client.
    pub parts: Vec<CompletePart>,
    /// If-None-Match / If-Match.
    pub condition: WriteCondition,
    /// The upload's SSE-C key, if it was created with one (its data key opens only with it).
    pub customer_key: Option<crate::keys::CustomerKey>,
}

/// A stored part as ListParts shows it.
#[derive(Debug, Clone)]
pub struct PartInfo {
    /// Number.
    pub number: u32,
    /// ETag (MD5 of the part).
    pub etag: ETag,
    /// Size.
    pub size: u64,
    /// Upload time, ms.
    pub last_modified_ms: i64,
    /// Checksum, base64.
    pub checksum: Option<String>,
}

/// A ListParts page.
#[derive(Debug, Clone)]
pub struct PartsPage {
    /// The upload.
    pub upload: UploadInfo,
    /// Parts.
    pub parts: Vec<PartInfo>,
    /// More follow.
    pub truncated: bool,
}

/// What a listing says about an open upload.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    /// The key it will create.
    pub key: String,
    /// Its id.
    pub upload_id: UploadId,
    /// Initiation time, ms since the epoch.
    pub initiated_ms: i64,
    /// Checksum algorithm and type requested at creation.
    pub checksum: Option<(ChecksumAlgorithm, ChecksumType)>,
}

impl From<&UploadRecord> for UploadInfo {
    fn from(u: &UploadRecord) -> Self {
        Self { key: u.key.clone(), upload_id: u.upload_id, initiated_ms: u.initiated_ms, checksum: u.checksum }
    }
}

fn parse_upload_id(id: &str) -> Result<UploadId> {
    UploadId::from_hex(id).ok_or_else(|| ErrorKind::NoSuchUpload.into())
}

fn check_part_number(n: u32) -> Result<()> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(())
    } else {
        Err(ErrorKind::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into()).into())
    }
}

impl ObjectService {
    async fn open_upload(&self, permit: &Permit, key: &str, id: &str) -> Result<(BucketRecord, UploadRecord)> {
        let bucket = permit.bucket().clone();
        let upload = self.meta.upload(parse_upload_id(id)?).await?.ok_or(ErrorKind::NoSuchUpload)?;
        if upload.bucket_uid != bucket.uid || upload.key != key {
            return Err(ErrorKind::NoSuchUpload.into());
        }
        Ok((bucket, upload))
    }

    /// CreateMultipartUpload: the data key is pinned to the upload; the placement is checked
    /// now (a bucket whose policy cannot be met refuses the upload) and decided again for
    /// every part.
    pub(crate) async fn create_upload(
        &self,
        permit: &Permit,
        req: super::NewUpload,
    ) -> Result<(UploadId, super::encryption::ObjectEncryption)> {
        let super::NewUpload { key, headers, checksum, lock, tags, customer_key, kms, .. } = req;
        let key = key.as_str();
        let bucket = permit.bucket().clone();
        self.check_kms_request(bucket.uid, kms.as_ref())?;
        parse_new_key(key)?;
        if !lock.is_empty() {
            // Checked now (Object Lock on the bucket, a date in the future), applied at completion.
            self.lock_for_new_version(&bucket, lock).await?;
        }
        if let Some((a, ChecksumType::FullObject)) = checksum
            && matches!(a, ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256)
        {
            return Err(ErrorKind::InvalidRequest(format!(
                "The FULL_OBJECT checksum type cannot be used with the {a:?} checksum algorithm."
            ))
            .into());
        }
        let placement = self.placement_for(&bucket)?;
        let version = VersionUid(random_array().context("drawing a random id")?);
        let dek = DataKey::generate()?;
        let binding = KeyBinding::new(bucket.uid, version, key).with_context(context_of(kms.as_ref()));
        let wrapped = self.wrap_dek(&dek, binding, customer_key.as_ref()).await?;
        let upload_id = UploadId(random_array().context("drawing a random id")?);
        let mut rec = UploadRecord {
            upload_id,
            bucket_uid: bucket.uid,
            key: key.to_owned(),
            version_uid: version,
            targets: placement.targets().to_vec(),
            initiated_ms: now_ms(),
            headers,
            checksum,
            dek: wrapped,
            write_quorum: placement.write_quorum(),
            lock: crate::model::lock::VersionLock { retention: lock.retention, legal_hold: lock.legal_hold },
            tags,
        };
        for _ in 0..=KEK_CHANGE_RETRIES {
            // A customer-wrapped key is never rewrapped: the store does not ask for it.
            let Some(kek) = self.meta.create_upload(rec.clone()).await? else {
                return Ok((upload_id, super::encryption::ObjectEncryption::of(&rec.dek)));
            };
            // The bucket moved to its own KEK meanwhile (see `commit_version`).
            rec.dek = self.keys.wrap(&dek, &kek, binding).await?;
        }
        Err(ErrorKind::unavailable("the bucket's key-encryption key kept changing during the request").into())
    }

    /// UploadPart.
    pub(crate) async fn upload_part(
        &self,
        permit: &Permit,
        part: &super::PartTarget,
        body: ClientBody,
    ) -> Result<PutOutput> {
        let number = part.number;
        check_part_number(number)?;
        let (bucket, upload) = self.open_upload(permit, &part.key, &part.upload_id).await?;
        let dek = self.upload_key(&bucket, &upload, part.customer_key.as_ref()).await?;
        // S3 wants each part's length up front (it is what UploadPart's ETag and size answer).
        let len = body.len.ok_or(ErrorKind::MissingContentLength)?;
        if len > MAX_OBJECT_SIZE {
            return Err(ErrorKind::EntityTooLarge.into());
        }
        let (checks, mut source) = BodyChecks::split(body, len, permit.etag_mode());
        let upload_algorithm = upload.checksum.map(|(a, _)| a);
        if let (Some(a), Some(b)) = (source.algorithm, upload_algorithm)
            && a != b
        {
            return Err(ErrorKind::InvalidRequest(format!(
                "Checksum type mismatch: the upload uses {b:?}, the part {a:?}"
            ))
            .into());
        }
        source.algorithm = source.algorithm.or(upload_algorithm);
        self.store_part(&bucket, &upload, &dek, number, source, |d| checks.verify(d)).await
    }

    /// An open upload's data key, with the SSE-C key it was created with (if any).
    async fn upload_key(
        &self,
        bucket: &BucketRecord,
        upload: &UploadRecord,
        customer: Option<&crate::keys::CustomerKey>,
    ) -> Result<DataKey> {
        self.unwrap_dek(&upload.dek, KeyBinding::new(bucket.uid, upload.version_uid, &upload.key), customer).await
    }

    /// UploadPartCopy: the source's range is the inclusive `x-amz-copy-source-range`.
    pub(crate) async fn upload_part_copy(
        &self,
        permit: &Permit,
        part: &super::PartTarget,
        from: &Permit,
        source: &super::PartSource,
    ) -> Result<PutOutput> {
        let number = part.number;
        check_part_number(number)?;
        let (bucket, upload) = self.open_upload(permit, &part.key, &part.upload_id).await?;
        let dek = self.upload_key(&bucket, &upload, part.customer_key.as_ref()).await?;
        let src = self.copy_source(from, &source.key, source.version_id.as_deref(), &source.conditions).await?;
        let range = match source.range {
            // AWS answers a well-formed range outside the source with 400 InvalidArgument and
            // this message (seen by versitygw#610 and fsspec/s3fs#321 against S3 itself), not
            // with GET's 416 InvalidRange.
            Some((a, b)) if a > b || b >= src.size => {
                return Err(ErrorKind::InvalidArgument(format!(
                    "Range specified is not valid for source object of size: {}",
                    src.size
                ))
                .into());
            }
            Some(r) => Some(r),
            None => (src.size > 0).then(|| (0, src.size - 1)),
        };
        let len = range.map_or(0, |(a, b)| b - a + 1);
        if len > MAX_OBJECT_SIZE {
            return Err(ErrorKind::InvalidRequest("The specified copy range is larger than 5 GiB".into()).into());
        }
        let wrapped = self.version_key(&src).await?;
        let stream =
            self.read_version(from.bucket(), &source.key, &src, &wrapped, range, source.customer_key.as_ref()).await?;
        let source = PlainSource { len, stream, algorithm: upload.checksum.map(|(a, _)| a), etag: permit.etag_mode() };
        self.store_part(&bucket, &upload, &dek, number, source, |_| Ok(())).await
    }

    async fn store_part(
        &self,
        bucket: &BucketRecord,
        upload: &UploadRecord,
        dek: &DataKey,
        number: u32,
        source: PlainSource,
        verify: impl FnOnce(&super::checksum::PlainDigests) -> Result<()>,
    ) -> Result<PutOutput> {
        // Placed when the part arrives, under the catalog and policy in force now: a provider
        // excluded since CreateMultipartUpload receives no part.
        let target = StreamTarget {
            bucket: bucket.uid,
            version: upload.version_uid,
            part_number: number,
            dek,
            placement: self.placement_for(bucket)?,
        };
        let stored = self.store_stream(target, source, verify).await?;
        let repairs = stored.repairs();
        let checksum = stored.digests.checksum.clone();
        let part = PartRecord {
            etag_digest: stored.digests.etag.bytes(),
            fast_etag: stored.digests.etag.md5().is_none(),
            checksum: checksum.as_ref().map(|(_, v)| v.clone()),
            last_modified_ms: now_ms(),
            stream: stored.manifest,
        };
        let out = PutOutput {
            etag: part.etag(),
            checksum: checksum.map(|(algorithm, value)| crate::model::ObjectChecksum {
                algorithm,
                value,
                kind: ChecksumType::FullObject,
            }),
            last_modified_ms: part.last_modified_ms,
            version_id: None,
            expiration: None,
            encryption: super::encryption::ObjectEncryption::of(&upload.dek),
        };
        let gc = GcTask::for_stream(&part.stream);
        if self.meta.commit_part(upload.upload_id, number, part, repairs).await? == CommitOutcome::Committed {
            Ok(out)
        } else {
            self.meta.abandon_intents(vec![gc]).await?;
            Err(ErrorKind::NoSuchUpload.into())
        }
    }

    /// CompleteMultipartUpload: validates the part list and commits the version.
    pub(crate) async fn complete_upload(&self, permit: &Permit, req: CompleteRequest) -> Result<PutOutput> {
        let (bucket, upload) = match self.open_upload(permit, &req.key, &req.upload_id).await {
            Err(e) if matches!(e.kind(), ErrorKind::NoSuchUpload) => {
                return self.completed_again(permit, &req).await.ok_or(e);
            }
            other => other?,
        };
        let dek = self.upload_key(&bucket, &upload, req.customer_key.as_ref()).await?;
        if req.parts.is_empty() {
            return Err(ErrorKind::MalformedXml.into());
        }
        if req.parts.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(ErrorKind::InvalidPartOrder.into());
        }
        let object_key = parse_key(&req.key)?;
        self.early_condition(&bucket, &object_key, &req.condition).await?;
        // The lock CreateMultipartUpload asked for (checked then), else the bucket's default.
        let lock = if upload.lock == crate::model::lock::VersionLock::default() {
            self.lock_for_new_version(&bucket, super::LockRequest::default()).await?
        } else {
            upload.lock
        };
        let stored = self.meta.parts(upload.upload_id, 0, MAX_PART_NUMBER as usize).await?;
        // Every listed part must exist with its ETag (InvalidPart) before sizes are judged
        // (EntityTooSmall), as AWS reports them.
        let mut chosen = Vec::with_capacity(req.parts.len());
        for p in &req.parts {
            let rec = stored.iter().find(|(n, _)| *n == p.number).map(|(_, r)| r).ok_or(ErrorKind::InvalidPart)?;
            if !rec.etag().matches(&p.etag) {
                return Err(ErrorKind::InvalidPart.into());
            }
            if p.checksum.as_ref().is_some_and(|c| rec.checksum.as_deref() != Some(c.trim())) {
                return Err(ErrorKind::InvalidPart.into());
            }
            chosen.push(rec.clone());
        }
        if chosen.iter().rev().skip(1).any(|p| p.stream.plaintext_len < MIN_PART_SIZE) {
            return Err(ErrorKind::EntityTooSmall.into());
        }
        let checksum = match upload.checksum {
            Some((algorithm, kind)) => {
                let parts = chosen
                    .iter()
                    .map(|p| p.checksum.clone().map(|c| (c, p.stream.plaintext_len)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ErrorKind::InvalidRequest(format!("a part was uploaded without its {algorithm:?} checksum"))
                    })?;
                Some(multipart_checksum(algorithm, kind, &parts)?)
            }
            None => None,
        };
        let mut streams: Vec<_> = chosen.iter().map(|p| p.stream.clone()).collect();
        let (repairs, deletions) = self.reseat_parts(&bucket, &mut streams)?;
        let digests: Vec<[u8; 16]> = chosen.iter().map(|p| p.etag_digest).collect();
        let record = VersionRecord {
            version_uid: upload.version_uid,
            seq: 0,
            size: streams.iter().map(|s| s.plaintext_len).sum(),
            etag: ETag::multipart(&digests),
            last_modified_ms: now_ms(),
            headers: upload.headers.clone(),
            checksum: checksum.clone(),
            manifest_mac: super::get::version_mac(&dek, bucket.uid, upload.version_uid, &streams)?,
            part_checksums: chosen.iter().map(|p| p.checksum.clone()).collect(),
            streams,
            multipart: true,
            order: 0,
            null: false,
            delete_marker: false,
            lock,
            tags: upload.tags.clone(),
        };
        let out = PutOutput {
            etag: record.etag.clone(),
            checksum,
            last_modified_ms: record.last_modified_ms,
            version_id: None,
            expiration: self.expiry(permit, &req.key, &record),
            encryption: super::encryption::ObjectEncryption::of(&upload.dek),
        };
        let version_id = self
            .commit_version(
                &bucket,
                &object_key,
                record,
                super::put::VersionKey { plain: &dek, wrapped: upload.dek.clone() },
                req.condition,
                VersionOrigin::Upload { id: upload.upload_id, repairs, deletions },
            )
            .await?;
        Ok(PutOutput { version_id, ..out })
    }

    /// Parts stored before a provider left the bucket's policy: their replicas there leave the
    /// manifest before the object becomes visible (the copies are deleted by durable tasks of
    /// the commit) and are recreated at allowed providers of the current placement by repair.
    /// Refused (503) when fewer than W allowed replicas of a part remain: that part must be
    /// uploaded again, and is then placed under the current policy.
    fn reseat_parts(
        &self,
        bucket: &BucketRecord,
        streams: &mut [crate::model::StreamManifest],
    ) -> Result<(Vec<RepairTask>, Vec<DeletionTask>)> {
        let residency = self.residency();
        let policy = residency.policy_of(bucket)?;
        let today = super::today();
        let allowed = |p: &ProviderId| residency.allows(policy, p, today);
        let mut repairs = Vec::new();
        let mut deletions = Vec::new();
        for s in streams.iter_mut() {
            let (kept, gone): (Vec<ProviderId>, Vec<ProviderId>) = s.replicas.iter().cloned().partition(|p| allowed(p));
            if gone.is_empty() {
                continue;
            }
            let placement = self.placement_for(bucket)?;
            if kept.len() < usize::from(placement.write_quorum()) {
                return Err(ErrorKind::unavailable(format!(
                    "part {} is stored on providers the bucket's policy no longer allows; upload it again",
                    s.part_number
                ))
                .into());
            }
            if let crate::model::Redundancy::ReedSolomon(_) = s.redundancy {
                let added = reseat_shards(s, &placement, &allowed)?;
                let len = ciphertext_len(s.plaintext_len, s.seg_log2);
                repairs.extend(added.into_iter().map(|p| RepairTask::for_stream(s, p, len, now_ms())));
                deletions.extend(
                    gone.into_iter().map(|p| DeletionTask::new(s.stream_id, p, DeletionReason::Evacuated, now_ms())),
                );
                continue;
            }
            let wanted = usize::from(policy.replicas);
            let added: Vec<ProviderId> = placement
                .targets()
                .iter()
                .filter(|p| !kept.contains(p))
                .take(wanted.saturating_sub(kept.len()))
                .cloned()
                .collect();
            s.replicas = kept.into_iter().chain(added.iter().cloned()).collect();
            let len = ciphertext_len(s.plaintext_len, s.seg_log2);
            repairs.extend(added.into_iter().map(|p| RepairTask::for_stream(s, p, len, now_ms())));
            deletions.extend(
                gone.into_iter().map(|p| DeletionTask::new(s.stream_id, p, DeletionReason::Evacuated, now_ms())),
            );
        }
        Ok((repairs, deletions))
    }

    /// A retried Complete of an upload that already completed (within a day) gets the same
    /// answer, as long as the object is still the version it produced.
    async fn completed_again(&self, permit: &Permit, req: &CompleteRequest) -> Option<PutOutput> {
        let bucket = permit.bucket();
        let done = self.meta.completed_upload(UploadId::from_hex(&req.upload_id)?).await.ok()??;
        if done.bucket_uid != bucket.uid || done.key != req.key {
            return None;
        }
        let key = ObjectKey::parse(&req.key).ok()?;
        let current = self.meta.current(bucket.uid, &key).await.ok()??;
        let same = current.version_uid == done.version_uid;
        let wrapped = self.meta.dek(current.version_uid).await.ok()??;
        let versioned = self.meta.versioning(bucket.uid).await.ok()? != crate::model::Versioning::Unversioned;
        same.then(|| PutOutput {
            expiration: self.expiry(permit, &req.key, &current),
            version_id: versioned.then(|| current.version_ref().to_s3()),
            etag: current.etag,
            checksum: current.checksum,
            last_modified_ms: current.last_modified_ms,
            encryption: super::encryption::ObjectEncryption::of(&wrapped),
        })
    }

    /// AbortMultipartUpload.
    pub(crate) async fn abort_upload(&self, permit: &Permit, key: &str, upload_id: &str) -> Result<()> {
        let (_, upload) = self.open_upload(permit, key, upload_id).await?;
        if self.meta.abort_upload(upload.upload_id).await? { Ok(()) } else { Err(ErrorKind::NoSuchUpload.into()) }
    }

    /// ListParts.
    pub(crate) async fn list_parts(
        &self,
        permit: &Permit,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> Result<PartsPage> {
        let (_, upload) = self.open_upload(permit, key, upload_id).await?;
        let max = max.min(1000);
        let mut parts = self.meta.parts(upload.upload_id, marker, max + 1).await?;
        let truncated = parts.len() > max;
        parts.truncate(max);
        Ok(PartsPage {
            upload: UploadInfo::from(&upload),
            parts: parts
                .into_iter()
                .map(|(number, p)| PartInfo {
                    number,
                    etag: p.etag(),
                    size: p.stream.plaintext_len,
                    last_modified_ms: p.last_modified_ms,
                    checksum: p.checksum,
                })
                .collect(),
            truncated,
        })
    }
}

/// A sharded part's holders that left the policy, each replaced in place (holder `i` keeps
/// shard `i`; the count never changes) by a provider of the current placement that holds no
/// shard of it yet; the new holders, whose shards repair rebuilds. 503 when the placement has
/// too few providers left to take them.
fn reseat_shards(
    s: &mut crate::model::StreamManifest,
    placement: &crate::placement::Placement,
    allowed: &impl Fn(&ProviderId) -> bool,
) -> Result<Vec<ProviderId>> {
    let mut spares =
        placement.targets().iter().filter(|p| !s.replicas.contains(p)).cloned().collect::<Vec<_>>().into_iter();
    let mut added = Vec::new();
    for slot in &mut s.replicas {
        if allowed(slot) {
            continue;
        }
        let Some(to) = spares.next() else {
            return Err(ErrorKind::unavailable(format!(
                "part {} has shards on providers the bucket's policy no longer allows and too few allowed \
                 providers to move them to; upload it again",
                s.part_number
            ))
            .into());
        };
        added.push(to.clone());
        *slot = to;
    }
    Ok(added)
}

#[cfg(test)]
#[path = "multipart_tests.rs"]
mod tests;
