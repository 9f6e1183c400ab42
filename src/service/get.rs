//! GetObject and HeadObject (DESIGN.md §3.3): metadata first, conditionals before any provider
//! I/O, then verified segments only; the response starts after the first segment verified.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::access::Permit;
use super::encryption::ObjectEncryption;
use super::{GetOutput, GetRequest, ObjectInfo, ObjectService, PlainStream, RangeSpec, parse_key};
use crate::backend::{Backend, stream_name};
use crate::datapath::crypto::{manifest_mac, verify_manifest_mac};
use crate::datapath::format::manifest_bytes;
use crate::datapath::{OpenError, SegmentOpener, SegmentSpan, StreamParams, ciphertext_len, slice_parts};
use crate::error::{Context as _, Error, ErrorKind, Result};
use crate::keys::{DataKey, KeyBinding, WrappedKey};
use crate::meta::{BucketRecord, MetadataStore, RepairTask, VersionRecord};
use crate::metrics::Metrics;
use crate::model::{
    BucketUid, ChecksumType, ObjectChecksum, ObjectKey, ProviderId, Redundancy, StreamManifest, VersionUid, Versioning,
};
use crate::replicate::erasure;
use crate::replicate::erasure::layout::ShardLayout;
use crate::replicate::erasure::read::{Holder, ShardEvents};
use crate::replicate::read::{Hedging, open_first, read_order};
use prometheus::{IntCounter, IntCounterVec};

/// Resolves a range against the object length; `None` means unsatisfiable.
pub(crate) fn resolve_range(spec: RangeSpec, len: u64) -> Option<(u64, u64)> {
    match spec {
        RangeSpec::FromTo(a, _) if a >= len => None,
        RangeSpec::FromTo(a, b) => Some((a, b.map_or(len - 1, |b| b.min(len - 1)))).filter(|(a, b)| a <= b),
        RangeSpec::Suffix(0) => None,
        RangeSpec::Suffix(_) if len == 0 => None,
        RangeSpec::Suffix(n) => Some((len - n.min(len), len - 1)),
    }
}

/// The version id S3 shows for `v` (none for the null version of a never-versioned bucket).
pub(crate) fn version_id_of(v: &VersionRecord, versioning: Versioning) -> Option<String> {
    (!v.null || versioning != Versioning::Unversioned).then(|| v.version_ref().to_s3())
}

fn object_info(v: &VersionRecord, versioning: Versioning, encryption: ObjectEncryption) -> ObjectInfo {
    ObjectInfo {
        encryption,
        version_id: version_id_of(v, versioning),
        lock: v.lock,
        tag_count: v.tags.len(),
        expiration: None,
        size: v.size,
        etag: v.etag.clone(),
        last_modified_ms: v.last_modified_ms,
        headers: v.headers.clone(),
        checksum: v.checksum.clone(),
        parts_count: v.multipart.then(|| u32::try_from(v.streams.len()).unwrap_or(u32::MAX)),
    }
}

/// The bytes a read serves (inclusive range; `None` for an empty object) and the checksum that
/// covers exactly those bytes.
type Selection = (Option<(u64, u64)>, Option<ObjectChecksum>);

/// One stream's slice to read: which replicas (or shards), which span.
struct SliceRead {
    params: StreamParams,
    commit: [u8; 32],
    span: SegmentSpan,
    /// For a replicated stream, the replicas to try in order (empty for a sharded one).
    replicas: Vec<Arc<dyn Backend>>,
    /// For an erasure-coded stream, its shards.
    shards: Option<ShardedSlice>,
    manifest: StreamManifest,
}

/// The shards of an erasure-coded stream and what its read reports.
struct ShardedSlice {
    layout: ShardLayout,
    order: Vec<Holder>,
    events: ShardEvents,
}

/// The MAC binding a version's stream list to its bucket and version (§4.4).
pub(crate) fn version_mac(
    dek: &DataKey,
    bucket: BucketUid,
    version: VersionUid,
    streams: &[StreamManifest],
) -> Result<[u8; 32]> {
    manifest_mac(dek.expose(), bucket.as_bytes(), version.as_bytes(), &manifest_bytes(streams))
        .context("computing the manifest MAC")
}

impl ObjectService {
    /// HeadObject: metadata only.
    pub(crate) async fn head_object(&self, permit: &Permit, req: GetRequest) -> Result<GetOutput> {
        let version = self.current_version(permit, &req).await?;
        let encryption =
            self.check_customer_key(permit.bucket().uid, &req.key, &version, req.customer_key.as_ref()).await?;
        let (range, checksum) = select(&req, &version)?;
        let content_length = range.map_or(version.size, |(a, b)| b - a + 1);
        Ok(GetOutput {
            info: self.info(permit, &req, &version, encryption),
            range: range.filter(|_| req.range.is_some() || req.part_number.is_some()),
            content_length,
            checksum,
            body: futures_util::stream::empty().boxed(),
        })
    }

    /// GetObjectAttributes: what HEAD shows, and each part of a multipart object.
    pub(crate) async fn object_attributes(&self, permit: &Permit, req: GetRequest) -> Result<super::ObjectAttributes> {
        let version = self.current_version(permit, &req).await?;
        let encryption =
            self.check_customer_key(permit.bucket().uid, &req.key, &version, req.customer_key.as_ref()).await?;
        let parts = if version.multipart {
            let checksums = version.part_checksums.iter().cloned().chain(std::iter::repeat(None));
            version.streams.iter().zip(checksums).map(|(s, c)| (s.plaintext_len, c)).collect()
        } else {
            Vec::new()
        };
        Ok(super::ObjectAttributes { info: self.info(permit, &req, &version, encryption), parts })
    }

    /// GetObject.
    pub(crate) async fn get_object(&self, permit: &Permit, req: GetRequest) -> Result<GetOutput> {
        let version = self.current_version(permit, &req).await?;
        let bucket = permit.bucket();
        let (range, checksum) = select(&req, &version)?;
        let partial = req.range.is_some() || req.part_number.is_some();
        let wrapped = self.version_key(&version).await?;
        let body = self.read_version(bucket, &req.key, &version, &wrapped, range, req.customer_key.as_ref()).await?;
        let content_length = range.map_or(0, |(a, b)| b - a + 1);
        let info = self.info(permit, &req, &version, ObjectEncryption::of(&wrapped));
        Ok(GetOutput { info, range: range.filter(|_| partial), content_length, checksum, body })
    }

    /// What a read shows of a version: the expiry only when it read the current version.
    fn info(&self, permit: &Permit, req: &GetRequest, v: &VersionRecord, encryption: ObjectEncryption) -> ObjectInfo {
        let expiration = req.version_id.is_none().then(|| self.expiry(permit, &req.key, v)).flatten();
        ObjectInfo { expiration, ..object_info(v, permit.versioning(), encryption) }
    }

    /// The version a read names (`versionId`), or the key's current one.
    async fn current_version(&self, permit: &Permit, req: &GetRequest) -> Result<VersionRecord> {
        let key = parse_key(&req.key)?;
        let version = self.named_or_current(permit.bucket().uid, &key, req.version_id.as_deref()).await?;
        req.conditions.check_read(&version.etag, version.last_modified_ms)?;
        Ok(version)
    }

    /// The version `version_id` names, or the key's current one: a delete marker in its place
    /// is S3's 405 (named) or 404 with `x-amz-delete-marker` (the latest).
    pub(crate) async fn named_or_current(
        &self,
        bucket: BucketUid,
        key: &ObjectKey,
        version_id: Option<&str>,
    ) -> Result<VersionRecord> {
        let marker = |m: &VersionRecord, named| ErrorKind::DeleteMarker { version_id: m.version_ref().to_s3(), named };
        match version_id {
            Some(id) => {
                let r = super::versions::parse_version_id(id)?;
                let v = self.meta.version(bucket, key, r).await?.ok_or(ErrorKind::NoSuchVersion)?;
                if v.delete_marker { Err(marker(&v, true).into()) } else { Ok(v) }
            }
            None => match self.meta.current(bucket, key).await? {
                Some(v) => Ok(v),
                None => match self.meta.latest(bucket, key).await? {
                    Some(m) if m.delete_marker => Err(marker(&m, false).into()),
                    _ => Err(ErrorKind::NoSuchKey.into()),
                },
            },
        }
    }

    /// Opens the plaintext of `range` of a version. Returns once the first covering segment
    /// verified, so a failure before any byte is a clean error status.
    pub(crate) async fn read_version(
        &self,
        bucket: &BucketRecord,
        key: &str,
        v: &VersionRecord,
        wrapped: &WrappedKey,
        range: Option<(u64, u64)>,
        customer: Option<&crate::keys::CustomerKey>,
    ) -> Result<PlainStream> {
        let dek = self.unwrap_dek(wrapped, KeyBinding::new(bucket.uid, v.version_uid, key), customer).await?;
        verify_manifest_mac(
            dek.expose(),
            bucket.uid.as_bytes(),
            v.version_uid.as_bytes(),
            &manifest_bytes(&v.streams),
            &v.manifest_mac,
        )
        .map_err(|_| ErrorKind::Integrity)?;
        self.read_verified(bucket.uid, v, Arc::new(dek), range).await
    }

    /// [`Self::read_version`] once the data key is unwrapped and the version's manifest MAC
    /// checked under it.
    pub(crate) async fn read_verified(
        &self,
        bucket: BucketUid,
        v: &VersionRecord,
        dek: Arc<DataKey>,
        range: Option<(u64, u64)>,
    ) -> Result<PlainStream> {
        let mut reads = VecDeque::new();
        let lengths: Vec<u64> = v.streams.iter().map(|s| s.plaintext_len).collect();
        let slices = match range {
            Some((a, b)) => {
                slice_parts(&lengths, a, b).into_iter().map(|p| (p.index, Some((p.first, p.last)))).collect()
            }
            None => vec![(0, None)], // empty object: verify its empty final segment
        };
        for (index, r) in slices {
            let Some(s) = v.streams.get(index) else {
                continue;
            };
            let params = StreamParams {
                stream_id: s.stream_id,
                plaintext_len: s.plaintext_len,
                seg_log2: s.seg_log2,
                bucket_uid: bucket,
                version_uid: v.version_uid,
                part_number: s.part_number,
                salt: s.salt,
            };
            let (replicas, shards) = match s.redundancy {
                Redundancy::Replicas => (read_order(&s.replicas, &self.backends, &self.health), None),
                Redundancy::ReedSolomon(shape) => {
                    let layout = ShardLayout::new(shape, ciphertext_len(s.plaintext_len, s.seg_log2));
                    let order =
                        erasure::read::read_order(&s.replicas, layout.data_shards(), &self.backends, &self.health);
                    (
                        Vec::new(),
                        Some(ShardedSlice { layout, order, events: shard_events(&self.meta, &self.metrics, s) }),
                    )
                }
            };
            reads.push_back(SliceRead {
                span: SegmentSpan::for_range(s.plaintext_len, s.seg_log2, r),
                params,
                commit: s.commit,
                replicas,
                shards,
                manifest: s.clone(),
            });
        }
        self.health.book().count_get();
        let mut reader = VersionReader {
            hedging: Hedging::of(&self.health, &self.metrics),
            dek,
            reads,
            current: None,
            ready: VecDeque::new(),
            opened_bytes: self.metrics.crypto_bytes.with_label_values(&["open"]),
            meta: Arc::clone(&self.meta),
            integrity_failures: self.metrics.integrity_failures.clone(),
        };
        let first = reader.next_chunk().await?;
        let head = futures_util::stream::iter(first.map(Ok));
        Ok(head
            .chain(futures_util::stream::try_unfold(reader, |mut r| async move {
                Ok(r.next_chunk().await?.map(|b| (b, r)))
            }))
            .boxed())
    }
}

struct OpenSlice {
    opener: SegmentOpener,
    cipher: BoxStream<'static, Result<Bytes>>,
}

/// What a sharded read of `stream` reports (GET, repair, evacuation): the scheme's counters,
/// and a damaged chunk queues its shard's repair.
pub(crate) fn shard_events(meta: &Arc<dyn MetadataStore>, metrics: &Metrics, stream: &StreamManifest) -> ShardEvents {
    let scheme = stream.redundancy.label();
    let meta = Arc::clone(meta);
    let manifest = stream.clone();
    let damaged_chunks = metrics.erasure_damaged_chunks.clone();
    ShardEvents {
        damaged: Arc::new(move |provider: &ProviderId| {
            damaged_chunks.with_label_values(&[provider.as_str()]).inc();
            let len = ciphertext_len(manifest.plaintext_len, manifest.seg_log2);
            let task = RepairTask::for_stream(&manifest, provider.clone(), len, super::now_ms());
            let meta = Arc::clone(&meta);
            let queue = async move {
                if let Err(e) = meta.queue_repair(task).await {
                    tracing::error!(error = %crate::report::Report(&e), "queueing a shard repair failed");
                }
            };
            tokio::spawn(tracing::Instrument::in_current_span(queue));
        }),
        reconstructions: metrics.erasure_reconstructions.with_label_values(&[scheme.as_str()]),
        degraded_reads: metrics.erasure_degraded_reads.with_label_values(&[scheme.as_str()]),
    }
}

/// Reads slices in order, failing over to the next replica while nothing of a slice has been
/// emitted yet; after that an error ends the stream with `Err` (connection abort).
struct VersionReader {
    hedging: Hedging,
    dek: Arc<DataKey>,
    reads: VecDeque<SliceRead>,
    current: Option<(SliceRead, OpenSlice, bool)>,
    ready: VecDeque<Bytes>,
    opened_bytes: IntCounter,
    integrity_failures: IntCounterVec,
    meta: Arc<dyn MetadataStore>,
}

fn integrity(e: OpenError) -> Error {
    tracing::warn!(error = %crate::report::Report(&e), "replica failed verification");
    ErrorKind::Integrity.into()
}

impl VersionReader {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(b) = self.ready.pop_front() {
                return Ok(Some(b));
            }
            if self.current.is_none() {
                let Some(slice) = self.reads.pop_front() else {
                    return Ok(None);
                };
                let (open, rest) = open_slice(&self.hedging, Arc::clone(&self.dek), slice).await?;
                self.current = Some((rest, open, false));
            }
            let Some((slice, open, emitted)) = self.current.as_mut() else {
                continue;
            };
            let provider = slice.replicas.first().map(|b| b.id().to_string()).unwrap_or_default();
            let failures = &self.integrity_failures;
            let meta = &self.meta;
            let damaged = slice.replicas.first().map(|b| b.id().clone());
            let manifest = &slice.manifest;
            // Read repair: a replica that fails authentication is rewritten from a good one.
            let integrity_failure = |e: OpenError| {
                failures.with_label_values(&[provider.as_str()]).inc();
                if let Some(p) = damaged.clone() {
                    let len = crate::datapath::ciphertext_len(manifest.plaintext_len, manifest.seg_log2);
                    let task = RepairTask::for_stream(manifest, p, len, super::now_ms());
                    let meta = Arc::clone(meta);
                    let queue = async move {
                        if let Err(e) = meta.queue_repair(task).await {
                            tracing::error!(error = %crate::report::Report(&e), "queueing a read repair failed");
                        }
                    };
                    tokio::spawn(tracing::Instrument::in_current_span(queue));
                }
                integrity(e)
            };
            // Segments verified before a failure in the same chunk are still released: the
            // opener has counted them, and a resumed read continues after them.
            let mut out = Vec::new();
            let step = match open.cipher.next().await {
                Some(Ok(c)) => open.opener.push(&c, &mut out).map(|()| Some(())).map_err(integrity_failure),
                Some(Err(e)) => Err(e),
                None => open.opener.finish().map(|()| None).map_err(integrity_failure),
            };
            *emitted |= !out.is_empty();
            self.opened_bytes.inc_by(out.iter().map(|b| b.len() as u64).sum());
            self.ready.extend(out);
            match step {
                Ok(Some(())) => {}
                Ok(None) => self.current = None,
                Err(e) if slice.replicas.len() > 1 => {
                    // Fail over; after bytes went out, resume at the first unreleased segment
                    // on the next replica, so the client sees one continuous body.
                    tracing::warn!(error = %crate::report::Report(&e), resumed = *emitted, "failing over to the next replica");
                    let Some((mut slice, open, _)) = self.current.take() else {
                        continue;
                    };
                    slice.span = open.opener.remaining_span();
                    if slice.span.first_segment > slice.span.last_segment {
                        // Every segment was verified and released; only trailing bytes were wrong.
                        continue;
                    }
                    slice.replicas.remove(0);
                    let (open, rest) = open_slice(&self.hedging, Arc::clone(&self.dek), slice).await?;
                    self.current = Some((rest, open, false));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Opens a slice on the replica whose first bytes come first (see [`open_first`]), or on its
/// shards.
async fn open_slice(hedging: &Hedging, dek: Arc<DataKey>, mut slice: SliceRead) -> Result<(OpenSlice, SliceRead)> {
    let stream = slice.params.stream_id;
    let name = stream_name(stream);
    let range = slice.span.cipher_start..slice.span.cipher_end;
    let cipher = match &slice.shards {
        None => {
            let (order, cipher) = open_first(hedging, std::mem::take(&mut slice.replicas), &name, range).await?;
            slice.replicas = order;
            cipher.map(|r| r.map_err(Error::from)).boxed()
        }
        Some(sh) => {
            let order = sh.order.clone();
            erasure::read::open(hedging, sh.layout, stream, &name, order, range, sh.events.clone()).await?
        }
    };
    let opener = SegmentOpener::new(dek.expose(), &slice.params, &slice.commit, slice.span).map_err(integrity)?;
    Ok((OpenSlice { opener, cipher }, slice))
}

/// The byte range to serve (inclusive; `None` for an empty object) and the checksum that
/// covers exactly those bytes (none for a plain range).
fn select(req: &GetRequest, v: &VersionRecord) -> Result<Selection> {
    if let Some(n) = req.part_number {
        if req.range.is_some() {
            return Err(ErrorKind::InvalidRequest(
                "Cannot specify both Range header and partNumber query parameter".into(),
            )
            .into());
        }
        if !(1..=10_000).contains(&n) {
            return Err(ErrorKind::InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive".into(),
            )
            .into());
        }
        // AWS: a part the object does not have is 416 InvalidPartNumber.
        let idx = n as usize - 1;
        let count = if v.multipart { v.streams.len() } else { 1 };
        if idx >= count {
            return Err(ErrorKind::InvalidPartNumber.into());
        }
        if !v.multipart {
            return Ok(((v.size > 0).then(|| (0, v.size - 1)), v.checksum.clone()));
        }
        let start: u64 = v.streams[..idx].iter().map(|s| s.plaintext_len).sum();
        let len = v.streams[idx].plaintext_len;
        let checksum = match (&v.checksum, v.part_checksums.get(idx)) {
            (Some(c), Some(Some(value))) if c.kind == ChecksumType::Composite => {
                Some(ObjectChecksum { algorithm: c.algorithm, value: value.clone(), kind: ChecksumType::FullObject })
            }
            _ => None,
        };
        return Ok(((len > 0).then(|| (start, start + len - 1)), checksum));
    }
    match req.range {
        Some(spec) => resolve_range(spec, v.size)
            .map(|r| (Some(r), None))
            .ok_or_else(|| ErrorKind::InvalidRange { object_len: v.size }.into()),
        None => Ok(((v.size > 0).then(|| (0, v.size - 1)), v.checksum.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_s3() {
        assert_eq!(resolve_range(RangeSpec::FromTo(0, Some(9)), 100), Some((0, 9)));
        assert_eq!(resolve_range(RangeSpec::FromTo(90, Some(200)), 100), Some((90, 99)));
        assert_eq!(resolve_range(RangeSpec::FromTo(50, None), 100), Some((50, 99)));
        assert_eq!(resolve_range(RangeSpec::Suffix(10), 100), Some((90, 99)));
        assert_eq!(resolve_range(RangeSpec::Suffix(500), 100), Some((0, 99)));
        assert_eq!(resolve_range(RangeSpec::FromTo(100, None), 100), None);
        assert_eq!(resolve_range(RangeSpec::FromTo(0, None), 0), None);
        assert_eq!(resolve_range(RangeSpec::Suffix(0), 100), None);
    }
}
