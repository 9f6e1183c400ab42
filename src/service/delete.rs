//! DeleteObject and DeleteObjects (DESIGN.md §3.4): metadata commit first; provider deletes
//! happen later in GC, so a provider outage never blocks a DELETE.

use super::{ObjectService, parse_key};
use crate::error::{Error, Result};

/// Maximum keys per DeleteObjects.
pub(crate) const MAX_DELETE_KEYS: usize = 1000;

impl ObjectService {
    /// DeleteObject; succeeds also when the key is absent.
    pub(crate) async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let bucket = self.existing_bucket(bucket).await?;
        let key = parse_key(key)?;
        self.meta.commit_delete(bucket.uid, &key).await?;
        Ok(())
    }

    /// DeleteObjects: one result per key, in request order.
    pub(crate) async fn delete_objects(&self, bucket: &str, keys: &[String]) -> Result<Vec<Result<(), Error>>> {
        if keys.len() > MAX_DELETE_KEYS {
            return Err(
                crate::error::ErrorKind::InvalidRequest("DeleteObjects accepts at most 1000 keys".into()).into()
            );
        }
        let bucket = self.existing_bucket(bucket).await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let r = match parse_key(key) {
                Ok(key) => self.meta.commit_delete(bucket.uid, &key).await.map(|_| ()).map_err(Error::from),
                Err(e) => Err(e),
            };
            out.push(r);
        }
        Ok(out)
    }
}
