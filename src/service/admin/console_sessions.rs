//! Console sessions kept in the metadata store: the browser's cookie holds only a random
//! secret, the store keeps the SHA-256 of it with the SHA-256 of the admin token that logged
//! in. So the cookie never carries the admin token (a stolen cookie is one session, not the
//! token), a logout ends the session on every gateway sharing the store, deleting the token
//! ends its sessions, and a session ends [`SESSION_SECS`] after login whatever the browser
//! keeps. Sessions are not logged to the providers: a rebuilt store logs everyone out.

use zeroize::Zeroizing;

use super::AdminOps;
use crate::access::Principal;
use crate::error::{ErrorKind, Result};
use crate::model::access::{ConsoleSession, token_sha256};
use crate::model::random_array;

/// How long a login lasts, in seconds.
pub const SESSION_SECS: u64 = 8 * 3600;
/// A session issued this far in the future (another gateway's clock) still counts.
const CLOCK_SKEW_SECS: u64 = 60;

/// A session's secret, as the cookie carries it (64 hex digits); never logged or shown.
pub struct SessionSecret(Zeroizing<String>);

impl SessionSecret {
    /// The secret as sent in the cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

/// The store's id of the session whose cookie holds `secret`.
fn session_id(secret: &str) -> [u8; 32] {
    token_sha256(secret)
}

impl AdminOps {
    /// Logs `bearer` in at `now_secs`: a new session's secret and who it is; `None` when
    /// `bearer` is no admin token. Sessions older than [`SESSION_SECS`] are removed meanwhile.
    pub async fn console_login(&self, bearer: &str, now_secs: u64) -> Result<Option<(SessionSecret, Principal)>> {
        let token_sha256 = token_sha256(bearer);
        let Some(principal) = self.admin_principal_by_hash(&token_sha256).await? else { return Ok(None) };
        let random: [u8; 32] = random_array().map_err(|_| ErrorKind::internal("drawing a session secret"))?;
        let secret = SessionSecret(Zeroizing::new(hex::encode(random)));
        let session = ConsoleSession { token_sha256, issued_secs: now_secs };
        let expired_before = now_secs.saturating_sub(SESSION_SECS);
        self.meta.start_console_session(session_id(secret.expose()), session, expired_before).await?;
        Ok(Some((secret, principal)))
    }

    /// Who the session whose cookie holds `secret` is, at `now_secs`: `None` when there is no
    /// such session, it is [`SESSION_SECS`] old, or its admin token no longer exists.
    pub async fn console_session(&self, secret: &str, now_secs: u64) -> Result<Option<Principal>> {
        let Some(session) = self.meta.console_session(session_id(secret)).await? else { return Ok(None) };
        let fresh = session.issued_secs <= now_secs.saturating_add(CLOCK_SKEW_SECS)
            && now_secs.saturating_sub(session.issued_secs) < SESSION_SECS;
        if !fresh {
            return Ok(None);
        }
        self.admin_principal_by_hash(&session.token_sha256).await
    }

    /// Ends the session whose cookie holds `secret` (on every gateway).
    pub async fn console_logout(&self, secret: &str) -> Result<()> {
        self.meta.end_console_session(session_id(secret)).await?;
        Ok(())
    }
}
