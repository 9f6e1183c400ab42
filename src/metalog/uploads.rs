//! The multipart uploads in progress a rebuild brings back (docs/format-v2.md, "Rebuild"):
//! every upload whose slot holds its creation rather than its end, of a live bucket, with the
//! parts staged under it; a replica of a part that a listed provider does not hold becomes a
//! repair task, as for versions.

use std::collections::HashSet;

use super::fold::unstaged;
use super::generations::Superseded;
use super::rebuild::{RebuildError, missing_replicas};
use super::stage::{self, UPLOAD_PARTS, UPLOADS, key};
use crate::meta::log_entry::{LogEntry, LoggedPart, LoggedUpload};
use crate::meta::restore::RestoredUpload;
use crate::meta::{MetaError, RebuildStage};
use crate::model::ProviderId;

/// Parts held before a batch of uploads is handed on (an upload has at most 10,000).
const PARTS_PER_BATCH: usize = 4096;

/// The open uploads of `live` buckets, each with its parts, in batches of at most `page`
/// uploads and about [`PARTS_PER_BATCH`] parts (memory stays bounded whatever the number of
/// uploads and parts).
pub(super) async fn each_live_upload<F, E>(
    stage: &dyn RebuildStage,
    live: &HashSet<[u8; 16]>,
    gens: &Superseded,
    page: usize,
    mut each: F,
) -> Result<(), E>
where
    F: AsyncFnMut(Vec<(LoggedUpload, Vec<LoggedPart>)>) -> Result<(), E>,
    E: From<MetaError>,
{
    stage::each_page(stage, &[UPLOADS], page, async |pairs| {
        let (mut open, mut held) = (Vec::new(), 0);
        for (_, v) in pairs {
            let s = unstaged(&v)?;
            let speaks = gens.keeps_staged(&s);
            // An ended upload's slot holds its end, and a completed one's version is marked:
            // nothing to bring back.
            let LogEntry::Upload(u) = s.entry else { continue };
            if !speaks
                || !live.contains(&u.bucket)
                || stage::has(stage, key(stage::COMPLETED, &[&u.bucket, &u.version])).await?
            {
                continue;
            }
            let parts = parts_of(stage, &u, gens).await?;
            held += parts.len();
            open.push((*u, parts));
            if held >= PARTS_PER_BATCH {
                each(std::mem::take(&mut open)).await?;
                held = 0;
            }
        }
        each(open).await
    })
    .await
}

/// The parts staged under `upload`, in part-number order.
async fn parts_of(
    stage: &dyn RebuildStage,
    upload: &LoggedUpload,
    gens: &Superseded,
) -> Result<Vec<LoggedPart>, MetaError> {
    let mut parts = Vec::new();
    let prefix = key(UPLOAD_PARTS, &[&upload.bucket, &upload.upload]);
    stage::each_page(stage, &prefix, 1024, async |pairs| -> Result<(), MetaError> {
        for (_, v) in pairs {
            let s = unstaged(&v)?;
            if gens.keeps_staged(&s)
                && let LogEntry::Part(p) = s.entry
            {
                parts.push(*p);
            }
        }
        Ok(())
    })
    .await?;
    Ok(parts)
}

/// Uploads as the store keeps them, with repair tasks for the replicas of their parts that a
/// listed provider does not hold.
pub(super) async fn restored_uploads(
    logged: Vec<(LoggedUpload, Vec<LoggedPart>)>,
    stage: &dyn RebuildStage,
    listed: &[ProviderId],
    now: i64,
) -> Result<Vec<RestoredUpload>, RebuildError> {
    let mut out = Vec::with_capacity(logged.len());
    for (upload, parts) in logged {
        let record = upload.record().map_err(|_| RebuildError::Entry("upload"))?;
        let parts = parts
            .iter()
            .map(|p| Ok((p.number, p.record()?)))
            .collect::<Result<Vec<_>, crate::meta::log_entry::EntryError>>()
            .map_err(|_| RebuildError::Entry("part"))?;
        let streams: Vec<_> = parts.iter().map(|(_, p)| &p.stream).collect();
        let repairs = missing_replicas(&streams, stage, listed, now).await?.into_iter().flatten().collect();
        out.push(RestoredUpload { record, parts, repairs });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::log_entry::{LoggedBucket, LoggedCheckpoint, LoggedKey, LoggedLock, LoggedStream};
    use crate::metalog::fold::{ReadSegment, fold_segments};
    use crate::metalog::stage::{Job, MemoryStage};

    fn bucket(seq: u64, uid: u8) -> LogEntry {
        LogEntry::Bucket(LoggedBucket {
            seq,
            uid: [uid; 16],
            name: format!("b{uid}"),
            policy: "eu".into(),
            created_ms: 0,
            kek: None,
        })
    }

    fn upload(seq: u64, bucket: u8, id: u8) -> LogEntry {
        LogEntry::Upload(Box::new(LoggedUpload {
            seq,
            bucket: [bucket; 16],
            upload: [id; 16],
            key: format!("k{id}"),
            version: [id; 16],
            targets: vec!["de".into()],
            write_quorum: 1,
            initiated_ms: 0,
            content: Default::default(),
            expires_unix: None,
            user_metadata: vec![],
            checksum: None,
            dek: LoggedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![id] },
            lock: LoggedLock::default(),
            tags: vec![],
        }))
    }

    fn part(seq: u64, bucket: u8, id: u8, number: u32, stream: u8) -> LogEntry {
        LogEntry::Part(Box::new(LoggedPart {
            seq,
            bucket: [bucket; 16],
            upload: [id; 16],
            number,
            stream: LoggedStream {
                stream_id: [stream; 16],
                part_number: number,
                plaintext_len: 1,
                seg_log2: 16,
                salt: [0; 32],
                commit: [0; 32],
                ciphertext_sha256: [0; 32],
                scheme: crate::meta::log_entry::SCHEME_REPLICAS,
                replicas: vec!["de".into()],
            },
            etag_digest: [stream; 16],
            fast_etag: false,
            checksum: None,
            last_modified_ms: 0,
        }))
    }

    /// The version upload `id` became (its id the upload's version id), as its completion
    /// logs it.
    fn completed(seq: u64, bucket: u8, id: u8) -> LogEntry {
        LogEntry::Version(Box::new(crate::meta::log_entry::LoggedVersion {
            seq,
            bucket: [bucket; 16],
            key: format!("k{id}"),
            version: [id; 16],
            size: 1,
            etag: "e-1".into(),
            last_modified_ms: 0,
            content: Default::default(),
            expires_unix: None,
            user_metadata: vec![],
            checksum: None,
            part_checksums: vec![None],
            multipart: true,
            manifest_mac: [0; 32],
            streams: vec![],
            dek: LoggedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![id] },
        }))
    }

    fn ended(seq: u64, bucket: u8, id: u8) -> LogEntry {
        LogEntry::UploadEnded { seq, bucket: [bucket; 16], upload: [id; 16] }
    }

    /// The open uploads after folding `segments` in that order: (upload id byte, [(part
    /// number, stream id byte)]).
    async fn open_uploads(segments: Vec<Vec<LogEntry>>) -> Vec<(u8, Vec<(u32, u8)>)> {
        let stage = MemoryStage::default();
        let mut job = Job::default();
        for (i, entries) in segments.into_iter().enumerate() {
            let read = ReadSegment { name: format!("seg{i}"), entries, holders: Vec::new(), bytes: 0 };
            fold_segments(&stage, vec![read], &mut job).await.unwrap();
        }
        let gens = Superseded::read(&stage).await.unwrap();
        let live = crate::metalog::fold::live_buckets(&stage, &gens).await.unwrap().iter().map(|b| b.uid).collect();
        let mut out = Vec::new();
        each_live_upload(&stage, &live, &gens, 2, async |page| -> Result<(), MetaError> {
            for (u, parts) in page {
                out.push((u.upload[0], parts.iter().map(|p| (p.number, p.stream.stream_id[0])).collect()));
            }
            Ok(())
        })
        .await
        .unwrap();
        out
    }

    /// Promise: an upload in progress comes back with the latest part of each number,
    /// whatever order the segments are read in (also one whose id ends in 0xFF); an ended
    /// upload does not, nor one whose completed version was logged without its end (the two
    /// are in different segments and the second was lost), nor one of a deleted bucket.
    #[tokio::test]
    async fn open_uploads_come_back_with_their_latest_parts() {
        let entries = vec![
            bucket(1, 1),
            upload(2, 1, 10),
            part(3, 1, 10, 1, 31),
            part(4, 1, 10, 2, 32),
            part(5, 1, 10, 1, 33),
            upload(6, 1, 11),
            part(7, 1, 11, 1, 34),
            ended(8, 1, 11),
            bucket(9, 2),
            upload(10, 2, 12),
            LogEntry::BucketDeleted { seq: 11, bucket: [2; 16] },
            upload(12, 1, 0xFF),
            part(13, 1, 0xFF, 1, 35),
            upload(14, 1, 15),
            part(15, 1, 15, 1, 36),
            completed(16, 1, 15),
        ];
        let want = vec![(10, vec![(1, 33), (2, 32)]), (0xFF, vec![(1, 35)])];
        assert_eq!(open_uploads(vec![entries.clone()]).await, want);
        let mut backward: Vec<Vec<LogEntry>> = entries.into_iter().map(|e| vec![e]).collect();
        backward.reverse();
        assert_eq!(open_uploads(backward).await, want);
    }

    /// Promise: a rebuild hands uploads on in batches of bounded parts (memory stays flat
    /// whatever the number of uploads), each upload whole.
    #[tokio::test]
    async fn uploads_are_handed_on_in_batches_of_bounded_parts() {
        let mut entries = vec![bucket(1, 1)];
        for id in 0..3u8 {
            entries.push(upload(2, 1, id));
            entries.extend((1..=3000).map(|n| part(3, 1, id, n, id)));
        }
        let stage = MemoryStage::default();
        let read = ReadSegment { name: "seg".into(), entries, holders: Vec::new(), bytes: 0 };
        fold_segments(&stage, vec![read], &mut Job::default()).await.unwrap();
        let gens = Superseded::read(&stage).await.unwrap();
        let live = HashSet::from([[1; 16]]);
        let mut batches = Vec::new();
        each_live_upload(&stage, &live, &gens, 512, async |batch| -> Result<(), MetaError> {
            batches.push(batch.iter().map(|(_, parts)| parts.len()).collect::<Vec<_>>());
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(batches, [vec![3000, 3000], vec![3000]]);
    }

    /// Promise: a finished rebuild leaves nothing in its stage, whatever kind of record
    /// (slots, markers of completed uploads, the segment index, the job).
    #[tokio::test]
    async fn clearing_the_stage_leaves_nothing() {
        let stage = MemoryStage::default();
        let name = format!("{}{}", crate::backend::SEGMENT_PREFIX, "ab".repeat(16));
        let entries = vec![bucket(1, 1), upload(2, 1, 15), part(3, 1, 15, 1, 36), completed(4, 1, 15)];
        let read = ReadSegment { name, entries, holders: Vec::new(), bytes: 9 };
        fold_segments(&stage, vec![read], &mut Job::default()).await.unwrap();
        let all = || stage.stage_scan(Vec::new(), vec![0xFF], usize::MAX);
        let prefixes: HashSet<u8> = all().await.unwrap().iter().map(|(k, _)| k[0]).collect();
        assert!(prefixes.contains(&stage::COMPLETED) && prefixes.contains(&b's'), "{prefixes:?}");
        stage::clear(&stage).await.unwrap();
        assert_eq!(all().await.unwrap(), Vec::new());
    }

    /// Promise: a whole checkpoint's open upload (numbered 0, ranked as of the checkpoint)
    /// yields to an end logged after the checkpoint, and supersedes a part from an older
    /// segment a provider failed to delete.
    #[tokio::test]
    async fn a_checkpointed_upload_yields_to_a_later_end() {
        let marker =
            |last| LogEntry::Checkpoint(LoggedCheckpoint { through: 20, bucket: [1; 16], id: [9; 16], part: 0, last });
        let stale =
            vec![bucket(1, 1), upload(2, 1, 13), part(3, 1, 13, 1, 40), upload(4, 1, 14), part(5, 1, 14, 1, 41)];
        let checkpoint = vec![
            marker(true),
            bucket(20, 1),
            upload(0, 1, 13),
            part(0, 1, 13, 1, 42),
            upload(0, 1, 14),
            part(0, 1, 14, 2, 43),
        ];
        let after = vec![ended(21, 1, 13)];
        let got = open_uploads(vec![after, stale, checkpoint]).await;
        assert_eq!(got, [(14, vec![(2, 43)])], "13 ended after the checkpoint; 14 as the checkpoint has it");
    }
}
