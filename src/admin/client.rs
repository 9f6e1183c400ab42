//! One request over HTTP or HTTPS: the `souverain admin …` CLI's to the admin API, and the
//! console's to the Prometheus whose alerts it shows.

use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest answer read (the API returns small JSON documents).
const MAX_ANSWER: usize = 16 << 20;

/// Sends one request to the admin listener at `base` (`http://` or `https://host:port`), with
/// the bearer token when given and a JSON body when given; an HTTPS listener is verified
/// against the webpki roots plus `ca_file`. Returns the status and body.
pub async fn request(
    method: http::Method,
    base: &str,
    path: &str,
    token: Option<&str>,
    ca_file: Option<&Path>,
    json_body: Option<Vec<u8>>,
) -> Result<(u16, String), String> {
    let uri: http::Uri =
        format!("{}{path}", base.trim_end_matches('/')).parse().map_err(|e| format!("bad URL: {e}"))?;
    let mut req = http::Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if json_body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(Full::new(Bytes::from(json_body.unwrap_or_default()))).map_err(|e| e.to_string())?;
    let tls = crate::tls_client::client_config(ca_file)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("admin API unreachable at {base}: {}", crate::report::chain(&e)))?;
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
