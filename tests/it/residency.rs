//! Residency at run time: the admin API and CLI change the catalog, policies and bindings; the
//! evacuation job moves replicas that break policy while reads go on; the audit log records
//! every change in a hash chain that detects tampering.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use souverain::meta::MetaError;
use souverain::meta::kv::{Cf, KvPairs};

use crate::common::raw::send;
use crate::common::{TestGateway, body_bytes, client, pattern};

/// Runs `souverain admin --url <admin> <args>` with the test token; (success, stdout, stderr).
async fn cli(gw: &TestGateway, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--url".to_owned(), format!("http://{}", gw.admin_addr())];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    crate::common::admin_cli(all).await
}

/// An admin API request with the test token: (status, body).
async fn admin(gw: &TestGateway, method: &str, path: &str, body: &str) -> (u16, String) {
    crate::common::admin_request(gw.admin_addr(), method, path, body).await
}

/// Creates `bucket` bound to a policy `pair`: two replicas in two countries, W = `w`.
async fn pair_bucket(gw: &TestGateway, c: &aws_sdk_s3::Client, bucket: &str, w: u8) {
    let pair = format!(r#"{{"id":"pair","replicas":2,"write_quorum":{w},"min_distinct_countries":2}}"#);
    assert_eq!(admin(gw, "PUT", "/admin/v1/policies/pair", &pair).await.0, 200);
    let conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from("pair"))
        .build();
    c.create_bucket().bucket(bucket).create_bucket_configuration(conf).send().await.unwrap();
}

/// The providers holding `bucket/key` (first stream), with the policy's verdict on each.
async fn holders(gw: &TestGateway, bucket: &str, key: &str) -> Vec<(String, bool)> {
    let v = gw.admin_json(&format!("/admin/v1/locations/{bucket}/{key}")).await;
    v["streams"][0]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["provider"].as_str().unwrap().to_owned(), r["allowed"].as_bool().unwrap()))
        .collect()
}

/// Promise: when an admin changes a provider's attributes so that it breaks policy (its
/// parent becomes US-owned), the evacuation job moves every affected replica to an allowed
/// provider while GETs keep returning the right bytes; afterwards "where is my data" shows
/// only allowed providers, the old provider holds none of the objects, and the audit log has
/// the change and every move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_breaking_policy_is_evacuated_while_reads_go_on() {
    let gw = TestGateway::start_with(|t| t.replace("gc_interval_secs = 3600", "gc_interval_secs = 1")).await;
    let c = client(gw.addr);
    // Two replicas in two countries, out of three providers: room to move.
    let (status, body) = admin(
        &gw,
        "PUT",
        "/admin/v1/policies/pair",
        r#"{"id":"pair","replicas":2,"write_quorum":2,"min_distinct_countries":2}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from("pair"))
        .build();
    c.create_bucket().bucket("pairs").create_bucket_configuration(conf).send().await.unwrap();
    let objects: Vec<Vec<u8>> = (0..12).map(|i| pattern(40_000 + i * 1000, i as u64)).collect();
    for (i, data) in objects.iter().enumerate() {
        c.put_object().bucket("pairs").key(format!("k{i}")).body(data.clone().into()).send().await.unwrap();
    }
    let before = holders(&gw, "pairs", "k0").await;
    assert_eq!(before.len(), 2);
    let leaving = before[0].0.clone();
    let staying = before[1].0.clone();
    let leaving_index = ["local-de", "local-fr", "local-nl"].iter().position(|p| *p == leaving).unwrap();

    // Reads run throughout the move.
    let reader = {
        let c = c.clone();
        let objects = objects.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                for (i, data) in objects.iter().enumerate() {
                    let got =
                        body_bytes(c.get_object().bucket("pairs").key(format!("k{i}")).send().await.unwrap()).await;
                    assert!(got == *data, "k{i} read wrong bytes during the evacuation");
                    reads += 1;
                }
            }
            reads
        })
    };
    let update = r#"{"jurisdictions":["US"],"exposures":["us-cloud-act"]}"#;
    let (status, body) = admin(&gw, "PUT", &format!("/admin/v1/providers/{leaving}"), update).await;
    assert_eq!(status, 200, "{body}");
    let explain = gw.admin_json("/admin/v1/placement/explain?bucket=pairs").await;
    let verdict = explain["providers"].as_array().unwrap().iter().find(|p| p["provider"] == leaving.as_str()).unwrap();
    assert!(verdict["violations"].to_string().contains("jurisdiction US not allowed"), "{verdict}");

    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let job = gw.admin_json("/admin/v1/jobs/evacuation").await;
        let all_moved = job["state"] == "done" && job["moved"].as_u64() == Some(12);
        if all_moved {
            assert_eq!(job["failed"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "evacuation did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(reader.await.unwrap() > 0);
    for (i, data) in objects.iter().enumerate() {
        let now = holders(&gw, "pairs", &format!("k{i}")).await;
        assert!(now.iter().all(|(p, allowed)| *allowed && *p != leaving), "k{i}: {now:?}");
        assert!(now.iter().any(|(p, _)| *p == staying), "k{i} kept its allowed replica: {now:?}");
        assert_eq!(now.len(), 2);
        let got = body_bytes(c.get_object().bucket("pairs").key(format!("k{i}")).send().await.unwrap()).await;
        assert!(got == *data);
    }
    // The old replicas are deleted by the garbage collector's queue (decided in each move).
    let old_root = &gw.providers.roots[leaving_index];
    let deadline = Instant::now() + Duration::from_secs(30);
    while gw.stream_files().into_iter().any(|(p, _)| p.starts_with(old_root)) {
        assert!(Instant::now() < deadline, "the old provider still holds replicas");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(gw.metric_sum("souverain_evacuation_moves_total", &["outcome=\"moved\""]).await, 12);
    let log = gw.admin_text("/admin/v1/audit").await;
    let actions: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(actions.contains(&"policy.put".to_owned()) && actions.contains(&"bucket.create".to_owned()));
    assert!(actions.contains(&"provider.update".to_owned()));
    assert_eq!(actions.iter().filter(|a| *a == "evacuation.move").count(), 12);
    gw.stop().await;
}

/// Promise: a retired provider takes no new replicas and its replicas move away; a policy
/// change that would leave a bound bucket unplaceable is refused (409) and changes nothing;
/// bad input gets 400 naming the field, unknown providers 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retirement_and_refused_changes() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    pair_bucket(&gw, &c, "retire", 2).await;
    c.put_object().bucket("retire").key("k").body(pattern(10_000, 1).into()).send().await.unwrap();
    let first = holders(&gw, "retire", "k").await[0].0.clone();
    let (status, body) = admin(&gw, "PUT", &format!("/admin/v1/providers/{first}"), r#"{"retired":true}"#).await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while holders(&gw, "retire", "k").await.iter().any(|(p, _)| *p == first) {
        assert!(Instant::now() < deadline, "the retired provider kept its replica");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.put_object().bucket("retire").key("new").body(pattern(10_000, 2).into()).send().await.unwrap();
    assert!(holders(&gw, "retire", "new").await.iter().all(|(p, _)| *p != first), "no new replica on it");

    // Three countries would need the retired provider: refused, and the policy is unchanged.
    let three = r#"{"id":"pair","replicas":3,"write_quorum":2,"min_distinct_countries":3}"#;
    let (status, body) = admin(&gw, "PUT", "/admin/v1/policies/pair", three).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("bucket retire"), "{body}");
    let policies = gw.admin_json("/admin/v1/policies").await;
    let pair_now = policies.as_array().unwrap().iter().find(|p| p["id"] == "pair").unwrap().clone();
    assert_eq!(pair_now["replicas"], 2);

    let (status, body) = admin(&gw, "PUT", "/admin/v1/providers/local-de", r#"{"country":"Germany"}"#).await;
    assert_eq!((status, body.contains("country")), (400, true), "{body}");
    let (status, body) = admin(&gw, "PUT", "/admin/v1/providers/local-de", r#"{"colour":"blue"}"#).await;
    assert_eq!((status, body.contains("colour")), (400, true), "{body}");
    assert_eq!(admin(&gw, "PUT", "/admin/v1/providers/nowhere", r#"{"retired":true}"#).await.0, 404);
    let bad_policy = r#"{"id":"pair","replicas":2,"write_quorum":3}"#;
    let (status, body) = admin(&gw, "PUT", "/admin/v1/policies/pair", bad_policy).await;
    assert_eq!((status, body.contains("write_quorum")), (400, true), "{body}");
    gw.stop().await;
}

/// Promise: the audit log is exported as JSON lines by `souverain admin audit export`, and
/// `souverain admin audit verify --file` accepts the intact export and reports an edited, a
/// removed and a reordered record (exit non-zero, naming the line); the live log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_export_detects_edits_removals_and_reorders() {
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    for b in ["audit-a", "audit-b", "audit-c"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    let (ok, _, err) = cli(&gw, &["bucket", "bind", "audit-b", "three-countries"]).await;
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &gw,
        &[
            "provider",
            "set",
            "local-nl",
            "--set",
            r#"{"certifications":[{"scheme":"iso27001","valid_until":"2030-01-01"}]}"#,
        ],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, export, err) = cli(&gw, &["audit", "export"]).await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 6, "the audit key, three creations, a binding, a provider change:\n{export}");
    let dir = tempfile::tempdir().unwrap();
    let gw = &gw;
    let verify = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.display().to_string();
        async move { cli(gw, &["audit", "verify", "--file", &path]).await }
    };
    let (ok, out, _) = verify("intact.jsonl", export.clone()).await;
    assert!(ok && out.contains("6 records, chain intact"), "{out}");

    let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    assert!(edited[4].contains("three-countries"), "the fifth record is the binding");
    edited[4] = edited[4].replace("three-countries", "eu-default");
    let (ok, out, _) = verify("edited.jsonl", edited.join("\n")).await;
    assert!(!ok && out.contains("line 5") && out.contains("edited"), "{out}");

    let mut removed: Vec<&str> = lines.clone();
    removed.remove(1);
    let (ok, out, _) = verify("removed.jsonl", removed.join("\n")).await;
    assert!(!ok && out.contains("line 2") && out.contains("removed or reordered"), "{out}");

    let mut reordered: Vec<&str> = lines.clone();
    reordered.swap(4, 5);
    let (ok, out, _) = verify("reordered.jsonl", reordered.join("\n")).await;
    assert!(!ok && out.contains("line 5"), "{out}");

    let (ok, out, err) = cli(gw, &["audit", "verify"]).await;
    assert!(ok && out.contains("\"intact\": true") && out.contains("\"records\": 6"), "{out}{err}");
}

/// Promise: the admin CLI covers the residency workflow end to end (provider list as a table,
/// policy apply from a TOML file, bucket bind, the evacuation job followed to its end with
/// plain progress lines off a terminal; the scrubber's pass likewise) with clear one-line errors; the S3 listener does not
/// serve admin paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_residency_workflow() {
    let gw = TestGateway::start().await;
    let (ok, table, err) = cli(&gw, &["provider", "list"]).await;
    assert!(ok, "{err}");
    assert!(table.starts_with("ID") && table.contains("local-de") && table.contains("DE"), "{table}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policies.toml");
    std::fs::write(
        &file,
        "[[policy]]\nid = \"nl-fr\"\nallowed_countries = [\"NL\", \"FR\"]\nreplicas = 2\nwrite_quorum = 1\n",
    )
    .unwrap();
    let (ok, out, err) = cli(&gw, &["policy", "apply", "-f", file.to_str().unwrap()]).await;
    assert!(ok && out.contains("policy nl-fr: applied"), "{out}{err}");
    let c = client(gw.addr);
    c.create_bucket().bucket("moving").send().await.unwrap();
    c.put_object().bucket("moving").key("k").body(pattern(5_000, 3).into()).send().await.unwrap();
    let (ok, _, err) = cli(&gw, &["bucket", "bind", "moving", "nl-fr"]).await;
    assert!(ok, "{err}");
    let (ok, progress, err) = cli(&gw, &["jobs", "evacuation", "--wait"]).await;
    assert!(ok, "{progress}{err}");
    assert!(progress.lines().last().is_some_and(|l| l.starts_with("100% done")), "{progress}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held: BTreeSet<String> = holders(&gw, "moving", "k").await.into_iter().map(|(p, _)| p).collect();
        if held == BTreeSet::from(["local-fr".to_owned(), "local-nl".to_owned()]) {
            break;
        }
        assert!(Instant::now() < deadline, "still on {held:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, scrub, err) = cli(&gw, &["jobs", "scrub", "--wait"]).await;
    assert!(
        ok && scrub.lines().last().is_some_and(|l| l.starts_with("100% done") && l.contains("replicas checked")),
        "{scrub}{err}"
    );
    let (ok, _, err) = cli(&gw, &["bucket", "bind", "moving", "no-such-policy"]).await;
    assert!(!ok && err.trim() == "souverain: 400: no such policy", "{err}");
    // The S3 listener knows no admin path: an S3 error (here the unsigned request names a
    // bucket `admin` that does not exist), never the admin API's JSON.
    let s3 = send(gw.addr, "GET", "/admin/v1/providers", &[("host".into(), gw.addr.to_string())], b"").await.unwrap();
    assert_eq!(s3.status, 404, "{}", s3.body_text());
    assert!(s3.body_text().contains("<Code>NoSuchBucket</Code>") && !s3.body_text().contains('{'));
    gw.stop().await;
}

/// Promise (issue 18 item 4): a provider excluded while a multipart upload is open receives
/// no further part (each part is placed when it arrives), and the parts it already holds are
/// off the object's replica list when the upload completes: the copies there are deleted, the
/// replicas recreated at allowed providers, and the object reads back byte-exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_uploads_follow_a_residency_change() {
    let gw = TestGateway::start_with(|t| t.replace("gc_interval_secs = 3600", "gc_interval_secs = 1")).await;
    let c = client(gw.addr);
    pair_bucket(&gw, &c, "mpu", 1).await;
    let parts: Vec<Vec<u8>> = vec![pattern(5 << 20, 1), pattern(300_000, 2)];
    let up = c.create_multipart_upload().bucket("mpu").key("big").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let mut etags = Vec::new();
    let first = c.upload_part().bucket("mpu").key("big").upload_id(&id).part_number(1);
    etags.push(first.body(parts[0].clone().into()).send().await.unwrap().e_tag().unwrap().to_owned());
    let first_stream = {
        let listed = gw.stream_files();
        assert_eq!(listed.len(), 2, "part 1 on two providers");
        listed[0].0.file_name().unwrap().to_string_lossy().into_owned()
    };
    let holders_of = |name: &str| -> Vec<usize> {
        let files = gw.stream_files();
        (0..3)
            .filter(|i| files.iter().any(|(p, _)| p.starts_with(&gw.providers.roots[*i]) && p.ends_with(name)))
            .collect()
    };
    let before = holders_of(&first_stream);
    let leaving = ["local-de", "local-fr", "local-nl"][before[0]];
    let update = r#"{"jurisdictions":["US"],"exposures":["us-cloud-act"]}"#;
    assert_eq!(admin(&gw, "PUT", &format!("/admin/v1/providers/{leaving}"), update).await.0, 200);
    let second = c.upload_part().bucket("mpu").key("big").upload_id(&id).part_number(2);
    etags.push(second.body(parts[1].clone().into()).send().await.unwrap().e_tag().unwrap().to_owned());
    let leaving_root = gw.providers.roots[before[0]].clone();
    // (Part 1's copy there may already be moved by the evacuation job the change started.)
    let on_leaving: Vec<_> = gw.stream_files().into_iter().filter(|(p, _)| p.starts_with(&leaving_root)).collect();
    assert!(on_leaving.iter().all(|(p, _)| p.ends_with(&first_stream)), "part 2 was not sent to {leaving}");
    let done: Vec<aws_sdk_s3::types::CompletedPart> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| aws_sdk_s3::types::CompletedPart::builder().part_number(i as i32 + 1).e_tag(e).build())
        .collect();
    let list = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    c.complete_multipart_upload().bucket("mpu").key("big").upload_id(&id).multipart_upload(list).send().await.unwrap();
    let located = gw.admin_json("/admin/v1/locations/mpu/big").await;
    for s in located["streams"].as_array().unwrap() {
        let replicas = s["replicas"].as_array().unwrap();
        assert_eq!(replicas.len(), 2, "{s}");
        assert!(
            replicas.iter().all(|r| r["provider"] != leaving && r["allowed"] == true),
            "visible off {leaving}: {s}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while gw.stream_files().into_iter().any(|(p, _)| p.starts_with(&leaving_root)) {
        assert!(Instant::now() < deadline, "the part's copy at {leaving} was not deleted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = body_bytes(c.get_object().bucket("mpu").key("big").send().await.unwrap()).await;
    assert!(got == [parts[0].clone(), parts[1].clone()].concat(), "the object reads back");
    gw.stop().await;
}

/// Promise (issue 18 item 4): the evacuation job also moves the parts of open multipart
/// uploads. A part stored on a provider that is then excluded is copied to an allowed one and
/// deleted there while the upload stays open (an upload that is never completed keeps no
/// ciphertext outside policy); the move is in the audit log; the completed object reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evacuation_moves_parts_of_open_uploads() {
    let gw = TestGateway::start_with(|t| t.replace("gc_interval_secs = 3600", "gc_interval_secs = 1")).await;
    let c = client(gw.addr);
    pair_bucket(&gw, &c, "open", 2).await;
    let data = pattern(1 << 20, 7);
    let up = c.create_multipart_upload().bucket("open").key("pending").send().await.unwrap();
    let id = up.upload_id().unwrap().to_owned();
    let part = c.upload_part().bucket("open").key("pending").upload_id(&id).part_number(1);
    let etag = part.body(data.clone().into()).send().await.unwrap().e_tag().unwrap().to_owned();
    let files = gw.stream_files();
    assert_eq!(files.len(), 2, "the part on two providers");
    let name = files[0].0.file_name().unwrap().to_owned();
    let holders = || -> Vec<usize> {
        let files = gw.stream_files();
        (0..3).filter(|i| files.iter().any(|(p, _)| p.starts_with(&gw.providers.roots[*i]))).collect()
    };
    let before = holders();
    let leaving = ["local-de", "local-fr", "local-nl"][before[0]];
    let update = r#"{"jurisdictions":["US"],"exposures":["us-cloud-act"]}"#;
    assert_eq!(admin(&gw, "PUT", &format!("/admin/v1/providers/{leaving}"), update).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = holders();
        if now.len() == 2 && !now.contains(&before[0]) {
            break;
        }
        assert!(Instant::now() < deadline, "the open upload's part is still at {leaving}: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gw.stream_files().iter().all(|(p, _)| p.file_name() == Some(&name)), "one stream, moved");
    let audit = gw.admin_text("/admin/v1/audit").await;
    assert!(audit.contains("evacuation.move") && audit.contains("\\\"part\\\":1"), "{audit}");
    let list = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(etag).build())
        .build();
    c.complete_multipart_upload()
        .bucket("open")
        .key("pending")
        .upload_id(&id)
        .multipart_upload(list)
        .send()
        .await
        .unwrap();
    let got = body_bytes(c.get_object().bucket("open").key("pending").send().await.unwrap()).await;
    assert!(got == data, "the object reads back");
    let located = gw.admin_json("/admin/v1/locations/open/pending").await;
    let replicas = located["streams"][0]["replicas"].as_array().unwrap().clone();
    assert!(replicas.len() == 2 && replicas.iter().all(|r| r["provider"] != leaving), "{located}");
    gw.stop().await;
}

/// RocksDB whose scans of the catalog family (the admin's stored providers, policies and bucket
/// KEKs) take 1.5 s each: a slow metadata store.
struct SlowCatalog(souverain::meta::rocks::RocksEngine);

impl souverain::meta::kv::KvEngine for SlowCatalog {
    type Txn<'a> = <souverain::meta::rocks::RocksEngine as souverain::meta::kv::KvEngine>::Txn<'a>;

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        self.0.get(cf, key)
    }

    fn write(&self, ops: Vec<souverain::meta::kv::KvOp>) -> Result<(), MetaError> {
        self.0.write(ops)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        if matches!(cf, Cf::Catalog) {
            std::thread::sleep(Duration::from_millis(1500));
        }
        self.0.scan(cf, start, end, limit)
    }

    fn begin(&self, locks: &[souverain::meta::kv::TxnLock]) -> Result<Self::Txn<'_>, MetaError> {
        self.0.begin(locks)
    }
}

/// Promise (issue 18 item 6): a restarted gateway serves no request before the admin's stored
/// changes are loaded. The admin retired provider `local-nl` and cut the default policy to two
/// replicas; the gateway restarts on a slow metadata store while a client PUTs from the first
/// moment: no PUT lands on `local-nl`, and every stored object has exactly the two replicas
/// the stored policy asks for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_is_served_before_the_stored_catalog_is_loaded() {
    use souverain::app::{start, start_on};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = crate::common::Providers::start(dir.path());
    let s3: std::net::SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let text = crate::common::config_text(dir.path(), &s3.to_string(), "rocksdb", &providers);
    let config = || souverain::config::Config::parse(&text, dir.path()).unwrap();
    let first = start(config()).await.unwrap();
    let admin = first.admin_addr.unwrap();
    let two = r#"{"id":"eu-default","replicas":2,"write_quorum":2}"#;
    assert_eq!(crate::common::admin_request(admin, "PUT", "/admin/v1/policies/eu-default", two).await.0, 200);
    let retire = r#"{"retired":true}"#;
    assert_eq!(crate::common::admin_request(admin, "PUT", "/admin/v1/providers/local-nl", retire).await.0, 200);
    client(first.s3_addr).create_bucket().bucket("held").send().await.unwrap();
    first.shutdown().await;
    let nl_files = || walk_files(&providers.roots[2]);
    let before = nl_files();

    // PUTs from the first moment of the restart (each retried at once while refused).
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut stored = Vec::new();
            for i in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (key, body) = (format!("/held/k{i}"), pattern(1000, i));
                let mut headers = vec![("content-length".to_owned(), body.len().to_string())];
                let signer = crate::common::raw::Signer::new(std::time::SystemTime::now());
                signer.sign("PUT", &key, &[], &mut headers, &s3.to_string(), &crate::common::raw::sha256_hex(&body));
                match send(s3, "PUT", &key, &headers, &body).await {
                    Ok(r) if r.status == 200 => stored.push(key),
                    _ => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
            stored
        })
    };
    let engine = crate::common::open_rocks_when_released(&dir.path().join("meta")).await;
    let meta = Arc::new(souverain::meta::store::KvMetadataStore::new(SlowCatalog(engine)).await.unwrap());
    let second = start_on(config(), meta).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let stored = hammer.await.unwrap();
    assert!(!stored.is_empty(), "the restarted gateway serves PUTs");
    let landed = nl_files().difference(&before).count();
    assert_eq!(landed, 0, "files written to the retired provider during the restart");
    let c = client(second.s3_addr);
    for key in [&stored[0], &stored[stored.len() - 1]] {
        let key = key.trim_start_matches("/held/");
        let head = c.head_object().bucket("held").key(key).send().await.unwrap();
        assert_eq!(head.content_length(), Some(1000));
        let (_, loc) = crate::common::admin_request(
            second.admin_addr.unwrap(),
            "GET",
            &format!("/admin/v1/locations/held/{key}"),
            "",
        )
        .await;
        let loc: serde_json::Value = serde_json::from_str(&loc).unwrap();
        let replicas: BTreeSet<&str> =
            loc["streams"][0]["replicas"].as_array().unwrap().iter().filter_map(|r| r["provider"].as_str()).collect();
        assert_eq!(replicas, BTreeSet::from(["local-de", "local-fr"]), "{key}: {loc}");
    }
    second.shutdown().await;
}

/// Every file under `root`.
fn walk_files(root: &std::path::Path) -> BTreeSet<std::path::PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p);
            }
        }
    }
    out
}

/// Promise: no version escapes a residency change: a retired provider's replicas of noncurrent
/// versions and of a version hidden behind a delete marker move away too, and every version
/// still reads back byte-exact from where `locate` says it now lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evacuation_moves_every_version() {
    use crate::versioning::{get, put, set_versioning};
    let gw = TestGateway::start().await;
    let c = client(gw.addr);
    pair_bucket(&gw, &c, "history", 2).await;
    set_versioning(&c, "history", aws_sdk_s3::types::BucketVersioningStatus::Enabled).await;
    let mut ids = Vec::new();
    for i in 0..3u64 {
        ids.push((put(&c, "history", "k", &pattern(5_000, i)).await.unwrap(), pattern(5_000, i)));
    }
    c.delete_object().bucket("history").key("k").send().await.unwrap();
    let located = |id: String| {
        let gw = &gw;
        async move {
            let v = gw.admin_json(&format!("/admin/v1/locations/history/k?versionId={id}")).await;
            assert_eq!(v["version_id"].as_str(), Some(id.as_str()), "{v}");
            let replicas = v["streams"][0]["replicas"].as_array().unwrap().clone();
            replicas.iter().map(|r| r["provider"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    let first = located(ids[0].0.clone()).await[0].clone();
    let (status, body) = admin(&gw, "PUT", &format!("/admin/v1/providers/{first}"), r#"{"retired":true}"#).await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    for (id, _) in &ids {
        while located(id.clone()).await.contains(&first) {
            assert!(Instant::now() < deadline, "version {id} kept its replica at the retired provider");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (id, body) in &ids {
        assert!(get(&c, "history", "k", Some(id)).await.0 == *body, "version {id} reads back");
    }
    gw.stop().await;
}
