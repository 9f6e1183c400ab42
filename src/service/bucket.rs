//! Bucket operations. A bucket is bound to a residency policy at creation; a policy that
//! cannot be satisfied refuses the bucket.

use super::access::Permit;
use super::{ObjectService, name_error, now_ms};
use crate::access::Principal;
use crate::error::{Context as _, ErrorKind, Result};
use crate::meta::BucketRecord;
use crate::model::random_array;
use crate::model::{BucketName, BucketUid};

impl ObjectService {
    /// CreateBucket. `location` is the LocationConstraint: a policy id, or empty / the region /
    /// `us-east-1` / `EU` for the default policy.
    /// The creator becomes its owner (a user granted read, write and owner on it).
    pub(crate) async fn create_bucket(&self, principal: &Principal, name: &str, location: Option<&str>) -> Result<()> {
        let name = BucketName::parse(name).map_err(name_error)?;
        let residency = self.residency();
        let policy_id = match location.map(str::trim) {
            None | Some("" | "us-east-1" | "EU") => self.config.default_policy.clone(),
            Some(l) if l == self.config.region => self.config.default_policy.clone(),
            Some(l) if residency.policies.contains_key(l) => l.to_owned(),
            Some(_) => return Err(ErrorKind::InvalidLocationConstraint.into()),
        };
        Self::may_create(principal, &policy_id)?;
        let policy = residency
            .policies
            .get(&policy_id)
            .ok_or_else(|| ErrorKind::internal(format!("default policy {policy_id} missing")))?;
        let uid = BucketUid(random_array().context("drawing a random id")?);
        let placement = self.decide_placement(policy, uid)?;
        let detail = serde_json::json!({
            "bucket": name, "policy": policy_id, "targets": placement.targets(),
        });
        let audit = crate::model::audit::AuditEntry::new(&principal.actor(), "bucket.create", &detail);
        let rec = BucketRecord { uid, name, policy_id, created_ms: now_ms() };
        match self.meta.create_bucket(rec, principal.user().cloned(), audit).await? {
            Ok(_) => Ok(()),
            // Its owner is told it is theirs (as us-east-1 S3 does); anyone else that the
            // name is taken.
            Err(existing) if self.access.granted(principal, &existing).await?.owner => {
                Err(ErrorKind::BucketAlreadyOwnedByYou.into())
            }
            Err(_) => Err(ErrorKind::BucketAlreadyExists.into()),
        }
    }

    /// DeleteBucket: only when no object and no multipart upload remains.
    pub(crate) async fn delete_bucket(&self, permit: &Permit) -> Result<()> {
        let rec = permit.bucket();
        if self.meta.delete_bucket(&rec.name).await? { Ok(()) } else { Err(ErrorKind::BucketNotEmpty.into()) }
    }
}
