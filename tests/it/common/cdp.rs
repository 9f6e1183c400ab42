//! A small client of the Chrome DevTools Protocol over its WebSocket, enough for the console's
//! browser test: start Debian's headless Chromium, open a page, run a line of script in it (to
//! fill a form and submit it, as a user would), wait for loads, take screenshots, and collect
//! every error the page reported (exceptions, console errors, CSP violations, failed loads).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Debian's Chromium, headless, as this machine needs it: no sandbox (root), and none of its
/// background connections (the network is closed; they would fail, many at a time).
pub const HEADLESS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// How long one command or one page load may take.
const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Errors the page reported so far, as text.
    pub errors: Vec<String>,
    loads: usize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts headless Chromium (the flags this machine needs: no background networking) and
    /// attaches to a blank page.
    pub async fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("chromium")
            .args(HEADLESS)
            .args(["--window-size=1280,1000", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("Debian's chromium (scripts/install-deps.sh --test-tools installs it)");
        let stderr = child.stderr.take().unwrap();
        let url = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut lines = std::io::BufReader::new(stderr).lines();
            let url = lines
                .by_ref()
                .map_while(Result::ok)
                .find_map(|l| l.strip_prefix("DevTools listening on ").map(str::to_owned));
            // Keep draining, so Chromium never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            url
        })
        .await
        .unwrap()
        .expect("chromium printed its DevTools address");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let mut browser =
            Self { child, _profile: profile, socket, session: String::new(), next_id: 0, errors: Vec::new(), loads: 0 };
        let targets = browser.call(None, "Target.getTargets", json!({})).await;
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .map(|t| t["targetId"].clone())
            .expect("a page target");
        let attached = browser.call(None, "Target.attachToTarget", json!({ "targetId": page, "flatten": true })).await;
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            browser.page_call(domain, json!({})).await;
        }
        browser
    }

    async fn page_call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    /// Sends a command and waits for its answer, noting the events that arrive meanwhile.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket.send(Message::Text(msg.to_string().into())).await.unwrap();
        loop {
            let m = self.receive().await;
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
        }
    }

    /// The next message, with events accounted for.
    async fn receive(&mut self) -> Value {
        let m = tokio::time::timeout(WAIT, self.socket.next()).await.expect("chromium answers in time");
        let text = match m.unwrap().unwrap() {
            Message::Text(t) => t.to_string(),
            other => panic!("unexpected DevTools message {other:?}"),
        };
        let m: Value = serde_json::from_str(&text).unwrap();
        match m["method"].as_str() {
            Some("Page.loadEventFired") => self.loads += 1,
            Some("Runtime.exceptionThrown") => self.errors.push(m["params"]["exceptionDetails"].to_string()),
            Some("Runtime.consoleAPICalled") if m["params"]["type"] == "error" => {
                self.errors.push(m["params"].to_string());
            }
            Some("Log.entryAdded") if m["params"]["entry"]["level"] == "error" => {
                self.errors.push(m["params"]["entry"]["text"].to_string());
            }
            _ => {}
        }
        m
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn open(&mut self, url: &str) {
        let before = self.loads;
        self.page_call("Page.navigate", json!({ "url": url })).await;
        self.wait_loads(before + 1).await;
    }

    /// Runs `script` in the page (a user's action: fill a field, click) and, if it navigates,
    /// waits for the next page to load.
    pub async fn act(&mut self, script: &str, navigates: bool) {
        let before = self.loads;
        let r = self.page_call("Runtime.evaluate", json!({ "expression": script, "awaitPromise": true })).await;
        assert!(r.get("exceptionDetails").is_none(), "{script}: {r}");
        if navigates {
            self.wait_loads(before + 1).await;
        }
    }

    /// Runs `click` (a click on a link that downloads, as a user would) and waits for the
    /// download to land in `dir`: the file's name (as the server named it) and its bytes.
    pub async fn download(&mut self, click: &str, dir: &std::path::Path) -> (String, Vec<u8>) {
        let allow = json!({ "behavior": "allow", "downloadPath": dir.display().to_string() });
        self.call(None, "Browser.setDownloadBehavior", allow).await;
        self.act(click, false).await;
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let done: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_none_or(|x| x != "crdownload"))
                .collect();
            if let [file] = done.as_slice() {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                return (name, std::fs::read(file).unwrap());
            }
            assert!(std::time::Instant::now() < deadline, "no download landed in {}", dir.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The value of a script expression in the page (a promise's, once it settles).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let args = json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let r = self.page_call("Runtime.evaluate", args).await;
        r["result"]["value"].clone()
    }

    async fn wait_loads(&mut self, n: usize) {
        while self.loads < n {
            self.receive().await;
        }
    }

    /// A PNG of the page as it is, written to `path`.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        let r =
            self.page_call("Page.captureScreenshot", json!({ "format": "png", "captureBeyondViewport": true })).await;
        let png = base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}
