//! The versioning part of the conformance suite (DESIGN §12.4): which version is the latest
//! after each kind of write and delete, where noncurrent versions are found, the `null`
//! version's replacement rules, ListObjectVersions' order and paging, and what a deleted
//! version leaves to GC.

use super::conformance::{bucket_name, deleting, entry, key_of, put};
use super::{
    AuditedChange, BucketRecord, CommitOutcome, DeleteTarget, ListEntry, ListQuery, ListStart, MetadataStore,
    VersionRecord,
};
use crate::model::{BucketUid, VersionRef, VersionUid, Versioning, WriteCondition};

fn uid(id: u8) -> VersionUid {
    VersionUid([id; 16])
}

/// A version with its own data and stream, `null` or not.
fn v(id: u8, null: bool) -> VersionRecord {
    VersionRecord { null, ..super::conformance::version(id, &format!("e{id}")) }
}

async fn commit(store: &dyn MetadataStore, key: &str, version: VersionRecord) -> CommitOutcome {
    let c = super::PutCommit {
        bucket_name: bucket_name("vers"),
        ..put(BucketUid([9; 16]), key, version, WriteCondition::None)
    };
    store.commit_put(c).await.unwrap()
}

async fn delete(store: &dyn MetadataStore, key: &str, target: DeleteTarget) -> super::DeleteOutcome {
    store.commit_delete(&bucket_name("vers"), BucketUid([9; 16]), &key_of(key), target).await.unwrap()
}

/// The streams of this bucket's versions (ids 160 and up) queued for deletion.
async fn gone(store: &dyn MetadataStore) -> Vec<u8> {
    deleting(store, "de").await.into_iter().filter(|id| (160..=170).contains(id)).collect()
}

/// A DELETE of one version by id, without bypass.
fn by_id(version: VersionRef) -> DeleteTarget {
    DeleteTarget::Version { version, bypass_governance: false }
}

fn marker(id: u8) -> DeleteTarget {
    DeleteTarget::Key { marker: uid(id), now_ms: 7 }
}

async fn set(store: &dyn MetadataStore, state: Versioning) {
    let change = AuditedChange::BucketVersioning { bucket: bucket_name("vers"), state };
    store.apply_change(change, entry("versioning")).await.unwrap().expect("applied");
}

/// Every version of `prefix`'s keys as `(key, version uid's first byte, latest, marker)`, read
/// a page of `max` at a time (each page resuming after the last version of the one before).
async fn history(store: &dyn MetadataStore, max: usize) -> Vec<(String, u8, bool, bool)> {
    let b = BucketUid([9; 16]);
    let mut out = Vec::new();
    let (mut start, mut after) = (ListStart::Beginning, None);
    loop {
        let q = ListQuery { prefix: Vec::new(), delimiter: None, start: start.clone(), max };
        let page = store.list_versions(b, &q, after).await.unwrap();
        assert!(page.entries.len() <= max);
        for e in &page.entries {
            let ListEntry::Item(k, e) = e else { panic!("no delimiter, no prefix") };
            let key = String::from_utf8(k.clone()).unwrap();
            out.push((key.clone(), e.version.version_uid.0[0], e.latest, e.version.delete_marker));
            (start, after) = (ListStart::AfterKey(k.clone()), Some(e.version.order));
        }
        if !page.truncated {
            return out;
        }
    }
}

/// Versioning on one bucket, step by step; every engine must agree on each listed outcome.
pub(super) async fn versions_and_markers(store: &dyn MetadataStore) {
    let b = BucketUid([9; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("vers"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(rec, None, entry("create vers")).await.unwrap().expect("created");
    assert_eq!(store.versioning(b).await.unwrap(), Versioning::Unversioned);
    assert_eq!(commit(store, "k", v(160, true)).await, CommitOutcome::Committed, "the null version, unversioned");

    set(store, Versioning::Enabled).await;
    assert_eq!(store.versioning(b).await.unwrap(), Versioning::Enabled);
    assert_eq!(commit(store, "k", v(161, true)).await, CommitOutcome::VersioningChanged, "not null any more");
    assert_eq!(commit(store, "k", v(161, false)).await, CommitOutcome::Committed);
    assert_eq!(commit(store, "k", v(162, false)).await, CommitOutcome::Committed);
    assert_eq!(store.current(b, &key_of("k")).await.unwrap().unwrap().version_uid, uid(162));
    for (r, id) in [(VersionRef::Null, 160), (VersionRef::Id(uid(161)), 161), (VersionRef::Id(uid(162)), 162)] {
        let found = store.version(b, &key_of("k"), r).await.unwrap().expect("every version is kept");
        assert_eq!(found.version_uid, uid(id));
    }
    assert!(store.version(b, &key_of("k"), VersionRef::Id(uid(159))).await.unwrap().is_none());
    assert!(gone(store).await.is_empty(), "an overwrite in a versioned bucket deletes nothing");

    // A DELETE without a version id: a marker becomes the latest; nothing is deleted.
    let out = delete(store, "k", marker(163)).await;
    assert_eq!((out.removed, out.marker.map(|m| (m.version_uid, m.null))), (None, Some((uid(163), false))));
    assert!(store.current(b, &key_of("k")).await.unwrap().is_none(), "a marker hides the key");
    assert!(store.latest(b, &key_of("k")).await.unwrap().unwrap().delete_marker);
    assert_eq!(
        history(store, 1000).await,
        [
            ("k".into(), 163, true, true),
            ("k".into(), 162, false, false),
            ("k".into(), 161, false, false),
            ("k".into(), 160, false, false)
        ]
    );
    assert_eq!(history(store, 1).await, history(store, 1000).await, "paging one version at a time");
    let all = ListQuery { prefix: vec![], delimiter: None, start: ListStart::Beginning, max: 10 };
    assert!(store.list(b, &all).await.unwrap().entries.is_empty(), "a plain listing shows no deleted key");

    // Deleting the marker by its id restores the version under it.
    let out = delete(store, "k", by_id(VersionRef::Id(uid(163)))).await;
    assert!(out.removed.is_some_and(|m| m.delete_marker));
    assert_eq!(store.current(b, &key_of("k")).await.unwrap().unwrap().version_uid, uid(162));
    // Deleting the latest version for good: the one before becomes current, its data goes to GC.
    let out = delete(store, "k", by_id(VersionRef::Id(uid(162)))).await;
    assert_eq!(out.removed.map(|r| r.version_uid), Some(uid(162)));
    assert_eq!(store.current(b, &key_of("k")).await.unwrap().unwrap().version_uid, uid(161));
    assert_eq!(gone(store).await, [162], "only the deleted version's stream");
    let out = delete(store, "k", by_id(VersionRef::Id(uid(162)))).await;
    assert!(out.removed.is_none(), "deleting it again finds nothing");
    // A lifecycle expiration acts only while the version it saw is still the latest.
    let expire = |latest, id| DeleteTarget::Expire { latest: uid(latest), marker: uid(id), now_ms: 7 };
    let out = delete(store, "k", expire(162, 168)).await;
    assert_eq!(out, super::DeleteOutcome::default(), "162 is no longer the latest: nothing happens");
    assert_eq!(store.current(b, &key_of("k")).await.unwrap().unwrap().version_uid, uid(161));
    let out = delete(store, "k", expire(161, 167)).await;
    assert_eq!(out.marker.map(|m| m.version_uid), Some(uid(167)), "161 expired: a marker");
    delete(store, "k", by_id(VersionRef::Id(uid(167)))).await;

    // Suspended: a write replaces the null version (wherever it is) and keeps the others.
    set(store, Versioning::Suspended).await;
    assert_eq!(commit(store, "k", v(164, true)).await, CommitOutcome::Committed);
    assert_eq!(gone(store).await, [160, 162], "the older null version went");
    assert_eq!(history(store, 1000).await, [("k".into(), 164, true, false), ("k".into(), 161, false, false)]);
    assert_eq!(commit(store, "k", v(165, true)).await, CommitOutcome::Committed);
    assert_eq!(gone(store).await, [160, 162, 164]);
    // A DELETE makes the null marker, replacing the null version.
    let out = delete(store, "k", marker(166)).await;
    assert_eq!(out.marker.map(|m| (m.version_uid, m.null)), Some((uid(166), true)));
    assert_eq!(gone(store).await, [160, 162, 164, 165]);
    let null = store.version(b, &key_of("k"), VersionRef::Null).await.unwrap().unwrap();
    assert!(null.delete_marker && null.version_uid == uid(166));
    assert_eq!(history(store, 1000).await, [("k".into(), 166, true, true), ("k".into(), 161, false, false)]);

    // The bucket holds versions (a marker counts) until every one is deleted.
    assert!(!store.delete_bucket(&bucket_name("vers")).await.unwrap());
    delete(store, "k", by_id(VersionRef::Null)).await;
    assert_eq!(store.current(b, &key_of("k")).await.unwrap().unwrap().version_uid, uid(161), "restored");
    assert!(!store.delete_bucket(&bucket_name("vers")).await.unwrap());
    delete(store, "k", by_id(VersionRef::Id(uid(161)))).await;
    assert!(history(store, 1000).await.is_empty());
    assert!(store.delete_bucket(&bucket_name("vers")).await.unwrap(), "empty at last");
    assert_eq!(gone(store).await, [160, 161, 162, 164, 165]);
}
