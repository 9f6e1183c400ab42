//! The web console (issue 27) over HTTP, as a browser sends it: login with an admin token into
//! a `Secure; HttpOnly; SameSite=Strict` cookie, pages that show the providers' legal facts,
//! the policies in words with their buckets, a bucket's placement, an object's replicas and the
//! audit chain's verdict; every page behind the session, every answer under a strict
//! Content-Security-Policy, every POST behind the session's CSRF token, keys escaped.

use std::net::SocketAddr;

use crate::common::raw::{RawResponse, send};
use crate::common::{ADMIN_TOKEN, TestGateway, admin_request, client, error_code, error_status};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub(crate) async fn request(
    admin: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &str,
) -> RawResponse {
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
pub(crate) async fn login(admin: SocketAddr, token: &str) -> String {
    let form = serde_urlencoded::to_string([("token", token)]).unwrap();
    let r = request(admin, "POST", "/console/login", None, &form).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/console/")), "{}", r.body_text());
    let set = r.header("set-cookie").unwrap().to_owned();
    for attribute in ["Path=/console", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set.split("; ").any(|a| a == attribute), "{attribute} missing from {set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// Moves the session of `cookie` (as [`login`] returns it) back to `issued` (seconds), in the
/// store where the gateway keeps it.
async fn age_session(gw: &TestGateway, cookie: &str, token: &str, issued: u64) {
    use souverain::model::access::{ConsoleSession, token_sha256};
    let secret = cookie.strip_prefix("sv_console=").unwrap();
    let session = ConsoleSession { token_sha256: token_sha256(token), issued_secs: issued };
    gw.meta().start_console_session(token_sha256(secret), session, 0).await.unwrap();
}

/// A viewer token `auditor` made through the admin API and logged in: (cookie, token).
async fn viewer_session(admin: SocketAddr) -> (String, String) {
    let (status, text) =
        admin_request(admin, "POST", "/admin/v1/tokens", r#"{"name":"auditor","role":"viewer"}"#).await;
    assert_eq!(status, 201, "{text}");
    let token = serde_json::from_str::<serde_json::Value>(&text).unwrap()["token"].as_str().unwrap().to_owned();
    (login(admin, &token).await, token)
}

/// Bucket `photos` with `k0` (1,000 bytes) and `k1` (5,000 bytes): their stored bytes at one
/// provider, together.
pub(crate) async fn photos_with_two_objects(gw: &TestGateway) -> u64 {
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    let mut stored = 0;
    for (k, len) in [("k0", 1000), ("k1", 5000)] {
        c.put_object().bucket("photos").key(k).body(vec![7u8; len].into()).send().await.unwrap();
        let (_, text) = admin_request(admin, "GET", &format!("/admin/v1/locations/photos/{k}"), "").await;
        stored +=
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["streams"][0]["stored_len"].as_u64().unwrap();
    }
    stored
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf_of(page: &str) -> String {
    hidden_field(page, "csrf")
}

/// The value of a page's hidden field `name`.
fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Promise: without a session every page answers 303 to the login form and shows nothing; a
/// cookie of a session the server does not hold (made up, the admin token itself, or older
/// than eight hours) ends there too (and is cleared); a wrong token at login gets 401 and no
/// cookie; the login page itself is served under the CSP.
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
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // A made-up session secret, the admin token itself where the secret goes, and an admin's
    // session issued nine hours ago (the server ends it after eight, whatever the browser keeps).
    let aged = login(admin, ADMIN_TOKEN).await;
    age_session(&gw, &aged, ADMIN_TOKEN, now - 9 * 3600).await;
    let cookies =
        [None, Some(format!("sv_console={}", "ab".repeat(32))), Some(format!("sv_console={ADMIN_TOKEN}")), Some(aged)];
    for cookie in &cookies {
        let cookie = cookie.as_deref();
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
    // A form posted from another origin (another port of the same host is same-site for the
    // cookie) is refused, login included.
    let login_form = format!("token={ADMIN_TOKEN}");
    for (name, value) in [("origin", "http://127.0.0.1:1"), ("sec-fetch-site", "same-site")] {
        let headers = vec![
            ("host".to_owned(), admin.to_string()),
            ("content-length".to_owned(), login_form.len().to_string()),
            ("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            (name.to_owned(), value.to_owned()),
        ];
        let r = send(admin, "POST", "/console/login", &headers, login_form.as_bytes()).await.unwrap();
        assert_eq!(r.status, 403, "{name}: {value}");
        assert!(r.header("set-cookie").is_none());
    }
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

    // What each provider stores, once the usage pass (every second in tests) counted the object:
    // one replica of 118 bytes (the 96-byte header, 6 bytes, the 16-byte tag).
    crate::common::wait_for("the providers page shows what each provider stores", 20, || {
        let cookie = cookie.clone();
        async move {
            let page = request(admin, "GET", "/console/", Some(&cookie), "").await.body_text();
            page.matches("<td class=\"stored\">1 replica, 118 bytes</td>").count() == 3
        }
    })
    .await;
    let policies = get("/console/policies").await.body_text();
    assert!(
        policies.contains(
            "<h2>eu-default <a class=\"change\" href=\"/console/policies/eu-default\">Change</a></h2><ul><li>3 copies of each object; a write is acknowledged once 2 are stored.</li>"
        ),
        "{policies}"
    );
    assert!(policies.contains("<li>Data only in: DE.</li>"), "de-only in words: {policies}");
    // The usage pass has run (the providers page showed it): the bucket's current objects.
    assert!(policies.contains("<a href=\"/console/buckets/photos\">photos</a> (1 object, 6 bytes)"), "{policies}");

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
    // The server ended the session: the cookie, kept or copied, opens nothing any more.
    let replayed = get("/console/").await;
    assert_eq!((replayed.status, replayed.header("location")), (303, Some("/console/login")), "logged out");
    gw.stop().await;
}

/// Promise: a viewer token (read only) logs in and sees the pages under its own name; its
/// cookie holds a session secret, never the token; deleting the token ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_logs_in_under_its_own_name() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let (cookie, token) = viewer_session(admin).await;
    assert!(!cookie.contains(&token) && !cookie.contains(&hex::encode(&token)), "the cookie never holds the token");
    let page = request(admin, "GET", "/console/policies", Some(&cookie), "").await;
    assert_eq!(page.status, 200);
    assert!(page.body_text().contains("<span class=\"muted\">auditor </span>"), "{}", page.body_text());
    // Deleting the token ends its sessions.
    assert_eq!(admin_request(admin, "DELETE", "/admin/v1/tokens/auditor", "").await.0, 200);
    let after = request(admin, "GET", "/console/policies", Some(&cookie), "").await;
    assert_eq!((after.status, after.header("location")), (303, Some("/console/login")), "token deleted");
    gw.stop().await;
}

/// Where the browser test leaves its screenshots: `$SOUVERAIN_ARTEFACTS/console`, or the
/// system's temporary directory.
pub(crate) fn screenshots() -> std::path::PathBuf {
    std::env::var_os("SOUVERAIN_ARTEFACTS").map_or_else(std::env::temp_dir, std::path::PathBuf::from).join("console")
}

/// Promise: in a real browser (Debian's headless Chromium, driven over the DevTools protocol)
/// the login form logs in, the providers page shows the map with a marker on each provider's
/// country (DE, FR, NL) naming it, an object's three replicas, the audit chain's verdict and
/// the compliance report show, its PDF downloads, and no page reports an error (no script error, no CSP violation, no failed load).
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
    b.open(&format!("{base}/console/report")).await;
    let verdict = b.eval("document.querySelector('#verdict-residency').textContent").await;
    assert!(verdict.as_str().is_some_and(|v| v.starts_with("No replica of any bucket sits outside")), "{verdict}");
    b.screenshot(&shots.join("report.png")).await;
    // The download link clicked: the PDF lands under the report's day.
    let downloads = tempfile::tempdir().unwrap();
    let click = "document.querySelector('a[href=\"/console/report.pdf\"]').click()";
    let (name, pdf) = b.download(click, downloads.path()).await;
    assert_eq!(name, format!("souverain-report-{}.pdf", time::OffsetDateTime::now_utc().date()));
    assert!(pdf.starts_with(b"%PDF-"), "{} bytes", pdf.len());
    assert!(b.errors.is_empty(), "the pages reported errors: {:?}", b.errors);
    drop(b);
    gw.stop().await;
}

/// The providers holding `bucket/key`'s replicas, from the admin API.
async fn holders(admin: SocketAddr, bucket: &str, key: &str) -> Vec<String> {
    let (status, text) = admin_request(admin, "GET", &format!("/admin/v1/locations/{bucket}/{key}"), "").await;
    assert_eq!(status, 200, "{text}");
    let loc: serde_json::Value = serde_json::from_str(&text).unwrap();
    loc["streams"][0]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["provider"].as_str().unwrap().to_owned())
        .collect()
}

async fn exposures(admin: SocketAddr, provider: &str) -> serde_json::Value {
    let (_, text) = admin_request(admin, "GET", "/admin/v1/providers", "").await;
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all.as_array().unwrap().iter().find(|p| p["id"] == provider).unwrap()["exposures"].clone()
}

/// Promise: marking a provider as exposed to the US CLOUD Act from the console first shows
/// what the evacuation would move off it (its replicas and their bytes) without changing
/// anything; a viewer's "Apply", and an "Apply" without the CSRF token, are refused (403) and
/// change nothing; the admin's "Apply" changes the provider (audited under the admin's name)
/// and the evacuation moves every replica off it, which the jobs page shows done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_shows_what_would_move_and_only_an_admin_applies_it() {
    let gw = TestGateway::start_proxied_at_with(&crate::common::providers::SIX_COUNTRIES, |t| forbidding_cloud_act(&t))
        .await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    for (k, len) in [("k0", 1000), ("k1", 5000)] {
        c.put_object().bucket("photos").key(k).body(vec![7u8; len].into()).send().await.unwrap();
    }
    let target = holders(admin, "photos", "k0").await[0].clone();
    let (mut expected, mut bytes) = (0, 0);
    for k in ["k0", "k1"] {
        if holders(admin, "photos", k).await.contains(&target) {
            let (_, text) = admin_request(admin, "GET", &format!("/admin/v1/locations/photos/{k}"), "").await;
            let loc: serde_json::Value = serde_json::from_str(&text).unwrap();
            expected += 1;
            bytes += loc["streams"][0]["stored_len"].as_u64().unwrap();
        }
    }
    let cookie = login(admin, ADMIN_TOKEN).await;
    let form = request(admin, "GET", &format!("/console/providers/{target}"), Some(&cookie), "").await;
    assert_eq!(form.status, 200);
    let csrf = csrf_of(&form.body_text());

    let change = format!("exposures=us-cloud-act&csrf={csrf}");
    let preview = request(admin, "POST", &format!("/console/providers/{target}/preview"), Some(&cookie), &change).await;
    let page = preview.body_text();
    assert_eq!(preview.status, 200, "{page}");
    let row = format!("<tr><td>{target}</td><td>{expected}</td><td>{bytes}</td></tr>");
    assert!(page.contains(&row), "{row} in {page}");
    assert!(!page.contains("id=\"unplaceable\""), "{page}");
    assert_eq!(exposures(admin, &target).await, serde_json::json!([]), "a preview changes nothing");

    let (viewer, _) = viewer_session(admin).await;
    let viewer_page = request(admin, "GET", &format!("/console/providers/{target}"), Some(&viewer), "").await;
    let viewer_change = format!("exposures=us-cloud-act&csrf={}", csrf_of(&viewer_page.body_text()));
    let apply = format!("/console/providers/{target}/apply");
    assert_eq!(request(admin, "POST", &apply, Some(&viewer), &viewer_change).await.status, 403, "a viewer");
    assert_eq!(request(admin, "POST", &apply, Some(&cookie), "exposures=us-cloud-act").await.status, 403, "no CSRF");
    assert_eq!(exposures(admin, &target).await, serde_json::json!([]), "refusals change nothing");

    let shown = hidden_field(&page, "shown");
    let confirmed = format!("{change}&shown={shown}");
    let stale = format!("{change}&shown={}", "0".repeat(64));
    let refused = request(admin, "POST", &apply, Some(&cookie), &stale).await;
    assert_eq!(refused.status, 400, "a confirmation of another state: {}", refused.body_text());
    assert_eq!(exposures(admin, &target).await, serde_json::json!([]), "refusals change nothing");
    let applied = request(admin, "POST", &apply, Some(&cookie), &confirmed).await;
    assert_eq!((applied.status, applied.header("location")), (303, Some("/console/jobs")));
    assert_eq!(exposures(admin, &target).await, serde_json::json!(["us-cloud-act"]));
    let (_, audit) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    let audited = audit.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).any(|r| {
        r["action"] == "provider.update"
            && r["actor"] == "admin"
            && r["detail"].as_str().is_some_and(|d| d.contains(&target))
    });
    assert!(audited, "{audit}");
    crate::common::wait_for("every replica left the exposed provider", 60, || {
        let target = target.clone();
        async move {
            !holders(admin, "photos", "k0").await.contains(&target)
                && !holders(admin, "photos", "k1").await.contains(&target)
        }
    })
    .await;
    crate::common::wait_for("the jobs page shows the evacuation done", 30, || {
        let cookie = cookie.clone();
        async move {
            let jobs = request(admin, "GET", "/console/jobs", Some(&cookie), "").await.body_text();
            jobs.contains("<tr id=\"job-evacuation\"><td>evacuation</td><td class=\"state\">done</td>")
        }
    })
    .await;
    gw.stop().await;
}

/// The policy `bucket` is bound to, as the admin API explains it.
async fn bound_policy(admin: SocketAddr, bucket: &str) -> String {
    let (_, text) = admin_request(admin, "GET", &format!("/admin/v1/placement/explain?bucket={bucket}"), "").await;
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["policy"].as_str().unwrap().to_owned()
}

/// Promise: binding a bucket to another policy from the console first shows what the
/// evacuation would move (the replicas leaving each provider the new policy does not allow,
/// with their bytes, an open upload's stored part counted with the objects) without changing
/// anything; a viewer's "Apply", one without the CSRF token
/// and one confirming a binding that is no longer the bucket's are refused and change nothing;
/// the admin's "Apply" binds the bucket (audited under the admin's name) and the evacuation
/// leaves each object on the one provider the new policy allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_binding_shows_what_would_move_and_only_an_admin_applies_it() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let stored = photos_with_two_objects(&gw).await;
    // An upload left open with one part of 1,000 bytes: 1,112 stored at each of three providers
    // (the 96-byte header, the 1,000 bytes, the 16-byte tag).
    let c = client(gw.addr);
    let upload = c.create_multipart_upload().bucket("photos").key("open").send().await.unwrap();
    let id = upload.upload_id().unwrap();
    c.upload_part()
        .bucket("photos")
        .key("open")
        .upload_id(id)
        .part_number(1)
        .body(vec![5u8; 1000].into())
        .send()
        .await
        .unwrap();
    let stored = stored + 1112;
    let cookie = login(admin, ADMIN_TOKEN).await;
    let page = request(admin, "GET", "/console/buckets/photos", Some(&cookie), "").await.body_text();
    assert!(page.contains("<option value=\"de-only\">de-only</option>"), "{page}");
    let csrf = csrf_of(&page);

    let change = format!("policy=de-only&csrf={csrf}");
    let preview = request(admin, "POST", "/console/buckets/photos/preview", Some(&cookie), &change).await;
    let page = preview.body_text();
    assert_eq!(preview.status, 200, "{page}");
    assert!(page.contains("(2 object versions and 1 parts of open uploads looked at)"), "{page}");
    for provider in ["local-fr", "local-nl"] {
        let row = format!("<tr><td>{provider}</td><td>3</td><td>{stored}</td></tr>");
        assert!(page.contains(&row), "{row} in {page}");
    }
    assert!(!page.contains("<td>local-de</td>"), "nothing leaves the allowed provider: {page}");
    assert_eq!(bound_policy(admin, "photos").await, "eu-default", "a preview changes nothing");

    let (viewer, _) = viewer_session(admin).await;
    let viewer_page = request(admin, "GET", "/console/buckets/photos", Some(&viewer), "").await.body_text();
    let confirmed = format!("{change}&shown={}", hidden_field(&page, "shown"));
    let viewer_confirmed = confirmed.replace(&csrf, &csrf_of(&viewer_page));
    let apply = "/console/buckets/photos/apply";
    assert_eq!(request(admin, "POST", apply, Some(&viewer), &viewer_confirmed).await.status, 403, "a viewer");
    let no_csrf = "policy=de-only&shown=eu-default";
    assert_eq!(request(admin, "POST", apply, Some(&cookie), no_csrf).await.status, 403, "no CSRF");
    let stale = format!("{change}&shown=secnum-only");
    assert_eq!(request(admin, "POST", apply, Some(&cookie), &stale).await.status, 409, "another binding confirmed");
    assert_eq!(bound_policy(admin, "photos").await, "eu-default", "refusals change nothing");

    let applied = request(admin, "POST", apply, Some(&cookie), &confirmed).await;
    assert_eq!((applied.status, applied.header("location")), (303, Some("/console/jobs")), "{}", applied.body_text());
    assert_eq!(bound_policy(admin, "photos").await, "de-only");
    let (_, audit) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    let audited = audit.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).any(|r| {
        r["action"] == "bucket.bind"
            && r["actor"] == "admin"
            && r["detail"].as_str().is_some_and(|d| d.contains("de-only"))
    });
    assert!(audited, "{audit}");
    crate::common::wait_for("each object left on local-de alone", 60, || async move {
        holders(admin, "photos", "k0").await == ["local-de"] && holders(admin, "photos", "k1").await == ["local-de"]
    })
    .await;
    gw.stop().await;
}

/// The rules of policy `id`, as the admin API lists them.
async fn policy_rules(admin: SocketAddr, id: &str) -> serde_json::Value {
    let (_, text) = admin_request(admin, "GET", "/admin/v1/policies", "").await;
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all.as_array().unwrap().iter().find(|p| p["id"] == id).unwrap().clone()
}

/// Promise: changing a policy's rules from the console first shows the rules before and after
/// in words and what the evacuation would move over the buckets bound to it, changing
/// nothing; rules no placement can satisfy are refused at the confirmation (409, why shown);
/// a viewer's "Apply", one without the CSRF token and one confirming rules that changed since
/// are refused and change nothing; the admin's "Apply" changes the policy (audited under the
/// admin's name) and the evacuation leaves each object on the two providers still allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_shows_what_would_move_and_only_an_admin_applies_it() {
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let stored = photos_with_two_objects(&gw).await;
    let before = policy_rules(admin, "eu-default").await;
    let cookie = login(admin, ADMIN_TOKEN).await;
    let form = request(admin, "GET", "/console/policies/eu-default", Some(&cookie), "").await.body_text();
    assert!(form.contains("name=\"replicas\" value=\"3\""), "{form}");
    let csrf = csrf_of(&form);
    let rules = |countries: &str, replicas: &str| {
        serde_urlencoded::to_string([
            ("allowed_countries", countries),
            ("allowed_jurisdictions", "EU, EEA"),
            ("forbid_exposures", "us-cloud-act, us-fisa-702"),
            ("required_certifications", ""),
            ("replicas", replicas),
            ("write_quorum", "2"),
            ("min_distinct_countries", "1"),
            ("min_distinct_operators", "1"),
            ("distinct", "independence_group"),
        ])
        .unwrap()
    };
    let change = format!("{}&csrf={csrf}", rules("DE, FR", "2"));
    let preview = request(admin, "POST", "/console/policies/eu-default/preview", Some(&cookie), &change).await;
    let page = preview.body_text();
    assert_eq!(preview.status, 200, "{page}");
    assert!(page.contains("<li>Data only in: DE, FR.</li>"), "the new rules in words: {page}");
    let row = format!("<tr><td>local-nl</td><td>2</td><td>{stored}</td></tr>");
    assert!(page.contains(&row) && !page.contains("<td>local-de</td>"), "{row} in {page}");
    assert_eq!(policy_rules(admin, "eu-default").await, before, "a preview changes nothing");
    let nowhere = format!("{}&csrf={csrf}", rules("PL", "2"));
    let refused = request(admin, "POST", "/console/policies/eu-default/preview", Some(&cookie), &nowhere).await;
    assert_eq!(refused.status, 409, "{}", refused.body_text());
    assert!(refused.body_text().contains("bucket photos"), "{}", refused.body_text());
    let bad = format!("{}&csrf={csrf}", rules("DE", "many"));
    assert_eq!(request(admin, "POST", "/console/policies/eu-default/preview", Some(&cookie), &bad).await.status, 400);
    // Another scheme: each object's one stream would be sealed again as 2 + 1 shards.
    let shards = format!("{}&scheme=rs&data_shards=2&parity_shards=1&csrf={csrf}", rules("EU", "3"));
    let converting = request(admin, "POST", "/console/policies/eu-default/preview", Some(&cookie), &shards).await;
    let text = converting.body_text();
    assert_eq!(converting.status, 200, "{text}");
    assert!(text.contains("<li>Each object is cut into 2 data and 1 parity shards, one per provider; a write is acknowledged once 2 are stored; any 2 shards read it back.</li>"), "{text}");
    assert!(text.contains("<p id=\"converting\">2 streams ("), "{text}");

    let (viewer, _) = viewer_session(admin).await;
    let viewer_csrf =
        csrf_of(&request(admin, "GET", "/console/policies/eu-default", Some(&viewer), "").await.body_text());
    let confirmed = format!("{change}&shown={}", hidden_field(&page, "shown"));
    let apply = "/console/policies/eu-default/apply";
    let as_viewer = confirmed.replace(&csrf, &viewer_csrf);
    assert_eq!(request(admin, "POST", apply, Some(&viewer), &as_viewer).await.status, 403, "a viewer");
    let no_csrf = confirmed.replace(&format!("&csrf={csrf}"), "");
    assert_eq!(request(admin, "POST", apply, Some(&cookie), &no_csrf).await.status, 403, "no CSRF");
    let stale = format!("{change}&shown={}", "0".repeat(64));
    assert_eq!(request(admin, "POST", apply, Some(&cookie), &stale).await.status, 409, "other rules confirmed");
    assert_eq!(policy_rules(admin, "eu-default").await, before, "refusals change nothing");

    let applied = request(admin, "POST", apply, Some(&cookie), &confirmed).await;
    assert_eq!((applied.status, applied.header("location")), (303, Some("/console/jobs")), "{}", applied.body_text());
    let after = policy_rules(admin, "eu-default").await;
    assert_eq!(
        (after["replicas"].as_u64(), after["allowed_countries"].clone()),
        (Some(2), serde_json::json!(["DE", "FR"]))
    );
    let (_, audit) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    let audited = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|r| r["action"] == "policy.put" && r["actor"] == "admin");
    assert!(audited, "{audit}");
    crate::common::wait_for("each object left on DE and FR", 60, || async move {
        let mut k0 = holders(admin, "photos", "k0").await;
        let mut k1 = holders(admin, "photos", "k1").await;
        k0.sort();
        k1.sort();
        k0 == ["local-de", "local-fr"] && k1 == ["local-de", "local-fr"]
    })
    .await;
    gw.stop().await;
}

/// Promise: crypto-shredding from the console offers only buckets' own keys; its confirmation
/// names the buckets and how many data keys the KMS would destroy, and refuses the default
/// key (400, why); a viewer's "Apply" (403) and one without the key's name typed again (400)
/// destroy nothing (objects still read, the KMS still holds the key); the admin's, with the
/// name, destroys it: the bucket's objects answer 410 KeyShredded, another bucket's still
/// read, the keys page lists it shredded, the audit log names the admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_shredding_from_the_console_names_what_it_destroys_and_wants_the_name_typed() {
    let bao = crate::common::openbao::OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = crate::kms::transit_gateway(&bao.address(), &crate::kms::root_auth(), "").await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    for (b, k) in [("secret", "k0"), ("secret", "k1"), ("other", "k0")] {
        if k == "k0" {
            c.create_bucket().bucket(b).send().await.unwrap();
        }
        c.put_object().bucket(b).key(k).body(b"plain".to_vec().into()).send().await.unwrap();
    }
    let cookie = login(admin, ADMIN_TOKEN).await;
    let page = request(admin, "GET", "/console/keys", Some(&cookie), "").await.body_text();
    assert!(page.contains("No bucket has a key of its own.") && !page.contains("id=\"shred\" method"), "{page}");
    let (status, text) =
        admin_request(admin, "PUT", "/admin/v1/buckets/secret/kek", r#"{"kek":"bucket-secret"}"#).await;
    assert_eq!(status, 200, "{text}");
    crate::kms::wait_job_done(&gw, "rotation").await;
    let page = request(admin, "GET", "/console/keys", Some(&cookie), "").await.body_text();
    let offered = "<option value=\"bucket-secret\">bucket-secret</option></select></label> <button type=\"submit\">Show what shredding would destroy";
    assert!(page.contains(offered), "{page}");
    let csrf = csrf_of(&page);
    let preview =
        request(admin, "POST", "/console/keys/shred/preview", Some(&cookie), &format!("kek=bucket-secret&csrf={csrf}"))
            .await;
    let text = preview.body_text();
    assert_eq!(preview.status, 200, "{text}");
    assert!(
        text.contains("The 2 data keys it wraps — every object version and open upload of secret — can then never"),
        "{text}"
    );
    let default =
        request(admin, "POST", "/console/keys/shred/preview", Some(&cookie), &format!("kek=souverain&csrf={csrf}"))
            .await;
    assert_eq!(default.status, 400, "{}", default.body_text());
    assert!(default.body_text().contains("is the default key-encryption key"), "{}", default.body_text());

    let (viewer, _) = viewer_session(admin).await;
    let viewer_csrf = csrf_of(&request(admin, "GET", "/console/keys", Some(&viewer), "").await.body_text());
    let apply = |session: &str, csrf: &str, confirm: &str| {
        let (session, body) = (session.to_owned(), format!("kek=bucket-secret&confirm={confirm}&csrf={csrf}"));
        async move { request(admin, "POST", "/console/keys/shred/apply", Some(&session), &body).await }
    };
    assert_eq!(apply(&viewer, &viewer_csrf, "bucket-secret").await.status, 403, "a viewer");
    for typed in ["", "bucket-secre", "souverain"] {
        let refused = apply(&cookie, &csrf, typed).await;
        assert_eq!(refused.status, 400, "typed {typed:?}: {}", refused.body_text());
    }
    let held = || async { bao.api("GET", "/v1/transit/keys/bucket-secret", serde_json::Value::Null).await.0 };
    assert_eq!(held().await, 200, "refusals destroy nothing");
    let read = |b: &'static str| {
        let c = c.clone();
        async move { c.get_object().bucket(b).key("k0").send().await }
    };
    assert!(read("secret").await.is_ok(), "refusals destroy nothing");

    let applied = apply(&cookie, &csrf, "bucket-secret").await;
    assert_eq!((applied.status, applied.header("location")), (303, Some("/console/keys")), "{}", applied.body_text());
    assert_eq!(held().await, 404, "the KMS no longer holds the key");
    let e = read("secret").await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(410), Some("KeyShredded")));
    assert_eq!(crate::common::body_bytes(read("other").await.unwrap()).await, b"plain");
    let page = request(admin, "GET", "/console/keys", Some(&cookie), "").await.body_text();
    assert!(page.contains("<tr class=\"shredded\"><td>bucket-secret</td><td>shredded "), "{page}");
    let (_, audit) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    let audited = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|r| r["action"] == "key.shred" && r["actor"] == "admin");
    assert!(audited, "{audit}");
    gw.stop().await;
}

/// Promise: a provider's certifications are changed from the console like its exposures: a
/// malformed one is refused (400, nothing changes), an added one is applied (the admin API
/// lists it); taking it away again shows, before anything changes, that the replica of the
/// bucket whose policy requires it would leave the provider and that no placement would
/// satisfy that policy any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_certifications_change_with_their_dry_run() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let gw = TestGateway::start().await;
    let admin = gw.admin_addr();
    let cookie = login(admin, ADMIN_TOKEN).await;
    let form = request(admin, "GET", "/console/providers/local-de", Some(&cookie), "").await.body_text();
    assert!(form.contains("name=\"operator\" value=\"Operator DE\""), "{form}");
    let csrf = csrf_of(&form);
    let certified = |certs: &str| {
        format!("{}&csrf={csrf}", serde_urlencoded::to_string([("exposures", ""), ("certifications", certs)]).unwrap())
    };
    let preview = |body: String| {
        let cookie = cookie.clone();
        async move { request(admin, "POST", "/console/providers/local-de/preview", Some(&cookie), &body).await }
    };
    let bad = preview(certified("secnumcloud")).await;
    assert_eq!(bad.status, 400, "{}", bad.body_text());
    let add = preview(certified("secnumcloud 2030-12-31")).await;
    let page = add.body_text();
    assert_eq!(add.status, 200, "{page}");
    assert!(
        page.contains("<td></td><td>secnumcloud 2030-12-31</td>") && page.contains("Nothing would move."),
        "{page}"
    );
    assert_eq!(exposures(admin, "local-de").await, serde_json::json!([]));
    let confirmed = format!("{}&shown={}", certified("secnumcloud 2030-12-31"), hidden_field(&page, "shown"));
    let applied = request(admin, "POST", "/console/providers/local-de/apply", Some(&cookie), &confirmed).await;
    assert_eq!(applied.status, 303, "{}", applied.body_text());
    let (_, text) = admin_request(admin, "GET", "/admin/v1/providers", "").await;
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let de = all.as_array().unwrap().iter().find(|p| p["id"] == "local-de").unwrap();
    assert_eq!(de["certifications"], serde_json::json!([{ "scheme": "secnumcloud", "valid_until": "2030-12-31" }]));

    let c = client(gw.addr);
    let secnum =
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from("secnum-only"));
    c.create_bucket().bucket("vault").create_bucket_configuration(secnum.build()).send().await.unwrap();
    c.put_object().bucket("vault").key("doc").body(vec![1u8; 2000].into()).send().await.unwrap();
    let (_, text) = admin_request(admin, "GET", "/admin/v1/locations/vault/doc", "").await;
    let stored =
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["streams"][0]["stored_len"].as_u64().unwrap();
    let removal = preview(certified("")).await;
    let page = removal.body_text();
    assert_eq!(removal.status, 200, "{page}");
    assert!(page.contains(&format!("<tr><td>local-de</td><td>1</td><td>{stored}</td></tr>")), "{page}");
    assert!(page.contains("id=\"unplaceable\"") && page.contains("vault"), "{page}");
    gw.stop().await;
}

/// Promise: the keys page names the KEKs in force; a rotation's confirmation says which KEK
/// gets a new version, over which buckets, and how many data keys and access-key secrets
/// would be wrapped again, changing nothing; with the local key file it answers 501 and why.
/// A viewer's "Apply" is refused (403, no new version); a `keys` token's "Apply" rotates (the
/// rotation job then rewraps every data key: the object names v2) and is audited under it.
/// Giving a bucket its own key is confirmed and refused or applied the same way (its objects
/// then name that key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_shows_what_it_rewraps_and_only_a_keys_role_applies_it() {
    let local = TestGateway::start().await;
    let cookie = login(local.admin_addr(), ADMIN_TOKEN).await;
    let csrf = csrf_of(&request(local.admin_addr(), "GET", "/console/keys", Some(&cookie), "").await.body_text());
    let body = format!("kek=*&csrf={csrf}");
    let refused = request(local.admin_addr(), "POST", "/console/keys/preview", Some(&cookie), &body).await;
    assert_eq!(refused.status, 501, "{}", refused.body_text());
    assert!(refused.body_text().contains("needs a KMS"), "{}", refused.body_text());
    let own = format!("bucket=none&kek=k&csrf={csrf}");
    let refused = request(local.admin_addr(), "POST", "/console/keys/bucket/preview", Some(&cookie), &own).await;
    assert_eq!(refused.status, 501, "{}", refused.body_text());
    local.stop().await;

    let bao = crate::common::openbao::OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = crate::kms::transit_gateway(&bao.address(), &crate::kms::root_auth(), "").await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    for k in ["k0", "k1", "k2"] {
        c.put_object().bucket("photos").key(k).body(vec![3u8; 100].into()).send().await.unwrap();
    }
    let kek_of = |k: &'static str| async move {
        let (_, text) = admin_request(admin, "GET", &format!("/admin/v1/locations/photos/{k}"), "").await;
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["kek"].as_str().unwrap().to_owned()
    };
    assert_eq!(kek_of("k0").await, "souverain v1");
    let cookie = login(admin, ADMIN_TOKEN).await;
    let page = request(admin, "GET", "/console/keys", Some(&cookie), "").await.body_text();
    assert!(page.contains("<option value=\"souverain\">souverain</option>"), "{page}");
    let csrf = csrf_of(&page);
    let preview =
        request(admin, "POST", "/console/keys/preview", Some(&cookie), &format!("kek=souverain&csrf={csrf}")).await;
    let text = preview.body_text();
    assert_eq!(preview.status, 200, "{text}");
    assert!(text.contains("<tr><td>souverain</td><td>photos</td></tr>"), "{text}");
    assert!(text.contains("wrap again 3 data keys of object versions"), "{text}");
    assert_eq!(kek_of("k0").await, "souverain v1", "a preview changes nothing");

    let mut tokens = Vec::new();
    for (name, role) in [("auditor", "viewer"), ("key-ops", "keys")] {
        let body = format!(r#"{{"name":"{name}","role":"{role}"}}"#);
        let (status, text) = admin_request(admin, "POST", "/admin/v1/tokens", &body).await;
        assert_eq!(status, 201, "{text}");
        let token = serde_json::from_str::<serde_json::Value>(&text).unwrap()["token"].as_str().unwrap().to_owned();
        let session = login(admin, &token).await;
        let csrf = csrf_of(&request(admin, "GET", "/console/keys", Some(&session), "").await.body_text());
        tokens.push((session, csrf));
    }
    let apply = |(session, csrf): &(String, String)| {
        let (session, body) = (session.clone(), format!("kek=souverain&csrf={csrf}"));
        async move { request(admin, "POST", "/console/keys/apply", Some(&session), &body).await }
    };
    assert_eq!(apply(&tokens[0]).await.status, 403, "a viewer");
    let (_, keys) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    assert!(!keys.contains("key.rotate"), "a refusal rotates nothing");
    let applied = apply(&tokens[1]).await;
    assert_eq!((applied.status, applied.header("location")), (303, Some("/console/jobs")), "{}", applied.body_text());
    crate::kms::wait_job_done(&gw, "rotation").await;
    for k in ["k0", "k1", "k2"] {
        assert_eq!(kek_of(k).await, "souverain v2", "{k}");
    }
    let (_, audit) = admin_request(admin, "GET", "/admin/v1/audit", "").await;
    let audited = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|r| r["action"] == "key.rotate" && r["actor"] == "key-ops");
    assert!(audited, "{audit}");

    // The bucket's own key: confirmed with what would be rewrapped, applied by the keys role.
    let own = format!("bucket=photos&kek=kek-photos&csrf={csrf}");
    let preview = request(admin, "POST", "/console/keys/bucket/preview", Some(&cookie), &own).await;
    let text = preview.body_text();
    assert_eq!(preview.status, 200, "{text}");
    assert!(text.contains("wrap again 3 data keys"), "{text}");
    let by = |(session, csrf): &(String, String)| {
        let (session, body) = (session.clone(), format!("bucket=photos&kek=kek-photos&csrf={csrf}"));
        async move { request(admin, "POST", "/console/keys/bucket/apply", Some(&session), &body).await }
    };
    assert_eq!(by(&tokens[0]).await.status, 403, "a viewer");
    assert_eq!(kek_of("k0").await, "souverain v2", "a refusal changes nothing");
    assert_eq!(by(&tokens[1]).await.status, 303);
    crate::kms::wait_job_done(&gw, "rotation").await;
    for k in ["k0", "k1", "k2"] {
        assert_eq!(kek_of(k).await, "kek-photos v1", "{k}");
    }
    gw.stop().await;
}

/// The test config with the default policy refusing providers exposed to the US CLOUD Act.
fn forbidding_cloud_act(text: &str) -> String {
    text.replace(
        "id = \"eu-default\"\nreplicas = 3",
        "id = \"eu-default\"\nforbid_exposures = [\"us-cloud-act\"]\nreplicas = 3",
    )
}

/// Promise: in a real browser, over six providers, an admin marks a provider holding an
/// object as exposed to the US CLOUD Act: the confirmation shows the replica that would move,
/// "Apply" lands on the jobs page, which reloads itself until the evacuation is done; the
/// object's replicas are then elsewhere and the map's marker of that country turns amber. No
/// page reports an error. Screenshots are left as artefacts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_an_admin_marks_a_provider_exposed_and_watches_the_evacuation() {
    let gw = TestGateway::start_proxied_at_with(&crate::common::providers::SIX_COUNTRIES, |t| forbidding_cloud_act(&t))
        .await;
    let admin = gw.admin_addr();
    let c = client(gw.addr);
    c.create_bucket().bucket("photos").send().await.unwrap();
    c.put_object().bucket("photos").key("team.jpg").body(vec![1u8; 3000].into()).send().await.unwrap();
    let target = holders(admin, "photos", "team.jpg").await[0].clone();
    let country = target.trim_start_matches("local-").to_uppercase();
    let base = format!("http://{admin}");
    let shots = screenshots();
    let mut b = crate::common::cdp::Browser::start().await;
    b.open(&format!("{base}/console/login")).await;
    let submit = format!(
        "document.querySelector('#token').value = {ADMIN_TOKEN:?}; document.querySelector('form.login').submit();"
    );
    b.act(&submit, true).await;
    assert_eq!(b.eval("document.querySelectorAll('#map g.site').length").await, 6);

    b.act(&format!("document.querySelector('a[href=\"/console/providers/{target}\"]').click()"), true).await;
    b.act("document.querySelector('input[name=exposures]').value = 'us-cloud-act'; document.querySelector('#edit').submit()", true)
        .await;
    let moving = b.eval("document.querySelector('#dry-run').innerText").await;
    assert!(moving.as_str().is_some_and(|t| t.contains(&format!("{target}\t1\t"))), "{moving}");
    b.screenshot(&shots.join("change-confirm.png")).await;
    b.act("document.querySelector('#apply').submit()", true).await;
    assert_eq!(b.eval("location.pathname").await, "/console/jobs");
    let state = "document.querySelector('#job-evacuation .state').textContent";
    // Reloaded as the page's Refresh header would, for at most 30 s.
    for _ in 0..60 {
        if b.eval(state).await == "done" && !holders(admin, "photos", "team.jpg").await.contains(&target) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        b.open(&format!("{base}/console/jobs")).await;
    }
    assert_eq!(b.eval(state).await, "done");
    assert!(!holders(admin, "photos", "team.jpg").await.contains(&target), "the replica left {target}");
    b.screenshot(&shots.join("jobs.png")).await;
    b.open(&format!("{base}/console/")).await;
    let marker = b.eval(&format!("document.querySelector('#site-{country} circle').getAttribute('class')")).await;
    assert_eq!(marker, "marker exposed");
    b.screenshot(&shots.join("providers-exposed.png")).await;
    assert!(b.errors.is_empty(), "the pages reported errors: {:?}", b.errors);
    drop(b);
    gw.stop().await;
}

/// Promise: the health page names no provider while every provider answers (only the test
/// config's policies no provider can meet); once
/// the German provider stops answering it names it as unreachable and the Germany-only policy
/// as unable to take writes. The audit log downloads from the console as JSON lines that the
/// offline verifier (`souverain admin audit verify --file`) finds intact, named by the records
/// it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_page_names_what_needs_attention_and_the_audit_exports_verifiably() {
    let gw = TestGateway::start_proxied().await;
    let admin = gw.admin_addr();
    client(gw.addr).create_bucket().bucket("logs").send().await.unwrap();
    let cookie = login(admin, ADMIN_TOKEN).await;
    let health = request(admin, "GET", "/console/health", Some(&cookie), "").await.body_text();
    // The test config has two policies no provider can meet (they are named), nothing else.
    assert!(health.contains("<li class=\"bad\">Policy two-in-germany cannot take writes: 1 of its providers reachable, its write quorum is 2.</li>"), "{health}");
    assert!(!health.contains("Provider local-") && !health.contains("Policy de-only"), "{health}");

    gw.providers.proxies[0].set(crate::common::fault_proxy::Fault::Reset);
    let cookie_now = cookie.clone();
    crate::common::wait_for("the health page names the German provider", 30, || {
        let cookie = cookie_now.clone();
        async move {
            let page = request(admin, "GET", "/console/health", Some(&cookie), "").await.body_text();
            page.contains("<li class=\"bad\">Provider local-de is unreachable")
                && page.contains("<li class=\"bad\">Policy de-only cannot take writes: 0 of its providers reachable, its write quorum is 1.</li>")
        }
    })
    .await;
    gw.providers.proxies[0].set(crate::common::fault_proxy::Fault::None);

    let export = request(admin, "GET", "/console/audit/export?after=0", Some(&cookie), "").await;
    assert_eq!((export.status, export.header("content-type")), (200, Some("application/x-ndjson")));
    let lines = export.body_text().lines().count();
    assert!(lines >= 2, "audit key and bucket creation at least: {}", export.body_text());
    let name = format!("attachment; filename=\"souverain-audit-1-{lines}.jsonl\"");
    assert_eq!(export.header("content-disposition"), Some(name.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    std::fs::write(&file, &export.body).unwrap();
    let (ok, out, err) =
        crate::common::admin_cli(vec!["audit".into(), "verify".into(), "--file".into(), file.display().to_string()])
            .await;
    assert!(ok, "{out} {err}");
    assert_eq!(out.trim(), format!("{lines} records, chain intact"));
    gw.stop().await;
}
