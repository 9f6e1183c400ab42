//! DeleteObject and DeleteObjects (DESIGN.md §3.4): metadata commit first; provider deletes
//! happen later in GC, so a provider outage never blocks a DELETE. In a versioned bucket a
//! DELETE without a version id adds a delete marker; one with a version id deletes that
//! version for good.

use futures_util::StreamExt;

use super::access::Permit;
use super::versions::parse_version_id;
use super::{ObjectService, now_ms, parse_key};
use crate::error::{Context as _, Error, ErrorKind, Result};
use crate::meta::{BucketRecord, DeleteTarget};
use crate::model::{VersionUid, random_array};

/// Maximum keys per DeleteObjects.
pub(crate) const MAX_DELETE_KEYS: usize = 1000;
/// Deletes of one DeleteObjects in flight at once.
const DELETE_CONCURRENCY: usize = 32;

/// One object of a DeleteObjects request.
#[derive(Debug, Clone)]
pub struct ObjectToDelete {
    /// Key.
    pub key: String,
    /// The version to delete for good, if named.
    pub version_id: Option<String>,
    /// `x-amz-bypass-governance-retention: true` (allowed to the caller: the session checked).
    pub bypass_governance: bool,
}

/// What a DELETE answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteResult {
    /// `x-amz-version-id`: the version deleted, or the delete marker made.
    pub version_id: Option<String>,
    /// `x-amz-delete-marker`: a marker was made, or the version deleted was one.
    pub delete_marker: bool,
}

impl ObjectService {
    /// DeleteObject; succeeds also when the key (or the version) is absent.
    pub(crate) async fn delete_object(
        &self,
        permit: &Permit,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<DeleteResult> {
        let o = ObjectToDelete { key: key.to_owned(), version_id: version_id.map(str::to_owned), bypass_governance };
        self.delete_key(permit.bucket(), &o).await
    }

    /// DeleteObjects: one result per object, in request order.
    pub(crate) async fn delete_objects(
        &self,
        permit: &Permit,
        objects: &[ObjectToDelete],
    ) -> Result<Vec<Result<DeleteResult, Error>>> {
        if objects.len() > MAX_DELETE_KEYS {
            return Err(
                crate::error::ErrorKind::InvalidRequest("DeleteObjects accepts at most 1000 keys".into()).into()
            );
        }
        let bucket = permit.bucket();
        // Several at a time, in request order: each commit waits for its metadata log entry,
        // and concurrent commits share one segment write.
        let mut deletes = Vec::with_capacity(objects.len());
        for o in objects {
            deletes.push(self.delete_key(bucket, o));
        }
        Ok(futures_util::stream::iter(deletes).buffered(DELETE_CONCURRENCY).collect().await)
    }

    async fn delete_key(&self, bucket: &BucketRecord, o: &ObjectToDelete) -> Result<DeleteResult> {
        let key = parse_key(&o.key)?;
        let version_id = o.version_id.as_deref();
        let target = match version_id {
            Some(id) => {
                DeleteTarget::Version { version: parse_version_id(id)?, bypass_governance: o.bypass_governance }
            }
            None => DeleteTarget::Key {
                marker: VersionUid(random_array().context("drawing a random id")?),
                now_ms: now_ms(),
            },
        };
        let out = self.meta.commit_delete(&bucket.name, bucket.uid, &key, target).await?;
        if let Some(denied) = out.locked {
            return Err(ErrorKind::AccessDenied(crate::access::Denial::ObjectLocked(denied)).into());
        }
        Ok(match (version_id, out.marker) {
            (Some(id), _) => DeleteResult {
                version_id: Some(id.to_owned()),
                delete_marker: out.removed.is_some_and(|v| v.delete_marker),
            },
            (None, Some(m)) => DeleteResult { version_id: Some(m.version_ref().to_s3()), delete_marker: true },
            (None, None) => DeleteResult::default(),
        })
    }
}
