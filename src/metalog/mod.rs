//! The metadata log writer (docs/format-v2.md): takes the committed changes the store put in
//! its outbox, seals them into segments under the log key of their KEK, and writes each
//! segment W of N to the placement of its bucket (the catalog's to the default policy's), then
//! clears them from the outbox. The store makes every commit wait for this before it returns
//! ([`crate::meta::outbox::LogSink`]), so no write is acknowledged that the providers' log does
//! not hold; a rebuild recovers the store from these segments.
//!
//! Group commit: one round takes every entry in the outbox, so commits made while a round is
//! writing share the next round's segments (one segment per scope per round, not one per
//! commit). The first round runs at start and logs what an earlier run committed but did not
//! log (a crash between commit and segment); failed entries are retried every few seconds.

mod audit;
mod checkpoint;
mod fold;
mod generations;
mod keys;
mod listing;
mod read;
pub mod rebuild;
mod repair;
mod segments;
mod stage;
mod uploads;
pub mod verify;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, oneshot};

use crate::error::{Context as _, Error, ErrorKind, Result};
use crate::meta::MetadataStore;
use crate::meta::outbox::{LogError, LogScope, LogSink, Unlogged, WriterStopped};
use crate::model::BucketUid;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;
use crate::workers::Context;
use keys::LogKeys;
use segments::SegmentWriter;

/// Outbox entries read at a time.
const PAGE: usize = 1024;
/// A round stops after this many entries once every waiting commit is covered (a backlog is
/// worked off over several rounds).
const ROUND_LIMIT: usize = 16 * PAGE;
/// A segment is cut when its entries reach this size.
const SEGMENT_TARGET: usize = 1 << 20;
/// Entries that failed are tried again after this long.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// With nothing waiting, the outbox is still looked at this often (another gateway of a
/// shared store may have stopped with entries unlogged).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// The log writer: the store's [`LogSink`], and the task that writes the rounds.
#[derive(Clone)]
pub struct MetadataLog {
    inner: Arc<Inner>,
}

struct Inner {
    meta: Arc<dyn MetadataStore>,
    state: Arc<GatewayState>,
    keys: LogKeys,
    writer: SegmentWriter,
    default_policy: String,
    /// How often segments some providers missed are looked for.
    repair_every: Duration,
    /// When buckets are checkpointed.
    checkpoints: crate::config::CheckpointSettings,
    /// Sequence numbers drawn for later checkpoints.
    drawn: Mutex<checkpoint::Drawn>,
    /// One gateway of a shared store takes checkpoints at a time.
    checkpoint_lease: crate::workers::JobLease,
    waiters: Mutex<Vec<Waiter>>,
    wake: Notify,
    /// Set when the writer stopped: commits from then on are answered at once with an error.
    stopped: AtomicBool,
}

/// A commit waiting for its entry.
struct Waiter {
    seq: u64,
    done: oneshot::Sender<std::result::Result<(), Arc<Error>>>,
}

/// Why entries of one page were not logged, by sequence number.
type Failures = HashMap<u64, Arc<Error>>;

impl MetadataLog {
    /// A writer over the gateway's store, providers and keys; catalog entries go to the
    /// placement of `default_policy`.
    pub fn new(
        ctx: &Context,
        default_policy: String,
        repair_every: Duration,
        checkpoints: crate::config::CheckpointSettings,
    ) -> Self {
        let inner = Inner {
            meta: Arc::clone(&ctx.meta),
            state: Arc::clone(&ctx.state),
            keys: LogKeys::new(Arc::clone(&ctx.keys), Arc::clone(&ctx.meta)),
            writer: SegmentWriter::new(Arc::clone(&ctx.backends), Arc::clone(&ctx.health), Arc::clone(&ctx.metrics)),
            default_policy,
            repair_every,
            checkpoints,
            drawn: Mutex::default(),
            checkpoint_lease: crate::workers::JobLease::new("log-checkpoints", ctx),
            waiters: Mutex::new(Vec::new()),
            wake: Notify::new(),
            stopped: AtomicBool::new(false),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Writes rounds until `stop`: at once, whenever a commit waits, after a failure every
    /// [`RETRY_AFTER`], else every [`IDLE_POLL`]. Stopping answers nothing more; commits
    /// still waiting get an error (their entries stay in the outbox for the next start).
    /// Beside the rounds, segments some providers missed are copied to them.
    pub async fn run(self, stop: Shutdown) {
        let inner = Arc::clone(&self.inner);
        let repair_stop = stop.clone();
        let repairs = crate::workers::repeat(self.inner.repair_every, None, stop.clone(), move || {
            let (inner, stop) = (Arc::clone(&inner), repair_stop.clone());
            async move { inner.repair_pass(&stop).await }
        });
        let inner = Arc::clone(&self.inner);
        let checkpoint_stop = stop.clone();
        let checkpoints = crate::workers::repeat(self.inner.checkpoints.every, None, stop.clone(), move || {
            let (inner, stop) = (Arc::clone(&inner), checkpoint_stop.clone());
            async move { inner.checkpoint_pass(&stop).await }
        });
        tokio::join!(self.write_rounds(stop), repairs, checkpoints);
    }

    async fn write_rounds(self, mut stop: Shutdown) {
        loop {
            let pause = match self.inner.round().await {
                Round::Done => IDLE_POLL,
                Round::Failed => RETRY_AFTER,
                Round::More => Duration::ZERO,
            };
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                () = stop.wait() => break,
            }
        }
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.meta.set_log_sink(Arc::new(WriterStopped));
        self.inner.drop_waiters();
    }
}

#[async_trait]
impl LogSink for MetadataLog {
    async fn logged(&self, seq: u64) -> std::result::Result<(), LogError> {
        let (done, answer) = oneshot::channel();
        if let Ok(mut w) = self.inner.waiters.lock() {
            w.push(Waiter { seq, done });
        }
        if self.inner.stopped.load(Ordering::SeqCst) {
            self.inner.drop_waiters();
        }
        self.inner.wake.notify_one();
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LogError::new(e)),
            Err(_) => Err(LogError::new(Error::from(ErrorKind::unavailable("the metadata log writer stopped")))),
        }
    }
}

/// How a round ended.
enum Round {
    /// Everything in the outbox was logged.
    Done,
    /// Some entries could not be logged (they stay in the outbox).
    Failed,
    /// The round stopped at its limit with entries left.
    More,
}

impl Inner {
    /// Answers every waiting commit with "stopped" (dropping its channel).
    fn drop_waiters(&self) {
        if let Ok(mut w) = self.waiters.lock() {
            w.clear();
        }
    }

    /// Logs the outbox a page at a time, then answers the commits that were waiting when the
    /// round began (those that came later wait for the next round, whose read sees them).
    async fn round(&self) -> Round {
        let waiting = self.waiters.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        let last_waiting = waiting.iter().map(|w| w.seq).max().unwrap_or(0);
        let (mut logged, mut failures) = (Vec::new(), Failures::new());
        let (mut after, mut read, mut outcome) = (0, 0, Round::Done);
        loop {
            let page = match self.meta.unlogged(after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    let e = Arc::new(Error::from(e));
                    answer(waiting, |_| Some(Arc::clone(&e)), u64::MAX, &self.waiters);
                    return Round::Failed;
                }
            };
            let Some(last) = page.last().map(|u| u.seq) else { break };
            let full = page.len() == PAGE;
            after = last;
            read += page.len();
            let (done, failed) = self.log_page(page).await;
            logged.extend(done);
            failures.extend(failed);
            if !full {
                break;
            }
            if read >= ROUND_LIMIT && after >= last_waiting {
                outcome = Round::More;
                break;
            }
        }
        let covered = if matches!(outcome, Round::More) { after } else { u64::MAX };
        if !failures.is_empty() && matches!(outcome, Round::Done) {
            outcome = Round::Failed;
        }
        answer(waiting, |seq| failures.get(&seq).cloned(), covered, &self.waiters);
        // After the answers: the segments are durable, so clearing the outbox is only tidying
        // (an entry left there is logged again, and a rebuild keeps one per sequence number).
        if let Err(e) = self.meta.mark_logged(logged).await {
            tracing::warn!(error = %crate::report::Report(&e), "clearing logged entries from the outbox failed");
        }
        outcome
    }

    /// Logs one page: one or more segments per scope, the scopes in parallel. Returns the
    /// entries logged, and those that were not with why.
    async fn log_page(&self, page: Vec<Unlogged>) -> (Vec<u64>, Failures) {
        let mut by_scope: HashMap<LogScope, Vec<Unlogged>> = HashMap::new();
        for u in page {
            by_scope.entry(u.scope.clone()).or_default().push(u);
        }
        let results =
            futures_util::future::join_all(by_scope.into_iter().map(|(scope, entries)| self.log_scope(scope, entries)))
                .await;
        let mut failures = Failures::new();
        let mut logged = Vec::new();
        for (seqs, result) in results.into_iter().flatten() {
            match result {
                Ok(()) => logged.extend(seqs),
                Err(e) => {
                    tracing::warn!(error = %crate::report::Report(&e), entries = seqs.len(), "metadata log entries not logged");
                    let e = Arc::new(e);
                    failures.extend(seqs.into_iter().map(|s| (s, Arc::clone(&e))));
                }
            }
        }
        (logged, failures)
    }

    /// Seals one scope's entries into segments of about [`SEGMENT_TARGET`] and writes them.
    async fn log_scope(&self, scope: LogScope, entries: Vec<Unlogged>) -> Vec<(Vec<u64>, Result<()>)> {
        let seqs = |batch: &[Unlogged]| batch.iter().map(|u| u.seq).collect::<Vec<_>>();
        if scope.kek.as_ref().is_some_and(|kek| self.state.key_state().shredded.contains_key(kek)) {
            // Its KEK is destroyed: nothing of this bucket is readable in the log, so neither
            // would these entries be (docs/format-v2.md, "Shredding"). Cleared unwritten.
            tracing::info!(entries = entries.len(), "metadata log entries of a shredded bucket cleared");
            return vec![(seqs(&entries), Ok(()))];
        }
        let target = match self.target(&scope).await {
            Ok(t) => t,
            Err(e) => return vec![(seqs(&entries), Err(e))],
        };
        let mut out = Vec::new();
        for batch in batches(&entries) {
            let result = self.write_segment(&scope, &target, batch).await;
            out.push((seqs(batch), result));
        }
        out
    }

    /// Where a scope's segments go now, and the log key that seals them.
    async fn target(
        &self,
        scope: &LogScope,
    ) -> Result<(crate::placement::Placement, Arc<crate::keys::log_key::LogKey>)> {
        let residency = self.state.residency();
        let policy_id = if scope.bucket.is_some() { &scope.policy } else { &self.default_policy };
        let policy = residency.policies.get(policy_id).context("a metadata log scope names an unknown policy")?;
        let seed = scope.bucket.unwrap_or(BucketUid([0; 16]));
        let placement = crate::placement::place(policy, &residency.catalog, seed, crate::service::today())
            .map_err(|u| Error::from(ErrorKind::ResidencyUnsatisfiable(u.to_string())))?;
        let key = self.keys.of(scope.kek.as_deref()).await?;
        Ok((placement, key))
    }

    /// Seals and writes one segment (see [`Inner::write_indexed`]).
    async fn write_segment(
        &self,
        scope: &LogScope,
        target: &(crate::placement::Placement, Arc<crate::keys::log_key::LogKey>),
        batch: &[Unlogged],
    ) -> Result<()> {
        let entries: Vec<&[u8]> = batch.iter().map(|u| u.entry.as_slice()).collect();
        let max_seq = batch.iter().map(|u| u.seq).max().unwrap_or(0);
        self.write_indexed(scope, target, &entries, max_seq).await.map(drop)
    }
}

/// Cuts entries into batches of about [`SEGMENT_TARGET`] bytes (at least one entry each).
fn batches(entries: &[Unlogged]) -> Vec<&[Unlogged]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, u) in entries.iter().enumerate() {
        if i > start && size + u.entry.len() > SEGMENT_TARGET {
            out.push(&entries[start..i]);
            (start, size) = (i, 0);
        }
        size += u.entry.len() + 4;
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Answers the waiters up to `covered` (failed ones with their error), and puts the others
/// back for the next round.
fn answer(
    waiting: Vec<Waiter>,
    failure: impl Fn(u64) -> Option<Arc<Error>>,
    covered: u64,
    waiters: &Mutex<Vec<Waiter>>,
) {
    let mut later = Vec::new();
    for w in waiting {
        if w.seq > covered {
            later.push(w);
            continue;
        }
        let _ = w.done.send(failure(w.seq).map_or(Ok(()), Err));
    }
    if let Ok(mut w) = waiters.lock() {
        w.extend(later);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlogged(seq: u64, len: usize) -> Unlogged {
        Unlogged { seq, scope: LogScope::catalog(), entry: vec![0; len] }
    }

    /// Promise: segments stay near their target size, never split an entry, and an entry
    /// larger than the target still gets a segment of its own.
    #[test]
    fn entries_are_cut_into_segments_of_bounded_size() {
        let entries: Vec<_> = (0..5).map(|i| unlogged(i, 400_000)).collect();
        let sizes: Vec<usize> = batches(&entries).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
        let big = [unlogged(1, 3 << 20), unlogged(2, 10)];
        assert_eq!(batches(&big).iter().map(|b| b.len()).collect::<Vec<_>>(), [1, 1]);
        assert!(batches(&[]).is_empty());
    }
}
