//! Checks applied before s3s sees a request:
//! - s3s 0.14 answers an over-long XML body with 500 InternalError (it does not recognise
//!   http-body-util's length error); a client error must be a 4xx, so requests that carry XML
//!   (everything but object and part uploads) are measured here by their Content-Length first;
//! - a SigV4 request with `x-amz-*` headers it did not sign is refused (`signed_headers`), and
//!   so is one carrying both a query signature and an `Authorization` header;
//! - the body fails with RequestTimeout when the client stops sending it (`body_timeout`);
//! - a PutObject of unknown length (plain chunked transfer) is marked (`unknown_length`).
//!
//! POST object (form uploads) never gets here: `forms` answers it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{Method, Request};
use hyper::body::Incoming;
use s3s::service::S3Service;
use s3s::{HttpError, HttpResponse, S3Error, S3ErrorCode};

use super::addressing::Addressing;
use super::body_timeout::IdleTimeout;
use super::signed_headers::SignedHeaders;

/// The s3s service behind the request checks.
#[derive(Clone)]
pub struct Limited {
    inner: S3Service,
    xml_max_body: u64,
    body_timeout: Duration,
    addressing: Addressing,
}

impl Limited {
    /// Wraps `inner`.
    pub fn new(inner: S3Service, xml_max_body: usize, body_timeout: Duration, addressing: Addressing) -> Self {
        Self { inner, xml_max_body: xml_max_body as u64, body_timeout, addressing }
    }
}

/// Object and part uploads (`PUT /bucket/key`, in either addressing style) stream their
/// bodies; everything else is XML.
fn carries_object_data(req: &Request<Incoming>, addressing: &Addressing) -> bool {
    let path = addressing.path_style(req);
    let path = path.trim_start_matches('/');
    req.method() == Method::PUT && path.split_once('/').is_some_and(|(_, key)| !key.is_empty())
}

fn declared_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

impl hyper::service::Service<Request<Incoming>> for Limited {
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = BoxFuture<'static, Result<HttpResponse, HttpError>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let query = super::query::Query::parse(req.uri().query());
        let signed = super::signed_headers::signed_header_list(req.headers(), &query);
        if signed == SignedHeaders::TwoMechanisms {
            return refuse_with_status(
                S3ErrorCode::InvalidArgument,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
                http::StatusCode::BAD_REQUEST,
            );
        }
        let unsigned = super::signed_headers::unsigned_amz_headers(req.headers(), &signed);
        if !unsigned.is_empty() {
            return refuse(
                S3ErrorCode::AccessDenied,
                format!("There were headers present in the request which were not signed: {}", unsigned.join(", ")),
            );
        }
        if !carries_object_data(&req, &self.addressing) && declared_length(&req).is_some_and(|n| n > self.xml_max_body)
        {
            return refuse(
                S3ErrorCode::MaxMessageLengthExceeded,
                format!("Your request was too big: XML bodies are limited to {} bytes", self.xml_max_body),
            );
        }
        let mut req = req;
        let object = carries_object_data(&req, &self.addressing);
        super::unknown_length::mark(&mut req, &query, object);
        let req = req.map(|body| s3s::Body::http_body(IdleTimeout::new(body, self.body_timeout)));
        let inner = self.inner.clone();
        Box::pin(async move { inner.call(req).await })
    }
}

/// Answers an S3 error without passing the request on.
fn refuse(code: S3ErrorCode, message: String) -> BoxFuture<'static, Result<HttpResponse, HttpError>> {
    let resp = S3Error::with_message(code, message).to_http_response().map_err(|e| HttpError::new(Box::new(e)));
    Box::pin(async move { resp })
}

/// [`refuse`] with an explicit status (codes whose default status is not the one S3 answers).
fn refuse_with_status(
    code: S3ErrorCode,
    message: String,
    status: http::StatusCode,
) -> BoxFuture<'static, Result<HttpResponse, HttpError>> {
    let mut e = S3Error::with_message(code, message);
    e.set_status_code(status);
    let resp = e.to_http_response().map_err(|e| HttpError::new(Box::new(e)));
    Box::pin(async move { resp })
}
