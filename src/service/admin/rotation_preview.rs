//! The confirmation of a key rotation: which KEKs would get a new version, the buckets whose
//! data keys each wraps, and how many data keys and access-key secrets the rotation job would
//! then rewrap (metadata only: no provider byte is read or written). Read only.

use serde::Serialize;

use super::AdminOps;
use crate::error::{ErrorKind, Result};
use crate::keys::local::LOCAL_KEK_ID;
use crate::meta::walk::VersionWalk;

/// Versions read per listing page.
const PAGE: usize = 1000;

/// What `admin keys rotate` would do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RotationPreview {
    /// Each KEK that would get a new version, with the buckets whose data keys it wraps.
    pub keks: Vec<(String, Vec<String>)>,
    /// Object versions whose data keys the job would rewrap (SSE-C ones are the customer's).
    pub data_keys: u64,
    /// Users' access keys whose secrets the job would rewrap (under the default KEK).
    pub access_keys: u64,
}

impl AdminOps {
    /// What rotating `kek` (every KEK in force: `None`) would do; refused with the local key
    /// file, which has one version (as the rotation itself is).
    pub async fn preview_rotation(&self, kek: Option<&str>) -> Result<RotationPreview> {
        self.needs_a_kms("key rotation")?;
        let keks = self.keks_to_rotate(kek);
        let mut out =
            RotationPreview { keks: keks.iter().map(|k| (k.clone(), Vec::new())).collect(), ..Default::default() };
        for bucket in self.meta.buckets().await? {
            let wrapping = self.state.kek_of(self.keys.as_ref(), bucket.uid);
            let Some((_, buckets)) = out.keks.iter_mut().find(|(k, _)| *k == wrapping) else { continue };
            buckets.push(bucket.name.to_string());
            out.data_keys += self.gateway_wrapped_keys(bucket.uid).await?;
        }
        if keks.contains(&self.keys.kek_for(None)) {
            out.access_keys = self.meta.access_keys(None).await?.len() as u64;
        }
        Ok(out)
    }

    /// What giving `bucket` its own KEK `kek` would do: the data keys the rotation job would
    /// then wrap under it; refused as the change itself would be (a shredded key, no KMS).
    pub async fn preview_bucket_kek(&self, bucket: &str, kek: &str) -> Result<u64> {
        self.needs_a_kms("a bucket's own key")?;
        let rec = self.existing_bucket(bucket).await?;
        if self.state.key_state().shredded.contains_key(kek) {
            return Err(ErrorKind::InvalidArgument(format!("key {kek} was destroyed")).into());
        }
        self.gateway_wrapped_keys(rec.uid).await
    }

    /// Refuses `what` with the local key file (one key, one version).
    fn needs_a_kms(&self, what: &str) -> Result<()> {
        if self.keys.kek_for(None) == LOCAL_KEK_ID {
            return Err(ErrorKind::NotImplemented(format!(
                "{what} needs a KMS (keys.provider = \"transit\"): the local key file holds a single key with a single version"
            ))
            .into());
        }
        Ok(())
    }

    /// The versions of `bucket` whose data key a KEK of the gateway wraps (SSE-C ones are the
    /// customer's).
    async fn gateway_wrapped_keys(&self, bucket: crate::model::BucketUid) -> Result<u64> {
        let mut n = 0;
        let mut walk = VersionWalk::new(bucket, None);
        loop {
            let page = walk.next_page(self.meta.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(n);
            }
            for (_, entry) in page {
                let dek = self.meta.dek(entry.version.version_uid).await?;
                n += u64::from(dek.is_some_and(|d| !d.is_customer_wrapped()));
            }
        }
    }
}
