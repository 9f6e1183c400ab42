//! Unit tests of `meta::conformance` (a file of their own to keep the module under 600 lines).

use super::*;
use crate::meta::memory::MemoryEngine;
use crate::meta::{KvMetadataStore, ObjectMeta, ReplicaMeta};

/// Promise: a store written before stream owners were kept gets them at open, for current
/// versions and for the parts of open uploads, so repair can check every stream's policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_owners_are_recorded_when_an_older_store_opens() {
    use crate::meta::codec::encode;
    use crate::meta::kv::{Cf, KvEngine, KvOp};
    let engine = MemoryEngine::default();
    let b = BucketUid([3; 16]);
    let mut key = b.as_bytes().to_vec();
    key.extend_from_slice(b"k");
    let up = upload(UploadId([6; 16]), b, "u");
    let part =
        PartRecord { stream: stream(7), etag_digest: [0; 16], checksum: None, last_modified_ms: 0, fast_etag: false };
    let mut part_key = up.upload_id.as_bytes().to_vec();
    part_key.extend_from_slice(&1u32.to_be_bytes());
    engine
        .write(vec![
            KvOp::Put(Cf::Objects, key, encode(&version(5, "e")).unwrap()),
            KvOp::Put(Cf::UploadIds, up.upload_id.as_bytes().to_vec(), encode(&up).unwrap()),
            KvOp::Put(Cf::Parts, part_key, encode(&part).unwrap()),
        ])
        .unwrap();
    let store = KvMetadataStore::new(engine).await.unwrap();
    assert_eq!(store.stream_owner(StreamId([5; 16])).await.unwrap(), Some(b));
    assert_eq!(store.stream_owner(StreamId([7; 16])).await.unwrap(), Some(b));
}

/// Promise: objects stored before versioning read back after the upgrade as their key's
/// `null` version, ordered by their sequence number (the record layout gained three fields).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_an_older_store_become_null_versions() {
    use crate::meta::codec::encode;
    use crate::meta::kv::{Cf, KvEngine, KvOp};
    let engine = MemoryEngine::default();
    let b = BucketUid([3; 16]);
    let mut key = b.as_bytes().to_vec();
    key.extend_from_slice(b"k");
    let old = VersionRecord { seq: 17, order: 0, null: false, ..version(5, "e") };
    let new_layout = encode(&old).unwrap();
    // The old layout: the same bytes without order (varint 0), null, delete_marker, lock
    // (no retention, no legal hold: two bytes) and tags (none: one byte).
    let old_layout = new_layout[..new_layout.len() - 6].to_vec();
    engine.write(vec![KvOp::Put(Cf::Objects, key, old_layout)]).unwrap();
    let store = KvMetadataStore::new(engine).await.unwrap();
    let read = store.current(b, &ObjectKey::parse("k").unwrap()).await.unwrap().unwrap();
    assert_eq!(read, VersionRecord { order: 17, null: true, ..old });
}

/// Promise: multipart uploads opened before CreateMultipartUpload took lock headers read
/// back after the upgrade, by id and in listings, with no lock of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_of_an_older_store_read_back_unlocked() {
    use crate::meta::codec::encode;
    use crate::meta::kv::{Cf, KvEngine, KvOp};
    use crate::meta::{ListEntry, ListQuery, ListStart, UploadMeta};
    let engine = MemoryEngine::default();
    let b = BucketUid([3; 16]);
    let up = upload(UploadId([6; 16]), b, "u");
    let new_layout = encode(&up).unwrap();
    // The old layout: the same bytes without the lock (no retention, no legal hold: two
    // bytes) and the tags (none: one byte).
    let old_layout = new_layout[..new_layout.len() - 3].to_vec();
    let index = crate::meta::store::upload_index_key(b, b"u", up.upload_id);
    engine
        .write(vec![
            KvOp::Put(Cf::UploadIds, up.upload_id.as_bytes().to_vec(), old_layout.clone()),
            KvOp::Put(Cf::Uploads, index, old_layout),
        ])
        .unwrap();
    let store = KvMetadataStore::new(engine).await.unwrap();
    assert_eq!(store.upload(up.upload_id).await.unwrap(), Some(up.clone()));
    let q = ListQuery { prefix: Vec::new(), delimiter: None, start: ListStart::Beginning, max: 10 };
    let listed = store.list_uploads(b, &q, None).await.unwrap().entries;
    let [ListEntry::Item(key, listed)] = listed.as_slice() else { panic!("one upload: {listed:?}") };
    assert_eq!((key.as_slice(), listed), (b"u".as_slice(), &up));
}

/// Promise: versions (current and noncurrent) and uploads stored before object tagging,
/// by a store the earlier migrations already ran on, read back after the upgrade exactly
/// as they were, without tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_before_tagging_read_back_untagged() {
    use crate::meta::UploadMeta;
    use crate::meta::codec::encode;
    use crate::meta::kv::{Cf, KvEngine, KvOp};
    let engine = MemoryEngine::default();
    let b = BucketUid([3; 16]);
    let current = VersionRecord { seq: 20, order: 20, null: false, ..version(5, "e") };
    let older = VersionRecord { seq: 9, order: 9, null: false, ..version(6, "f") };
    let up = upload(UploadId([6; 16]), b, "u");
    // Each layout without its last byte: the tags (none: one byte).
    let untagged = |bytes: Vec<u8>| bytes[..bytes.len() - 1].to_vec();
    let mut key = b.as_bytes().to_vec();
    key.extend_from_slice(b"k");
    let noncurrent = crate::meta::store::noncurrent_key(b, b"k", older.order);
    engine
        .write(vec![
            KvOp::Put(Cf::Meta, b"migrated/versions".to_vec(), encode(&true).unwrap()),
            KvOp::Put(Cf::Meta, b"migrated/upload_lock".to_vec(), encode(&true).unwrap()),
            KvOp::Put(Cf::Objects, key, untagged(encode(&current).unwrap())),
            KvOp::Put(Cf::Versions, noncurrent, untagged(encode(&older).unwrap())),
            KvOp::Put(Cf::UploadIds, up.upload_id.as_bytes().to_vec(), untagged(encode(&up).unwrap())),
        ])
        .unwrap();
    let store = KvMetadataStore::new(engine).await.unwrap();
    let k = ObjectKey::parse("k").unwrap();
    assert_eq!(store.current(b, &k).await.unwrap(), Some(current.clone()));
    let q = crate::meta::ListQuery {
        prefix: Vec::new(),
        delimiter: None,
        start: crate::meta::ListStart::Beginning,
        max: 10,
    };
    let listed: Vec<VersionRecord> = store
        .list_versions(b, &q, None)
        .await
        .unwrap()
        .entries
        .into_iter()
        .filter_map(|e| match e {
            crate::meta::ListEntry::Item(_, v) => Some(v.version),
            crate::meta::ListEntry::Prefix(_) => None,
        })
        .collect();
    assert_eq!(listed, [current.clone(), older], "the current and the noncurrent version");
    assert_eq!(store.upload(up.upload_id).await.unwrap(), Some(up));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_engine_conforms() {
    suite(Arc::new(KvMetadataStore::new(MemoryEngine::default()).await.unwrap())).await;
}

async fn postgres_store(server: &super::pg_server::PgServer, db: &str, row_locks: bool) -> Arc<dyn MetadataStore> {
    let settings = crate::meta::postgres::PgSettings {
        url: server.url(db),
        password: Some(zeroize::Zeroizing::new(super::pg_server::PG_PASSWORD.into())),
        ca_file: None,
        pool_size: 8,
        allow_plaintext: false,
    };
    let engine = crate::meta::postgres::PgEngine::connect(&settings).await.unwrap();
    let engine = if row_locks { engine.with_row_locks() } else { engine };
    Arc::new(KvMetadataStore::new(engine).await.unwrap())
}

/// Both ways of locking: advisory locks (genuine PostgreSQL) and row locks (servers that
/// only speak its protocol).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_engine_conforms_and_holds_between_gateways() {
    let server = super::pg_server::PgServer::start();
    for row_locks in [false, true] {
        let db = format!("conformance_{row_locks}");
        server.create_database(&db);
        suite(postgres_store(&server, &db, row_locks).await).await;
        // Two gateways: two pools on one database (the second also re-runs the migrations).
        let db = format!("shared_{row_locks}");
        server.create_database(&db);
        let a = postgres_store(&server, &db, row_locks).await;
        let b = postgres_store(&server, &db, row_locks).await;
        super::super::conformance_shared::shared_suite(a, b).await;
    }
}

#[cfg(feature = "rocksdb")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_engine_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::meta::rocks::RocksEngine::open(dir.path()).unwrap();
    suite(Arc::new(KvMetadataStore::new(engine).await.unwrap())).await;
}
