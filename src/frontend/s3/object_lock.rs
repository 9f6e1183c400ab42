//! Object Lock: a bucket's configuration, a version's retention and legal hold, and the
//! `x-amz-object-lock-*` headers of writes and reads (docs/object-lock.md).

use s3s::dto::{
    DefaultRetention as DefaultRetentionDto, GetObjectLegalHoldInput, GetObjectLegalHoldOutput,
    GetObjectLockConfigurationInput, GetObjectLockConfigurationOutput, GetObjectRetentionInput,
    GetObjectRetentionOutput, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode, ObjectLockRule,
    PutObjectLegalHoldInput, PutObjectLegalHoldOutput, PutObjectLockConfigurationInput,
    PutObjectLockConfigurationOutput, PutObjectRetentionInput, PutObjectRetentionOutput, Timestamp,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::timestamp;
use crate::frontend::error::not_implemented;
use crate::model::lock::{DefaultRetention, LockChange, Retention, RetentionMode, VersionLock};
use crate::service::{LockRequest, ObjectApi};

fn invalid(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidRequest, message)
}

fn millis(t: &Timestamp) -> i64 {
    let t = time::OffsetDateTime::from(t.clone());
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn mode(s: &str) -> S3Result<RetentionMode> {
    RetentionMode::parse(s).ok_or_else(|| S3Error::with_message(S3ErrorCode::MalformedXML, "Unknown retention mode"))
}

/// S3 requires an integrity header on the Object Lock calls (their bodies are small XML).
pub(super) fn require_integrity_header(headers: &http::HeaderMap) -> S3Result<()> {
    let present = headers.contains_key("content-md5")
        || headers.contains_key("x-amz-sdk-checksum-algorithm")
        || headers.keys().any(|k| k.as_str().starts_with("x-amz-checksum-"));
    if present {
        Ok(())
    } else {
        Err(invalid("Content-MD5 OR x-amz-checksum- HTTP header is required for this request"))
    }
}

/// The lock a write's `x-amz-object-lock-*` headers ask for: mode and date together or
/// neither, the date in the future (checked by the service).
pub(super) fn lock_request(
    lock_mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    legal_hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<LockRequest> {
    let retention = match (lock_mode, until) {
        (Some(m), Some(u)) => Some(Retention { mode: mode(m.as_str())?, until_ms: millis(u) }),
        (None, None) => None,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be supplied",
            ));
        }
    };
    let legal_hold = match legal_hold.map(ObjectLockLegalHoldStatus::as_str) {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "Unknown legal hold status")),
    };
    Ok(LockRequest { retention, legal_hold })
}

/// The `x-amz-object-lock-*` headers of a GET or HEAD.
pub(super) fn lock_headers(
    lock: &VersionLock,
) -> (Option<ObjectLockMode>, Option<Timestamp>, Option<ObjectLockLegalHoldStatus>) {
    let mode = lock.retention.map(|r| ObjectLockMode::from(r.mode.as_s3().to_owned()));
    let until = lock.retention.map(|r| timestamp(r.until_ms));
    let hold = lock.legal_hold.then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON));
    (mode, until, hold)
}

pub(super) async fn put_object_lock_configuration(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    require_integrity_header(&req.headers)?;
    let i = req.input;
    if i.token.is_some() {
        return Err(not_implemented("Object Lock tokens"));
    }
    let conf = i.object_lock_configuration.unwrap_or_default();
    if conf.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some("Enabled") {
        return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "ObjectLockEnabled must be Enabled"));
    }
    let default = match conf.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => {
            let m = mode(d.mode.as_ref().map(ObjectLockRetentionMode::as_str).unwrap_or_default())?;
            let days = match (d.days, d.years) {
                (Some(days), None) if days > 0 => days,
                (None, Some(years)) if years > 0 => years.saturating_mul(365),
                _ => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::MalformedXML,
                        "A default retention names a positive number of Days or of Years, not both",
                    ));
                }
            };
            Some(DefaultRetention { mode: m, days: u32::try_from(days).unwrap_or(u32::MAX) })
        }
    };
    svc(service.put_object_lock_configuration(&i.bucket, default).await)?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

pub(super) async fn get_object_lock_configuration(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let config = svc(service.object_lock_configuration(&req.input.bucket).await)?;
    let rule = config.default.map(|d| ObjectLockRule {
        default_retention: Some(DefaultRetentionDto {
            days: Some(i32::try_from(d.days).unwrap_or(i32::MAX)),
            mode: Some(ObjectLockRetentionMode::from(d.mode.as_s3().to_owned())),
            years: None,
        }),
    });
    let conf = ObjectLockConfiguration {
        object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
        rule,
    };
    Ok(S3Response::new(GetObjectLockConfigurationOutput { object_lock_configuration: Some(conf) }))
}

pub(super) async fn put_object_retention(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    require_integrity_header(&req.headers)?;
    let i = req.input;
    let retention = match i.retention {
        Some(ObjectLockRetention { mode: Some(m), retain_until_date: Some(u) }) => {
            Some(Retention { mode: mode(m.as_str())?, until_ms: millis(&u) })
        }
        Some(ObjectLockRetention { mode: None, retain_until_date: None }) | None => None,
        Some(_) => {
            return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "Mode and RetainUntilDate go together"));
        }
    };
    let bypass = i.bypass_governance_retention == Some(true);
    let change = LockChange::Retention(retention);
    svc(service.put_version_lock(&i.bucket, &i.key, i.version_id.as_deref(), change, bypass).await)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub(super) async fn get_object_retention(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let i = req.input;
    let view = svc(service.version_lock(&i.bucket, &i.key, i.version_id.as_deref()).await)?;
    let Some(r) = view.retention else {
        return Err(crate::frontend::error::to_s3(&crate::error::ErrorKind::NoSuchObjectLockConfiguration.into()));
    };
    let retention = ObjectLockRetention {
        mode: Some(ObjectLockRetentionMode::from(r.mode.as_s3().to_owned())),
        retain_until_date: Some(timestamp(r.until_ms)),
    };
    Ok(S3Response::new(GetObjectRetentionOutput { retention: Some(retention) }))
}

pub(super) async fn put_object_legal_hold(
    service: &dyn ObjectApi,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    require_integrity_header(&req.headers)?;
    let i = req.input;
    let on = match i.legal_hold.and_then(|h| h.status).as_ref().map(ObjectLockLegalHoldStatus::as_str) {
        Some("ON") => true,
        Some("OFF") => false,
        _ => return Err(S3Error::with_message(S3ErrorCode::MalformedXML, "Status must be ON or OFF")),
    };
    let change = LockChange::LegalHold(on);
    svc(service.put_version_lock(&i.bucket, &i.key, i.version_id.as_deref(), change, false).await)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub(super) async fn get_object_legal_hold(
    service: &dyn ObjectApi,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let i = req.input;
    let view = svc(service.version_lock(&i.bucket, &i.key, i.version_id.as_deref()).await)?;
    let status = ObjectLockLegalHoldStatus::from_static(if view.legal_hold { "ON" } else { "OFF" });
    Ok(S3Response::new(GetObjectLegalHoldOutput { legal_hold: Some(ObjectLockLegalHold { status: Some(status) }) }))
}
