//! The transit KMS against a real OpenBao dev server: data keys wrapped by transit, rotation by
//! rewrap under traffic, fail-closed outages, credentials errors, AppRole, crypto-shredding, and
//! no secret in logs, errors or metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::fault_proxy::{Fault, FaultProxy};
use crate::common::openbao::{OpenBao, ROOT_TOKEN, transit_keys, with_keys};
use crate::common::{TestGateway, body_bytes, error_code, error_status, pattern, wait_until};

pub(crate) async fn transit_gateway(address: &str, auth: &str, extra: &str) -> TestGateway {
    let keys = transit_keys(address, auth, extra);
    TestGateway::start_with(move |t| with_keys(&t, &keys)).await
}

pub(crate) fn root_auth() -> String {
    format!("token = \"{ROOT_TOKEN}\"")
}

/// Every provider file (path → bytes) at this moment.
fn provider_snapshot(gw: &TestGateway) -> BTreeMap<PathBuf, Vec<u8>> {
    gw.stream_files().into_iter().collect()
}

async fn put(gw: &TestGateway, bucket: &str, key: &str, data: &[u8]) {
    gw.client.put_object().bucket(bucket).key(key).body(data.to_vec().into()).send().await.unwrap();
}

async fn get(gw: &TestGateway, bucket: &str, key: &str) -> Vec<u8> {
    body_bytes(gw.client.get_object().bucket(bucket).key(key).send().await.unwrap()).await
}

pub(crate) async fn wait_job_done(gw: &TestGateway, job: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let r = gw.admin_send("GET", &format!("/admin/v1/jobs/{job}"), serde_json::Value::Null).await;
        if r.status == 200 {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            if v["state"] == "done" {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "the {job} job did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Promise: with `keys.provider = "transit"` every data key is wrapped by OpenBao (the
/// location view names the transit key and version) and objects, single and multipart, read
/// back byte for byte.
#[tokio::test]
async fn transit_wraps_data_keys_and_objects_round_trip() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    gw.client.create_bucket().bucket("kms").send().await.unwrap();
    let small = pattern(100_000, 1);
    put(&gw, "kms", "small", &small).await;
    let part = pattern(5 << 20, 2);
    let up = gw.client.create_multipart_upload().bucket("kms").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let p1 = gw
        .client
        .upload_part()
        .bucket("kms")
        .key("multi")
        .upload_id(id)
        .part_number(1)
        .body(part.clone().into())
        .send()
        .await
        .unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .build();
    gw.client
        .complete_multipart_upload()
        .bucket("kms")
        .key("multi")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    assert!(get(&gw, "kms", "small").await == small);
    assert!(get(&gw, "kms", "multi").await == part);
    for key in ["small", "multi"] {
        let loc = gw.admin_json(&format!("/admin/v1/locations/kms/{key}")).await;
        assert_eq!(loc["kek"], "souverain v1", "{key}");
    }
    let health = gw.admin_json("/health").await;
    assert_eq!(health["key_provider"], "ok");
    gw.stop().await;
}

/// Promise: `admin keys rotate` adds a KEK version and rewraps every data key under it while
/// reads and writes continue; every object reads back byte for byte after, the providers'
/// files are unchanged byte for byte, and the job reports its progress. Users' access-key
/// secrets are rewrapped too: a key made before keeps signing after the old version is retired.
#[tokio::test]
async fn rotation_rewraps_every_key_under_traffic_without_touching_provider_data() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let proxy = FaultProxy::start(bao.addr).await;
    let gw = Arc::new(transit_gateway(&proxy.endpoint(), &root_auth(), "dek_cache_ttl_secs = 0").await);
    gw.client.create_bucket().bucket("rot").send().await.unwrap();
    let objects: Vec<(String, Vec<u8>)> =
        (0..40).map(|i| (format!("k{i:02}"), pattern(20_000 + i * 997, i as u64))).collect();
    for (k, d) in &objects {
        put(&gw, "rot", k, d).await;
    }
    // A user's access key made before the rotation (its secret wrapped under v1).
    assert_eq!(gw.admin_send("POST", "/admin/v1/users", serde_json::json!({ "name": "app" })).await.status, 201);
    let key = gw.admin_send("POST", "/admin/v1/access-keys", serde_json::json!({ "user": "app" })).await;
    let made: serde_json::Value = serde_json::from_str(&key.body_text()).unwrap();
    let app = crate::common::client_with(gw.addr, made["id"].as_str().unwrap(), made["secret"].as_str().unwrap());
    let grant = serde_json::json!({ "user": "app", "allow": "read" });
    assert_eq!(gw.admin_send("POST", "/admin/v1/buckets/rot/grants", grant).await.status, 200);
    let before = provider_snapshot(&gw);
    // Traffic during the rotation: reads of every object, writes of new ones (bounded).
    let stop = Arc::new(AtomicBool::new(false));
    let (reads, writes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let traffic = {
        let (gw, stop, objects, reads, writes) =
            (Arc::clone(&gw), Arc::clone(&stop), objects.clone(), Arc::clone(&reads), Arc::clone(&writes));
        tokio::spawn(async move {
            for round in 0..10_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (k, d) = &objects[(round % objects.len() as u64) as usize];
                assert!(get(&gw, "rot", k).await == *d, "{k} read back wrong during rotation");
                reads.fetch_add(1, Ordering::Relaxed);
                if round % 5 == 0 {
                    put(&gw, "rot", &format!("new{round:05}"), &pattern(3000, round)).await;
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    // A KMS answering in 40 ms: the job takes seconds (one call per data key), long enough to
    // watch traffic go on while it runs.
    proxy.set(Fault::Delay(Duration::from_millis(40)));
    let r = gw.admin_send("POST", "/admin/v1/keys/rotate", serde_json::json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body_text());
    let rotated: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(rotated["rotated"], serde_json::json!([["souverain", 2]]));
    // Observed overlap: traffic counted between two moments at which keys had already been
    // rewrapped and the job still reported itself running.
    let mut during: Vec<(u64, u64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_mins(2);
    let job = loop {
        let rewrapped = gw.metric_sum("souverain_key_rewraps_total", &[]).await;
        let counts = (reads.load(Ordering::Relaxed), writes.load(Ordering::Relaxed));
        let r = gw.admin_send("GET", "/admin/v1/jobs/rotation", serde_json::Value::Null).await;
        let job: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        match job["state"].as_str() {
            Some("done") => break job,
            Some("running") if rewrapped > 0 => during.push(counts),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the rotation job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    proxy.set(Fault::None);
    stop.store(true, Ordering::Relaxed);
    traffic.await.unwrap();
    let (first, last) = (during.first().copied().unwrap_or_default(), during.last().copied().unwrap_or_default());
    assert!(
        last.0 > first.0 && last.1 > first.1,
        "reads and writes completed while the rotation ran: {first:?} then {last:?} ({} samples)",
        during.len()
    );
    assert!(job["moved"].as_u64().unwrap_or(0) >= objects.len() as u64, "{job}");
    assert_eq!(job["progress"], 1.0);
    for (k, d) in &objects {
        assert!(get(&gw, "rot", k).await == *d, "{k}");
        let loc = gw.admin_json(&format!("/admin/v1/locations/rot/{k}")).await;
        assert_eq!(loc["kek"], "souverain v2", "{k}");
    }
    let after = provider_snapshot(&gw);
    for (path, bytes) in &before {
        assert!(after.get(path) == Some(bytes), "{} changed", path.display());
    }
    assert!(gw.metric_sum("souverain_key_rewraps_total", &[]).await >= objects.len() as u64);
    // The old version can be retired: nothing needs it any more.
    let (status, answer) =
        bao.api("POST", "/v1/transit/keys/souverain/config", serde_json::json!({ "min_decryption_version": 2 })).await;
    assert!(status == 200 || status == 204, "{status} {answer}");
    for (k, d) in objects.iter().take(5) {
        assert!(get(&gw, "rot", k).await == *d, "{k} after v1 was retired");
    }
    // The user's key was rewrapped too (audited): it still signs once its cached secret is
    // forgotten (any admin change forgets the caches).
    let audit = gw.admin_text("/admin/v1/audit").await;
    assert!(audit.contains("key.rewrap") && audit.contains("key-rotation"), "{audit}");
    assert_eq!(gw.admin_send("POST", "/admin/v1/users", serde_json::json!({ "name": "other" })).await.status, 201);
    let (k, d) = &objects[0];
    let got = app.get_object().bucket("rot").key(k).send().await.expect("the user's key after v1 was retired");
    assert!(crate::common::body_bytes(got).await == *d);
    Arc::try_unwrap(gw).ok().expect("traffic finished").stop().await;
}

/// Promise: when the KMS is unreachable (connections refused, a black hole, a stopped process,
/// a killed one) PUT and GET fail closed with 503 ServiceUnavailable, `/ready` says not ready,
/// nothing is stored; when it is back (continued, restarted and unsealed) both work again.
#[tokio::test]
async fn kms_outage_fails_closed_and_recovers() {
    let mut bao = OpenBao::start_persistent().await;
    bao.enable_transit("souverain").await;
    let proxy = FaultProxy::start(bao.addr).await;
    let auth = format!("token = \"{}\"", bao.root);
    let gw = transit_gateway(&proxy.endpoint(), &auth, "dek_cache_ttl_secs = 0\ntimeout_secs = 2").await;
    gw.client.create_bucket().bucket("out").send().await.unwrap();
    let data = pattern(50_000, 7);
    put(&gw, "out", "before", &data).await;
    for (what, fault) in [("refused", Fault::Reset), ("black hole", Fault::BlackHole)] {
        proxy.set(fault);
        let e = gw.client.put_object().bucket("out").key("during").body(data.clone().into()).send().await.unwrap_err();
        assert_eq!(
            (error_status(&e), error_code(&e).as_deref()),
            (Some(503), Some("ServiceUnavailable")),
            "{what} PUT"
        );
        let e = gw.client.get_object().bucket("out").key("before").send().await.unwrap_err();
        assert_eq!(
            (error_status(&e), error_code(&e).as_deref()),
            (Some(503), Some("ServiceUnavailable")),
            "{what} GET"
        );
    }
    // The KMS process itself stopped (SIGSTOP), then continued.
    proxy.set(Fault::None);
    let pid = bao.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let e = gw.client.get_object().bucket("out").key("before").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503), "stopped KMS GET");
    let deadline = Instant::now() + Duration::from_secs(20);
    while gw.admin_json("/health").await["key_provider"] == "ok" {
        assert!(Instant::now() < deadline, "the health report never noticed the stopped KMS");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready =
        crate::common::raw::send(gw.admin_addr(), "GET", "/ready", &[("host".into(), "x".into())], b"").await.unwrap();
    assert_eq!(ready.status, 503);
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    put(&gw, "out", "after-stop", &data).await;
    // The KMS killed, then restarted (and unsealed) with its keys.
    bao.kill();
    let e = gw.client.put_object().bucket("out").key("during").body(data.clone().into()).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503), "killed KMS PUT");
    let e = gw.client.get_object().bucket("out").key("before").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503), "killed KMS GET");
    bao.restart().await;
    put(&gw, "out", "after", &data).await;
    assert!(get(&gw, "out", "before").await == data);
    assert!(get(&gw, "out", "after").await == data);
    assert!(get(&gw, "out", "after-stop").await == data);
    assert_eq!(
        crate::common::listed_keys(&gw.client, "out").await,
        ["after", "after-stop", "before"],
        "a refused PUT stored nothing"
    );
    gw.stop().await;
}

/// Promise: a wrong token is a clear error: requests fail closed with 503, `/health` says the
/// KMS refused the gateway's credentials (and never shows the token), and an AppRole login
/// (role id + secret id from a 0600 file) works.
#[tokio::test]
async fn wrong_token_is_a_clear_error_and_approle_works() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let wrong = "hvs.wrong-token-4b1d9e";
    let gw = transit_gateway(&bao.address(), &format!("token = \"{wrong}\""), "").await;
    // Fail closed from the first request: not even a bucket is acknowledged, since its
    // metadata log entry cannot be sealed without the KEK.
    let e = gw.client.create_bucket().bucket("tok").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503));
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let h = gw.admin_text("/health").await;
        if h.contains("refused the gateway's credentials") {
            break h;
        }
        assert!(Instant::now() < deadline, "health never named the credentials problem: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(health.contains("permission denied") && !health.contains(wrong), "{health}");
    gw.stop().await;

    let (role_id, secret_id) = bao.approle().await;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret-id");
    std::fs::write(&secret_file, &secret_id).unwrap();
    std::fs::set_permissions(&secret_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let auth = format!("approle_role_id = \"{role_id}\"\napprole_secret_id_file = \"{}\"", secret_file.display());
    let gw = transit_gateway(&bao.address(), &auth, "").await;
    gw.client.create_bucket().bucket("role").send().await.unwrap();
    let data = pattern(10_000, 3);
    put(&gw, "role", "k", &data).await;
    assert!(get(&gw, "role", "k").await == data);
    gw.stop().await;
}

/// Promise: over HTTPS the gateway trusts the KMS's certificate only through `keys.ca_file`:
/// with it objects round-trip, without it every request fails closed (503) and `/health` says
/// the certificate's issuer is unknown.
#[tokio::test]
async fn transit_over_tls_trusts_only_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (bao, ca) = OpenBao::start_tls(dir.path()).await;
    bao.cli(&ca, &["secrets", "enable", "transit"]).expect("enable transit");
    bao.cli(&ca, &["write", "-f", "transit/keys/souverain", "derived=true"]).expect("create key");
    let address = format!("https://{}", bao.addr);
    let gw = transit_gateway(&address, &root_auth(), &format!("ca_file = \"{}\"", ca.display())).await;
    gw.client.create_bucket().bucket("tls").send().await.unwrap();
    let data = pattern(40_000, 11);
    put(&gw, "tls", "k", &data).await;
    assert!(get(&gw, "tls", "k").await == data);
    gw.stop().await;

    let gw = transit_gateway(&address, &root_auth(), "").await;
    let e = gw.client.create_bucket().bucket("tls").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(503), "not even a bucket without the KMS (its log entry is sealed)");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = gw.admin_text("/health").await;
        if h.contains("UnknownIssuer") || h.contains("unknown issuer") {
            break;
        }
        assert!(Instant::now() < deadline, "health never named the certificate problem: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.stop().await;
}

/// Promise: a bucket with its own KEK can be crypto-shredded: after `keys/{kek}/shred` the
/// KMS no longer has the key, its objects answer 410 KeyShredded although their ciphertext is
/// still on every provider, the location view and the key list say so, the shredding is in the
/// audit log, and other buckets are untouched. A noncurrent version written before the bucket
/// got its key is rewrapped by the rotation job like the current one, and shredded with it.
#[tokio::test]
async fn shredding_a_bucket_key_makes_its_data_unreadable_everywhere() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    for b in ["secret", "other"] {
        gw.client.create_bucket().bucket(b).send().await.unwrap();
    }
    let data = pattern(70_000, 9);
    crate::versioning::set_versioning(&gw.client, "secret", aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
    let old = crate::versioning::put(&gw.client, "secret", "before-own-key", b"an older version").await.unwrap();
    put(&gw, "secret", "before-own-key", &data).await;
    let r = gw.admin_send("PUT", "/admin/v1/buckets/secret/kek", serde_json::json!({ "kek": "bucket-secret" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    put(&gw, "secret", "k1", &data).await;
    put(&gw, "other", "k1", &data).await;
    wait_job_done(&gw, "rotation").await;
    for key in ["before-own-key", "k1", &format!("before-own-key?versionId={old}")] {
        let loc = gw.admin_json(&format!("/admin/v1/locations/secret/{key}")).await;
        assert_eq!(loc["kek"], "bucket-secret v1", "{key} moved to the bucket's own key");
    }
    let streams_before = gw.stream_files().len();
    let r = gw.admin_send("POST", "/admin/v1/keys/bucket-secret/shred", serde_json::Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let (s, _) = bao.api("GET", "/v1/transit/keys/bucket-secret", serde_json::Value::Null).await;
    assert_eq!(s, 404, "the KMS no longer holds the key");
    // What the KMS answers for it (the gateway reads this answer as "destroyed").
    let (s, v) = bao
        .api(
            "POST",
            "/v1/transit/decrypt/bucket-secret",
            serde_json::json!({ "ciphertext": "vault:v1:AAAA", "context": "AAAA" }),
        )
        .await;
    assert!(s == 400 && v.to_string().contains("encryption key not found"), "{s} {v}");
    for key in ["before-own-key", "k1"] {
        let e = gw.client.get_object().bucket("secret").key(key).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(410), Some("KeyShredded")), "{key}");
        let loc = gw.admin_json(&format!("/admin/v1/locations/secret/{key}")).await;
        assert_eq!(loc["kek_destroyed"], true);
    }
    let e = gw.client.get_object().bucket("secret").key("before-own-key").version_id(&old).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(410), "the noncurrent version is shredded too");
    assert_eq!(gw.stream_files().len(), streams_before, "the ciphertext is still on every provider");
    assert!(get(&gw, "other", "k1").await == data);
    let keys = gw.admin_json("/admin/v1/keys").await;
    assert_eq!(keys["shredded"][0][0], "bucket-secret");
    let audit = gw.admin_text("/admin/v1/audit").await;
    assert!(audit.contains("key.shred") && audit.contains("bucket.kek"), "{audit}");
    // The default KEK cannot be shredded by accident.
    let r = gw.admin_send("POST", "/admin/v1/keys/souverain/shred", serde_json::Value::Null).await;
    assert_eq!(r.status, 400);
    gw.stop().await;
}

/// Promise: a KEK that wraps versions under Object Lock cannot be shredded: the admin's
/// request is refused (409) naming how many and when the earliest retention ends, the KMS
/// still holds the key, and every version still reads back.
#[tokio::test]
async fn locked_versions_refuse_the_shredding_of_their_key() {
    use aws_sdk_s3::types::{ObjectLockLegalHoldStatus, ObjectLockMode};
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    gw.client.create_bucket().bucket("kept").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let r = gw.admin_send("PUT", "/admin/v1/buckets/kept/kek", serde_json::json!({ "kek": "bucket-kept" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let data = pattern(10_000, 3);
    let until = aws_sdk_s3::primitives::DateTime::from_secs(
        aws_sdk_s3::primitives::DateTime::from(std::time::SystemTime::now()).secs() + 3600,
    );
    let put_locked = gw.client.put_object().bucket("kept").key("retained").body(data.clone().into());
    put_locked.object_lock_mode(ObjectLockMode::Compliance).object_lock_retain_until_date(until).send().await.unwrap();
    let held = gw.client.put_object().bucket("kept").key("held").body(data.clone().into());
    held.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On).send().await.unwrap();
    put(&gw, "kept", "free", &data).await;
    wait_job_done(&gw, "rotation").await;
    let r = gw.admin_send("POST", "/admin/v1/keys/bucket-kept/shred", serde_json::Value::Null).await;
    let text = r.body_text();
    assert_eq!(r.status, 409, "{text}");
    assert!(text.contains("2 versions") && text.contains("earliest retention ends"), "{text}");
    let (s, _) = bao.api("GET", "/v1/transit/keys/bucket-kept", serde_json::Value::Null).await;
    assert_eq!(s, 200, "the KMS still holds the key");
    for key in ["retained", "held", "free"] {
        assert!(get(&gw, "kept", key).await == data, "{key}");
    }
    gw.stop().await;
}

/// Promise: shredding a bucket's own KEK leaves none of its objects readable, even with writes
/// in flight while the bucket moved to that key. A PUT and a multipart upload whose data keys
/// were wrapped under the default KEK before the move commit under the bucket's new key (wrapped
/// again at commit); while the rotation job has not yet moved every data key of the bucket,
/// shredding is refused with 409 naming the count, and nothing is destroyed.
#[tokio::test]
async fn writes_racing_a_kek_change_cannot_outlive_the_shredding() {
    use crate::common::raw::Signer;
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let proxy = FaultProxy::start(bao.addr).await;
    let gw = transit_gateway(&proxy.endpoint(), &root_auth(), "dek_cache_ttl_secs = 0").await;
    gw.client.create_bucket().bucket("race").send().await.unwrap();
    let data = pattern(40_000, 3);
    for i in 0..6 {
        put(&gw, "race", &format!("k{i}"), &data).await;
    }
    // A slow PUT: its head and half its body now (its data key is wrapped under the default
    // KEK before the body is read), the rest after the move.
    let slow_body = pattern(200_000, 4);
    let mut headers = vec![("content-length".to_owned(), slow_body.len().to_string())];
    let host = gw.addr.to_string();
    Signer::new(std::time::SystemTime::now()).sign("PUT", "/race/slow", &[], &mut headers, &host, "UNSIGNED-PAYLOAD");
    let wrapped_under_default = || proxy.requests_matching("POST /v1/transit/encrypt/souverain");
    let wrapped_before = wrapped_under_default();
    let mut slow = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    slow.write_all(format!("PUT /race/slow HTTP/1.1\r\n{head}connection: close\r\n\r\n").as_bytes()).await.unwrap();
    slow.write_all(&slow_body[..100_000]).await.unwrap();
    // Observed, not slept on: the slow PUT's data key has been wrapped under the default KEK.
    wait_until("the slow PUT's data key wrapped under the default KEK", Duration::from_secs(30), || {
        wrapped_under_default() > wrapped_before
    })
    .await;
    // A multipart upload created (and one part stored) under the default KEK.
    let up = gw.client.create_multipart_upload().bucket("race").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part = pattern(5 << 20, 5);
    let p1 = gw.client.upload_part().bucket("race").key("multi").upload_id(&id).part_number(1);
    let p1 = p1.body(part.clone().into()).send().await.unwrap();
    assert!(wrapped_under_default() >= wrapped_before + 2, "both writes hold a key wrapped under the default KEK");
    // The move, with a slow KMS: the rotation job then needs seconds for the bucket's keys.
    proxy.set(Fault::Delay(Duration::from_millis(700)));
    let r = gw.admin_send("PUT", "/admin/v1/buckets/race/kek", serde_json::json!({ "kek": "bucket-race" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let r = gw.admin_send("POST", "/admin/v1/keys/bucket-race/shred", serde_json::Value::Null).await;
    assert_eq!(r.status, 409, "shredding before the rotation finished: {}", r.body_text());
    let message = r.body_text();
    let count: u64 = message.split_whitespace().find_map(|w| w.trim_matches('"').parse().ok()).unwrap_or(0);
    assert!((5..=7).contains(&count), "the refusal names the data keys left under another key: {message}");
    let (s, _) = bao.api("GET", "/v1/transit/keys/bucket-race", serde_json::Value::Null).await;
    assert_eq!(s, 200, "a refused shredding destroys nothing");
    proxy.set(Fault::None);
    wait_job_done(&gw, "rotation").await;
    // Now the in-flight writes finish, after the rotation job walked the bucket.
    slow.write_all(&slow_body[100_000..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), slow.read_to_end(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .build();
    let complete = gw.client.complete_multipart_upload().bucket("race").key("multi").upload_id(&id);
    complete.multipart_upload(done).send().await.unwrap();
    assert!(get(&gw, "race", "slow").await == slow_body);
    assert!(get(&gw, "race", "multi").await == part);
    for key in ["k0", "k5", "slow", "multi"] {
        let loc = gw.admin_json(&format!("/admin/v1/locations/race/{key}")).await;
        assert_eq!(loc["kek"], "bucket-race v1", "{key} is wrapped under the bucket's key");
    }
    let r = gw.admin_send("POST", "/admin/v1/keys/bucket-race/shred", serde_json::Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    for key in ["k0", "k5", "slow", "multi"] {
        let e = gw.client.get_object().bucket("race").key(key).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(410), Some("KeyShredded")), "{key}");
    }
    gw.stop().await;
}

/// A TCP relay that records what the upstream (the KMS) answers.
async fn recording_relay(upstream: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = tokio::io::copy(&mut cr, &mut sw);
                let down = async {
                    let mut buf = [0u8; 8192];
                    loop {
                        let n = sr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        if let Ok(mut r) = record.lock() {
                            r.extend_from_slice(&buf[..n]);
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let _ = tokio::join!(up, down);
            });
        }
    });
    (addr, seen)
}

/// Promise: tokens, AppRole secret ids and data keys never appear in the gateway's log (at
/// debug level), in its error answers, its health report or its metrics. The data keys are
/// learnt by recording what the KMS answered the gateway.
#[tokio::test]
async fn secrets_never_appear_in_logs_errors_or_metrics() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let (role_id, secret_id) = bao.approle().await;
    let (relay, recorded) = recording_relay(bao.addr).await;
    let dir = tempfile::tempdir().unwrap();
    let providers = crate::common::Providers::start(dir.path());
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let secret_file = dir.path().join("secret-id");
    std::fs::write(&secret_file, &secret_id).unwrap();
    std::fs::set_permissions(&secret_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let auth = format!("approle_role_id = \"{role_id}\"\napprole_secret_id_file = \"{}\"", secret_file.display());
    let config = with_keys(
        &crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers),
        &transit_keys(&format!("http://{relay}"), &auth, "dek_cache_ttl_secs = 0"),
    )
    .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"127.0.0.1:{admin_port}\""))
    .replace("[log]\n", "")
    .replace("[limits]\n", "[log]\nlevel = \"debug\"\n[limits]\n");
    std::fs::write(dir.path().join("souverain.toml"), config).unwrap();
    let log = dir.path().join("gateway.log");
    let gw = crate::common::BinaryGateway::spawn_with_log(dir.path(), &providers, &log);
    let client = crate::common::client(gw.addr);
    client.create_bucket().bucket("sec").send().await.unwrap();
    let mut answers = String::new();
    for i in 0..5u64 {
        let data = pattern(30_000, i);
        client.put_object().bucket("sec").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
        let got = body_bytes(client.get_object().bucket("sec").key(format!("k{i}")).send().await.unwrap()).await;
        assert!(got == data);
    }
    // An error answer (an anonymous request).
    let r = crate::common::raw::send(gw.addr, "GET", "/sec/missing", &[("host".into(), gw.addr.to_string())], b"")
        .await
        .unwrap();
    answers.push_str(&r.body_text());
    let admin: std::net::SocketAddr = format!("127.0.0.1:{admin_port}").parse().unwrap();
    for path in ["/metrics", "/health"] {
        let r = crate::common::raw::send(admin, "GET", path, &[("host".into(), admin.to_string())], b"").await.unwrap();
        answers.push_str(&r.body_text());
    }
    gw.kill();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("DEBUG") || log_text.contains("debug"), "the log was at debug level");
    // The data keys, as the KMS answered them (base64), and in hex.
    let recorded = String::from_utf8_lossy(&recorded.lock().unwrap()).into_owned();
    let mut secrets: Vec<String> = recorded
        .split("\"plaintext\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    assert!(secrets.len() >= 5, "the data keys were seen on the wire: {}", secrets.len());
    let hex: Vec<String> = secrets
        .iter()
        .filter_map(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok().map(hex::encode)
        })
        .collect();
    secrets.extend(hex);
    // The AppRole login's client token, as the KMS answered it.
    let tokens: Vec<String> = recorded
        .split("\"client_token\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_owned))
        .collect();
    assert!(!tokens.is_empty(), "the AppRole login was seen on the wire");
    secrets.extend(tokens);
    secrets.push(secret_id.clone());
    secrets.push(ROOT_TOKEN.to_owned());
    for s in &secrets {
        assert!(!log_text.contains(s.as_str()), "a secret is in the log");
        assert!(!answers.contains(s.as_str()), "a secret is in an answer, the metrics or the health report");
    }
}

/// Promise (issue 18 item 10, transit): data keys are wrapped bound to their object's key (the
/// KMS context); a data key wrapped before that (its context names bucket and version only)
/// still opens, and the rotation job's rewrap binds it to its key from then on. A format v2 log
/// key wraps and opens through the KMS too, bound to its keyring id (issue 21).
#[tokio::test]
async fn transit_binds_the_object_key_and_still_opens_older_keys() {
    use base64::Engine as _;
    use souverain::keys::transit::TransitKeys;
    use souverain::keys::{DataKey, KeyBinding, KeyError, KeyProvider, WrappedKey};
    use souverain::model::{BucketUid, VersionUid};
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let dir = tempfile::tempdir().unwrap();
    let text =
        crate::common::config_text(dir.path(), "127.0.0.1:0", "rocksdb", &crate::common::Providers::local(dir.path()));
    let config = souverain::config::Config::parse(
        &with_keys(&text, &transit_keys(&bao.address(), &root_auth(), "")),
        dir.path(),
    );
    let souverain::config::KeyConfig::Transit(settings) = config.unwrap().keys else { panic!("transit keys") };
    let kms = TransitKeys::new(settings).unwrap();
    let at = KeyBinding::new(BucketUid([1; 16]), VersionUid([2; 16]), "ledger/2026.csv");
    let other_key = KeyBinding { key: "ledger/2025.csv", ..at };
    let dek = DataKey::generate().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;

    let fresh = kms.wrap(&dek, "souverain", at).await.unwrap();
    assert_eq!(kms.unwrap(&fresh, at).await.unwrap().expose(), dek.expose());
    assert!(matches!(kms.unwrap(&fresh, other_key).await, Err(KeyError::Unwrap)), "bound to its object key");

    // As the gateway wrapped keys before: the context names bucket and version only.
    let body =
        serde_json::json!({ "plaintext": b64.encode(dek.expose()), "context": b64.encode(at.legacy_aad("souverain")) });
    let (status, answer) = bao.api("POST", "/v1/transit/encrypt/souverain", body).await;
    assert_eq!(status, 200, "{answer}");
    let ciphertext = answer["data"]["ciphertext"].as_str().unwrap().as_bytes().to_vec();
    let older = WrappedKey { kek_id: "souverain".into(), kek_version: 1, bytes: ciphertext, context: None };
    assert_eq!(kms.unwrap(&older, at).await.unwrap().expose(), dek.expose(), "an older key still opens");
    let elsewhere = KeyBinding { version: VersionUid([3; 16]), ..at };
    assert!(matches!(kms.unwrap(&older, elsewhere).await, Err(KeyError::Unwrap)), "still bound to its version");
    assert_eq!(kms.rotate("souverain").await.unwrap(), 2);
    let rewrapped = kms.rewrap(&older, "souverain", at).await.unwrap().expect("out of date");
    assert_eq!(rewrapped.kek_version, 2);
    assert_eq!(kms.unwrap(&rewrapped, at).await.unwrap().expose(), dek.expose());
    assert!(matches!(kms.unwrap(&rewrapped, other_key).await, Err(KeyError::Unwrap)), "now bound to its key");

    // A format v2 log key goes through the KMS the same way: it opens from its keyring object
    // (one KMS call), and only under its own keyring id.
    use souverain::datapath::keyring::Keyring;
    use souverain::keys::log_key::LogKey;
    let log_key = LogKey::create(&kms, "souverain").await.unwrap();
    let stored = Keyring::parse(&log_key.keyring().to_bytes().unwrap()).unwrap();
    assert_eq!(LogKey::open(&kms, stored.clone()).await.unwrap().expose(), log_key.expose());
    let mut moved = stored;
    moved.keyring_id[0] ^= 1;
    assert!(matches!(LogKey::open(&kms, moved).await, Err(KeyError::Unwrap)), "bound to its keyring id");
}

/// Promise (README, docs/keys.md): with the local key file (the quickstart's provider), key
/// rotation, a bucket's own KEK and crypto-shredding answer 501 with a message naming what is
/// needed, and change nothing (the key list, the audit log and the objects stay as they were).
#[tokio::test]
async fn the_local_key_file_answers_501_for_key_management() {
    let gw = crate::common::TestGateway::start().await;
    gw.client.create_bucket().bucket("plain").send().await.unwrap();
    let data = pattern(10_000, 4);
    put(&gw, "plain", "k", &data).await;
    let (keys_before, audit_before) = (gw.admin_text("/admin/v1/keys").await, gw.admin_text("/admin/v1/audit").await);
    let attempts = [
        ("POST", "/admin/v1/keys/rotate", serde_json::json!({})),
        ("PUT", "/admin/v1/buckets/plain/kek", serde_json::json!({ "kek": "bucket-plain" })),
        ("POST", "/admin/v1/keys/bucket-plain/shred", serde_json::Value::Null),
    ];
    for (method, path, body) in attempts {
        let r = gw.admin_send(method, path, body).await;
        assert_eq!(r.status, 501, "{method} {path}: {}", r.body_text());
        assert!(r.body_text().contains("keys.provider = \\\"transit\\\""), "{method} {path}: {}", r.body_text());
    }
    assert_eq!(gw.admin_text("/admin/v1/keys").await, keys_before, "the key list is unchanged");
    assert_eq!(gw.admin_text("/admin/v1/audit").await, audit_before, "nothing was recorded");
    assert!(get(&gw, "plain", "k").await == data);
    gw.stop().await;
}

/// Promise: an SSE-C object is none of the KEKs' business: moving its bucket to its own KEK
/// and rotating that KEK leave its data key under the customer's key (the location view says
/// so), shredding the bucket's KEK is not held up by it, and afterwards the bucket's other
/// objects answer 410 while the SSE-C object still opens with its customer key — and only
/// with it.
#[tokio::test]
async fn customer_keys_are_left_alone_by_rotation_and_shredding() {
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    gw.client.create_bucket().bucket("mixed").send().await.unwrap();
    let (customer, md5) = crate::sse_c::test_key(0x42);
    let data = pattern(50_000, 3);
    let put_ssec = gw
        .client
        .put_object()
        .bucket("mixed")
        .key("customer")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&customer)
        .sse_customer_key_md5(&md5)
        .body(data.clone().into());
    put_ssec.send().await.unwrap();
    put(&gw, "mixed", "gateway", &data).await;
    let r = gw.admin_send("PUT", "/admin/v1/buckets/mixed/kek", serde_json::json!({ "kek": "bucket-mixed" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    wait_job_done(&gw, "rotation").await;
    let r = gw.admin_send("POST", "/admin/v1/keys/rotate", serde_json::json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body_text());
    wait_job_done(&gw, "rotation").await;
    assert_eq!(gw.admin_json("/admin/v1/locations/mixed/gateway").await["kek"], "bucket-mixed v2");
    assert_eq!(gw.admin_json("/admin/v1/locations/mixed/customer").await["kek"], "sse-c:customer v1");
    let r = gw.admin_send("POST", "/admin/v1/keys/bucket-mixed/shred", serde_json::Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let e = gw.client.get_object().bucket("mixed").key("gateway").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(410));
    let get = gw
        .client
        .get_object()
        .bucket("mixed")
        .key("customer")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&customer)
        .sse_customer_key_md5(&md5)
        .send()
        .await
        .unwrap();
    assert!(body_bytes(get).await == data);
    let e = gw.client.get_object().bucket("mixed").key("customer").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(400));
    gw.stop().await;
}

/// Promise (SSE-KMS, AWS's documented behaviour): under a transit KMS every object answers
/// `x-amz-server-side-encryption: aws:kms` with the KEK that wraps its data key as the key id
/// (PUT, HEAD, GET, CopyObject, CreateMultipartUpload, GetBucketEncryption); `aws:kms` with the
/// bucket's KEK named (bare or as an ARN) is accepted; a KEK of the gateway that is not the
/// bucket's is 403 AccessDenied, a name no KEK has 400 KMS.NotFoundException, and a refused
/// write stores nothing.
#[tokio::test]
async fn sse_kms_names_the_bucket_key_and_refuses_any_other() {
    use aws_sdk_s3::types::ServerSideEncryption::AwsKms;
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    let c = &gw.client;
    c.create_bucket().bucket("kmsb").send().await.unwrap();
    let put = c.put_object().bucket("kmsb").key("default").server_side_encryption(AwsKms).body(b"one".to_vec().into());
    let out = put.send().await.unwrap();
    assert_eq!((out.server_side_encryption(), out.ssekms_key_id()), (Some(&AwsKms), Some("souverain")));
    let r = gw.admin_send("PUT", "/admin/v1/buckets/kmsb/kek", serde_json::json!({ "kek": "bucket-kmsb" })).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let out = c
        .put_object()
        .bucket("kmsb")
        .key("named")
        .server_side_encryption(AwsKms)
        .ssekms_key_id("arn:aws:kms:eu-west-3:000000000000:key/bucket-kmsb")
        .body(b"two".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!((out.ssekms_key_id(), out.bucket_key_enabled()), (Some("bucket-kmsb"), Some(false)));
    let plain = c.put_object().bucket("kmsb").key("plain").body(b"three".to_vec().into()).send().await.unwrap();
    assert_eq!(plain.ssekms_key_id(), Some("bucket-kmsb"), "what wraps its key, whatever was asked");
    let head = c.head_object().bucket("kmsb").key("named").send().await.unwrap();
    assert_eq!((head.server_side_encryption(), head.ssekms_key_id()), (Some(&AwsKms), Some("bucket-kmsb")));
    let get = c.get_object().bucket("kmsb").key("named").send().await.unwrap();
    assert_eq!(get.ssekms_key_id(), Some("bucket-kmsb"));
    assert_eq!(body_bytes(get).await, b"two");
    let copy = c
        .copy_object()
        .bucket("kmsb")
        .key("copy")
        .copy_source("kmsb/named")
        .server_side_encryption(AwsKms)
        .ssekms_key_id("bucket-kmsb")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.ssekms_key_id(), Some("bucket-kmsb"));
    let mpu = c.create_multipart_upload().bucket("kmsb").key("mpu").server_side_encryption(AwsKms).send().await;
    assert_eq!(mpu.unwrap().ssekms_key_id(), Some("bucket-kmsb"));
    let listed = crate::common::listed_keys(c, "kmsb").await;
    for (key_id, status, code) in
        [("souverain", 403, "AccessDenied"), ("arn:aws:kms:eu-west-3:0:key/absent", 400, "KMS.NotFoundException")]
    {
        let e = c
            .put_object()
            .bucket("kmsb")
            .key("refused")
            .server_side_encryption(AwsKms)
            .ssekms_key_id(key_id)
            .body(b"no".to_vec().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(status), Some(code)), "{key_id}");
    }
    assert_eq!(crate::common::listed_keys(c, "kmsb").await, listed, "the refused writes stored nothing");
    let config = |kek: &str| {
        use aws_sdk_s3::types::{
            ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
        };
        let default =
            ServerSideEncryptionByDefault::builder().sse_algorithm(AwsKms).kms_master_key_id(kek).build().unwrap();
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        ServerSideEncryptionConfiguration::builder().rules(rule).build().unwrap()
    };
    let put_default =
        |kek: &str| c.put_bucket_encryption().bucket("kmsb").server_side_encryption_configuration(config(kek));
    put_default("bucket-kmsb").send().await.unwrap();
    let e = put_default("souverain").send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(403));
    let reported = c.get_bucket_encryption().bucket("kmsb").send().await.unwrap();
    let rule = &reported.server_side_encryption_configuration().unwrap().rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!((default.sse_algorithm(), default.kms_master_key_id()), (&AwsKms, Some("bucket-kmsb")));
    gw.stop().await;
}

/// Promise (SSE-KMS encryption context, AWS's documented behaviour): `x-amz-server-side-
/// encryption-context` (base64 of a JSON map of strings) on PutObject, CopyObject and
/// CreateMultipartUpload is bound into the new data key's wrapping and answered back, in its
/// canonical form; a copy takes the request's context, not the source's. The binding is real:
/// a stored context changed or dropped leaves the object unreadable (500, nothing served), and
/// the rotation job's rewrap keeps it. A malformed context, one with AWS's reserved `aws:`
/// prefix, or one without `aws:kms`, is 400 InvalidArgument and stores nothing.
#[tokio::test]
async fn sse_kms_encryption_contexts_are_bound_to_the_data_key() {
    use aws_sdk_s3::types::ServerSideEncryption::AwsKms;
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let bao = OpenBao::start().await;
    bao.enable_transit("souverain").await;
    let gw = transit_gateway(&bao.address(), &root_auth(), "").await;
    let c = &gw.client;
    c.create_bucket().bucket("ctx").send().await.unwrap();
    let put = |key: &str, context: &str| {
        c.put_object().bucket("ctx").key(key).server_side_encryption(AwsKms).ssekms_encryption_context(context)
    };
    let ledger = b64(r#"{"team":"ledger","case":"2026-17"}"#);
    let canonical = b64(r#"{"case":"2026-17","team":"ledger"}"#);
    let out = put("bound", &ledger).body(b"ledger lines".to_vec().into()).send().await.unwrap();
    assert_eq!(out.ssekms_encryption_context(), Some(canonical.as_str()));
    assert_eq!(get(&gw, "ctx", "bound").await, b"ledger lines");
    let listed = crate::common::listed_keys(c, "ctx").await;
    let refused = [
        ("not base64!".to_owned(), true),
        (b64(r#"{"n": 1}"#), true),
        (b64(r#"{"aws:s3:arn": "arn:aws:s3:::ctx/bound"}"#), true),
        (ledger.clone(), false),
    ];
    for (context, with_kms) in refused {
        let mut req = c.put_object().bucket("ctx").key("refused").ssekms_encryption_context(&context);
        if with_kms {
            req = req.server_side_encryption(AwsKms);
        }
        let e = req.body(b"no".to_vec().into()).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")), "{context}");
    }
    assert_eq!(crate::common::listed_keys(c, "ctx").await, listed, "the refused writes stored nothing");

    // A copy answers with its own context; without one it has none.
    let audit = b64(r#"{"team":"audit"}"#);
    let copy =
        |key: &str| c.copy_object().bucket("ctx").key(key).copy_source("ctx/bound").server_side_encryption(AwsKms);
    let copied = copy("copy").ssekms_encryption_context(&audit).send().await.unwrap();
    assert_eq!(copied.ssekms_encryption_context(), Some(audit.as_str()));
    let plain_copy = copy("plain-copy").send().await.unwrap();
    assert_eq!(plain_copy.ssekms_encryption_context(), None, "the source's context is not carried over");
    for key in ["copy", "plain-copy"] {
        assert_eq!(get(&gw, "ctx", key).await, b"ledger lines", "{key}");
    }
    // A multipart upload's context holds for the object it becomes.
    let mpu = c
        .create_multipart_upload()
        .bucket("ctx")
        .key("parts")
        .server_side_encryption(AwsKms)
        .ssekms_encryption_context(&audit)
        .send()
        .await
        .unwrap();
    assert_eq!(mpu.ssekms_encryption_context(), Some(audit.as_str()));
    let id = mpu.upload_id().unwrap();
    let part = c.upload_part().bucket("ctx").key("parts").upload_id(id).part_number(1);
    let etag = part.body(b"one part".to_vec().into()).send().await.unwrap().e_tag().unwrap().to_owned();
    let done = aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(etag).build();
    let parts = aws_sdk_s3::types::CompletedMultipartUpload::builder().parts(done).build();
    c.complete_multipart_upload()
        .bucket("ctx")
        .key("parts")
        .upload_id(id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&gw, "ctx", "parts").await, b"one part");

    // The context is part of what the wrapping authenticates: changed or dropped in the
    // store, the data key no longer opens; put back, it does.
    let meta = gw.meta();
    let bucket = meta.bucket(&souverain::model::BucketName::parse("ctx").unwrap()).await.unwrap().unwrap();
    let key = souverain::model::ObjectKey::parse("bound").unwrap();
    let version = meta.current(bucket.uid, &key).await.unwrap().unwrap().version_uid;
    let stored = meta.dek(version).await.unwrap().unwrap();
    assert_eq!(stored.context.as_ref().map(souverain::model::KmsContext::to_header), Some(canonical.clone()));
    let forged = souverain::model::KmsContext::from_header(&b64(r#"{"case":"2026-18","team":"ledger"}"#)).unwrap();
    let rewrap = |expected: &souverain::model::WrappedKey, context: Option<souverain::model::KmsContext>| {
        let new = souverain::model::WrappedKey { context, ..expected.clone() };
        let expected = expected.clone();
        souverain::meta::DekRewrap::Version { bucket: bucket.uid, key: "bound".into(), version, expected, new }
    };
    let mut current = stored.clone();
    for changed in [forged, None] {
        assert!(meta.rewrap_dek(rewrap(&current, changed.clone())).await.unwrap());
        current = souverain::model::WrappedKey { context: changed, ..current };
        let e = c.get_object().bucket("ctx").key("bound").send().await.unwrap_err();
        assert_eq!(error_status(&e), Some(500), "{:?}", current.context);
    }
    assert!(meta.rewrap_dek(rewrap(&current, stored.context.clone())).await.unwrap());
    assert_eq!(get(&gw, "ctx", "bound").await, b"ledger lines");

    // Rotation rewraps under the new KEK version and keeps the context bound.
    let r = gw.admin_send("POST", "/admin/v1/keys/rotate", serde_json::json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body_text());
    wait_job_done(&gw, "rotation").await;
    let rotated = meta.dek(version).await.unwrap().unwrap();
    assert_eq!((rotated.kek_version, rotated.context), (2, stored.context));
    assert_eq!(get(&gw, "ctx", "bound").await, b"ledger lines");
    gw.stop().await;
}
