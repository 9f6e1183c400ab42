//! W-of-N streaming fan-out (DESIGN.md §6.1): each sealed batch is cloned (not copied) into
//! one bounded channel per target. A target whose request fails, or whose channel stays full
//! longer than the straggler timeout, is cut; the write goes on while at least W remain, and
//! the cut targets become repair tasks at commit.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backend::{Backend, BackendError, BodyAborted, GrantedBody, SealedBody, stream_name};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ProviderId, StreamId};
use crate::placement::WriteGrant;

/// Sealed batches buffered per provider before the reader waits (backpressure).
const CHANNEL_BATCHES: usize = 4;
/// A target that accepts nothing for this long while others do is cut.
const STRAGGLER_TIMEOUT: Duration = Duration::from_secs(5);

struct Target {
    provider: ProviderId,
    /// Its place in the placement (for shards: the shard it gets).
    slot: usize,
    tx: Option<mpsc::Sender<Result<Bytes, BodyAborted>>>,
    task: JoinHandle<Result<(), BackendError>>,
}

/// The uploads of one stream to its targets.
pub(crate) struct Fanout {
    targets: Vec<Target>,
    quorum: usize,
}

/// Which targets hold the complete stream.
pub(crate) struct FanoutOutcome {
    /// Targets that acknowledged.
    pub(crate) stored: Vec<ProviderId>,
    /// Targets that failed or were cut: their replicas go to repair.
    pub(crate) missing: Vec<ProviderId>,
}

fn below_quorum(alive: usize, total: usize, quorum: usize) -> Error {
    ErrorKind::unavailable(format!("only {alive} of {total} providers accepted the write; {quorum} needed")).into()
}

impl Fanout {
    /// Starts one provider upload of `len` bytes per target (its slot in the placement, its
    /// backend and its grant); each keeps the request's span for its logs.
    pub(crate) fn open(
        backends: Vec<(usize, Arc<dyn Backend>, WriteGrant)>,
        stream_id: StreamId,
        len: u64,
        quorum: usize,
    ) -> Self {
        let targets = backends
            .into_iter()
            .map(|(slot, backend, grant)| {
                let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
                let provider = backend.id().clone();
                let name = stream_name(stream_id);
                let upload = async move {
                    let body = GrantedBody::new(&grant, SealedBody::new(rx))?;
                    backend.put(&name, len, body).await
                };
                Target { provider, slot, tx: Some(tx), task: tokio::spawn(upload.in_current_span()) }
            })
            .collect();
        Self { targets, quorum: quorum.max(1) }
    }

    fn alive(&self) -> usize {
        self.targets.iter().filter(|t| t.tx.is_some()).count()
    }

    /// Sends one sealed batch to every live target, cutting those that fail or stall.
    pub(crate) async fn send(&mut self, chunk: Bytes) -> Result<()> {
        self.send_with(|_| chunk.clone()).await
    }

    /// Sends each live target the bytes of its slot (shards: one per slot), cutting those
    /// that fail or stall; a slot without bytes is skipped.
    pub(crate) async fn send_each(&mut self, per_slot: &[Bytes]) -> Result<()> {
        self.send_with(|slot| per_slot.get(slot).cloned().unwrap_or_default()).await
    }

    async fn send_with(&mut self, bytes_for: impl Fn(usize) -> Bytes) -> Result<()> {
        for t in &mut self.targets {
            let Some(tx) = &t.tx else { continue };
            let chunk = bytes_for(t.slot);
            if chunk.is_empty() {
                continue;
            }
            match tokio::time::timeout(STRAGGLER_TIMEOUT, tx.send(Ok(chunk))).await {
                Ok(Ok(())) => {}
                // The provider's request already ended; its task holds the reason.
                Ok(Err(_)) => t.tx = None,
                Err(_) => {
                    // Dropping the sender ends its body short: the provider discards it.
                    tracing::warn!(provider = %t.provider, "straggler cut from the write");
                    t.tx = None;
                }
            }
        }
        let alive = self.alive();
        if alive < self.quorum {
            return Err(below_quorum(alive, self.targets.len(), self.quorum));
        }
        Ok(())
    }

    /// Aborts every upload (the providers see an aborted body, never a complete one).
    pub(crate) async fn abort(self) {
        for t in &self.targets {
            if let Some(tx) = &t.tx {
                let _ = tx.try_send(Err(BodyAborted));
            }
        }
        for t in self.targets {
            drop(t.tx);
            let _ = t.task.await;
        }
    }

    /// Ends every body and waits for the providers: Ok when at least W acknowledged.
    pub(crate) async fn finish(self) -> Result<FanoutOutcome> {
        let total = self.targets.len();
        let mut outcome = FanoutOutcome { stored: Vec::new(), missing: Vec::new() };
        for t in self.targets {
            drop(t.tx);
            match t.task.await {
                Ok(Ok(())) => outcome.stored.push(t.provider),
                Ok(Err(e)) => {
                    tracing::warn!(provider = %t.provider, error = %crate::report::Report(&e), "provider write failed");
                    outcome.missing.push(t.provider);
                }
                Err(e) => {
                    tracing::error!(provider = %t.provider, error = %crate::report::Report(&e), "provider task failed");
                    outcome.missing.push(t.provider);
                }
            }
        }
        if outcome.stored.len() < self.quorum {
            return Err(below_quorum(outcome.stored.len(), total, self.quorum));
        }
        Ok(outcome)
    }
}
