//! A bucket's CORS configuration: PutBucketCors, GetBucketCors, DeleteBucketCors (audited, as
//! every bucket setting), and what the frontend's CORS layer asks for a browser's request,
//! before any authentication (a preflight carries no signature).

use std::sync::Arc;

use super::ObjectService;
use super::access::Permit;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::BucketName;
use crate::model::audit::AuditEntry;
use crate::model::cors::CorsConfig;

impl ObjectService {
    /// PutBucketCors (`Some`) and DeleteBucketCors (`None`), audited.
    pub(crate) async fn set_cors(
        &self,
        permit: &Permit,
        principal: &Principal,
        config: Option<CorsConfig>,
    ) -> Result<()> {
        if let Some(c) = &config {
            c.validate().map_err(|e| ErrorKind::InvalidRequest(e.to_string()))?;
        }
        let bucket = permit.bucket();
        let (action, detail) = match &config {
            Some(c) => ("bucket.cors.put", serde_json::json!({ "bucket": bucket.name, "rules": c.rules.len() })),
            None => ("bucket.cors.delete", serde_json::json!({ "bucket": bucket.name })),
        };
        let change = AuditedChange::BucketCors { bucket: bucket.name.clone(), config };
        let audit = AuditEntry::new(&principal.actor(), action, &detail);
        let applied = self.meta.apply_change(change, audit).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// GetBucketCors: NoSuchCORSConfiguration (404) for a bucket without one, as S3.
    pub(crate) async fn cors_config(&self, permit: &Permit) -> Result<CorsConfig> {
        self.meta.bucket_cors(permit.bucket().uid).await?.ok_or_else(|| ErrorKind::NoSuchCorsConfiguration.into())
    }

    /// The CORS rules of the bucket named `bucket` through the access cache (a change is seen
    /// within its TTL), for a browser's request; none for a bucket that does not exist, so a
    /// preflight tells nothing of which buckets do.
    pub(crate) async fn cors_for_browser(&self, bucket: &str) -> Result<Option<Arc<CorsConfig>>> {
        let Ok(name) = BucketName::parse(bucket) else { return Ok(None) };
        let Some(rec) = self.meta.bucket(&name).await? else { return Ok(None) };
        Ok(self.access.bucket_access(&rec).await?.cors.clone())
    }
}
