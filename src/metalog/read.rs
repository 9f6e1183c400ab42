//! A rebuild's reading phase: the log keys every provider's keyrings open; every segment once,
//! from the first of its holders that serves it authentic under its own name, folded into the
//! stage; the stream names each provider lists, staged so the write-back can tell which
//! replicas need repair. Each step is recorded in the stage as it completes, so a resumed
//! rebuild reads only what the killed one had not.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;

use super::fold::{ReadSegment, fold_segments};
use super::listing::MergedListing;
use super::rebuild::{Progress, RebuildReport};
use super::stage::{self, Job};
use crate::backend::{Backend, KEYRING_PREFIX, SEGMENT_PREFIX, STREAM_PREFIX, segment_name};
use crate::datapath::keyring::Keyring;
use crate::datapath::segment::{MAX_SEGMENT_PLAINTEXT, SEGMENT_HEADER_LEN, SegmentHeader, open_segment};
use crate::keys::KeyProvider;
use crate::keys::log_key::LogKey;
use crate::meta::log_entry::LogEntry;
use crate::meta::{MetaError, RebuildStage};

/// The largest object a keyring or segment can be.
const MAX_LOG_OBJECT: u64 = (SEGMENT_HEADER_LEN + MAX_SEGMENT_PLAINTEXT + 16) as u64;
/// Staged stream names per write.
const LISTED_BATCH: usize = 4096;
/// Segments read at once.
const READ_AHEAD: usize = 8;
/// Segments folded per stage write (each write is durable: one fsync per batch, not per segment).
const FOLD_SEGMENTS: usize = 16;
/// Entries folded per stage write at most (memory: a batch's entries are held until written).
const FOLD_ENTRIES: usize = 8192;

/// A whole keyring or segment object, refused beyond the largest one a gateway writes.
async fn fetch(backend: &dyn Backend, name: &str) -> Result<Vec<u8>, String> {
    let mut body = backend.get(name, None).await.map_err(|e| crate::report::chain(&e))?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(|e| crate::report::chain(&e))?);
        if out.len() as u64 > MAX_LOG_OBJECT {
            return Err("larger than any log object".into());
        }
    }
    Ok(out)
}

/// The log keys the providers' keyrings open, by keyring id (one per KEK that logged).
pub(super) async fn open_keyrings(
    providers: &[Arc<dyn Backend>],
    keys: &dyn KeyProvider,
    report: &mut RebuildReport,
) -> HashMap<[u8; 16], LogKey> {
    let mut out = HashMap::new();
    let mut walk = MergedListing::new(providers, KEYRING_PREFIX);
    while let Some((name, holders)) = walk.next().await {
        for backend in holders {
            let opened = async {
                let bytes = fetch(backend.as_ref(), &name).await?;
                let keyring = Keyring::parse(&bytes).map_err(|e| e.to_string())?;
                if out.contains_key(&keyring.keyring_id) {
                    return Ok(None);
                }
                LogKey::open(keys, keyring).await.map(Some).map_err(|e| crate::report::chain(&e))
            };
            match opened.await {
                Ok(Some(key)) => {
                    out.insert(key.keyring().keyring_id, key);
                }
                Ok(None) => {}
                Err(why) => report.rejected.push(format!("{}/{name}: {why}", backend.id())),
            }
        }
    }
    report.unreachable.extend(walk.unreachable);
    report.keyrings = out.len();
    out
}

/// How many distinct segments the providers list (for the progress bar's total).
pub(super) async fn count_segments(providers: &[Arc<dyn Backend>]) -> u64 {
    let mut walk = MergedListing::new(providers, SEGMENT_PREFIX);
    let mut n = 0;
    while walk.next().await.is_some() {
        n += 1;
    }
    n
}

/// What reading one listed segment gave.
enum Read {
    /// An earlier run folded it in.
    Done,
    /// Its entries, from the first holder that served it authentic.
    Entries(ReadSegment),
    /// No holder served it authentic: why, per holder.
    Rejected(String, Vec<String>),
}

/// Folds every segment the stage has not yet folded in, each read from the first holder that
/// serves it authentic (one no holder serves so is reported, never trusted). Reads run
/// [`READ_AHEAD`] at a time; entries are folded in batches of [`FOLD_SEGMENTS`] segments or
/// [`FOLD_ENTRIES`] entries, whichever comes first.
pub(super) async fn read_log(
    providers: &[Arc<dyn Backend>],
    log_keys: &HashMap<[u8; 16], LogKey>,
    stage: &dyn RebuildStage,
    job: &mut Job,
    report: &mut RebuildReport,
    progress: &Progress,
) -> Result<(), MetaError> {
    let total = count_segments(providers).await;
    let mut walk = MergedListing::new(providers, SEGMENT_PREFIX);
    let listed = futures_util::stream::unfold(&mut walk, |w| async move { Some((w.next().await?, w)) });
    let mut reads =
        Box::pin(listed.map(|(name, holders)| read_listed(stage, name, holders, log_keys)).buffered(READ_AHEAD));
    let (mut batch, mut entries, mut seen) = (Vec::new(), 0, 0);
    while let Some(read) = reads.next().await {
        seen += 1;
        progress("segments", seen, total);
        match read? {
            Read::Done => report.segments_resumed += 1,
            Read::Rejected(name, why) => report.rejected.push(format!("{name}: {}", why.join("; "))),
            Read::Entries(read) => {
                entries += read.entries.len();
                batch.push(read);
                if batch.len() >= FOLD_SEGMENTS || entries >= FOLD_ENTRIES {
                    fold_segments(stage, std::mem::take(&mut batch), job).await?;
                    entries = 0;
                }
            }
        }
    }
    drop(reads);
    if !batch.is_empty() {
        fold_segments(stage, batch, job).await?;
    }
    report.unreachable.extend(walk.unreachable);
    Ok(())
}

/// One listed segment: skipped if folded in already, else read from its holders in turn.
async fn read_listed(
    stage: &dyn RebuildStage,
    name: String,
    holders: Vec<Arc<dyn Backend>>,
    log_keys: &HashMap<[u8; 16], LogKey>,
) -> Result<Read, MetaError> {
    if stage::has(stage, stage::done_key(&name)).await? {
        return Ok(Read::Done);
    }
    let mut why = Vec::new();
    let ids: Vec<_> = holders.iter().map(|b| b.id().clone()).collect();
    for backend in holders {
        match read_segment(backend.as_ref(), &name, log_keys).await {
            Ok((entries, bytes)) => return Ok(Read::Entries(ReadSegment { name, entries, holders: ids, bytes })),
            Err(e) => why.push(format!("{}: {e}", backend.id())),
        }
    }
    Ok(Read::Rejected(name, why))
}

/// One segment's entries, authenticated under its log key and bound to its name, and its size.
async fn read_segment(
    backend: &dyn Backend,
    name: &str,
    log_keys: &HashMap<[u8; 16], LogKey>,
) -> Result<(Vec<LogEntry>, u64), String> {
    let bytes = fetch(backend, name).await?;
    let header = SegmentHeader::parse(&bytes).map_err(|e| e.to_string())?;
    let key = log_keys.get(&header.keyring_id).ok_or("its keyring was not found or did not open")?;
    let entries = open_named(&bytes, name, key)?;
    let entries = entries.iter().map(|e| LogEntry::decode(e).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
    Ok((entries, bytes.len() as u64))
}

/// A segment's bytes as `backend` serves them, if they are authentic under `key` and were
/// sealed under `name` (a segment repair copies only such bytes).
pub(super) async fn fetch_authentic(backend: &dyn Backend, name: &str, key: &LogKey) -> Result<Vec<u8>, String> {
    let bytes = fetch(backend, name).await?;
    open_named(&bytes, name, key)?;
    Ok(bytes)
}

/// The entries of a segment authenticated under `key`, refused unless it was sealed as `name`.
fn open_named(bytes: &[u8], name: &str, key: &LogKey) -> Result<Vec<Vec<u8>>, String> {
    let header = SegmentHeader::parse(bytes).map_err(|e| e.to_string())?;
    if header.keyring_id != key.keyring().keyring_id {
        return Err("sealed under another log key".into());
    }
    let entries = open_segment(key.expose(), bytes).map_err(|e| e.to_string())?;
    // The id is authenticated with the body: a segment served under another's name is refused.
    if segment_name(&header.segment_id) != name {
        return Err("a segment stored under another segment's name".into());
    }
    Ok(entries)
}

/// Stages the stream names of each provider not yet listed in full; a provider that cannot be
/// listed is reported (its replicas are not queued for repair: unknown is not missing).
pub(super) async fn stage_stream_listings(
    providers: &[Arc<dyn Backend>],
    stage: &dyn RebuildStage,
    report: &mut RebuildReport,
) -> Result<(), MetaError> {
    for backend in providers {
        let done = stage::listing_done_key(backend.id());
        if stage::has(stage, done.clone()).await? {
            continue;
        }
        let mut walk = MergedListing::new(std::slice::from_ref(backend), STREAM_PREFIX);
        let mut batch = Vec::new();
        while let Some((name, _)) = walk.next().await {
            batch.push((stage::listed_key(backend.id(), &name), Vec::new()));
            if batch.len() == LISTED_BATCH {
                stage.stage_write(std::mem::take(&mut batch), Vec::new()).await?;
            }
        }
        if walk.unreachable.is_empty() {
            batch.push((done, Vec::new()));
        }
        stage.stage_write(batch, Vec::new()).await?;
        report.unreachable.extend(walk.unreachable);
    }
    Ok(())
}
