//! Validated configuration. Every error is one line naming the offending field.

mod error;
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

pub use error::{ConfigError, FieldError};
pub use keys::KeyConfig;
pub use metadata::MetadataEngine;
pub use policies::parse_policy;
pub use providers::{ProviderConfig, ProviderKind, ProviderUpdate, loopback_endpoint};
pub use raw::RawConfig;

use crate::model::access::{AdminRole, Perms, UserCaps, UserName, token_sha256};
use keys::key_config;
use metadata::postgres_settings;
use policies::policy;
use providers::provider;
use secrets::secret;

/// An access key pair. The secret never appears in `Debug`.
#[derive(Clone)]
pub struct AccessKey {
    /// Access key id.
    pub id: String,
    /// Secret.
    pub secret: String,
    /// The user it belongs to; `None` for a key that may do everything.
    pub user: Option<KeyUser>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey").field("id", &self.id).field("user", &self.user).finish_non_exhaustive()
    }
}

impl KeyUser {
    /// What the configuration grants the user on `bucket`.
    pub fn granted_on(&self, bucket: &crate::model::BucketName) -> Perms {
        self.grants.iter().filter(|(b, _)| b == bucket.as_str()).fold(Perms::default(), |acc, (_, p)| acc.union(*p))
    }
}

/// An admin token from the configuration: kept as its SHA-256 only.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// Its name (the audit log's actor; `admin` for `[admin] token`).
    pub name: String,
    /// What it may do.
    pub role: AdminRole,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminToken").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

/// The user of a configured access key, and what the configuration lets them do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUser {
    /// The user.
    pub name: UserName,
    /// Bucket creation and the policies it may use.
    pub caps: UserCaps,
    /// Bucket name → permissions.
    pub grants: Vec<(String, Perms)>,
}

/// What the web console reads and runs besides the gateway (`[admin]`).
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// The Prometheus (its base URL) whose firing alerts the health page shows.
    pub prometheus_url: Option<String>,
    /// Who makes the compliance report's PDF.
    pub report_pdf: ReportPdf,
}

/// Who makes the compliance report's PDF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReportPdf {
    /// The gateway itself (printpdf): no external program.
    #[default]
    Builtin,
    /// Headless Chromium, this program, printing the report's HTML page.
    Chromium(String),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// S3 listener.
    pub s3_listen: SocketAddr,
    /// Admin listener.
    pub admin_listen: Option<SocketAddr>,
    /// What the web console reads and runs besides the gateway.
    pub console: ConsoleSettings,
    /// HTTPS certificate and key files for the S3 listener.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// HTTPS certificate and key files of the admin listener, if it serves TLS.
    pub admin_tls: Option<(PathBuf, PathBuf)>,
    /// Region clients sign for.
    pub region: String,
    /// Domains of virtual-hosted-style addressing (`bucket.<domain>`); path style always works.
    pub domains: Vec<String>,
    /// No public bucket policy may be stored, and none allows anonymous requests.
    pub block_public_access: bool,
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
    /// When the metadata log's buckets are checkpointed.
    pub checkpoints: CheckpointSettings,
    /// Between scrub passes.
    pub scrub_interval: Duration,
    /// Between stored-usage passes.
    pub usage_interval: Duration,
    /// Between evacuation passes.
    pub evacuation_interval: Duration,
    /// Between lifecycle passes.
    pub lifecycle_interval: Duration,
    /// The length of a lifecycle day (a day, or shorter for tests).
    pub lifecycle_day: Duration,
    /// How long a converted version's old streams outlive its commit.
    pub conversion_grace: Duration,
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
    /// Admin tokens of the API (`/admin/v1/…`): `[admin] token` (named `admin`, role admin)
    /// and `[[admin_token]]`; the API is closed to everyone without one (or one created
    /// through the API by an admin token).
    pub admin_tokens: Vec<AdminToken>,
}

impl Config {
    /// Reads and validates a config file. Access keys may also come from the environment:
    /// `SOUVERAIN_ACCESS_KEY` and `SOUVERAIN_SECRET_KEY`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(source) => return Err(ConfigError::Read { file, source }),
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base).map_err(|source| ConfigError::Invalid { file, source })
    }

    /// Parses config text; relative paths resolve against `base` (or `server.data_dir`).
    pub fn parse(text: &str, base: &Path) -> Result<Self, FieldError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        validate(raw, base)
    }
}

/// TOML's complaint on one line, its field the line it points at.
fn one_line(text: &str, e: &toml::de::Error) -> FieldError {
    let msg = e.message().replace('\n', " ");
    match e.span() {
        // Lines before the span, plus one (`lines()` would miss a span starting a line).
        #[allow(clippy::naive_bytecount, reason = "once per refused file; not worth a crate")]
        Some(span) => FieldError::new(
            format!(
                "line {}",
                text.as_bytes()[..span.start.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
            ),
            msg,
        ),
        None => FieldError::new("file", msg),
    }
}

/// A lower-case DNS name without a port (`s3.example.eu`): labels of letters, digits and
/// hyphens, not starting or ending with a hyphen.
fn is_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn validate(raw: RawConfig, base: &Path) -> Result<Config, FieldError> {
    let base = match &raw.server.data_dir {
        Some(d) => base.join(d),
        None => base.to_path_buf(),
    };
    let listeners = listeners(&raw.server, &base)?;
    if raw.server.region.is_empty() {
        return Err(FieldError::new("server.region", "must not be empty"));
    }
    let domains = raw.server.domains.clone().unwrap_or_default();
    if let Some(bad) = domains.iter().find(|d| !is_domain(d)) {
        return Err(FieldError::new("server.domains", format!("{bad:?} is not a lower-case DNS name")));
    }
    let metadata = metadata_engine(&raw.metadata, &base)?;
    let dek_cache =
        (Duration::from_secs(raw.keys.dek_cache_ttl_secs.unwrap_or(300)), raw.keys.dek_cache_entries.unwrap_or(10_000));
    let keys = key_config(raw.keys, &base)?;
    let providers =
        raw.providers.into_iter().enumerate().map(|(i, p)| provider(i, p, &base)).collect::<Result<Vec<_>, _>>()?;
    if providers.is_empty() {
        return Err(FieldError::new("provider", "at least one [[provider]] is required"));
    }
    let policies = policies(raw.policies, providers.len(), &raw.server.default_policy)?;
    let access_keys = access_keys(raw.access_keys, &base)?;
    let log_json = match raw.log.format.as_deref() {
        None | Some("human") => false,
        Some("json") => true,
        Some(other) => {
            return Err(FieldError::new(
                "log.format",
                format!("unknown format {other:?} (expected \"human\" or \"json\")"),
            ));
        }
    };
    let admin = raw.admin;
    let console = console_settings(&admin)?;
    let mut admin_tokens = Vec::new();
    if admin.token.is_some() || admin.token_env.is_some() || admin.token_file.is_some() {
        let token = secret("admin.token", admin.token, admin.token_env, admin.token_file, &base)?;
        admin_tokens.push(AdminToken { name: "admin".into(), role: AdminRole::Admin, sha256: token_sha256(&token) });
    }
    for (i, t) in raw.admin_tokens.into_iter().enumerate() {
        admin_tokens.push(admin_token(i, t, &base, &admin_tokens)?);
    }
    let w = &raw.workers;
    let secs = |v: Option<u64>, default: u64| Duration::from_secs(v.unwrap_or(default).max(1));
    Ok(Config {
        s3_listen: listeners.s3,
        admin_listen: listeners.admin,
        console,
        tls: listeners.tls,
        admin_tls: listeners.admin_tls,
        block_public_access: raw.server.block_public_access.unwrap_or(true),
        region: raw.server.region,
        domains,
        default_policy: raw.server.default_policy,
        metadata,
        keys,
        dek_cache,
        providers,
        policies,
        access_keys,
        gc_interval: secs(w.gc_interval_secs, 10),
        deletion_overdue: Duration::from_secs(w.deletion_overdue_secs.unwrap_or(3600)),
        intent_ttl: Duration::from_secs(w.intent_ttl_secs.unwrap_or(24 * 3600)),
        health_interval: secs(w.health_interval_secs, 10),
        repair_interval: secs(w.repair_interval_secs, 5),
        repair_claim: secs(w.repair_claim_secs, 300),
        checkpoints: CheckpointSettings {
            every: secs(w.checkpoint_interval_secs, 600),
            settle: secs(w.checkpoint_settle_secs, 60),
            min_segments: w.checkpoint_min_segments.unwrap_or(256).max(1),
        },
        scrub_interval: secs(w.scrub_interval_secs, 24 * 3600),
        usage_interval: secs(w.usage_interval_secs, 300),
        evacuation_interval: secs(w.evacuation_interval_secs, 3600),
        lifecycle_interval: secs(w.lifecycle_interval_secs, 3600),
        lifecycle_day: secs(w.lifecycle_day_secs, 24 * 3600),
        conversion_grace: Duration::from_secs(w.conversion_grace_secs.unwrap_or(600)),
        scrub: scrub_settings(w)?,
        max_connections: raw.limits.max_connections.unwrap_or(1024),
        shutdown_grace: Duration::from_secs(raw.limits.shutdown_grace_secs.unwrap_or(30)),
        header_read_timeout: secs(raw.limits.header_read_timeout_secs, 30),
        body_read_timeout: secs(raw.limits.body_read_timeout_secs, 60),
        http2_max_streams: raw.limits.http2_max_streams.unwrap_or(64).max(1),
        log_json,
        log_level: raw.log.level.unwrap_or_else(|| "info".into()),
        admin_tokens,
    })
}

/// The listeners of `[server]`.
struct Listeners {
    s3: SocketAddr,
    admin: Option<SocketAddr>,
    tls: Option<(PathBuf, PathBuf)>,
    admin_tls: Option<(PathBuf, PathBuf)>,
}

fn listeners(server: &raw::RawServer, base: &Path) -> Result<Listeners, FieldError> {
    let address = |field: &str, text: &str| {
        text.parse::<SocketAddr>()
            .map_err(|e| FieldError::caused(format!("server.{field}"), format!("not an address: {text:?}"), e))
    };
    let pair = |field: &str, cert: &Option<String>, key: &Option<String>| match (cert, key) {
        (Some(c), Some(k)) => Ok(Some((base.join(c), base.join(k)))),
        (None, None) => Ok(None),
        _ => Err(FieldError::new(
            format!("server.{field}_cert_file"),
            format!("give both {field}_cert_file and {field}_key_file, or neither"),
        )),
    };
    Ok(Listeners {
        s3: address("s3_listen", &server.s3_listen)?,
        admin: server.admin_listen.as_deref().map(|a| address("admin_listen", a)).transpose()?,
        tls: pair("tls", &server.tls_cert_file, &server.tls_key_file)?,
        admin_tls: pair("admin_tls", &server.admin_tls_cert_file, &server.admin_tls_key_file)?,
    })
}

fn metadata_engine(m: &raw::RawMetadata, base: &Path) -> Result<MetadataEngine, FieldError> {
    Ok(match m.engine.as_str() {
        "rocksdb" => {
            let path = m
                .path
                .as_deref()
                .ok_or_else(|| FieldError::new("metadata.path", "required for engine = \"rocksdb\""))?;
            MetadataEngine::Rocksdb(base.join(path))
        }
        "memory" => MetadataEngine::Memory,
        "postgres" => MetadataEngine::Postgres(Box::new(postgres_settings(m, base)?)),
        other => {
            return Err(FieldError::new(
                "metadata.engine",
                format!("unknown engine {other:?} (expected \"rocksdb\", \"postgres\" or \"memory\")"),
            ));
        }
    })
}

fn policies(
    raw: Vec<raw::RawPolicy>,
    providers: usize,
    default_policy: &str,
) -> Result<HashMap<String, ResidencyPolicy>, FieldError> {
    let mut policies = HashMap::new();
    for (i, p) in raw.into_iter().enumerate() {
        let policy = policy(i, p)?;
        if usize::from(policy.replicas) > providers {
            return Err(FieldError::new(
                format!("policy[{i}].replicas"),
                format!("{} replicas but only {providers} providers", policy.replicas),
            ));
        }
        policies.insert(policy.id.clone(), policy);
    }
    if !policies.contains_key(default_policy) {
        return Err(FieldError::new("server.default_policy", format!("no [[policy]] with id {default_policy:?}")));
    }
    Ok(policies)
}

fn access_keys(raw: Vec<raw::RawAccessKey>, base: &Path) -> Result<Vec<AccessKey>, FieldError> {
    let mut access_keys =
        raw.into_iter().enumerate().map(|(i, k)| access_key(i, k, base)).collect::<Result<Vec<_>, _>>()?;
    if let (Ok(id), Ok(secret)) = (std::env::var("SOUVERAIN_ACCESS_KEY"), std::env::var("SOUVERAIN_SECRET_KEY")) {
        access_keys.push(AccessKey { id, secret, user: None });
    }
    if access_keys.is_empty() {
        return Err(FieldError::new(
            "access_key",
            "at least one [[access_key]] (or SOUVERAIN_ACCESS_KEY/SOUVERAIN_SECRET_KEY) is required",
        ));
    }
    Ok(access_keys)
}

fn admin_token(i: usize, t: raw::RawAdminToken, base: &Path, earlier: &[AdminToken]) -> Result<AdminToken, FieldError> {
    let field = |f: &str| format!("admin_token[{i}].{f}");
    let name = UserName::parse(&t.name).map_err(|e| FieldError::new(field("name"), e.to_string()))?;
    if earlier.iter().any(|e| e.name == name.as_str()) {
        return Err(FieldError::new(field("name"), format!("{name} is named twice (\"admin\" is [admin] token's)")));
    }
    let role = AdminRole::parse(&t.role).map_err(|e| FieldError::new(field("role"), e.to_string()))?;
    let token = secret(&field("token"), t.token, t.token_env, t.token_file, base)?;
    if token.len() < 16 {
        return Err(FieldError::new(field("token"), "must be at least 16 characters"));
    }
    Ok(AdminToken { name: name.to_string(), role, sha256: token_sha256(&token) })
}

/// `[admin]`'s settings of the web console.
fn console_settings(admin: &raw::RawAdmin) -> Result<ConsoleSettings, FieldError> {
    Ok(ConsoleSettings {
        prometheus_url: admin.prometheus_url.as_deref().map(prometheus_url).transpose()?,
        report_pdf: match (admin.report_pdf.as_deref(), admin.chromium.clone()) {
            (None | Some("builtin"), None) => ReportPdf::Builtin,
            (Some("chromium"), program) => ReportPdf::Chromium(program.unwrap_or_else(|| "chromium".into())),
            (None | Some("builtin"), Some(_)) => {
                return Err(FieldError::new("admin.chromium", "only with report_pdf = \"chromium\""));
            }
            (Some(other), _) => {
                return Err(FieldError::new(
                    "admin.report_pdf",
                    format!("{other:?} (expected \"builtin\" or \"chromium\")"),
                ));
            }
        },
    })
}

/// `admin.prometheus_url`: an `http://` or `https://` base URL with a host, kept without its
/// trailing slash (the console appends `/api/v1/alerts`).
fn prometheus_url(url: &str) -> Result<String, FieldError> {
    let bad = |why: &str| FieldError::new("admin.prometheus_url", format!("{url:?}: {why}"));
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("expected an http:// or https:// URL"));
    }
    if uri.host().is_none_or(str::is_empty) || uri.query().is_some() {
        return Err(bad("expected a base URL such as http://127.0.0.1:9090"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn scrub_settings(w: &raw::RawWorkers) -> Result<ScrubSettings, FieldError> {
    let verify_fraction = w.scrub_verify_fraction.unwrap_or(0.01);
    if !(0.0..=1.0).contains(&verify_fraction) {
        return Err(FieldError::new("workers.scrub_verify_fraction", "must be between 0.0 and 1.0"));
    }
    Ok(ScrubSettings { rate_bytes_per_sec: w.scrub_rate_bytes_per_sec.unwrap_or(10 << 20).max(1), verify_fraction })
}

/// Scrubber settings.
#[derive(Debug, Clone, Copy)]
pub struct ScrubSettings {
    /// Bytes per second read for hash checks.
    pub rate_bytes_per_sec: u64,
    /// Fraction of streams (0.0–1.0) whose replicas are read and hashed each pass.
    pub verify_fraction: f64,
}

fn access_key(i: usize, k: raw::RawAccessKey, base: &Path) -> Result<AccessKey, FieldError> {
    let secret = secret(&format!("access_key[{i}].secret"), k.secret, k.secret_env, k.secret_file, base)?;
    if k.id.is_empty() {
        return Err(FieldError::new(format!("access_key[{i}].id"), "must not be empty"));
    }
    let field = |f: &str| format!("access_key[{i}].{f}");
    let user = match k.user {
        None if k.create_buckets.is_some() || k.policies.is_some() || !k.grants.is_empty() => {
            return Err(FieldError::new(field("user"), "grants, create_buckets and policies need a user"));
        }
        None => None,
        Some(name) => {
            let name = UserName::parse(&name).map_err(|e| FieldError::new(field("user"), e.to_string()))?;
            let mut grants = Vec::new();
            for (bucket, perms) in k.grants {
                let perms = Perms::parse(&perms).map_err(|e| FieldError::new(field("grants"), e.to_string()))?;
                grants.push((bucket, perms));
            }
            let caps = UserCaps { create_buckets: k.create_buckets.unwrap_or(false), policies: k.policies };
            Some(KeyUser { name, caps, grants })
        }
    };
    Ok(AccessKey { id: k.id, secret, user })
}

/// When the metadata log's buckets are checkpointed (`metalog::checkpoint`).
#[derive(Debug, Clone, Copy)]
pub struct CheckpointSettings {
    /// Time between passes.
    pub every: Duration,
    /// How old a drawn sequence number must be to serve as a checkpoint's `through`.
    pub settle: Duration,
    /// A bucket is checkpointed once this many of its segments, holding at least as many bytes
    /// as its last checkpoint, came after its last checkpoint; at once if any of its segments
    /// is outside its placement or under another KEK than its own.
    pub min_segments: usize,
}

#[cfg(test)]
mod tests;
