//! Erasure coding across providers (issue 26): a 4 + 2 Reed–Solomon policy over six real
//! `s3s-fs` providers (DE, FR, NL, AT, BE, PL), each behind a fault proxy. These tests start
//! their own providers, so `make test` runs them once.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::fault_proxy::Fault;
use crate::common::providers::{EIGHT_COUNTRIES, PROVIDER_BUCKET, SIX_COUNTRIES};
use crate::common::{
    BinaryGateway, Providers, TestGateway, body_bytes, body_len_and_md5, client, error_code, error_status, listed_keys,
    pattern, wait_for, write_pattern_file,
};

const SCHEME: &str = "rs-4+2";
const SEGMENT: u64 = 65_536;
const CHUNK: u64 = 65_536;

/// The test config with a 4 + 2 policy as the default.
fn four_plus_two(text: &str) -> String {
    let mut text = text.replacen("default_policy = \"eu-default\"", "default_policy = \"rs-4-2\"", 1);
    text.push_str("\n[[policy]]\nid = \"rs-4-2\"\nscheme = \"rs\"\ndata_shards = 4\nparity_shards = 2\n");
    text
}

/// What each provider stores for an object of `plain` bytes, restated from docs/format-v2.md:
/// the ciphertext (96-byte header, 16-byte tag per 64 KiB segment) in stripes of 4 × 64 KiB;
/// per stripe a chunk and its 8-byte check; the last stripe's chunk is its share, even.
fn expected_shard_len(plain: u64) -> u64 {
    let cipher = 96 + plain + 16 * plain.div_ceil(SEGMENT).max(1);
    let stripe = 4 * CHUNK;
    let before_last = (cipher - 1) / stripe;
    let rest = cipher - before_last * stripe;
    let last = if rest == stripe { CHUNK } else { rest.div_ceil(4) + rest.div_ceil(4) % 2 };
    before_last * (CHUNK + 8) + last + 8
}

/// The providers holding shards 0..6 of `key`'s first stream (`local-<cc>`).
async fn shard_holders(admin: std::net::SocketAddr, key: &str) -> Vec<String> {
    let loc = crate::common::admin_json_at(admin, &format!("/admin/v1/locations/shards/{key}")).await;
    let replicas = loc["streams"][0]["replicas"].as_array().expect("replicas").clone();
    let shards: Vec<u64> = replicas.iter().map(|r| r["shard"].as_u64().expect("shard index")).collect();
    assert_eq!(shards, [0, 1, 2, 3, 4, 5], "every provider holds its own shard");
    replicas.iter().map(|r| r["provider"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The index of provider `local-<cc>` in [`EIGHT_COUNTRIES`] (of which [`SIX_COUNTRIES`] are
/// the first six).
fn index_of(provider: &str) -> usize {
    EIGHT_COUNTRIES.iter().position(|(c, _)| provider == format!("local-{c}")).expect("a test provider")
}

/// The file of stream `name` (`sv1/<hex>`) at provider `i`.
fn shard_file(gw: &TestGateway, i: usize, name: &str) -> PathBuf {
    gw.providers.roots[i].join(PROVIDER_BUCKET).join(name)
}

async fn reachable(gw: &TestGateway, provider: &str) -> bool {
    gw.admin_json("/health").await["providers"][provider]["reachable"] == true
}

/// Every object and some ranges read back exactly.
async fn reads_exactly(c: &aws_sdk_s3::Client, objects: &[(String, Vec<u8>)]) {
    for (key, data) in objects {
        let got = body_bytes(c.get_object().bucket("shards").key(key).send().await.unwrap()).await;
        assert!(got == *data, "{key}: {} bytes back, {} written", got.len(), data.len());
        if data.len() > 1 << 20 {
            for (a, b) in [(0, 99), (262_000, 262_300), (1_000_000, 3_000_000), (data.len() - 10, data.len() - 1)] {
                let out = c.get_object().bucket("shards").key(key).range(format!("bytes={a}-{b}")).send().await;
                assert!(body_bytes(out.unwrap()).await == data[a..=b], "{key} bytes {a}-{b}");
            }
        }
    }
}

/// Promise (issue 26): over a 4 + 2 policy each object is six shards, one per provider, of the
/// layout's exact length (1.5× the ciphertext in all); objects of sizes around every segment
/// and stripe boundary read back exactly, whole and in ranges, with any two providers holding
/// data shards killed (rebuilt from parity, counted). A write needs 5 of 6 shards: with two
/// providers down it is refused with 503 and nothing becomes visible; with three down, reads
/// of the objects answer 503 ServiceUnavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_plus_two_reads_back_exactly_with_any_two_providers_down() {
    let mut gw = TestGateway::start_proxied_at_with(&SIX_COUNTRIES, |t| four_plus_two(&t)).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    let sizes = [0, 1, 65_535, 65_536, 65_537, 261_983, 261_984, 261_985, 786_143, 786_144, 786_145, (5 << 20) + 3];
    let mut objects = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let data = pattern(*n, i as u64);
        let key = format!("o{n}");
        c.put_object().bucket("shards").key(&key).body(data.clone().into()).send().await.unwrap();
        objects.push((key, data));
    }
    let files = gw.providers.stream_files();
    for (key, data) in &objects {
        let loc = gw.admin_json(&format!("/admin/v1/locations/shards/{key}")).await;
        let stream = &loc["streams"][0];
        assert_eq!(stream["scheme"], SCHEME, "{key}");
        let want = expected_shard_len(data.len() as u64);
        assert_eq!(stream["stored_len"], want, "{key}");
        let name = stream["name"].as_str().unwrap();
        let copies: Vec<&Vec<u8>> = files.iter().filter(|(p, _)| p.ends_with(name)).map(|(_, b)| b).collect();
        assert_eq!(copies.len(), 6, "{key}: one shard per provider");
        assert!(copies.iter().all(|b| b.len() as u64 == want), "{key}: every shard of the layout's length");
    }
    let big = (5u64 << 20) + 3;
    let cipher = 96 + big + 16 * big.div_ceil(SEGMENT);
    let stored = 6 * expected_shard_len(big);
    assert!(stored * 1000 < cipher * 1510 && stored * 1000 > cipher * 1500, "{stored} stored for {cipher}");
    reads_exactly(&c, &objects).await;
    // Healthy reads only join data shards; the one way parity enters them is a hedge (a data
    // shard's first bytes later than its hedge delay, at least 50 ms, as on a loaded CI
    // machine), and a hedge makes at most one read degraded.
    let hedged = gw.metric_sum("souverain_backend_hedged_requests_total", &[]).await;
    let degraded = gw.metric_sum("souverain_erasure_degraded_reads_total", &[]).await;
    assert!(degraded <= hedged, "healthy reads only join: {degraded} degraded reads, {hedged} hedges");

    // One bucket, one placement: the same providers hold the same shards of every object.
    let holders = shard_holders(gw.admin_addr(), "o5242883").await;
    gw.providers.kill(index_of(&holders[0]));
    gw.providers.kill(index_of(&holders[2]));
    reads_exactly(&c, &objects).await;
    let scheme = format!("scheme=\"{SCHEME}\"");
    assert!(gw.metric_sum("souverain_erasure_reconstructions_total", &[&scheme]).await >= 12);
    assert!(gw.metric_sum("souverain_erasure_degraded_reads_total", &[&scheme]).await >= 12);

    wait_for("both providers reported down", 20, || async {
        !reachable(&gw, &holders[0]).await && !reachable(&gw, &holders[2]).await
    })
    .await;
    let before = gw.providers.stream_files().len();
    let refused = c.put_object().bucket("shards").key("refused").body(pattern(1000, 9).into()).send().await;
    let err = refused.expect_err("4 of 6 providers cannot take a 4 + 2 write (quorum 5)");
    assert_eq!((error_status(&err), error_code(&err).as_deref()), (Some(503), Some("ServiceUnavailable")));
    assert!(!listed_keys(&c, "shards").await.contains(&"refused".to_owned()));
    assert_eq!(gw.providers.stream_files().len(), before, "no shard reached a provider");

    gw.providers.kill(index_of(&holders[4]));
    let err = c.get_object().bucket("shards").key("o5242883").send().await.expect_err("3 of 6 shards are too few");
    assert_eq!((error_status(&err), error_code(&err).as_deref()), (Some(503), Some("ServiceUnavailable")));
    gw.stop().await;
}

/// Promise (issue 26): a shard damaged on a provider's disk never reaches the client (its
/// chunk fails its check, the stripe is rebuilt from parity), the damage is counted and
/// repaired: the shard file is rewritten byte for byte as it was. A provider slow to its first
/// byte is hedged around: one more shard holder is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_shard_is_rebuilt_for_the_reader_and_repaired_in_place() {
    let gw = TestGateway::start_proxied_at_with(&SIX_COUNTRIES, |t| four_plus_two(&t)).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    let data = pattern(1 << 20, 5);
    c.put_object().bucket("shards").key("k").body(data.clone().into()).send().await.unwrap();
    let holders = shard_holders(gw.admin_addr(), "k").await;
    let loc = gw.admin_json("/admin/v1/locations/shards/k").await;
    let name = loc["streams"][0]["name"].as_str().unwrap().to_owned();
    let file = shard_file(&gw, index_of(&holders[1]), &name);
    let original = std::fs::read(&file).unwrap();
    let mut damaged = original.clone();
    damaged[70_000] ^= 0x10; // inside stripe 1's chunk of data shard 1
    std::fs::write(&file, &damaged).unwrap();

    // A hedge at the opening (a data shard later than 50 ms, as on a loaded machine) may let a
    // parity shard in instead of the damaged one; the read is then repeated, at most 5 times.
    let provider = format!("provider=\"{}\"", holders[1]);
    let mut reads = 0;
    while reads < 5 && gw.metric_sum("souverain_erasure_damaged_chunks_total", &[&provider]).await == 0 {
        let got = body_bytes(c.get_object().bucket("shards").key("k").send().await.unwrap()).await;
        assert!(got == data, "the damaged chunk was rebuilt, not served");
        reads += 1;
    }
    assert_eq!(gw.metric_sum("souverain_erasure_damaged_chunks_total", &[&provider]).await, 1);
    let rebuilt = gw.metric_sum("souverain_erasure_reconstructions_total", &[]).await;
    let hedged = gw.metric_sum("souverain_backend_hedged_requests_total", &[]).await;
    if hedged == 0 {
        // The shard is dropped from the read at its damaged chunk: stripes 1 to 4 of 5 come
        // from parity.
        assert_eq!((reads, rebuilt), (1, 4));
    } else {
        assert!(rebuilt >= 4, "{rebuilt} stripes rebuilt in {reads} reads, {hedged} hedges");
    }
    wait_for("the damaged shard rewritten as it was", 60, || async {
        std::fs::read(&file).is_ok_and(|now| now == original)
    })
    .await;
    assert!(gw.metric_sum("souverain_repair_completed_total", &[&provider, "outcome=\"ok\""]).await >= 1);

    gw.providers.proxies[index_of(&holders[0])].set_for_objects(Fault::Delay(Duration::from_millis(800)));
    for _ in 0..3 {
        let got = body_bytes(c.get_object().bucket("shards").key("k").send().await.unwrap()).await;
        assert!(got == data);
    }
    assert!(gw.metric_sum("souverain_backend_hedged_requests_total", &[]).await >= 1, "the slow shard was hedged");
    gw.stop().await;
}

/// Promise (issue 26): the placement explanation shows the scheme, the shard quorum and which
/// provider gets which shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_shard_layout() {
    let gw = TestGateway::start_proxied_at_with(&SIX_COUNTRIES, |t| four_plus_two(&t)).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    c.put_object().bucket("shards").key("k").body(pattern(1000, 1).into()).send().await.unwrap();
    let explain = gw.admin_json("/admin/v1/placement/explain?bucket=shards").await;
    assert_eq!((explain["scheme"].as_str(), explain["write_quorum"].as_u64()), (Some(SCHEME), Some(5)));
    let mut shards: Vec<(u64, String)> = explain["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["shard"].as_u64().expect("every chosen provider has a shard"),
                p["provider"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    shards.sort();
    let holders = shard_holders(gw.admin_addr(), "k").await;
    assert_eq!(shards.into_iter().map(|(_, p)| p).collect::<Vec<_>>(), holders, "explain agrees with locate");
    gw.stop().await;
}

/// Promise (issue 26): rebinding a bucket that holds objects between a 4 + 2 policy and
/// three replicas converts them with the evacuation job: every version (noncurrent ones, an
/// empty object and a multipart one too) ends up stored in the new scheme only — each
/// provider holding whole ciphertext copies, or its shard — and reads back exactly with its
/// ETag, its old streams deleted at the providers; and back again. An object under a
/// customer's key (SSE-C) cannot be sealed again without that key: it keeps its scheme, is
/// counted, and still reads back with its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_converts_objects_between_shards_and_replicas() {
    // The garbage collector looks at its queue every second, and the old streams' copies are
    // deleted a second after the commit (the grace of GETs reading them).
    let gc = |t: String| {
        four_plus_two(&t.replacen("gc_interval_secs = 3600", "gc_interval_secs = 1\nconversion_grace_secs = 1", 1))
    };
    let gw = TestGateway::start_proxied_at_with(&SIX_COUNTRIES, gc).await;
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    let on = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    c.put_bucket_versioning().bucket("shards").versioning_configuration(on).send().await.unwrap();
    let mut versions: Vec<(String, String, Vec<u8>, String)> = Vec::new();
    for (key, data) in [("single", pattern(300_000, 1)), ("empty", Vec::new()), ("single", pattern(70_000, 2))] {
        let out = c.put_object().bucket("shards").key(key).body(data.clone().into()).send().await.unwrap();
        versions.push((key.into(), out.version_id().unwrap().into(), data, out.e_tag().unwrap().into()));
    }
    let parts = [pattern(5 << 20, 3), pattern(1000, 4)];
    let out = upload_multi(&c, &parts).await;
    let whole = [parts[0].as_slice(), parts[1].as_slice()].concat();
    versions.push(("multi".into(), out.version_id().unwrap().into(), whole, out.e_tag().unwrap().into()));
    let (key_b64, key_md5) = crate::sse_c::test_key(7);
    let secret = pattern(1000, 5);
    let put = c.put_object().bucket("shards").key("customer").body(secret.clone().into());
    put.sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    let old_streams = stream_names(&gw, &versions).await;

    // The dry run counts what the job will seal again; the customer's object stays as it is.
    let dry_run = binding_dry_run(&gw, "eu-default").await;
    let converting = format!("<p id=\"converting\">{} streams (5613880 bytes)", old_streams.len());
    assert!(dry_run.contains(&converting), "{converting} in {dry_run}");
    assert!(dry_run.contains("<p id=\"customer-keyed\">1 object versions would keep their scheme"), "{dry_run}");
    let converted = bind_and_wait(&gw, "eu-default", 4).await;
    assert_eq!(converted, 4, "the two versions of `single`, `empty` and `multi`");
    for (key, version, _, _) in &versions {
        for s in located_version(&gw, key, version).await["streams"].as_array().unwrap() {
            assert_eq!(s["scheme"], "replicas", "{key} {version}: {s}");
            assert_eq!(s["replicas"].as_array().unwrap().len(), 3, "{key} {version}: {s}");
        }
    }
    reads_every_version(&c, &versions).await;
    wait_for("the old shards deleted at every provider", 30, || async {
        let files = gw.stream_files();
        !files.iter().any(|(p, _)| old_streams.iter().any(|s| p.ends_with(s)))
    })
    .await;
    // Whole ciphertext copies now: 96-byte header and a 16-byte tag per 64 KiB segment.
    let single = located_version(&gw, "single", &versions[0].1).await;
    let name = single["streams"][0]["name"].as_str().unwrap().to_owned();
    let copies: Vec<u64> =
        gw.stream_files().iter().filter(|(p, _)| p.ends_with(&name)).map(|(_, b)| b.len() as u64).collect();
    assert_eq!(copies, [96 + 300_000 + 16 * 5; 3], "three whole copies of the ciphertext");
    let customer = gw.admin_json("/admin/v1/locations/shards/customer").await;
    assert_eq!(customer["streams"][0]["scheme"], SCHEME, "the customer's object keeps its shards");
    assert!(gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"customer_key\""]).await >= 1);
    let get = c.get_object().bucket("shards").key("customer");
    let got = get.sse_customer_algorithm("AES256").sse_customer_key(&key_b64).sse_customer_key_md5(&key_md5);
    assert!(body_bytes(got.send().await.unwrap()).await == secret);
    let audit = gw.admin_text("/admin/v1/audit").await;
    assert_eq!(audit.matches("\"action\":\"evacuation.convert\"").count(), 4, "one audit record per version");

    // And back to shards: every version again, six shards of the layout's length each.
    assert_eq!(bind_and_wait(&gw, "rs-4-2", 8).await, 8);
    for (key, version, data, _) in &versions {
        let loc = located_version(&gw, key, version).await;
        assert!(loc["streams"].as_array().unwrap().iter().all(|s| s["scheme"] == SCHEME), "{key}: {loc}");
        if key == "single" && data.len() == 300_000 {
            let name = loc["streams"][0]["name"].as_str().unwrap().to_owned();
            let shards: Vec<u64> =
                gw.stream_files().iter().filter(|(p, _)| p.ends_with(&name)).map(|(_, b)| b.len() as u64).collect();
            assert_eq!(shards, [expected_shard_len(300_000); 6]);
        }
    }
    reads_every_version(&c, &versions).await;
    gw.stop().await;
}

/// Binds bucket `shards` to `policy` and waits (two minutes at most) until the evacuation
/// counted `total` conversions since the gateway started and finished its pass; returns
/// that count.
async fn bind_and_wait(gw: &TestGateway, policy: &str, total: u64) -> u64 {
    let r = gw.admin_send("PUT", "/admin/v1/buckets/shards/policy", serde_json::json!({ "policy": policy })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        let converted = gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"converted\""]).await;
        let job = gw.admin_json("/admin/v1/jobs/evacuation").await;
        if converted >= total && job["state"] == "done" {
            return converted;
        }
        assert!(Instant::now() < deadline, "the conversion to {policy} did not finish: {converted} versions, {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Promise (issue 26): a conversion is committed only once every target of the new scheme
/// holds its part: with one of six providers down, binding a replicated bucket to 4 + 2 leaves
/// the object in whole copies (the pass counts it failed, what it wrote is let go: no intent
/// stays open) and it still reads; once the provider is back, a later pass converts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversion_waits_for_every_target_of_the_new_scheme() {
    let gw = TestGateway::start_proxied_at_with(&SIX_COUNTRIES, |t| four_plus_two(&t)).await;
    let c = client(gw.addr);
    let copies = aws_sdk_s3::types::CreateBucketConfiguration::builder().location_constraint("eu-default".into());
    c.create_bucket().bucket("shards").create_bucket_configuration(copies.build()).send().await.unwrap();
    let data = pattern(200_000, 3);
    c.put_object().bucket("shards").key("k").body(data.clone().into()).send().await.unwrap();
    gw.providers.proxies[0].set(Fault::Reset);
    let r = gw.admin_send("PUT", "/admin/v1/buckets/shards/policy", serde_json::json!({ "policy": "rs-4-2" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let failed = || async { gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"failed\""]).await };
    wait_for("a pass that could not convert", 60, || async { failed().await >= 1 }).await;
    let loc = gw.admin_json("/admin/v1/locations/shards/k").await;
    assert_eq!(loc["streams"][0]["scheme"], "replicas", "not committed with a target missing: {loc}");
    assert_eq!(gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"converted\""]).await, 0);
    assert!(gw.meta().stale_intents(vec![], i64::MAX, 100).await.unwrap().is_empty(), "the new streams let go");
    assert!(body_bytes(c.get_object().bucket("shards").key("k").send().await.unwrap()).await == data);

    gw.providers.proxies[0].set(Fault::None);
    wait_for("the conversion once every provider is back", 60, || async {
        gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"converted\""]).await == 1
    })
    .await;
    let loc = gw.admin_json("/admin/v1/locations/shards/k").await;
    assert_eq!(
        (loc["streams"][0]["scheme"].as_str(), loc["streams"][0]["replicas"].as_array().map(Vec::len)),
        (Some(SCHEME), Some(6))
    );
    assert!(body_bytes(c.get_object().bucket("shards").key("k").send().await.unwrap()).await == data);
    gw.stop().await;
}

/// The console's confirmation of binding bucket `shards` to `policy` (its dry run), as an
/// admin sees it.
async fn binding_dry_run(gw: &TestGateway, policy: &str) -> String {
    let admin = gw.admin_addr();
    let cookie = crate::console::login(admin, crate::common::ADMIN_TOKEN).await;
    let page = crate::console::request(admin, "GET", "/console/buckets/shards", Some(&cookie), "").await;
    let form = format!("policy={policy}&csrf={}", crate::console::csrf_of(&page.body_text()));
    let r = crate::console::request(admin, "POST", "/console/buckets/shards/preview", Some(&cookie), &form).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    r.body_text()
}

/// The locate answer for one version of a key of bucket `shards`.
async fn located_version(gw: &TestGateway, key: &str, version: &str) -> serde_json::Value {
    gw.admin_json(&format!("/admin/v1/locations/shards/{key}?versionId={version}")).await
}

/// The provider names of every stream of `versions`.
async fn stream_names(gw: &TestGateway, versions: &[(String, String, Vec<u8>, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (key, version, _, _) in versions {
        for s in located_version(gw, key, version).await["streams"].as_array().unwrap() {
            out.push(s["name"].as_str().unwrap().to_owned());
        }
    }
    out
}

/// Each version reads back exactly, by its id, with the ETag it was written with.
async fn reads_every_version(c: &aws_sdk_s3::Client, versions: &[(String, String, Vec<u8>, String)]) {
    for (key, version, data, etag) in versions {
        let out = c.get_object().bucket("shards").key(key).version_id(version).send().await.unwrap();
        assert_eq!(out.e_tag(), Some(etag.as_str()), "{key} {version}");
        let got = body_bytes(out).await;
        assert!(got == *data, "{key} {version}: {} bytes back, {} written", got.len(), data.len());
    }
}

/// Promise (issue 26): the scrubber reads every shard whole and finds exactly the one damaged
/// on a provider's disk (a parity shard, which no GET reads), which repair rewrites byte for
/// byte; intact shards are no finding. A retired provider's shard moves to a provider left
/// (evacuation): copied from it when it can still be read, even with too few other holders up
/// to rebuild it, and rebuilt from the others when it cannot; both are right, the object
/// reads back exactly through them with four of the original holders killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrubber_and_evacuation_rebuild_shards() {
    let mut gw = TestGateway::start_proxied_at_with(&EIGHT_COUNTRIES, |t| {
        four_plus_two(&crate::common::scrubbing_every_second(&t))
    })
    .await;
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    let data = pattern(300_000, 3);
    c.put_object().bucket("shards").key("k").body(data.clone().into()).send().await.unwrap();
    let holders = shard_holders(gw.admin_addr(), "k").await;
    let loc = gw.admin_json("/admin/v1/locations/shards/k").await;
    let name = loc["streams"][0]["name"].as_str().unwrap().to_owned();
    let file = shard_file(&gw, index_of(&holders[5]), &name);
    let original = std::fs::read(&file).unwrap();
    let mut damaged = original.clone();
    damaged[10] ^= 0x01;
    std::fs::write(&file, &damaged).unwrap();
    wait_for("the damaged parity shard found and rewritten as it was", 60, || async {
        std::fs::read(&file).is_ok_and(|now| now == original)
    })
    .await;
    let finding = format!("provider=\"{}\"", holders[5]);
    assert!(gw.metric_sum("souverain_scrub_findings_total", &[&finding]).await >= 1);
    assert_eq!(
        gw.metric_sum("souverain_scrub_findings_total", &[]).await,
        gw.metric_sum("souverain_scrub_findings_total", &[&finding]).await,
        "no intact shard is a finding"
    );
    assert!(gw.metric_sum("souverain_scrub_checked_replicas_total", &[]).await >= 6, "every shard was checked");

    // Shard 2's provider retires while two other holders serve damaged bytes (writes to them
    // still work, so the change reaches the metadata log): too few good shards are left to
    // rebuild it, so evacuation copies the leaving provider's own, every chunk checked.
    let flipping = [index_of(&holders[4]), index_of(&holders[5])];
    for i in flipping {
        gw.providers.proxies[i].set_for_objects(Fault::FlipBit);
    }
    let spares: Vec<String> =
        EIGHT_COUNTRIES.iter().map(|(c, _)| format!("local-{c}")).filter(|p| !holders.contains(p)).collect();
    retire(&gw, &holders[2]).await;
    let moved_to = wait_for_shard_moved(&gw, 2, &spares).await;
    for i in flipping {
        gw.providers.proxies[i].set(Fault::None);
    }
    // Shard 3's provider retires but fails every object read: the shard is rebuilt from others.
    gw.providers.proxies[index_of(&holders[3])].set_for_objects(Fault::Status(500));
    retire(&gw, &holders[3]).await;
    let rebuilt_at = wait_for_shard_moved(&gw, 3, &spares).await;
    assert_ne!(moved_to, rebuilt_at);
    for p in [&holders[0], &holders[1], &holders[2], &holders[3]] {
        gw.providers.kill(index_of(p));
    }
    let got = body_bytes(c.get_object().bucket("shards").key("k").send().await.unwrap()).await;
    assert!(got == data, "read through the copied shard 2 and the rebuilt shard 3");
    gw.stop().await;
}

async fn retire(gw: &TestGateway, provider: &str) {
    let r =
        gw.admin_send("PUT", &format!("/admin/v1/providers/{provider}"), serde_json::json!({ "retired": true })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
}

/// Waits (a minute at most) until `k`'s shard `shard` is stored at one of `spares`; which one.
async fn wait_for_shard_moved(gw: &TestGateway, shard: usize, spares: &[String]) -> String {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let loc = gw.admin_json("/admin/v1/locations/shards/k").await;
        let holder = &loc["streams"][0]["replicas"][shard];
        let provider = holder["provider"].as_str().unwrap_or_default().to_owned();
        if spares.contains(&provider) && holder["shard"] == shard && holder["state"] == "stored" {
            return provider;
        }
        assert!(Instant::now() < deadline, "shard {shard} never moved to a spare provider: {holder}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Promise (issues 21 and 26): losing the gateway's metadata store loses no erasure-coded
/// object: `meta rebuild` from the six providers' log brings back a single PUT and a multipart
/// object with their scheme and every shard's holder in place, and both read back exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_coded_objects_survive_losing_the_metadata_store() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start_proxied_at(dir.path(), &SIX_COUNTRIES).await;
    let text = four_plus_two(&crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers));
    let config = || souverain::config::Config::parse(&text, dir.path()).unwrap();
    let gw = souverain::app::start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    let single = pattern(300_000, 1);
    c.put_object().bucket("shards").key("single").body(single.clone().into()).send().await.unwrap();
    let parts = [pattern(5 << 20, 2), pattern(1000, 3)];
    upload_multi(&c, &parts).await;
    let before = located(gw.admin_addr.expect("admin listener")).await;
    gw.shutdown().await;

    std::fs::remove_dir_all(dir.path().join("meta")).unwrap();
    let options = souverain::metalog::rebuild::RebuildOptions::default();
    let report = souverain::app::rebuild_metadata(config(), &options, &|_, _, _| {}).await.unwrap();
    assert_eq!((report.buckets, report.objects, report.repairs), (1, 2, 0), "{report:?}");
    let gw = souverain::app::start(config()).await.unwrap();
    let c = client(gw.s3_addr);
    assert!(body_bytes(c.get_object().bucket("shards").key("single").send().await.unwrap()).await == single);
    let whole = [parts[0].as_slice(), parts[1].as_slice()].concat();
    assert!(body_bytes(c.get_object().bucket("shards").key("multi").send().await.unwrap()).await == whole);
    assert_eq!(located(gw.admin_addr.expect("admin listener")).await, before, "the same scheme and shard holders");
    assert!(before.iter().all(|s| s.contains("rs-4+2")), "{before:?}");
    gw.shutdown().await;
}

/// For `single` and `multi` of bucket `shards`: each stream's scheme and (provider, shard)
/// pairs, as text.
async fn located(admin: std::net::SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["single", "multi"] {
        let (status, body) =
            crate::common::admin_request(admin, "GET", &format!("/admin/v1/locations/shards/{key}"), "").await;
        assert_eq!(status, 200, "{body}");
        out.push(streams_of(&body));
    }
    out
}

/// The scheme and the (provider, shard) pairs of each stream of a locate answer, as text.
fn streams_of(locate_body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(locate_body).expect("locate JSON");
    v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            let holders: Vec<String> = s["replicas"]
                .as_array()
                .expect("replicas")
                .iter()
                .map(|r| format!("{}#{}", r["provider"].as_str().unwrap_or_default(), r["shard"]))
                .collect();
            format!("{} {}", s["scheme"].as_str().unwrap_or_default(), holders.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Promise (issue 26): a provider killed in the middle of a 1 GiB upload through a 4 + 2
/// policy does not fail it (5 of 6 shards acknowledged); its shard shows as pending, also in
/// `souverain_repair_pending_tasks{scheme="rs-4+2"}`, and once the provider returns it is
/// rebuilt within 60 s, correctly: with two other data shards' providers then killed, the
/// object still reads back exactly through the rebuilt one. All along (PUT, rebuild, degraded
/// GET) the gateway's resident memory stays as flat as replication's: peak RSS of the real
/// process under 256 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_killed_mid_1_gib_upload_gets_its_shard_rebuilt_in_flat_memory() {
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let mut providers = Providers::start_proxied_at(dir.path(), &SIX_COUNTRIES).await;
    let config = four_plus_two(&crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers));
    std::fs::write(dir.path().join("souverain.toml"), config).unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let admin = gw.admin.expect("admin listener");
    let c = client(gw.addr);
    c.create_bucket().bucket("shards").send().await.unwrap();
    c.put_object().bucket("shards").key("probe").body(pattern(10, 1).into()).send().await.unwrap();
    let holders = shard_holders(admin, "probe").await;
    let src = dir.path().join("one-gib.bin");
    let want = write_pattern_file(&src, 1024);
    let body = ByteStream::from_path(&src).await.unwrap();
    let put = tokio::spawn({
        let c = c.clone();
        async move { c.put_object().bucket("shards").key("g").body(body).send().await }
    });
    // Kill shard 1's provider once a quarter of shard 0 has reached its provider.
    let first = providers.roots[index_of(&holders[0])].clone();
    wait_for("a quarter of a shard at a provider", 300, || {
        let n = bytes_in(&first);
        async move { n >= 64 << 20 }
    })
    .await;
    let victim = index_of(&holders[1]);
    providers.kill(victim);
    put.await.unwrap().expect("5 of 6 shards acknowledge the write");
    std::fs::remove_file(&src).unwrap();
    let states = crate::common::replica_states_at(admin, "shards", "g").await;
    assert!(states.contains(&(holders[1].clone(), "pending".to_owned())), "{states:?}");
    let pending = || crate::common::metric_sum_at(admin, "souverain_repair_pending_tasks", &["scheme=\"rs-4+2\""]);
    wait_for("the shard counted pending under its scheme", 30, || async { pending().await == 1 }).await;

    providers.restart(victim);
    let back = Instant::now();
    wait_for("every shard stored", 60, || async {
        crate::common::replica_states_at(admin, "shards", "g").await.iter().all(|(_, s)| s == "stored")
    })
    .await;
    println!("the 1 GiB object's shard was rebuilt {:?} after its provider returned", back.elapsed());
    wait_for("no shard pending", 30, || async { pending().await == 0 }).await;
    providers.kill(index_of(&holders[0]));
    providers.kill(index_of(&holders[2]));
    let got = c.get_object().bucket("shards").key("g").send().await.unwrap();
    assert_eq!(body_len_and_md5(got).await, (1 << 30, want));
    let peak = gw.peak_rss();
    println!("peak RSS of the gateway over a 1 GiB 4 + 2 PUT, rebuild and degraded GET: {} MiB", peak >> 20);
    assert!(peak > 0 && peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
    gw.kill();
}

/// Bytes in the top directory of a provider root (where `s3s-fs` writes its upload temp files).
fn bytes_in(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

/// Uploads `multi` in bucket `shards` in `parts`; Complete's answer.
async fn upload_multi(
    c: &aws_sdk_s3::Client,
    parts: &[Vec<u8>],
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let up = c.create_multipart_upload().bucket("shards").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (n, p) in (1..).zip(parts) {
        let part = c.upload_part().bucket("shards").key("multi").upload_id(id).part_number(n);
        let out = part.body(p.clone().into()).send().await.unwrap();
        done.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    let list = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    let complete = c.complete_multipart_upload().bucket("shards").key("multi").upload_id(id);
    complete.multipart_upload(list).send().await.unwrap()
}
