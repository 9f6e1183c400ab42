//! Records recovered from the metadata log by a rebuild (`metalog::rebuild`), written back as
//! they were: no outbox entry (they are in the log already), no audit record per record.

use super::{AuditedChange, BucketRecord, PartRecord, RepairTask, UploadRecord, VersionRecord};
use crate::model::access::{AccessKeyRecord, AdminTokenRecord, Perms, PublicAccessBlock, UserName, UserRecord};
use crate::model::{BucketUid, ObjectKey, WrappedKey};

/// One batch of recovered records.
#[derive(Debug, Default)]
pub struct RestoreBatch {
    /// Buckets, with their own KEK if they have one.
    pub buckets: Vec<(BucketRecord, Option<String>)>,
    /// Current object versions.
    pub versions: Vec<RestoredVersion>,
    /// Catalog changes made through the admin API (providers, policies, shredded KEKs).
    pub catalog: Vec<AuditedChange>,
    /// Users, access keys and grants.
    pub access: Vec<AccessRecord>,
    /// Multipart uploads in progress, with their parts.
    pub uploads: Vec<RestoredUpload>,
    /// Audit records, in chain order.
    pub audit: Vec<RestoredAudit>,
    /// The store's commit sequence continues above this.
    pub seq_floor: u64,
}

/// A recovered current version.
#[derive(Debug)]
pub struct RestoredVersion {
    /// Its bucket.
    pub bucket: BucketUid,
    /// Its key.
    pub key: ObjectKey,
    /// The version.
    pub version: VersionRecord,
    /// Its data key, as wrapped.
    pub dek: WrappedKey,
    /// Replicas the providers do not hold.
    pub repairs: Vec<RepairTask>,
}

/// A recovered multipart upload in progress.
#[derive(Debug)]
pub struct RestoredUpload {
    /// The upload.
    pub record: UploadRecord,
    /// Its parts by number.
    pub parts: Vec<(u32, PartRecord)>,
    /// Replicas of its parts the providers do not hold.
    pub repairs: Vec<RepairTask>,
}

/// A recovered audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredAudit {
    /// The record as sealed.
    pub record: crate::model::audit::AuditRecord,
    /// The bucket whose scope logged it (`None`: the catalog's).
    pub bucket: Option<BucketUid>,
    /// Its log entry's sequence number (a checkpoint logs it again under it).
    pub log_seq: u64,
}

/// A recovered user, access key or grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessRecord {
    /// A user.
    User(UserRecord),
    /// An access key.
    Key(AccessKeyRecord),
    /// An admin token.
    Token(AdminTokenRecord),
    /// A bucket's policy document.
    BucketPolicy {
        /// The bucket.
        bucket: BucketUid,
        /// The document.
        document: String,
    },
    /// A bucket's public access block.
    PublicBlock {
        /// The bucket.
        bucket: BucketUid,
        /// The settings.
        block: PublicAccessBlock,
    },
    /// A bucket's versioning state.
    Versioning {
        /// The bucket.
        bucket: BucketUid,
        /// Its state.
        state: crate::model::Versioning,
    },
    /// A bucket's lifecycle configuration (`None`: deleted).
    Lifecycle {
        /// The bucket.
        bucket: BucketUid,
        /// Its configuration.
        config: Option<crate::model::lifecycle::LifecycleConfig>,
    },
    /// A bucket's tags (`None`: deleted).
    BucketTags {
        /// The bucket.
        bucket: BucketUid,
        /// Its tags.
        tags: Option<crate::model::tagging::TagSet>,
    },
    /// A bucket's CORS configuration (`None`: deleted).
    Cors {
        /// The bucket.
        bucket: BucketUid,
        /// Its configuration.
        config: Option<crate::model::cors::CorsConfig>,
    },
    /// How a bucket's new objects get their ETag.
    EtagMode {
        /// The bucket.
        bucket: BucketUid,
        /// The mode.
        mode: crate::model::EtagMode,
    },
    /// A bucket's Object Lock configuration.
    ObjectLock {
        /// The bucket.
        bucket: BucketUid,
        /// Its configuration.
        config: crate::model::lock::LockConfig,
    },
    /// What a user may do in a bucket.
    Grant {
        /// The bucket.
        bucket: BucketUid,
        /// The user.
        user: UserName,
        /// The permissions.
        perms: Perms,
    },
}
