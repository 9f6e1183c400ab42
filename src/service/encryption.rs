//! S3's SSE vocabulary over the gateway's envelope encryption: every object is encrypted under
//! a data key of its own; what S3 calls its encryption is what wraps that key. Under the local
//! key file it is SSE-S3 (`AES256`: a key only the gateway holds); under a transit KEK it is
//! SSE-KMS (`aws:kms`, the KEK being a key in the operator's KMS, named in the answer); under
//! a customer's key it is SSE-C. The answer is derived from the stored wrapping, so it is true
//! for every object whatever the request that wrote it asked.

use super::ObjectService;
use crate::access::Denial;
use crate::error::{ErrorKind, Result};
use crate::keys::WrappedKey;
use crate::keys::local::LOCAL_KEK_ID;
use crate::model::{BucketUid, KmsContext};

/// How an object's data key is protected, in S3's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectEncryption {
    /// SSE-S3: under the gateway's local key file.
    GatewayKey,
    /// SSE-KMS: under this KEK of the transit KMS, bound to this encryption context if any.
    Kms(String, Option<KmsContext>),
    /// SSE-C: under the key the client sends with each request.
    Customer,
}

impl ObjectEncryption {
    /// What wraps `wrapped`.
    pub fn of(wrapped: &WrappedKey) -> Self {
        if wrapped.is_customer_wrapped() {
            Self::Customer
        } else if wrapped.kek_id == LOCAL_KEK_ID {
            Self::GatewayKey
        } else {
            Self::Kms(wrapped.kek_id.clone(), wrapped.context.clone())
        }
    }
}

/// `x-amz-server-side-encryption: aws:kms` on a write, with the key it names (if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KmsRequest {
    /// `x-amz-server-side-encryption-aws-kms-key-id`: a KEK name, or an ARN ending in
    /// `key/<name>` or `alias/<name>`.
    pub key_id: Option<String>,
    /// `x-amz-server-side-encryption-context`: bound into the new data key's wrapping.
    pub context: Option<KmsContext>,
}

/// The encryption context a write asks for, if any.
pub(crate) fn context_of(kms: Option<&KmsRequest>) -> Option<&KmsContext> {
    kms.and_then(|k| k.context.as_ref())
}

impl KmsRequest {
    /// The KEK name the key id stands for.
    fn kek_name(&self) -> Option<&str> {
        let id = self.key_id.as_deref()?;
        Some(id.rsplit_once(":key/").or_else(|| id.rsplit_once(":alias/")).map_or(id, |(_, name)| name))
    }
}

impl ObjectService {
    /// Checks an SSE-KMS request for a new object of `bucket`: the gateway must keep its keys
    /// in a KMS, and a named key must be the one that wraps the bucket's data keys (another
    /// KEK of the gateway → 403, as KMS refuses a key the caller may not use; a name no KEK
    /// has → 400 KMS.NotFoundException, as S3).
    pub(crate) fn check_kms_request(&self, bucket: BucketUid, kms: Option<&KmsRequest>) -> Result<()> {
        let Some(kms) = kms else { return Ok(()) };
        let kek = self.kek_of(bucket);
        if kek == LOCAL_KEK_ID {
            return Err(ErrorKind::InvalidArgument(
                "SSE-KMS (x-amz-server-side-encryption: aws:kms) needs a KMS: this gateway keeps its key in a local \
                 key file (keys.provider = \"local\"); every object is encrypted with SSE-S3 (AES256)"
                    .into(),
            )
            .into());
        }
        match kms.kek_name() {
            None => Ok(()),
            Some(name) if name == kek => Ok(()),
            Some(name) if self.is_gateway_kek(name) => {
                Err(ErrorKind::AccessDenied(Denial::KmsKeyNotPermitted(name.to_owned())).into())
            }
            Some(name) => Err(ErrorKind::KmsKeyNotFound(name.to_owned()).into()),
        }
    }

    /// What wraps the data keys of `bucket`'s new objects, in S3's terms.
    pub(crate) fn bucket_encryption(&self, bucket: BucketUid) -> ObjectEncryption {
        let kek = self.kek_of(bucket);
        if kek == LOCAL_KEK_ID { ObjectEncryption::GatewayKey } else { ObjectEncryption::Kms(kek, None) }
    }

    /// Whether `name` is one of the gateway's KEKs (the default, or a bucket's own).
    fn is_gateway_kek(&self, name: &str) -> bool {
        name == self.keys.kek_for(None) || self.state.key_state().bucket_keks.values().any(|k| k == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_name_a_kek_bare_or_as_an_arn() {
        let name = |id: &str| KmsRequest { key_id: Some(id.into()), context: None }.kek_name().map(str::to_owned);
        assert_eq!(name("bucket-a"), Some("bucket-a".into()));
        assert_eq!(name("arn:aws:kms:eu-west-3:000000000000:key/bucket-a"), Some("bucket-a".into()));
        assert_eq!(name("arn:aws:kms:eu-west-3:000000000000:alias/bucket-a"), Some("bucket-a".into()));
        assert_eq!(KmsRequest::default().kek_name(), None);
    }

    #[test]
    fn the_answer_follows_what_wraps_the_data_key() {
        let w = |kek: &str| WrappedKey { kek_id: kek.into(), kek_version: 1, bytes: vec![], context: None };
        assert_eq!(ObjectEncryption::of(&w("local")), ObjectEncryption::GatewayKey);
        assert_eq!(ObjectEncryption::of(&w("bucket-a")), ObjectEncryption::Kms("bucket-a".into(), None));
        assert_eq!(ObjectEncryption::of(&w(crate::keys::CUSTOMER_KEK_ID)), ObjectEncryption::Customer);
    }
}
