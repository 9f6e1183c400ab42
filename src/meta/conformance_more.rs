//! Conformance, continued: commits follow the KEK a bucket was given (so crypto-shredding that
//! KEK leaves none of the bucket's objects readable); evacuation moves parts of open uploads.

use super::conformance::{bucket_name, dek, key_of, put, stream, upload, version};
use super::{
    AuditedChange, BucketRecord, CommitOutcome, DekRewrap, DeletionReason, MetadataStore, PartRecord, PutCommit,
    ReplicaMove,
};
use crate::model::WrappedKey;
use crate::model::WriteCondition;
use crate::model::audit::AuditEntry;
use crate::model::{BucketUid, ProviderId, UploadId, VersionUid};

fn under(kek: &str, version: u32) -> WrappedKey {
    WrappedKey { kek_id: kek.into(), kek_version: version, bytes: vec![9, 9] }
}

/// A data key wrapped under another KEK than the bucket's own is refused at commit (PUT and
/// upload creation) and nothing is written; Complete commits the upload's data key as stored
/// then, not the one it read before (a rotation may have rewrapped it meanwhile).
pub(super) async fn commits_follow_the_bucket_kek(store: &dyn MetadataStore) {
    let b = BucketUid([201; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let bucket = BucketRecord { uid: b, name: bucket_name("kekb"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(bucket, entry("create")).await.unwrap().expect("created");
    let before = PutCommit { bucket_name: bucket_name("kekb"), ..put(b, "k", version(201, "e"), WriteCondition::None) };
    assert_eq!(store.commit_put(before.clone()).await.unwrap(), CommitOutcome::Committed, "no own KEK yet");
    let change = AuditedChange::BucketKek { bucket: b, kek: "own".into() };
    store.apply_change(change, entry("kek")).await.unwrap().expect("applied");

    let stale = PutCommit { bucket_name: bucket_name("kekb"), ..put(b, "k", version(202, "f"), WriteCondition::None) };
    assert_eq!(store.commit_put(stale.clone()).await.unwrap(), CommitOutcome::KekChanged("own".into()));
    let current = store.current(b, &key_of("k")).await.unwrap().expect("the earlier version");
    assert_eq!(current.version_uid, VersionUid([201; 16]), "a refused commit writes nothing");
    assert!(store.dek(VersionUid([202; 16])).await.unwrap().is_none());
    let rewrapped = PutCommit { dek: under("own", 1), ..stale };
    assert_eq!(store.commit_put(rewrapped).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.dek(VersionUid([202; 16])).await.unwrap(), Some(under("own", 1)));

    let id = UploadId([201; 16]);
    let mut up = upload(id, b, "mp");
    assert_eq!(up.dek, dek(), "the helper's key is not the bucket's");
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), Some("own".into()));
    assert!(store.upload(id).await.unwrap().is_none(), "a refused upload is not registered");
    up.dek = under("own", 1);
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), None);
    // The rotation job rewraps the open upload's key after Complete read it.
    let rewrap = DekRewrap::Upload { upload: id, expected: under("own", 1), new: under("own", 2) };
    assert!(store.rewrap_dek(rewrap).await.unwrap());
    let mut v = version(203, "m-1");
    v.version_uid = up.version_uid;
    let complete = PutCommit {
        bucket_name: bucket_name("kekb"),
        dek: under("own", 1),
        completes_upload: Some(id),
        intents: vec![],
        ..put(b, "mp", v, WriteCondition::None)
    };
    assert_eq!(store.commit_put(complete).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.dek(up.version_uid).await.unwrap(), Some(under("own", 2)), "the upload's key as stored");
}

/// A replica of a part of an open upload moves like a version's (part record, stream manifest,
/// deletion task of the old copy, audit record in one commit); refused for a part that is not
/// (or no longer) the stream named, and once the upload ended.
pub(super) async fn parts_of_open_uploads_move(store: &dyn MetadataStore) {
    let b = BucketUid([211; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let bucket = BucketRecord { uid: b, name: bucket_name("partsb"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(bucket, entry("create")).await.unwrap().expect("created");
    let id = UploadId([211; 16]);
    let up = upload(id, b, "mp");
    assert_eq!(store.create_upload(up.clone()).await.unwrap(), None);
    let p = |name: &str| ProviderId::parse(name).unwrap();
    let mut part_stream = stream(211);
    part_stream.replicas = vec![p("de"), p("fr")];
    let part = PartRecord { stream: part_stream.clone(), md5: [0; 16], checksum: None, last_modified_ms: 0 };
    assert_eq!(store.commit_part(id, 1, part, vec![]).await.unwrap(), CommitOutcome::Committed);
    let sid = part_stream.stream_id;
    let mv = |number: u32| ReplicaMove {
        bucket: b,
        key: "mp".into(),
        version: up.version_uid,
        stream: sid,
        from: p("de"),
        to: p("nl"),
        part: Some((id, number)),
    };
    assert!(!store.move_replica(mv(2), entry("m0")).await.unwrap(), "no such part");
    assert!(store.move_replica(mv(1), entry("m1")).await.unwrap());
    let parts = store.parts(id, 0, 10).await.unwrap();
    assert_eq!(parts[0].1.stream.replicas, [p("nl"), p("fr")]);
    assert_eq!(store.stream_manifest(sid).await.unwrap().map(|m| m.replicas), Some(vec![p("nl"), p("fr")]));
    let deleting: Vec<_> =
        store.stream_deletions(sid).await.unwrap().into_iter().map(|t| (t.provider, t.reason)).collect();
    assert_eq!(deleting, [(p("de"), DeletionReason::Evacuated)]);
    assert!(!store.move_replica(mv(1), entry("m2")).await.unwrap(), "de no longer holds it");
    assert!(store.abort_upload(id).await.unwrap());
    let again = ReplicaMove { from: p("fr"), to: p("at"), ..mv(1) };
    assert!(!store.move_replica(again, entry("m3")).await.unwrap(), "the upload ended");
}
