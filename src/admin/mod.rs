//! The admin listener: `/metrics` (Prometheus text format), `/health` (JSON) and `/ready`.
//! It listens apart from S3 (by default on loopback) so operators can firewall it separately.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::metrics::Metrics;
use crate::workers::health::HealthState;

/// The admin HTTP service.
#[derive(Clone)]
pub struct AdminService {
    metrics: Arc<Metrics>,
    health: Arc<HealthState>,
}

impl AdminService {
    /// Serves these metrics and this health state.
    pub fn new(metrics: Arc<Metrics>, health: Arc<HealthState>) -> Self {
        Self { metrics, health }
    }

    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let (status, content_type, body) = match (req.method(), req.uri().path()) {
            (&Method::GET, "/metrics") => {
                (StatusCode::OK, "text/plain; version=0.0.4", Bytes::from(self.metrics.render()))
            }
            (&Method::GET, "/health") => {
                let json = serde_json::to_vec_pretty(&self.health.report()).unwrap_or_else(|_| b"{}".to_vec());
                (StatusCode::OK, "application/json", Bytes::from(json))
            }
            (&Method::GET, "/ready") if self.health.ready() => {
                (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
            }
            (&Method::GET, "/ready") => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                Bytes::from_static(b"not ready: no provider reachable\n"),
            ),
            _ => (StatusCode::NOT_FOUND, "text/plain", Bytes::from_static(b"not found\n")),
        };
        let mut resp = Response::new(Full::new(body));
        *resp.status_mut() = status;
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        resp
    }
}

impl hyper::service::Service<Request<Incoming>> for AdminService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let resp = self.respond(&req);
        Box::pin(async move { Ok(resp) })
    }
}
