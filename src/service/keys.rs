//! Key management (DESIGN.md §4.6): which KEK wraps each bucket's data keys, rotation by rewrap
//! (the rotation job, `workers::rotation`, does the walking), and crypto-shredding. Every change
//! is persisted with its audit record in one write.

use std::collections::HashMap;

use super::ObjectService;
use crate::access::Denial;
use crate::error::{Context as _, ErrorKind, Result};
use crate::keys::{CustomerKey, DataKey, KeyBinding, WrappedKey};
use crate::meta::CatalogOverrides;
use crate::model::BucketUid;

/// The key state the admin API changed: buckets with their own KEK, destroyed KEKs.
#[derive(Debug, Clone, Default)]
pub struct KeyState {
    /// Buckets whose data keys are wrapped under their own KEK.
    pub bucket_keks: HashMap<BucketUid, String>,
    /// KEKs destroyed through the admin API, with when (ms).
    pub shredded: HashMap<String, i64>,
}

impl KeyState {
    /// The state stored in the metadata.
    pub fn from_overrides(o: &CatalogOverrides) -> Self {
        Self {
            bucket_keks: o.bucket_keks.iter().cloned().collect(),
            shredded: o.shredded_keks.iter().cloned().collect(),
        }
    }
}

/// The rotation job's name in the metadata store, the admin API and the metrics.
pub const ROTATION_JOB: &str = crate::model::jobs::ROTATION;

impl ObjectService {
    /// The KEK that wraps new data keys of `bucket`.
    pub(crate) fn kek_of(&self, bucket: BucketUid) -> String {
        self.state.kek_of(self.keys.as_ref(), bucket)
    }

    /// Wraps a new version's (or upload's) data key: under the customer's key for SSE-C,
    /// else under the bucket's KEK.
    pub(crate) async fn wrap_dek(
        &self,
        dek: &DataKey,
        binding: KeyBinding<'_>,
        customer: Option<&CustomerKey>,
    ) -> Result<WrappedKey> {
        Ok(match customer {
            Some(key) => key.wrap(dek, binding)?,
            None => self.keys.wrap(dek, &self.kek_of(binding.bucket), binding).await?,
        })
    }

    /// Unwraps a version's (or upload's) data key with what the request brought: an SSE-C
    /// object opens only under its customer key (none → 400, another → 403, as S3), any other
    /// only without one. A destroyed KEK is reported as such (from the audit state without
    /// asking the KMS, or from the KMS's answer).
    pub(crate) async fn unwrap_dek(
        &self,
        wrapped: &WrappedKey,
        binding: KeyBinding<'_>,
        customer: Option<&CustomerKey>,
    ) -> Result<DataKey> {
        match (wrapped.is_customer_wrapped(), customer) {
            (true, Some(key)) => {
                key.unwrap(wrapped, binding).map_err(|_| ErrorKind::AccessDenied(Denial::WrongCustomerKey).into())
            }
            (true, None) => Err(ErrorKind::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            )
            .into()),
            (false, Some(_)) => Err(ErrorKind::InvalidRequest(
                "The encryption parameters are not applicable to this object.".into(),
            )
            .into()),
            (false, None) => {
                if self.state.key_state().shredded.contains_key(&wrapped.kek_id) {
                    return Err(ErrorKind::KeyShredded(wrapped.kek_id.clone()).into());
                }
                Ok(self.keys.unwrap(wrapped, binding).await?)
            }
        }
    }

    /// Checks that a request may read a version's data (HEAD, GetObjectAttributes): that it
    /// brings the customer key of an SSE-C version, and only then.
    /// Returns what wraps its data key.
    pub(crate) async fn check_customer_key(
        &self,
        bucket: BucketUid,
        key: &str,
        v: &crate::meta::VersionRecord,
        customer: Option<&CustomerKey>,
    ) -> Result<super::encryption::ObjectEncryption> {
        let wrapped = self.version_key(v).await?;
        if wrapped.is_customer_wrapped() || customer.is_some() {
            self.unwrap_dek(&wrapped, KeyBinding::new(bucket, v.version_uid, key), customer).await?;
        }
        Ok(super::encryption::ObjectEncryption::of(&wrapped))
    }

    /// A version's wrapped data key.
    pub(crate) async fn version_key(&self, v: &crate::meta::VersionRecord) -> Result<WrappedKey> {
        self.meta.dek(v.version_uid).await?.context("the version's data key is missing")
    }
}
