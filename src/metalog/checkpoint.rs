//! Checkpoints (docs/format-v2.md, "Checkpoints"): a bucket's log grows with its history, and
//! a rebuild reads all of it; and after a rebinding the bucket's older segments stay at the
//! providers of its old placement, which the new policy may exclude. A checkpoint writes the
//! bucket's live state as the store holds it — with every commit up to a sequence number
//! `through` applied — as segments to the bucket's placement as it is now, sealed under its
//! KEK as it is now; once every part is durable, the segments whose entries are all at or
//! below `through` are deleted at every provider they were sent to. A rebuild reading a whole
//! checkpoint ignores the bucket's older entries (`generations`), so a segment some provider
//! failed to delete cannot bring back what was deleted before the checkpoint.
//!
//! `through` is a sequence number drawn at least `settle` before the checkpoint starts: a
//! commit draws its number before it commits, so by then every commit numbered at or below
//! `through` is in the store the checkpoint reads.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::Inner;
use super::segments::Sealed;
use crate::backend::segment_name;
use crate::datapath::segment::{SegmentHeader, seal_segment};
use crate::error::{Context as _, Result};
use crate::meta::BucketRecord;
use crate::meta::log_entry::{LogEntry, LoggedBucket, LoggedCheckpoint};
use crate::meta::outbox::{CATALOG_SCOPE, CatalogCursor, IndexedSegment, LogScope, StateCursor};
use crate::model::{BucketUid, random_array};

/// Index records read at a time.
const INDEX_PAGE: usize = 1024;
/// Versions read from the store at a time.
const STATE_PAGE: usize = 256;

/// Sequence numbers drawn by earlier passes, oldest first.
#[derive(Debug, Default)]
pub(super) struct Drawn(VecDeque<(Instant, u64)>);

/// The buckets as the store holds them, with their own KEKs and the KEKs destroyed.
struct StoreBuckets {
    records: Vec<BucketRecord>,
    keks: std::collections::HashMap<BucketUid, String>,
    shredded: HashSet<String>,
}

/// One scope's indexed segments (`bucket` `None`: the catalog's).
struct Group {
    bucket: Option<BucketUid>,
    segments: Vec<IndexedSegment>,
}

/// Where a checkpoint's entries come from, and how far it has read.
enum State {
    Bucket(BucketUid, Option<StateCursor>),
    Catalog(Option<CatalogCursor>),
}

impl State {
    fn done(&self) -> bool {
        matches!(self, State::Bucket(_, None) | State::Catalog(None))
    }
}

impl Inner {
    /// Checkpoints every bucket that needs one (see [`crate::config::CheckpointSettings::min_segments`]),
    /// then deletes what each checkpoint superseded. With several gateways on one store, one
    /// of them does it.
    pub(super) async fn checkpoint_pass(&self, stop: &crate::shutdown::Shutdown) {
        match self.checkpoint_lease.hold().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return tracing::warn!(error = %crate::report::Report(&e), "checkpoint lease"),
        }
        let Some(through) = self.settled_seq().await else { return };
        // Read after `through` was drawn, from the store (not this gateway's view, which may
        // lag another gateway's change): every change up to `through` is in them.
        let buckets = match self.store_buckets().await {
            Ok(b) => b,
            Err(e) => return tracing::warn!(error = %crate::report::Report(&e), "reading buckets for checkpoints"),
        };
        let mut after = None;
        let mut group: Option<Group> = None;
        loop {
            let page = match self.meta.indexed_segments(after, INDEX_PAGE).await {
                Ok(p) => p,
                Err(e) => return tracing::warn!(error = %crate::report::Report(&e), "reading the segment index"),
            };
            let Some(last) = page.last() else { break };
            after = Some((last.scope.bucket, last.segment_id));
            let full = page.len() == INDEX_PAGE;
            for s in page {
                let bucket = s.scope.bucket;
                if group.as_ref().is_some_and(|g| g.bucket != bucket)
                    && let Some(done) = group.take()
                {
                    self.checkpoint_if_due(done, &buckets, through, stop).await;
                }
                group.get_or_insert_with(|| Group { bucket, segments: Vec::new() }).segments.push(s);
            }
            if !full || stop.is_triggered() {
                break;
            }
        }
        if let Some(g) = group {
            self.checkpoint_if_due(g, &buckets, through, stop).await;
        }
    }

    async fn store_buckets(&self) -> std::result::Result<StoreBuckets, crate::meta::MetaError> {
        let records = self.meta.buckets().await?;
        let catalog = self.meta.catalog_overrides().await?;
        Ok(StoreBuckets {
            records,
            keks: catalog.bucket_keks.into_iter().collect(),
            shredded: catalog.shredded_keks.into_iter().map(|(k, _)| k).collect(),
        })
    }

    /// A sequence number drawn at least `settle` ago by an earlier pass (drawing one for a
    /// later pass now), or `None` before there is one.
    async fn settled_seq(&self) -> Option<u64> {
        let now = match self.meta.draw_seq().await {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %crate::report::Report(&e), "drawing a sequence number for checkpoints");
                return None;
            }
        };
        let mut drawn = self.drawn.lock().ok()?;
        drawn.0.push_back((Instant::now(), now));
        // The newest one old enough; older ones are of no more use.
        let settled = drawn.0.iter().rposition(|(at, _)| at.elapsed() >= self.checkpoints.settle)?;
        drawn.0.drain(..settled);
        drawn.0.front().map(|(_, seq)| *seq)
    }

    async fn checkpoint_if_due(
        &self,
        mut group: Group,
        buckets: &StoreBuckets,
        through: u64,
        stop: &crate::shutdown::Shutdown,
    ) {
        if stop.is_triggered() {
            return;
        }
        // What the latest checkpoint superseded but a provider kept (it was down) goes first.
        if let Some((id, latest)) = latest_checkpoint(&group.segments) {
            let handled = self.delete_superseded(&group.segments, id, latest).await;
            group.segments.retain(|s| !handled.contains(&s.segment_id));
        }
        let Some(bucket) = group.bucket else {
            let scope = LogScope::catalog();
            if self.due(&scope, &group, through).await {
                let state = State::Catalog(Some(CatalogCursor::default()));
                self.checkpoint(&group, &scope, None, state, through).await;
            }
            return;
        };
        let rec = buckets.records.iter().find(|b| b.uid == bucket);
        let plan = match rec {
            Some(rec) => self.plan_live(rec, buckets, &group, through).await,
            None => plan_deleted(bucket, &group, through).map(|(mut scope, first)| {
                // Its policy may be gone since, or unknown (a segment indexed by a rebuild):
                // its deletion then goes where the catalog's entries go.
                if !self.state.residency().policies.contains_key(&scope.policy) {
                    scope.policy.clone_from(&self.default_policy);
                }
                (scope, first)
            }),
        };
        let Some((scope, first)) = plan else { return };
        let from = match rec {
            Some(_) => Some(StateCursor::default()),
            // A deleted bucket's checkpoint carries only its audit records (history, not
            // state) — unless its log was under a KEK of its own: that KEK's destruction must
            // take its names with it, and this checkpoint is sealed under the default KEK.
            None => {
                own_kek_free(bucket, &group, buckets).then(|| StateCursor { audit: true, ..StateCursor::default() })
            }
        };
        self.checkpoint(&group, &scope, Some(first), State::Bucket(bucket, from), through).await;
    }

    /// Writes the checkpoint of the group's scope and deletes what it supersedes.
    async fn checkpoint(&self, group: &Group, scope: &LogScope, first: Option<LogEntry>, state: State, through: u64) {
        let marker_bucket = group.bucket.map_or(CATALOG_SCOPE, |b| *b.as_bytes());
        match self.write_checkpoint(marker_bucket, scope, first, state, through).await {
            Ok(id) => {
                self.writer.count_checkpoint("written");
                self.delete_superseded(&group.segments, id, through).await;
            }
            Err(e) => {
                self.writer.count_checkpoint("failed");
                tracing::warn!(scope = %hex::encode(marker_bucket), error = %crate::report::Report(&e), "checkpoint failed");
            }
        }
    }

    /// For a live bucket: its scope now and its first entry, if it needs a checkpoint: a
    /// segment since the latest checkpoint (or of it) is outside its placement or under
    /// another KEK than its own, or enough segments came after it.
    async fn plan_live(
        &self,
        rec: &BucketRecord,
        buckets: &StoreBuckets,
        group: &Group,
        through: u64,
    ) -> Option<(LogScope, LogEntry)> {
        let kek = buckets.keks.get(&rec.uid).cloned();
        if kek.as_ref().is_some_and(|k| buckets.shredded.contains(k)) {
            // Its KEK is destroyed: its log is unreadable, and nothing could seal its state.
            return None;
        }
        let scope = LogScope::bucket(rec, kek.clone());
        let due = self.due(&scope, group, through).await;
        due.then(|| (scope, LogEntry::Bucket(LoggedBucket::new(through, rec, kek))))
    }

    /// Whether the scope needs a checkpoint: a segment since its latest checkpoint (or of it)
    /// is outside its placement as it is now or under another KEK, or enough segments came
    /// after it; and one would cover something.
    async fn due(&self, scope: &LogScope, group: &Group, through: u64) -> bool {
        let (placement, _) = match self.target(scope).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %crate::report::Report(&e), "placing a checkpoint");
                return false;
            }
        };
        let allowed: HashSet<_> = placement.targets().iter().collect();
        let latest = latest_checkpoint(&group.segments);
        let of_latest = |s: &IndexedSegment| latest.is_some() && s.checkpoint.map(|c| c.0) == latest.map(|l| l.0);
        // Segments the latest checkpoint superseded are only waiting for their deletion.
        let after_latest: Vec<_> =
            group.segments.iter().filter(|s| !of_latest(s) && latest.is_none_or(|(_, t)| s.max_seq > t)).collect();
        let parts = group.segments.iter().filter(|s| of_latest(s)).count();
        let latest_bytes: u64 = group.segments.iter().filter(|s| of_latest(s)).map(|s| s.bytes).sum();
        let after_bytes: u64 = after_latest.iter().map(|s| s.bytes).sum();
        let misplaced = after_latest.iter().copied().chain(group.segments.iter().filter(|s| of_latest(s))).any(|s| {
            s.scope.policy != scope.policy || s.scope.kek != scope.kek || s.targets.iter().any(|p| !allowed.contains(p))
        });
        // Rewriting the state only once as much came after it keeps a checkpoint's cost per
        // logged byte bounded, however large the bucket.
        let grown = after_latest.len() >= self.checkpoints.min_segments && after_bytes >= latest_bytes;
        let coverable = after_latest.iter().any(|s| s.max_seq <= through) || (misplaced && parts > 0);
        (misplaced || grown) && coverable
    }
}

/// For a deleted bucket: its deletion alone replaces every segment it had, once every one of
/// them is at or below `through` (and it has more than that one checkpoint).
fn plan_deleted(bucket: BucketUid, group: &Group, through: u64) -> Option<(LogScope, LogEntry)> {
    let latest = latest_checkpoint(&group.segments).map(|l| l.0);
    let only_latest = latest.is_some() && group.segments.iter().all(|s| s.checkpoint.map(|c| c.0) == latest);
    if only_latest || group.segments.iter().any(|s| s.max_seq > through) {
        return None;
    }
    // Its deletion was logged under the default KEK's log key; so is this.
    let newest = group.segments.iter().max_by_key(|s| s.max_seq)?;
    let scope = LogScope { kek: None, ..newest.scope.clone() };
    Some((scope, LogEntry::BucketDeleted { seq: through, bucket: *bucket.as_bytes() }))
}

/// Whether a deleted bucket never had a KEK of its own (as far as the store and its segments
/// say: a segment a rebuild indexed does not know its KEK).
fn own_kek_free(bucket: BucketUid, group: &Group, buckets: &StoreBuckets) -> bool {
    !buckets.keks.contains_key(&bucket) && group.segments.iter().all(|s| s.scope.kek.is_none())
}

/// The newest whole checkpoint among `segments` (a checkpoint is indexed as one only once
/// every part is written): its id and `through`.
fn latest_checkpoint(segments: &[IndexedSegment]) -> Option<([u8; 16], u64)> {
    segments.iter().filter_map(|s| s.checkpoint).max_by_key(|c| c.1)
}

impl Inner {
    /// Writes the checkpoint's parts (W of N each, indexed as they are written); its id.
    async fn write_checkpoint(
        &self,
        bucket: [u8; 16],
        scope: &LogScope,
        first: Option<LogEntry>,
        mut state: State,
        through: u64,
    ) -> Result<[u8; 16]> {
        let target = self.target(scope).await?;
        let id = random_array().context("drawing a checkpoint id")?;
        let mut pending: VecDeque<(u64, Vec<u8>)> = first.iter().map(encoded).collect::<Result<_>>()?;
        let mut part = 0u32;
        let mut parts = Vec::new();
        loop {
            while pending.iter().map(|(_, e)| e.len() + 4).sum::<usize>() < super::SEGMENT_TARGET && !state.done() {
                for e in &self.state_page(&mut state).await? {
                    pending.push_back(encoded(e)?);
                }
            }
            let mut batch = Vec::new();
            let mut size = 0;
            while let Some((_, e)) = pending.front() {
                if !batch.is_empty() && size + e.len() + 4 > super::SEGMENT_TARGET {
                    break;
                }
                size += e.len() + 4;
                batch.extend(pending.pop_front());
            }
            let last = state.done() && pending.is_empty();
            let marker = LogEntry::Checkpoint(LoggedCheckpoint { through, bucket, id, part, last });
            let marker = encoded(&marker)?;
            let max_seq = batch.iter().map(|(s, _)| *s).max().unwrap_or(0).max(through);
            let entries: Vec<&[u8]> =
                std::iter::once(&marker.1).chain(batch.iter().map(|(_, e)| e)).map(Vec::as_slice).collect();
            parts.push(self.write_indexed(scope, &target, &entries, max_seq).await?);
            if last {
                // Only now is it a checkpoint in the index: until then its parts are indexed as
                // plain segments, which a later checkpoint deletes if this one never completes.
                let whole =
                    parts.into_iter().map(|p| IndexedSegment { checkpoint: Some((id, through)), ..p }).collect();
                self.meta.index_segments(whole).await?;
                return Ok(id);
            }
            part += 1;
        }
    }

    /// The next page of the checkpoint's state, moving `state` on.
    async fn state_page(&self, state: &mut State) -> Result<Vec<LogEntry>> {
        Ok(match state {
            State::Bucket(bucket, cursor) => match cursor.take() {
                Some(from) => {
                    let (entries, next) = self.meta.log_state_page(*bucket, from, STATE_PAGE).await?;
                    *cursor = next;
                    entries
                }
                None => Vec::new(),
            },
            State::Catalog(cursor) => match cursor.take() {
                Some(from) => {
                    let (entries, next) = self.meta.catalog_state_page(from, STATE_PAGE).await?;
                    *cursor = next;
                    entries
                }
                None => Vec::new(),
            },
        })
    }

    /// Deletes, at every provider they were sent to, the group's segments the checkpoint `id`
    /// supersedes (all entries at or below `through`), and drops them from the index; a
    /// provider that could not delete keeps its copy in the index for the next pass. The
    /// segments it handled.
    async fn delete_superseded(&self, segments: &[IndexedSegment], id: [u8; 16], through: u64) -> HashSet<[u8; 16]> {
        let mut handled = HashSet::new();
        for s in segments.iter().filter(|s| s.max_seq <= through && s.checkpoint.map(|c| c.0) != Some(id)) {
            handled.insert(s.segment_id);
            let name = segment_name(&s.segment_id);
            let mut left = Vec::new();
            for p in &s.targets {
                match self.writer.delete_at(p, &name).await {
                    Ok(()) => {
                        // A repair of a deleted segment has nothing to copy.
                        let _ = self.meta.finish_log_repair(s.segment_id, p.clone()).await;
                    }
                    Err(e) => {
                        tracing::warn!(provider = %p, error = %crate::report::Report(&e), "deleting a superseded log segment failed");
                        left.push(p.clone());
                    }
                }
            }
            let done = if left.is_empty() {
                self.meta.unindex_segments(vec![(s.scope.bucket, s.segment_id)]).await
            } else {
                self.meta.index_segments(vec![IndexedSegment { targets: left, ..s.clone() }]).await
            };
            if let Err(e) = done {
                tracing::warn!(error = %crate::report::Report(&e), "updating the segment index failed");
            }
        }
        handled
    }

    /// Seals `entries` into one segment under the target's log key, writes it W of N, queues
    /// repairs for the providers that missed it and records it in the segment index; its
    /// index record.
    pub(super) async fn write_indexed(
        &self,
        scope: &LogScope,
        (placement, key): &(crate::placement::Placement, std::sync::Arc<crate::keys::log_key::LogKey>),
        entries: &[&[u8]],
        max_seq: u64,
    ) -> Result<IndexedSegment> {
        let header = SegmentHeader {
            keyring_id: key.keyring().keyring_id,
            segment_id: random_array().context("drawing a segment id")?,
            salt: random_array().context("drawing a segment salt")?,
        };
        let sealed = seal_segment(key.expose(), &header, entries).context("sealing a log segment")?;
        let segment = Sealed { segment_id: header.segment_id, bytes: Bytes::from(sealed), key };
        let written = self.writer.write(placement, &segment).await?;
        let kek = key.keyring().wrapped.kek_id.clone();
        let targets = written.holders.iter().chain(&written.missed).cloned().collect();
        let indexed = IndexedSegment {
            segment_id: header.segment_id,
            scope: scope.clone(),
            targets,
            max_seq,
            bytes: segment.bytes.len() as u64,
            checkpoint: None,
        };
        if let Err(e) = self.meta.index_segments(vec![indexed.clone()]).await {
            // Durable at W all the same; only a later checkpoint will not delete it.
            tracing::warn!(error = %crate::report::Report(&e), "indexing a log segment failed");
        }
        self.queue_repairs(scope, &kek, header.segment_id, written).await;
        Ok(indexed)
    }
}

/// An entry's sequence number and bytes.
fn encoded(e: &LogEntry) -> Result<(u64, Vec<u8>)> {
    Ok((e.seq(), e.encode().context("encoding a checkpoint entry")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(kek: Option<&str>) -> IndexedSegment {
        let scope = LogScope { bucket: Some(BucketUid([4; 16])), policy: "eu".into(), kek: kek.map(str::to_owned) };
        IndexedSegment { segment_id: [1; 16], scope, targets: vec![], max_seq: 3, bytes: 10, checkpoint: None }
    }

    /// Promise: a deleted bucket's checkpoint (sealed under the default KEK) carries its audit
    /// records only if the bucket never had a KEK of its own, as the store or any of its
    /// segments says: destroying that KEK must take the records' names with it.
    #[test]
    fn a_deleted_buckets_records_are_carried_only_under_the_default_kek() {
        let bucket = BucketUid([4; 16]);
        let store = |keks: &[(BucketUid, &str)]| StoreBuckets {
            records: Vec::new(),
            keks: keks.iter().map(|(b, k)| (*b, (*k).to_owned())).collect(),
            shredded: HashSet::new(),
        };
        let group = |keks: &[Option<&str>]| Group {
            bucket: Some(bucket),
            segments: keks.iter().map(|k| segment(*k)).collect(),
        };
        assert!(own_kek_free(bucket, &group(&[None, None]), &store(&[])));
        assert!(!own_kek_free(bucket, &group(&[None, Some("own")]), &store(&[])), "a segment under its own KEK");
        assert!(!own_kek_free(bucket, &group(&[None]), &store(&[(bucket, "own")])), "the store knows its KEK");
        assert!(own_kek_free(bucket, &group(&[None]), &store(&[(BucketUid([5; 16]), "other")])));
    }
}
