//! 128-bit random identifiers. They come from the OS random generator (see `datapath::crypto`)
//! and are shown as 32 lowercase hex digits.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! uid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            /// The raw bytes, as stored in keys and bound into the format.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
            /// 32 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
            /// Parses 32 hex digits.
            pub fn from_hex(s: &str) -> Option<Self> {
                let mut out = [0u8; 16];
                hex::decode_to_slice(s, &mut out).ok()?;
                Some(Self(out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

uid_type!(
    /// Identifies a bucket for its whole life; a re-created bucket of the same name gets a new one.
    BucketUid
);
uid_type!(
    /// Identifies one version of one object (one PUT, one copy or one multipart upload).
    VersionUid
);
uid_type!(
    /// Identifies one sealed backend object; equals its opaque provider name `sv1/<hex>`.
    StreamId
);
uid_type!(
    /// Identifies a multipart upload; shown to clients as its hex form.
    UploadId
);
uid_type!(
    /// Identifies one run of the gateway process, so intents of an earlier run are known stale.
    BootId
);

/// The OS random generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("random generator failed")]
pub struct RandomUnavailable;

/// `N` bytes from the OS random generator: every id, salt, key and nonce the gateway makes.
pub fn random_array<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    use ring::rand::SecureRandom as _;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut out).map_err(|_| RandomUnavailable)?;
    Ok(out)
}
