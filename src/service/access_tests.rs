//! The key directory's caches, over the in-memory engine with its access-key reads counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Directory, issue_key};
use crate::keys::local::LocalKeyFile;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvPairs, TxnLock};
use crate::meta::memory::MemoryEngine;
use crate::meta::{AuditedChange, KvMetadataStore, MetaError, MetadataStore};
use crate::model::access::{UserCaps, UserName, UserRecord};
use crate::model::audit::AuditEntry;

/// The memory engine, counting point reads of access-key records.
struct Counting {
    inner: MemoryEngine,
    key_reads: Arc<AtomicUsize>,
}

impl KvEngine for Counting {
    type Txn<'a> = <MemoryEngine as KvEngine>::Txn<'a>;

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        if cf == Cf::Access && key.starts_with(b"accesskey/") {
            self.key_reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(cf, key)
    }

    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        self.inner.write(ops)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        self.inner.scan(cf, start, end, limit)
    }

    fn begin(&self, locks: &[TxnLock]) -> Result<Self::Txn<'_>, MetaError> {
        self.inner.begin(locks)
    }
}

/// Promise (issue 22): a client signing again and again with an unknown key id costs one
/// store read per cache TTL, not one per request; a flood of made-up ids never evicts a
/// known key (it is still answered without a store read); a key made through this gateway's
/// admin API (which forgets the caches) works at once, even after its id was asked for.
#[tokio::test]
async fn unknown_key_ids_are_cached_apart_from_known_keys() {
    let key_reads = Arc::new(AtomicUsize::new(0));
    let engine = Counting { inner: MemoryEngine::default(), key_reads: Arc::clone(&key_reads) };
    let meta: Arc<dyn MetadataStore> = Arc::new(KvMetadataStore::new(engine).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(LocalKeyFile::open_or_create(&dir.path().join("master.key")).unwrap());
    let directory = Directory::new(&[], Arc::clone(&meta), Arc::<LocalKeyFile>::clone(&keys));

    for _ in 0..5 {
        assert!(directory.secret("SVNOSUCHKEY").await.unwrap().is_none());
    }
    assert_eq!(key_reads.load(Ordering::SeqCst), 1, "one store read for five requests");

    let alice = UserName::parse("alice").unwrap();
    let user = UserRecord { name: alice.clone(), display_name: None, caps: UserCaps::default(), created_ms: 0 };
    let made = meta.apply_change(AuditedChange::CreateUser(user), AuditEntry::new("t", "user.create", &().into()));
    made.await.unwrap();
    let (record, _) = issue_key(keys.as_ref(), alice, None, None).await.unwrap();
    let id = record.id.clone();
    assert!(directory.secret(&id).await.unwrap().is_none(), "asked for before it exists");
    let made = meta.apply_change(AuditedChange::PutAccessKey(record), AuditEntry::new("t", "key.create", &().into()));
    made.await.unwrap();
    directory.forget();
    assert!(directory.secret(&id).await.unwrap().is_some(), "works at once after the admin API's forget");

    let before = key_reads.load(Ordering::SeqCst);
    for i in 0..super::CACHE_MAX + 10 {
        assert!(directory.secret(&format!("SVMADEUP{i}")).await.unwrap().is_none());
    }
    let flood = key_reads.load(Ordering::SeqCst);
    assert!(directory.secret(&id).await.unwrap().is_some());
    assert_eq!(key_reads.load(Ordering::SeqCst), flood, "the known key still cached after the flood");
    assert_eq!(flood - before, super::CACHE_MAX + 10, "one read per made-up id");
}
