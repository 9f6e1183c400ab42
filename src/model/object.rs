//! What the metadata says about an object: ETag, checksums, content headers, stream manifest.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ProviderId, StreamId};

/// An S3 entity tag, stored without quotes: `hex(md5)`, `hex(md5 of part digests)-N`, or in a
/// bucket with [`EtagMode::Fast`] `hex(BLAKE3-128)-1`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ETag(pub String);

impl ETag {
    /// The ETag of a single PUT: the hex MD5 of the plaintext.
    pub fn from_md5(md5: &[u8; 16]) -> Self {
        Self(hex::encode(md5))
    }
    /// The ETag of a single PUT in a bucket with [`EtagMode::Fast`]: the hex of the first 16
    /// bytes of the plaintext's BLAKE3, marked `-1` so that no client takes it for an MD5
    /// (rclone and s3cmd treat exactly 32 hex digits as one; with a dash, as after a
    /// multipart upload, they fall back to sizes, times and their own stored MD5).
    pub fn fast(blake3_128: &[u8; 16]) -> Self {
        Self(format!("{}-1", hex::encode(blake3_128)))
    }
    /// The multipart ETag: `hex(MD5(d_1 ‖ … ‖ d_N))-N` over the parts' 16-byte digests (their
    /// MD5, or their BLAKE3-128 when uploaded in a bucket with [`EtagMode::Fast`]).
    pub fn multipart(part_digests: &[[u8; 16]]) -> Self {
        use md5::Digest as _;
        let mut h = md5::Md5::new();
        for d in part_digests {
            h.update(d);
        }
        Self(format!("{}-{}", hex::encode(h.finalize()), part_digests.len()))
    }
    /// The header form, with quotes.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
    /// Compares with a client-supplied tag, ignoring surrounding quotes.
    pub fn matches(&self, client: &str) -> bool {
        client.trim().trim_matches('"') == self.0
    }
}

/// How a bucket's new objects get their ETag (`souverain admin bucket etag`). Objects keep
/// the ETag they were written with when the mode changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EtagMode {
    /// The plaintext's MD5, as S3 does for unencrypted single PUTs (what backup tools compare).
    #[default]
    Md5,
    /// BLAKE3 (a tenth of MD5's CPU), except where the client sent `Content-MD5`: the MD5 is
    /// computed for that check anyway, and then it is the ETag.
    Fast,
}

impl std::str::FromStr for EtagMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "md5" => Ok(Self::Md5),
            "fast" => Ok(Self::Fast),
            other => Err(format!("unknown ETag mode {other:?}: md5 or fast")),
        }
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ETag({})", self.0)
    }
}

/// The checksum algorithms S3 clients may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms, in a fixed order.
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64Nvme, Self::Sha1, Self::Sha256];

    /// The header suffix, as in `x-amz-checksum-<name>`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Parses the S3 spelling (`CRC32`, `crc32c`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CRC32" => Some(Self::Crc32),
            "CRC32C" => Some(Self::Crc32c),
            "CRC64NVME" => Some(Self::Crc64Nvme),
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// Whether a multipart checksum covers the whole object or is a checksum of part checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumType {
    /// Over the whole plaintext.
    FullObject,
    /// Over the concatenated part checksums, suffixed `-N`.
    Composite,
}

/// A stored checksum: algorithm, base64 value (with `-N` for composites) and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChecksum {
    /// Algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Base64 of the digest, as S3 shows it.
    pub value: String,
    /// Full object or composite.
    pub kind: ChecksumType,
}

/// Content headers stored with an object and returned unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHeaders {
    /// Content-Type.
    pub content_type: Option<String>,
    /// Content-Encoding.
    pub content_encoding: Option<String>,
    /// Content-Disposition.
    pub content_disposition: Option<String>,
    /// Content-Language.
    pub content_language: Option<String>,
    /// Cache-Control.
    pub cache_control: Option<String>,
    /// Expires, as an HTTP date in seconds since the epoch.
    pub expires_unix: Option<i64>,
    /// `x-amz-meta-*` pairs, names lower case without the prefix, sorted by name.
    pub user_metadata: Vec<(String, String)>,
}

/// Everything needed to read and verify one sealed stream (§4 of DESIGN.md). Immutable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StoredStream")]
pub struct StreamManifest {
    /// The stream's id and backend name.
    pub stream_id: StreamId,
    /// 0 for a single PUT, else the multipart part number.
    pub part_number: u32,
    /// Plaintext length L.
    pub plaintext_len: u64,
    /// log2 of the segment size.
    pub seg_log2: u8,
    /// Per-stream HKDF salt.
    pub salt: [u8; 32],
    /// Header commitment.
    pub commit: [u8; 32],
    /// The keyless check of the whole ciphertext (SHA-256 for streams of before, CRC64-NVME
    /// since), so repair and the scrubber can verify a replica without keys.
    pub ciphertext_check: super::CiphertextCheck,
    /// Providers that hold (or should hold) a replica; for a sharded stream, holder `i` has
    /// shard `i`.
    pub replicas: Vec<ProviderId>,
    /// Whole replicas or Reed–Solomon shards.
    pub redundancy: super::Redundancy,
}

/// A [`StreamManifest`] as records store it: the same fields in the same order as before
/// erasure coding, the scheme riding as the first entry of the holder list when it is not
/// replicas (`Redundancy::holder_tag`), so every record of before reads unchanged.
#[derive(Serialize, Deserialize)]
struct StoredStream {
    stream_id: StreamId,
    part_number: u32,
    plaintext_len: u64,
    seg_log2: u8,
    salt: [u8; 32],
    commit: [u8; 32],
    ciphertext_check: super::CiphertextCheck,
    holders: Vec<String>,
}

/// Refuses to store a sharded stream that does not name exactly one holder per shard (it could
/// not be read back): the commit fails instead of keeping an unreadable record.
impl Serialize for StreamManifest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.redundancy.holders().is_some_and(|n| n != self.replicas.len()) {
            return Err(serde::ser::Error::custom("a sharded stream names one holder per shard"));
        }
        StoredStream::from(self).serialize(s)
    }
}

impl From<&StreamManifest> for StoredStream {
    fn from(m: &StreamManifest) -> Self {
        let holders = m.redundancy.holder_tag().into_iter().chain(m.replicas.iter().map(ToString::to_string)).collect();
        Self {
            stream_id: m.stream_id,
            part_number: m.part_number,
            plaintext_len: m.plaintext_len,
            seg_log2: m.seg_log2,
            salt: m.salt,
            commit: m.commit,
            ciphertext_check: m.ciphertext_check,
            holders,
        }
    }
}

impl TryFrom<StoredStream> for StreamManifest {
    type Error = String;
    fn try_from(s: StoredStream) -> Result<Self, String> {
        let (redundancy, replicas) = super::redundancy::split_holders(s.holders)?;
        Ok(Self {
            stream_id: s.stream_id,
            part_number: s.part_number,
            plaintext_len: s.plaintext_len,
            seg_log2: s.seg_log2,
            salt: s.salt,
            commit: s.commit,
            ciphertext_check: s.ciphertext_check,
            replicas,
            redundancy,
        })
    }
}

/// A write condition, checked atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Unconditional.
    None,
    /// `If-None-Match: *`: only if the key has no current version.
    IfAbsent,
    /// `If-Match: <etag>`: only if the current version has this ETag.
    IfMatch(String),
}
