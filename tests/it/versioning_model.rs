//! Model-based versioning: random sequences of PUT, DELETE, DELETE of a version, copy from a
//! version, enabling and suspending versioning, run against the gateway (RocksDB and
//! PostgreSQL) and against an in-memory model of S3's documented rules; after every few steps
//! ListObjectVersions (paged), ListObjectsV2 and a GET of every key and of every version must
//! match the model exactly. A failure names the seed and the step.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::BucketVersioningStatus;

use crate::common::{TestGateway, error_code, error_status};

const KEYS: [&str; 4] = ["a", "b", "b/c", "d e"];
const STEPS: usize = 120;
const CHECK_EVERY: usize = 8;

/// A version as the model holds it: its id (`null` for the null version) and its bytes, or
/// none for a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    id: String,
    body: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unversioned,
    Enabled,
    Suspended,
}

/// S3's versioning rules over a few keys: each key's versions, oldest first.
struct Model {
    state: State,
    keys: BTreeMap<String, Vec<Version>>,
}

impl Model {
    /// A write in the current state: a new version with the id the gateway gave (enabled), or
    /// the `null` one replacing the earlier `null` version.
    fn write(&mut self, key: &str, id: Option<String>, body: Option<Vec<u8>>) -> Result<(), String> {
        let versions = self.keys.entry(key.to_owned()).or_default();
        match (self.state, id) {
            (State::Enabled, Some(id)) if id != "null" => versions.push(Version { id, body }),
            (State::Suspended, Some(id)) if id == "null" => {
                versions.retain(|v| v.id != "null");
                versions.push(Version { id, body });
            }
            (State::Unversioned, None) => {
                versions.retain(|v| v.id != "null");
                versions.push(Version { id: "null".into(), body });
            }
            (state, id) => return Err(format!("{state:?}: unexpected version id {id:?}")),
        }
        Ok(())
    }

    fn remove(&mut self, key: &str, id: &str) -> Option<Version> {
        let versions = self.keys.get_mut(key)?;
        let at = versions.iter().position(|v| v.id == id)?;
        Some(versions.remove(at))
    }

    fn ever_versioned(&self) -> bool {
        self.state != State::Unversioned
    }

    /// `(key, id, latest, marker)` of every version as ListObjectVersions orders them.
    fn listing(&self) -> Vec<(String, String, bool, bool)> {
        let mut out = Vec::new();
        for (key, versions) in &self.keys {
            for (i, v) in versions.iter().rev().enumerate() {
                out.push((key.clone(), v.id.clone(), i == 0, v.body.is_none()));
            }
        }
        out
    }
}

/// xorshift64*: the sequence is the seed's, on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// One random step, applied to the gateway and to the model.
async fn step(c: &Client, bucket: &str, m: &mut Model, rng: &mut Rng, n: usize) -> Result<String, String> {
    let key = KEYS[rng.below(KEYS.len())];
    let body = format!("{bucket} step {n}").into_bytes();
    let existing: Vec<(String, Version)> =
        m.keys.iter().flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone()))).collect();
    match rng.below(20) {
        0..=6 => {
            let out = c.put_object().bucket(bucket).key(key).body(body.clone().into()).send().await;
            let id = out.map_err(|e| format!("PUT {key}: {e:?}"))?.version_id().map(str::to_owned);
            m.write(key, id.clone(), Some(body))?;
            Ok(format!("PUT {key} -> {id:?}"))
        }
        7..=9 => {
            let out = c.delete_object().bucket(bucket).key(key).send().await.map_err(|e| format!("{e:?}"))?;
            let id = out.version_id().map(str::to_owned);
            if m.state == State::Unversioned {
                m.remove(key, "null");
                expect(out.delete_marker().is_none() && id.is_none(), "no marker when unversioned")?;
            } else {
                expect(out.delete_marker() == Some(true), "a marker")?;
                m.write(key, id.clone(), None)?;
            }
            Ok(format!("DELETE {key} -> {id:?}"))
        }
        10..=13 if !existing.is_empty() => {
            let (key, v) = &existing[rng.below(existing.len())];
            let out = c.delete_object().bucket(bucket).key(key).version_id(&v.id).send().await;
            let out = out.map_err(|e| format!("DELETE {key}?versionId={}: {e:?}", v.id))?;
            let removed = m.remove(key, &v.id);
            expect(out.delete_marker().unwrap_or(false) == removed.is_some_and(|r| r.body.is_none()), "marker flag")?;
            Ok(format!("DELETE {key}?versionId={}", v.id))
        }
        14..=16 if existing.iter().any(|(_, v)| v.body.is_some()) => {
            let sources: Vec<&(String, Version)> = existing.iter().filter(|(_, v)| v.body.is_some()).collect();
            let (src, v) = sources[rng.below(sources.len())];
            let source = format!("{bucket}/{}?versionId={}", src.replace(' ', "%20"), v.id);
            let out = c.copy_object().bucket(bucket).key(key).copy_source(source).send().await;
            let id = out.map_err(|e| format!("COPY {src}@{} -> {key}: {e:?}", v.id))?.version_id().map(str::to_owned);
            m.write(key, id.clone(), v.body.clone())?;
            Ok(format!("COPY {src}@{} -> {key} -> {id:?}", v.id))
        }
        17 | 18 => set(c, bucket, m, State::Enabled).await,
        19 if m.state != State::Unversioned => set(c, bucket, m, State::Suspended).await,
        _ => Ok("nothing".into()),
    }
}

fn expect(holds: bool, what: &str) -> Result<(), String> {
    if holds { Ok(()) } else { Err(what.to_owned()) }
}

async fn set(c: &Client, bucket: &str, m: &mut Model, state: State) -> Result<String, String> {
    let status =
        if state == State::Enabled { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
    crate::versioning::set_versioning(c, bucket, status).await;
    m.state = state;
    Ok(format!("versioning {state:?}"))
}

/// Everything a client can see matches the model.
async fn check(c: &Client, bucket: &str, m: &Model) -> Result<(), String> {
    let listed = crate::versioning::versions(c, bucket, 3).await;
    let (listed_data, listed_markers): (Vec<_>, Vec<_>) = listed.into_iter().partition(|v| !v.3);
    let (want_data, want_markers): (Vec<_>, Vec<_>) = m.listing().into_iter().partition(|v| !v.3);
    // The XML gives versions and markers as two lists: each must be in the model's order.
    expect(listed_data == want_data, &format!("versions {listed_data:?} != {want_data:?}"))?;
    expect(listed_markers == want_markers, &format!("markers {listed_markers:?} != {want_markers:?}"))?;
    let visible: Vec<String> =
        m.keys.iter().filter(|(_, vs)| vs.last().is_some_and(|v| v.body.is_some())).map(|(k, _)| k.clone()).collect();
    let keys = crate::common::listed_keys(c, bucket).await;
    expect(keys == visible, &format!("ListObjectsV2 {keys:?} != {visible:?}"))?;
    for key in KEYS {
        check_key(c, bucket, m, key).await?;
    }
    Ok(())
}

async fn check_key(c: &Client, bucket: &str, m: &Model, key: &str) -> Result<(), String> {
    let versions = m.keys.get(key).cloned().unwrap_or_default();
    let got = c.get_object().bucket(bucket).key(key).send().await;
    match (versions.last(), got) {
        (Some(Version { id, body: Some(body) }), Ok(out)) => {
            let shown = out.version_id().map(str::to_owned);
            let want = m.ever_versioned().then(|| id.clone());
            expect(shown == want, &format!("GET {key}: version {shown:?} != {want:?}"))?;
            let bytes = out.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
            expect(bytes.as_ref() == body.as_slice(), &format!("GET {key}: body"))?;
        }
        (None | Some(Version { body: None, .. }), Err(e)) => {
            expect(error_code(&e).as_deref() == Some("NoSuchKey"), &format!("GET {key}: {e:?}"))?;
        }
        (want, got) => return Err(format!("GET {key}: model {want:?}, gateway {:?}", got.map(|_| "an object"))),
    }
    for v in &versions {
        let got = c.get_object().bucket(bucket).key(key).version_id(&v.id).send().await;
        match (&v.body, got) {
            (Some(body), Ok(out)) => {
                let bytes = out.body.collect().await.map_err(|e| e.to_string())?.into_bytes();
                expect(bytes.as_ref() == body.as_slice(), &format!("GET {key}@{}: body", v.id))?;
            }
            (None, Err(e)) => expect(error_status(&e) == Some(405), &format!("GET {key}@{} (marker): {e:?}", v.id))?,
            (want, _) => return Err(format!("GET {key}@{}: model body {want:?}", v.id)),
        }
    }
    Ok(())
}

/// Runs `STEPS` random steps of `seed` in a new bucket, checking every `CHECK_EVERY` steps.
async fn run_seed(c: &Client, seed: u64) {
    let bucket = format!("model-{seed}");
    c.create_bucket().bucket(&bucket).send().await.unwrap();
    let mut m = Model { state: State::Unversioned, keys: BTreeMap::new() };
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut log = Vec::new();
    for n in 0..STEPS {
        let done = step(c, &bucket, &mut m, &mut rng, n).await;
        log.push(done.clone().unwrap_or_else(|e| format!("FAILED: {e}")));
        let checked = match done {
            Ok(_) if n % CHECK_EVERY == CHECK_EVERY - 1 || n == STEPS - 1 => check(c, &bucket, &m).await,
            other => other.map(|_| ()),
        };
        if let Err(e) = checked {
            panic!("seed {seed}, step {n}: {e}\nsteps:\n{}", log.join("\n"));
        }
    }
}

/// Promise: on the embedded RocksDB store, random sequences of every versioning operation
/// leave exactly what S3's rules say: listings, versions, current reads and reads by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_versioning_matches_the_model_on_rocksdb() {
    let gw = TestGateway::start().await;
    for seed in [1, 2, 3] {
        run_seed(&gw.client, seed).await;
    }
    gw.stop().await;
}

/// Promise: the same on PostgreSQL, the store several gateways share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_versioning_matches_the_model_on_postgres() {
    use crate::common::{Providers, client, init, postgres::PgServer};
    init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let pg = PgServer::start();
    pg.create_database("model");
    let text = crate::common::config_on_postgres(dir.path(), &providers, &pg, "model");
    let config = souverain::config::Config::parse(&text, dir.path()).unwrap();
    let gw = souverain::app::start(config).await.unwrap();
    run_seed(&client(gw.s3_addr), 4).await;
    gw.shutdown().await;
}
