//! The admin API's access routes: users, their access keys, and per-bucket grants.
//!
//! - `GET|POST /admin/v1/users`, `DELETE /admin/v1/users/{name}`
//! - `GET|POST /admin/v1/access-keys` (`?user=`), `POST /admin/v1/access-keys/{id}/disable|enable`,
//!   `DELETE /admin/v1/access-keys/{id}`
//! - `GET|POST /admin/v1/buckets/{bucket}/grants` (`{"user", "allow"|"deny": "read,write"}`)
//! - `GET|POST /admin/v1/tokens` (`{"name", "role"}`), `DELETE /admin/v1/tokens/{name}`

use http::{Method, StatusCode};
use hyper::body::Incoming;

use super::residency::read_json;
use super::{Answer, error, json, percent_decode, service_error};
use crate::model::access::{AdminRole, Perms, UserCaps};
use crate::service::admin::AdminOps;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    create_buckets: bool,
    #[serde(default)]
    policies: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    user: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expires_ms: Option<i64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantChange {
    user: String,
    #[serde(default)]
    allow: Option<String>,
    #[serde(default)]
    deny: Option<String>,
}

fn answer<T: serde::Serialize>(status: StatusCode, r: crate::error::Result<T>) -> Answer {
    match r {
        Ok(v) => json(status, &v),
        Err(e) => service_error(&e),
    }
}

fn done(r: crate::error::Result<()>) -> Answer {
    answer(StatusCode::OK, r.map(|()| serde_json::json!({ "done": true })))
}

/// Routes the access paths; `None` if the path is not one.
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
    let decoded = |s: &str| percent_decode(s).ok_or_else(|| error(StatusCode::BAD_REQUEST, "bad path segment"));
    let answer = match (method, segments.as_slice()) {
        (&Method::GET, ["users"]) => answer(StatusCode::OK, service.users().await),
        (&Method::POST, ["users"]) => match read_json::<NewUser>(body).await {
            Ok(u) => {
                let caps = UserCaps { create_buckets: u.create_buckets, policies: u.policies };
                answer(StatusCode::CREATED, service.create_user(actor, &u.name, u.display_name, caps).await)
            }
            Err(a) => a,
        },
        (&Method::DELETE, ["users", name]) => match decoded(name) {
            Ok(n) => done(service.delete_user(actor, &n).await),
            Err(a) => a,
        },
        (&Method::GET, ["access-keys"]) => {
            let user = query.split('&').find_map(|kv| kv.strip_prefix("user=")).and_then(percent_decode);
            answer(StatusCode::OK, service.access_keys(user.as_deref()).await)
        }
        (&Method::POST, ["access-keys"]) => match read_json::<NewKey>(body).await {
            Ok(k) => answer(StatusCode::CREATED, service.create_access_key(actor, &k.user, k.name, k.expires_ms).await),
            Err(a) => a,
        },
        (&Method::POST, ["access-keys", id, toggle @ ("disable" | "enable")]) => match decoded(id) {
            Ok(id) => answer(StatusCode::OK, service.set_key_disabled(actor, &id, *toggle == "disable").await),
            Err(a) => a,
        },
        (&Method::DELETE, ["access-keys", id]) => match decoded(id) {
            Ok(id) => done(service.delete_access_key(actor, &id).await),
            Err(a) => a,
        },
        (&Method::GET, ["tokens"]) => answer(StatusCode::OK, service.admin_tokens().await),
        (&Method::POST, ["tokens"]) => match read_json::<NewToken>(body).await {
            Ok(t) => match AdminRole::parse(&t.role) {
                Ok(role) => answer(StatusCode::CREATED, service.create_admin_token(actor, &t.name, role).await),
                Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
            },
            Err(a) => a,
        },
        (&Method::DELETE, ["tokens", name]) => match decoded(name) {
            Ok(n) => done(service.delete_admin_token(actor, &n).await),
            Err(a) => a,
        },
        (&Method::GET, ["buckets", bucket, "grants"]) => match decoded(bucket) {
            Ok(b) => answer(StatusCode::OK, service.bucket_grants(&b).await),
            Err(a) => a,
        },
        (&Method::POST, ["buckets", bucket, "grants"]) => match (decoded(bucket), read_json::<GrantChange>(body).await)
        {
            (Ok(b), Ok(g)) => {
                let (text, allow) = match (g.allow, g.deny) {
                    (Some(p), None) => (p, true),
                    (None, Some(p)) => (p, false),
                    _ => return Some(error(StatusCode::BAD_REQUEST, "give exactly one of allow and deny")),
                };
                match Perms::parse(&text) {
                    Ok(perms) => answer(StatusCode::OK, service.change_grant(actor, &b, &g.user, perms, allow).await),
                    Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
                }
            }
            (Err(a), _) | (_, Err(a)) => a,
        },
        _ => return None,
    };
    Some(answer)
}
