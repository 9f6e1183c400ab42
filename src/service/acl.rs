//! The grants of a bucket in S3's ACL vocabulary (GetBucketAcl, GetObjectAcl): a user with
//! every permission has `FULL_CONTROL`, otherwise `read` is `READ`, `write` is `WRITE`, `owner`
//! is `READ_ACP` and `WRITE_ACP`. Objects have no ACL of their own (as S3 buckets with object
//! ownership "bucket owner enforced"): an object's ACL is its bucket's.

use super::ObjectService;
use super::access::Permit;
use crate::error::{ErrorKind, Result};
use crate::model::access::Perms;

/// An ACL as S3 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclView {
    /// The bucket's owner: the first user holding every permission, or `souverain` (the
    /// deployment's root keys) for a bucket no user owns.
    pub owner: String,
    /// (user, S3 permission), by user.
    pub grants: Vec<(String, &'static str)>,
}

fn acl_permissions(p: Perms) -> Vec<&'static str> {
    if p == Perms::ALL {
        return vec!["FULL_CONTROL"];
    }
    let mut out = Vec::new();
    if p.read {
        out.push("READ");
    }
    if p.write {
        out.push("WRITE");
    }
    if p.owner {
        out.extend(["READ_ACP", "WRITE_ACP"]);
    }
    out
}

impl ObjectService {
    /// GetBucketAcl: the bucket's stored and configured grants.
    pub(crate) async fn bucket_acl(&self, permit: &Permit) -> Result<AclView> {
        let rec = permit.bucket();
        let mut users = self.access.configured_grants_on(&rec.name);
        for (bucket, user, perms) in self.meta.grants().await? {
            if bucket == rec.uid {
                users.push((user.to_string(), perms));
            }
        }
        users.sort_by(|a, b| a.0.cmp(&b.0));
        let owner =
            users.iter().find(|(_, p)| *p == Perms::ALL).map_or_else(|| "souverain".to_owned(), |(u, _)| u.clone());
        let grants =
            users.into_iter().flat_map(|(u, p)| acl_permissions(p).into_iter().map(move |a| (u.clone(), a))).collect();
        Ok(AclView { owner, grants })
    }

    /// GetObjectAcl: the bucket's, for an object that exists.
    pub(crate) async fn object_acl(&self, permit: &Permit, key: &str) -> Result<AclView> {
        let key = super::parse_key(key)?;
        self.meta.current(permit.bucket().uid, &key).await?.ok_or(ErrorKind::NoSuchKey)?;
        self.bucket_acl(permit).await
    }
}
