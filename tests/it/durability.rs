use std::collections::HashMap;
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
        for w in 0..4u64 {
            let (c, acked, attempted) = (c.clone(), Arc::clone(&acked), Arc::clone(&attempted));
            writers.push(tokio::spawn(async move {
                for i in 0..10_000u64 {
                    let key = format!("r{round}-w{w}-{i}");
                    let data = pattern(((i * 7919 + w * 104_729) % 400_000) as usize, round * 1000 + w * 100 + i);
                    attempted.lock().unwrap().insert(key.clone(), data.clone());
                    match c.put_object().bucket("crash").key(&key).body(data.clone().into()).send().await {
                        Ok(_) => {
                            acked.lock().unwrap().insert(key, data);
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1200 + 400 * round)).await;
        gw.kill();
        for w in writers {
            let _ = w.await;
        }
    }
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the workload acknowledged writes before each kill ({})", acked.len());
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
    // owns exactly one stream per provider, and nothing else is left.
    let deadline = Instant::now() + Duration::from_secs(30);
    while providers.stream_files().len() != 3 * visible && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(providers.stream_files().len(), 3 * visible, "no orphan stream after GC");
    gw.kill();
}
