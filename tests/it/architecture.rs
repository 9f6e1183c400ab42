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
    p.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_string_lossy().into_owned()
}

/// Promise: only the allowed module imports each sensitive crate, placement and datapath stay
/// pure, and the service never sees HTTP or S3 types.
#[test]
fn dependency_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
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
    only("s3s::", &|r| r.starts_with("src/frontend/") || r == "src/main.rs", &mut broken);
    only("S3ErrorCode", &|r| r.starts_with("src/frontend/"), &mut broken);
    for (p, text) in &files {
        let r = rel(p);
        if r.starts_with("src/placement/") {
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
        if r == "src/meta/mod.rs" && text.to_lowercase().contains("rocksdb::") {
            broken.push(format!("{r} names its engine"));
        }
        if !r.ends_with("main.rs") && text.contains("anyhow") {
            broken.push(format!("{r} uses anyhow outside main.rs"));
        }
    }
    assert!(broken.is_empty(), "dependency rules broken:\n{}", broken.join("\n"));
}
