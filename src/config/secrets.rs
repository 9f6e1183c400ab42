//! Secrets in the config: exactly one of inline, an environment variable or a private file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::FieldError;
use super::raw;

/// Exactly one of an inline secret, an environment variable or a private file.
pub(super) fn secret(
    field: &str,
    inline: Option<raw::SecretText>,
    env: Option<String>,
    file: Option<String>,
    base: &Path,
) -> Result<String, FieldError> {
    let value = match (inline, env, file) {
        (Some(s), None, None) => s.into_inner(),
        (None, Some(var), None) => std::env::var(&var).map_err(|e| {
            FieldError::caused(format!("{field}_env"), format!("environment variable {var} is not usable"), e)
        })?,
        (None, None, Some(file)) => {
            let path = base.join(file);
            let unreadable = |e| FieldError::caused(format!("{field}_file"), path.display().to_string(), e);
            let meta = std::fs::metadata(&path).map_err(unreadable)?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(FieldError::new(
                    format!("{field}_file"),
                    format!("{} must not be readable by group or others (chmod 600)", path.display()),
                ));
            }
            std::fs::read_to_string(&path).map_err(unreadable)?.trim().to_owned()
        }
        _ => {
            return Err(FieldError::new(field, "give exactly one of secret, secret_env, secret_file"));
        }
    };
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    Ok(value)
}
