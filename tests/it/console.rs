//! The web console (issue 27) over HTTP, as a browser sends it: login with an admin token into
//! a `Secure; HttpOnly; SameSite=Strict` cookie, pages that show the providers' legal facts,
//! the policies in words with their buckets, a bucket's placement, an object's replicas and the
//! audit chain's verdict; every page behind the session, every answer under a strict
//! Content-Security-Policy, every POST behind the session's CSRF token, keys escaped.

use std::net::SocketAddr;

use crate::common::raw::{RawResponse, send};
use crate::common::{ADMIN_TOKEN, TestGateway, admin_request, client};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

async fn request(admin: SocketAddr, method: &str, path: &str, cookie: Option<&str>, form: &str) -> RawResponse {
    let mut headers =
        vec![("host".to_owned(), admin.to_string()), ("content-length".to_owned(), form.len().to_string())];
    if !form.is_empty() {
        headers.push(("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()));
    }
    if let Some(c) = cookie {
        headers.push(("cookie".to_owned(), c.to_owned()));
    }
    send(admin, method, path, &headers, form.as_bytes()).await.unwrap()
}

/// Logs in with `token`; the `name=value` pair of the session cookie.
async fn login(admin: SocketAddr, token: &str) -> String {
    let form = serde_urlencoded::to_string([("token", token)]).unwrap();
    let r = request(admin, "POST", "/console/login", None, &form).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/console/")), "{}", r.body_text());
    let set = r.header("set-cookie").unwrap().to_owned();
    for attribute in ["Path=/console", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set.split("; ").any(|a| a == attribute), "{attribute} missing from {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Promise: without a session every page answers 303 to the login form and shows nothing; a
/// cookie of a token that is not an admin token ends there too (and is cleared); a wrong token
/// at login gets 401 and no cookie; the login page itself is served under the CSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_session_every_page_sends_to_the_login_form() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("secret-bucket").send().await.unwrap();
    let pages = [
        "/console/",
        "/console/policies",
        "/console/buckets/secret-bucket",
        "/console/locate?bucket=secret-bucket&key=k",
        "/console/audit",
        "/console/audit/verify",
    ];
    for cookie in [None, Some("sv_console=6e6f742d612d746f6b656e")] {
        for path in pages {
            let r = request(admin, "GET", path, cookie, "").await;
            assert_eq!((r.status, r.header("location")), (303, Some("/console/login")), "{path}");
            assert!(!r.body_text().contains("secret-bucket"), "{path}");
            if cookie.is_some() {
                assert!(
                    r.header("set-cookie").is_some_and(|s| s.contains("Max-Age=0")),
                    "{path}: the stale cookie is cleared"
                );
            }
        }
    }
    let logout = request(admin, "POST", "/console/logout", None, "").await;
    assert_eq!(logout.status, 303);
    let wrong = request(admin, "POST", "/console/login", None, "token=not-the-token").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    assert!(wrong.body_text().contains("This token is not an admin token."));
    let form = request(admin, "GET", "/console/login", None, "").await;
    assert_eq!((form.status, form.header("content-security-policy")), (200, Some(CSP)));
    assert!(form.body_text().contains("<form class=\"login\" method=\"post\" action=\"/console/login\">"));
    gw.stop().await;
}

/// Promise: an admin who logs in sees every provider with its country, operator and
/// jurisdiction; each policy in words with the buckets bound to it; a bucket's three chosen
/// providers; an object's three stored replicas (its key escaped, never markup); the audit log
/// and the chain's verdict "intact". Logging out needs the page's CSRF token (403 and still
/// logged in without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_providers_policies_replicas_and_the_audit_chain() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    let key = "<i>x</i>&y";
    c.put_object().bucket("photos").key(key).body(b"pixels".to_vec().into()).send().await.unwrap();
    let cookie = login(admin, ADMIN_TOKEN).await;
    let get = |path: &'static str| {
        let cookie = cookie.clone();
        async move { request(admin, "GET", path, Some(&cookie), "").await }
    };

    let providers = get("/console/").await;
    assert_eq!((providers.status, providers.header("content-security-policy")), (200, Some(CSP)));
    assert_eq!(providers.header("content-type"), Some("text/html; charset=utf-8"));
    let page = providers.body_text();
    assert!(page.starts_with("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"), "{page}");
    for (id, country) in [("local-de", "DE"), ("local-fr", "FR"), ("local-nl", "NL")] {
        let row = format!("<td>{id}</td><td>{country}</td><td>Operator {country}</td><td>{country}</td>");
        assert!(page.contains(&row), "{row} in {page}");
    }

    let policies = get("/console/policies").await.body_text();
    assert!(
        policies.contains(
            "<h2>eu-default</h2><ul><li>3 copies of each object; a write is acknowledged once 2 are stored.</li>"
        ),
        "{policies}"
    );
    assert!(policies.contains("<li>Data only in: DE.</li>"), "de-only in words: {policies}");
    assert!(policies.contains("<a href=\"/console/buckets/photos\">photos</a>"), "{policies}");

    let bucket = get("/console/buckets/photos").await;
    assert_eq!(bucket.status, 200);
    assert_eq!(bucket.body_text().matches("<span class=\"ok\">yes</span>").count(), 3, "{}", bucket.body_text());

    let located = get("/console/locate?bucket=photos&key=%3Ci%3Ex%3C%2Fi%3E%26y").await;
    let page = located.body_text();
    assert_eq!(located.status, 200, "{page}");
    assert!(page.contains("photos/&lt;i&gt;x&lt;/i&gt;&amp;y, version null (latest), 6 bytes"), "{page}");
    assert!(!page.contains("<i>x</i>"), "the key is escaped");
    assert_eq!(page.matches("<span class=\"ok\">stored</span>").count(), 3, "{page}");
    let missing = get("/console/locate?bucket=photos&key=nope").await;
    assert_eq!(missing.status, 404);

    let audit = get("/console/audit?action=bucket.").await.body_text();
    assert!(audit.contains("<td>bucket.create</td>"), "{audit}");
    let verify = get("/console/audit/verify").await.body_text();
    assert!(verify.contains("<p class=\"ok\" id=\"verdict\">Intact: "), "{verify}");

    let refused = request(admin, "POST", "/console/logout", Some(&cookie), "csrf=00").await;
    assert_eq!(refused.status, 403);
    assert!(refused.header("set-cookie").is_none());
    assert_eq!(get("/console/").await.status, 200, "still logged in");
    let csrf = csrf_of(&page);
    let out = request(admin, "POST", "/console/logout", Some(&cookie), &format!("csrf={csrf}")).await;
    assert_eq!((out.status, out.header("location")), (303, Some("/console/login")));
    assert!(out.header("set-cookie").is_some_and(|s| s.starts_with("sv_console=;") && s.contains("Max-Age=0")));
    gw.stop().await;
}

/// Promise: a viewer token (read only) logs in and sees the pages under its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_logs_in_under_its_own_name() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let (status, text) =
        admin_request(admin, "POST", "/admin/v1/tokens", r#"{"name":"auditor","role":"viewer"}"#).await;
    assert_eq!(status, 201, "{text}");
    let token = serde_json::from_str::<serde_json::Value>(&text).unwrap()["token"].as_str().unwrap().to_owned();
    let cookie = login(admin, &token).await;
    let page = request(admin, "GET", "/console/policies", Some(&cookie), "").await;
    assert_eq!(page.status, 200);
    assert!(page.body_text().contains("<span class=\"muted\">auditor </span>"), "{}", page.body_text());
    gw.stop().await;
}

/// Where the browser test leaves its screenshots: `$SOUVERAIN_ARTEFACTS/console`, or the
/// system's temporary directory.
fn screenshots() -> std::path::PathBuf {
    std::env::var_os("SOUVERAIN_ARTEFACTS").map_or_else(std::env::temp_dir, std::path::PathBuf::from).join("console")
}

/// Promise: in a real browser (Debian's headless Chromium, driven over the DevTools protocol)
/// the login form logs in, the providers page shows the map with a marker on each provider's
/// country (DE, FR, NL) naming it, an object's three replicas and the audit chain's verdict
/// show, and no page reports an error (no script error, no CSP violation, no failed load).
/// Screenshots of each page are left as artefacts (docs/console.md shows them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_console_logs_in_and_shows_the_map_without_errors() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    c.put_object().bucket("photos").key("2026/team.jpg").body(b"pixels".to_vec().into()).send().await.unwrap();
    let base = format!("http://{}", gw.admin_addr());
    let shots = screenshots();
    let mut b = crate::common::cdp::Browser::start().await;

    b.open(&format!("{base}/console/")).await;
    assert_eq!(b.eval("location.pathname").await, "/console/login", "sent to the login form");
    b.screenshot(&shots.join("login.png")).await;
    let submit = format!(
        "document.querySelector('#token').value = {ADMIN_TOKEN:?}; document.querySelector('form.login').submit();"
    );
    b.act(&submit, true).await;
    assert_eq!(b.eval("location.pathname").await, "/console/", "logged in");
    let sites = b
        .eval(
            "[...document.querySelectorAll('#map g.site')].map(g => g.id + ' ' + g.querySelector('title').textContent)",
        )
        .await;
    let sites: Vec<String> = serde_json::from_value(sites).unwrap();
    assert_eq!(sites.len(), 3, "{sites:?}");
    for (site, provider) in sites.iter().zip(["site-DE local-de", "site-FR local-fr", "site-NL local-nl"]) {
        assert!(site.starts_with(provider) && site.ends_with("reachable"), "{site}");
    }
    assert_eq!(b.eval("document.querySelectorAll('#map path.country.held').length").await, 3);
    b.screenshot(&shots.join("providers.png")).await;

    b.open(&format!("{base}/console/policies")).await;
    b.screenshot(&shots.join("policies.png")).await;
    b.open(&format!("{base}/console/locate?bucket=photos&key=2026%2Fteam.jpg")).await;
    assert_eq!(b.eval("document.querySelectorAll('table.replicas span.ok').length").await, 6, "3 stored, 3 allowed");
    b.screenshot(&shots.join("locate.png")).await;
    b.open(&format!("{base}/console/audit/verify")).await;
    let verdict = b.eval("document.querySelector('#verdict').textContent").await;
    assert!(verdict.as_str().is_some_and(|v| v.starts_with("Intact: ")), "{verdict}");
    b.screenshot(&shots.join("audit-verify.png")).await;
    assert!(b.errors.is_empty(), "the pages reported errors: {:?}", b.errors);
    drop(b);
    gw.stop().await;
}
