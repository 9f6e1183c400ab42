//! An in-memory engine for unit tests and fast iteration. Not durable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;

use super::MetaError;
use super::kv::{Cf, KvEngine, KvOp, KvPairs, TxnLock};
use super::local_txn::{LocalLocks, LocalTxn};

/// BTreeMaps behind one lock, so a batch is atomic.
#[derive(Default)]
pub struct MemoryEngine {
    maps: RwLock<Table>,
    locks: LocalLocks,
}

type Table = BTreeMap<(Cf, Vec<u8>), Vec<u8>>;

fn poisoned() -> MetaError {
    MetaError::engine("memory engine lock poisoned")
}

impl KvEngine for MemoryEngine {
    type Txn<'a> = LocalTxn<'a, Self>;

    fn begin(&self, locks: &[TxnLock]) -> Result<Self::Txn<'_>, MetaError> {
        LocalTxn::begin(self, &self.locks, locks)
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        Ok(self.maps.read().map_err(|_| poisoned())?.get(&(cf, key.to_vec())).cloned())
    }

    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        let mut maps = self.maps.write().map_err(|_| poisoned())?;
        for op in ops {
            match op {
                KvOp::Put(cf, k, v) => maps.insert((cf, k), v),
                KvOp::Delete(cf, k) => maps.remove(&(cf, k)),
            };
        }
        Ok(())
    }

    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        let maps = self.maps.read().map_err(|_| poisoned())?;
        let lo = Bound::Included((cf, start.to_vec()));
        let hi = match end {
            Some(e) => Bound::Excluded((cf, e.to_vec())),
            None => match Cf::ALL.iter().find(|c| **c > cf) {
                Some(next) => Bound::Excluded((*next, Vec::new())),
                None => Bound::Unbounded,
            },
        };
        Ok(maps.range((lo, hi)).take(limit).map(|((_, k), v)| (k.clone(), v.clone())).collect())
    }
}
