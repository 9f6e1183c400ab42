//! Where metadata lives: RocksDB, PostgreSQL (with its credentials) or memory.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::meta::postgres::PgSettings;

use super::error::FieldError;
use super::raw;
use super::secrets::secret;

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

pub(super) fn postgres_settings(m: &raw::RawMetadata, base: &Path) -> Result<PgSettings, FieldError> {
    let refused = |e| FieldError::caused("metadata.url", "refused", e);
    let url = m.url.clone().ok_or_else(|| FieldError::new("metadata.url", "required for engine = \"postgres\""))?;
    PgSettings::parse_url(&url).map_err(refused)?;
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
    settings.connection_config().map_err(refused)?;
    Ok(settings)
}
