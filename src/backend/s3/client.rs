//! The HTTP side of an S3 provider: TLS (webpki roots plus an optional CA file, never
//! disabled), connection pooling, deadlines, and mapping answers to [`BackendError`]s.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::dialect::Dialect;
use super::xml;
use crate::backend::{BackendError, BackendErrorKind};
use crate::model::ProviderId;

/// Request bodies: streamed sealed data or small XML.
pub type ReqBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// The largest provider XML answer read into memory.
const MAX_XML_ANSWER: usize = 8 << 20;

/// An empty or in-memory request body.
pub fn full(bytes: impl Into<Bytes>) -> ReqBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A pooled HTTP/1.1 (and optionally HTTP/2) client for one provider.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, ReqBody>,
    provider: ProviderId,
    first_byte_timeout: Duration,
}

impl HttpClient {
    /// Builds the client. `ca_file` adds trust anchors to the webpki roots; verification itself
    /// can never be switched off.
    pub fn new(provider: ProviderId, dialect: &Dialect, ca_file: Option<&Path>) -> Result<Self, BackendError> {
        let err = |detail: String| BackendError::new(provider.clone(), BackendErrorKind::Protocol, detail);
        let tls = crate::tls_client::client_config(ca_file).map_err(err)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(dialect.connect_timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let connector = if dialect.http2 {
            builder.enable_http1().enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        };
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_mins(1)).build(connector);
        Ok(Self { client, provider, first_byte_timeout: dialect.first_byte_timeout })
    }

    /// The provider this client talks to.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// An error about this provider.
    pub fn error(&self, kind: BackendErrorKind, detail: impl Into<String>) -> BackendError {
        BackendError::new(self.provider.clone(), kind, detail)
    }

    /// An error about this provider, caused by `source`.
    pub fn caused(
        &self,
        kind: BackendErrorKind,
        detail: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> BackendError {
        BackendError::caused(self.provider.clone(), kind, detail, source)
    }

    /// Sends a request and waits for the response head, at most `extra` beyond the dialect's
    /// first-byte deadline (uploads need time to send their body first).
    pub async fn send(&self, req: Request<ReqBody>, extra: Duration) -> Result<Response<Incoming>, BackendError> {
        let what = format!("{} {}", req.method(), req.uri().path());
        match tokio::time::timeout(self.first_byte_timeout + extra, self.client.request(req)).await {
            Err(_) => Err(self.error(BackendErrorKind::Timeout, format!("{what}: no response in time"))),
            Ok(Err(e)) if e.is_connect() => Err(self.caused(BackendErrorKind::Connect, what, e)),
            Ok(Err(e)) => Err(self.caused(BackendErrorKind::Aborted, what, e)),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    /// Reads a small answer body (XML), bounded in size and time.
    pub async fn small_body(&self, resp: Response<Incoming>) -> Result<Bytes, BackendError> {
        let body = Limited::new(resp.into_body(), MAX_XML_ANSWER);
        match tokio::time::timeout(self.first_byte_timeout, body.collect()).await {
            Err(_) => Err(self.error(BackendErrorKind::Timeout, "answer body not received in time")),
            Ok(Err(e)) => Err(self.caused(BackendErrorKind::Protocol, "answer body", e)),
            Ok(Ok(b)) => Ok(b.to_bytes()),
        }
    }

    /// Turns a non-success answer into an error that says what the provider said.
    pub async fn failure(&self, what: &str, resp: Response<Incoming>) -> BackendError {
        let status = resp.status();
        let code = self.small_body(resp).await.ok().and_then(|b| xml::error_code(&b)).unwrap_or_default();
        let kind = match status {
            StatusCode::NOT_FOUND => BackendErrorKind::NotFound,
            StatusCode::FORBIDDEN => BackendErrorKind::Auth,
            StatusCode::TOO_MANY_REQUESTS => BackendErrorKind::Throttled,
            StatusCode::SERVICE_UNAVAILABLE if code == "SlowDown" => BackendErrorKind::Throttled,
            s => BackendErrorKind::Status(s.as_u16()),
        };
        self.error(kind, format!("{what}: HTTP {status} {code}"))
    }
}
