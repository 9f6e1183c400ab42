//! Dialect profiles: what each S3 provider accepts (DESIGN.md §6.1). Providers differ in
//! addressing, limits and which newer S3 features they break on, so the gateway sends each
//! one only what its profile allows.

use std::time::Duration;

/// How the bucket appears in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://endpoint/bucket/key`.
    Path,
    /// `https://bucket.endpoint/key`.
    VirtualHost,
}

/// How the payload is authenticated in SigV4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSigning {
    /// `UNSIGNED-PAYLOAD`: the ciphertext is already authenticated end to end by the AEAD and
    /// and checked by the recorded ciphertext check, and over TLS the transport protects it too.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every 64 KiB chunk signed as it streams, for
    /// providers that refuse unsigned payloads (typically over plain HTTP). Never a whole-body
    /// hash, which would force buffering.
    StreamingSigned,
}

/// One provider family's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// Profile name, as written in the config.
    pub name: &'static str,
    /// Path or virtual-host addressing.
    pub addressing: Addressing,
    /// Payload authentication of streamed PUTs.
    pub payload: PayloadSigning,
    /// Objects larger than this go up as a provider-side multipart upload.
    pub max_put_size: u64,
    /// Part size of provider-side multipart uploads.
    pub part_size: u64,
    /// The provider's maximum part count.
    pub max_parts: u32,
    /// Whether `x-amz-checksum-*` headers may be sent (off by default: several providers broke on them).
    pub checksum_headers: bool,
    /// Whether `If-None-Match` on PUT is honoured.
    pub conditional_writes: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time to the response head.
    pub first_byte_timeout: Duration,
    /// Longest pause inside a response body.
    pub idle_timeout: Duration,
    /// Whether HTTP/2 may be negotiated (HTTP/1.1 otherwise).
    pub http2: bool,
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// The default: what every S3-compatible service we know accepts.
pub const CONSERVATIVE: Dialect = Dialect {
    name: "conservative",
    addressing: Addressing::Path,
    payload: PayloadSigning::Unsigned,
    max_put_size: 5 * GIB,
    part_size: 512 * MIB,
    max_parts: 10_000,
    checksum_headers: false,
    conditional_writes: false,
    connect_timeout: Duration::from_secs(3),
    first_byte_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(30),
    http2: false,
};

/// The built-in profiles.
pub const BUILT_IN: [Dialect; 6] = [
    CONSERVATIVE,
    // OVHcloud Object Storage (s3.<region>.io.cloud.ovh.net): virtual-host and path both work.
    Dialect { name: "ovh", addressing: Addressing::VirtualHost, ..CONSERVATIVE },
    // Scaleway (s3.<region>.scw.cloud): at most 1,000 parts per upload.
    Dialect {
        name: "scaleway",
        addressing: Addressing::VirtualHost,
        max_parts: 1_000,
        part_size: 512 * MIB,
        ..CONSERVATIVE
    },
    // Hetzner (<location>.your-objectstorage.com): path style.
    Dialect { name: "hetzner", ..CONSERVATIVE },
    // IONOS (s3.<region>.ionoscloud.com).
    Dialect { name: "ionos", addressing: Addressing::VirtualHost, ..CONSERVATIVE },
    // Exoscale SOS (sos-<zone>.exo.io).
    Dialect { name: "exoscale", addressing: Addressing::VirtualHost, ..CONSERVATIVE },
];

impl Dialect {
    /// A built-in profile by name.
    pub fn by_name(name: &str) -> Option<Dialect> {
        BUILT_IN.iter().find(|d| d.name == name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_consistent() {
        for d in BUILT_IN {
            assert!(d.part_size * u64::from(d.max_parts) >= 5 * GIB + 2 * MIB, "{} can store a 5 GiB stream", d.name);
            assert!(d.part_size >= 5 * MIB && d.part_size <= d.max_put_size);
        }
        assert_eq!(Dialect::by_name("scaleway").map(|d| d.max_parts), Some(1_000));
        assert!(Dialect::by_name("aws").is_none());
    }
}
