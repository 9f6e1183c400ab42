//! The web console (issue 27) on the admin listener, under `/console`: server-rendered pages
//! (maud: HTML built by Rust code, escaped by construction) for the people who answer for
//! residency — the providers with their legal facts and health, the policies in words with
//! their buckets, where an object's replicas are, and the audit log with its chain check.
//! Login takes an admin token (POST form) into a server-side session ([`session`]); every page asks
//! the same `authorize` the admin API does (`admin:Read` to see), and every POST carries the
//! session's CSRF token. Pages load only the console's own stylesheet: the
//! Content-Security-Policy allows nothing else (no script, no inline style, no frame).

mod alerts;
mod binding;
mod bucket_kek;
mod changes;
mod health;
mod inspect;
mod keys;
mod layout;
mod map;
mod map_anchors;
mod pages;
mod pdf;
mod pdf_map;
mod policy_edit;
mod report;
mod report_print;
mod session;
mod shred;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use maud::Markup;

use crate::access::{Action, Decision};
use crate::service::admin::AdminOps;
use layout::View;

/// The pages that walk every object version or the whole audit chain (the report, a change's
/// dry run, the chain's check) run one at a time per gateway, however many are asked for.
static WALKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The largest form the console reads.
const MAX_FORM: usize = 16 * 1024;
pub(super) const STYLESHEET: &str = include_str!("console.css");
const FAVICON: &str = include_str!("favicon.svg");
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Answers a request under `/console`.
pub(super) async fn respond(
    service: &AdminOps,
    health: &crate::health::HealthState,
    settings: &crate::config::ConsoleSettings,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    match (&parts.method, path.as_str()) {
        (&Method::GET, "/console/assets/console.css") => return asset(STYLESHEET, "text/css; charset=utf-8"),
        (&Method::GET, "/console/assets/favicon.svg") => return asset(FAVICON, "image/svg+xml"),
        (&Method::GET, "/console/login") => return page(StatusCode::OK, layout::login(None)),
        (&Method::POST, _) if !same_origin(&parts.headers) => {
            return page(
                StatusCode::FORBIDDEN,
                layout::problem("This form was not sent from the console's own pages."),
            );
        }
        (&Method::POST, "/console/login") => return login(service, body).await,
        _ => {}
    }
    let (secret, principal) = match session_of(service, &parts.headers).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let view = View { actor: principal.actor(), csrf: session::csrf(&secret) };
    if parts.method == Method::POST {
        return post(service, &principal, &view, &secret, &path, body).await;
    }
    let (status, markup) = match (&parts.method, path.as_str()) {
        (&Method::GET, "/console" | "/console/") => (StatusCode::OK, pages::providers(service, &view)),
        (&Method::GET, "/console/policies") => (StatusCode::OK, pages::policies(service, &view).await),
        (&Method::GET, p) if p.starts_with("/console/policies/") => {
            policy_edit::edit(service, &view, &p["/console/policies/".len()..])
        }
        (&Method::GET, p) if p.starts_with("/console/buckets/") => {
            pages::bucket(service, &view, &p["/console/buckets/".len()..]).await
        }
        (&Method::GET, "/console/locate") => inspect::locate(service, &view, &query).await,
        (&Method::GET, "/console/audit") => inspect::audit(service, &view, &query).await,
        (&Method::GET, "/console/audit/verify") => {
            let _walk = WALKS.acquire().await;
            inspect::verify(service, &view).await
        }
        (&Method::GET, "/console/jobs") => {
            let (status, markup, running) = changes::jobs(service, &view).await;
            let mut resp = page(status, markup);
            if running {
                resp.headers_mut().insert(header::REFRESH, HeaderValue::from_static("2"));
            }
            return resp;
        }
        (&Method::GET, "/console/keys") => keys::page(service, &view).await,
        (&Method::GET, "/console/health") => (
            StatusCode::OK,
            health::page(&view, &health.report(), &alerts::fetch(settings.prometheus_url.as_deref()).await),
        ),
        (&Method::GET, "/console/audit/export") => return audit_export(service, &query).await,
        (&Method::GET, "/console/report") => match walk(report::gather(service)).await {
            Ok((facts, chain)) => (StatusCode::OK, report::page(&view, &facts, &chain)),
            Err(e) => (inspect::status_of(&e), layout::problem("The report could not be gathered now.")),
        },
        (&Method::GET, "/console/report.pdf") => return report_pdf(service, &settings.report_pdf).await,
        (&Method::GET, p) if p.starts_with("/console/providers/") => {
            changes::edit(service, &view, &p["/console/providers/".len()..])
        }
        _ => (StatusCode::NOT_FOUND, layout::problem("No such page.")),
    };
    page(status, markup)
}

/// The session's secret and who it is, if the request carries a live session of a token that
/// may read (else the answer: the login form, or why not).
async fn session_of(
    service: &AdminOps,
    headers: &http::HeaderMap,
) -> Result<(String, crate::access::Principal), Response<Full<Bytes>>> {
    let Some(secret) = session::secret(headers) else {
        return Err(redirect("/console/login", Some(session::logout_cookie())));
    };
    let principal = match service.console_session(&secret, now_secs()).await {
        Ok(Some(p)) => p,
        // No such session (logged out, expired), or its token deleted since login.
        Ok(None) => return Err(redirect("/console/login", Some(session::logout_cookie()))),
        Err(e) => {
            tracing::warn!(error = %crate::report::chain(&e), "console: the session could not be read");
            return Err(page(StatusCode::SERVICE_UNAVAILABLE, layout::problem("The session cannot be read now.")));
        }
    };
    if let Decision::Deny(why) = AdminOps::admin_decision(&principal, Action::AdminRead) {
        return Err(page(StatusCode::FORBIDDEN, layout::problem(&why.to_string())));
    }
    Ok((secret, principal))
}

/// Every POST but the login: refused (403, nothing done) without the session's CSRF token;
/// applying a change also needs a role that may change residency.
async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    secret: &str,
    path: &str,
    body: Incoming,
) -> Response<Full<Bytes>> {
    let form = read_form(body).await.unwrap_or_default();
    if !field(&form, "csrf").is_some_and(|given| session::csrf_ok(secret, &given)) {
        return page(StatusCode::FORBIDDEN, layout::problem("This form is stale or not the console's (CSRF token)."));
    }
    if path == "/console/logout" {
        if let Err(e) = service.console_logout(secret).await {
            tracing::warn!(error = %crate::report::chain(&e), "console: the session could not be ended");
            return page(StatusCode::SERVICE_UNAVAILABLE, layout::problem("The session cannot be ended now."));
        }
        return redirect("/console/login", Some(session::logout_cookie()));
    }
    if let Some((bucket, what)) = path.strip_prefix("/console/buckets/").and_then(|rest| rest.split_once('/')) {
        return binding::post(service, principal, view, bucket, what, &form).await;
    }
    if let Some(what) = path.strip_prefix("/console/keys/") {
        return keys::post(service, principal, view, what, &form).await;
    }
    if let Some((id, what)) = path.strip_prefix("/console/policies/").and_then(|rest| rest.split_once('/')) {
        return policy_edit::post(service, principal, view, id, what, &form).await;
    }
    let Some((id, what)) = path.strip_prefix("/console/providers/").and_then(|rest| rest.split_once('/')) else {
        return page(StatusCode::NOT_FOUND, layout::problem("No such page."));
    };
    let Some(edit) = changes::Edit::from_form(&form) else {
        return page(StatusCode::BAD_REQUEST, layout::problem("The form lacks the provider's exposures."));
    };
    let preview = changes::preview(service, view, id, &edit);
    confirmation(what, preview, principal, Action::AdminResidency, changes::apply(service, view, id, &edit)).await
}

/// A POST to a change's `preview` (anyone who may read; a dry run under the [`WALKS`]
/// permit) or `apply` (run only if `principal`'s role may do `action`, 403 otherwise; done,
/// it sends to the jobs page, else shows why). Only the future of the one asked is polled.
async fn confirmation(
    what: &str,
    preview: impl Future<Output = (StatusCode, Markup)>,
    principal: &crate::access::Principal,
    action: Action,
    apply: impl Future<Output = Result<(), (StatusCode, Markup)>>,
) -> Response<Full<Bytes>> {
    confirmation_then("/console/jobs", what, preview, principal, action, apply).await
}

/// [`confirmation`] sending to `done` once applied.
async fn confirmation_then(
    done: &'static str,
    what: &str,
    preview: impl Future<Output = (StatusCode, Markup)>,
    principal: &crate::access::Principal,
    action: Action,
    apply: impl Future<Output = Result<(), (StatusCode, Markup)>>,
) -> Response<Full<Bytes>> {
    match what {
        "preview" => {
            let (status, markup) = walk(preview).await;
            page(status, markup)
        }
        "apply" => {
            if let Decision::Deny(why) = AdminOps::admin_decision(principal, action) {
                return page(StatusCode::FORBIDDEN, layout::problem(&why.to_string()));
            }
            match apply.await {
                Ok(()) => redirect(done, None),
                Err((status, markup)) => page(status, markup),
            }
        }
        _ => page(StatusCode::NOT_FOUND, layout::problem("No such page.")),
    }
}

/// Runs `f` holding the [`WALKS`] permit.
async fn walk<T>(f: impl Future<Output = T>) -> T {
    let _permit = WALKS.acquire().await;
    f.await
}

fn now_secs() -> u64 {
    u64::try_from(crate::service::now_ms() / 1000).unwrap_or(0)
}

/// A POST comes from the console's own pages: browsers say so in `Sec-Fetch-Site` and `Origin`
/// (a page on another port of the same host is same-site for the cookie, but not same-origin:
/// it could otherwise log a user in under its own token). Clients that send neither header
/// (scripts, older browsers) still need the session and the CSRF token.
fn same_origin(headers: &http::HeaderMap) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site_ok = text(header::HeaderName::from_static("sec-fetch-site")).is_none_or(|s| s == "same-origin");
    let origin_ok = match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
        }
        (Some(_), None) => false,
    };
    fetch_site_ok && origin_ok
}

/// POST `/console/login`: a valid admin token starts a session; anything else shows the form
/// again with why (and sets nothing).
async fn login(service: &AdminOps, body: Incoming) -> Response<Full<Bytes>> {
    let token = read_form(body).await.and_then(|f| field(&f, "token"));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return page(StatusCode::BAD_REQUEST, layout::login(Some("Enter an admin token.")));
    };
    match service.console_login(&token, now_secs()).await {
        Ok(Some((secret, _))) => redirect("/console/", Some(session::login_cookie(secret.expose()))),
        Ok(None) => page(StatusCode::UNAUTHORIZED, layout::login(Some("This token is not an admin token."))),
        Err(e) => {
            tracing::warn!(error = %crate::report::chain(&e), "console: admin tokens could not be read");
            page(StatusCode::SERVICE_UNAVAILABLE, layout::login(Some("The admin tokens cannot be read now.")))
        }
    }
}

/// `GET /console/audit/export?after=N`: up to [`inspect::EXPORT_RECORDS`] audit records after
/// `N` as JSON lines (what `souverain admin audit verify --file` checks offline), named by the
/// sequence numbers they hold; the next file starts after the last.
async fn audit_export(service: &AdminOps, query: &str) -> Response<Full<Bytes>> {
    let after = query_param(query, "after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let (body, name) = match inspect::export(service, after).await {
        Ok(e) => e,
        Err(e) => return page(inspect::status_of(&e), layout::problem("The audit log cannot be read now.")),
    };
    download(body, "application/x-ndjson", &name)
}

/// An attachment named `name`.
fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure(h);
    resp
}

/// The report as a PDF download named by its day, made as the configuration chose.
async fn report_pdf(service: &AdminOps, maker: &crate::config::ReportPdf) -> Response<Full<Bytes>> {
    let (facts, chain) = match walk(report::gather(service)).await {
        Ok(r) => r,
        Err(e) => return page(inspect::status_of(&e), layout::problem("The report could not be gathered now.")),
    };
    let pdf = match maker {
        crate::config::ReportPdf::Builtin => report::pdf(&facts, &chain),
        crate::config::ReportPdf::Chromium(program) => {
            match report_print::print(program, &report::printable(&facts, &chain)).await {
                Ok(pdf) => pdf,
                Err(why) => {
                    tracing::warn!(program, error = %why, "the report's PDF could not be printed");
                    let message = format!("The report's PDF could not be printed by {program}: {why}.");
                    return page(StatusCode::SERVICE_UNAVAILABLE, layout::problem(&message));
                }
            }
        }
    };
    download(pdf, "application/pdf", &format!("souverain-report-{}.pdf", report::day(&facts)))
}

/// The form fields of a urlencoded body (at most [`MAX_FORM`] bytes).
async fn read_form(body: Incoming) -> Option<Vec<(String, String)>> {
    let bytes = Limited::new(body, MAX_FORM).collect().await.ok()?.to_bytes();
    serde_urlencoded::from_bytes(&bytes).ok()
}

fn field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A query parameter, decoded.
pub(super) fn query_param(query: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn page(status: StatusCode, markup: Markup) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(markup.into_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure(h);
    resp
}

/// Headers of every console answer: the CSP, no framing, no sniffing, no caching, no referrer
/// beyond the console itself.
fn secure(h: &mut http::HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: browsers then send `Origin: null` with the console's own forms.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// A file embedded in the binary.
fn asset(body: &'static str, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(h);
    resp
}

/// 303 to `to` (after a POST the browser GETs it), with a cookie to set.
fn redirect(to: &'static str, cookie: Option<String>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(to));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    secure(h);
    resp
}
