//! The console's session: a cookie `sv_console` (`Secure`, `HttpOnly`, `SameSite=Strict`,
//! scoped to `/console`, set by the login form's POST, never readable by a script) holding the
//! admin token with the time it was issued and a MAC over both keyed by the token, so the
//! server itself ends a session 8 hours after login (a copied cookie does not outlive it),
//! whatever the browser keeps; and the CSRF token every change must carry: an HMAC of a fixed
//! label keyed by the admin token. Neither needs server state (every gateway of a deployment
//! accepts them), and a page of another site can neither read nor compute them.

use http::HeaderMap;
use ring::hmac;

/// The cookie's name.
const COOKIE: &str = "sv_console";
/// How long a login lasts, in seconds.
pub(super) const SESSION_SECS: u64 = 8 * 3600;
/// A session issued this far in the future (another gateway's clock) still counts.
const CLOCK_SKEW_SECS: u64 = 60;
/// What the CSRF token authenticates.
const CSRF_LABEL: &[u8] = b"souverain/console/csrf/v1";
/// What the session MAC authenticates (then the issue time).
const SESSION_LABEL: &[u8] = b"souverain/console/session/v1";

fn key(token: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes())
}

fn session_message(issued: u64) -> Vec<u8> {
    [SESSION_LABEL, b"\0", issued.to_string().as_bytes()].concat()
}

/// The admin token of the request's session, if its cookie is intact and was issued less than
/// [`SESSION_SECS`] before `now_secs`.
pub(super) fn token(headers: &HeaderMap, now_secs: u64) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .find_map(|value| valid(value, now_secs))
}

fn valid(value: &str, now_secs: u64) -> Option<String> {
    let mut parts = value.split('.');
    let (issued, token, mac) = (parts.next()?, parts.next()?, parts.next()?);
    let issued: u64 = issued.parse().ok()?;
    let token = String::from_utf8(hex::decode(token).ok()?).ok()?;
    let fresh = issued <= now_secs.saturating_add(CLOCK_SKEW_SECS) && now_secs.saturating_sub(issued) < SESSION_SECS;
    let authentic = hmac::verify(&key(&token), &session_message(issued), &hex::decode(mac).ok()?).is_ok();
    (parts.next().is_none() && fresh && authentic).then_some(token)
}

/// The `Set-Cookie` value that logs `token` in at `now_secs`.
pub(super) fn login_cookie(token: &str, now_secs: u64) -> String {
    let mac = hex::encode(hmac::sign(&key(token), &session_message(now_secs)).as_ref());
    format!(
        "{COOKIE}={now_secs}.{}.{mac}; Path=/console; Max-Age={SESSION_SECS}; HttpOnly; Secure; SameSite=Strict",
        hex::encode(token)
    )
}

/// The `Set-Cookie` value that logs out.
pub(super) fn logout_cookie() -> String {
    format!("{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

/// The CSRF token of a session.
pub(super) fn csrf(token: &str) -> String {
    hex::encode(hmac::sign(&key(token), CSRF_LABEL).as_ref())
}

/// `given` is the session's CSRF token (compared in constant time).
pub(super) fn csrf_ok(token: &str, given: &str) -> bool {
    hex::decode(given).is_ok_and(|tag| hmac::verify(&key(token), CSRF_LABEL, &tag).is_ok())
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

    /// Promise: the cookie set at login is read back as the same token (whatever its
    /// characters) for 8 hours and not after, nor when its time or token was altered; a CSRF
    /// token is accepted for its own session only.
    #[test]
    fn the_cookie_carries_the_token_for_eight_hours_and_csrf_binds_to_it() {
        let token = "tök;en =with,odd\"chars";
        let t0 = 1_800_000_000;
        let set = login_cookie(token, t0);
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
        let headers = cookie_header(&set);
        assert_eq!(self::token(&headers, t0).as_deref(), Some(token));
        assert_eq!(self::token(&headers, t0 + SESSION_SECS - 1).as_deref(), Some(token));
        assert_eq!(self::token(&headers, t0 + SESSION_SECS), None, "expired");
        assert_eq!(self::token(&headers, t0 - 3600), None, "issued in the future");
        let later = set.replacen(&t0.to_string(), &(t0 + 3600).to_string(), 1);
        assert_eq!(self::token(&cookie_header(&later), t0 + SESSION_SECS + 10), None, "issue time altered");
        let other = login_cookie("another token", t0);
        let mac = other.split(';').next().unwrap().rsplit('.').next().unwrap();
        let forged = format!("{}.{mac}", set.split(';').next().unwrap().rsplit_once('.').unwrap().0);
        assert_eq!(self::token(&cookie_header(&forged), t0), None, "MAC of another token");
        assert!(csrf_ok(token, &csrf(token)));
        assert!(!csrf_ok("another token", &csrf(token)));
        assert!(!csrf_ok(token, "00"));
        assert!(!csrf_ok(token, "not hex"));
    }
}
