//! PutObject and the streaming write shared by every operation that stores bytes (DESIGN.md
//! §3.1 steps 4–10): intent, seal, fan-out, verify, commit.

use super::access::Permit;
use super::checksum::{PlainDigests, PlainHasher};
use super::encryption::{ObjectEncryption, context_of};
use super::seal_stage::{SealStage, seal_error};
use super::{ClientBody, ObjectService, PutOutput, PutRequest, TrailerSource, now_ms, parse_new_key};
use crate::datapath::{DEFAULT_SEG_LOG2, StreamParams, StreamSealer, ciphertext_len};
use crate::error::{Context as _, Error, ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding};
use crate::meta::{BucketRecord, CommitOutcome, DekRewrap, GcTask, Intent, PutCommit, RepairTask, VersionRecord};
use crate::model::random_array;
use crate::model::{
    BucketUid, ChecksumAlgorithm, ChecksumType, ObjectChecksum, ObjectKey, ProviderId, StreamId, StreamManifest,
    VersionUid,
};
use crate::model::{EtagMode, Redundancy, Versioning, WriteCondition};
use crate::placement::Placement;
use crate::replicate::StreamWriter;
use crate::replicate::erasure::encode::StripeEncoder;
use crate::replicate::erasure::write::ShardWriter;
use crate::replicate::write::{Fanout, FanoutOutcome};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

/// Plaintext is sealed in batches of about this size, one `spawn_blocking` call each.
const BATCH_BYTES: usize = 1 << 20;
/// The largest single PUT or part, as S3.
pub(crate) const MAX_OBJECT_SIZE: u64 = 5 << 30;

/// Which stream of which version is being written.
pub(crate) struct StreamTarget<'a> {
    pub(crate) bucket: BucketUid,
    pub(crate) version: VersionUid,
    pub(crate) part_number: u32,
    pub(crate) dek: &'a DataKey,
    /// Where the stream goes and how many must acknowledge: a placement decided under the
    /// catalog and policy in force now (only `placement` can mint one).
    pub(crate) placement: Placement,
}

/// Plaintext to store, from a client or from the read path (copies).
pub(crate) struct PlainSource {
    pub(crate) len: u64,
    pub(crate) stream: BoxStream<'static, Result<Bytes>>,
    pub(crate) algorithm: Option<ChecksumAlgorithm>,
    /// What the ETag's digest is.
    pub(crate) etag: EtagMode,
}

/// A stream that every target acknowledged, not yet committed (its intent is still open).
pub(crate) struct StoredStream {
    pub(crate) manifest: StreamManifest,
    pub(crate) digests: PlainDigests,
    /// Targets that missed the write; their repair tasks go into the commit.
    pub(crate) missing: Vec<ProviderId>,
}

impl StoredStream {
    /// The hinted handoff for every target that missed the write.
    pub(crate) fn repairs(&self) -> Vec<RepairTask> {
        let len = ciphertext_len(self.manifest.plaintext_len, self.manifest.seg_log2);
        let now = now_ms();
        self.missing.iter().map(|p| RepairTask::for_stream(&self.manifest, p.clone(), len, now)).collect()
    }
}

/// Where the streams of a version being committed come from.
pub(crate) enum VersionOrigin {
    /// A stream just written (PUT or copy), with the repairs of the targets it missed.
    Stream(Vec<RepairTask>),
    /// The committed parts of this multipart upload, with the repairs and deletions that
    /// move replicas off providers the policy no longer allows.
    Upload {
        /// The upload.
        id: crate::model::UploadId,
        /// Replicas recreated at allowed providers.
        repairs: Vec<RepairTask>,
        /// Copies deleted at providers the policy no longer allows.
        deletions: Vec<crate::meta::DeletionTask>,
    },
}

/// The checks a client body must pass before its last segment is released.
pub(crate) struct BodyChecks {
    content_md5: Option<[u8; 16]>,
    expected_checksum: Option<String>,
    trailers: Option<TrailerSource>,
}

impl BodyChecks {
    /// Splits a client body of `len` bytes into its checks and its plaintext source, whose
    /// ETag follows the bucket's `mode` unless the client sent `Content-MD5` (the MD5 is
    /// computed for that check, so it is the ETag then).
    pub(crate) fn split(body: ClientBody, len: u64, mode: EtagMode) -> (Self, PlainSource) {
        let stream = body.stream.map(|r| r.map_err(Error::from)).boxed();
        let etag = if body.content_md5.is_some() { EtagMode::Md5 } else { mode };
        let checks =
            Self { content_md5: body.content_md5, expected_checksum: body.expected_checksum, trailers: body.trailers };
        (checks, PlainSource { len, stream, algorithm: body.algorithm, etag })
    }

    /// Compares Content-MD5 and the header or trailer checksum with what was computed.
    pub(crate) fn verify(&self, d: &PlainDigests) -> Result<()> {
        if self.content_md5.is_some_and(|m| Some(m) != d.etag.md5()) {
            return Err(
                ErrorKind::BadDigest("the Content-MD5 you specified did not match what we received".into()).into()
            );
        }
        let Some((algorithm, computed)) = &d.checksum else {
            return Ok(());
        };
        let expected = self.expected_checksum.clone().or_else(|| {
            let trailers = self.trailers.as_ref()?()?;
            trailers.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(algorithm.header_name())).map(|(_, v)| v)
        });
        match expected {
            Some(e) if e.trim() != computed => Err(ErrorKind::BadDigest(format!(
                "the {} you specified did not match the calculated checksum",
                algorithm.header_name()
            ))
            .into()),
            _ => Ok(()),
        }
    }
}

/// A version's data key: in the clear (to wrap it again if the bucket's KEK changes before
/// the commit) and as wrapped for the commit.
pub(crate) struct VersionKey<'a> {
    pub plain: &'a DataKey,
    pub wrapped: crate::keys::WrappedKey,
}

/// How often a commit wraps its data key again because the bucket's KEK changed meanwhile.
pub(crate) const KEK_CHANGE_RETRIES: u32 = 3;

/// The version record of an object made of one stream (a single PUT or a copy).
pub(crate) fn single_stream_version(
    dek: &DataKey,
    bucket: BucketUid,
    version: VersionUid,
    stored: StoredStream,
    headers: crate::model::ContentHeaders,
) -> Result<(VersionRecord, PutOutput)> {
    let digests = stored.digests.clone();
    version_of_streams(dek, bucket, version, vec![stored], &digests, headers)
}

/// The version record of a single PUT or copy: its streams (one, or the pieces of a body of
/// unknown length) and the digests of its whole plaintext.
fn version_of_streams(
    dek: &DataKey,
    bucket: BucketUid,
    version: VersionUid,
    stored: Vec<StoredStream>,
    digests: &PlainDigests,
    headers: crate::model::ContentHeaders,
) -> Result<(VersionRecord, PutOutput)> {
    let checksum = digests.checksum.clone().map(|(algorithm, value)| ObjectChecksum {
        algorithm,
        value,
        kind: ChecksumType::FullObject,
    });
    let streams: Vec<StreamManifest> = stored.into_iter().map(|s| s.manifest).collect();
    let record = VersionRecord {
        version_uid: version,
        seq: 0,
        size: streams.iter().map(|s| s.plaintext_len).sum(),
        etag: digests.etag.etag(),
        last_modified_ms: now_ms(),
        headers,
        checksum: checksum.clone(),
        manifest_mac: super::get::version_mac(dek, bucket, version, &streams)?,
        streams,
        part_checksums: Vec::new(),
        multipart: false,
        order: 0,
        null: false,
        delete_marker: false,
        lock: crate::model::lock::VersionLock::default(),
        tags: crate::model::tagging::TagSet::default(),
    };
    let out = PutOutput {
        etag: record.etag.clone(),
        checksum,
        last_modified_ms: record.last_modified_ms,
        version_id: None,
        expiration: None,
        encryption: super::encryption::ObjectEncryption::GatewayKey, // the caller's, set below
    };
    Ok((record, out))
}

impl ObjectService {
    /// Steps 1–10 of §3.1 for PutObject.
    pub(crate) async fn put_object(&self, permit: &Permit, req: PutRequest, body: ClientBody) -> Result<PutOutput> {
        // 1–2. Names, bucket, size, early condition check (repeated atomically at commit).
        let bucket = permit.bucket().clone();
        let object_key = parse_new_key(&req.key)?;
        let body = super::unsized_body::measure(body).await?;
        if body.len().is_some_and(|n| n > MAX_OBJECT_SIZE) {
            return Err(ErrorKind::EntityTooLarge.into());
        }
        self.early_condition(&bucket, &object_key, &req.condition).await?;
        self.check_kms_request(bucket.uid, req.kms.as_ref())?;
        let lock = self.lock_for_new_version(&bucket, req.lock).await?;
        // 3. Placement, before a byte of the body is read.
        let placement = self.placement_for(&bucket)?;
        // 4. Keys.
        let version = VersionUid(random_array().context("drawing a random id")?);
        let dek = DataKey::generate()?;
        let binding = KeyBinding::new(bucket.uid, version, &req.key).with_context(context_of(req.kms.as_ref()));
        let wrapped = self.wrap_dek(&dek, binding, req.customer_key.as_ref()).await?;
        // 5–8. Intent, stream, verify, all providers acknowledge.
        let target = StreamTarget { bucket: bucket.uid, version, part_number: 0, dek: &dek, placement };
        let (streams, digests) = match body {
            super::unsized_body::Measured::Sized(body, len) => {
                let (checks, source) = BodyChecks::split(body, len, permit.etag_mode());
                let stored = self.store_stream(target, source, |d| checks.verify(d)).await?;
                let digests = stored.digests.clone();
                (vec![stored], digests)
            }
            super::unsized_body::Measured::Long(long) => self.store_in_pieces(target, long, permit.etag_mode()).await?,
        };
        // 9. Commit: the visibility point; targets that missed the write are queued for repair.
        let origin = VersionOrigin::Stream(streams.iter().flat_map(StoredStream::repairs).collect());
        let (mut record, out) = version_of_streams(&dek, bucket.uid, version, streams, &digests, req.headers)?;
        record.lock = lock;
        record.tags = req.tags;
        let expiration = self.expiry(permit, &req.key, &record);
        let encryption = ObjectEncryption::of(&wrapped);
        let key = VersionKey { plain: &dek, wrapped };
        let version_id = self.commit_version(&bucket, &object_key, record, key, req.condition, origin).await?;
        // 10. Respond.
        Ok(PutOutput { version_id, expiration, encryption, ..out })
    }

    pub(crate) fn placement_for(&self, bucket: &BucketRecord) -> Result<Placement> {
        let residency = self.residency();
        let policy = residency.policy_of(bucket)?;
        self.decide_placement(policy, bucket.uid)
    }

    /// Places under `policy`, counting the decision (and a refusal's reason) in the metrics.
    pub(crate) fn decide_placement(
        &self,
        policy: &crate::model::ResidencyPolicy,
        seed: BucketUid,
    ) -> Result<Placement> {
        super::placing::decide(policy, &self.residency().catalog, seed, &self.metrics, &self.meta)
    }

    pub(crate) async fn early_condition(
        &self,
        bucket: &BucketRecord,
        key: &ObjectKey,
        cond: &WriteCondition,
    ) -> Result<()> {
        if *cond == WriteCondition::None {
            return Ok(());
        }
        let current = self.meta.current(bucket.uid, key).await?;
        match (cond, current) {
            (WriteCondition::IfAbsent, Some(_)) => Err(ErrorKind::PreconditionFailed.into()),
            (WriteCondition::IfMatch(_), None) => Err(ErrorKind::NoSuchKey.into()),
            (WriteCondition::IfMatch(t), Some(cur)) if !cur.etag.matches(t) => {
                Err(ErrorKind::PreconditionFailed.into())
            }
            _ => Ok(()),
        }
    }

    /// Wraps an open upload's data key under `kek` (the bucket's new own KEK).
    pub(crate) async fn rewrap_upload_key(&self, id: crate::model::UploadId, dek: &DataKey, kek: &str) -> Result<()> {
        let Some(up) = self.meta.upload(id).await? else { return Err(ErrorKind::NoSuchUpload.into()) };
        let binding = KeyBinding::new(up.bucket_uid, up.version_uid, &up.key).of_wrapped(&up.dek);
        let new = self.keys.wrap(dek, kek, binding).await?;
        // A lost race (the rotation job rewrapped it meanwhile) is settled by the next commit.
        self.meta.rewrap_dek(DekRewrap::Upload { upload: id, expected: up.dek, new }).await?;
        Ok(())
    }

    /// Commits a version; on any refusal a fresh stream goes to GC. Returns the version id S3
    /// answers (none in an unversioned bucket).
    pub(crate) async fn commit_version(
        &self,
        bucket: &BucketRecord,
        key: &ObjectKey,
        mut version: VersionRecord,
        dek: VersionKey<'_>,
        condition: WriteCondition,
        origin: VersionOrigin,
    ) -> Result<Option<String>> {
        let mut versioning = self.meta.versioning(bucket.uid).await?;
        version.null = versioning.writes_null();
        let (intents, gc, repairs, deletions, completes_upload) = match origin {
            VersionOrigin::Stream(repairs) => (
                version.streams.iter().map(|s| s.stream_id).collect(),
                version.streams.iter().map(GcTask::for_stream).collect(),
                repairs,
                Vec::new(),
                None,
            ),
            VersionOrigin::Upload { id, repairs, deletions } => (Vec::new(), Vec::new(), repairs, deletions, Some(id)),
        };
        let version_uid = version.version_uid;
        let mut commit = PutCommit {
            bucket: bucket.uid,
            bucket_name: bucket.name.clone(),
            key: key.clone(),
            version,
            dek: dek.wrapped,
            condition,
            intents,
            repairs,
            deletions,
            completes_upload,
        };
        let mut attempts = 0;
        let outcome = loop {
            let timer = self.metrics.meta_commit_duration.start_timer();
            let outcome = self.meta.commit_put(commit.clone()).await?;
            timer.observe_duration();
            if outcome == CommitOutcome::VersioningChanged && attempts < KEK_CHANGE_RETRIES {
                // PutBucketVersioning landed meanwhile: the version is `null` or not by the
                // state the commit sees.
                attempts += 1;
                versioning = self.meta.versioning(bucket.uid).await?;
                commit.version.null = versioning.writes_null();
                continue;
            }
            let CommitOutcome::KekChanged(kek) = outcome else { break outcome };
            // The bucket moved to its own KEK while this write was in flight: wrap the data key
            // under it, or shredding that KEK would leave this object readable.
            attempts += 1;
            if attempts > KEK_CHANGE_RETRIES {
                break CommitOutcome::KekChanged(kek);
            }
            let binding = KeyBinding::new(bucket.uid, version_uid, key.as_str()).of_wrapped(&commit.dek);
            commit.dek = self.keys.wrap(dek.plain, &kek, binding).await?;
            if let Some(id) = completes_upload {
                self.rewrap_upload_key(id, dek.plain, &kek).await?;
            }
        };
        let refused: Error = match outcome {
            CommitOutcome::Committed => {
                let id = commit.version.version_ref().to_s3();
                return Ok((versioning != Versioning::Unversioned).then_some(id));
            }
            CommitOutcome::PreconditionFailed => ErrorKind::PreconditionFailed.into(),
            CommitOutcome::NoSuchKey => ErrorKind::NoSuchKey.into(),
            CommitOutcome::Gone if completes_upload.is_some() => ErrorKind::NoSuchUpload.into(),
            CommitOutcome::Gone => ErrorKind::NoSuchBucket.into(),
            CommitOutcome::KekChanged(_) => {
                ErrorKind::unavailable("the bucket's key-encryption key kept changing during the write").into()
            }
            CommitOutcome::Locked(denied) => {
                ErrorKind::AccessDenied(crate::access::Denial::ObjectLocked(denied)).into()
            }
            CommitOutcome::VersioningChanged => {
                ErrorKind::unavailable("the bucket's versioning kept changing during the write").into()
            }
        };
        if !gc.is_empty() {
            self.meta.abandon_intents(gc).await?;
        }
        Err(refused)
    }

    /// Seals `source` and writes it to every target, recording the intent first. `verify` runs
    /// after the last plaintext byte and before the final segment is released, so a body that
    /// fails it never becomes a complete object at any provider.
    pub(crate) async fn store_stream(
        &self,
        target: StreamTarget<'_>,
        source: PlainSource,
        verify: impl FnOnce(&PlainDigests) -> Result<()>,
    ) -> Result<StoredStream> {
        let stream_id = StreamId(random_array().context("drawing a random id")?);
        let params = StreamParams {
            stream_id,
            plaintext_len: source.len,
            seg_log2: DEFAULT_SEG_LOG2,
            bucket_uid: target.bucket,
            version_uid: target.version,
            part_number: target.part_number,
            salt: random_array().context("drawing a stream salt")?,
        };
        let sealer = StreamSealer::new(target.dek.expose(), &params).map_err(seal_error)?;
        // Providers that failed their last health checks or whose circuit is open are not
        // waited for: their replicas go straight to repair. Fewer than W left → 503 before a
        // byte of the body is read.
        let providers = target.placement.targets().to_vec();
        let (live, skipped): (Vec<ProviderId>, Vec<ProviderId>) =
            providers.iter().cloned().partition(|p| self.health.reachable(p));
        let quorum = usize::from(target.placement.write_quorum());
        if live.len() < quorum {
            return Err(ErrorKind::unavailable(format!(
                "only {} of {} providers are reachable; {quorum} needed",
                live.len(),
                providers.len()
            ))
            .into());
        }
        // 5. The intent is durable before any provider sees a byte.
        self.meta
            .record_intent(Intent {
                stream_id,
                targets: providers.clone(),
                boot_id: self.boot_id,
                created_ms: now_ms(),
            })
            .await?;
        let backends = providers
            .iter()
            .enumerate()
            .filter(|(_, id)| live.contains(id))
            .map(|(slot, id)| {
                let grant =
                    target.placement.grant(id).ok_or_else(|| ErrorKind::internal(format!("{id} is no target")))?;
                Ok((slot, std::sync::Arc::clone(self.backend(id)?), grant))
            })
            .collect::<Result<Vec<_>>>()?;
        let cipher_len = ciphertext_len(source.len, DEFAULT_SEG_LOG2);
        let redundancy = target.placement.redundancy();
        let writer = match redundancy {
            Redundancy::Replicas => StreamWriter::Replicas(Fanout::open(backends, stream_id, cipher_len, quorum)),
            Redundancy::ReedSolomon(shape) => {
                let encoder = StripeEncoder::new(shape, stream_id, cipher_len)
                    .map_err(|e| ErrorKind::Internal { context: "erasure coding".into(), source: Some(Box::new(e)) })?;
                let fanout = Fanout::open(backends, stream_id, encoder.layout().shard_len(), quorum);
                StreamWriter::Shards(ShardWriter::new(fanout, encoder))
            }
        };
        let gc = GcTask { stream_id, targets: providers.clone() };
        match pump(sealer, source, writer, verify).await {
            Ok((Pumped { digests, commit, ciphertext_check }, outcome)) => {
                self.metrics.crypto_bytes.with_label_values(&["seal"]).inc_by(params.plaintext_len);
                Ok(StoredStream {
                    manifest: StreamManifest {
                        stream_id,
                        part_number: target.part_number,
                        plaintext_len: params.plaintext_len,
                        seg_log2: params.seg_log2,
                        salt: params.salt,
                        commit,
                        ciphertext_check,
                        replicas: providers,
                        redundancy,
                    },
                    digests,
                    missing: outcome.missing.into_iter().chain(skipped).collect(),
                })
            }
            Err(e) => {
                self.meta.abandon_intents(vec![gc]).await?;
                Err(e)
            }
        }
    }
}

/// What a stream's pump leaves: the plaintext's digests and the sealed stream's facts.
struct Pumped {
    /// MD5 and the requested checksum of the plaintext.
    digests: PlainDigests,
    /// The key commitment of the stream (format v1).
    commit: [u8; 32],
    /// The keyless check of the whole ciphertext (what repair and the scrubber check replicas
    /// against).
    ciphertext_check: crate::model::CiphertextCheck,
}

/// Reads, hashes, seals and fans out; aborts every provider upload on any failure.
async fn pump(
    sealer: StreamSealer,
    source: PlainSource,
    mut fanout: StreamWriter,
    verify: impl FnOnce(&PlainDigests) -> Result<()>,
) -> Result<(Pumped, FanoutOutcome)> {
    match pump_inner(sealer, source, &mut fanout, verify).await {
        Ok(done) => Ok((done, fanout.finish().await?)),
        Err(e) => {
            fanout.abort().await;
            Err(e)
        }
    }
}

async fn pump_inner(
    sealer: StreamSealer,
    mut source: PlainSource,
    fanout: &mut StreamWriter,
    verify: impl FnOnce(&PlainDigests) -> Result<()>,
) -> Result<Pumped> {
    let mut stage = SealStage::new(PlainHasher::new(source.etag, source.algorithm), sealer);
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batch_len = 0usize;
    let mut received = 0u64;
    loop {
        let next = source.stream.next().await.transpose()?;
        if let Some(chunk) = &next {
            received += chunk.len() as u64;
            if received > source.len {
                return Err(ErrorKind::InvalidRequest("body longer than its declared length".into()).into());
            }
            batch_len += chunk.len();
            batch.push(chunk.clone());
        }
        if batch_len >= BATCH_BYTES || (next.is_none() && !batch.is_empty()) {
            batch_len = 0;
            // This batch is hashed and sealed while the next one is received.
            let ciphertext = stage.start(std::mem::take(&mut batch)).await?;
            if !ciphertext.is_empty() {
                fanout.send(ciphertext).await?;
            }
        }
        if next.is_none() {
            break;
        }
    }
    let (ciphertext, hasher, sealer) = stage.finish().await?;
    if !ciphertext.is_empty() {
        fanout.send(ciphertext).await?;
    }
    if received != source.len {
        return Err(ErrorKind::IncompleteBody.into());
    }
    let digests = hasher.finish();
    verify(&digests)?;
    let mut out = BytesMut::new();
    let summary = sealer.finish(&mut out).map_err(seal_error)?;
    fanout.send(out.freeze()).await?;
    Ok(Pumped { digests, commit: summary.commit, ciphertext_check: summary.ciphertext_check })
}
