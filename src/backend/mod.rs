//! Provider clients. A backend stores opaque sealed streams under random names and sees
//! nothing else: no key, no content type, no user metadata.

pub mod fs;
pub mod health;
pub mod instrumented;
pub mod probe;
pub mod retry;
pub mod s3;

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;

use crate::model::{ProviderId, StreamId};
use crate::placement::WriteGrant;

/// The providers' backends by id, shared by the service and the workers.
pub type Backends = std::sync::Arc<std::collections::HashMap<ProviderId, std::sync::Arc<dyn Backend>>>;

pub use fs::FsBackend;
pub use s3::S3Backend;

/// The provider-side name of a stream: `sv1/<32 hex>`.
pub fn stream_name(id: StreamId) -> String {
    format!("sv1/{}", id.to_hex())
}

/// Where a format v2 keyring object is stored (docs/format-v2.md).
pub fn keyring_name(keyring_id: &[u8; 16]) -> String {
    format!("{KEYRING_PREFIX}{}", hex::encode(keyring_id))
}

/// Where a format v2 metadata log segment is stored.
pub fn segment_name(segment_id: &[u8; 16]) -> String {
    format!("{SEGMENT_PREFIX}{}", hex::encode(segment_id))
}

/// The names of streams start with this.
pub const STREAM_PREFIX: &str = "sv1/";
/// The names of keyring objects start with this.
pub const KEYRING_PREFIX: &str = "sv2/k/";
/// The names of log segments start with this.
pub const SEGMENT_PREFIX: &str = "sv2/l/";

/// What went wrong at a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// Could not reach it.
    Connect,
    /// No answer in time.
    Timeout,
    /// The stream does not exist there.
    NotFound,
    /// Local I/O failed (filesystem provider).
    Io,
    /// The upload body was aborted by the gateway (client error or digest mismatch).
    Aborted,
    /// The provider answered something that breaks the protocol.
    Protocol,
    /// The provider refused our credentials or signature (403).
    Auth,
    /// The provider asked us to slow down (503 SlowDown, 429).
    Throttled,
    /// The gateway refused the write itself: no residency grant for this provider.
    Refused,
    /// Another HTTP status.
    Status(u16),
}

/// A provider call failed. Shown with [`crate::report::Report`], it reads `provider p: Kind:
/// what was being done: the cause…` (the I/O, HTTP or TLS error kept as the source).
#[derive(Debug, thiserror::Error)]
#[error("provider {provider}: {kind:?}: {detail}")]
pub struct BackendError {
    /// Which provider.
    pub provider: ProviderId,
    /// What kind of failure.
    pub kind: BackendErrorKind,
    /// What was being done, or what the provider said; for logs, never shown to S3 clients.
    pub detail: String,
    /// The underlying error, if another library reported it.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl BackendError {
    /// A failure of `kind` at `provider` while `detail`, with no underlying error.
    pub fn new(provider: ProviderId, kind: BackendErrorKind, detail: impl Into<String>) -> Self {
        Self { provider, kind, detail: detail.into(), source: None }
    }

    /// The same, caused by `source`.
    pub fn caused(
        provider: ProviderId,
        kind: BackendErrorKind,
        detail: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self { provider, kind, detail: detail.into(), source: Some(source.into()) }
    }

    /// Whether a retry of an idempotent request may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self.kind, BackendErrorKind::Connect | BackendErrorKind::Timeout | BackendErrorKind::Io)
    }
}

/// The gateway stopped feeding an upload; the provider must discard what it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upload aborted by the gateway")]
pub struct BodyAborted;

/// Ciphertext on its way to one provider: a bounded channel fed by the crate's write paths,
/// the fan-out of freshly sealed chunks (`replicate::write`), the verified copy of a
/// replica's ciphertext (`replicate::verify`) and the metadata log's sealed objects
/// (`metalog`). Its constructor is crate-private, so nothing
/// outside the crate can hand `Backend::put` a body; where the bytes may go is the
/// [`GrantedBody`]'s residency grant. That the channel carries ciphertext rather than
/// plaintext rests on those two callers (each fed only by `datapath`'s sealer or a provider's
/// stored stream), not on the type.
pub struct SealedBody {
    rx: mpsc::Receiver<Result<Bytes, BodyAborted>>,
    /// Random bytes of the provider probe (no object data).
    probe: bool,
}

impl SealedBody {
    pub(crate) fn new(rx: mpsc::Receiver<Result<Bytes, BodyAborted>>) -> Self {
        Self { rx, probe: false }
    }

    /// A body of random bytes already in memory (the provider probe's test objects, which are
    /// as opaque to a provider as ciphertext).
    pub(crate) fn from_bytes(bytes: Bytes) -> Self {
        Self { probe: true, ..Self::in_memory(bytes) }
    }

    /// A metadata log object already in memory: a segment sealed by `datapath::segment`, or a
    /// keyring object holding a log key wrapped by the KEK. Object data: it needs a residency
    /// grant like any stream.
    pub(crate) fn log_object(bytes: Bytes) -> Self {
        Self::in_memory(bytes)
    }

    fn in_memory(bytes: Bytes) -> Self {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            for chunk in bytes.chunks(1 << 20) {
                if tx.send(Ok(bytes.slice_ref(chunk))).await.is_err() {
                    return;
                }
            }
        });
        Self { rx, probe: false }
    }
}

/// A body with its leave to go to one provider ([`WriteGrant`], minted only by placement).
/// A backend gets at the bytes only through [`GrantedBody::open`], which checks that the
/// grant is for that backend's provider: ciphertext cannot reach a provider its residency
/// check did not admit, whichever code path sends it.
pub struct GrantedBody {
    provider: ProviderId,
    body: SealedBody,
}

impl GrantedBody {
    /// Pairs `body` with `grant`; object data needs a residency grant (a probe grant admits
    /// only the probe's random bytes).
    pub fn new(grant: &WriteGrant, body: SealedBody) -> Result<Self, BackendError> {
        if !body.probe && !grant.admits_object_data() {
            return Err(BackendError::new(
                grant.provider().clone(),
                BackendErrorKind::Refused,
                "object data without a residency grant",
            ));
        }
        Ok(Self { provider: grant.provider().clone(), body })
    }

    /// The bytes, for the backend of `provider` only.
    pub fn open(self, provider: &ProviderId) -> Result<SealedBody, BackendError> {
        if self.provider != *provider {
            return Err(BackendError::new(
                provider.clone(),
                BackendErrorKind::Refused,
                format!("a write granted for provider {} was sent here", self.provider),
            ));
        }
        Ok(self.body)
    }
}

impl Stream for SealedBody {
    type Item = Result<Bytes, BodyAborted>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Ciphertext coming back from a provider.
pub type CipherStream = BoxStream<'static, Result<Bytes, BackendError>>;

/// One bucket (or directory) at one provider.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// The provider's id.
    fn id(&self) -> &ProviderId;
    /// Writes exactly `len` bytes under `name`. Ok means a complete, durable object. If the
    /// body yields an error or ends short, nothing becomes visible under `name`. Not retried:
    /// the body cannot be replayed. The bytes are reached through [`GrantedBody::open`] with
    /// this backend's own id (a grant for another provider is refused, nothing written).
    async fn put(&self, name: &str, len: u64, body: GrantedBody) -> Result<(), BackendError>;
    /// Reads a ciphertext byte range (end exclusive), or the whole object.
    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<CipherStream, BackendError>;
    /// The object's length, or `None` if absent.
    async fn head(&self, name: &str) -> Result<Option<u64>, BackendError>;
    /// Idempotent: an absent object is Ok.
    async fn delete(&self, name: &str) -> Result<(), BackendError>;
    /// Names under `prefix` (one of the gateway's: [`STREAM_PREFIX`], [`KEYRING_PREFIX`],
    /// [`SEGMENT_PREFIX`]) after `after` in lexicographic order, with lengths, at most `limit`.
    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>, BackendError>;
    /// What protects the gateway's objects at the provider itself (docs/object-lock.md): its
    /// bucket's versioning and Object Lock, as far as the provider answers. Only the probe asks.
    async fn protection(&self) -> Result<ProviderProtection, BackendError> {
        Ok(ProviderProtection::NotApplicable)
    }
}

/// The provider-side protection of a backend's bucket: whether a leaked provider credential
/// could still delete or overwrite ciphertext for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderProtection {
    /// A local directory: no provider-side versioning to ask about.
    NotApplicable,
    /// What an S3 provider answered.
    Bucket {
        /// GetBucketVersioning's status (`Enabled`, `Suspended`, `never enabled`), or `not
        /// offered` when the provider does not implement it.
        versioning: String,
        /// GetObjectLockConfiguration: `enabled`, `not enabled` or `not offered`.
        object_lock: String,
    },
}

impl ProviderProtection {
    /// Whether the provider keeps what a leaked credential would delete or overwrite.
    pub fn protects(&self) -> bool {
        matches!(self, ProviderProtection::Bucket { versioning, object_lock }
            if versioning == "Enabled" || object_lock == "enabled")
    }
}
