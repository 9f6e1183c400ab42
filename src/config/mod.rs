//! Validated configuration. Every error is one line naming the offending field.

pub mod raw;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::backend::s3::S3ProviderConfig;
use crate::backend::s3::dialect::{Dialect, PayloadSigning};
use crate::keys::transit::{TransitAuth, TransitConfig};
use crate::meta::postgres::PgSettings;
use crate::model::{Certification, CountryCode, Distinct, ProviderId, ProviderInfo, ResidencyPolicy, expand_countries};

pub use raw::RawConfig;

/// A configuration problem, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    file: String,
    message: String,
}

/// Where metadata lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataEngine {
    /// RocksDB at this directory.
    Rocksdb(PathBuf),
    /// PostgreSQL, shared by several gateways.
    Postgres(Box<PgSettings>),
    /// In memory (tests).
    Memory,
}

/// How a provider is reached.
#[derive(Debug, Clone)]
pub enum ProviderKind {
    /// A local directory.
    Fs(PathBuf),
    /// A remote S3 service.
    S3(Box<S3ProviderConfig>),
}

/// A configured provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Catalog entry.
    pub info: ProviderInfo,
    /// How to reach it.
    pub kind: ProviderKind,
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

fn country(field: &str, code: &str) -> Result<CountryCode, String> {
    CountryCode::parse(code).ok_or_else(|| format!("{field}: {code:?} is not an ISO 3166-1 alpha-2 code"))
}

fn provider(i: usize, p: raw::RawProvider, base: &Path) -> Result<ProviderConfig, String> {
    let field = |f: &str| format!("provider[{i}].{f}");
    let id =
        ProviderId::parse(&p.id).ok_or_else(|| format!("{}: {:?} must match [a-z0-9-]{{1,32}}", field("id"), p.id))?;
    let jurisdictions =
        p.jurisdictions.iter().map(|j| country(&field("jurisdictions"), j)).collect::<Result<_, _>>()?;
    let certifications = certifications(&field("certifications"), p.certifications)?;
    let info = ProviderInfo {
        id,
        country: country(&field("country"), &p.country)?,
        independence_group: p.independence_group.unwrap_or_else(|| p.operator.clone()),
        operator: p.operator,
        jurisdictions,
        exposures: p.exposures,
        certifications,
        retired: false,
    };
    let required =
        |v: Option<String>, f: &str| v.ok_or_else(|| format!("{}: required for kind = {:?}", field(f), p.kind));
    let kind = match p.kind.as_str() {
        "fs" => ProviderKind::Fs(base.join(required(p.path, "path")?)),
        "s3" => {
            let dialect_name = p.dialect.as_deref().unwrap_or("conservative");
            let mut dialect = Dialect::by_name(dialect_name).ok_or_else(|| {
                format!(
                    "{}: unknown dialect {dialect_name:?} (conservative, ovh, scaleway, hetzner, ionos, exoscale)",
                    field("dialect")
                )
            })?;
            if let Some(size) = p.part_size {
                if size < 5 << 20 {
                    return Err(format!("{}: must be at least 5 MiB (5242880)", field("part_size")));
                }
                dialect.part_size = size;
            }
            if let Some(size) = p.max_put_size {
                if size < dialect.part_size {
                    return Err(format!(
                        "{}: must be at least the part size ({})",
                        field("max_put_size"),
                        dialect.part_size
                    ));
                }
                dialect.max_put_size = size;
            }
            if p.signed_payload == Some(true) {
                dialect.payload = PayloadSigning::StreamingSigned;
            }
            let endpoint = required(p.endpoint, "endpoint")?;
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(format!(
                    "{}: {endpoint:?} must start with https:// (or http:// for local tests)",
                    field("endpoint")
                ));
            }
            if endpoint.starts_with("http://") && !loopback_endpoint(&endpoint) && p.allow_insecure_http != Some(true) {
                return Err(format!(
                    "{}: {endpoint:?} is plain http:// to a host that is not loopback: ciphertext, request \
                     signatures and the provider's responses would cross the network unprotected; use \
                     https://, or set {} = true to accept that risk",
                    field("endpoint"),
                    field("allow_insecure_http")
                ));
            }
            S3ProviderConfig {
                endpoint,
                bucket: required(p.bucket, "bucket")?,
                region: required(p.region, "region")?,
                dialect,
                access_key: required(p.access_key, "access_key")?,
                secret_key: secret(&field("secret"), p.secret, p.secret_env, p.secret_file, base)?,
                ca_file: p.ca_file.map(|f| base.join(f)),
            }
            .into()
        }
        other => {
            return Err(format!("{}: unknown kind {other:?} (expected \"fs\" or \"s3\")", field("kind")));
        }
    };
    Ok(ProviderConfig { info, kind })
}

/// True when an `http://` or `https://` URL names a loopback host (`localhost`, 127.0.0.0/8,
/// `[::1]`): traffic that never leaves the machine.
pub fn loopback_endpoint(url: &str) -> bool {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    crate::tls_client::loopback_host(host)
}

impl From<S3ProviderConfig> for ProviderKind {
    fn from(c: S3ProviderConfig) -> Self {
        ProviderKind::S3(Box::new(c))
    }
}

/// Where the KEKs are.
#[derive(Debug, Clone)]
pub enum KeyConfig {
    /// A local key file.
    Local {
        /// The file (created at first start).
        key_file: PathBuf,
    },
    /// A Vault/OpenBao transit engine.
    Transit(TransitConfig),
}

fn key_config(k: raw::RawKeys, base: &Path) -> Result<KeyConfig, String> {
    match k.provider.as_str() {
        "local" => {
            let file = k.key_file.ok_or("keys.key_file: required for provider = \"local\"")?;
            Ok(KeyConfig::Local { key_file: base.join(file) })
        }
        "transit" => {
            let address = k.address.ok_or("keys.address: required for provider = \"transit\"")?;
            if !(address.starts_with("https://") || address.starts_with("http://127.0.0.1:")) {
                return Err(format!("keys.address: {address:?} must be https:// (http only to 127.0.0.1)"));
            }
            let token_given = k.token.is_some() || k.token_env.is_some() || k.token_file.is_some();
            let auth = match (token_given, k.approle_role_id) {
                (true, None) => {
                    TransitAuth::Token(Zeroizing::new(secret("keys.token", k.token, k.token_env, k.token_file, base)?))
                }
                (false, Some(role_id)) => TransitAuth::AppRole {
                    role_id,
                    secret_id: Zeroizing::new(secret(
                        "keys.approle_secret_id",
                        k.approle_secret_id,
                        k.approle_secret_id_env,
                        k.approle_secret_id_file,
                        base,
                    )?),
                },
                _ => {
                    return Err(
                        "keys.token: give a token (token, token_env, token_file) or approle_role_id, not both".into()
                    );
                }
            };
            Ok(KeyConfig::Transit(TransitConfig {
                address,
                mount: k.mount.unwrap_or_else(|| "transit".into()),
                kek: k.kek.unwrap_or_else(|| "souverain".into()),
                auth,
                ca_file: k.ca_file.map(|f| base.join(f)),
                timeout: Duration::from_secs(k.timeout_secs.unwrap_or(10).max(1)),
            }))
        }
        other => Err(format!("keys.provider: unknown key provider {other:?} (expected \"local\" or \"transit\")")),
    }
}

fn postgres_settings(m: &raw::RawMetadata, base: &Path) -> Result<PgSettings, String> {
    let url = m.url.clone().ok_or("metadata.url: required for engine = \"postgres\"")?;
    PgSettings::parse_url(&url)?;
    let password = match (&m.password, &m.password_env, &m.password_file) {
        (None, None, None) => None,
        _ => Some(Zeroizing::new(secret(
            "metadata.password",
            m.password.clone(),
            m.password_env.clone(),
            m.password_file.clone(),
            base,
        )?)),
    };
    let settings = PgSettings {
        url,
        password,
        ca_file: m.ca_file.as_deref().map(|f| base.join(f)),
        pool_size: m.pool_size.unwrap_or(16),
        allow_plaintext: m.allow_plaintext == Some(true),
    };
    settings.connection_config()?;
    Ok(settings)
}

/// Exactly one of an inline secret, an environment variable or a private file.
fn secret(
    field: &str,
    inline: Option<raw::SecretText>,
    env: Option<String>,
    file: Option<String>,
    base: &Path,
) -> Result<String, String> {
    let value = match (inline, env, file) {
        (Some(s), None, None) => s.into_inner(),
        (None, Some(var), None) => {
            std::env::var(&var).map_err(|_| format!("{field}_env: environment variable {var} is not set"))?
        }
        (None, None, Some(file)) => {
            let path = base.join(file);
            let meta = std::fs::metadata(&path).map_err(|e| format!("{field}_file: {}: {e}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{field}_file: {} must not be readable by group or others (chmod 600)",
                    path.display()
                ));
            }
            std::fs::read_to_string(&path).map_err(|e| format!("{field}_file: {e}"))?.trim().to_owned()
        }
        _ => {
            return Err(format!("{field}: give exactly one of secret, secret_env, secret_file"));
        }
    };
    if value.is_empty() {
        return Err(format!("{field}: must not be empty"));
    }
    Ok(value)
}

/// Validates certifications (dates are `YYYY-MM-DD`).
fn certifications(field: &str, raw: Vec<raw::RawCertification>) -> Result<Vec<Certification>, String> {
    let mut out = Vec::new();
    for c in raw {
        let ok = time::Date::parse(&c.valid_until, time::macros::format_description!("[year]-[month]-[day]")).is_ok();
        if !ok {
            return Err(format!("{field}.valid_until: {:?} is not a YYYY-MM-DD date", c.valid_until));
        }
        out.push(Certification { scheme: c.scheme, valid_until: c.valid_until });
    }
    Ok(out)
}

/// Scrubber settings.
#[derive(Debug, Clone, Copy)]
pub struct ScrubSettings {
    /// Bytes per second read for hash checks.
    pub rate_bytes_per_sec: u64,
    /// Fraction of streams (0.0–1.0) whose replicas are read and hashed each pass.
    pub verify_fraction: f64,
}

/// A change of a provider's residency attributes, as the admin API takes it (JSON): the
/// fields given replace the current ones, validated as in the config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderUpdate {
    /// ISO 3166-1 alpha-2 country of the data centre.
    pub country: Option<String>,
    /// Contracting legal entity.
    pub operator: Option<String>,
    /// Countries of the ownership chain.
    pub jurisdictions: Option<Vec<String>>,
    /// Extraterritorial laws the chain is subject to.
    pub exposures: Option<Vec<String>>,
    /// Failure and legal domain.
    pub independence_group: Option<String>,
    /// Certifications with expiry dates.
    pub certifications: Option<Vec<raw::RawCertification>>,
    /// Retired: ineligible under every policy (its replicas are evacuated).
    pub retired: Option<bool>,
}

impl ProviderUpdate {
    /// `current` with this update applied, or a one-line error naming the field.
    pub fn apply(self, current: &ProviderInfo) -> Result<ProviderInfo, String> {
        let mut p = current.clone();
        if let Some(c) = self.country {
            p.country = country("country", &c)?;
        }
        if let Some(o) = self.operator {
            if o.trim().is_empty() {
                return Err("operator: must not be empty".into());
            }
            p.operator = o;
        }
        if let Some(j) = self.jurisdictions {
            p.jurisdictions = j.iter().map(|c| country("jurisdictions", c)).collect::<Result<_, _>>()?;
        }
        if let Some(e) = self.exposures {
            p.exposures = e;
        }
        if let Some(g) = self.independence_group {
            p.independence_group = g;
        }
        if let Some(c) = self.certifications {
            p.certifications = certifications("certifications", c)?;
        }
        if let Some(r) = self.retired {
            p.retired = r;
        }
        Ok(p)
    }
}

/// Validates a policy given to the admin API (JSON, the fields of a `[[policy]]` section).
pub fn parse_policy(raw: raw::RawPolicy) -> Result<ResidencyPolicy, String> {
    policy_with(|f| f.to_owned(), raw)
}

fn policy(i: usize, p: raw::RawPolicy) -> Result<ResidencyPolicy, String> {
    policy_with(|f| format!("policy[{i}].{f}"), p)
}

fn policy_with(field: impl Fn(&str) -> String, p: raw::RawPolicy) -> Result<ResidencyPolicy, String> {
    if p.id.is_empty() || p.id.len() > 63 || !p.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(format!("{}: {:?} must be 1 to 63 letters, digits or '-'", field("id"), p.id));
    }
    if !(1..=7).contains(&p.replicas) {
        return Err(format!("{}: must be between 1 and 7", field("replicas")));
    }
    if p.write_quorum < 1 || p.write_quorum > p.replicas {
        return Err(format!("{}: must be between 1 and replicas ({})", field("write_quorum"), p.replicas));
    }
    let eu_eea = || vec!["EU".to_owned(), "EEA".to_owned()];
    let countries = |f: &str, v: Vec<String>| {
        expand_countries(&v)
            .ok_or_else(|| format!("{}: {v:?} holds a value that is not a country code, EU or EEA", field(f)))
    };
    let distinct = match p.distinct.as_deref().unwrap_or("independence_group") {
        "independence_group" => Distinct::IndependenceGroup,
        "operator" => Distinct::Operator,
        "country" => Distinct::Country,
        "none" => Distinct::None,
        other => {
            return Err(format!(
                "{}: {other:?} (expected independence_group, operator, country or none)",
                field("distinct")
            ));
        }
    };
    let min_countries = p.min_distinct_countries.unwrap_or(1);
    let min_operators = p.min_distinct_operators.unwrap_or(1);
    if min_countries > p.replicas || min_operators > p.replicas {
        return Err(format!("{}: minimums cannot exceed replicas ({})", field("min_distinct_countries"), p.replicas));
    }
    Ok(ResidencyPolicy {
        id: p.id,
        allowed_countries: countries("allowed_countries", p.allowed_countries.unwrap_or_else(eu_eea))?,
        allowed_jurisdictions: countries("allowed_jurisdictions", p.allowed_jurisdictions.unwrap_or_else(eu_eea))?,
        forbid_exposures: p.forbid_exposures.unwrap_or_else(|| vec!["us-cloud-act".into(), "us-fisa-702".into()]),
        replicas: p.replicas,
        write_quorum: p.write_quorum,
        distinct,
        min_distinct_countries: min_countries,
        min_distinct_operators: min_operators,
        required_certifications: p.required_certifications,
    })
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
