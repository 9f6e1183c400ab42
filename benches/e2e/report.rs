//! The bench's tables: one run's phases, the gateway's CPU by thread, the ratios, and a
//! before/after comparison of several runs' JSON (two builds, alternated rounds).

use std::collections::BTreeMap;

use crate::procs::THREAD_PREFIX;
use crate::{PhaseResult, RS};

/// A figure read from a phase's result (MiB/s, operations/s, CPU per unit).
type Measure = fn(&PhaseResult) -> f64;

/// The kinds of work the gateway names its threads by (docs/operations.md), in table order.
const THREAD_GROUPS: [&str; 7] =
    ["sv-async", "sv-hash", "sv-seal", "sv-erasure", "sv-file-io", "sv-metadata", "rocksdb"];

/// Whether a process role is what serves the requests: a gateway, or rclone.
fn serves(role: &str) -> bool {
    role.starts_with("gateway") || role == "rclone"
}

/// The CPU per unit of the roles `which` picks, summed (`+ 0.0`: an empty sum of floats is
/// -0.0, as for local providers, which have no process).
fn cpu_of(r: &PhaseResult, which: impl Fn(&str) -> bool) -> f64 {
    r.cpu_per_unit.iter().filter(|(k, _)| which(k)).map(|(_, v)| v).sum::<f64>() + 0.0
}

fn find<'a>(all: &'a [PhaseResult], system: &str, workload: &str, op: &str) -> Option<&'a PhaseResult> {
    all.iter().find(|r| r.system == system && r.workload == workload && r.op == op)
}

fn print_table(all: &[PhaseResult]) {
    println!(
        "| system | workload | op | MiB/s | ops/s | p50 ms | p99 ms | CPU (unit) client / server (its kernel share) [+ database] / providers | peak RSS MiB server |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---|---:|");
    for r in all {
        let server = cpu_of(r, serves);
        let kernel = cpu_of(r, |k| k.starts_with("kernel:"));
        let gateway = r.cpu_per_unit.keys().any(|k| k.starts_with("gateway"));
        let server = match (server > 0.0, gateway) {
            (true, true) => format!("{server:.2} (kernel {kernel:.2})"),
            (true, false) => format!("{server:.2}"),
            (false, _) => "-".into(),
        };
        let server = match r.cpu_per_unit.get("database") {
            Some(db) => format!("{server} + db {db:.2}"),
            None => server,
        };
        let providers = cpu_of(r, |k| k.starts_with("provider"));
        let rss = r.peak_rss_mib.iter().filter(|(k, _)| serves(k)).map(|(_, v)| *v).fold(0.0f64, f64::max);
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.2} / {} / {:.2} {} | {:.0} |",
            r.system,
            r.workload,
            r.op,
            r.mib_per_s,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
            r.cpu_per_unit.get("client").copied().unwrap_or(0.0),
            server,
            providers,
            r.cpu_unit,
            rss
        );
    }
}

/// The first gateway's CPU per unit on threads whose name starts with `group`.
fn thread_group(r: &PhaseResult, prefix: &str, group: &str) -> f64 {
    // `+ 0.0`: an empty sum of floats is -0.0.
    r.cpu_per_unit.iter().filter_map(|(k, v)| k.strip_prefix(prefix)?.starts_with(group).then_some(v)).sum::<f64>()
        + 0.0
}

/// The first gateway's CPU per phase by kind of work (its thread names), for predicting which
/// kind saturates first on a machine with more cores (issue 25 item 4).
fn print_threads_table(all: &[PhaseResult]) {
    println!("| system | workload | op | {} | other (main thread, ended threads) | unit |", THREAD_GROUPS.join(" | "));
    println!("|---|---|---|{}---:|---|", "---:|".repeat(THREAD_GROUPS.len()));
    let prefix = format!("{THREAD_PREFIX}gateway:");
    for r in all {
        let Some(total) = r.cpu_per_unit.get("gateway") else { continue };
        let group = |g: &str| thread_group(r, &prefix, g);
        let cells: Vec<String> = THREAD_GROUPS.iter().map(|g| format!("{:.2}", group(g))).collect();
        let named: f64 = THREAD_GROUPS.iter().map(|g| group(g)).sum();
        println!(
            "| {} | {} | {} | {} | {:.2} | {} |",
            r.system,
            r.workload,
            r.op,
            cells.join(" | "),
            total - named,
            r.cpu_unit
        );
    }
}

/// The ratios of one run: (name, value, target).
fn ratios(all: &[PhaseResult]) -> Vec<(String, f64, String)> {
    let mut out = Vec::new();
    let mut ratio =
        |name: &str, a: Option<&PhaseResult>, b: Option<&PhaseResult>, f: fn(&PhaseResult) -> f64, target: &str| {
            if let (Some(a), Some(b)) = (a, b) {
                out.push((name.to_owned(), f(a) / f(b).max(1e-9), target.to_owned()));
            }
        };
    let big = "64MiB x16";
    let small = "4KiB x5000";
    let (n3, rc, n1, d) = ("gateway N=3 W=2", "rclone crypt+union", "gateway N=1", "direct");
    let mibs = |r: &PhaseResult| r.mib_per_s;
    let ops = |r: &PhaseResult| r.ops_per_s;
    ratio("N=3 PUT 64MiB vs rclone", find(all, n3, big, "PUT"), find(all, rc, big, "PUT"), mibs, ">= 2.5");
    ratio("N=3 GET 64MiB vs rclone", find(all, n3, big, "GET"), find(all, rc, big, "GET"), mibs, ">= 1.3");
    ratio("N=3 PUT 4KiB ops vs rclone", find(all, n3, small, "PUT"), find(all, rc, small, "PUT"), ops, ">= 3");
    ratio("N=3 GET 4KiB ops vs rclone", find(all, n3, small, "GET"), find(all, rc, small, "GET"), ops, ">= 1.5");
    ratio("N=1 GET 64MiB vs direct", find(all, n1, big, "GET"), find(all, d, big, "GET"), mibs, ">= 0.9");
    ratio("N=1 PUT 64MiB vs direct", find(all, n1, big, "PUT"), find(all, d, big, "PUT"), mibs, ">= 0.6");
    // Issue 25 item 1: local directories should cost the gateway no more CPU per GiB than
    // remote providers, and one large stream no more per GiB than several concurrent ones.
    let cpu = |r: &PhaseResult| r.cpu_per_unit.get("gateway").copied().unwrap_or(0.0);
    let (local3, one) = ("gateway N=3 local", "1GiB x1");
    for op in ["PUT", "GET"] {
        for w in [big, one] {
            let (a, b) = (find(all, local3, w, op), find(all, n3, w, op));
            ratio(&format!("gateway CPU/GiB local vs s3s-fs N=3 {op} {w}"), a, b, cpu, "<= 1.0");
        }
        let (a, b) = (find(all, local3, one, op), find(all, local3, big, op));
        ratio(&format!("gateway CPU/GiB local N=3 {op} one stream vs 4 in flight"), a, b, cpu, "<= 1.0");
    }
    // Issue 25 item 3: the fast ETag mode's CPU per GiB against MD5's, same providers.
    let fast = "gateway N=3 W=2 etag=fast";
    for w in [big, one] {
        let (a, b) = (find(all, fast, w, "PUT"), find(all, n3, w, "PUT"));
        ratio(&format!("gateway CPU/GiB etag=fast vs md5 N=3 PUT {w}"), a, b, cpu, "report");
        ratio(&format!("etag=fast vs md5 N=3 PUT {w} MiB/s"), a, b, mibs, "report");
    }
    // Item 3: one large PUT against the pace its hashing thread alone would allow (1 GiB over
    // that thread's seconds per GiB); near 1 means nothing else serialises behind the hash.
    let md5_pace = |r: &PhaseResult| {
        let hash = thread_group(r, &format!("{THREAD_PREFIX}gateway:"), "sv-hash");
        if hash > 0.0 { r.mib_per_s / (1024.0 / hash) } else { f64::NAN }
    };
    let paces: Vec<(String, f64, String)> = ["gateway N=1 local", n3]
        .into_iter()
        .filter_map(|system| {
            let pace = md5_pace(find(all, system, one, "PUT")?);
            let name = format!("{system} PUT {one} MiB/s vs its sv-hash thread's own pace");
            pace.is_finite().then(|| (name, pace, "report".to_owned()))
        })
        .collect();
    // Item 2: small reads over a provider slow for ranges not at byte 0 (rclone serve s3).
    let (over_rclone, n1_rate) = ("gateway N=1 over rclone", find(all, n1, small, "GET"));
    ratio("N=1 GET 4KiB ops over rclone vs over s3s-fs", find(all, over_rclone, small, "GET"), n1_rate, ops, "report");
    // Issue 26: erasure coding 4 + 2 against replication N = 3 on the same kind of providers.
    for w in [big, one] {
        for op in ["PUT", "GET"] {
            let (a, b) = (find(all, RS, w, op), find(all, n3, w, op));
            let target = if op == "PUT" { "<= 1.3" } else { "report" };
            ratio(&format!("gateway CPU/GiB RS 4+2 vs N=3 {op} {w}"), a, b, cpu, target);
            ratio(&format!("RS 4+2 vs N=3 {op} {w} MiB/s"), a, b, mibs, "report");
        }
        let stored = |r: &PhaseResult| r.stored_per_written.unwrap_or(0.0);
        let (a, b) = (find(all, RS, w, "PUT"), find(all, n3, w, "PUT"));
        ratio(&format!("provider bytes per byte written RS 4+2 vs N=3 {w}"), a, b, stored, "<= 0.51");
    }
    let (pg1, pg2) = ("gateway N=3 PostgreSQL", "2 gateways N=3 PostgreSQL");
    let per_workload: [(&str, Measure); 2] = [(big, mibs), (small, ops)];
    for (workload, f) in per_workload {
        for op in ["PUT", "GET"] {
            let unit = if workload == big { "MiB/s" } else { "ops" };
            let (a, b) = (find(all, pg1, workload, op), find(all, n3, workload, op));
            ratio(&format!("PostgreSQL vs RocksDB {op} {workload} {unit}"), a, b, f, "report");
            let (a, b) = (find(all, pg2, workload, op), find(all, pg1, workload, op));
            ratio(&format!("2 vs 1 gateways on PostgreSQL {op} {workload} {unit}"), a, b, f, "report");
        }
    }
    out.extend(paces);
    out
}

/// Prints one run's tables (phases, the gateway's threads, ratios with their targets); returns
/// the ratios for the JSON.
pub(crate) fn print_run(all: &[PhaseResult]) -> Vec<(String, f64, String)> {
    print_table(all);
    println!();
    print_threads_table(all);
    println!();
    println!("| ratio | value | target |");
    println!("|---|---:|---|");
    let ratios = ratios(all);
    for (name, v, target) in &ratios {
        println!("| {name} | {v:.2} | {target} |");
    }
    let gw_cpu = |op: &str| {
        find(all, "gateway N=3 W=2", "64MiB x16", op)
            .and_then(|r| r.cpu_per_unit.get("gateway").copied())
            .unwrap_or(0.0)
    };
    println!("| gateway CPU, 64 MiB PUT N=3 (s/GiB) | {:.2} | <= 2.5 |", gw_cpu("PUT"));
    println!("| gateway CPU, 64 MiB GET N=3 (s/GiB) | {:.2} | <= 1.0 |", gw_cpu("GET"));
    let rss = |w: &str| {
        ["PUT", "GET"]
            .iter()
            .filter_map(|op| find(all, "gateway N=3 W=2", w, op).and_then(|r| r.peak_rss_mib.get("gateway").copied()))
            .fold(0.0f64, f64::max)
    };
    println!(
        "| gateway peak RSS 1 GiB vs 4 KiB objects (MiB) | {:.0} vs {:.0} | within 64 |",
        rss("1GiB x1"),
        rss("4KiB x5000")
    );
    ratios
}

/// The CPU per unit of what serves the requests: the gateways (all of them) or rclone, or for
/// `direct` the provider.
fn server_cpu(r: &PhaseResult) -> f64 {
    if r.cpu_per_unit.keys().any(|k| serves(k)) { cpu_of(r, serves) } else { cpu_of(r, |k| k.starts_with("provider")) }
}

/// One build's runs: its label and each round's phases.
struct Build {
    label: String,
    rounds: Vec<Vec<PhaseResult>>,
}

/// Reads `label=a.json,b.json;label=c.json,d.json` (the rounds of each build, in order).
fn read_builds(spec: &str) -> Vec<Build> {
    spec.split(';')
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let (label, files) = b.split_once('=').unwrap_or_else(|| panic!("{b}: want label=file,file"));
            let rounds = files
                .split(',')
                .map(|f| {
                    let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}"));
                    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
                    serde_json::from_value(json["phases"].clone()).unwrap_or_else(|e| panic!("{f}: phases: {e}"))
                })
                .collect();
            Build { label: label.to_owned(), rounds }
        })
        .collect()
}

/// `f` of the phase in each round, as "r1 / r2" ("–" where a round lacks the phase).
fn per_round(build: &Build, key: (&str, &str, &str), f: impl Fn(&PhaseResult) -> String) -> String {
    let cells: Vec<String> =
        build.rounds.iter().map(|run| find(run, key.0, key.1, key.2).map_or_else(|| "–".into(), &f)).collect();
    cells.join(" / ")
}

/// The before/after tables of several builds' alternated runs (issue 25's "done when"): every
/// phase's rate and server CPU per build and round, the gateway's CPU by thread kind, and every
/// ratio.
pub(crate) fn print_comparison(spec: &str) {
    let builds = read_builds(spec);
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for r in builds.iter().flat_map(|b| b.rounds.iter().flatten()).filter(|r| r.op != "DELETE") {
        let key = (r.system.clone(), r.workload.clone(), r.op.clone());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let labels: Vec<&str> = builds.iter().map(|b| b.label.as_str()).collect();
    let rate_heads: Vec<String> = labels.iter().map(|l| format!("rate {l}")).collect();
    let cpu_heads: Vec<String> = labels.iter().map(|l| format!("server CPU {l}")).collect();
    println!("| system | workload | op | {} | {} | unit |", rate_heads.join(" | "), cpu_heads.join(" | "));
    println!("|---|---|---|{}---|", "---:|".repeat(2 * builds.len()));
    for (system, workload, op) in &keys {
        let key = (system.as_str(), workload.as_str(), op.as_str());
        let small = workload.starts_with("4KiB");
        let rate = |r: &PhaseResult| if small { format!("{:.0}", r.ops_per_s) } else { format!("{:.1}", r.mib_per_s) };
        let rates: Vec<String> = builds.iter().map(|b| per_round(b, key, rate)).collect();
        let cpus: Vec<String> = builds.iter().map(|b| per_round(b, key, |r| format!("{:.2}", server_cpu(r)))).collect();
        let unit = if small { "ops/s, s/1k req" } else { "MiB/s, s/GiB" };
        println!("| {system} | {workload} | {op} | {} | {} | {unit} |", rates.join(" | "), cpus.join(" | "));
    }
    println!();
    print_threads_comparison(&builds, &keys);
    println!();
    print_ratios_comparison(&builds, &labels);
}

/// Every ratio per build and round (each round's ratios computed once).
fn print_ratios_comparison(builds: &[Build], labels: &[&str]) {
    let all_ratios: Vec<Vec<Vec<(String, f64, String)>>> =
        builds.iter().map(|b| b.rounds.iter().map(|run| ratios(run)).collect()).collect();
    let mut names: Vec<&String> = Vec::new();
    for (name, _, _) in all_ratios.iter().flatten().flatten() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    println!("| ratio | {} | target |", labels.join(" | "));
    println!("|---|{}---|", "---:|".repeat(builds.len()));
    for name in names {
        let mut target = String::new();
        let cells: Vec<String> = all_ratios
            .iter()
            .map(|rounds| {
                let values: Vec<String> = rounds
                    .iter()
                    .map(|run| {
                        run.iter().find(|(n, _, _)| n == name).map_or_else(
                            || "–".into(),
                            |(_, v, t)| {
                                target.clone_from(t);
                                format!("{v:.2}")
                            },
                        )
                    })
                    .collect();
                values.join(" / ")
            })
            .collect();
        println!("| {name} | {} | {target} |", cells.join(" | "));
    }
}

/// The first gateway's CPU by thread kind, per build: the lowest and highest over its rounds.
fn print_threads_comparison(builds: &[Build], keys: &[(String, String, String)]) {
    let prefix = format!("{THREAD_PREFIX}gateway:");
    println!("| system | workload | op | build | {} | unit |", THREAD_GROUPS.join(" | "));
    println!("|---|---|---|---|{}---|", "---:|".repeat(THREAD_GROUPS.len()));
    for (system, workload, op) in keys {
        for b in builds {
            let runs: Vec<&PhaseResult> = b.rounds.iter().filter_map(|run| find(run, system, workload, op)).collect();
            // A build from before the named threads has none of them: no row.
            let named = |r: &&&PhaseResult| r.cpu_per_unit.keys().any(|k| k.starts_with(&format!("{prefix}sv-")));
            let Some(first) = runs.first().filter(named) else { continue };
            let mut spans: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
            for r in &runs {
                for g in THREAD_GROUPS {
                    let v = thread_group(r, &prefix, g);
                    let e = spans.entry(g).or_insert((v, v));
                    *e = (e.0.min(v), e.1.max(v));
                }
            }
            let cells: Vec<String> = THREAD_GROUPS
                .iter()
                .map(|g| match spans.get(g) {
                    Some((lo, hi)) if (hi - lo).abs() < 0.005 => format!("{lo:.2}"),
                    Some((lo, hi)) => format!("{lo:.2}–{hi:.2}"),
                    None => "–".into(),
                })
                .collect();
            println!("| {system} | {workload} | {op} | {} | {} | {} |", b.label, cells.join(" | "), first.cpu_unit);
        }
    }
}
