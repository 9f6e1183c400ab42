//! Which entries a checkpoint supersedes (docs/format-v2.md, "Checkpoints"). A checkpoint of a
//! bucket is the bucket's live state with every commit up to its `through` applied, written as
//! segments whose first entry names it. Once all of its parts were read, every other entry of
//! the bucket at or below `through` is superseded: its effect is in the checkpoint, and a
//! tombstone the checkpoint dropped (an object deleted before it) must not be undone by an
//! older segment some provider failed to delete. A checkpoint missing a part supersedes
//! nothing (the segments it would replace are deleted only after it is whole).

use std::collections::HashMap;

use super::fold::{Staged, entry_bucket};
use super::stage::{self, key};
use crate::meta::log_entry::LoggedCheckpoint;
use crate::meta::outbox::CATALOG_SCOPE;
use crate::meta::{MetaError, RebuildStage};

/// `p` ‖ bucket ‖ u64(through) ‖ id ‖ u32(part): a part was read.
const PART: u8 = b'p';
/// `P` ‖ bucket ‖ u64(through) ‖ id → u32(parts): the last part was read, so it has this many.
const PARTS: u8 = b'P';

fn checkpoint_key(prefix: u8, c: &LoggedCheckpoint) -> Vec<u8> {
    key(prefix, &[&c.bucket, &c.through.to_be_bytes(), &c.id])
}

/// The stage records that a part of `c` was read (with the segment's other records).
pub(super) fn part_seen(c: &LoggedCheckpoint) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = vec![([checkpoint_key(PART, c), c.part.to_be_bytes().to_vec()].concat(), Vec::new())];
    if c.last {
        out.push((checkpoint_key(PARTS, c), c.part.saturating_add(1).to_be_bytes().to_vec()));
    }
    out
}

/// Per bucket, the `through` of its newest checkpoint whose every part was read.
#[derive(Debug, Default)]
pub(super) struct Superseded(HashMap<[u8; 16], u64>);

impl Superseded {
    /// From what the stage read.
    pub(super) async fn read(stage: &dyn RebuildStage) -> Result<Self, MetaError> {
        let mut ends = Vec::new();
        stage::each_page(stage, &[PARTS], 1024, async |pairs| -> Result<(), MetaError> {
            ends.extend(pairs);
            Ok(())
        })
        .await?;
        let mut out = HashMap::new();
        for (k, v) in ends {
            let (Some(bucket), Some(through), Some(parts)) = (
                k.get(1..17).and_then(|b| <[u8; 16]>::try_from(b).ok()),
                k.get(17..25).and_then(|t| <[u8; 8]>::try_from(t).ok()).map(u64::from_be_bytes),
                <[u8; 4]>::try_from(v.as_slice()).ok().map(u32::from_be_bytes),
            ) else {
                return Err(MetaError::codec("a malformed checkpoint record in the rebuild's stage"));
            };
            let mut prefix = k.clone();
            prefix[0] = PART;
            let end = crate::meta::codec::prefix_successor(&prefix).unwrap_or_else(|| vec![PART + 1]);
            let seen = stage.stage_scan(prefix, end, parts as usize + 1).await?.len();
            if seen == parts as usize && out.get(&bucket).is_none_or(|t| *t < through) {
                out.insert(bucket, through);
            }
        }
        Ok(Self(out))
    }

    /// Buckets with a whole checkpoint.
    pub(super) fn buckets(&self) -> usize {
        self.0.keys().filter(|b| **b != CATALOG_SCOPE).count()
    }

    /// Whether the catalog has a whole checkpoint.
    pub(super) fn catalog(&self) -> bool {
        self.0.contains_key(&CATALOG_SCOPE)
    }

    /// Whether an entry of `bucket` (`None`: one that names no bucket) with sequence number
    /// `seq`, read from a checkpoint up to `through` (0: from none), still speaks.
    pub(super) fn keeps(&self, bucket: Option<&[u8; 16]>, seq: u64, through: u64) -> bool {
        bucket.and_then(|b| self.0.get(b)).is_none_or(|&newest| seq > newest || through >= newest)
    }

    /// [`Self::keeps`] for a staged entry.
    pub(super) fn keeps_staged(&self, s: &Staged) -> bool {
        self.keeps(entry_bucket(&s.entry), s.seq, s.through)
    }
}
