//! `souverain admin provider probe`: checks that a provider can serve as a backend, step by
//! step, on temporary objects of random bytes, and reports what works, how fast, and what
//! limits apply.

use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Backend, BackendError, GrantedBody, STREAM_PREFIX, SealedBody, stream_name};
use crate::model::StreamId;
use crate::model::random_array;
use crate::placement::probe_grant;

/// One step of a probe.
#[derive(Debug, Clone)]
pub struct ProbeStep {
    /// What was tried.
    pub name: &'static str,
    /// The failure, if any.
    pub error: Option<String>,
    /// How long it took.
    pub millis: u128,
}

/// The outcome of a probe.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The provider.
    pub provider: String,
    /// Steps in order.
    pub steps: Vec<ProbeStep>,
    /// Facts worth knowing (dialect, limits).
    pub notes: Vec<String>,
}

impl ProbeReport {
    /// True when every step passed.
    pub fn usable(&self) -> bool {
        self.steps.iter().all(|s| s.error.is_none())
    }

    /// A readable report, one line per step.
    pub fn render(&self) -> String {
        let mut out = format!("probe of provider {}\n", self.provider);
        for s in &self.steps {
            match &s.error {
                None => {
                    let _ = writeln!(out, "  ok    {:<14} {:>6} ms", s.name, s.millis);
                }
                Some(e) => {
                    let _ = writeln!(out, "  FAIL  {:<14} {:>6} ms  {e}", s.name, s.millis);
                }
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "  note  {n}");
        }
        let verdict = if self.usable() { "usable" } else { "NOT usable" };
        let _ = writeln!(out, "provider {} is {verdict}", self.provider);
        out
    }
}

fn random_bytes(len: usize) -> Result<Bytes, String> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let block: [u8; 32] = random_array().map_err(|e| crate::report::chain(&e))?;
        out.extend_from_slice(&block[..block.len().min(len - out.len())]);
    }
    Ok(Bytes::from(out))
}

async fn read_all(
    backend: &dyn Backend,
    name: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Vec<u8>, BackendError> {
    let mut s = backend.get(name, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

struct Prober {
    steps: Vec<ProbeStep>,
}

impl Prober {
    async fn step<F, Fut>(&mut self, name: &'static str, f: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        if self.steps.iter().any(|s| s.error.is_some()) {
            return false;
        }
        let t = Instant::now();
        let error = f().await.err();
        self.steps.push(ProbeStep { name, error, millis: t.elapsed().as_millis() });
        self.steps.last().is_some_and(|s| s.error.is_none())
    }
}

/// What protects the gateway's ciphertext at the provider itself, with the recommendation of
/// docs/object-lock.md when nothing does.
async fn protection_note(backend: &dyn Backend) -> String {
    use super::ProviderProtection::{Bucket, NotApplicable};
    let advice = "a leaked provider credential could delete ciphertext for good (scrub and repair restore a \
                  lost replica from the others); enable versioning or Object Lock on the provider's bucket where offered";
    match backend.protection().await {
        Ok(p) => {
            let tail = if p.protects() { String::new() } else { format!(": {advice}") };
            match p {
                NotApplicable => "provider-side protection: not applicable (a local directory)".into(),
                Bucket { versioning, object_lock } => {
                    format!("provider-side protection: bucket versioning {versioning}, Object Lock {object_lock}{tail}")
                }
            }
        }
        Err(e) => format!("provider-side protection: could not be read ({}): {advice}", crate::report::chain(&e)),
    }
}

fn temp_name() -> Result<String, String> {
    random_array().map(|b| stream_name(StreamId(b))).map_err(|e| crate::report::chain(&e))
}

/// Runs the probe. `multipart` is the same provider configured with a small `max_put_size`,
/// so the multipart path is exercised with a few MiB; `None` for providers without one.
pub async fn probe(backend: &dyn Backend, multipart: Option<(&dyn Backend, u64)>) -> ProbeReport {
    let mut p = Prober { steps: Vec::new() };
    let small = random_bytes(64 * 1024);
    let name = temp_name();
    p.step("list", || async {
        backend.list(STREAM_PREFIX, None, 1).await.map(|_| ()).map_err(|e| crate::report::chain(&e))
    })
    .await;
    let (Ok(small), Ok(name)) = (small, name) else {
        p.steps.push(ProbeStep { name: "setup", error: Some("random generator failed".into()), millis: 0 });
        return ProbeReport { provider: backend.id().to_string(), steps: p.steps, notes: Vec::new() };
    };
    p.step("put", || async {
        let body = GrantedBody::new(&probe_grant(backend.id()), SealedBody::from_bytes(small.clone()))
            .map_err(|e| crate::report::chain(&e))?;
        backend.put(&name, small.len() as u64, body).await.map_err(|e| crate::report::chain(&e))
    })
    .await;
    p.step("head", || async {
        match backend.head(&name).await.map_err(|e| crate::report::chain(&e))? {
            Some(n) if n == small.len() as u64 => Ok(()),
            other => Err(format!("HEAD says {other:?}, expected {} bytes", small.len())),
        }
    })
    .await;
    p.step("get", || async {
        let got = read_all(backend, &name, None).await.map_err(|e| crate::report::chain(&e))?;
        if got == small[..] { Ok(()) } else { Err(format!("read back {} different bytes", got.len())) }
    })
    .await;
    p.step("ranged get", || async {
        let got = read_all(backend, &name, Some(1000..2000)).await.map_err(|e| crate::report::chain(&e))?;
        if got == small[1000..2000] { Ok(()) } else { Err("range answered other bytes".into()) }
    })
    .await;
    p.step("listing", || async {
        let listed = backend.list(STREAM_PREFIX, None, 1000).await.map_err(|e| crate::report::chain(&e))?;
        if listed.iter().any(|(n, len)| *n == name && *len == small.len() as u64) {
            Ok(())
        } else {
            Err("the new object is not listed with its length".into())
        }
    })
    .await;
    let mut notes = Vec::new();
    if let Some((mp, max_put)) = multipart {
        let big_name = temp_name().unwrap_or_else(|_| name.clone());
        p.step("multipart", || async {
            let big = random_bytes(crate::model::usize_from(max_put) + 4097)?;
            let body = GrantedBody::new(&probe_grant(mp.id()), SealedBody::from_bytes(big.clone()))
                .map_err(|e| crate::report::chain(&e))?;
            mp.put(&big_name, big.len() as u64, body).await.map_err(|e| crate::report::chain(&e))?;
            let got = read_all(mp, &big_name, None).await.map_err(|e| crate::report::chain(&e))?;
            mp.delete(&big_name).await.map_err(|e| crate::report::chain(&e))?;
            if got == big[..] { Ok(()) } else { Err("multipart object read back different".into()) }
        })
        .await;
        notes.push(format!("multipart checked with {} bytes in parts of {max_put} bytes", max_put + 4097));
    }
    notes.push(protection_note(backend).await);
    p.step("delete", || async {
        backend.delete(&name).await.map_err(|e| crate::report::chain(&e))?;
        match backend.head(&name).await.map_err(|e| crate::report::chain(&e))? {
            None => Ok(()),
            Some(_) => Err("object still present after DELETE".into()),
        }
    })
    .await;
    ProbeReport { provider: backend.id().to_string(), steps: p.steps, notes }
}
