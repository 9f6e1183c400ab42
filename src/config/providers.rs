//! Providers: how each is reached, its catalog entry, and the admin API's changes to it.

use std::path::{Path, PathBuf};

use crate::backend::s3::S3ProviderConfig;
use crate::backend::s3::dialect::{Dialect, PayloadSigning};
use crate::model::{Certification, CountryCode, ProviderId, ProviderInfo, parse_day};

use super::error::FieldError;
use super::raw;
use super::secrets::secret;

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

pub(super) fn country(field: &str, code: &str) -> Result<CountryCode, FieldError> {
    CountryCode::parse(code)
        .ok_or_else(|| FieldError::new(field, format!("{code:?} is not an ISO 3166-1 alpha-2 code")))
}

pub(super) fn provider(i: usize, p: raw::RawProvider, base: &Path) -> Result<ProviderConfig, FieldError> {
    let field = |f: &str| format!("provider[{i}].{f}");
    let id = ProviderId::parse(&p.id)
        .ok_or_else(|| FieldError::new(field("id"), format!("{:?} must match [a-z0-9-]{{1,32}}", p.id)))?;
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
    let required = |v: Option<String>, f: &str| {
        v.ok_or_else(|| FieldError::new(field(f), format!("required for kind = {:?}", p.kind)))
    };
    let kind = match p.kind.as_str() {
        "fs" => ProviderKind::Fs(base.join(required(p.path, "path")?)),
        "s3" => {
            let dialect_name = p.dialect.as_deref().unwrap_or("conservative");
            let mut dialect = Dialect::by_name(dialect_name).ok_or_else(|| {
                FieldError::new(
                    field("dialect"),
                    format!("unknown dialect {dialect_name:?} (conservative, ovh, scaleway, hetzner, ionos, exoscale)"),
                )
            })?;
            if let Some(size) = p.part_size {
                if size < 5 << 20 {
                    return Err(FieldError::new(field("part_size"), "must be at least 5 MiB (5242880)"));
                }
                dialect.part_size = size;
            }
            if let Some(size) = p.max_put_size {
                if size < dialect.part_size {
                    return Err(FieldError::new(
                        field("max_put_size"),
                        format!("must be at least the part size ({})", dialect.part_size),
                    ));
                }
                dialect.max_put_size = size;
            }
            if p.signed_payload == Some(true) {
                dialect.payload = PayloadSigning::StreamingSigned;
            }
            let endpoint = required(p.endpoint, "endpoint")?;
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(FieldError::new(
                    field("endpoint"),
                    format!("{endpoint:?} must start with https:// (or http:// for local tests)"),
                ));
            }
            if endpoint.starts_with("http://") && !loopback_endpoint(&endpoint) && p.allow_insecure_http != Some(true) {
                return Err(FieldError::new(
                    field("endpoint"),
                    format!(
                        "{endpoint:?} is plain http:// to a host that is not loopback: ciphertext, request \
                         signatures and the provider's responses would cross the network unprotected; use \
                         https://, or set {} = true to accept that risk",
                        field("allow_insecure_http")
                    ),
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
            return Err(FieldError::new(field("kind"), format!("unknown kind {other:?} (expected \"fs\" or \"s3\")")));
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

/// Validates certifications (dates are `YYYY-MM-DD`).
pub(super) fn certifications(field: &str, raw: Vec<raw::RawCertification>) -> Result<Vec<Certification>, FieldError> {
    let mut out = Vec::new();
    for c in raw {
        let Some(valid_until) = parse_day(&c.valid_until) else {
            return Err(FieldError::new(
                format!("{field}.valid_until"),
                format!("{:?} is not a YYYY-MM-DD date", c.valid_until),
            ));
        };
        out.push(Certification { scheme: c.scheme, valid_until });
    }
    Ok(out)
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
    pub fn apply(self, current: &ProviderInfo) -> Result<ProviderInfo, FieldError> {
        let mut p = current.clone();
        if let Some(c) = self.country {
            p.country = country("country", &c)?;
        }
        if let Some(o) = self.operator {
            if o.trim().is_empty() {
                return Err(FieldError::new("operator", "must not be empty"));
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
