//! The S3 front end: listener, limits, graceful shutdown, and the s3s adapter. The only module
//! that imports `s3s` and the only one that knows S3 error codes.

pub mod addressing;
pub mod auth;
pub mod body_timeout;
pub mod convert;
pub mod cors;
pub mod error;
pub mod first_bytes;
pub mod form_policy;
pub mod forms;
pub mod idle;
pub mod limits;
pub mod observe;
pub mod peer;
pub mod query;
pub mod s3;
pub mod server;
pub mod signed_headers;
pub mod tls;
pub mod unknown_length;

use std::sync::Arc;

use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;

use crate::metrics::Metrics;
use crate::service::Gate;

pub use server::{ServerLimits, serve};

/// XML request bodies above this are refused (a 10,000-part Complete fits).
pub const XML_MAX_BODY: usize = 4 << 20;

/// Builds the s3s service: our S3 implementation, SigV4/SigV2 auth from `keys`, admission
/// checks, and body limits.
///
/// `domains` (checked by the configuration) turn on virtual-hosted-style addressing.
pub fn s3_service(
    gate: Arc<dyn Gate>,
    metrics: Arc<Metrics>,
    body_timeout: std::time::Duration,
    domains: &[String],
) -> observe::Observed {
    let addressing = addressing::Addressing::new(domains);
    let mut builder = S3ServiceBuilder::new(s3::Gateway::new(Arc::clone(&gate)));
    builder.set_host(addressing.clone());
    builder.set_auth(auth::KeyRing::new(Arc::clone(&gate)));
    builder.set_access(auth::Admission);
    let mut config = S3Config::default();
    config.xml_max_body_size = XML_MAX_BODY;
    // Never reached (`forms` answers POST object first); bounded all the same.
    config.post_object_max_file_size = XML_MAX_BODY as u64;
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(config))));
    let limited = limits::Limited::new(builder.build(), XML_MAX_BODY, body_timeout, addressing.clone());
    let forms = forms::Forms::new(limited, Arc::clone(&gate), addressing.clone(), body_timeout);
    let cors = cors::Cors::new(forms, gate, addressing.clone());
    observe::Observed::new(cors, metrics, addressing)
}
