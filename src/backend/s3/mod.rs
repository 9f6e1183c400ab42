//! A remote S3 provider (OVHcloud, Scaleway, Hetzner, IONOS, Exoscale, …) as a [`Backend`]:
//! hyper-util client, rustls with ring, SigV4 by `aws-sigv4`, one dialect profile per provider.

mod chunked;
pub mod client;
pub mod dialect;
mod multipart;
pub mod sign;
pub mod xml;

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use self::client::{HttpClient, ReqBody, full};
use self::dialect::{Addressing, Dialect, PayloadSigning};
use self::sign::{ChunkSigner, Payload, RequestSigner};
use super::retry::idempotent;
use super::{Backend, BackendError, BackendErrorKind, CipherStream, GrantedBody, SealedBody};
use crate::model::{ProviderId, usize_from};

/// Everything needed to reach one provider bucket.
#[derive(Clone)]
pub struct S3ProviderConfig {
    /// `https://s3.gra.io.cloud.ovh.net` (plain `http://` only for local test providers).
    pub endpoint: String,
    /// The provider-side bucket holding this gateway's streams.
    pub bucket: String,
    /// The SigV4 region.
    pub region: String,
    /// The provider's profile.
    pub dialect: Dialect,
    /// Access key id.
    pub access_key: String,
    /// Secret key; never logged, never in `Debug`.
    pub secret_key: String,
    /// Extra trust anchors (PEM).
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for S3ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3ProviderConfig")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("dialect", &self.dialect.name)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A provider bucket reached over the S3 API.
pub struct S3Backend {
    id: ProviderId,
    http: HttpClient,
    signer: RequestSigner,
    base: Uri,
    bucket: String,
    dialect: Dialect,
}

impl fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Backend")
            .field("id", &self.id)
            .field("base", &self.base)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

type StreamError = Box<dyn std::error::Error + Send + Sync>;

impl S3Backend {
    /// Validates the endpoint and builds the client.
    pub fn new(id: ProviderId, cfg: S3ProviderConfig) -> Result<Self, BackendError> {
        let bad = |detail: String| BackendError::new(id.clone(), BackendErrorKind::Protocol, detail);
        let base: Uri =
            cfg.endpoint.trim_end_matches('/').parse().map_err(|e| bad(format!("endpoint {:?}: {e}", cfg.endpoint)))?;
        if !matches!(base.scheme_str(), Some("https" | "http")) || base.host().is_none() {
            return Err(bad(format!("endpoint {:?} must be an http(s) URL with a host", cfg.endpoint)));
        }
        let http = HttpClient::new(id.clone(), &cfg.dialect, cfg.ca_file.as_deref())?;
        let signer = RequestSigner::new(&cfg.access_key, &cfg.secret_key, &cfg.region);
        Ok(Self { id, http, signer, base, bucket: cfg.bucket, dialect: cfg.dialect })
    }

    /// The URL of `name` (or of the bucket when empty) with `query`, in the dialect's addressing.
    fn uri(&self, name: &str, query: &str) -> Result<Uri, BackendError> {
        let scheme = self.base.scheme_str().unwrap_or("https");
        let authority = self.base.authority().map(http::uri::Authority::as_str).unwrap_or_default();
        let prefix = self.base.path().trim_end_matches('/');
        let q = if query.is_empty() { String::new() } else { format!("?{query}") };
        let s = match self.dialect.addressing {
            Addressing::Path => format!("{scheme}://{authority}{prefix}/{}/{name}{q}", self.bucket),
            Addressing::VirtualHost => {
                format!("{scheme}://{}.{authority}{prefix}/{name}{q}", self.bucket)
            }
        };
        s.parse().map_err(|e| self.http.caused(BackendErrorKind::Protocol, format!("bad URL {s}"), e))
    }

    /// A signed request.
    fn request(
        &self,
        method: Method,
        uri: Uri,
        headers: &[(&str, String)],
        body: ReqBody,
        payload: Payload<'_>,
    ) -> Result<(Request<ReqBody>, ChunkSigner), BackendError> {
        let host = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
        let mut b = Request::builder().method(method).uri(uri).header(http::header::HOST, host);
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        let mut req =
            b.body(body).map_err(|e| self.http.caused(BackendErrorKind::Protocol, "building a request", e))?;
        let chunks = self
            .signer
            .sign(&mut req, payload)
            .map_err(|e| self.http.error(BackendErrorKind::Protocol, format!("signing: {e}")))?;
        Ok((req, chunks))
    }

    /// A request whose body is in memory (or empty), retried when idempotent.
    async fn simple(
        &self,
        method: Method,
        name: &str,
        query: &str,
        body: Bytes,
        extra: &[(&str, String)],
    ) -> Result<http::Response<hyper::body::Incoming>, BackendError> {
        let mut headers: Vec<(&str, String)> = extra.to_vec();
        // No `content-length: 0` on GET, HEAD and DELETE: SDKs send none, and servers that
        // drop it from the headers before checking the signature (Go's net/http does, so
        // rclone's gofakes3) then refuse a request that signed it.
        let bodiless = body.is_empty() && matches!(method, Method::GET | Method::HEAD | Method::DELETE);
        if !bodiless {
            headers.push(("content-length", body.len().to_string()));
        }
        let (req, _) =
            self.request(method, self.uri(name, query)?, &headers, full(body.clone()), Payload::Bytes(&body))?;
        self.http.send(req, Duration::ZERO).await
    }

    /// Streams exactly `len` sealed bytes as one PUT; Ok carries the ETag the provider returned.
    async fn put_stream(
        &self,
        name: &str,
        query: &str,
        len: u64,
        body: impl futures_util::Stream<Item = Result<Bytes, StreamError>> + Send + Unpin + 'static,
    ) -> Result<String, BackendError> {
        let mut headers = vec![("content-type", "application/octet-stream".to_owned())];
        let uri = self.uri(name, query)?;
        // The request is signed with an empty placeholder body, then given the stream.
        let req = match self.dialect.payload {
            PayloadSigning::Unsigned => {
                headers.push(("content-length", len.to_string()));
                let (req, _) = self.request(Method::PUT, uri, &headers, full(Bytes::new()), Payload::Unsigned)?;
                req.map(|_| BodyExt::boxed_unsync(StreamBody::new(body.map(|r| r.map(Frame::data)))))
            }
            PayloadSigning::StreamingSigned => {
                headers.push(("content-length", chunked::encoded_len(len).to_string()));
                headers.push(("content-encoding", "aws-chunked".to_owned()));
                headers.push(("x-amz-decoded-content-length", len.to_string()));
                let (req, chunks) =
                    self.request(Method::PUT, uri, &headers, full(Bytes::new()), Payload::StreamingSigned)?;
                let framed = chunked::encode(body, chunks).map(|r| r.map(Frame::data));
                req.map(|_| BodyExt::boxed_unsync(StreamBody::new(framed)))
            }
        };
        // Deadline: the first-byte budget plus 1 s per MiB (a provider slower than 1 MiB/s is
        // treated as failed; its replica goes to repair).
        let resp = self.http.send(req, Duration::from_secs(len >> 20)).await?;
        if !resp.status().is_success() {
            return Err(self.http.failure("PUT", resp).await);
        }
        Ok(resp.headers().get(http::header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned())
    }
}

fn sealed_stream(body: SealedBody) -> impl futures_util::Stream<Item = Result<Bytes, StreamError>> + Send + 'static {
    body.map(|r| r.map_err(|e| Box::new(e) as StreamError))
}

/// `Content-Range: bytes a-b/total` as (a, b).
fn content_range<B>(resp: &http::Response<B>) -> Option<(u64, u64)> {
    let v = resp.headers().get(http::header::CONTENT_RANGE)?.to_str().ok()?;
    let (a, b) = v.strip_prefix("bytes ")?.split('/').next()?.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn content_length<B>(resp: &http::Response<B>) -> Option<u64> {
    resp.headers().get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The bytes `window` of a whole-object body (a provider that ignored Range): the bytes before
/// it are dropped as they arrive, and the body is let go as soon as the window is complete.
fn byte_window(body: CipherStream, window: Range<u64>) -> CipherStream {
    futures_util::stream::unfold((body, 0u64), move |(mut body, mut pos)| {
        let window = window.clone();
        async move {
            while pos < window.end {
                let chunk = match body.next().await? {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), (body, window.end))),
                };
                let (from, to) = (pos, pos + chunk.len() as u64);
                pos = to;
                let start = window.start.clamp(from, to) - from;
                let end = window.end.clamp(from, to) - from;
                if end > start {
                    return Some((Ok(chunk.slice(usize_from(start)..usize_from(end))), (body, pos)));
                }
            }
            None
        }
    })
    .boxed()
}

#[async_trait]
impl Backend for S3Backend {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn put(&self, name: &str, len: u64, body: GrantedBody) -> Result<(), BackendError> {
        let body = body.open(&self.id)?;
        if len > self.dialect.max_put_size {
            return self.put_multipart(name, len, body).await;
        }
        self.put_stream(name, "", len, sealed_stream(body)).await.map(|_| ())
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<CipherStream, BackendError> {
        let ranged = range.clone().filter(|r| r.end > r.start);
        if range.as_ref().is_some_and(|r| r.end <= r.start) {
            return Ok(futures_util::stream::empty().boxed());
        }
        let resp = idempotent(|| async {
            let headers: Vec<(&str, String)> =
                ranged.iter().map(|r| ("range", format!("bytes={}-{}", r.start, r.end - 1))).collect();
            let resp = self.simple(Method::GET, name, "", Bytes::new(), &headers).await?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT if ranged.is_some() => Ok((resp, None)),
                // HTTP lets a server ignore Range and send the whole object (some S3
                // implementations do): the window is cut out of it below.
                StatusCode::OK => match (&ranged, content_range(&resp), content_length(&resp)) {
                    (None, _, _) => Ok((resp, None)),
                    // The range, under the wrong status (rclone's gofakes3 sends 200).
                    (Some(r), Some(got), _) if got == (r.start, r.end - 1) => Ok((resp, None)),
                    (Some(r), Some((a, b)), _) => Err(self.http.error(
                        BackendErrorKind::Protocol,
                        format!("bytes {a}-{b} in answer to a GET of bytes {}-{}", r.start, r.end - 1),
                    )),
                    // Too short to hold the range: an error page sent as 200.
                    (Some(r), None, Some(len)) if len < r.end => Err(self.http.error(
                        BackendErrorKind::Protocol,
                        format!("200 with {len} bytes in answer to a GET of bytes {}-{}", r.start, r.end - 1),
                    )),
                    // The whole object: the range is cut out of it below.
                    (Some(r), None, _) => Ok((resp, Some(r.clone()))),
                },
                _ => Err(self.http.failure("GET", resp).await),
            }
        })
        .await?;
        let (resp, window) = resp;
        let idle = self.dialect.idle_timeout;
        let provider = self.id.clone();
        let data = resp.into_body().into_data_stream();
        let stream = futures_util::stream::unfold(Some(data), move |state| {
            let provider = provider.clone();
            async move {
                let mut data = state?;
                match tokio::time::timeout(idle, data.next()).await {
                    Err(_) => {
                        Some((Err(BackendError::new(provider, BackendErrorKind::Timeout, "GET body stalled")), None))
                    }
                    Ok(None) => None,
                    Ok(Some(Ok(b))) => Some((Ok(b), Some(data))),
                    Ok(Some(Err(e))) => {
                        Some((Err(BackendError::caused(provider, BackendErrorKind::Aborted, "GET body", e)), None))
                    }
                }
            }
        });
        Ok(match window {
            Some(w) => byte_window(stream.boxed(), w),
            None => stream.boxed(),
        })
    }

    async fn head(&self, name: &str) -> Result<Option<u64>, BackendError> {
        idempotent(|| async {
            let resp = self.simple(Method::HEAD, name, "", Bytes::new(), &[]).await?;
            match resp.status() {
                StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => {
                    let len = resp
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok());
                    len.map(Some)
                        .ok_or_else(|| self.http.error(BackendErrorKind::Protocol, "HEAD without Content-Length"))
                }
                _ => Err(self.http.failure("HEAD", resp).await),
            }
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<(), BackendError> {
        idempotent(|| async {
            let resp = self.simple(Method::DELETE, name, "", Bytes::new(), &[]).await?;
            match resp.status() {
                s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
                _ => Err(self.http.failure("DELETE", resp).await),
            }
        })
        .await
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>, BackendError> {
        let enc = |s: &str| s.replace('/', "%2F");
        let mut query = format!("list-type=2&max-keys={}&prefix={}", limit.clamp(1, 1000), enc(prefix));
        if let Some(a) = after {
            query.push_str("&start-after=");
            query.push_str(&enc(a));
        }
        idempotent(|| async {
            let resp = self.simple(Method::GET, "", &query, Bytes::new(), &[]).await?;
            if !resp.status().is_success() {
                return Err(self.http.failure("LIST", resp).await);
            }
            let body = self.http.small_body(resp).await?;
            let (mut entries, _) =
                xml::list_objects_v2(&body).map_err(|e| self.http.error(BackendErrorKind::Protocol, e))?;
            entries.truncate(limit);
            Ok(entries)
        })
        .await
    }

    async fn protection(&self) -> Result<super::ProviderProtection, BackendError> {
        let protocol = |e: String| self.http.error(BackendErrorKind::Protocol, e);
        let not_offered = |s: StatusCode| s == StatusCode::NOT_IMPLEMENTED;
        let resp = self.simple(Method::GET, "", "versioning", Bytes::new(), &[]).await?;
        let versioning = match resp.status() {
            s if s.is_success() => xml::versioning_status(&self.http.small_body(resp).await?)
                .map_err(protocol)?
                .unwrap_or_else(|| "never enabled".into()),
            s if not_offered(s) => "not offered".into(),
            _ => return Err(self.http.failure("GetBucketVersioning", resp).await),
        };
        let resp = self.simple(Method::GET, "", "object-lock", Bytes::new(), &[]).await?;
        let object_lock = match resp.status() {
            s if s.is_success() => {
                let on = xml::object_lock_enabled(&self.http.small_body(resp).await?).map_err(protocol)?;
                if on { "enabled" } else { "not enabled" }.into()
            }
            // No configuration: the bucket was made without Object Lock.
            StatusCode::NOT_FOUND => "not enabled".into(),
            s if not_offered(s) => "not offered".into(),
            _ => return Err(self.http.failure("GetObjectLockConfiguration", resp).await),
        };
        Ok(super::ProviderProtection::Bucket { versioning, object_lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8], size: usize) -> CipherStream {
        let parts: Vec<Result<Bytes, BackendError>> =
            data.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures_util::stream::iter(parts).boxed()
    }

    async fn collect(s: CipherStream) -> Vec<u8> {
        let parts: Vec<Result<Bytes, BackendError>> = s.collect().await;
        parts.into_iter().flat_map(|p| p.expect("no error").to_vec()).collect()
    }

    /// Promise: a provider that answers a ranged GET with the whole object (HTTP allows it)
    /// still yields exactly the requested bytes, whatever the body's chunking.
    #[tokio::test]
    async fn whole_object_answers_are_cut_to_the_requested_range() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for size in [1, 7, 64, 999, 1000, 4096] {
            for (start, end) in [(0, 1000), (0, 1), (1, 2), (10, 500), (63, 65), (999, 1000), (500, 1000)] {
                let got = collect(byte_window(chunks(&data, size), start..end)).await;
                assert_eq!(got, &data[usize_from(start)..usize_from(end)], "chunks of {size}, range {start}..{end}");
            }
        }
        // A body shorter than the window ends early (the reader's length check refuses it).
        assert_eq!(collect(byte_window(chunks(&data[..100], 30), 50..200)).await, &data[50..100]);
    }
}
