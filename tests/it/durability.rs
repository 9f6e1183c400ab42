use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{BinaryGateway, Providers, body_bytes, client, pattern};

/// Promise (R8): after SIGKILL during a stream of uploads, every acknowledged object reads back
/// byte-exact, no half-written object is visible, and once GC ran no orphan stream remains at
/// any provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_uploads_loses_nothing_acknowledged() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let acked: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let attempted: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let mut first = true;
    for round in 0..3u64 {
        let gw = BinaryGateway::spawn(dir.path(), &providers);
        let c = client(gw.addr);
        if first {
            c.create_bucket().bucket("crash").send().await.unwrap();
            first = false;
        }
        let mut writers = Vec::new();
        let acked_this_round = Arc::new(AtomicU64::new(0));
        for w in 0..4u64 {
            let (c, acked, attempted) = (c.clone(), Arc::clone(&acked), Arc::clone(&attempted));
            let acked_this_round = Arc::clone(&acked_this_round);
            writers.push(tokio::spawn(async move {
                for i in 0..10_000u64 {
                    let key = format!("r{round}-w{w}-{i}");
                    let data = pattern(((i * 7919 + w * 104_729) % 400_000) as usize, round * 1000 + w * 100 + i);
                    attempted.lock().unwrap().insert(key.clone(), data.clone());
                    match c.put_object().bucket("crash").key(&key).body(data.clone().into()).send().await {
                        Ok(_) => {
                            acked.lock().unwrap().insert(key, data);
                            acked_this_round.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        // Killed once this run has acknowledged some writes (more each round), with the four
        // writers still uploading: observed, so a slow machine cannot kill an idle gateway.
        let want = 8 + 8 * round;
        crate::common::wait_until("writes acknowledged before the kill", Duration::from_mins(2), || {
            acked_this_round.load(Ordering::Relaxed) >= want
        })
        .await;
        gw.kill();
        for w in writers {
            let _ = w.await;
        }
    }
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 8 + 16 + 24, "the workload acknowledged writes before each kill ({})", acked.len());
    for (key, data) in &acked {
        let got = body_bytes(c.get_object().bucket("crash").key(key).send().await.unwrap()).await;
        assert!(&got == data, "acknowledged {key} intact");
    }
    let attempted = attempted.lock().unwrap().clone();
    let mut visible = 0;
    let mut token = None;
    loop {
        let page = c.list_objects_v2().bucket("crash").set_continuation_token(token).send().await.unwrap();
        for o in page.contents() {
            let key = o.key().unwrap();
            visible += 1;
            // A write whose 200 was lost in flight may be visible, but only whole.
            let want = attempted.get(key).expect("only attempted keys exist");
            assert_eq!(o.size(), Some(want.len() as i64), "{key} complete");
            if !acked.contains_key(key) {
                assert!(&body_bytes(c.get_object().bucket("crash").key(key).send().await.unwrap()).await == want);
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
    // GC runs at start: the intents of the killed runs are collected; each visible object then
    // owns exactly one stream per provider, and nothing else is left. Copies a killed run left in flight are deleted after the abandoned-upload settle time
    // (10 s), and replicas that missed a write are repaired: both can take a while on a loaded
    // machine, so the bound is generous; the count must then be exact.
    let started = Instant::now();
    while providers.stream_files().len() != 3 * visible && started.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("provider files settled after {:?}", started.elapsed());
    assert_eq!(providers.stream_files().len(), 3 * visible, "no orphan stream after GC, no replica missing");
    gw.kill();
}

/// What the workload believes about one key.
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    data: Vec<u8>,
    /// Sealed streams the version owns (1, or its parts for a multipart upload).
    streams: usize,
}

/// An operation a kill may have interrupted: the key ends up in either state.
#[derive(Clone, Debug)]
struct InFlight {
    key: String,
    before: Option<Stored>,
    after: Option<Stored>,
}

#[derive(Default)]
struct Model {
    keys: std::collections::BTreeMap<String, Option<Stored>>,
    in_flight: Option<InFlight>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One random operation (PUT, multipart, DELETE or copy), recorded as in flight until answered.
async fn random_op(c: &aws_sdk_s3::Client, model: &Mutex<Model>, rng: &mut Rng) -> bool {
    let key = format!("k{}", rng.below(24));
    let before = model.lock().unwrap().keys.get(&key).cloned().flatten();
    let kind = rng.below(10);
    let mut copy_source = None;
    let after = match kind {
        0..=4 => Some(Stored { data: pattern(rng.below(200_000) as usize, rng.next()), streams: 1 }),
        5 => Some(Stored { data: pattern((5 << 20) + rng.below(100_000) as usize, rng.next()), streams: 2 }),
        6 | 7 => None,
        _ => {
            let src = format!("k{}", rng.below(24));
            match model.lock().unwrap().keys.get(&src).cloned().flatten() {
                Some(s) if src != key => {
                    copy_source = Some(src);
                    Some(Stored { data: s.data, streams: 1 })
                }
                _ => return true,
            }
        }
    };
    model.lock().unwrap().in_flight = Some(InFlight { key: key.clone(), before, after: after.clone() });
    let done = match (&after, copy_source) {
        (Some(_), Some(src)) => {
            c.copy_object().bucket("loop").key(&key).copy_source(format!("loop/{src}")).send().await.is_ok()
        }
        (Some(s), None) if s.streams == 2 => multipart_put(c, &key, &s.data).await,
        (Some(s), None) => c.put_object().bucket("loop").key(&key).body(s.data.clone().into()).send().await.is_ok(),
        (None, _) => c.delete_object().bucket("loop").key(&key).send().await.is_ok(),
    };
    if done {
        let mut m = model.lock().unwrap();
        m.in_flight = None;
        m.keys.insert(key, after);
    }
    done
}

async fn multipart_put(c: &aws_sdk_s3::Client, key: &str, data: &[u8]) -> bool {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let Ok(up) = c.create_multipart_upload().bucket("loop").key(key).send().await else { return false };
    let id = up.upload_id().unwrap_or_default().to_owned();
    let mut parts = Vec::new();
    for (i, chunk) in [&data[..5 << 20], &data[5 << 20..]].iter().enumerate() {
        let n = i as i32 + 1;
        let Ok(p) = c
            .upload_part()
            .bucket("loop")
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(chunk.to_vec().into())
            .send()
            .await
        else {
            return false;
        };
        parts.push(CompletedPart::builder().part_number(n).e_tag(p.e_tag().unwrap_or_default()).build());
    }
    let done = CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    c.complete_multipart_upload().bucket("loop").key(key).upload_id(&id).multipart_upload(done).send().await.is_ok()
}

/// Checks `key` against the model (an interrupted operation may have gone either way, and the
/// model learns which); false on a mismatch.
async fn check_key(c: &aws_sdk_s3::Client, model: &Mutex<Model>, key: &str) -> Result<(), String> {
    let got = match c.get_object().bucket("loop").key(key).send().await {
        Ok(o) => Some(body_bytes(o).await),
        Err(e) if crate::common::error_code(&e).as_deref() == Some("NoSuchKey") => None,
        Err(e) => return Err(format!("{key}: GET failed: {e:?}")),
    };
    let mut m = model.lock().unwrap();
    let settled = m.keys.get(key).cloned().flatten();
    let matches = |s: &Option<Stored>| s.as_ref().map(|s| &s.data) == got.as_ref();
    if let Some(f) = m.in_flight.clone().filter(|f| f.key == key) {
        let now = if matches(&f.after) {
            f.after
        } else if matches(&f.before) {
            f.before
        } else {
            return Err(format!("{key}: neither the state before nor after the interrupted operation"));
        };
        m.keys.insert(key.to_owned(), now);
        m.in_flight = None;
        return Ok(());
    }
    if matches(&settled) {
        Ok(())
    } else {
        Err(format!("{key}: acknowledged state lost ({} bytes read)", got.map_or(0, |g| g.len())))
    }
}

/// Promise (R8, hardening): a mixed workload (PUT, multipart, DELETE, copy) with the gateway
/// SIGKILLed at a random moment 200 times: after every restart each acknowledged write reads
/// back byte-exact (an interrupted one is either fully there or not at all), the listing shows
/// exactly the objects the workload knows, and after GC no orphan stream is left at any provider.
/// Finally the metadata store is deleted and `souverain meta rebuild` (issue 21) brings every
/// acknowledged write back from the providers' log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_of_200_kills_loses_nothing() {
    const KILLS: u64 = 200;
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let cfg = crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers)
        .replace("gc_interval_secs = 3600", "gc_interval_secs = 1");
    std::fs::write(dir.path().join("souverain.toml"), cfg).unwrap();
    let model = Arc::new(Mutex::new(Model::default()));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let mut acknowledged = 0u64;
    for round in 0..KILLS {
        let gw = BinaryGateway::spawn(dir.path(), &providers);
        // No SDK retries: an operation cut by the kill fails at once (and stays in flight).
        let c = aws_sdk_s3::Client::from_conf(
            client(gw.addr)
                .config()
                .to_builder()
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
                .build(),
        );
        if round == 0 {
            c.create_bucket().bucket("loop").send().await.unwrap();
        }
        // The interrupted operation's key, then (every 25 rounds) every key.
        let in_flight = model.lock().unwrap().in_flight.as_ref().map(|f| f.key.clone());
        if let Some(k) = in_flight {
            check_key(&c, &model, &k).await.unwrap();
        }
        if round % 25 == 24 {
            let keys: Vec<String> = model.lock().unwrap().keys.keys().cloned().collect();
            for k in keys {
                check_key(&c, &model, &k).await.unwrap();
            }
        }
        let seed = rng.next();
        let worker = {
            let (c, model) = (c.clone(), Arc::clone(&model));
            tokio::spawn(async move {
                let mut rng = Rng(seed | 1);
                let mut ops = 0u64;
                while random_op(&c, &model, &mut rng).await {
                    ops += 1;
                }
                ops
            })
        };
        // A random moment, counted from when an operation is seen in flight (not from the
        // start, which a slow machine could stretch past the whole delay).
        let busy = || model.lock().is_ok_and(|m| m.in_flight.is_some());
        crate::common::wait_until("an operation in flight", Duration::from_secs(30), busy).await;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        gw.kill();
        acknowledged += worker.await.unwrap_or(0);
        assert!(started.elapsed() < Duration::from_mins(15), "bounded in time");
    }
    println!("{KILLS} kills in {:?}, {acknowledged} operations acknowledged", started.elapsed());
    assert!(acknowledged >= KILLS, "the workload made progress between kills ({acknowledged})");

    // Last start: everything checks out, the listing is exactly the model, and once open
    // uploads are aborted and GC ran, each live object's streams are all the providers hold.
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    let keys: Vec<String> = model.lock().unwrap().keys.keys().cloned().collect();
    for k in &keys {
        check_key(&c, &model, k).await.unwrap();
    }
    let live: std::collections::BTreeMap<String, Stored> =
        model.lock().unwrap().keys.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect();
    let listed: Vec<String> = crate::common::listed_keys(&c, "loop").await;
    assert_eq!(listed, live.keys().cloned().collect::<Vec<_>>(), "no half object visible, none lost");
    let uploads = c.list_multipart_uploads().bucket("loop").send().await.unwrap();
    for u in uploads.uploads() {
        c.abort_multipart_upload()
            .bucket("loop")
            .key(u.key().unwrap_or_default())
            .upload_id(u.upload_id().unwrap_or_default())
            .send()
            .await
            .unwrap();
    }
    let want: usize = 3 * live.values().map(|s| s.streams).sum::<usize>();
    let deadline = Instant::now() + Duration::from_mins(1);
    while providers.stream_files().len() != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(providers.stream_files().len(), want, "no orphan stream after GC");
    gw.kill();

    // Then the gateway's disk is lost: `souverain meta rebuild` from the providers' log gives
    // back every acknowledged write of the 200 interrupted runs, and the listing again.
    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();
    let rebuilt = std::process::Command::new(env!("CARGO_BIN_EXE_souverain"))
        .args(["meta", "rebuild", "--config"])
        .arg(dir.path().join("souverain.toml"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(rebuilt.status.success(), "{report} {}", String::from_utf8_lossy(&rebuilt.stderr));
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    for k in &keys {
        check_key(&c, &model, k).await.unwrap();
    }
    let listed: Vec<String> = crate::common::listed_keys(&c, "loop").await;
    assert_eq!(listed, live.keys().cloned().collect::<Vec<_>>(), "every acknowledged write rebuilt: {report}");
    gw.kill();
}
