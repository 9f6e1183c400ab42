//! A real browser (Debian's headless Chromium) against the gateway: a page served by the test
//! from another origin uploads a file through a signed POST form and reads it back with a
//! presigned GET, across origins, as a web application does. Chromium enforces CORS itself,
//! so the page sees the answers only if the gateway's CORS answers let it.

use std::net::SocketAddr;
use std::process::Command;
use std::time::SystemTime;

use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::TestGateway;
use crate::common::raw::Signer;
use crate::forms::Form;

/// Serves `page` to every request on a port of its own; the page's origin.
async fn serve_page(page: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: Chromium asks for the page and perhaps a favicon.
        for _ in 0..8 {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = s.write_all(answer.as_bytes()).await;
        }
    });
    addr
}

/// The page: POSTs the form (fields, then a file made in the page), then GETs the object
/// through the presigned URL with a header that needs a preflight, and writes what it saw.
fn page(gateway: &str, form: &Form, get_url: &str) -> String {
    let fields: String = form.fields.iter().map(|(k, v)| format!("fd.append({k:?}, {v:?});\n")).collect();
    format!(
        r#"<!doctype html><html><body><pre id="out">running</pre><script>
(async () => {{
  const out = document.getElementById("out");
  try {{
    const fd = new FormData();
    {fields}
    fd.append("file", new Blob(["hello from chromium"], {{type: "text/plain"}}), "hello.txt");
    const post = await fetch("{gateway}/web", {{method: "POST", body: fd}});
    const get = await fetch("{gateway}{get_url}", {{headers: {{"Cache-Control": "no-cache"}}}});
    const text = await get.text();
    out.textContent = "post=" + post.status + " etag=" + post.headers.get("ETag") + " get=" + get.status + " body=" + text;
  }} catch (e) {{
    out.textContent = "failed: " + e;
  }}
}})();
</script></body></html>"#
    )
}

/// Promise: a web page on another origin uploads a file with a signed POST form and reads it
/// back with a presigned GET in a real browser: the POST answers 204 with the ETag readable by
/// the page (exposed by the bucket's CORS rule), the GET — preflighted, for its Cache-Control
/// header — returns the bytes; without the CORS rule the browser lets the page see nothing.
#[tokio::test]
async fn a_browser_uploads_with_a_form_and_reads_back_across_origins() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("web").send().await.unwrap();
    let host = gw.addr.to_string();
    let gateway = format!("http://{host}");
    let form = Form::signed("web", &[r#"["starts-with","$key","uploads/"]"#], &[("key", "uploads/${filename}")], 300);
    let get_url = Signer::new(SystemTime::now()).presign("GET", "/web/uploads/hello.txt", &host, 300);
    let origin_addr = serve_page(page(&gateway, &form, &get_url)).await;
    let origin = format!("http://{origin_addr}");

    // First without CORS rules: Chromium hides every answer from the page.
    let seen = run_chromium(&origin).await;
    assert!(seen.contains("failed: TypeError"), "no CORS rule, nothing for the page: {seen}");

    let rule = CorsRule::builder()
        .allowed_origins(&origin)
        .allowed_methods("POST")
        .allowed_methods("GET")
        .allowed_headers("cache-control")
        .expose_headers("ETag")
        .build()
        .unwrap();
    let rules = CorsConfiguration::builder().cors_rules(rule).build().unwrap();
    c.put_bucket_cors().bucket("web").cors_configuration(rules).send().await.unwrap();
    let seen = run_chromium(&origin).await;
    let etag = format!("\"{}\"", crate::common::md5_hex(b"hello from chromium"));
    assert!(seen.contains(&format!("post=204 etag={etag} get=200 body=hello from chromium")), "{seen}");
    gw.stop().await;
}

/// Loads `url` in headless Chromium until the page's script is done; the DOM it left.
async fn run_chromium(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = url.to_owned();
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("chromium")
            .args(crate::common::cdp::HEADLESS)
            .args(["--virtual-time-budget=15000", "--dump-dom", &profile_arg, &url])
            .output()
            .expect("Debian's chromium (scripts/install-deps.sh --test-tools installs it)")
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
