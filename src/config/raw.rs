//! The configuration file as written (serde, unknown keys refused).

use std::fmt;

use serde::Deserialize;
use zeroize::Zeroize;

/// A secret written inline in the config file: `<redacted>` in `Debug`, wiped when dropped.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SecretText(String);

impl From<String> for SecretText {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl SecretText {
    /// The text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The text, moved out (the caller keeps it from here on).
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for SecretText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`.
    pub server: RawServer,
    /// `[metadata]`.
    pub metadata: RawMetadata,
    /// `[keys]`.
    pub keys: RawKeys,
    /// `[workers]`.
    #[serde(default)]
    pub workers: RawWorkers,
    /// `[limits]`.
    #[serde(default)]
    pub limits: RawLimits,
    /// `[log]`.
    #[serde(default)]
    pub log: RawLog,
    /// `[admin]`.
    #[serde(default)]
    pub admin: RawAdmin,
    /// `[[admin_token]]`: named admin tokens with a role.
    #[serde(default, rename = "admin_token")]
    pub admin_tokens: Vec<RawAdminToken>,
    /// `[[provider]]`.
    #[serde(default, rename = "provider")]
    pub providers: Vec<RawProvider>,
    /// `[[policy]]`.
    #[serde(default, rename = "policy")]
    pub policies: Vec<RawPolicy>,
    /// `[[access_key]]`.
    #[serde(default, rename = "access_key")]
    pub access_keys: Vec<RawAccessKey>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// S3 listener address.
    pub s3_listen: String,
    /// No public bucket policy may be stored, and none allows anonymous requests (default
    /// true).
    pub block_public_access: Option<bool>,
    /// Admin listener address (`/metrics`, `/health`, `/ready`); none if absent.
    pub admin_listen: Option<String>,
    /// PEM certificate chain: with `tls_key_file`, S3 is served over HTTPS (reloaded on SIGHUP).
    pub tls_cert_file: Option<String>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<String>,
    /// PEM certificate chain: with `admin_tls_key_file`, the admin listener is served over
    /// HTTPS (reloaded on SIGHUP).
    pub admin_tls_cert_file: Option<String>,
    /// PEM private key of `admin_tls_cert_file`.
    pub admin_tls_key_file: Option<String>,
    /// Region clients sign for.
    pub region: String,
    /// Domains under which buckets are also addressed virtual-hosted style
    /// (`bucket.s3.example.eu`).
    pub domains: Option<Vec<String>>,
    /// Policy of buckets created without a LocationConstraint.
    pub default_policy: String,
    /// Base for relative paths; defaults to the config file's directory.
    pub data_dir: Option<String>,
}

/// `[metadata]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetadata {
    /// `rocksdb`, `postgres` or `memory`.
    pub engine: String,
    /// Directory of the RocksDB store.
    pub path: Option<String>,
    /// PostgreSQL: the connection URL, without the password.
    pub url: Option<String>,
    /// PostgreSQL password, inline.
    pub password: Option<SecretText>,
    /// PostgreSQL password, from this environment variable.
    pub password_env: Option<String>,
    /// PostgreSQL password, from this private file.
    pub password_file: Option<String>,
    /// PostgreSQL: CA certificates (PEM) for the server's certificate.
    pub ca_file: Option<String>,
    /// PostgreSQL: connections per gateway.
    pub pool_size: Option<usize>,
    /// Accept `sslmode=disable` to a database that is not on this machine (refused
    /// otherwise: TLS is required whenever it leaves the machine or a `ca_file` is given).
    pub allow_plaintext: Option<bool>,
}

/// `[keys]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// `local` or `transit`.
    pub provider: String,
    /// The local key file (created at first start).
    pub key_file: Option<String>,
    /// Transit: the KMS's address, `https://host:8200`.
    pub address: Option<String>,
    /// Transit: the engine's mount (`transit`).
    pub mount: Option<String>,
    /// Transit: the default KEK's name (`souverain`).
    pub kek: Option<String>,
    /// Transit: a token, inline (development only).
    pub token: Option<SecretText>,
    /// Transit: a token from this environment variable.
    pub token_env: Option<String>,
    /// Transit: a token from this file (mode 0600).
    pub token_file: Option<String>,
    /// Transit: AppRole role id (instead of a token).
    pub approle_role_id: Option<String>,
    /// Transit: AppRole secret id, inline (development only).
    pub approle_secret_id: Option<SecretText>,
    /// Transit: AppRole secret id from this environment variable.
    pub approle_secret_id_env: Option<String>,
    /// Transit: AppRole secret id from this file (mode 0600).
    pub approle_secret_id_file: Option<String>,
    /// Transit: extra CA certificates (PEM) for the KMS's TLS certificate.
    pub ca_file: Option<String>,
    /// Transit: seconds one KMS request may take.
    pub timeout_secs: Option<u64>,
    /// Seconds an unwrapped data key stays cached (0 disables the cache).
    pub dek_cache_ttl_secs: Option<u64>,
    /// Unwrapped data keys cached at most.
    pub dek_cache_entries: Option<usize>,
}

/// `[workers]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkers {
    /// Seconds between GC passes.
    pub gc_interval_secs: Option<u64>,
    /// Seconds after which an uncommitted upload of this run is abandoned.
    pub intent_ttl_secs: Option<u64>,
    /// Seconds after which a replica outside policy still awaiting deletion is overdue (the
    /// `souverain_pending_deletions_overdue` gauge and its alert).
    pub deletion_overdue_secs: Option<u64>,
    /// Seconds between provider health checks.
    pub health_interval_secs: Option<u64>,
    /// Seconds between repair passes.
    pub repair_interval_secs: Option<u64>,
    /// Seconds between checkpoint passes of the metadata log.
    pub checkpoint_interval_secs: Option<u64>,
    /// Seconds a drawn sequence number waits before it may serve as a checkpoint's bound
    /// (every commit numbered below it has committed by then).
    pub checkpoint_settle_secs: Option<u64>,
    /// Segments after a bucket's last checkpoint that make it due for the next.
    pub checkpoint_min_segments: Option<usize>,
    /// Seconds a gateway's claim on a repair task lasts before another may take it over.
    pub repair_claim_secs: Option<u64>,
    /// Seconds between scrub passes.
    pub scrub_interval_secs: Option<u64>,
    /// Seconds between passes counting stored objects and bytes per policy.
    pub usage_interval_secs: Option<u64>,
    /// Seconds between evacuation passes (each residency change also starts one at once).
    pub evacuation_interval_secs: Option<u64>,
    /// Seconds between lifecycle passes.
    pub lifecycle_interval_secs: Option<u64>,
    /// Seconds in a lifecycle day (86 400; tests shorten it, as Ceph's `rgw_lc_debug_interval`).
    pub lifecycle_day_secs: Option<u64>,
    /// Seconds a converted version's old streams are kept after the commit (GETs reading them).
    pub conversion_grace_secs: Option<u64>,
    /// Bytes per second the scrubber may read.
    pub scrub_rate_bytes_per_sec: Option<u64>,
    /// Fraction (0.0–1.0) of streams read and hashed each pass.
    pub scrub_verify_fraction: Option<f64>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Simultaneous client connections.
    pub max_connections: Option<usize>,
    /// Seconds to wait for in-flight requests at shutdown.
    pub shutdown_grace_secs: Option<u64>,
    /// Seconds a client has to send a request's headers (also the idle keep-alive limit).
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a request body may stall (no bytes from the client) before RequestTimeout.
    pub body_read_timeout_secs: Option<u64>,
    /// Requests one HTTP/2 connection may carry at once.
    pub http2_max_streams: Option<u32>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Bearer token of the admin API, inline (development only).
    pub token: Option<SecretText>,
    /// Bearer token from this environment variable.
    pub token_env: Option<String>,
    /// Bearer token from this file (mode 0600).
    pub token_file: Option<String>,
    /// The Prometheus whose alerts the console's health page shows (`http://` or `https://`).
    pub prometheus_url: Option<String>,
    /// Who makes the compliance report's PDF: `builtin` (printpdf) or `chromium`.
    pub report_pdf: Option<String>,
    /// The Chromium program `report_pdf = "chromium"` runs (default `chromium`, from `PATH`).
    pub chromium: Option<String>,
}

/// `[[admin_token]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminToken {
    /// Its name (the audit log's actor).
    pub name: String,
    /// `viewer`, `residency`, `keys`, `users` or `admin`.
    pub role: String,
    /// Inline (development only).
    pub token: Option<SecretText>,
    /// From this environment variable.
    pub token_env: Option<String>,
    /// From this file (mode 0600).
    pub token_file: Option<String>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `human` or `json`.
    pub format: Option<String>,
    /// A tracing filter such as `info`.
    pub level: Option<String>,
}

/// `[[provider]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Stable id.
    pub id: String,
    /// `fs` (a local directory) or `s3` (a remote S3 provider).
    pub kind: String,
    /// Directory of an `fs` provider.
    pub path: Option<String>,
    /// Endpoint URL of an `s3` provider.
    pub endpoint: Option<String>,
    /// Provider-side bucket of an `s3` provider.
    pub bucket: Option<String>,
    /// SigV4 region of an `s3` provider.
    pub region: Option<String>,
    /// Dialect profile (`conservative` by default).
    pub dialect: Option<String>,
    /// Access key id of an `s3` provider.
    pub access_key: Option<String>,
    /// Inline secret (development only).
    pub secret: Option<SecretText>,
    /// Secret from this environment variable.
    pub secret_env: Option<String>,
    /// Secret from this file (mode 0600).
    pub secret_file: Option<String>,
    /// Extra CA certificates (PEM) to trust for this provider.
    pub ca_file: Option<String>,
    /// Overrides the dialect's largest single PUT, in bytes (larger streams go multipart).
    pub max_put_size: Option<u64>,
    /// Overrides the dialect's multipart part size, in bytes (at least 5 MiB).
    pub part_size: Option<u64>,
    /// Sign streamed payloads chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), for
    /// providers that refuse UNSIGNED-PAYLOAD, typically over plain HTTP.
    pub signed_payload: Option<bool>,
    /// Accept a plain `http://` endpoint on a host that is not loopback (refused otherwise):
    /// names the risk that traffic to the provider crosses the network unprotected.
    pub allow_insecure_http: Option<bool>,
    /// Data-centre country.
    pub country: String,
    /// Operator.
    pub operator: String,
    /// Ownership chain jurisdictions.
    #[serde(default)]
    pub jurisdictions: Vec<String>,
    /// Extraterritorial laws the chain is subject to (e.g. `us-cloud-act`).
    #[serde(default)]
    pub exposures: Vec<String>,
    /// Failure and legal domain; defaults to the operator.
    pub independence_group: Option<String>,
    /// Certifications with expiry.
    #[serde(default)]
    pub certifications: Vec<RawCertification>,
}

/// `[[policy]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Name.
    pub id: String,
    /// Allowed countries; `EU` and `EEA` expand. Default `["EU", "EEA"]`.
    pub allowed_countries: Option<Vec<String>>,
    /// Allowed jurisdictions of the ownership chain; `[]` = any. Default `["EU", "EEA"]`.
    pub allowed_jurisdictions: Option<Vec<String>>,
    /// Forbidden exposures. Default `["us-cloud-act", "us-fisa-702"]`.
    pub forbid_exposures: Option<Vec<String>>,
    /// `replicas` (default) or `rs` (Reed–Solomon shards).
    pub scheme: Option<String>,
    /// N (replication; for `rs`, absent or k + m).
    pub replicas: Option<u8>,
    /// W: replicas, or shards for `rs` (default k + 1).
    pub write_quorum: Option<u8>,
    /// k, for `rs`.
    pub data_shards: Option<u8>,
    /// m, for `rs`.
    pub parity_shards: Option<u8>,
    /// `independence_group` (default), `operator`, `country` or `none`.
    pub distinct: Option<String>,
    /// Default 1.
    pub min_distinct_countries: Option<u8>,
    /// Default 1.
    pub min_distinct_operators: Option<u8>,
    /// Certifications every replica's provider must hold.
    #[serde(default)]
    pub required_certifications: Vec<String>,
}

/// `[[access_key]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessKey {
    /// Access key id.
    pub id: String,
    /// Inline secret (development only).
    pub secret: Option<SecretText>,
    /// Secret from this environment variable.
    pub secret_env: Option<String>,
    /// Secret from this file (mode 0600).
    pub secret_file: Option<String>,
    /// The user the key belongs to; without one the key may do everything.
    pub user: Option<String>,
    /// The user may create buckets (default false).
    pub create_buckets: Option<bool>,
    /// The residency policies the user's new buckets may use (default any).
    pub policies: Option<Vec<String>>,
    /// Bucket name → permissions (`"read,write"`), besides those granted through the admin API.
    #[serde(default)]
    pub grants: std::collections::BTreeMap<String, String>,
}

/// A provider certification.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertification {
    /// Scheme, e.g. `secnumcloud`.
    pub scheme: String,
    /// Last valid day, `YYYY-MM-DD`.
    pub valid_until: String,
}
