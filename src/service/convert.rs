//! Converting a stored version between replicas and erasure-coded shards, for the evacuation
//! job once its bucket is bound to a policy of the other scheme (issue 26).
//!
//! The stream id is bound into the ciphertext, and a provider keeps one object per stream
//! name, so shards cannot be written over a stream's replicas (or the other way round) in
//! place without a moment where neither form is whole. Each stream is therefore read through
//! the verified read path and sealed again, under a new id and the version's own data key,
//! into the bucket's placement as it is now — exactly as a PUT writes — and one commit swaps
//! the new streams in, re-MACs the version and queues the old ones' deletion. Until that
//! commit the old streams stay as they are and serve every read; a crash before it leaves
//! the new streams to the stale-intent sweep. The version keeps its id, ETag, checksums,
//! metadata, tags and lock.

use std::sync::Arc;

use futures_util::StreamExt;

use super::ObjectService;
use super::put::{PlainSource, StoredStream, StreamTarget};
use crate::error::{Context as _, ErrorKind, Result};
use crate::keys::KeyBinding;
use crate::meta::{BucketRecord, GcTask, StreamReplacement, VersionRecord};
use crate::model::audit::AuditEntry;
use crate::model::{EtagMode, Redundancy, StreamManifest};

/// What converting one version came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Every stream is now in the bucket's scheme.
    Converted,
    /// Already in the bucket's scheme: nothing written.
    Unchanged,
    /// Under a customer's key (SSE-C): only its owner can have it sealed again (a CopyObject
    /// onto itself with the key), so it keeps its scheme.
    CustomerKey,
    /// The version was deleted or changed meanwhile: the new streams were let go.
    Changed,
}

/// The part of the object service the evacuation job converts versions through (a worker
/// holds its parts, never the whole service).
#[async_trait::async_trait]
pub trait SchemeConverter: Send + Sync {
    /// Writes every stream of version `v` of `key` that is not in the scheme of `bucket`'s
    /// placement as it is now again in that scheme, then commits them in its place.
    async fn convert_version(&self, bucket: &BucketRecord, key: &str, v: &VersionRecord) -> Result<Conversion>;
}

#[async_trait::async_trait]
impl SchemeConverter for ObjectService {
    async fn convert_version(&self, bucket: &BucketRecord, key: &str, v: &VersionRecord) -> Result<Conversion> {
        let placement = self.placement_for(bucket)?;
        let scheme = placement.redundancy();
        if v.streams.iter().all(|s| s.redundancy == scheme) {
            return Ok(Conversion::Unchanged);
        }
        let wrapped = self.version_key(v).await?;
        if wrapped.is_customer_wrapped() {
            return Ok(Conversion::CustomerKey);
        }
        let dek = self.unwrap_dek(&wrapped, KeyBinding::new(bucket.uid, v.version_uid, key), None).await?;
        crate::datapath::crypto::verify_manifest_mac(
            dek.expose(),
            bucket.uid.as_bytes(),
            v.version_uid.as_bytes(),
            &crate::datapath::format::manifest_bytes(&v.streams),
            &v.manifest_mac,
        )
        .map_err(|_| crate::error::ErrorKind::Integrity)?;
        let dek = Arc::new(dek);
        let mut stored: Vec<StoredStream> = Vec::new();
        let mut new: Vec<StreamManifest> = Vec::with_capacity(v.streams.len());
        let mut offset = 0u64;
        for s in &v.streams {
            let start = offset;
            offset += s.plaintext_len;
            if s.redundancy == scheme {
                new.push(s.clone());
                continue;
            }
            let source = if s.plaintext_len == 0 {
                // Nothing to read (an empty object's one stream, or an empty last part).
                futures_util::stream::empty().boxed()
            } else {
                match self.read_verified(bucket.uid, v, Arc::clone(&dek), Some((start, offset - 1))).await {
                    Ok(source) => source,
                    Err(e) => return Err(self.given_up(&stored, e).await),
                }
            };
            // The ETag is the version's and stays; the cheapest digest is computed and dropped.
            let source = PlainSource { len: s.plaintext_len, stream: source, algorithm: None, etag: EtagMode::Fast };
            let target = StreamTarget {
                bucket: bucket.uid,
                version: v.version_uid,
                part_number: s.part_number,
                dek: &dek,
                placement: placement.clone(),
            };
            match self.store_stream(target, source, |_| Ok(())).await {
                // Only with every target written: the old form is whole, and stays until the new
                // one is as redundant (a write quorum alone would leave less margin than before).
                Ok(done) if done.missing.is_empty() => {
                    new.push(done.manifest.clone());
                    stored.push(done);
                }
                Ok(done) => {
                    let why = format!("{} of its targets missed the converted stream", done.missing.len());
                    stored.push(done);
                    let e = ErrorKind::Unavailable { context: why.into(), source: None };
                    return Err(self.given_up(&stored, e.into()).await);
                }
                Err(e) => return Err(self.given_up(&stored, e).await),
            }
        }
        let replacement = StreamReplacement {
            bucket: bucket.uid,
            key: key.to_owned(),
            version: v.version_uid,
            old: v.streams.iter().map(|s| s.stream_id).collect(),
            manifest_mac: super::get::version_mac(&dek, bucket.uid, v.version_uid, &new)?,
            new,
            repairs: stored.iter().flat_map(StoredStream::repairs).collect(),
            policy: bucket.policy_id.clone(),
            delete_old_from_ms: super::now_ms()
                .saturating_add(i64::try_from(self.config.conversion_grace.as_millis()).unwrap_or(i64::MAX)),
        };
        let detail = serde_json::json!({
            "bucket": bucket.name, "key": key, "version": v.version_uid.to_hex(),
            "from": v.streams.iter().map(|s| s.redundancy.label()).collect::<Vec<_>>(),
            "to": scheme.label(), "streams": stored.len(),
        });
        let audit = AuditEntry::new("gateway", "evacuation.convert", &detail);
        // An error here may come after the commit (committed, not logged): the new streams
        // are not let go then, they may be the version's.
        if self.meta.replace_streams(replacement, audit).await.context("committing a converted version")? {
            Ok(Conversion::Converted)
        } else {
            self.let_go(&stored).await?;
            Ok(Conversion::Changed)
        }
    }
}

impl ObjectService {
    /// Lets go of the streams written before a conversion failed with `e`, and gives `e` back
    /// (a failure to let go is logged: the stale-intent sweep takes them then).
    async fn given_up(&self, stored: &[StoredStream], e: crate::error::Error) -> crate::error::Error {
        if let Err(lost) = self.let_go(stored).await {
            tracing::warn!(error = %crate::report::Report(&lost), "converted streams not let go");
        }
        e
    }

    /// Hands streams written for a conversion that will not be committed to the garbage
    /// collector, as a failed PUT does.
    async fn let_go(&self, stored: &[StoredStream]) -> Result<()> {
        let tasks = stored
            .iter()
            .map(|s| GcTask { stream_id: s.manifest.stream_id, targets: s.manifest.replicas.clone() })
            .collect();
        self.meta.abandon_intents(tasks).await?;
        Ok(())
    }
}

/// Whether some stream of `v` is not stored in `scheme`.
pub(crate) fn needs_conversion(v: &VersionRecord, scheme: Redundancy) -> bool {
    v.streams.iter().any(|s| s.redundancy != scheme)
}
