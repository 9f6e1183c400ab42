//! A bucket's ETag mode through the admin API (`souverain admin bucket etag`): MD5, as S3, or
//! BLAKE3 for workloads that never compare ETags with an MD5 (docs/compatibility.md).

use super::AdminOps;
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::EtagMode;

impl AdminOps {
    /// Sets how the bucket's new objects get their ETag, audited; objects written before keep
    /// theirs. In force on this gateway at once, on the others within the access cache's TTL.
    pub async fn set_etag_mode(&self, actor: &str, bucket: &str, mode: EtagMode) -> Result<()> {
        let rec = self.existing_bucket(bucket).await?;
        let before = self.meta.etag_mode(rec.uid).await?;
        let detail = serde_json::json!({ "bucket": bucket, "before": before, "after": mode });
        let change = AuditedChange::BucketEtagMode { bucket: rec.name, mode };
        self.apply_access(actor, change, "bucket.etag", detail, ErrorKind::NoSuchBucket).await
    }

    /// How the bucket's new objects get their ETag.
    pub async fn etag_mode(&self, bucket: &str) -> Result<EtagMode> {
        let rec = self.existing_bucket(bucket).await?;
        Ok(self.meta.etag_mode(rec.uid).await?)
    }
}
