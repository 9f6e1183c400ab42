//! Validated newtypes and plain data shared by every layer. No I/O.

pub mod access;
pub mod audit;
pub mod catalog;
pub mod ciphertext_check;
pub mod cors;
pub mod day;
pub mod ids;
pub mod ints;
pub mod jobs;
pub mod lifecycle;
pub mod lock;
pub mod names;
pub mod object;
pub mod redundancy;
pub mod tagging;
pub mod versioning;
pub mod wrapped_key;

pub use catalog::{Certification, CountryCode, Distinct, ProviderId, ProviderInfo, ResidencyPolicy, expand_countries};
pub use ciphertext_check::{CheckFunction, CheckHasher, CiphertextCheck};
pub use day::{format_day, parse_day};
pub use ids::{BootId, BucketUid, RandomUnavailable, StreamId, UploadId, VersionUid, random_array};
pub use ints::{millis_u64, usize_from};
pub use names::{BucketName, NameError, ObjectKey};
pub use object::{
    ChecksumAlgorithm, ChecksumType, ContentHeaders, ETag, EtagMode, ObjectChecksum, StreamManifest, WriteCondition,
};
pub use redundancy::{ErasureShards, Redundancy, StripeShape};
pub use versioning::{VersionRef, Versioning};
pub use wrapped_key::{KmsContext, WrappedKey};
