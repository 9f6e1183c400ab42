//! Validated configuration. Every error is one line naming the offending field.

mod keys;
mod metadata;
mod policies;
mod providers;
pub mod raw;
mod secrets;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::ResidencyPolicy;

pub use keys::KeyConfig;
pub use metadata::MetadataEngine;
pub use policies::parse_policy;
pub use providers::{ProviderConfig, ProviderKind, ProviderUpdate, loopback_endpoint};
pub use raw::RawConfig;

use keys::key_config;
use metadata::postgres_settings;
use policies::policy;
use providers::provider;
use secrets::secret;

/// A configuration problem, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    file: String,
    message: String,
}

/// An access key pair. The secret never appears in `Debug`.
#[derive(Clone)]
pub struct AccessKey {
    /// Access key id.
    pub id: String,
    /// Secret.
    pub secret: String,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// S3 listener.
    pub s3_listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// HTTPS certificate and key files for the S3 listener.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// HTTPS certificate and key files of the admin listener, if it serves TLS.
    pub admin_tls: Option<(PathBuf, PathBuf)>,
    /// Region clients sign for.
    pub region: String,
    /// Default policy id.
    pub default_policy: String,
    /// Metadata engine.
    pub metadata: MetadataEngine,
    /// Where the KEKs are.
    pub keys: KeyConfig,
    /// How long, and how many, unwrapped data keys are cached.
    pub dek_cache: (Duration, usize),
    /// Providers.
    pub providers: Vec<ProviderConfig>,
    /// Policies by id.
    pub policies: HashMap<String, ResidencyPolicy>,
    /// Credentials.
    pub access_keys: Vec<AccessKey>,
    /// Between GC passes.
    pub gc_interval: Duration,
    /// Age after which an uncommitted upload of this run is abandoned.
    pub intent_ttl: Duration,
    /// Age after which ciphertext outside policy still awaiting deletion counts as overdue.
    pub deletion_overdue: Duration,
    /// Between provider health checks.
    pub health_interval: Duration,
    /// Between repair passes.
    pub repair_interval: Duration,
    /// How long a gateway's claim on a repair task lasts (another takes it over after).
    pub repair_claim: Duration,
    /// Between scrub passes.
    pub scrub_interval: Duration,
    /// Between stored-usage passes.
    pub usage_interval: Duration,
    /// Between evacuation passes.
    pub evacuation_interval: Duration,
    /// Scrubber rate and sampling.
    pub scrub: ScrubSettings,
    /// Simultaneous client connections.
    pub max_connections: usize,
    /// Wait for in-flight requests at shutdown.
    pub shutdown_grace: Duration,
    /// Time a client has to send a request's headers; idle keep-alive connections close after it.
    pub header_read_timeout: Duration,
    /// Time a request body may stall before the request fails with RequestTimeout.
    pub body_read_timeout: Duration,
    /// Requests one HTTP/2 connection may carry at once.
    pub http2_max_streams: u32,
    /// `json` logs instead of human ones.
    pub log_json: bool,
    /// Tracing filter.
    pub log_level: String,
    /// Bearer token of the admin API (`/admin/v1/…`); the API is closed without one.
    pub admin_token: Option<raw::SecretText>,
}

impl Config {
    /// Reads and validates a config file. Access keys may also come from the environment:
    /// `SOUVERAIN_ACCESS_KEY` and `SOUVERAIN_SECRET_KEY`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { file: file.clone(), message: format!("cannot read: {e}") })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base).map_err(|message| ConfigError { file, message })
    }

    /// Parses config text; relative paths resolve against `base` (or `server.data_dir`).
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        validate(raw, base)
    }
}

fn one_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        Some(span) => format!("line {}: {msg}", text[..span.start.min(text.len())].lines().count().max(1)),
        None => msg,
    }
}

fn validate(raw: RawConfig, base: &Path) -> Result<Config, String> {
    let base = match &raw.server.data_dir {
        Some(d) => base.join(d),
        None => base.to_path_buf(),
    };
    let s3_listen = raw
        .server
        .s3_listen
        .parse()
        .map_err(|_| format!("server.s3_listen: not an address: {:?}", raw.server.s3_listen))?;
    let tls = match (&raw.server.tls_cert_file, &raw.server.tls_key_file) {
        (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
        (None, None) => None,
        _ => return Err("server.tls_cert_file: give both tls_cert_file and tls_key_file, or neither".into()),
    };
    let admin_tls = match (&raw.server.admin_tls_cert_file, &raw.server.admin_tls_key_file) {
        (Some(c), Some(k)) => Some((base.join(c), base.join(k))),
        (None, None) => None,
        _ => {
            return Err(
                "server.admin_tls_cert_file: give both admin_tls_cert_file and admin_tls_key_file, or neither".into()
            );
        }
    };
    let admin_listen = match &raw.server.admin_listen {
        Some(a) => Some(a.parse().map_err(|_| format!("server.admin_listen: not an address: {a:?}"))?),
        None => None,
    };
    if raw.server.region.is_empty() {
        return Err("server.region: must not be empty".into());
    }
    let metadata = match raw.metadata.engine.as_str() {
        "rocksdb" => MetadataEngine::Rocksdb(
            base.join(raw.metadata.path.as_deref().ok_or("metadata.path: required for engine = \"rocksdb\"")?),
        ),
        "memory" => MetadataEngine::Memory,
        "postgres" => MetadataEngine::Postgres(Box::new(postgres_settings(&raw.metadata, &base)?)),
        other => {
            return Err(format!(
                "metadata.engine: unknown engine {other:?} (expected \"rocksdb\", \"postgres\" or \"memory\")"
            ));
        }
    };
    let dek_cache =
        (Duration::from_secs(raw.keys.dek_cache_ttl_secs.unwrap_or(300)), raw.keys.dek_cache_entries.unwrap_or(10_000));
    let keys = key_config(raw.keys, &base)?;
    let providers =
        raw.providers.into_iter().enumerate().map(|(i, p)| provider(i, p, &base)).collect::<Result<Vec<_>, _>>()?;
    if providers.is_empty() {
        return Err("provider: at least one [[provider]] is required".into());
    }
    let mut policies = HashMap::new();
    for (i, p) in raw.policies.into_iter().enumerate() {
        let policy = policy(i, p)?;
        if usize::from(policy.replicas) > providers.len() {
            return Err(format!(
                "policy[{i}].replicas: {} replicas but only {} providers",
                policy.replicas,
                providers.len()
            ));
        }
        policies.insert(policy.id.clone(), policy);
    }
    if !policies.contains_key(&raw.server.default_policy) {
        return Err(format!("server.default_policy: no [[policy]] with id {:?}", raw.server.default_policy));
    }
    let mut access_keys =
        raw.access_keys.into_iter().enumerate().map(|(i, k)| access_key(i, k, &base)).collect::<Result<Vec<_>, _>>()?;
    if let (Ok(id), Ok(secret)) = (std::env::var("SOUVERAIN_ACCESS_KEY"), std::env::var("SOUVERAIN_SECRET_KEY")) {
        access_keys.push(AccessKey { id, secret });
    }
    if access_keys.is_empty() {
        return Err(
            "access_key: at least one [[access_key]] (or SOUVERAIN_ACCESS_KEY/SOUVERAIN_SECRET_KEY) is required".into(),
        );
    }
    let log_json = match raw.log.format.as_deref() {
        None | Some("human") => false,
        Some("json") => true,
        Some(other) => {
            return Err(format!("log.format: unknown format {other:?} (expected \"human\" or \"json\")"));
        }
    };
    let admin = raw.admin;
    let admin_token = match (&admin.token, &admin.token_env, &admin.token_file) {
        (None, None, None) => None,
        _ => Some(secret("admin.token", admin.token, admin.token_env, admin.token_file, &base)?.into()),
    };
    let scrub_rate = raw.workers.scrub_rate_bytes_per_sec.unwrap_or(10 << 20).max(1);
    let verify_fraction = raw.workers.scrub_verify_fraction.unwrap_or(0.01);
    if !(0.0..=1.0).contains(&verify_fraction) {
        return Err("workers.scrub_verify_fraction: must be between 0.0 and 1.0".into());
    }
    Ok(Config {
        s3_listen,
        admin_listen,
        tls,
        admin_tls,
        region: raw.server.region,
        default_policy: raw.server.default_policy,
        metadata,
        keys,
        dek_cache,
        providers,
        policies,
        access_keys,
        gc_interval: Duration::from_secs(raw.workers.gc_interval_secs.unwrap_or(10).max(1)),
        deletion_overdue: Duration::from_secs(raw.workers.deletion_overdue_secs.unwrap_or(3600)),
        intent_ttl: Duration::from_secs(raw.workers.intent_ttl_secs.unwrap_or(24 * 3600)),
        health_interval: Duration::from_secs(raw.workers.health_interval_secs.unwrap_or(10).max(1)),
        repair_interval: Duration::from_secs(raw.workers.repair_interval_secs.unwrap_or(5).max(1)),
        repair_claim: Duration::from_secs(raw.workers.repair_claim_secs.unwrap_or(300).max(1)),
        scrub_interval: Duration::from_secs(raw.workers.scrub_interval_secs.unwrap_or(24 * 3600).max(1)),
        usage_interval: Duration::from_secs(raw.workers.usage_interval_secs.unwrap_or(300).max(1)),
        evacuation_interval: Duration::from_secs(raw.workers.evacuation_interval_secs.unwrap_or(3600).max(1)),
        scrub: ScrubSettings { rate_bytes_per_sec: scrub_rate, verify_fraction },
        max_connections: raw.limits.max_connections.unwrap_or(1024),
        shutdown_grace: Duration::from_secs(raw.limits.shutdown_grace_secs.unwrap_or(30)),
        header_read_timeout: Duration::from_secs(raw.limits.header_read_timeout_secs.unwrap_or(30).max(1)),
        body_read_timeout: Duration::from_secs(raw.limits.body_read_timeout_secs.unwrap_or(60).max(1)),
        http2_max_streams: raw.limits.http2_max_streams.unwrap_or(64).max(1),
        log_json,
        log_level: raw.log.level.unwrap_or_else(|| "info".into()),
        admin_token,
    })
}

/// Scrubber settings.
#[derive(Debug, Clone, Copy)]
pub struct ScrubSettings {
    /// Bytes per second read for hash checks.
    pub rate_bytes_per_sec: u64,
    /// Fraction of streams (0.0–1.0) whose replicas are read and hashed each pass.
    pub verify_fraction: f64,
}

fn access_key(i: usize, k: raw::RawAccessKey, base: &Path) -> Result<AccessKey, String> {
    let secret = secret(&format!("access_key[{i}].secret"), k.secret, k.secret_env, k.secret_file, base)?;
    if k.id.is_empty() {
        return Err(format!("access_key[{i}].id: must not be empty"));
    }
    Ok(AccessKey { id: k.id, secret })
}

#[cfg(test)]
mod tests;
