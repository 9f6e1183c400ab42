//! Request limits applied before s3s sees a request. s3s 0.14 answers an over-long XML body
//! with 500 InternalError (it does not recognise http-body-util's length error); a client error
//! must be a 4xx, so requests that carry XML (everything but object and part uploads) are
//! measured here by their Content-Length first.

use futures_util::future::BoxFuture;
use http::{Method, Request};
use hyper::body::Incoming;
use s3s::service::S3Service;
use s3s::{HttpError, HttpResponse, S3Error, S3ErrorCode};

/// The s3s service behind the XML body limit.
#[derive(Clone)]
pub struct Limited {
    inner: S3Service,
    xml_max_body: u64,
}

impl Limited {
    /// Wraps `inner`.
    pub fn new(inner: S3Service, xml_max_body: usize) -> Self {
        Self { inner, xml_max_body: xml_max_body as u64 }
    }
}

/// Object and part uploads (`PUT /bucket/key`) stream their bodies; everything else is XML.
fn carries_object_data(req: &Request<Incoming>) -> bool {
    let path = req.uri().path().trim_start_matches('/');
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
        if !carries_object_data(&req) && declared_length(&req).is_some_and(|n| n > self.xml_max_body) {
            let err = S3Error::with_message(
                S3ErrorCode::MaxMessageLengthExceeded,
                format!("Your request was too big: XML bodies are limited to {} bytes", self.xml_max_body),
            );
            let resp = err.to_http_response().map_err(|e| HttpError::new(Box::new(e)));
            return Box::pin(async move { resp });
        }
        hyper::service::Service::call(&self.inner, req)
    }
}
