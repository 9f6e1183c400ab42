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
        if self.keys.kek_for(None) == LOCAL_KEK_ID {
            return Err(ErrorKind::NotImplemented(
                "key rotation needs a KMS (keys.provider = \"transit\"): the local key file has a single version"
                    .into(),
            )
            .into());
        }
        let keks = self.keks_to_rotate(kek);
        let mut out =
            RotationPreview { keks: keks.iter().map(|k| (k.clone(), Vec::new())).collect(), ..Default::default() };
        for bucket in self.meta.buckets().await? {
            let wrapping = self.state.kek_of(self.keys.as_ref(), bucket.uid);
            let Some((_, buckets)) = out.keks.iter_mut().find(|(k, _)| *k == wrapping) else { continue };
            buckets.push(bucket.name.to_string());
            let mut walk = VersionWalk::new(bucket.uid, None);
            loop {
                let page = walk.next_page(self.meta.as_ref(), PAGE).await?;
                if page.is_empty() {
                    break;
                }
                for (_, entry) in page {
                    let dek = self.meta.dek(entry.version.version_uid).await?;
                    out.data_keys += u64::from(dek.is_some_and(|d| !d.is_customer_wrapped()));
                }
            }
        }
        if keks.contains(&self.keys.kek_for(None)) {
            out.access_keys = self.meta.access_keys(None).await?.len() as u64;
        }
        Ok(out)
    }
}
