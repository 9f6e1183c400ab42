//! The admin API's residency routes: the catalog, policies, bucket bindings (and a bucket's
//! ETag mode), the audit log and the evacuation job. JSON in and out; every change is applied
//! with its audit record.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::{Answer, error, json, percent_decode, service_error};
use crate::config::ProviderUpdate;
use crate::config::raw::RawPolicy;
use crate::model::audit::{AuditRecord, verify};
use crate::service::admin::AdminOps;

/// Largest request body the admin API reads.
const MAX_BODY: usize = 64 << 10;
/// Audit records per export page.
const AUDIT_PAGE: usize = 1000;

/// The request body as JSON (an empty body reads as `{}`).
pub(super) async fn read_json<T: serde::de::DeserializeOwned>(body: Incoming) -> Result<T, Answer> {
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, "body over 64 KiB or unreadable"))?
        .to_bytes();
    let bytes = if bytes.is_empty() { Bytes::from_static(b"{}") } else { bytes };
    serde_json::from_slice(&bytes).map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")))
}

fn query_u64(query: &str, name: &str) -> Option<u64> {
    query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// Routes `/admin/v1/{providers,policies,buckets,audit,jobs}…`; `None` if the path is not one.
pub(super) async fn route(
    service: &AdminOps,
    actor: &str,
    method: &Method,
    path: &str,
    query: &str,
    body: Incoming,
) -> Option<Answer> {
    let rest = path.strip_prefix("/admin/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let answer = match (method, segments.as_slice()) {
        (&Method::GET, ["providers"]) => json(StatusCode::OK, &service.providers_view()),
        (&Method::PUT, ["providers", id]) => match read_json::<ProviderUpdate>(body).await {
            Ok(update) => match service.update_provider(actor, id, |current| update.apply(current)).await {
                Ok(rec) => json(StatusCode::OK, &rec),
                Err(e) => service_error(&e),
            },
            Err(a) => a,
        },
        (&Method::GET, ["policies"]) => json(StatusCode::OK, &service.policies()),
        (&Method::PUT, ["policies", id]) => match read_json::<RawPolicy>(body).await {
            Ok(raw) if raw.id != *id => error(StatusCode::BAD_REQUEST, "the body's id differs from the path's"),
            Ok(raw) => match crate::config::parse_policy(raw) {
                Ok(policy) => match service.put_policy(actor, policy).await {
                    Ok(rec) => json(StatusCode::OK, &rec),
                    Err(e) => service_error(&e),
                },
                Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            Err(a) => a,
        },
        (&Method::PUT, ["buckets", bucket, "policy"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Binding {
                policy: String,
            }
            match (percent_decode(bucket), read_json::<Binding>(body).await) {
                (Some(b), Ok(binding)) => match service.bind_bucket(actor, &b, &binding.policy).await {
                    Ok(rec) => json(StatusCode::OK, &rec),
                    Err(e) => service_error(&e),
                },
                (None, _) => error(StatusCode::BAD_REQUEST, "bad bucket name"),
                (_, Err(a)) => a,
            }
        }
        (&Method::PUT, ["buckets", bucket, "etag"]) => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Mode {
                etag: crate::model::EtagMode,
            }
            match (percent_decode(bucket), read_json::<Mode>(body).await) {
                (Some(b), Ok(m)) => match service.set_etag_mode(actor, &b, m.etag).await {
                    Ok(()) => json(StatusCode::OK, &serde_json::json!({ "bucket": b, "etag": m.etag })),
                    Err(e) => service_error(&e),
                },
                (None, _) => error(StatusCode::BAD_REQUEST, "bad bucket name"),
                (_, Err(a)) => a,
            }
        }
        (&Method::GET, ["buckets", bucket, "etag"]) => match percent_decode(bucket) {
            Some(b) => match service.etag_mode(&b).await {
                Ok(mode) => json(StatusCode::OK, &serde_json::json!({ "bucket": b, "etag": mode })),
                Err(e) => service_error(&e),
            },
            None => error(StatusCode::BAD_REQUEST, "bad bucket name"),
        },
        (&Method::GET, ["audit"]) => {
            let after = query_u64(query, "after").unwrap_or(0);
            let limit = query_u64(query, "limit")
                .map_or(AUDIT_PAGE, |l| usize::try_from(l).unwrap_or(AUDIT_PAGE).clamp(1, AUDIT_PAGE));
            match service.audit_records(after, limit).await {
                Ok(records) => {
                    let mut out = String::new();
                    for r in &records {
                        out.push_str(&serde_json::to_string(r).unwrap_or_default());
                        out.push('\n');
                    }
                    (StatusCode::OK, "application/x-ndjson", Bytes::from(out))
                }
                Err(e) => service_error(&e),
            }
        }
        (&Method::GET, ["audit", "verify"]) => verify_live(service).await,
        (&Method::GET, ["jobs", name]) if crate::model::jobs::ALL.contains(name) => match service.job(name).await {
            Ok(Some(job)) => json(StatusCode::OK, &job),
            Ok(None) => error(StatusCode::NOT_FOUND, "the job has not run yet"),
            Err(e) => service_error(&e),
        },
        _ => return None,
    };
    Some(answer)
}

/// Verifies the whole live chain, a page at a time (only the last record of each page is kept
/// to link the next), and its seal: made with the audit key, over this chain's record, and
/// covering every record.
async fn verify_live(service: &AdminOps) -> Answer {
    match verify_chain(service).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => service_error(&e),
    }
}

pub(super) async fn verify_chain(service: &AdminOps) -> crate::error::Result<serde_json::Value> {
    let mut after = 0;
    let mut count = 0u64;
    let mut problems = Vec::new();
    let mut last: Option<AuditRecord> = None;
    let mut chased = None;
    let seal = loop {
        let page = service.audit_records(after, AUDIT_PAGE).await?;
        let Some(tail) = page.last().cloned() else {
            // The end: the seal is read now, so it covers at least every record walked (each
            // commit writes its record and the seal together). A seal beyond the walk means
            // records were committed meanwhile: walk on to them.
            // (Once per seal: records removed after a seal do not make the walk go round.)
            let seal = service.audit_seal().await?;
            match &seal {
                Some(s) if s.seq > after && chased != Some(s.seq) => {
                    chased = Some(s.seq);
                    continue;
                }
                _ => break seal,
            }
        };
        let mut window = Vec::with_capacity(page.len() + 1);
        window.extend(last.take());
        let skip = window.len();
        window.extend(page);
        // The first page must start the chain itself (a removed first record shows).
        let anchor = (skip == 0).then_some(crate::model::audit::GENESIS);
        for p in verify(&window, anchor) {
            // Lines are 1-based within the window; report sequence numbers instead.
            if p.line > skip || skip == 0 {
                problems.push(p.problem);
            }
        }
        count += (window.len() - skip) as u64;
        after = tail.seq;
        last = Some(tail);
    };
    let head = last.as_ref().map(|r| r.seq);
    let at_seal = match (&seal, &last) {
        (Some(s), Some(l)) if s.seq == l.seq => Some(l.hash.clone()),
        (Some(s), _) => service
            .audit_records(s.seq.saturating_sub(1), 1)
            .await?
            .first()
            .filter(|r| r.seq == s.seq)
            .map(|r| r.hash.clone()),
        (None, _) => None,
    };
    let report = service.check_audit_seal(seal.as_ref(), head, at_seal.as_deref());
    problems.extend(report.problems);
    Ok(serde_json::json!({
        "records": count,
        "intact": problems.is_empty(),
        "sealed_through": report.sealed_through,
        "head": head,
        "head_hash": last.as_ref().map(|r| r.hash.clone()),
        "problems": problems,
    }))
}
