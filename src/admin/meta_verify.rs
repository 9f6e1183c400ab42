//! `POST /admin/v1/meta/verify`: `souverain meta verify` run inside the gateway, on the store
//! it holds open. The embedded RocksDB store can be opened by one process only, so without
//! this a RocksDB deployment could be verified only with its gateway stopped.
//!
//! The verification itself sits below the service layer (the metadata log's reader), which the
//! admin API does not reach; the composition root (`app.rs`) hands in a [`LiveVerifier`].

use futures_util::future::BoxFuture;
use http::StatusCode;

use super::{Answer, error, json};

/// What a verification run answered.
pub struct Verified {
    /// The report, as `souverain meta verify` prints it.
    pub report: serde_json::Value,
    /// Whether the store and the providers agree (the offline command's exit status).
    pub clean: bool,
}

/// Why a verification did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Another verification is running on this gateway.
    #[error("a verification is already running on this gateway")]
    Busy,
    /// A provider named in the request is not configured.
    #[error("{0}")]
    BadRequest(String),
    /// The gateway began to shut down before the run ended.
    #[error("the gateway is shutting down")]
    Stopped,
    /// The verification failed (the store or the key provider).
    #[error("the verification failed")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Runs one verification of the live store against the providers (`providers`: all when
/// empty); with `repair`, queues the fixes and records the run in the audit log as `actor`'s
/// (when it starts and when it ends).
pub trait LiveVerifier: Send + Sync {
    /// One run; at most one at a time per gateway.
    fn verify<'a>(
        &'a self,
        actor: &'a str,
        providers: &'a [String],
        repair: bool,
    ) -> BoxFuture<'a, Result<Verified, VerifyError>>;
}

/// `POST /admin/v1/meta/verify[?repair=true][&provider=ID…]`: 200 with
/// `{"clean": bool, "report": {…}}`, 409 while another run is going, 400 for an unknown provider.
pub(super) async fn route(verifier: &dyn LiveVerifier, actor: &str, query: &str) -> Answer {
    let mut repair = false;
    let mut providers = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("repair", "true")) => repair = true,
            Some(("repair", "false")) => repair = false,
            Some(("provider", id)) => match super::percent_decode(id) {
                Some(id) => providers.push(id),
                None => return error(StatusCode::BAD_REQUEST, "bad provider id"),
            },
            _ => return error(StatusCode::BAD_REQUEST, "expected ?repair=true|false and provider=ID"),
        }
    }
    match verifier.verify(actor, &providers, repair).await {
        Ok(v) => json(StatusCode::OK, &serde_json::json!({ "clean": v.clean, "report": v.report })),
        Err(VerifyError::Busy) => error(StatusCode::CONFLICT, &VerifyError::Busy.to_string()),
        Err(VerifyError::BadRequest(why)) => error(StatusCode::BAD_REQUEST, &why),
        Err(VerifyError::Stopped) => error(StatusCode::SERVICE_UNAVAILABLE, &VerifyError::Stopped.to_string()),
        Err(e @ VerifyError::Failed(_)) => {
            tracing::warn!(error = %crate::report::chain(&e), "meta verify through the admin API failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the verification failed (the gateway's log says why)")
        }
    }
}
