//! The store's [`ClusterMeta`]: what several gateways on one store share: heartbeats, job records and leases.

use super::{BOOT_PREFIX, KvMetadataStore, boot_key};
use crate::meta::ClusterMeta;
use crate::meta::JobRecord;
use crate::meta::MetaError;
use crate::meta::codec::encode;
use crate::meta::kv::{Cf, KvEngine, KvOp, KvTxn, TxnLock};
use crate::model::BootId;
use async_trait::async_trait;

#[async_trait]
impl<E: KvEngine> ClusterMeta for KvMetadataStore<E> {
    async fn job(&self, name: &str) -> Result<Option<JobRecord>, MetaError> {
        let key = format!("job/{name}").into_bytes();
        self.run(move |i| i.get(Cf::Meta, &key)).await
    }

    async fn put_job(&self, job: JobRecord) -> Result<(), MetaError> {
        self.run(move |i| {
            i.engine.write(vec![KvOp::Put(Cf::Meta, format!("job/{}", job.name).into_bytes(), encode(&job)?)])
        })
        .await
    }

    async fn take_lease(&self, name: &str, holder: BootId, now_ms: i64, ttl_ms: i64) -> Result<bool, MetaError> {
        let key = format!("lease/{name}").into_bytes();
        self.run(move |i| {
            let mut t = i.engine.begin(&[TxnLock::Claims])?;
            // With a store one process owns, any other holder is an earlier run of it: gone.
            if let Some((other, until)) = t.get_decoded::<(BootId, i64)>(Cf::Meta, &key)?
                && E::SHARED
                && other != holder
                && until > now_ms
            {
                return Ok(false);
            }
            t.commit(vec![KvOp::Put(Cf::Meta, key, encode(&(holder, now_ms.saturating_add(ttl_ms)))?)])?;
            Ok(true)
        })
        .await
    }

    fn is_shared(&self) -> bool {
        E::SHARED
    }

    async fn heartbeat(&self, boot: BootId, now_ms: i64) -> Result<(), MetaError> {
        if !E::SHARED {
            return Ok(());
        }
        self.run(move |i| {
            // Forget gateways silent for a day, so restarts do not pile up records.
            let mut ops = vec![KvOp::Put(Cf::Meta, boot_key(boot), encode(&now_ms)?)];
            for (k, last_ms) in i.heartbeats()? {
                if last_ms < now_ms - 24 * 3600 * 1000 {
                    ops.push(KvOp::Delete(Cf::Meta, k));
                }
            }
            i.engine.write(ops)
        })
        .await
    }

    async fn live_boots(&self, since_ms: i64) -> Result<Vec<BootId>, MetaError> {
        if !E::SHARED {
            return Ok(Vec::new());
        }
        self.run(move |i| {
            let live = i.heartbeats()?.into_iter().filter(|(_, last_ms)| *last_ms >= since_ms);
            Ok(live
                .filter_map(|(k, _)| std::str::from_utf8(&k[BOOT_PREFIX.len()..]).ok().and_then(BootId::from_hex))
                .collect())
        })
        .await
    }
}
