//! Writing one sealed segment to its placement, W of N like a stream: each provider under its
//! residency grant, the segment's keyring object first wherever this gateway has not yet
//! stored it (a segment at a provider is never without the keyring that opens it).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::backend::{
    Backend, BackendError, BackendErrorKind, Backends, GrantedBody, SealedBody, keyring_name, segment_name,
};
use crate::error::{ErrorKind, Result};
use crate::health::HealthState;
use crate::keys::log_key::LogKey;
use crate::metrics::Metrics;
use crate::model::ProviderId;
use crate::placement::{Placement, WriteGrant};

/// Once W providers hold the segment, the others get this much longer before they are left
/// behind (the segment is acknowledged; a rebuild reads the union of the providers).
const STRAGGLER_GRACE: Duration = Duration::from_secs(1);
/// A provider that has not taken a segment in this time is left behind.
const PUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes segments to placements.
pub(super) struct SegmentWriter {
    backends: Backends,
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    /// (keyring id, provider) pairs whose keyring object this gateway run has stored.
    keyrings_at: Mutex<HashSet<([u8; 16], ProviderId)>>,
}

/// Where a segment went.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// The providers that hold it.
    pub(super) holders: Vec<ProviderId>,
    /// The placement's providers that do not.
    pub(super) missed: Vec<ProviderId>,
}

/// One sealed segment and the log key it is sealed under.
pub(super) struct Sealed<'a> {
    pub(super) segment_id: [u8; 16],
    pub(super) bytes: Bytes,
    pub(super) key: &'a LogKey,
}

impl SegmentWriter {
    pub(super) fn new(backends: Backends, health: Arc<HealthState>, metrics: Arc<Metrics>) -> Self {
        Self { backends, health, metrics, keyrings_at: Mutex::new(HashSet::new()) }
    }

    /// Ok once at least W of the placement's providers hold the segment: which did, and which
    /// of its targets did not (down, refusing, or left behind once W held it).
    pub(super) async fn write(&self, placement: &Placement, segment: &Sealed<'_>) -> Result<Written> {
        let quorum = usize::from(placement.write_quorum()).max(1);
        let mut puts = FuturesUnordered::new();
        let mut waiting: HashSet<&ProviderId> = HashSet::new();
        let mut written = Written::default();
        for p in placement.targets() {
            match (self.usable(p), placement.grant(p)) {
                (Some(backend), Some(grant)) => {
                    waiting.insert(p);
                    puts.push(self.put_one(backend, grant, segment));
                }
                _ => written.missed.push(p.clone()),
            }
        }
        loop {
            let next = if written.holders.len() >= quorum {
                match tokio::time::timeout(STRAGGLER_GRACE, puts.next()).await {
                    Ok(next) => next,
                    Err(_) => break,
                }
            } else {
                puts.next().await
            };
            let Some((p, result)) = next else { break };
            waiting.remove(&p);
            match result {
                Ok(()) => written.holders.push(p),
                Err(e) => {
                    tracing::warn!(provider = %p, error = %crate::report::Report(&e), "log segment write failed");
                    written.missed.push(p);
                }
            }
        }
        // Left behind: their requests are dropped, so no partial object becomes visible.
        written.missed.extend(waiting.into_iter().cloned());
        for p in &written.missed {
            self.metrics.log_replicas_missed.with_label_values(&[p.as_str()]).inc();
        }
        let stored = written.holders.len();
        let outcome = if stored >= quorum { "written" } else { "failed" };
        self.metrics.log_segments.with_label_values(&[outcome]).inc();
        if stored < quorum {
            let total = placement.targets().len();
            return Err(ErrorKind::unavailable(format!(
                "only {stored} of {total} providers took the metadata log segment; {quorum} needed"
            ))
            .into());
        }
        Ok(written)
    }

    /// Counts a segment repair's outcome for `provider`.
    pub(super) fn count_repair(&self, provider: &ProviderId, outcome: &str) {
        self.metrics.log_replicas_repaired.with_label_values(&[provider.as_str(), outcome]).inc();
    }

    /// Counts a checkpoint's outcome.
    pub(super) fn count_checkpoint(&self, outcome: &str) {
        self.metrics.log_checkpoints.with_label_values(&[outcome]).inc();
    }

    /// Deletes a segment at `provider` (absent is fine). A provider no longer configured has
    /// nothing this gateway can reach: done.
    pub(super) async fn delete_at(&self, provider: &ProviderId, name: &str) -> Result<(), BackendError> {
        let Some(backend) = self.backends.get(provider) else { return Ok(()) };
        if !self.health.reachable(provider) {
            return Err(BackendError::new(provider.clone(), BackendErrorKind::Connect, "log segment deletion"));
        }
        backend.delete(name).await?;
        self.metrics.log_segments_deleted.with_label_values(&[provider.as_str()]).inc();
        Ok(())
    }

    /// The provider's backend, if it is configured and reachable now.
    pub(super) fn usable(&self, p: &ProviderId) -> Option<Arc<dyn Backend>> {
        self.health.reachable(p).then(|| self.backends.get(p)).flatten().map(Arc::clone)
    }

    /// Stores an existing segment (and its keyring) at one provider of `placement` that missed
    /// it: only where the placement grants a write, as a new segment would be.
    pub(super) async fn copy_to(
        &self,
        placement: &Placement,
        provider: &ProviderId,
        segment: &Sealed<'_>,
    ) -> Result<(), BackendError> {
        let failed = |kind| BackendError::new(provider.clone(), kind, "log segment copy");
        let grant = placement.grant(provider).ok_or_else(|| failed(BackendErrorKind::Refused))?;
        let backend = self.usable(provider).ok_or_else(|| failed(BackendErrorKind::Connect))?;
        self.put_one(backend, grant, segment).await.1
    }

    async fn put_one(
        &self,
        backend: Arc<dyn Backend>,
        grant: WriteGrant,
        segment: &Sealed<'_>,
    ) -> (ProviderId, Result<(), BackendError>) {
        let provider = backend.id().clone();
        let keyring = segment.key.keyring();
        let known = (keyring.keyring_id, provider.clone());
        let put = async {
            if !self.keyrings_at.lock().is_ok_and(|k| k.contains(&known)) {
                let bytes = keyring
                    .to_bytes()
                    .map_err(|e| BackendError::caused(provider.clone(), BackendErrorKind::Refused, "keyring", e))?;
                put_bytes(backend.as_ref(), &grant, &keyring_name(&keyring.keyring_id), Bytes::from(bytes)).await?;
                if let Ok(mut k) = self.keyrings_at.lock() {
                    k.insert(known.clone());
                }
            }
            put_bytes(backend.as_ref(), &grant, &segment_name(&segment.segment_id), segment.bytes.clone()).await
        };
        let result = match tokio::time::timeout(PUT_TIMEOUT, put).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::new(provider.clone(), BackendErrorKind::Timeout, "log segment")),
        };
        (provider, result)
    }
}

async fn put_bytes(backend: &dyn Backend, grant: &WriteGrant, name: &str, bytes: Bytes) -> Result<(), BackendError> {
    let len = bytes.len() as u64;
    backend.put(name, len, GrantedBody::new(grant, SealedBody::log_object(bytes))?).await
}
