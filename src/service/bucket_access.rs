//! Bucket policies and public access blocks (docs/access-control.md): stored as the client sent
//! them (a policy is parsed first, and refused whole if anything in it is outside the subset),
//! audited with the caller as actor, read back through the access cache.

use super::ObjectService;
use super::access::Permit;
use crate::access::policy::BucketPolicy;
use crate::access::{Denial, Principal};
use crate::error::{ErrorKind, Result};
use crate::meta::AuditedChange;
use crate::model::access::PublicAccessBlock;
use crate::model::audit::AuditEntry;

impl ObjectService {
    /// Whether public policies may be stored on the bucket (neither the server nor the
    /// bucket's block forbids them).
    fn blocks_public_policy(&self, block: Option<PublicAccessBlock>) -> bool {
        self.config.block_public_access || block.is_some_and(|b| b.block_public_policy)
    }

    async fn apply_bucket_access(&self, principal: &Principal, change: AuditedChange, action: &str) -> Result<()> {
        let detail = match &change {
            AuditedChange::BucketAccessPolicy { bucket, document } => {
                serde_json::json!({ "bucket": bucket, "policy": document })
            }
            AuditedChange::PublicBlock { bucket, block } => serde_json::json!({ "bucket": bucket, "block": block }),
            _ => serde_json::Value::Null,
        };
        let applied = self.meta.apply_change(change, AuditEntry::new(&principal.actor(), action, &detail)).await?;
        self.access.forget();
        applied.map(|_| ()).ok_or_else(|| ErrorKind::NoSuchBucket.into())
    }

    /// PutBucketPolicy: a public policy is refused (403) while public access is blocked.
    pub(crate) async fn put_bucket_policy(&self, permit: &Permit, principal: &Principal, text: &str) -> Result<()> {
        let rec = permit.bucket();
        let policy = BucketPolicy::parse(text, rec.name.as_str()).map_err(|e| ErrorKind::MalformedPolicy(e.0))?;
        let access = self.access.bucket_access(rec).await?;
        if policy.is_public() && self.blocks_public_policy(access.block) {
            return Err(ErrorKind::AccessDenied(Denial::PublicPolicyBlocked).into());
        }
        let change = AuditedChange::BucketAccessPolicy { bucket: rec.name.clone(), document: Some(text.to_owned()) };
        self.apply_bucket_access(principal, change, "bucket.policy.put").await
    }

    /// GetBucketPolicy: the document as stored.
    pub(crate) async fn bucket_policy(&self, permit: &Permit) -> Result<String> {
        let access = self.access.bucket_access(permit.bucket()).await?;
        access.document.clone().ok_or_else(|| ErrorKind::NoSuchBucketPolicy.into())
    }

    /// DeleteBucketPolicy (none stored is fine, as on S3).
    pub(crate) async fn delete_bucket_policy(&self, permit: &Permit, principal: &Principal) -> Result<()> {
        let change = AuditedChange::BucketAccessPolicy { bucket: permit.bucket().name.clone(), document: None };
        self.apply_bucket_access(principal, change, "bucket.policy.delete").await
    }

    /// GetBucketPolicyStatus: whether the stored policy is public.
    pub(crate) async fn bucket_policy_public(&self, permit: &Permit) -> Result<bool> {
        let access = self.access.bucket_access(permit.bucket()).await?;
        access.policy.as_ref().map(BucketPolicy::is_public).ok_or_else(|| ErrorKind::NoSuchBucketPolicy.into())
    }

    /// PutPublicAccessBlock.
    pub(crate) async fn put_public_access_block(
        &self,
        permit: &Permit,
        principal: &Principal,
        block: PublicAccessBlock,
    ) -> Result<()> {
        let change = AuditedChange::PublicBlock { bucket: permit.bucket().name.clone(), block: Some(block) };
        self.apply_bucket_access(principal, change, "bucket.public_access_block.put").await
    }

    /// GetPublicAccessBlock.
    pub(crate) async fn public_access_block(&self, permit: &Permit) -> Result<PublicAccessBlock> {
        let access = self.access.bucket_access(permit.bucket()).await?;
        access.block.ok_or_else(|| ErrorKind::NoSuchPublicAccessBlockConfiguration.into())
    }

    /// DeletePublicAccessBlock.
    pub(crate) async fn delete_public_access_block(&self, permit: &Permit, principal: &Principal) -> Result<()> {
        let change = AuditedChange::PublicBlock { bucket: permit.bucket().name.clone(), block: None };
        self.apply_bucket_access(principal, change, "bucket.public_access_block.delete").await
    }
}
