//! What the bench measures of its processes, from /proc: CPU seconds (per thread name for
//! gateways) and peak RSS.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// (parent pid, user CPU seconds, system CPU seconds) of a process, from /proc (clock ticks
/// of 1/100 s).
fn proc_stat(pid: u32) -> (u32, f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // ppid, utime and stime are fields 4, 14 and 15 of stat, i.e. 1, 11 and 12 after the ')'.
    (u32::try_from(num(1)).unwrap_or(0), num(11) as f64 / 100.0, num(12) as f64 / 100.0)
}

/// The key prefix of a gateway's CPU per thread (`thread:<role>:<name>:<tid>`).
pub(crate) const THREAD_PREFIX: &str = "thread:";

/// CPU seconds (user + system) of a process's live threads, by `name:tid`: the gateway names
/// its threads by the kind of work they do (`sv-async`, `sv-hash`, `sv-seal`, `sv-erasure`,
/// `sv-file-io`, `sv-metadata`; RocksDB's own are `rocksdb:*`). Keyed by thread, not summed by
/// name: a pool thread that ends within a phase (idle ones go after 10 s) must not take its
/// whole life's CPU out of its kind's figure. Its CPU in the phase falls into the "other"
/// column (total minus the named threads).
fn threads_cpu_secs(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let tid = entry.file_name().to_string_lossy().into_owned();
        out.insert(format!("{name}:{tid}"), (num(11) + num(12)) as f64 / 100.0);
    }
    out
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let (_, user, system) = proc_stat(pid);
    user + system
}

/// CPU seconds of a process and its children (PostgreSQL: the postmaster and its backends,
/// which live as long as the gateways' pooled connections).
fn tree_cpu_secs(root: u32) -> f64 {
    let mut total = cpu_secs(root);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
            let (ppid, user, system) = proc_stat(pid);
            if ppid == root {
                total += user + system;
            }
        }
    }
    total
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The processes of one system under test, by role (`client` is this process).
pub(crate) struct Watched {
    procs: Vec<(String, u32)>,
    peak: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl Watched {
    /// Samples every process's RSS every 20 ms, keeping the peak since the last reset.
    pub(crate) fn start(procs: Vec<(String, u32)>) -> Self {
        let peak = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s, list) = (Arc::clone(&peak), Arc::clone(&stop), procs.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(mut m) = p.lock() {
                    for (role, pid) in &list {
                        let r = rss_bytes(*pid);
                        let e = m.entry(role.clone()).or_insert(0);
                        *e = (*e).max(r);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { procs, peak, stop }
    }

    /// CPU seconds by role; for gateways also their kernel share (`kernel:<role>`: on
    /// loopback the sender's kernel also runs the receiver's TCP processing), and the
    /// `database` role counts the server's whole process tree.
    pub(crate) fn cpu(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (role, pid) in &self.procs {
            if role == "database" {
                out.insert(role.clone(), tree_cpu_secs(*pid));
                continue;
            }
            let (_, user, system) = proc_stat(*pid);
            out.insert(role.clone(), user + system);
            if role.starts_with("gateway") {
                out.insert(format!("kernel:{role}"), system);
                for (name, secs) in threads_cpu_secs(*pid) {
                    *out.entry(format!("{THREAD_PREFIX}{role}:{name}")).or_insert(0.0) += secs;
                }
            }
        }
        out
    }

    pub(crate) fn reset_peaks(&self) {
        if let Ok(mut m) = self.peak.lock() {
            m.clear();
        }
    }

    pub(crate) fn peaks(&self) -> BTreeMap<String, u64> {
        self.peak.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
