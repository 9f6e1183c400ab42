//! Where the KEKs are: the local key file or a transit KMS, with its credentials.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::keys::transit::{TransitAuth, TransitConfig};

use super::error::FieldError;
use super::raw;
use super::secrets::secret;

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

pub(super) fn key_config(k: raw::RawKeys, base: &Path) -> Result<KeyConfig, FieldError> {
    match k.provider.as_str() {
        "local" => {
            let file =
                k.key_file.ok_or_else(|| FieldError::new("keys.key_file", "required for provider = \"local\""))?;
            Ok(KeyConfig::Local { key_file: base.join(file) })
        }
        "transit" => {
            let address =
                k.address.ok_or_else(|| FieldError::new("keys.address", "required for provider = \"transit\""))?;
            if !(address.starts_with("https://") || address.starts_with("http://127.0.0.1:")) {
                return Err(FieldError::new(
                    "keys.address",
                    format!("{address:?} must be https:// (http only to 127.0.0.1)"),
                ));
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
                    return Err(FieldError::new(
                        "keys.token",
                        "give a token (token, token_env, token_file) or approle_role_id, not both",
                    ));
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
        other => Err(FieldError::new(
            "keys.provider",
            format!("unknown key provider {other:?} (expected \"local\" or \"transit\")"),
        )),
    }
}
