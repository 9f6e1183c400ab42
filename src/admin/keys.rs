//! The admin API's key routes: the KEKs in force, rotation, a bucket's own KEK, shredding.
//! The rotation job's progress is `GET /admin/v1/jobs/rotation` (the residency routes).

use http::{Method, StatusCode};
use hyper::body::Incoming;

use super::residency::read_json;
use super::{Answer, error, json, percent_decode, service_error};
use crate::service::admin::AdminOps;

/// Routes `/admin/v1/keys…` and `/admin/v1/buckets/{b}/kek`; `None` if the path is not one.
pub(super) async fn route(
    service: &AdminOps,
    actor: &str,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Option<Answer> {
    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Kek {
        #[serde(default)]
        kek: Option<String>,
    }
    let rest = path.strip_prefix("/admin/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let answer = match (method, segments.as_slice()) {
        (&Method::GET, ["keys"]) => match service.keys_view().await {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => service_error(&e),
        },
        (&Method::POST, ["keys", "rotate"]) => match read_json::<Kek>(body).await {
            Ok(k) => match service.rotate_keys(actor, k.kek.as_deref()).await {
                Ok(rotated) => {
                    json(StatusCode::ACCEPTED, &serde_json::json!({ "rotated": rotated, "job": "rotation" }))
                }
                Err(e) => service_error(&e),
            },
            Err(a) => a,
        },
        (&Method::POST, ["keys", kek, "shred"]) => match percent_decode(kek) {
            Some(k) => match service.shred_kek(actor, &k).await {
                Ok(rec) => json(StatusCode::OK, &rec),
                Err(e) => service_error(&e),
            },
            None => error(StatusCode::BAD_REQUEST, "bad key name"),
        },
        (&Method::PUT, ["buckets", bucket, "kek"]) => match (percent_decode(bucket), read_json::<Kek>(body).await) {
            (Some(b), Ok(Kek { kek: Some(k) })) => match service.set_bucket_kek(actor, &b, &k).await {
                Ok(rec) => json(StatusCode::OK, &rec),
                Err(e) => service_error(&e),
            },
            (None, _) => error(StatusCode::BAD_REQUEST, "bad bucket name"),
            (_, Ok(_)) => error(StatusCode::BAD_REQUEST, "expected {\"kek\": NAME}"),
            (_, Err(a)) => a,
        },
        _ => return None,
    };
    Some(answer)
}
