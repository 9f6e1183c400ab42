//! The admin listener: `/metrics` (Prometheus text format), `/health` (JSON) and `/ready`,
//! open to scrapers and probes; and the admin API under `/admin/v1`, behind named bearer
//! tokens (hashed, compared in constant time) whose role `access::authorize` checks per route. It listens apart from S3 (by default on loopback) so operators
//! can firewall it separately.

mod access;
pub mod cli;
pub mod cli_access;
pub mod client;
mod console;
mod keys;
pub mod meta_verify;
mod residency;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::access::{Action, Decision, Principal};
use crate::error::ErrorKind;
use crate::health::HealthState;

/// Queued deletions listed by `GET /admin/v1/deletions` (the backlog counts them all).
const DELETIONS_SHOWN: usize = 1000;
use crate::metrics::Metrics;
use crate::service::admin::AdminOps;

/// The admin HTTP service.
#[derive(Clone)]
pub struct AdminService {
    metrics: Arc<Metrics>,
    health: Arc<HealthState>,
    service: Arc<AdminOps>,
    /// What the console reads and runs besides the gateway.
    console: Arc<crate::config::ConsoleSettings>,
    /// `meta verify` on the store this gateway holds open.
    verifier: Arc<dyn meta_verify::LiveVerifier>,
}

pub(crate) type Answer = (StatusCode, &'static str, Bytes);

pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Answer {
    let body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    (status, "application/json", Bytes::from(body))
}

pub(crate) fn error(status: StatusCode, message: &str) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}

/// Decodes `%XX` escapes of a path segment (keys may hold any UTF-8).
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    crate::model::names::percent_decode(s, false)
}

impl AdminService {
    /// Serves these metrics and health state, and the admin API over `service` to the admin
    /// tokens it knows (none configured or created: the API answers 401 to everyone); the
    /// console with `console`'s Prometheus and PDF maker; `meta verify` through `verifier`.
    pub fn new(
        metrics: Arc<Metrics>,
        health: Arc<HealthState>,
        service: Arc<AdminOps>,
        console: crate::config::ConsoleSettings,
        verifier: Arc<dyn meta_verify::LiveVerifier>,
    ) -> Self {
        Self { metrics, health, service, console: Arc::new(console), verifier }
    }

    /// The admin token the request carries, if it is one.
    async fn principal(&self, req: &Request<Incoming>) -> Option<Principal> {
        let given = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        match self.service.admin_principal(given).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %crate::report::chain(&e), "admin tokens could not be read");
                None
            }
        }
    }

    async fn respond(self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        if path == "/console" || path.starts_with("/console/") {
            return console::respond(&self.service, &self.health, &self.console, req).await;
        }
        let principal = if path.starts_with("/admin/v1/") { self.principal(&req).await } else { None };
        if let Some(principal) = principal {
            let action = route_action(req.method(), &path);
            if let Decision::Deny(why) = AdminOps::admin_decision(&principal, action) {
                return to_response(error(StatusCode::FORBIDDEN, &why.to_string()));
            }
            let actor = principal.actor();
            let (parts, body) = req.into_parts();
            let query = parts.uri.query().unwrap_or("").to_owned();
            let is_key_route = path.starts_with("/admin/v1/keys") || path.ends_with("/kek");
            let is_access_route = path.starts_with("/admin/v1/users")
                || path.starts_with("/admin/v1/tokens")
                || path.starts_with("/admin/v1/access-keys")
                || path.ends_with("/grants");
            let answer = if is_key_route {
                keys::route(&self.service, &actor, &parts.method, &path, body).await
            } else if is_access_route {
                access::route(&self.service, &actor, &parts.method, &path, &query, body).await
            } else {
                residency::route(&self.service, &actor, &parts.method, &path, &query, body).await
            };
            if let Some(answer) = answer {
                return to_response(answer);
            }
            if (&parts.method, path.as_str()) == (&Method::POST, "/admin/v1/meta/verify") {
                return to_response(meta_verify::route(self.verifier.as_ref(), &actor, &query).await);
            }
            return to_response(self.route_rest(&parts.method, &path, &query).await);
        }
        let method = req.method().clone();
        let query = req.uri().query().unwrap_or("").to_owned();
        let (status, content_type, body) = match (&method, path.as_str()) {
            (_, p) if p.starts_with("/admin/v1/") => {
                error(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
            }
            _ => self.route_rest(&method, &path, &query).await,
        };
        to_response((status, content_type, body))
    }

    /// The open routes and the admin routes that read no body.
    async fn route_rest(&self, method: &Method, path: &str, query: &str) -> Answer {
        match (method, path) {
            (&Method::GET, "/metrics") => {
                (StatusCode::OK, "text/plain; version=0.0.4", Bytes::from(self.metrics.render()))
            }
            (&Method::GET, "/health") => json(StatusCode::OK, &self.health.report()),
            (&Method::GET, "/ready") if self.health.ready() => {
                (StatusCode::OK, "text/plain", Bytes::from_static(b"ready\n"))
            }
            (&Method::GET, "/ready") => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                Bytes::from_static(b"not ready: no provider reachable, or the key provider does not answer\n"),
            ),
            (&Method::GET, "/admin/v1/repair") => json(StatusCode::OK, &self.health.repair_backlog()),
            (&Method::GET, "/admin/v1/deletions") => self.deletions().await,
            (&Method::GET, p) if p.starts_with("/admin/v1/locations/") => {
                let version = query.split('&').find_map(|kv| kv.strip_prefix("versionId=")).and_then(percent_decode);
                self.locate(&p["/admin/v1/locations/".len()..], version.as_deref()).await
            }
            (&Method::GET, "/admin/v1/placement/explain") => {
                let bucket = query.split('&').find_map(|kv| kv.strip_prefix("bucket="));
                match bucket.and_then(percent_decode) {
                    Some(b) => self.explain(&b).await,
                    None => error(StatusCode::BAD_REQUEST, "expected ?bucket=NAME"),
                }
            }
            _ => error(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// `GET /admin/v1/deletions`: the queue per provider as last counted, and its first tasks.
    async fn deletions(&self) -> Answer {
        match self.service.queued_deletions(DELETIONS_SHOWN).await {
            Ok(tasks) => {
                json(StatusCode::OK, &serde_json::json!({ "backlog": self.health.report().deletions, "tasks": tasks }))
            }
            Err(e) => service_error(&e),
        }
    }

    /// `GET /admin/v1/locations/{bucket}/{key}[?versionId=…]`.
    async fn locate(&self, rest: &str, version: Option<&str>) -> Answer {
        let Some((bucket, key)) =
            rest.split_once('/').and_then(|(b, k)| Some((percent_decode(b)?, percent_decode(k)?)))
        else {
            return error(StatusCode::BAD_REQUEST, "expected /admin/v1/locations/{bucket}/{key}");
        };
        match self.service.locate(&bucket, &key, version).await {
            Ok(loc) => json(StatusCode::OK, &loc),
            Err(e) => service_error(&e),
        }
    }

    /// `GET /admin/v1/placement/explain?bucket=…`.
    async fn explain(&self, bucket: &str) -> Answer {
        match self.service.explain_placement(bucket).await {
            Ok(x) => json(StatusCode::OK, &x),
            Err(e) => service_error(&e),
        }
    }
}

/// What kind of admin route a request is, for the token's role: tokens, users (keys and
/// grants with them), keys, residency; any other GET reads.
fn route_action(method: &Method, path: &str) -> Action {
    let rest = path.strip_prefix("/admin/v1/").unwrap_or("");
    let first = rest.split('/').next().unwrap_or("");
    match first {
        "tokens" => Action::AdminTokens,
        "users" | "access-keys" => Action::AdminUsers,
        _ if path.ends_with("/grants") => Action::AdminUsers,
        _ if method == Method::GET => Action::AdminRead,
        "keys" => Action::AdminKeys,
        _ if path.ends_with("/kek") => Action::AdminKeys,
        _ => Action::AdminResidency,
    }
}

/// The HTTP status of a service error (no side effect: the caller logs what it must).
pub(crate) fn status_for(e: &crate::error::Error) -> StatusCode {
    match e.kind() {
        ErrorKind::NoSuchBucket | ErrorKind::NoSuchKey | ErrorKind::NoSuchVersion | ErrorKind::NoSuchProvider => {
            StatusCode::NOT_FOUND
        }
        ErrorKind::InvalidBucketName(_)
        | ErrorKind::KeyTooLong
        | ErrorKind::InvalidArgument(_)
        | ErrorKind::InvalidLocationConstraint => StatusCode::BAD_REQUEST,
        ErrorKind::ResidencyUnsatisfiable(_) | ErrorKind::Conflict(_) => StatusCode::CONFLICT,
        ErrorKind::KeyShredded(_) => StatusCode::GONE,
        ErrorKind::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn service_error(e: &crate::error::Error) -> Answer {
    let status = status_for(e);
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            let detail = crate::report::chain(&e);
            tracing::warn!(detail = %detail, "admin request: a provider or the KMS is unavailable");
            error(status, "a provider or the key service is unavailable")
        }
        StatusCode::INTERNAL_SERVER_ERROR => {
            tracing::error!(error = %crate::report::chain(&e), "admin request failed");
            error(status, "internal error")
        }
        _ if matches!(e.kind(), ErrorKind::InvalidLocationConstraint) => error(status, "no such policy"),
        _ => error(status, &e.to_string()),
    }
}

fn to_response((status, content_type, body): Answer) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

impl hyper::service::Service<Request<Incoming>> for AdminService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let me = self.clone();
        Box::pin(async move { Ok(me.respond(req).await) })
    }
}
