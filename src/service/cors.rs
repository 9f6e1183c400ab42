//! A bucket's CORS configuration: PutBucketCors, GetBucketCors, DeleteBucketCors (audited, as
//! every bucket setting). What a browser's request is answered with is read through the
//! access cache (`ObjectService::cors_for_browser`).

use super::ObjectService;
use super::access::Permit;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
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
}
