//! The RocksDB engine: the only importer of `rocksdb`. One process owns the store (RocksDB's
//! LOCK file); every batch is written with sync, so a commit survives power loss.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Options, ReadOptions, WriteBatch,
    WriteOptions,
};

use super::MetaError;
use super::kv::{Cf, KvEngine, KvOp, KvPairs, TxnLock};
use super::local_txn::{LocalLocks, LocalTxn};

/// A RocksDB database with one column family per [`Cf`].
pub struct RocksEngine {
    db: DB,
    locks: LocalLocks,
}

/// Memtables of every column family together are flushed beyond this. RocksDB's default is
/// 64 MiB per family, twice, and there are 19 families: the gateway's memory would grow with
/// what it writes, up to gigabytes.
const WRITE_BUFFERS: usize = 64 << 20;
/// One block cache shared by every column family, instead of one per family.
const BLOCK_CACHE: usize = 32 << 20;

fn engine_err(e: rocksdb::Error) -> MetaError {
    MetaError::engine_from("rocksdb", e)
}

impl RocksEngine {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, MetaError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_bottommost_compression_type(DBCompressionType::Zstd);
        opts.set_db_write_buffer_size(WRITE_BUFFERS);
        let cache = Cache::new_lru_cache(BLOCK_CACHE);
        let cfs = Cf::ALL.iter().map(|cf| {
            let mut o = Options::default();
            o.set_compression_type(DBCompressionType::Lz4);
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            o.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
            // One process at a time: say so plainly.
            if e.to_string().contains("lock file") {
                MetaError::engine_from("rocksdb: the directory is locked, most likely by a gateway running on it", e)
            } else {
                engine_err(e)
            }
        })?;
        Ok(Self { db, locks: LocalLocks::default() })
    }

    fn cf(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, MetaError> {
        self.db.cf_handle(cf.name()).ok_or_else(|| MetaError::engine(format!("column family {} missing", cf.name())))
    }
}

impl KvEngine for RocksEngine {
    type Txn<'a> = LocalTxn<'a, Self>;

    fn begin(&self, locks: &[TxnLock]) -> Result<Self::Txn<'_>, MetaError> {
        LocalTxn::begin(self, &self.locks, locks)
    }

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(engine_err)
    }

    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                KvOp::Put(cf, k, v) => batch.put_cf(self.cf(cf)?, k, v),
                KvOp::Delete(cf, k) => batch.delete_cf(self.cf(cf)?, k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(engine_err)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        let mut ro = ReadOptions::default();
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end.to_vec());
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cf(cf)?, ro);
        it.seek(start);
        let mut out = Vec::new();
        while out.len() < limit {
            match (it.key(), it.value()) {
                (Some(k), Some(v)) => out.push((k.to_vec(), v.to_vec())),
                _ => break,
            }
            it.next();
        }
        it.status().map_err(engine_err)?;
        Ok(out)
    }
}
