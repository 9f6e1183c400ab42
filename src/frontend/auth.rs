//! Credentials and request admission: SigV4/SigV2 secrets, the presign cap (anonymous requests go on to the service's authorization).

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use std::sync::Arc;

use crate::service::Gate;

/// Presigned URLs may live at most 7 days, as on AWS.
pub const MAX_PRESIGN_SECS: u64 = 604_800;

/// The secrets of access keys, as the service knows them (the configuration's and users').
pub struct KeyRing {
    gate: Arc<dyn Gate>,
}

impl KeyRing {
    /// Over the service's keys.
    pub fn new(gate: Arc<dyn Gate>) -> Self {
        Self { gate }
    }
}

#[async_trait::async_trait]
impl S3Auth for KeyRing {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        // s3s compares the resulting signatures in constant time. A disabled or expired key is
        // refused as an unknown one, as S3 does.
        match self.gate.secret(access_key).await {
            Ok(Some(secret)) => Ok(SecretKey::from(secret.expose())),
            Ok(None) => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
            Err(e) => Err(super::error::to_s3(&e)),
        }
    }
}

/// Admission after signature verification.
pub struct Admission;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn presign_too_long() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("AuthorizationQueryParametersError".into()),
        "X-Amz-Expires must be less than a week (in seconds) that is, the given X-Amz-Expires must be less than 604800 seconds",
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

#[async_trait::async_trait]
impl S3Access for Admission {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Anonymous requests go on to the service, where only a bucket policy can allow them.
        // Decoded as s3s decodes it, so a percent-encoded name is the parameter s3s honoured.
        let query = super::query::Query::parse(cx.uri().query());
        for exp in query.values("X-Amz-Expires") {
            let secs: u64 = exp.parse().map_err(|_| presign_too_long())?;
            if secs > MAX_PRESIGN_SECS {
                return Err(presign_too_long());
            }
        }
        // SigV2 presigned URLs carry an absolute expiry.
        if query.has("Signature") {
            for exp in query.values("Expires") {
                let at: u64 = exp.parse().map_err(|_| presign_too_long())?;
                if at > now_secs() + MAX_PRESIGN_SECS {
                    return Err(presign_too_long());
                }
            }
        }
        Ok(())
    }
}
