//! The S3 client of the end-to-end bench: SigV4 with UNSIGNED-PAYLOAD over hyper, bodies cut from
//! one shared block so the client spends its CPU on the network, not on making data.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::{BLOCK, Body, CHUNK, REGION};

/// The bytes of object `i` from `offset`, `len` long, as slices of the shared block.
pub(crate) fn object_chunks(block: &Bytes, i: usize, size: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut j = 0usize;
    while pos < size {
        let len = souverain::model::usize_from((size - pos).min(CHUNK as u64));
        let start = (i * 7919 + j * 104_729) % (BLOCK - CHUNK);
        out.push(block.slice(start..start + len));
        pos += len as u64;
        j += 1;
    }
    out
}

/// A tiny S3 client: SigV4 with UNSIGNED-PAYLOAD (the client hashes nothing), streamed bodies.
#[derive(Clone)]
pub(crate) struct S3 {
    http: Client<HttpConnector, Body>,
    endpoint: String,
    identity: Identity,
}

impl S3 {
    pub(crate) fn new(endpoint: &str, access: &str, secret: &str) -> Self {
        let mut c = HttpConnector::new();
        c.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build(c);
        let identity = Credentials::new(access, secret, None, None, "bench").into();
        Self { http, endpoint: endpoint.trim_end_matches('/').to_owned(), identity }
    }

    fn request(&self, method: &str, path: &str, len: Option<u64>, body: Body) -> hyper::Request<Body> {
        let uri = format!("{}{path}", self.endpoint);
        let host = uri.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
        let mut req = hyper::Request::builder().method(method).uri(&uri).header("host", host);
        if let Some(l) = len {
            req = req.header("content-length", l.to_string());
        }
        let mut req = req.body(body).expect("request");
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        let params = SigningParams::builder()
            .identity(&self.identity)
            .region(REGION)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let signable = SignableRequest::new(
            method,
            uri.clone(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    async fn send(&self, req: hyper::Request<Body>) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        self.http.request(req).await.map_err(|e| e.to_string())
    }

    pub(crate) async fn create_bucket(&self, bucket: &str) {
        let r = self.send(self.request("PUT", &format!("/{bucket}"), Some(0), empty())).await.expect("CreateBucket");
        let status = r.status();
        let _ = r.into_body().collect().await;
        assert!(status.is_success() || status.as_u16() == 409, "CreateBucket {bucket}: {status}");
    }

    pub(crate) async fn put(&self, path: &str, chunks: Vec<Bytes>, size: u64) -> Result<(), String> {
        let stream = futures_util::stream::iter(
            chunks.into_iter().map(|c| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(c))),
        );
        let body = BodyExt::boxed(StreamBody::new(stream));
        let r = self.send(self.request("PUT", path, Some(size), body)).await?;
        let status = r.status();
        let text = r.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("PUT {path}: {status} {}", String::from_utf8_lossy(&text)))
        }
    }

    /// GETs and compares every byte with `want` as it arrives.
    pub(crate) async fn get(&self, path: &str, want: Vec<Bytes>) -> Result<(), String> {
        let r = self.send(self.request("GET", path, None, empty())).await?;
        if !r.status().is_success() {
            return Err(format!("GET {path}: {}", r.status()));
        }
        let mut expected = want.into_iter().flat_map(|b| {
            let n = b.len();
            (0..n).step_by(CHUNK).map(move |o| b.slice(o..(o + CHUNK).min(n)))
        });
        let mut pending: Bytes = Bytes::new();
        let mut body = r.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| format!("GET {path}: {e}"))?;
            while !chunk.is_empty() {
                if pending.is_empty() {
                    pending = expected.next().ok_or_else(|| format!("GET {path}: more bytes than stored"))?;
                }
                let n = pending.len().min(chunk.len());
                if pending[..n] != chunk[..n] {
                    return Err(format!("GET {path}: wrong bytes"));
                }
                pending = pending.slice(n..);
                chunk = chunk.slice(n..);
            }
        }
        if !pending.is_empty() || expected.next().is_some() {
            return Err(format!("GET {path}: fewer bytes than stored"));
        }
        Ok(())
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<(), String> {
        let r = self.send(self.request("DELETE", path, Some(0), empty())).await?;
        let status = r.status();
        let _ = r.into_body().collect().await;
        if status.is_success() { Ok(()) } else { Err(format!("DELETE {path}: {status}")) }
    }
}

pub(crate) fn empty() -> Body {
    Full::new(Bytes::new()).map_err(|e: std::convert::Infallible| match e {}).boxed()
}
