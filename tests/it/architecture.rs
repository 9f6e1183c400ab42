//! Promise: the dependency rules of DESIGN.md §2.2 hold, checked on the source itself.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
        }
    }
    out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(crate::common::repo_root()).unwrap().to_string_lossy().into_owned()
}

/// Promise: only the allowed module imports each sensitive crate, placement and datapath stay
/// pure, and the service never sees HTTP or S3 types.
#[test]
fn dependency_rules() {
    let src = crate::common::repo_root().join("src");
    let files = sources(&src);
    let mut broken = Vec::new();
    let only = |needle: &str, allowed: &dyn Fn(&str) -> bool, broken: &mut Vec<String>| {
        for (p, text) in &files {
            let r = rel(p);
            if text.contains(needle) && !allowed(&r) {
                broken.push(format!("{r} uses {needle}"));
            }
        }
    };
    only("rocksdb::", &|r| r == "src/meta/rocks.rs", &mut broken);
    only("tokio_postgres", &|r| r == "src/meta/postgres.rs", &mut broken);
    only("deadpool_postgres", &|r| r == "src/meta/postgres.rs", &mut broken);
    only("ring::aead", &|r| r == "src/datapath/crypto.rs", &mut broken);
    only("ring::hkdf", &|r| r == "src/datapath/crypto.rs", &mut broken);
    // Blocking work runs on the named pools, so the CPU per kind of work can be told apart.
    only("task::spawn_blocking(", &|r| r == "src/pools.rs", &mut broken);
    only("aws_sigv4", &|r| r == "src/backend/s3/sign.rs", &mut broken);
    only("s3s::", &|r| r.starts_with("src/frontend/") || r == "src/main.rs", &mut broken);
    only("S3ErrorCode", &|r| r.starts_with("src/frontend/"), &mut broken);
    only("fn authorize(", &|r| r == "src/access/mod.rs", &mut broken);
    for (p, text) in &files {
        let r = rel(p);
        if r.starts_with("src/placement/") || r.starts_with("src/access/") {
            for bad in ["async fn", "SystemTime::now", "tokio", "rand::"] {
                if text.contains(bad) {
                    broken.push(format!("{r} (placement must be pure) uses {bad}"));
                }
            }
        }
        if r.starts_with("src/datapath/") && text.contains("tokio") {
            broken.push(format!("{r} (datapath must be synchronous) uses tokio"));
        }
        if r.starts_with("src/service/") {
            for bad in ["hyper::", "s3s::", "http::", "rocksdb", "ring::aead"] {
                if text.contains(bad) {
                    broken.push(format!("{r} (service) uses {bad}"));
                }
            }
        }
        if r.starts_with("src/frontend/") {
            // The S3 surface talks to the service only: no store, provider, key or cipher.
            for bad in ["crate::meta", "crate::backend", "crate::keys", "crate::datapath"] {
                if code_of(text).contains(bad) {
                    broken.push(format!("{r} (frontend) uses {bad}"));
                }
            }
        }
        if !(r.starts_with("src/service/") || r == "src/app.rs") && code_of(text).contains("ObjectService") {
            // The frontend holds `ObjectApi`, the admin API `AdminOps`, each worker its parts.
            broken.push(format!("{r} reaches through the object service"));
        }
        if r.starts_with("src/admin/") {
            // The admin API talks to `AdminOps` only.
            for bad in ["crate::meta", "crate::workers", "crate::backend", "crate::keys", "crate::datapath"] {
                if code_of(text).contains(bad) {
                    broken.push(format!("{r} (admin API) uses {bad}"));
                }
            }
        }
        let permit_minter = r == "src/service/access.rs" || r.starts_with("src/service/admin/");
        if r.starts_with("src/service/") && !permit_minter {
            // An S3 operation reaches its bucket only through the `Permit` authorization minted.
            for bad in ["meta.bucket(", "meta.buckets(", "Permit {"] {
                if code_of(text).contains(bad) {
                    broken.push(format!("{r} uses {bad}: buckets come with a Permit (service/access.rs)"));
                }
            }
        }
        if r.starts_with("src/meta/") && code_of(text).contains("crate::keys") {
            broken.push(format!("{r} (metadata) uses crate::keys; shared value types live in model/"));
        }
        if r == "src/meta/mod.rs" && text.to_lowercase().contains("rocksdb::") {
            broken.push(format!("{r} names its engine"));
        }
        if !r.ends_with("main.rs") && text.contains("anyhow") {
            broken.push(format!("{r} uses anyhow outside main.rs"));
        }
    }
    assert!(broken.is_empty(), "dependency rules broken:\n{}", broken.join("\n"));
}

/// A file's text without its comment lines (a doc link to another module is no dependency).
fn code_of(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level module a file of `src/` belongs to (`src/meta/store/mod.rs` → `meta`), or
/// `None` for the crate roots.
fn top_module(rel: &str) -> Option<String> {
    let inside = rel.strip_prefix("src/")?;
    let first = inside.split('/').next()?.trim_end_matches(".rs");
    (first != "lib" && first != "main").then(|| first.to_owned())
}

/// Promise: the top-level modules form no circle: following `crate::<module>` references from
/// module to module never comes back to where it started, so each layer can be read (and
/// tested) knowing only those below it.
#[test]
fn top_level_modules_form_no_circle() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = crate::common::repo_root().join("src");
    let files = sources(&src);
    let modules: BTreeSet<String> = files.iter().filter_map(|(p, _)| top_module(&rel(p))).collect();
    // module → (module it uses → one file that does, for the report)
    let mut uses: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (p, text) in &files {
        let r = rel(p);
        let Some(from) = top_module(&r) else { continue };
        let code = code_of(text);
        for to in &modules {
            let named = code.contains(&format!("crate::{to}::")) || code.contains(&format!("crate::{to};"));
            if *to != from && named {
                uses.entry(from.clone()).or_default().entry(to.clone()).or_insert_with(|| r.clone());
            }
        }
    }
    // Depth-first search; a grey module met again closes a circle.
    fn visit(
        m: &str,
        uses: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, bool>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|p| p == m).unwrap_or(0);
                let mut circle = path[start..].to_vec();
                circle.push(m.to_owned());
                return Some(circle);
            }
            None => {}
        }
        state.insert(m.to_owned(), false);
        path.push(m.to_owned());
        for next in uses.get(m).map(|u| u.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            if let Some(circle) = visit(&next, uses, state, path) {
                return Some(circle);
            }
        }
        path.pop();
        state.insert(m.to_owned(), true);
        None
    }
    let mut state = BTreeMap::new();
    for m in &modules {
        if let Some(circle) = visit(m, &uses, &mut state, &mut Vec::new()) {
            let steps: Vec<String> =
                circle.windows(2).map(|w| format!("{} → {} (in {})", w[0], w[1], uses[&w[0]][&w[1]])).collect();
            panic!("a circle between top-level modules:\n{}", steps.join("\n"));
        }
    }
}
