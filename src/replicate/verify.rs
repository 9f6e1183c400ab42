//! Checking a replica against what was recorded when it was written (its exact ciphertext
//! length and keyless check, `model::CiphertextCheck`), without any key: the one streaming
//! check behind the repair and evacuation copies and the scrubber's deep reads.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::backend::{Backend, BackendError, Backends, BodyAborted, GrantedBody, SealedBody};
use crate::model::{CheckHasher, CiphertextCheck, ProviderId};
use crate::placement::WriteGrant;

/// What a replica must be: the length and check its stream's ciphertext had when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Exact ciphertext length.
    pub(crate) len: u64,
    /// The ciphertext's recorded check.
    pub(crate) check: CiphertextCheck,
}

/// A replica sent more bytes than its recorded length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the replica is longer than its recorded length")]
pub(crate) struct Overlong;

/// The check (by the function that made `like`) and length of a replica as it streams by,
/// refusing a byte past `limit`.
struct Digesting {
    hasher: CheckHasher,
    seen: u64,
    limit: u64,
}

impl Digesting {
    fn new(limit: u64, like: &CiphertextCheck) -> Self {
        Self { hasher: CheckHasher::like(like), seen: 0, limit }
    }

    fn update(&mut self, chunk: &[u8]) -> Result<(), Overlong> {
        self.seen += chunk.len() as u64;
        if self.seen > self.limit {
            return Err(Overlong);
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The length seen and the check.
    fn finish(self) -> (u64, CiphertextCheck) {
        (self.seen, self.hasher.finish())
    }
}

/// Why a verified copy did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    /// The target is not (or no longer) a configured provider.
    #[error("the provider is no longer configured")]
    NotConfigured,
    /// No source replica was left to copy from.
    #[error("no source replica")]
    NoSource,
    /// The target's grant does not admit object data.
    #[error("the target refused the write grant")]
    Grant(#[source] BackendError),
    /// Reading the source failed.
    #[error("reading the source failed")]
    Source(#[source] BackendError),
    /// The source's bytes are not the recorded ones (nothing reached the target for good).
    #[error("the source replica does not match its recorded length and ciphertext check")]
    Mismatch,
    /// The target's request ended before taking the whole stream.
    #[error("the target stopped reading")]
    TargetStopped,
    /// Writing the target failed.
    #[error("writing the target failed")]
    Target(#[source] BackendError),
    /// Rebuilding a shard from the others failed (too few readable, or coding).
    #[error("rebuilding the shard failed")]
    Rebuild(#[source] crate::error::Error),
    /// Every source failed; the last one's reason.
    #[error("copy from {provider} failed")]
    From {
        /// The last source tried.
        provider: ProviderId,
        /// Why.
        #[source]
        error: Box<CopyError>,
    },
}

/// Copies stream `name` to `target` from the first of `sources` that serves it intact
/// (verified as [`copy_verified`] does); the last failure otherwise.
pub(crate) async fn copy_from_first<'a>(
    backends: &Backends,
    sources: impl Iterator<Item = &'a ProviderId>,
    target: &ProviderId,
    name: &str,
    expected: Expected,
    grant: &WriteGrant,
) -> Result<(), CopyError> {
    let target = backends.get(target).ok_or(CopyError::NotConfigured)?;
    let mut last = CopyError::NoSource;
    for source in sources.filter_map(|p| backends.get(p)) {
        match copy_verified(source.as_ref(), target.as_ref(), name, expected, grant).await {
            Ok(()) => return Ok(()),
            Err(e) => last = CopyError::From { provider: source.id().clone(), error: Box::new(e) },
        }
    }
    Err(last)
}

/// A target's body sent one chunk behind: the last chunk goes only when the caller, having
/// checked the whole, [`release`](Self::release)s it; [`abort`](Self::abort) ends the body
/// short, so the provider discards it and never holds a complete wrong object.
pub(crate) struct HeldBack {
    tx: mpsc::Sender<Result<Bytes, BodyAborted>>,
    held: Option<Bytes>,
}

impl HeldBack {
    /// A body for `grant`'s provider, and its sending end.
    pub(crate) fn open(grant: &WriteGrant) -> Result<(GrantedBody, Self), CopyError> {
        let (tx, rx) = mpsc::channel::<Result<Bytes, BodyAborted>>(4);
        let body = GrantedBody::new(grant, SealedBody::new(rx)).map_err(CopyError::Grant)?;
        Ok((body, Self { tx, held: None }))
    }

    /// Holds `chunk` and sends the one held before (empty chunks are skipped).
    pub(crate) async fn push(&mut self, chunk: Bytes) -> Result<(), CopyError> {
        if chunk.is_empty() {
            return Ok(());
        }
        match self.held.replace(chunk) {
            Some(prev) => self.tx.send(Ok(prev)).await.map_err(|_| CopyError::TargetStopped),
            None => Ok(()),
        }
    }

    /// Ends the body short: the target discards it.
    pub(crate) async fn abort(self) {
        let _ = self.tx.send(Err(BodyAborted)).await;
    }

    /// Sends the last chunk when the whole proved right (the body is complete), else aborts
    /// it: [`CopyError::Mismatch`].
    pub(crate) async fn finish(self, whole_matches: bool) -> Result<(), CopyError> {
        if whole_matches {
            self.release().await
        } else {
            self.abort().await;
            Err(CopyError::Mismatch)
        }
    }

    /// Sends the last chunk: the body is complete.
    pub(crate) async fn release(self) -> Result<(), CopyError> {
        if let Some(last) = self.held {
            self.tx.send(Ok(last)).await.map_err(|_| CopyError::TargetStopped)?;
        }
        Ok(())
    }
}

/// Streams `source`'s copy of `name` to `target`, holding back the last chunk until the length
/// and check match `expected`: a damaged source never completes a write.
pub(crate) async fn copy_verified(
    source: &dyn Backend,
    target: &dyn Backend,
    name: &str,
    expected: Expected,
    grant: &WriteGrant,
) -> Result<(), CopyError> {
    let (body, mut out) = HeldBack::open(grant)?;
    let mut cipher = source.get(name, None).await.map_err(CopyError::Source)?;
    let put = target.put(name, expected.len, body);
    let feed = async move {
        let mut digest = Digesting::new(expected.len, &expected.check);
        while let Some(chunk) = cipher.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    out.abort().await;
                    return Err(CopyError::Source(e));
                }
            };
            if digest.update(&chunk).is_err() {
                out.abort().await;
                return Err(CopyError::Mismatch);
            }
            out.push(chunk).await?;
        }
        out.finish(digest.finish() == (expected.len, expected.check)).await
    };
    feed_and_put(feed, put).await
}

/// Runs a copy's feeding and its target's write side by side: the feeding's error first (it
/// says why the target's body ended short), else the target's.
pub(crate) async fn feed_and_put(
    feed: impl Future<Output = Result<(), CopyError>>,
    put: impl Future<Output = Result<(), BackendError>>,
) -> Result<(), CopyError> {
    let (feeding, put) = tokio::join!(feed, put);
    feeding?;
    put.map_err(CopyError::Target)
}

/// The check of replica `name` (by the function that made `like`) read whole, never more than
/// `len` bytes (a longer answer is [`Overlong`]) and never longer than `deadline`: a provider
/// answering endlessly or trickling cannot hold the caller. `None` when the provider could not be read in time.
pub(crate) async fn hash_bounded(
    backend: &dyn Backend,
    name: &str,
    len: u64,
    like: &CiphertextCheck,
    deadline: Duration,
) -> Option<Result<CiphertextCheck, Overlong>> {
    let read = async {
        let mut stream = backend.get(name, None).await.ok()?;
        let mut digest = Digesting::new(len, like);
        while let Some(chunk) = stream.next().await {
            if let Err(e) = digest.update(&chunk.ok()?) {
                return Some(Err(e));
            }
        }
        Some(Ok(digest.finish().1))
    };
    tokio::time::timeout(deadline, read).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BackendError, CipherStream, GrantedBody};
    use crate::model::ProviderId;
    use futures_util::stream;

    /// A provider whose GET answers `chunks` of 1 KiB, then (when `stall`) never ends.
    #[derive(Debug)]
    struct Endless {
        id: ProviderId,
        chunks: usize,
        stall: bool,
    }

    #[async_trait::async_trait]
    impl Backend for Endless {
        fn id(&self) -> &ProviderId {
            &self.id
        }
        async fn put(&self, _: &str, _: u64, _: GrantedBody) -> Result<(), BackendError> {
            unreachable!("not written")
        }
        async fn get(&self, _: &str, _: Option<std::ops::Range<u64>>) -> Result<CipherStream, BackendError> {
            let body = stream::iter((0..self.chunks).map(|_| Ok(bytes::Bytes::from(vec![0u8; 1024]))));
            Ok(if self.stall { body.chain(stream::pending()).boxed() } else { body.boxed() })
        }
        async fn head(&self, _: &str) -> Result<Option<u64>, BackendError> {
            Ok(Some(4096))
        }
        async fn delete(&self, _: &str) -> Result<(), BackendError> {
            Ok(())
        }
        async fn list(&self, _: &str, _: Option<&str>, _: usize) -> Result<Vec<(String, u64)>, BackendError> {
            Ok(Vec::new())
        }
    }

    /// Promise (issue 18 item 14): a deep read takes no more than the recorded length and
    /// gives up on a provider that trickles past the deadline.
    #[tokio::test]
    async fn a_replica_is_read_within_its_length_and_a_deadline() {
        let id = ProviderId::parse("p").unwrap();
        let exact = Endless { id: id.clone(), chunks: 4, stall: false };
        let crc = CiphertextCheck::crc64nvme(0);
        let check = hash_bounded(&exact, "n", 4096, &crc, Duration::from_secs(5)).await;
        let mut want = CheckHasher::like(&crc);
        want.update(&[0u8; 4096]);
        assert_eq!(check.unwrap().unwrap(), want.finish());
        // A stream recorded with SHA-256 (before the change) is checked with SHA-256.
        let sha = CiphertextCheck([1; 32]);
        let check = hash_bounded(&exact, "n", 4096, &sha, Duration::from_secs(5)).await.unwrap().unwrap();
        assert_eq!(&check.0[..], ring::digest::digest(&ring::digest::SHA256, &[0u8; 4096]).as_ref());
        let longer = Endless { id: id.clone(), chunks: 1_000_000, stall: false };
        let too_long = hash_bounded(&longer, "n", 4096, &crc, Duration::from_secs(5)).await;
        assert!(matches!(too_long, Some(Err(Overlong))));
        let stalled = Endless { id, chunks: 2, stall: true };
        assert!(hash_bounded(&stalled, "n", 4096, &crc, Duration::from_millis(200)).await.is_none());
    }
}
