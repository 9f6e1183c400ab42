//! The console's session: the admin token, hex-encoded, in a `Secure`, `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/console` (set by the login form's POST, never readable
//! by a script), and the CSRF token every change must carry: an HMAC of a fixed label keyed by
//! the admin token. It needs no server state (every gateway of a deployment accepts it), and a
//! page of another site can neither read it nor compute it without the token.

use http::HeaderMap;
use ring::hmac;

/// The cookie's name.
const COOKIE: &str = "sv_console";
/// How long a login lasts (the browser drops the cookie after it).
const SESSION_SECS: u64 = 8 * 3600;
/// What the CSRF token authenticates.
const CSRF_LABEL: &[u8] = b"souverain/console/csrf/v1";

/// The admin token the request's session cookie holds, if any.
pub(super) fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .and_then(|hex_token| hex::decode(hex_token).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// The `Set-Cookie` value that logs `token` in.
pub(super) fn login_cookie(token: &str) -> String {
    format!("{COOKIE}={}; Path=/console; Max-Age={SESSION_SECS}; HttpOnly; Secure; SameSite=Strict", hex::encode(token))
}

/// The `Set-Cookie` value that logs out.
pub(super) fn logout_cookie() -> String {
    format!("{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The CSRF token of a session.
pub(super) fn csrf(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex::encode(hmac::sign(&key, CSRF_LABEL).as_ref())
}

/// `given` is the session's CSRF token (compared in constant time).
pub(super) fn csrf_ok(token: &str, given: &str) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex::decode(given).is_ok_and(|tag| hmac::verify(&key, CSRF_LABEL, &tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: the cookie set at login is read back as the same token (whatever its
    /// characters), and a CSRF token is accepted for its own session only.
    #[test]
    fn the_cookie_carries_the_token_and_csrf_binds_to_it() {
        let token = "tök;en =with,odd\"chars";
        let set = login_cookie(token);
        let value = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, format!("other=1; {value}").parse().unwrap());
        assert_eq!(self::token(&headers).as_deref(), Some(token));
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
        assert!(csrf_ok(token, &csrf(token)));
        assert!(!csrf_ok("another token", &csrf(token)));
        assert!(!csrf_ok(token, "00"));
        assert!(!csrf_ok(token, "not hex"));
    }
}
