//! Authorization as one pure function (DESIGN §12.3): [`authorize`] decides whether a
//! principal may do an action on a target, from the facts the service gathered (the
//! principal's grant on the bucket, its capabilities). No I/O, no clock: the service resolves
//! who is asking and what they were granted, this module only decides, so every S3 operation
//! and the matrix test ask the same question the same way.

pub mod policy;

use crate::model::access::{AdminRole, Perms, UserCaps, UserName};
use policy::{BucketPolicy, RequestFacts, Verdict};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A key from the configuration file without a user: the deployment's own key, which may
    /// do everything (as an account's root key on AWS).
    Root {
        /// Its access key id.
        key_id: String,
    },
    /// A user, through one of their access keys.
    User {
        /// The user.
        name: UserName,
        /// The access key id the request was signed with.
        key_id: String,
        /// What they may do beyond their grants.
        caps: UserCaps,
    },
    /// An unsigned request.
    Anonymous,
    /// An admin token (the admin listener only).
    Admin {
        /// The token's name (the audit log's actor).
        name: String,
        /// What it may do.
        role: AdminRole,
    },
}

impl Principal {
    /// The name the audit log records: the user, `root:<key id>` for a configuration key.
    pub fn actor(&self) -> String {
        match self {
            Principal::Root { key_id } => format!("root:{key_id}"),
            Principal::User { name, .. } => name.to_string(),
            Principal::Anonymous => "anonymous".into(),
            Principal::Admin { name, .. } => name.clone(),
        }
    }

    /// The user, if the principal is one.
    pub fn user(&self) -> Option<&UserName> {
        match self {
            Principal::User { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// The permission an action needs on its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `owner`.
    Owner,
    /// Any of the three: knowing the bucket is there (HeadBucket, GetBucketLocation).
    Any,
}

/// An S3 operation the gateway serves, named as in AWS policies where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// ListBuckets (every principal; the answer shows only granted buckets).
    ListBuckets,
    /// CreateBucket.
    CreateBucket,
    /// HeadBucket, and the bucket facts anyone with a grant may read (GetBucketLocation,
    /// GetBucketVersioning).
    HeadBucket,
    /// DeleteBucket.
    DeleteBucket,
    /// ListObjects, ListObjectsV2.
    ListBucket,
    /// ListMultipartUploads.
    ListBucketMultipartUploads,
    /// ListParts.
    ListMultipartUploadParts,
    /// GetObject, HeadObject, the source of a copy.
    GetObject,
    /// PutObject, the destination of a copy, CreateMultipartUpload, UploadPart,
    /// UploadPartCopy's destination, CompleteMultipartUpload.
    PutObject,
    /// DeleteObject, DeleteObjects.
    DeleteObject,
    /// AbortMultipartUpload.
    AbortMultipartUpload,
    /// GetObject and HeadObject of a version named by its id, the source of a copy from one.
    GetObjectVersion,
    /// DeleteObject of a version named by its id (deleting it for good).
    DeleteObjectVersion,
    /// ListObjectVersions.
    ListBucketVersions,
    /// PutBucketVersioning.
    PutBucketVersioning,
    /// Bypassing a governance retention (`x-amz-bypass-governance-retention: true`).
    BypassGovernanceRetention,
    /// PutObjectRetention, PutObjectLegalHold.
    PutObjectRetention,
    /// GetObjectRetention, GetObjectLegalHold.
    GetObjectRetention,
    /// PutObjectLockConfiguration (and CreateBucket with Object Lock: the creator owns it).
    PutBucketObjectLockConfiguration,
    /// PutBucketLifecycleConfiguration and DeleteBucketLifecycle.
    PutLifecycleConfiguration,
    /// GetBucketLifecycleConfiguration.
    GetLifecycleConfiguration,
    /// PutBucketEncryption and DeleteBucketEncryption.
    PutEncryptionConfiguration,
    /// GetBucketEncryption.
    GetEncryptionConfiguration,
    /// PutObjectTagging (of any version).
    PutObjectTagging,
    /// GetObjectTagging (of any version).
    GetObjectTagging,
    /// DeleteObjectTagging (of any version).
    DeleteObjectTagging,
    /// PutBucketTagging and DeleteBucketTagging.
    PutBucketTagging,
    /// GetBucketTagging.
    GetBucketTagging,
    /// PutBucketCors and DeleteBucketCors.
    PutBucketCors,
    /// GetBucketCors.
    GetBucketCors,
    /// GetBucketAcl.
    GetBucketAcl,
    /// GetObjectAcl.
    GetObjectAcl,
    /// PutBucketAcl (refused with 501 once allowed: grants and policies say who may do what).
    PutBucketAcl,
    /// PutObjectAcl (likewise).
    PutObjectAcl,
    /// GetBucketPolicy.
    GetBucketPolicy,
    /// PutBucketPolicy.
    PutBucketPolicy,
    /// DeleteBucketPolicy.
    DeleteBucketPolicy,
    /// GetBucketPolicyStatus.
    GetBucketPolicyStatus,
    /// GetPublicAccessBlock.
    GetBucketPublicAccessBlock,
    /// PutPublicAccessBlock and DeletePublicAccessBlock.
    PutBucketPublicAccessBlock,
    /// An admin route that reads (health, locate, audit export, explain, jobs, the catalog).
    AdminRead,
    /// An admin route that changes the catalog, a policy or a bucket's binding.
    AdminResidency,
    /// An admin route that rotates, assigns or destroys KEKs.
    AdminKeys,
    /// An admin route over users, access keys and grants (reading them too).
    AdminUsers,
    /// An admin route over the admin tokens.
    AdminTokens,
}

impl Action {
    /// The AWS name (`s3:GetObject`), for policies and the audit log.
    pub fn s3_name(self) -> &'static str {
        match self {
            Action::ListBuckets => "s3:ListAllMyBuckets",
            Action::CreateBucket => "s3:CreateBucket",
            Action::HeadBucket | Action::ListBucket => "s3:ListBucket",
            Action::DeleteBucket => "s3:DeleteBucket",
            Action::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            Action::GetObject => "s3:GetObject",
            Action::PutObject => "s3:PutObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Action::GetObjectVersion => "s3:GetObjectVersion",
            Action::DeleteObjectVersion => "s3:DeleteObjectVersion",
            Action::ListBucketVersions => "s3:ListBucketVersions",
            Action::PutBucketVersioning => "s3:PutBucketVersioning",
            Action::BypassGovernanceRetention => "s3:BypassGovernanceRetention",
            Action::PutObjectRetention => "s3:PutObjectRetention",
            Action::GetObjectRetention => "s3:GetObjectRetention",
            Action::PutBucketObjectLockConfiguration => "s3:PutBucketObjectLockConfiguration",
            Action::PutLifecycleConfiguration => "s3:PutLifecycleConfiguration",
            Action::GetLifecycleConfiguration => "s3:GetLifecycleConfiguration",
            Action::PutEncryptionConfiguration => "s3:PutEncryptionConfiguration",
            Action::GetEncryptionConfiguration => "s3:GetEncryptionConfiguration",
            Action::PutObjectTagging => "s3:PutObjectTagging",
            Action::GetObjectTagging => "s3:GetObjectTagging",
            Action::DeleteObjectTagging => "s3:DeleteObjectTagging",
            Action::PutBucketTagging => "s3:PutBucketTagging",
            Action::GetBucketTagging => "s3:GetBucketTagging",
            Action::PutBucketCors => "s3:PutBucketCORS",
            Action::GetBucketCors => "s3:GetBucketCORS",
            Action::GetBucketAcl => "s3:GetBucketAcl",
            Action::GetObjectAcl => "s3:GetObjectAcl",
            Action::PutBucketAcl => "s3:PutBucketAcl",
            Action::PutObjectAcl => "s3:PutObjectAcl",
            Action::GetBucketPolicy => "s3:GetBucketPolicy",
            Action::PutBucketPolicy => "s3:PutBucketPolicy",
            Action::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
            Action::GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
            Action::GetBucketPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
            Action::PutBucketPublicAccessBlock => "s3:PutBucketPublicAccessBlock",
            Action::AdminRead => "admin:Read",
            Action::AdminResidency => "admin:Residency",
            Action::AdminKeys => "admin:Keys",
            Action::AdminUsers => "admin:Users",
            Action::AdminTokens => "admin:Tokens",
        }
    }

    /// The permission it needs on its bucket (`None`: it has no bucket).
    pub fn needs(self) -> Option<Need> {
        Some(match self {
            Action::ListBuckets
            | Action::CreateBucket
            | Action::AdminRead
            | Action::AdminResidency
            | Action::AdminKeys
            | Action::AdminUsers
            | Action::AdminTokens => return None,
            Action::HeadBucket => Need::Any,
            Action::ListBucket
            | Action::ListBucketMultipartUploads
            | Action::ListMultipartUploadParts
            | Action::ListBucketVersions
            | Action::GetObjectVersion
            | Action::GetObjectRetention
            | Action::GetObjectTagging
            | Action::GetObject => Need::Read,
            Action::PutObjectTagging | Action::DeleteObjectTagging => Need::Write,
            Action::PutObject | Action::DeleteObject | Action::DeleteObjectVersion | Action::AbortMultipartUpload => {
                Need::Write
            }
            Action::DeleteBucket
            | Action::PutBucketVersioning
            | Action::BypassGovernanceRetention
            | Action::PutObjectRetention
            | Action::PutBucketObjectLockConfiguration
            | Action::PutLifecycleConfiguration
            | Action::GetLifecycleConfiguration
            | Action::PutEncryptionConfiguration
            | Action::GetEncryptionConfiguration
            | Action::PutBucketTagging
            | Action::GetBucketTagging
            | Action::PutBucketCors
            | Action::GetBucketCors
            | Action::GetBucketAcl
            | Action::GetObjectAcl
            | Action::PutBucketAcl
            | Action::PutObjectAcl
            | Action::GetBucketPolicy
            | Action::PutBucketPolicy
            | Action::DeleteBucketPolicy
            | Action::GetBucketPolicyStatus
            | Action::GetBucketPublicAccessBlock
            | Action::PutBucketPublicAccessBlock => Need::Owner,
        })
    }

    /// The operations on the bucket's policy and public access block.
    pub fn manages_access(self) -> bool {
        matches!(
            self,
            Action::GetBucketPolicy
                | Action::PutBucketPolicy
                | Action::DeleteBucketPolicy
                | Action::GetBucketPolicyStatus
                | Action::GetBucketPublicAccessBlock
                | Action::PutBucketPublicAccessBlock
        )
    }

    /// Whether its resource is an object (`bucket/key`) rather than the bucket.
    pub fn on_object(self) -> bool {
        matches!(
            self,
            Action::GetObject
                | Action::GetObjectVersion
                | Action::PutObject
                | Action::DeleteObject
                | Action::DeleteObjectVersion
                | Action::BypassGovernanceRetention
                | Action::PutObjectRetention
                | Action::GetObjectRetention
                | Action::AbortMultipartUpload
                | Action::ListMultipartUploadParts
                | Action::GetObjectAcl
                | Action::PutObjectAcl
        )
    }
}

/// What the action is done to, with the facts the decision needs.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing in particular (ListBuckets).
    Service,
    /// A bucket to create under residency policy `policy`.
    NewBucket {
        /// The policy it would be bound to.
        policy: &'a str,
    },
    /// An existing bucket (or an object in it), what the principal was granted on it, and its
    /// policy.
    Bucket(BucketFacts<'a>),
}

/// What a decision on a bucket or object weighs.
#[derive(Debug, Clone, Copy)]
pub struct BucketFacts<'a> {
    /// The principal's permissions there (config and stored grants together).
    pub granted: Perms,
    /// The bucket's policy, if it has one.
    pub policy: Option<&'a BucketPolicy>,
    /// The ARN acted on: `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// The request's facts for the policy's conditions.
    pub request: &'a RequestFacts,
    /// Whether statements for anyone may allow anonymous requests (public access not
    /// blocked by the server or the bucket).
    pub public_allowed: bool,
}

impl<'a> BucketFacts<'a> {
    /// Grants alone: no policy.
    pub fn granted(granted: Perms, resource: &'a str, request: &'a RequestFacts) -> Self {
        Self { granted, policy: None, resource, request, public_allowed: false }
    }
}

/// Why a request was refused (for the gateway's log; clients see only `AccessDenied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// Unsigned requests are served through bucket policies only, and none allows this one.
    #[error("anonymous access is not allowed")]
    Anonymous,
    /// The principal lacks the permission the action needs on the bucket.
    #[error("{action} needs {need:?} on the bucket")]
    NotGranted {
        /// The action's AWS name.
        action: &'static str,
        /// What it needs.
        need: Need,
    },
    /// A statement of the bucket's policy denies it.
    #[error("the bucket policy denies {0}")]
    PolicyDenies(&'static str),
    /// A public policy may not be stored while public access is blocked.
    #[error("public bucket policies are blocked (server or bucket public access block)")]
    PublicPolicyBlocked,
    /// The user may not create buckets.
    #[error("this user may not create buckets")]
    MayNotCreateBuckets,
    /// The user may not place buckets under this residency policy.
    #[error("this user may not use residency policy {0}")]
    PolicyNotAllowed(String),
    /// SSE-KMS named a KEK of the gateway that does not wrap this bucket's data keys.
    #[error("KMS key {0} is not this bucket's")]
    KmsKeyNotPermitted(String),
    /// The SSE-C key sent does not open the object (or upload) it names.
    #[error("the customer-provided encryption key does not open this object")]
    WrongCustomerKey,
    /// The admin token's role does not cover this route.
    #[error("role {role} may not {action}")]
    Role {
        /// The token's role.
        role: &'static str,
        /// The action's name.
        action: &'static str,
    },
    /// The key read is not there, and the caller may not list the bucket: whether it exists
    /// is not theirs to learn (S3 answers 403 rather than 404 to them).
    #[error("no such key, and s3:ListBucket is not allowed to tell so")]
    MissingKeyHidden,
    /// An S3 principal on an admin route, or an admin token on an S3 operation.
    #[error("{0} is not for this kind of credential")]
    WrongPrincipal(&'static str),
    /// The action was asked of a target it does not apply to (a programming error; refused
    /// rather than guessed).
    #[error("{0} does not apply to this target")]
    WrongTarget(&'static str),
    /// Object Lock protects the version (S3 answers this with 403 AccessDenied too).
    #[error("object lock: {0}")]
    ObjectLocked(#[source] crate::model::lock::LockDenial),
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, and why.
    Deny(Denial),
}

/// Decides whether `principal` may do `action` on `target`: the configuration's own keys may
/// do every S3 operation; a user what their capabilities and grants allow; anonymous nothing;
/// an admin token the admin routes its role covers.
pub fn authorize(principal: &Principal, action: Action, target: Target<'_>) -> Decision {
    let is_admin_route = matches!(
        action,
        Action::AdminRead | Action::AdminResidency | Action::AdminKeys | Action::AdminUsers | Action::AdminTokens
    );
    match principal {
        Principal::Admin { role, .. } if is_admin_route => return admin_decision(*role, action),
        Principal::Admin { .. } => return Decision::Deny(Denial::WrongPrincipal(action.s3_name())),
        _ if is_admin_route => return Decision::Deny(Denial::WrongPrincipal(action.s3_name())),
        _ => {}
    }
    if let (Some(need), Target::Bucket(facts)) = (action.needs(), target) {
        return bucket_decision(principal, action, need, &facts);
    }
    let caps = match principal {
        Principal::Root { .. } => return Decision::Allow,
        Principal::User { caps, .. } => caps,
        Principal::Anonymous | Principal::Admin { .. } => return Decision::Deny(Denial::Anonymous),
    };
    match (action.needs(), target) {
        (None, Target::Service) if action == Action::ListBuckets => Decision::Allow,
        (None, Target::NewBucket { policy }) if action == Action::CreateBucket => {
            if !caps.create_buckets {
                Decision::Deny(Denial::MayNotCreateBuckets)
            } else if caps.policies.as_ref().is_some_and(|allowed| !allowed.iter().any(|p| p == policy)) {
                Decision::Deny(Denial::PolicyNotAllowed(policy.to_owned()))
            } else {
                Decision::Allow
            }
        }
        _ => Decision::Deny(Denial::WrongTarget(action.s3_name())),
    }
}

/// A bucket or object action, as AWS evaluates it: a denying statement of the bucket policy
/// wins (root keys excepted on the policy operations themselves, so a policy cannot lock the
/// deployment out); then a grant (root keys hold every one) or an allowing statement; else no.
fn bucket_decision(principal: &Principal, action: Action, need: Need, facts: &BucketFacts<'_>) -> Decision {
    let name = action.s3_name();
    let verdict = facts
        .policy
        .map_or(Verdict::Silent, |p| p.evaluate(principal, name, facts.resource, facts.request, facts.public_allowed));
    let root = matches!(principal, Principal::Root { .. });
    if verdict == Verdict::Deny && !(root && action.manages_access()) {
        return Decision::Deny(Denial::PolicyDenies(name));
    }
    let granted = facts.granted;
    // Grants belong to users: an unsigned request holds none, whatever it is given.
    let by_grant = root
        || !matches!(principal, Principal::Anonymous)
            && match need {
                Need::Read => granted.read,
                Need::Write => granted.write,
                Need::Owner => granted.owner,
                Need::Any => !granted.is_empty(),
            };
    if by_grant || verdict == Verdict::Allow {
        Decision::Allow
    } else if matches!(principal, Principal::Anonymous) {
        Decision::Deny(Denial::Anonymous)
    } else {
        Decision::Deny(Denial::NotGranted { action: name, need })
    }
}

/// What each admin role may do: every role reads; each changes its own part; `admin` all.
fn admin_decision(role: AdminRole, action: Action) -> Decision {
    let allowed = matches!(
        (role, action),
        (AdminRole::Admin, _)
            | (_, Action::AdminRead)
            | (AdminRole::Residency, Action::AdminResidency)
            | (AdminRole::Keys, Action::AdminKeys)
            | (AdminRole::Users, Action::AdminUsers)
    );
    if allowed {
        Decision::Allow
    } else {
        Decision::Deny(Denial::Role { role: role.as_str(), action: action.s3_name() })
    }
}

#[cfg(test)]
mod tests;
