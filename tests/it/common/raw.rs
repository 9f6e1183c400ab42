//! A hand-rolled SigV4 HTTP/1.1 client over a plain TCP socket, for what SDKs will not send:
//! both aws-chunked trailer modes built byte by byte, tampered signatures, anonymous requests,
//! truncated bodies.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use ring::{digest, hmac};

use super::{ACCESS_KEY, REGION, SECRET_KEY};

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> Option<String> {
        let t = self.body_text();
        let start = t.find("<Code>")? + 6;
        let end = t[start..].find("</Code>")? + start;
        Some(t[start..end].to_owned())
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SigV4 signer for one request time.
pub struct Signer {
    pub amz_date: String,
    pub key: Vec<u8>,
    pub scope: String,
    pub access: String,
}

impl Signer {
    pub fn new(at: SystemTime) -> Self {
        Self::with_keys(at, ACCESS_KEY, SECRET_KEY)
    }

    pub fn with_keys(at: SystemTime, access: &str, secret: &str) -> Self {
        let t = time::OffsetDateTime::from(at);
        let date = format!("{:04}{:02}{:02}", t.year(), t.month() as u8, t.day());
        let amz_date = format!("{date}T{:02}{:02}{:02}Z", t.hour(), t.minute(), t.second());
        let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k_region = hmac_sha256(&k_date, REGION.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let key = hmac_sha256(&k_service, b"aws4_request");
        let scope = format!("{date}/{REGION}/s3/aws4_request");
        Self { amz_date, key, scope, access: access.into() }
    }

    /// Signs a header-authenticated request; adds host, x-amz-date, x-amz-content-sha256 and
    /// Authorization to `headers`. Returns the seed signature.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &mut Vec<(String, String)>,
        host: &str,
        payload_hash: &str,
    ) -> String {
        self.sign_canonical(method, &uri_encode(path, true), query, headers, host, payload_hash)
    }

    /// Like [`Signer::sign`] for a path sent already percent-encoded (its canonical URI is the
    /// path as sent), without a query.
    pub fn sign_encoded(
        &self,
        method: &str,
        encoded_path: &str,
        headers: &mut Vec<(String, String)>,
        host: &str,
        payload_hash: &str,
    ) -> String {
        self.sign_canonical(method, encoded_path, &[], headers, host, payload_hash)
    }

    fn sign_canonical(
        &self,
        method: &str,
        canonical_uri: &str,
        query: &[(&str, &str)],
        headers: &mut Vec<(String, String)>,
        host: &str,
        payload_hash: &str,
    ) -> String {
        headers.push(("host".into(), host.into()));
        headers.push(("x-amz-date".into(), self.amz_date.clone()));
        headers.push(("x-amz-content-sha256".into(), payload_hash.into()));
        let mut signed: Vec<(String, String)> =
            headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())).collect();
        signed.sort();
        let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_names = signed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let mut q: Vec<(String, String)> =
            query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
        q.sort();
        let canonical_query = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let canonical = format!(
            "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_names}\n{payload_hash}"
        );
        let sts = format!("AWS4-HMAC-SHA256\n{}\n{}\n{}", self.amz_date, self.scope, sha256_hex(canonical.as_bytes()));
        let sig = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={signed_names},Signature={sig}",
                self.access, self.scope
            ),
        ));
        sig
    }

    /// The SigV4 signature of a string to sign as is (a POST form's base64 policy).
    pub fn sign_string(&self, string_to_sign: &str) -> String {
        hex::encode(hmac_sha256(&self.key, string_to_sign.as_bytes()))
    }

    fn chunk_signature(&self, prev: &str, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{prev}\n{}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(b""),
            sha256_hex(data)
        );
        hex::encode(hmac_sha256(&self.key, sts.as_bytes()))
    }

    fn trailer_signature(&self, prev: &str, trailer: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{prev}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(trailer.as_bytes())
        );
        hex::encode(hmac_sha256(&self.key, sts.as_bytes()))
    }
}

/// How to damage a signed aws-chunked body, for negative tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChunkTamper {
    None,
    /// One data byte of the first chunk flipped after signing.
    FlipDataByte,
    /// The first chunk's signature replaced.
    WrongChunkSignature,
    /// The first two chunks (with their signatures) sent in the other order.
    SwapFirstTwoChunks,
    /// The final zero-length chunk (and trailer) never sent.
    DropFinalChunk,
    /// The trailer's signature replaced.
    WrongTrailerSignature,
    /// A wrong trailer value, correctly signed (the checksum check must catch it).
    WrongTrailerValue,
    /// The trailer value changed after it was signed.
    TrailerValueAfterSigning,
}

/// A signed aws-chunked body: `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` without a trailer, or
/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` with one, damaged as `tamper` says.
pub fn signed_chunked_body(
    signer: &Signer,
    seed: &str,
    data: &[u8],
    chunk: usize,
    trailer: Option<(&str, &str)>,
    tamper: ChunkTamper,
) -> Vec<u8> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut prev = seed.to_owned();
    let mut chunks: Vec<&[u8]> = data.chunks(chunk).collect();
    chunks.push(&[]);
    for (i, c) in chunks.iter().enumerate() {
        let mut sig = signer.chunk_signature(&prev, c);
        prev.clone_from(&sig);
        if tamper == ChunkTamper::WrongChunkSignature && i == 0 {
            sig = "0".repeat(64);
        }
        let mut frame = format!("{:x};chunk-signature={sig}\r\n", c.len()).into_bytes();
        let start = frame.len();
        frame.extend_from_slice(c);
        if tamper == ChunkTamper::FlipDataByte && i == 0 && !c.is_empty() {
            frame[start] ^= 1;
        }
        // The final chunk's CRLF comes after the trailer (or is the body's last line).
        if !c.is_empty() {
            frame.extend_from_slice(b"\r\n");
        }
        frames.push(frame);
    }
    if tamper == ChunkTamper::SwapFirstTwoChunks && frames.len() > 2 {
        frames.swap(0, 1);
    }
    if tamper == ChunkTamper::DropFinalChunk {
        frames.pop();
        return frames.concat();
    }
    let mut out = frames.concat();
    match trailer {
        None => out.extend_from_slice(b"\r\n"),
        Some((name, value)) => {
            let value = if tamper == ChunkTamper::WrongTrailerValue { "AAAAAA==" } else { value };
            let mut tsig = signer.trailer_signature(&prev, &format!("{name}:{value}\n"));
            if tamper == ChunkTamper::WrongTrailerSignature {
                tsig = "f".repeat(64);
            }
            let sent = if tamper == ChunkTamper::TrailerValueAfterSigning { "AAAAAA==" } else { value };
            out.extend_from_slice(format!("{name}:{sent}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n").as_bytes());
        }
    }
    out
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` body: plain chunks, then an unsigned trailer.
pub fn unsigned_trailer_body(data: &[u8], chunk: usize, trailer: (&str, &str)) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("0\r\n{}:{}\r\n\r\n", trailer.0, trailer.1).as_bytes());
    out
}

/// Sends one request and reads the whole response (the connection is closed after it). Async,
/// because an in-process gateway may share the test's runtime.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<RawResponse> {
    exchange(TcpStream::connect(addr).await?, method, target, headers, body).await
}

/// Like [`send`], pausing after the first `pause_at` body bytes were written (the server has
/// then read all but what the sockets buffer, so the request is in flight): `between` runs,
/// then the rest of the body is sent and the answer read.
pub async fn send_paused(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
    pause_at: usize,
    between: impl std::future::Future<Output = ()>,
) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect(addr).await?;
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let (first, rest) = body.split_at(pause_at.min(body.len()));
    s.write_all(first).await?;
    between.await;
    s.write_all(rest).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_mins(1), s.read_to_end(&mut raw)).await??;
    parse_response(&raw)
        .ok_or_else(|| std::io::Error::other(format!("unparsable response: {:?}", String::from_utf8_lossy(&raw))))
}

/// One request over an already connected stream (plain TCP or TLS).
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<RawResponse> {
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    // The server may answer (and close) before reading a refused body.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_mins(1), s.read_to_end(&mut raw)).await;
    parse_response(&raw)
        .ok_or_else(|| std::io::Error::other(format!("unparsable response: {:?}", String::from_utf8_lossy(&raw))))
}

fn parse_response(raw: &[u8]) -> Option<RawResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Some(RawResponse { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            std::str::from_utf8(&b[..pos]).unwrap_or("0").split(';').next().unwrap_or("0").trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

/// Signs and sends a PUT whose body is `body` as given, with `extra` headers signed too.
pub async fn signed_request(
    addr: SocketAddr,
    signer: &Signer,
    method: &str,
    path: &str,
    extra: Vec<(String, String)>,
    payload_hash: &str,
    body: &[u8],
) -> RawResponse {
    let mut headers = extra;
    let host = addr.to_string();
    signer.sign(method, path, &[], &mut headers, &host, payload_hash);
    send(addr, method, path, &headers, body).await.expect("request sent")
}

impl Signer {
    /// A presigned SigV4 URL path+query for `method path`, valid for `expires` seconds.
    pub fn presign(&self, method: &str, path: &str, host: &str, expires: u64) -> String {
        let credential = format!("{}/{}", self.access, self.scope);
        let expires = expires.to_string();
        let mut q = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
            ("X-Amz-Credential", credential),
            ("X-Amz-Date", self.amz_date.clone()),
            ("X-Amz-Expires", expires),
            ("X-Amz-SignedHeaders", "host".to_owned()),
        ];
        q.sort();
        let query = q
            .iter()
            .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
            .collect::<Vec<_>>()
            .join("&");
        let canonical = format!("{method}\n{}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD", uri_encode(path, true));
        let sts = format!("AWS4-HMAC-SHA256\n{}\n{}\n{}", self.amz_date, self.scope, sha256_hex(canonical.as_bytes()));
        let sig = hex::encode(hmac_sha256(&self.key, sts.as_bytes()));
        format!("{}?{query}&X-Amz-Signature={sig}", uri_encode(path, true))
    }
}
