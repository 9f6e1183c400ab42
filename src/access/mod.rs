//! Authorization as one pure function (DESIGN §12.3): [`authorize`] decides whether a
//! principal may do an action on a target, from the facts the service gathered (the
//! principal's grant on the bucket, its capabilities). No I/O, no clock: the service resolves
//! who is asking and what they were granted, this module only decides, so every S3 operation
//! and the matrix test ask the same question the same way.

use crate::model::access::{AdminRole, Perms, UserCaps, UserName};

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
            | Action::GetObject => Need::Read,
            Action::PutObject | Action::DeleteObject | Action::AbortMultipartUpload => Need::Write,
            Action::DeleteBucket => Need::Owner,
        })
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
    /// An existing bucket, and what the principal was granted on it.
    Bucket {
        /// The principal's permissions there (config and stored grants together).
        granted: Perms,
    },
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
    /// The user may not create buckets.
    #[error("this user may not create buckets")]
    MayNotCreateBuckets,
    /// The user may not place buckets under this residency policy.
    #[error("this user may not use residency policy {0}")]
    PolicyNotAllowed(String),
    /// The admin token's role does not cover this route.
    #[error("role {role} may not {action}")]
    Role {
        /// The token's role.
        role: &'static str,
        /// The action's name.
        action: &'static str,
    },
    /// An S3 principal on an admin route, or an admin token on an S3 operation.
    #[error("{0} is not for this kind of credential")]
    WrongPrincipal(&'static str),
    /// The action was asked of a target it does not apply to (a programming error; refused
    /// rather than guessed).
    #[error("{0} does not apply to this target")]
    WrongTarget(&'static str),
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
    let caps = match principal {
        Principal::Admin { role, .. } if is_admin_route => return admin_decision(*role, action),
        Principal::Admin { .. } => return Decision::Deny(Denial::WrongPrincipal(action.s3_name())),
        _ if is_admin_route => return Decision::Deny(Denial::WrongPrincipal(action.s3_name())),
        Principal::Root { .. } => return Decision::Allow,
        Principal::Anonymous => return Decision::Deny(Denial::Anonymous),
        Principal::User { caps, .. } => caps,
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
        (Some(need), Target::Bucket { granted }) => {
            let ok = match need {
                Need::Read => granted.read,
                Need::Write => granted.write,
                Need::Owner => granted.owner,
                Need::Any => !granted.is_empty(),
            };
            if ok { Decision::Allow } else { Decision::Deny(Denial::NotGranted { action: action.s3_name(), need }) }
        }
        _ => Decision::Deny(Denial::WrongTarget(action.s3_name())),
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
