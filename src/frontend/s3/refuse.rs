//! What the gateway refuses rather than silently ignores, and the write conditions it honours.

use s3s::dto::{ETagCondition, ObjectCannedACL, StorageClass};
use s3s::{S3Error, S3ErrorCode, S3Result};

use crate::frontend::error::not_implemented;
use crate::model::WriteCondition;

/// Which unsupported write features a request asked for (each input type names its fields
/// differently). A set of independent flags, so plain bools.
#[derive(Clone, Copy)]
pub(crate) struct Refusals {
    /// `x-amz-grant-*`.
    pub grants: bool,
}

/// Refuses write headers the gateway would otherwise silently ignore.
pub(crate) fn refuse_unsupported_write(
    asked: Refusals,
    redirect: &Option<String>,
    acl: &Option<ObjectCannedACL>,
    storage_class: &Option<StorageClass>,
) -> S3Result<()> {
    if redirect.is_some() {
        return Err(not_implemented("website redirects"));
    }
    if asked.grants || acl.as_ref().is_some_and(|a| a.as_str() != "private") {
        return Err(not_implemented("ACLs other than private"));
    }
    if storage_class.as_ref().is_some_and(|c| c.as_str() != "STANDARD") {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        ));
    }
    Ok(())
}

/// GetObjectAcl of one version: an object's ACL is its bucket's, whatever the version, but a
/// version id is not checked against the versions there.
pub(crate) fn refuse_version_id(v: &Option<String>) -> S3Result<()> {
    match v.as_deref() {
        None => Ok(()),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "GetObjectAcl of a version (versionId) is not implemented",
        )),
    }
}

pub(super) fn write_condition(
    if_none_match: &Option<ETagCondition>,
    if_match: &Option<ETagCondition>,
) -> S3Result<WriteCondition> {
    match (if_none_match, if_match) {
        (Some(_), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "If-Match together with If-None-Match is not supported",
        )),
        (Some(ETagCondition::Any), None) => Ok(WriteCondition::IfAbsent),
        (Some(_), None) => {
            Err(S3Error::with_message(S3ErrorCode::NotImplemented, "If-None-Match on writes accepts only *"))
        }
        (None, Some(ETagCondition::ETag(e))) => Ok(WriteCondition::IfMatch(e.value().to_owned())),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::IfMatch("*".into())),
        (None, None) => Ok(WriteCondition::None),
    }
}
