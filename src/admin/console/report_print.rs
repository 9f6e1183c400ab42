//! The report's PDF printed by headless Chromium, for operators who choose it
//! (`[admin] report_pdf = "chromium"`): the report's own HTML page (its style inline, and a
//! Content-Security-Policy that lets it load and run nothing) is written to a private temporary directory and printed with
//! `--print-to-pdf`, Chromium's network and background services off, within a minute; the
//! directory goes with the answer. The built-in maker (printpdf) needs no external program;
//! this one lays text out as the browser does (any script, fonts as installed).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long Chromium may take to print.
const PRINT_WITHIN: Duration = Duration::from_mins(1);

/// A directory of this process's, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self, String> {
        let id = crate::model::random_array::<16>().map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!("souverain-report-{}", hex::encode(id)));
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(|e| format!("temporary directory {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether this process runs as root (Chromium's sandbox then cannot start).
fn as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines().any(|l| l.strip_prefix("Uid:").is_some_and(|u| u.split_whitespace().next() == Some("0")))
    })
}

/// The flags that keep Chromium to printing one local page.
fn flags(dir: &Path) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-pdf-header-footer",
    ]
    .map(str::to_owned)
    .to_vec();
    if as_root() {
        flags.push("--no-sandbox".into());
    }
    flags.push(format!("--user-data-dir={}", dir.join("profile").display()));
    flags.push(format!("--print-to-pdf={}", dir.join("report.pdf").display()));
    flags.push(format!("file://{}", dir.join("report.html").display()));
    flags
}

/// `html` printed to PDF by `program`; why not.
pub(super) async fn print(program: &str, html: &str) -> Result<Vec<u8>, String> {
    let scratch = Scratch::new()?;
    let page = scratch.0.join("report.html");
    tokio::fs::write(&page, html).await.map_err(|e| format!("writing the page: {e}"))?;
    let child = tokio::process::Command::new(program)
        .args(flags(&scratch.0))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let status = match tokio::time::timeout(PRINT_WITHIN, child.wait_with_output()).await {
        Err(_) => return Err(format!("no PDF within {} s", PRINT_WITHIN.as_secs())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(out)) => out.status,
    };
    match tokio::fs::read(scratch.0.join("report.pdf")).await {
        Ok(pdf) if status.success() && pdf.starts_with(b"%PDF-") => Ok(pdf),
        Ok(_) => Err(format!("it exited with {status} without a PDF")),
        Err(e) => Err(format!("it exited with {status}, no PDF: {e}")),
    }
}
