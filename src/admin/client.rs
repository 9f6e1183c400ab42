//! The `souverain admin …` CLI's side of the admin API: one authenticated GET.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Largest answer read (the API returns small JSON documents).
const MAX_ANSWER: usize = 16 << 20;

/// GETs `path` from the admin listener at `base` (`http://host:port`) with the bearer token;
/// returns the status and body.
pub async fn get(base: &str, path: &str, token: &str) -> Result<(u16, String), String> {
    let uri: http::Uri =
        format!("{}{path}", base.trim_end_matches('/')).parse().map_err(|e| format!("bad URL: {e}"))?;
    let req = http::Request::get(uri)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.map_err(|e| format!("admin API unreachable at {base}: {e}"))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_ANSWER).collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Percent-encodes a path segment (keys may hold any UTF-8).
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
