//! Cross-origin requests from browsers, answered per the bucket's CORS rules as S3 does:
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
//!   unsigned (browsers never sign it): 200 with the rule's grants, or 403 when no rule allows
//!   it (the same answer when the bucket has no rules or does not exist);
//! - an actual request with an `Origin` goes on to s3s, and its answer (an error too) gets
//!   the grants of the first rule that allows the origin and method.
//!
//! Requests without `Origin` pass untouched and cost nothing more.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use s3s::{HttpError, HttpResponse, S3Error, S3ErrorCode};

use super::addressing::{Addressing, bucket_of};
use super::forms::Forms;
use crate::model::cors::{CorsConfig, CorsRule};
use crate::service::Gate;

/// The S3 service behind the CORS answers.
#[derive(Clone)]
pub struct Cors {
    inner: Forms,
    gate: Arc<dyn Gate>,
    addressing: Addressing,
}

impl Cors {
    /// Wraps `inner`, reading rules through `gate`.
    pub fn new(inner: Forms, gate: Arc<dyn Gate>, addressing: Addressing) -> Self {
        Self { inner, gate, addressing }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `Vary` of every CORS answer: caches must keep answers to different origins apart.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The grants of `rule` for `origin`; `preflight` adds the methods, the headers asked for and
/// the max age.
fn grant(headers: &mut HeaderMap, rule: &CorsRule, origin: &str, preflight: Option<&str>) {
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    if rule.any_origin() {
        set("access-control-allow-origin", "*");
    } else {
        set("access-control-allow-origin", origin);
        set("access-control-allow-credentials", "true");
    }
    set("vary", VARY);
    if !rule.expose_headers.is_empty() {
        set("access-control-expose-headers", &rule.expose_headers.join(", "));
    }
    if let Some(asked) = preflight {
        set("access-control-allow-methods", &rule.allowed_methods.join(", "));
        if !asked.is_empty() {
            set("access-control-allow-headers", asked);
        }
        if let Some(age) = rule.max_age_secs {
            set("access-control-max-age", &age.to_string());
        }
    }
}

fn forbidden(message: &str) -> Result<HttpResponse, HttpError> {
    let mut e = S3Error::with_message(S3ErrorCode::Custom("AccessForbidden".into()), message.to_owned());
    e.set_status_code(StatusCode::FORBIDDEN);
    e.to_http_response().map_err(|e| HttpError::new(Box::new(e)))
}

/// Answers a preflight from the bucket's rules.
fn preflight(config: Option<&CorsConfig>, origin: &str, method: &str, asked: &str) -> Result<HttpResponse, HttpError> {
    let Some(config) = config else {
        return forbidden("CORSResponse: CORS is not enabled for this bucket.");
    };
    let headers: Vec<&str> = asked.split(',').map(str::trim).filter(|h| !h.is_empty()).collect();
    let Some(rule) = config.preflight(origin, method, &headers) else {
        return forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        );
    };
    let mut resp = HttpResponse::new(s3s::Body::empty());
    grant(resp.headers_mut(), rule, origin, Some(asked));
    Ok(resp)
}

impl hyper::service::Service<Request<Incoming>> for Cors {
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<HttpResponse, HttpError>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let origin = header(req.headers(), "origin");
        let bucket = bucket_of(&self.addressing.path_style(&req)).map(str::to_owned);
        let (inner, gate) = (self.inner.clone(), Arc::clone(&self.gate));
        let (Some(origin), Some(bucket)) = (origin, bucket) else {
            return Box::pin(async move { inner.call(req).await });
        };
        let method = req.method().clone();
        let asked_method = header(req.headers(), "access-control-request-method");
        let asked_headers = header(req.headers(), "access-control-request-headers").unwrap_or_default();
        Box::pin(async move {
            // A store that cannot answer fails the browser's request closed (no grants).
            let config = gate.cors(&bucket).await.unwrap_or_else(|e| {
                tracing::warn!(error = %crate::report::Report(&e), "CORS rules unavailable");
                None
            });
            if method == Method::OPTIONS {
                let Some(m) = asked_method else {
                    let mut e = S3Error::with_message(
                        S3ErrorCode::Custom("BadRequest".into()),
                        "Insufficient information. Origin request header needed.",
                    );
                    e.set_status_code(StatusCode::BAD_REQUEST);
                    return e.to_http_response().map_err(|e| HttpError::new(Box::new(e)));
                };
                return preflight(config.as_deref(), &origin, &m, &asked_headers);
            }
            let mut resp = inner.call(req).await?;
            if let Some(rule) = config.as_deref().and_then(|c| c.actual(&origin, method.as_str())) {
                grant(resp.headers_mut(), rule, &origin, None);
            }
            Ok(resp)
        })
    }
}
