//! The store's [`RebuildStage`]: the `Rebuild` family, raw.

use async_trait::async_trait;

use super::KvMetadataStore;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvPairs};
use crate::meta::{MetaError, RebuildStage};

#[async_trait]
impl<E: KvEngine> RebuildStage for KvMetadataStore<E> {
    async fn stage_get(&self, keys: Vec<Vec<u8>>) -> Result<Vec<Option<Vec<u8>>>, MetaError> {
        self.run(move |i| keys.iter().map(|k| i.engine.get(Cf::Rebuild, k)).collect()).await
    }

    async fn stage_write(&self, puts: Vec<(Vec<u8>, Vec<u8>)>, deletes: Vec<Vec<u8>>) -> Result<(), MetaError> {
        let mut ops: Vec<KvOp> = puts.into_iter().map(|(k, v)| KvOp::Put(Cf::Rebuild, k, v)).collect();
        ops.extend(deletes.into_iter().map(|k| KvOp::Delete(Cf::Rebuild, k)));
        self.run(move |i| i.engine.write(ops)).await
    }

    async fn stage_scan(&self, start: Vec<u8>, end: Vec<u8>, limit: usize) -> Result<KvPairs, MetaError> {
        self.run(move |i| i.engine.scan(Cf::Rebuild, &start, Some(&end), limit)).await
    }
}
