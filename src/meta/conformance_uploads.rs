//! Multipart uploads in the metadata log (docs/format-v2.md, kinds 10–12), for every engine:
//! each commit of an upload leaves its entry in the bucket's scope; what a rebuild restores
//! reads back and goes on; a checkpoint's page of the bucket's state carries the uploads in
//! progress with their parts.

use super::conformance::{bucket_name, entry, put, stream, upload, version};
use super::conformance_log::waiting;
use super::log_entry::LogEntry;
use super::outbox::{LogScope, StateCursor};
use super::restore::{RestoreBatch, RestoredUpload};
use super::{BucketRecord, CommitOutcome, MetadataStore, PartRecord, PutCommit, RepairTask};
use crate::model::{BucketUid, ProviderId, UploadId, WriteCondition};

/// Marks everything waiting logged; what was waiting.
async fn drain(store: &dyn MetadataStore) -> Vec<(u64, LogScope, LogEntry)> {
    let all = waiting(store).await;
    store.mark_logged(all.iter().map(|(seq, ..)| *seq).collect()).await.unwrap();
    all
}

fn part(id: u8) -> PartRecord {
    PartRecord {
        stream: stream(id),
        etag_digest: [id; 16],
        checksum: Some("c".into()),
        last_modified_ms: 7,
        fast_etag: false,
    }
}

/// Promise: CreateMultipartUpload, each UploadPart, an abort and a completion leave their
/// entries in the bucket's scope (a completion its version, then the upload's end); the
/// entries read back as the store's records; a refused part leaves nothing.
pub(super) async fn upload_commits_are_logged(store: &dyn MetadataStore) {
    let b = BucketUid([171; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("uplog"), policy_id: "p".into(), created_ms: 1 };
    store.create_bucket(rec.clone(), None, entry("create")).await.unwrap().expect("created");
    drain(store).await;
    let scope = LogScope::bucket(&rec, None);
    let (open, aborted) = (UploadId([202; 16]), UploadId([203; 16]));
    let up = upload(open, b, "big");
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), None);
    for (n, id) in [(1, 204), (2, 205), (1, 206)] {
        assert_eq!(store.commit_part(open, n, part(id), vec![]).await.unwrap(), CommitOutcome::Committed);
    }
    assert_eq!(store.create_upload(upload(aborted, b, "gone")).await.unwrap(), None);
    assert!(store.abort_upload(aborted).await.unwrap());
    let got = drain(store).await;
    assert!(got.iter().all(|(_, s, _)| *s == scope), "in the bucket's scope: {got:?}");
    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "in commit order");
    let entries: Vec<LogEntry> = got.into_iter().map(|(.., e)| e).collect();
    let [LogEntry::Upload(u), LogEntry::Part(p1), LogEntry::Part(_), LogEntry::Part(p1b), LogEntry::Upload(g), ended] =
        entries.as_slice()
    else {
        panic!("not upload, three parts, upload, end: {entries:?}")
    };
    assert_eq!(u.record().unwrap(), up, "the upload reads back as stored");
    assert_eq!((p1.number, p1.record().unwrap()), (1, part(204)));
    assert_eq!((p1b.number, p1b.record().unwrap()), (1, part(206)), "a part uploaded again is logged again");
    assert_eq!(g.upload, aborted.0);
    assert_eq!(*ended, LogEntry::UploadEnded { seq: ended.seq(), bucket: b.0, upload: aborted.0 });

    let mut v = version(207, "m-2");
    v.streams = vec![stream(206), stream(205)];
    let complete = PutCommit {
        bucket_name: bucket_name("uplog"),
        completes_upload: Some(open),
        intents: vec![],
        ..put(b, "big", v, WriteCondition::None)
    };
    assert_eq!(store.commit_put(complete).await.unwrap(), CommitOutcome::Committed);
    let got = drain(store).await;
    let kinds: Vec<_> = got.iter().map(|(seq, _, e)| (matches!(e, LogEntry::ObjectVersion(_)), *seq)).collect();
    assert_eq!(kinds.len(), 2, "{got:?}");
    assert!(kinds[0].0 && kinds[1].1 == kinds[0].1 + 1, "the version, then the end: {got:?}");
    assert_eq!(got[1].2, LogEntry::UploadEnded { seq: kinds[1].1, bucket: b.0, upload: open.0 });
    assert_eq!(store.commit_part(open, 3, part(208), vec![]).await.unwrap(), CommitOutcome::Gone);
    assert!(waiting(store).await.is_empty(), "a refused part logs nothing");
}

/// Promise: an upload a rebuild restores reads back with its parts, their streams' owner and
/// repairs, logs nothing, and goes on: a part more, then completion.
pub(super) async fn restored_uploads_go_on(store: &dyn MetadataStore) {
    let b = BucketUid([181; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("upback"), policy_id: "p".into(), created_ms: 1 };
    let id = UploadId([212; 16]);
    let repair = RepairTask::for_stream(&stream(213), ProviderId::parse("fr").unwrap(), 9, 0);
    let batch = RestoreBatch {
        buckets: vec![(rec, None)],
        uploads: vec![RestoredUpload {
            record: upload(id, b, "back"),
            parts: vec![(1, part(213)), (2, part(214))],
            repairs: vec![repair.clone()],
        }],
        ..RestoreBatch::default()
    };
    store.restore(batch).await.unwrap();
    assert!(waiting(store).await.is_empty(), "restored records are in the log already");
    assert_eq!(store.upload(id).await.unwrap(), Some(upload(id, b, "back")));
    let listed = store.list_uploads(b, &super::conformance::query("", None, 10), None).await.unwrap();
    assert_eq!(listed.entries.len(), 1, "listed");
    let parts = store.parts(id, 0, 10).await.unwrap();
    assert_eq!(parts, [(1, part(213)), (2, part(214))]);
    assert_eq!(store.stream_owner(stream(214).stream_id).await.unwrap(), Some(b));
    assert_eq!(store.stream_repairs(stream(213).stream_id).await.unwrap(), [repair]);
    assert_eq!(store.commit_part(id, 3, part(215), vec![]).await.unwrap(), CommitOutcome::Committed);
    let mut v = version(216, "m-3");
    v.streams = vec![stream(213), stream(214), stream(215)];
    let complete = PutCommit {
        bucket_name: bucket_name("upback"),
        completes_upload: Some(id),
        intents: vec![],
        ..put(b, "back", v, WriteCondition::None)
    };
    assert_eq!(store.commit_put(complete).await.unwrap(), CommitOutcome::Committed);
    assert!(store.upload(id).await.unwrap().is_none());
    drain(store).await;
}

/// Promise: after its versions, a bucket's state pages through its uploads in progress, each
/// as its entry then its parts' (the latest of each number), never split across pages;
/// ended uploads are not in it.
pub(super) async fn checkpoint_state_carries_open_uploads(store: &dyn MetadataStore) {
    let b = BucketUid([191; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("upckpt"), policy_id: "p".into(), created_ms: 1 };
    store.create_bucket(rec, None, entry("create")).await.unwrap().expect("created");
    let (one, two, ended) = (UploadId([222; 16]), UploadId([223; 16]), UploadId([224; 16]));
    for (id, key) in [(one, "a"), (two, "b"), (ended, "c")] {
        store.create_upload(upload(id, b, key)).await.unwrap();
    }
    for (id, n, s) in [(one, 1, 225), (one, 2, 226), (one, 1, 227), (ended, 1, 228)] {
        assert_eq!(store.commit_part(id, n, part(s), vec![]).await.unwrap(), CommitOutcome::Committed);
    }
    assert!(store.abort_upload(ended).await.unwrap());
    drain(store).await;
    let mut cursor = Some(StateCursor::default());
    let mut pages = Vec::new();
    while let Some(from) = cursor {
        let (mut entries, next) = store.log_state_page(b, from, 1).await.unwrap();
        // The bucket's audit records come last; `conformance_log` checks them.
        entries.retain(|e| !matches!(e, LogEntry::Audited(_)));
        if !entries.is_empty() {
            pages.push(entries);
        }
        cursor = next;
        assert!(pages.len() < 10, "the walk ends");
    }
    let described: Vec<Vec<String>> = pages
        .iter()
        .map(|page| {
            page.iter()
                .map(|e| match e {
                    LogEntry::Upload(u) => format!("upload {} {} seq {}", u.upload[0], u.key, u.seq),
                    LogEntry::Part(p) => {
                        format!("part {} of {} stream {}", p.number, p.upload[0], p.stream.stream_id[0])
                    }
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect();
    assert_eq!(
        described,
        [
            vec!["upload 222 a seq 0", "part 1 of 222 stream 227", "part 2 of 222 stream 226"],
            vec!["upload 223 b seq 0"],
        ],
        "one upload per page of one entry, its parts with it"
    );
}
