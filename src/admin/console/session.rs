//! The console's cookie `sv_console` (`Secure`, `HttpOnly`, `SameSite=Strict`, scoped to
//! `/console`, set by the login form's POST, never readable by a script): a random session
//! secret, whose session the metadata store keeps (`service::admin::console_sessions`: never
//! the admin token itself, ended by a logout on every gateway, by the token's deletion, and 8
//! hours after login); and the CSRF token every change must carry: an HMAC of a fixed label
//! keyed by that secret. A page of another site can neither read nor compute either.

use http::HeaderMap;
use ring::hmac;

use crate::service::admin::SESSION_SECS;

/// The cookie's name.
const COOKIE: &str = "sv_console";
/// What the CSRF token authenticates.
const CSRF_LABEL: &[u8] = b"souverain/console/csrf/v2";

fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

/// The session secret the request's cookie carries, if it has the shape of one (64 hex
/// digits; whether a session has it is the store's to say).
pub(super) fn secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// The `Set-Cookie` value of a new session.
pub(super) fn login_cookie(secret: &str) -> String {
    format!("{COOKIE}={secret}; Path=/console; Max-Age={SESSION_SECS}; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value that logs out.
pub(super) fn logout_cookie() -> String {
    format!("{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The CSRF token of a session.
pub(super) fn csrf(secret: &str) -> String {
    hex::encode(hmac::sign(&key(secret), CSRF_LABEL).as_ref())
}

/// `given` is the session's CSRF token (compared in constant time).
pub(super) fn csrf_ok(secret: &str, given: &str) -> bool {
    hex::decode(given).is_ok_and(|tag| hmac::verify(&key(secret), CSRF_LABEL, &tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie_header(set: &str) -> HeaderMap {
        let value = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, format!("other=1; {value}").parse().unwrap());
        headers
    }

    /// Promise: the cookie set at login reads back as its secret, and nothing that is not 64
    /// hex digits is taken for one; a CSRF token is accepted for its own session only.
    #[test]
    fn the_cookie_carries_the_session_secret_and_csrf_binds_to_it() {
        let secret = "a1".repeat(32);
        let set = login_cookie(&secret);
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
        assert!(set.contains(&format!("Max-Age={SESSION_SECS}")));
        assert_eq!(self::secret(&cookie_header(&set)).as_deref(), Some(secret.as_str()));
        for bad in ["sv_console=abc", "sv_console=", &format!("sv_console={}zz", "a".repeat(62))] {
            assert_eq!(self::secret(&cookie_header(bad)), None, "{bad}");
        }
        assert!(csrf_ok(&secret, &csrf(&secret)));
        assert!(!csrf_ok(&"b2".repeat(32), &csrf(&secret)));
        assert!(!csrf_ok(&secret, "00"));
        assert!(!csrf_ok(&secret, "not hex"));
    }
}
