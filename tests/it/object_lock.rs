//! Object Lock through aws-sdk-s3 (docs/object-lock.md): each way an S3 client can remove or
//! shorten a protected version × GOVERNANCE, COMPLIANCE and legal hold × with and without
//! bypass, with the exact status and proof that nothing was removed (the version reads back,
//! no deletion is queued).

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    BucketVersioningStatus, DefaultRetention, Delete, ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled,
    ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
    ObjectLockRule, VersioningConfiguration,
};

use crate::common::{TestGateway, client_with, error_code, error_status};

/// A user with read and write grants on the locked bucket, who does not own it.
const WRITER: (&str, &str) = ("lock-writer", "lock-writer-secret-0123456789");

fn in_an_hour() -> DateTime {
    DateTime::from_secs(DateTime::from(std::time::SystemTime::now()).secs() + 3600)
}

async fn put_locked(c: &Client, key: &str, mode: Option<ObjectLockMode>, hold: bool) -> String {
    let mut req = c.put_object().bucket("locked").key(key).body(format!("body of {key}").into_bytes().into());
    if let Some(m) = mode {
        req = req.object_lock_mode(m).object_lock_retain_until_date(in_an_hour());
    }
    if hold {
        req = req.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On);
    }
    req.send().await.unwrap().version_id().unwrap().to_owned()
}

/// The version reads back with its bytes: it was not removed.
async fn still_there(c: &Client, key: &str, id: &str) {
    let got = c.get_object().bucket("locked").key(key).version_id(id).send().await.unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), format!("body of {key}").as_bytes(), "{key} {id}");
}

async fn delete_version(c: &Client, key: &str, id: &str, bypass: bool) -> Result<(), (Option<u16>, Option<String>)> {
    let mut req = c.delete_object().bucket("locked").key(key).version_id(id);
    if bypass {
        req = req.bypass_governance_retention(true);
    }
    req.send().await.map(|_| ()).map_err(|e| (error_status(&e), error_code(&e)))
}

async fn set_retention(
    c: &Client,
    key: &str,
    id: &str,
    mode: ObjectLockRetentionMode,
    secs: i64,
    bypass: bool,
) -> Option<u16> {
    let until = DateTime::from_secs(DateTime::from(std::time::SystemTime::now()).secs() + secs);
    let retention = ObjectLockRetention::builder().mode(mode).retain_until_date(until).build();
    let mut req = c.put_object_retention().bucket("locked").key(key).version_id(id).retention(retention);
    if bypass {
        req = req.bypass_governance_retention(true);
    }
    req.send().await.err().and_then(|e| error_status(&e))
}

/// Promise: a version under COMPLIANCE retention or a legal hold cannot be deleted by anyone,
/// the bucket's owner with bypass neither; under GOVERNANCE only by a principal allowed to
/// bypass who asks to; every refusal is 403 AccessDenied (DeleteObject and DeleteObjects
/// alike) and removes nothing; a DELETE without a version id only adds a delete marker;
/// retention is extended by anyone, shortened only in GOVERNANCE with bypass, never in
/// COMPLIANCE; versioning cannot be suspended; a bucket's default retention protects new
/// versions; reads show the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_versions_survive_every_s3_removal() {
    let gw = TestGateway::start_with(|text| {
        text + &format!(
            "\n[[access_key]]\nid = \"{}\"\nsecret = \"{}\"\nuser = \"lock-writer\"\ngrants = {{ locked = \"read,write\" }}\n",
            WRITER.0, WRITER.1
        )
    })
    .await;
    let c = &gw.client;
    let writer = client_with(gw.addr, WRITER.0, WRITER.1);
    c.create_bucket().bucket("locked").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let v = c.get_bucket_versioning().bucket("locked").send().await.unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled), "Object Lock enables versioning");
    let conf = c.get_object_lock_configuration().bucket("locked").send().await.unwrap();
    let conf = conf.object_lock_configuration().unwrap();
    assert_eq!((conf.object_lock_enabled(), conf.rule()), (Some(&ObjectLockEnabled::Enabled), None));
    let suspend = VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build();
    let e = c.put_bucket_versioning().bucket("locked").versioning_configuration(suspend).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(409), Some("InvalidBucketState")));

    let gov = put_locked(c, "gov", Some(ObjectLockMode::Governance), false).await;
    let comp = put_locked(c, "comp", Some(ObjectLockMode::Compliance), false).await;
    let hold = put_locked(c, "hold", None, true).await;
    let free = put_locked(c, "free", None, false).await;
    let stored = gw.stream_files();
    assert_eq!(stored.len(), 4 * 3, "four versions, three replicas each");
    let head = c.head_object().bucket("locked").key("comp").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert!(head.object_lock_retain_until_date().is_some());
    let head = c.head_object().bucket("locked").key("hold").send().await.unwrap();
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));

    let denied = Err((Some(403), Some("AccessDenied".to_owned())));
    for (key, id) in [("gov", &gov), ("comp", &comp), ("hold", &hold)] {
        assert_eq!(delete_version(c, key, id, false).await, denied, "{key} without bypass");
        assert_eq!(delete_version(&writer, key, id, true).await, denied, "{key}: the writer may not bypass");
        let ids = ObjectIdentifier::builder().key(key).version_id(id.as_str()).build().unwrap();
        let delete = Delete::builder().objects(ids).build().unwrap();
        let out = c.delete_objects().bucket("locked").delete(delete).send().await.unwrap();
        assert_eq!(out.errors().len(), 1, "{key}");
        assert_eq!(out.errors()[0].code(), Some("AccessDenied"), "{key}");
        still_there(c, key, id).await;
    }
    for (key, id) in [("comp", &comp), ("hold", &hold)] {
        assert_eq!(delete_version(c, key, id, true).await, denied, "{key}: no bypass opens it, the owner's neither");
        still_there(c, key, id).await;
    }
    let marker = c.delete_object().bucket("locked").key("comp").send().await.unwrap();
    assert_eq!(marker.delete_marker(), Some(true), "a marker hides a locked version, it does not remove it");
    still_there(c, "comp", &comp).await;
    let deletions = gw.admin_json("/admin/v1/deletions").await;
    assert_eq!(deletions["tasks"].as_array().map(Vec::len), Some(0), "nothing queued for deletion: {deletions}");
    let now = gw.stream_files();
    for replica in &stored {
        assert!(now.contains(replica), "every replica's ciphertext is still at its provider: {:?}", replica.0);
    }

    // Retention changes.
    use ObjectLockRetentionMode::{Compliance, Governance};
    assert_eq!(set_retention(c, "comp", &comp, Compliance, 60, true).await, Some(403), "compliance never shortens");
    assert_eq!(set_retention(c, "comp", &comp, Governance, 7200, true).await, Some(403), "nor weakens");
    assert_eq!(set_retention(c, "comp", &comp, Compliance, 7200, false).await, None, "but extends");
    assert_eq!(set_retention(c, "gov", &gov, Governance, 60, false).await, Some(403));
    assert_eq!(set_retention(c, "gov", &gov, Governance, 60, true).await, None, "governance shortens with bypass");
    let r = c.get_object_retention().bucket("locked").key("comp").version_id(&comp).send().await.unwrap();
    let until = r.retention().unwrap().retain_until_date().unwrap().secs();
    assert!(until > DateTime::from(std::time::SystemTime::now()).secs() + 7000, "extended: {until}");

    // Bypass by the owner opens governance; lifting the hold opens the held version.
    assert_eq!(delete_version(c, "gov", &gov, true).await, Ok(()));
    let off = ObjectLockLegalHold::builder().status(ObjectLockLegalHoldStatus::Off).build();
    c.put_object_legal_hold().bucket("locked").key("hold").version_id(&hold).legal_hold(off).send().await.unwrap();
    assert_eq!(delete_version(&writer, "hold", &hold, false).await, Ok(()));
    assert_eq!(delete_version(&writer, "free", &free, false).await, Ok(()));

    // A default retention protects what is written after it.
    let rule = ObjectLockRule::builder()
        .default_retention(DefaultRetention::builder().mode(Governance).days(1).build())
        .build();
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build();
    c.put_object_lock_configuration().bucket("locked").object_lock_configuration(conf).send().await.unwrap();
    let later = put_locked(c, "later", None, false).await;
    let head = c.head_object().bucket("locked").key("later").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert_eq!(delete_version(c, "later", &later, false).await, denied);
    still_there(c, "later", &later).await;

    // Without Object Lock on the bucket: its calls are refused.
    c.create_bucket().bucket("plain").send().await.unwrap();
    let e = c.get_object_lock_configuration().bucket("plain").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("ObjectLockConfigurationNotFoundError"));
    let e = c
        .put_object()
        .bucket("plain")
        .key("k")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_an_hour())
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidRequest")));
    let conf = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
    let e = c.put_object_lock_configuration().bucket("plain").object_lock_configuration(conf).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(409), Some("InvalidBucketState")));
    gw.stop().await;
}

/// Promise: the `x-amz-object-lock-*` headers of CreateMultipartUpload lock the object that
/// CompleteMultipartUpload makes (a COMPLIANCE retention and a legal hold, shown on HEAD, the
/// version's deletion refused 403 and its bytes intact); a date in the past or a bucket
/// without Object Lock is refused at creation (400), before any part is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_take_their_lock_at_creation() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("locked").object_lock_enabled_for_bucket(true).send().await.unwrap();
    // One instant for the request and the check (two calls may fall in different seconds).
    let until = in_an_hour();
    let upload = c
        .create_multipart_upload()
        .bucket("locked")
        .key("big")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("locked")
        .key("big")
        .upload_id(id)
        .part_number(1)
        .body(b"body of big".to_vec().into())
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    let done =
        c.complete_multipart_upload().bucket("locked").key("big").upload_id(id).multipart_upload(parts).send().await;
    let version = done.unwrap().version_id().unwrap().to_owned();
    let head = c.head_object().bucket("locked").key("big").send().await.unwrap();
    assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(head.object_lock_retain_until_date().map(DateTime::secs), Some(until.secs()));
    assert_eq!(head.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On));
    let denied = Err((Some(403), Some("AccessDenied".to_owned())));
    assert_eq!(delete_version(c, "big", &version, true).await, denied);
    still_there(c, "big", &version).await;

    let past = DateTime::from_secs(DateTime::from(std::time::SystemTime::now()).secs() - 60);
    let e = c
        .create_multipart_upload()
        .bucket("locked")
        .key("late")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(past)
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    c.create_bucket().bucket("plain").send().await.unwrap();
    let e = c
        .create_multipart_upload()
        .bucket("plain")
        .key("k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidRequest")));
    for bucket in ["locked", "plain"] {
        let open = c.list_multipart_uploads().bucket(bucket).send().await.unwrap();
        assert!(open.uploads().is_empty(), "{bucket}: the refused uploads were never created");
    }
    gw.stop().await;
}

/// Promise: a crash and the garbage collection after it remove nothing Object Lock protects:
/// the gateway is killed (SIGKILL) with a large upload in flight; after the restart, once GC
/// (every second, abandoning the dead run's uploads at once) has deleted what that upload left
/// at each of its three providers and has no deletion left to do, every replica of the
/// GOVERNANCE, COMPLIANCE and legal-hold versions is still at its provider byte for byte, each
/// version reads back, and deleting it is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_versions_survive_a_crash_and_the_gc_after_it() {
    use crate::common::{BinaryGateway, Providers, client, config_text};
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let admin: std::net::SocketAddr =
        format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
            .parse()
            .unwrap();
    let text = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers)
        .replace("gc_interval_secs = 3600", "gc_interval_secs = 1\nintent_ttl_secs = 1")
        .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"{admin}\""));
    std::fs::write(dir.path().join("souverain.toml"), text).unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("locked").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let ids = [
        put_locked(&c, "gov", Some(ObjectLockMode::Governance), false).await,
        put_locked(&c, "comp", Some(ObjectLockMode::Compliance), false).await,
        put_locked(&c, "hold", None, true).await,
    ];
    let stored = providers.stream_files();
    assert_eq!(stored.len(), 3 * 3, "three versions, three replicas each");
    let in_flight = c.put_object().bucket("locked").key("big").body(crate::common::pattern(64 << 20, 7).into());
    let upload = tokio::spawn(async move { in_flight.send().await });
    // Killed once the upload is streaming to the providers (its intent recorded before that).
    let streaming =
        || providers.roots.iter().any(|r| std::fs::read_dir(r.join(".tmp")).is_ok_and(|mut d| d.next().is_some()));
    crate::common::wait_until("the large upload is streaming", std::time::Duration::from_mins(1), streaming).await;
    gw.kill();
    let _ = upload.await;

    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    let abandoned = "souverain_deletions_completed_total{provider=";
    crate::common::wait_for("GC deleted what the killed upload left, and has nothing left to do", 60, || async {
        let (_, metrics) = crate::common::admin_request(admin, "GET", "/metrics", "").await;
        let done = metrics.lines().filter(|l| l.starts_with(abandoned) && l.contains("reason=\"abandoned\"")).count();
        let (_, queue) = crate::common::admin_request(admin, "GET", "/admin/v1/deletions", "").await;
        let queue: serde_json::Value = serde_json::from_str(&queue).unwrap_or_default();
        done == 3 && queue["tasks"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let now = providers.stream_files();
    for replica in &stored {
        assert!(now.contains(replica), "a locked version's replica is still at its provider: {:?}", replica.0);
    }
    let denied = Err((Some(403), Some("AccessDenied".to_owned())));
    for (key, id) in ["gov", "comp", "hold"].into_iter().zip(&ids) {
        let got = c.get_object().bucket("locked").key(key).version_id(id).send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), format!("body of {key}").as_bytes());
        let e = c.delete_object().bucket("locked").key(key).version_id(id).send().await.unwrap_err();
        assert_eq!(Err::<(), _>((error_status(&e), error_code(&e))), denied, "{key}");
    }
    gw.kill();
}
