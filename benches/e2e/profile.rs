//! `BENCH_E2E_PERF=GET` (an operation, or several: `PUT,GET`): records a `perf` profile of the
//! serving processes (the gateways, or rclone) during every phase of that operation, as
//! `$BENCH_E2E_PERF_DIR/<system>-<workload>-<op>.data` (default directory
//! `/tmp/souverain-bench-perf`). Read one with `perf report -i F --sort sym`. Sampling costs
//! CPU: the figures of a profiled run are for finding where time goes, not for comparison.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running `perf record`; dropping it ends the recording and waits for the file.
pub(crate) struct Recording(Option<Child>);

/// Starts `perf record` on the serving processes of `procs` if `BENCH_E2E_PERF` names `op`.
pub(crate) fn start(system: &str, workload: &str, op: &str, procs: &[(String, u32)]) -> Recording {
    let wanted = std::env::var("BENCH_E2E_PERF").is_ok_and(|v| v.split(',').any(|o| o.eq_ignore_ascii_case(op)));
    let pids: Vec<String> = procs
        .iter()
        .filter(|(role, _)| role.starts_with("gateway") || role == "rclone")
        .map(|(_, pid)| pid.to_string())
        .collect();
    if !wanted || pids.is_empty() {
        return Recording(None);
    }
    let dir = PathBuf::from(std::env::var("BENCH_E2E_PERF_DIR").unwrap_or_else(|_| "/tmp/souverain-bench-perf".into()));
    std::fs::create_dir_all(&dir).expect("create the profile directory");
    let name = format!("{system}-{workload}-{op}.data").replace([' ', '='], "_");
    let child = Command::new("perf")
        .args(["record", "--quiet", "-F", "999", "-p", &pids.join(","), "-o"])
        .arg(dir.join(name))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perf record (Debian: linux-perf)");
    // perf attaches within a few milliseconds; the phase's first requests may go unsampled.
    std::thread::sleep(std::time::Duration::from_millis(200));
    Recording(Some(child))
}

impl Drop for Recording {
    /// Interrupts `perf record` (it writes its file on SIGINT) and waits for it.
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}
