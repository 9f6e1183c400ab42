//! DeleteObject and DeleteObjects (DESIGN.md §3.4): metadata commit first; provider deletes
//! happen later in GC, so a provider outage never blocks a DELETE.

use futures_util::StreamExt;

use super::access::Permit;
use super::{ObjectService, parse_key};
use crate::error::{Error, Result};
use crate::meta::BucketRecord;

/// Maximum keys per DeleteObjects.
pub(crate) const MAX_DELETE_KEYS: usize = 1000;
/// Deletes of one DeleteObjects in flight at once.
const DELETE_CONCURRENCY: usize = 32;

impl ObjectService {
    /// DeleteObject; succeeds also when the key is absent.
    pub(crate) async fn delete_object(&self, permit: &Permit, key: &str) -> Result<()> {
        self.delete_key(permit.bucket(), key).await
    }

    /// DeleteObjects: one result per key, in request order.
    pub(crate) async fn delete_objects(&self, permit: &Permit, keys: &[String]) -> Result<Vec<Result<(), Error>>> {
        if keys.len() > MAX_DELETE_KEYS {
            return Err(
                crate::error::ErrorKind::InvalidRequest("DeleteObjects accepts at most 1000 keys".into()).into()
            );
        }
        let bucket = permit.bucket();
        // Several at a time, in request order: each commit waits for its metadata log entry,
        // and concurrent commits share one segment write.
        let mut deletes = Vec::with_capacity(keys.len());
        for key in keys {
            deletes.push(self.delete_key(bucket, key));
        }
        Ok(futures_util::stream::iter(deletes).buffered(DELETE_CONCURRENCY).collect().await)
    }

    async fn delete_key(&self, bucket: &BucketRecord, key: &str) -> Result<()> {
        let key = parse_key(key)?;
        self.meta.commit_delete(&bucket.name, bucket.uid, &key).await?;
        Ok(())
    }
}
