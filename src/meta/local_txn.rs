//! Transactions for engines that one process owns (memory, RocksDB): the locks are mutexes in
//! this process, reads go straight to the engine and the writes are one atomic batch.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::MetaError;
use super::codec::{decode, encode};
use super::kv::{Cf, KvEngine, KvOp, KvPairs, KvTxn, SEQ_KEY, TxnLock};

/// Key locks are striped: two keys may share a stripe, which only serializes them.
const KEY_STRIPES: u32 = 1024;

/// The lock table of one engine.
pub struct LocalLocks {
    lifecycle: RwLock<()>,
    keys: Vec<Mutex<()>>,
    audit: Mutex<()>,
    claims: Mutex<()>,
    /// The last sequence number handed out, loaded from the engine on first use.
    seq: Mutex<Option<u64>>,
}

impl Default for LocalLocks {
    fn default() -> Self {
        Self {
            lifecycle: RwLock::new(()),
            keys: (0..KEY_STRIPES).map(|_| Mutex::new(())).collect(),
            audit: Mutex::new(()),
            claims: Mutex::new(()),
            seq: Mutex::new(None),
        }
    }
}

fn poisoned() -> MetaError {
    MetaError::engine("metadata lock poisoned")
}

/// A held lock (only ever dropped).
#[allow(dead_code)]
enum Guard<'a> {
    Shared(RwLockReadGuard<'a, ()>),
    Exclusive(RwLockWriteGuard<'a, ()>),
    Held(MutexGuard<'a, ()>),
}

/// A transaction of a process-owned engine.
pub struct LocalTxn<'a, E: KvEngine> {
    engine: &'a E,
    locks: &'a LocalLocks,
    seq: Option<u64>,
    // Declared last: released after the commit's write.
    _guards: Vec<Guard<'a>>,
}

impl<'a, E: KvEngine> LocalTxn<'a, E> {
    /// Takes `wanted` in [`TxnLock`] order (stripes in index order, each once).
    pub fn begin(engine: &'a E, locks: &'a LocalLocks, wanted: &[TxnLock]) -> Result<Self, MetaError> {
        let mut order: Vec<TxnLock> = wanted
            .iter()
            .map(|l| match l {
                TxnLock::Key(h) => TxnLock::Key(*h % KEY_STRIPES),
                other => *other,
            })
            .collect();
        order.sort();
        order.dedup();
        let mut guards = Vec::with_capacity(order.len());
        for l in order {
            guards.push(match l {
                TxnLock::Lifecycle { exclusive: false } => {
                    Guard::Shared(locks.lifecycle.read().map_err(|_| poisoned())?)
                }
                TxnLock::Lifecycle { exclusive: true } => {
                    Guard::Exclusive(locks.lifecycle.write().map_err(|_| poisoned())?)
                }
                TxnLock::Key(stripe) => Guard::Held(locks.keys[stripe as usize].lock().map_err(|_| poisoned())?),
                TxnLock::Audit => Guard::Held(locks.audit.lock().map_err(|_| poisoned())?),
                TxnLock::Claims => Guard::Held(locks.claims.lock().map_err(|_| poisoned())?),
            });
        }
        Ok(Self { engine, locks, seq: None, _guards: guards })
    }
}

impl<E: KvEngine> LocalTxn<'_, E> {
    /// Hands out `next(last)` as the sequence number (written with the commit), `last` being
    /// the last one handed out (loaded from the engine the first time); under the lock, so
    /// concurrent transactions never get the same one.
    fn advance_seq(&mut self, next: impl FnOnce(u64) -> u64) -> Result<u64, MetaError> {
        let mut last = self.locks.seq.lock().map_err(|_| poisoned())?;
        let current = match *last {
            Some(n) => n,
            None => self.engine.get(Cf::Meta, SEQ_KEY)?.map(|v| decode::<u64>(&v)).transpose()?.unwrap_or(0),
        };
        let n = next(current);
        *last = Some(n);
        self.seq = Some(n);
        Ok(n)
    }
}

impl<E: KvEngine> KvTxn for LocalTxn<'_, E> {
    fn get(&mut self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        self.engine.get(cf, key)
    }

    fn scan(&mut self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        self.engine.scan(cf, start, end, limit)
    }

    fn next_seq(&mut self) -> Result<u64, MetaError> {
        self.advance_seq(|last| last + 1)
    }

    fn raise_seq(&mut self, floor: u64) -> Result<(), MetaError> {
        self.advance_seq(|last| last.max(floor)).map(|_| ())
    }

    fn commit(self, mut ops: Vec<KvOp>) -> Result<(), MetaError> {
        if let Some(seq) = self.seq {
            ops.push(KvOp::Put(Cf::Meta, SEQ_KEY.to_vec(), encode(&seq)?));
        }
        self.engine.write(ops)
    }
}
