//! Per-request observability around the S3 service: a request id (returned as
//! `x-amz-request-id` and carried by every log line of the request through its span), the
//! request counters and latency histogram, and body byte counts.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::model::random_array;

/// The inner service's answer type.
type Inner = super::cors::Cors;

/// The S3 service with request ids and metrics.
#[derive(Clone)]
pub struct Observed {
    inner: Inner,
    metrics: Arc<Metrics>,
    addressing: super::addressing::Addressing,
}

impl Observed {
    /// Wraps `inner`; `addressing` tells which bucket a request names, for its operation's name.
    pub fn new(inner: Inner, metrics: Arc<Metrics>, addressing: super::addressing::Addressing) -> Self {
        Self { inner, metrics, addressing }
    }
}

fn has_query(query: &str, name: &str) -> bool {
    query.split('&').any(|kv| kv.split('=').next() == Some(name))
}

/// The S3 operation of a request, from a closed set (a bounded label).
pub fn classify(method: &Method, path: &str, query: &str, copy: bool) -> &'static str {
    let path = path.trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, k),
        None => (path, ""),
    };
    let q = |n| has_query(query, n);
    match (method.as_str(), bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => "ListBuckets",
        ("PUT", false, true) => "CreateBucket",
        ("HEAD", false, true) => "HeadBucket",
        ("DELETE", false, true) => "DeleteBucket",
        ("GET", false, true) if q("location") => "GetBucketLocation",
        ("GET", false, true) if q("uploads") => "ListMultipartUploads",
        ("GET", false, true) if q("list-type") => "ListObjectsV2",
        ("GET", false, true) if query.is_empty() || q("prefix") || q("marker") || q("delimiter") || q("max-keys") => {
            "ListObjects"
        }
        ("POST", false, true) if q("delete") => "DeleteObjects",
        ("PUT", false, false) if q("partNumber") && copy => "UploadPartCopy",
        ("PUT", false, false) if q("partNumber") => "UploadPart",
        ("PUT", false, false) if copy => "CopyObject",
        ("PUT", false, false) if query.is_empty() || q("x-id") || q("X-Amz-Signature") || q("Signature") => "PutObject",
        ("GET", false, false) if q("uploadId") => "ListParts",
        ("GET", false, false) => "GetObject",
        ("HEAD", false, false) => "HeadObject",
        ("POST", false, false) if q("uploads") => "CreateMultipartUpload",
        ("POST", false, false) if q("uploadId") => "CompleteMultipartUpload",
        ("DELETE", false, false) if q("uploadId") => "AbortMultipartUpload",
        ("DELETE", false, false) => "DeleteObject",
        _ => "Other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn request_id() -> String {
    random_array::<8>().map_or_else(|_| "0000000000000000".into(), hex::encode).to_uppercase()
}

/// Puts `<RequestId>` into an S3 error body, as S3 does: the id a user quotes from an error
/// message then matches the `x-amz-request-id` header and the gateway's log lines. Error
/// bodies are built whole (a few hundred bytes), so the splice never waits on a stream.
fn stamp_request_id(body: &mut s3s::Body, id: &str) {
    const END: &[u8] = b"</Error>";
    let Some(bytes) = body.bytes() else { return };
    let Some(at) = bytes.windows(END.len()).rposition(|w| w == END) else { return };
    if bytes.windows(b"<RequestId>".len()).any(|w| w == b"<RequestId>") {
        return;
    }
    let mut out = Vec::with_capacity(bytes.len() + id.len() + 24);
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(format!("<RequestId>{id}</RequestId>").as_bytes());
    out.extend_from_slice(&bytes[at..]);
    *body = s3s::Body::from(out);
}

impl hyper::service::Service<Request<Incoming>> for Observed {
    type Response = Response<CountedBody<s3s::Body>>;
    type Error = s3s::HttpError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let copy = req.headers().contains_key("x-amz-copy-source");
        let op = classify(req.method(), &self.addressing.path_style(&req), req.uri().query().unwrap_or(""), copy);
        let id = request_id();
        let received = req
            .headers()
            .get("x-amz-decoded-content-length")
            .or_else(|| req.headers().get(http::header::CONTENT_LENGTH))
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        let span = tracing::info_span!("request", request_id = %id, op);
        let metrics = Arc::clone(&self.metrics);
        let fut = hyper::service::Service::call(&self.inner, req);
        let body_span = span.clone();
        Box::pin(
            async move {
                let started = Instant::now();
                metrics.s3_inflight.inc();
                let result = fut.await;
                metrics.s3_inflight.dec();
                let elapsed = started.elapsed();
                metrics.s3_duration.with_label_values(&[op]).observe(elapsed.as_secs_f64());
                let mut resp = result?;
                let status = resp.status().as_u16();
                metrics.s3_requests.with_label_values(&[op, status_class(status)]).inc();
                if status < 300 {
                    metrics.s3_received_bytes.inc_by(received);
                }
                tracing::info!(status, duration_ms = crate::model::millis_u64(elapsed), "request done");
                if let Ok(v) = HeaderValue::from_str(&id) {
                    resp.headers_mut().insert("x-amz-request-id", v);
                }
                if status >= 300 {
                    stamp_request_id(resp.body_mut(), &id);
                }
                Ok(resp.map(|body| CountedBody { inner: body, metrics, span: body_span }))
            }
            .instrument(span),
        )
    }
}

/// A response body that counts the bytes it sends. It carries the request's span: a GET's
/// body is produced (replicas read, failovers logged) after the handler has returned, and
/// those lines must carry the request id too.
pub struct CountedBody<B> {
    inner: B,
    metrics: Arc<Metrics>,
    span: tracing::Span,
}

impl<B: Body<Data = Bytes> + Unpin> Body for CountedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let _in_request = this.span.enter();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.metrics.s3_sent_bytes.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_carry_the_request_id_once() {
        let mut body = s3s::Body::from(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>".to_vec());
        stamp_request_id(&mut body, "ABC");
        let want = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><RequestId>ABC</RequestId></Error>";
        assert_eq!(body.bytes().as_deref(), Some(&want[..]));
        stamp_request_id(&mut body, "XYZ");
        assert_eq!(body.bytes().as_deref(), Some(&want[..]), "an id already there is kept");
        let mut other = s3s::Body::from(b"plain".to_vec());
        stamp_request_id(&mut other, "ABC");
        assert_eq!(other.bytes().as_deref(), Some(&b"plain"[..]));
    }

    #[test]
    fn operations_are_classified() {
        let m = |s: &str| Method::from_bytes(s.as_bytes()).unwrap();
        assert_eq!(classify(&m("GET"), "/", "", false), "ListBuckets");
        assert_eq!(classify(&m("PUT"), "/b", "", false), "CreateBucket");
        assert_eq!(classify(&m("PUT"), "/b/k", "", false), "PutObject");
        assert_eq!(classify(&m("PUT"), "/b/k", "", true), "CopyObject");
        assert_eq!(classify(&m("PUT"), "/b/k", "partNumber=1&uploadId=x", false), "UploadPart");
        assert_eq!(classify(&m("GET"), "/b", "list-type=2&prefix=a", false), "ListObjectsV2");
        assert_eq!(classify(&m("POST"), "/b", "delete", false), "DeleteObjects");
        assert_eq!(classify(&m("POST"), "/b/k", "uploads", false), "CreateMultipartUpload");
        assert_eq!(classify(&m("GET"), "/b/k", "", false), "GetObject");
        assert_eq!(classify(&m("PATCH"), "/b/k", "", false), "Other");
    }
}
