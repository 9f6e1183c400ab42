//! Lifecycle rules through aws-sdk-s3: the configuration as S3 stores and refuses it, the
//! `x-amz-expiration` answer, and the lifecycle job applying rules under a test clock
//! (`workers.lifecycle_day_secs = 1`: a rule of one day runs in a second) — expiration,
//! noncurrent expiration with versions kept, delete markers left alone, aborted uploads, and
//! Object Lock respected.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectLockMode, Tag, Transition, TransitionStorageClass, VersioningConfiguration,
};

use crate::common::{TestGateway, error_code, error_status};

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn rule(id: &str, filter: LifecycleRuleFilter) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder().id(id).status(ExpirationStatus::Enabled).filter(filter)
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

/// Prefix `docs/` and the tags class=temp and team=a.
fn both_tags() -> LifecycleRuleFilter {
    let and = LifecycleRuleAndOperator::builder().prefix("docs/").tags(tag("class", "temp")).tags(tag("team", "a"));
    LifecycleRuleFilter::builder().and(and.build()).build()
}

fn expire_after(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

fn config(rules: Vec<LifecycleRule>) -> BucketLifecycleConfiguration {
    BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build().unwrap()
}

async fn put_rules(c: &Client, bucket: &str, rules: Vec<LifecycleRule>) -> Result<(), (Option<u16>, Option<String>)> {
    let req = c.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(config(rules));
    req.send().await.map(|_| ()).map_err(|e| (error_status(&e), error_code(&e)))
}

async fn versioned(c: &Client, bucket: &str) {
    c.create_bucket().bucket(bucket).send().await.unwrap();
    let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.put_bucket_versioning().bucket(bucket).versioning_configuration(on).send().await.unwrap();
}

async fn put(c: &Client, bucket: &str, key: &str, body: &str) -> String {
    let out = c.put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    out.version_id().unwrap_or("null").to_owned()
}

/// Every version id of `key`, newest first, with whether it is a delete marker.
async fn versions_of(c: &Client, bucket: &str, key: &str) -> Vec<(String, bool)> {
    let out = c.list_object_versions().bucket(bucket).prefix(key).send().await.unwrap();
    let mut all: Vec<(String, bool, DateTime, bool)> = Vec::new();
    for v in out.versions().iter().filter(|v| v.key() == Some(key)) {
        all.push((v.version_id().unwrap().to_owned(), false, *v.last_modified().unwrap(), v.is_latest() == Some(true)));
    }
    for m in out.delete_markers().iter().filter(|m| m.key() == Some(key)) {
        all.push((m.version_id().unwrap().to_owned(), true, *m.last_modified().unwrap(), m.is_latest() == Some(true)));
    }
    // The latest first, then newest first (ListObjectVersions' order within a key).
    all.sort_by(|a, b| b.3.cmp(&a.3).then(b.2.secs().cmp(&a.2.secs())));
    all.into_iter().map(|(id, marker, _, _)| (id, marker)).collect()
}

/// The S3 date of `days` lifecycle days after `written` (seconds), rounded up to midnight UTC.
fn expiry_header(written_secs: i64, days: i64, rule: &str) -> String {
    let end = written_secs + days * 86_400;
    let midnight = end + (86_400 - end.rem_euclid(86_400)) % 86_400;
    let at = time::OffsetDateTime::from_unix_timestamp(midnight).unwrap();
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    format!("expiry-date=\"{}\", rule-id=\"{rule}\"", at.format(f).unwrap())
}

/// Promise: a lifecycle configuration is stored as given and read back (rules, filters with
/// prefix, sizes and tags, every action), shown on writes and reads as `x-amz-expiration` (the
/// expiry date at midnight UTC after the days, and the rule; a tag rule only for a version
/// with its tags), and deleted; what S3 refuses is refused with S3's status and code, and the
/// stored configuration stays as it was: transitions 501 NotImplemented, zero days, a date not
/// at midnight, duplicate ids, a tag filter on an upload or delete-marker rule 400
/// InvalidArgument, a marker rule with days 400 MalformedXML; only the bucket's owner sets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_configuration_is_stored_shown_and_refused_as_s3_does() {
    let gw = TestGateway::start_with(|t| {
        t + "\n[[access_key]]\nid = \"lc-writer\"\nsecret = \"lc-writer-secret-0123456789\"\nuser = \"lc-writer\"\ngrants = { rules = \"read,write\" }\n"
    })
    .await;
    let c = &gw.client;
    c.create_bucket().bucket("rules").send().await.unwrap();
    let e = c.get_bucket_lifecycle_configuration().bucket("rules").send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchLifecycleConfiguration")));

    let sized = LifecycleRuleFilter::builder()
        .and(LifecycleRuleAndOperator::builder().prefix("tmp/").object_size_greater_than(10).build())
        .build();
    let noncurrent = NoncurrentVersionExpiration::builder().noncurrent_days(3).newer_noncurrent_versions(2).build();
    let markers = LifecycleExpiration::builder().expired_object_delete_marker(true).build();
    let rules = vec![
        rule("logs", prefix("logs/")).expiration(expire_after(7)).build().unwrap(),
        rule("tmp", sized).noncurrent_version_expiration(noncurrent).build().unwrap(),
        rule("one-tag", LifecycleRuleFilter::builder().tag(tag("class", "scratch")).build())
            .expiration(expire_after(2))
            .build()
            .unwrap(),
        rule("tags", both_tags()).expiration(expire_after(5)).build().unwrap(),
        rule("markers", prefix("")).expiration(markers).status(ExpirationStatus::Disabled).build().unwrap(),
        rule("uploads", prefix(""))
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
            )
            .build()
            .unwrap(),
    ];
    put_rules(c, "rules", rules.clone()).await.unwrap();
    let got = c.get_bucket_lifecycle_configuration().bucket("rules").send().await.unwrap();
    assert_eq!(got.rules(), rules.as_slice(), "read back as given");

    let put = c.put_object().bucket("rules").key("logs/a").body(b"log".to_vec().into()).send().await.unwrap();
    let head = c.head_object().bucket("rules").key("logs/a").send().await.unwrap();
    let expected = expiry_header(head.last_modified().unwrap().secs(), 7, "logs");
    assert_eq!(put.expiration(), Some(expected.as_str()), "PUT shows the expiry");
    assert_eq!(head.expiration(), Some(expected.as_str()), "HEAD shows the expiry");
    let get = c.get_object().bucket("rules").key("logs/a").send().await.unwrap();
    assert_eq!(get.expiration(), Some(expected.as_str()), "GET shows the expiry");
    let other = c.put_object().bucket("rules").key("data/a").body(b"d".to_vec().into()).send().await.unwrap();
    assert_eq!(other.expiration(), None, "no rule expires data/");
    a_tag_rule_expires_only_tagged_versions(c).await;

    let refused = [
        (
            rule("t", prefix(""))
                .transitions(Transition::builder().days(30).storage_class(TransitionStorageClass::Glacier).build()),
            (Some(501), Some("NotImplemented")),
        ),
        (
            rule("tag-abort", LifecycleRuleFilter::builder().tag(tag("a", "b")).build())
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
                ),
            (Some(400), Some("InvalidArgument")),
        ),
        (
            rule("tag-markers", LifecycleRuleFilter::builder().tag(tag("a", "b")).build())
                .expiration(LifecycleExpiration::builder().expired_object_delete_marker(true).build()),
            (Some(400), Some("InvalidArgument")),
        ),
        (rule("zero", prefix("")).expiration(expire_after(0)), (Some(400), Some("InvalidArgument"))),
        (
            rule("noon", prefix(""))
                .expiration(LifecycleExpiration::builder().date(DateTime::from_secs(1_800_000_000 + 43_200)).build()),
            (Some(400), Some("InvalidArgument")),
        ),
        (
            rule("both", prefix(""))
                .expiration(LifecycleExpiration::builder().days(1).expired_object_delete_marker(true).build()),
            (Some(400), Some("MalformedXML")),
        ),
    ];
    for (r, status) in refused {
        let r = r.build().unwrap();
        let got = put_rules(c, "rules", vec![r.clone()]).await.unwrap_err();
        assert_eq!((got.0, got.1.as_deref()), status, "{r:?}");
    }
    let dup = rule("logs", prefix("x/")).expiration(expire_after(1)).build().unwrap();
    let got = put_rules(c, "rules", vec![dup.clone(), dup]).await.unwrap_err();
    assert_eq!((got.0, got.1.as_deref()), (Some(400), Some("InvalidArgument")), "duplicate ids");
    let writer = crate::common::client_with(gw.addr, "lc-writer", "lc-writer-secret-0123456789");
    let only = rule("w", prefix("")).expiration(expire_after(1)).build().unwrap();
    let got = put_rules(&writer, "rules", vec![only]).await.unwrap_err();
    assert_eq!((got.0, got.1.as_deref()), (Some(403), Some("AccessDenied")), "a writer is not the owner");
    let got = c.get_bucket_lifecycle_configuration().bucket("rules").send().await.unwrap();
    assert_eq!(got.rules(), rules.as_slice(), "nothing refused changed the configuration");

    c.delete_bucket_lifecycle().bucket("rules").send().await.unwrap();
    let e = c.get_bucket_lifecycle_configuration().bucket("rules").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchLifecycleConfiguration"));
    let head = c.head_object().bucket("rules").key("logs/a").send().await.unwrap();
    assert_eq!(head.expiration(), None, "no rules, no expiry");
    gw.stop().await;
}

/// The "tags" rule (prefix `docs/`, tags class=temp and team=a, five days) shows an expiry only
/// for a version with both tags.
async fn a_tag_rule_expires_only_tagged_versions(c: &Client) {
    let docs = |tagging: &'static str| {
        c.put_object().bucket("rules").key("docs/a").tagging(tagging).body(b"d".to_vec().into()).send()
    };
    let both = docs("team=a&class=temp").await.unwrap();
    let head = c.head_object().bucket("rules").key("docs/a").send().await.unwrap();
    let expected = expiry_header(head.last_modified().unwrap().secs(), 5, "tags");
    assert_eq!(both.expiration(), Some(expected.as_str()), "every tag of the And filter");
    assert_eq!(docs("team=a").await.unwrap().expiration(), None, "one tag missing");
    assert_eq!(docs("team=b&class=temp").await.unwrap().expiration(), None, "a value differs");
}

/// The lifecycle job's last pass, once one that began after `after_ms` is done.
async fn pass_done_after(gw: &TestGateway, after_ms: i64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = gw.admin_json("/admin/v1/jobs/lifecycle").await;
        if job["state"] == "done" && job["started_ms"].as_i64().is_some_and(|s| s > after_ms) {
            return job;
        }
        assert!(std::time::Instant::now() < deadline, "no lifecycle pass finished: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_ms() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// Promise: with a lifecycle day of one second, the lifecycle job applies each rule as S3
/// does and touches nothing else: a current version past its days gets a delete marker
/// (versioned) or is deleted (unversioned), a current version with days to go stays; of
/// four versions under `NoncurrentDays` with one newer noncurrent version kept, the current
/// and the newest noncurrent stay and the two oldest go; a delete marker left alone goes under
/// `ExpiredObjectDeleteMarker`, one hiding a version stays; an unfinished upload past its days
/// is aborted; a version under Object Lock is never removed (counted as `locked`), though a
/// delete marker may hide it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_job_applies_each_rule_under_a_test_clock() {
    let gw = TestGateway::start_with(|t| {
        t.replace("[workers]\n", "[workers]\nlifecycle_interval_secs = 1\nlifecycle_day_secs = 1\n")
    })
    .await;
    let c = &gw.client;
    versioned(c, "lcv").await;
    let exp = put(c, "lcv", "exp/a", "expires").await;
    let tagged = c.put_object().bucket("lcv").key("tg/a").tagging("class=temp").body(b"t".to_vec().into());
    let tagged = tagged.send().await.unwrap().version_id().unwrap().to_owned();
    let untagged = put(c, "lcv", "tg/b", "no tag, stays").await;
    let keep = put(c, "lcv", "keep/a", "stays").await;
    let mut nc = Vec::new();
    for i in 0..4 {
        nc.push(put(c, "lcv", "nc/a", &format!("version {i}")).await);
    }
    put(c, "lcv", "dm/alone", "x").await;
    c.delete_object().bucket("lcv").key("dm/alone").send().await.unwrap();
    let alone = versions_of(c, "lcv", "dm/alone").await;
    c.delete_object().bucket("lcv").key("dm/alone").version_id(&alone[1].0).send().await.unwrap();
    let hiding = put(c, "lcv", "dm/hiding", "hidden").await;
    c.delete_object().bucket("lcv").key("dm/hiding").send().await.unwrap();
    let upload = c.create_multipart_upload().bucket("lcv").key("up/a").send().await.unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();

    let locked = unversioned_and_locked(c).await;
    let noncurrent = NoncurrentVersionExpiration::builder().noncurrent_days(1).newer_noncurrent_versions(1).build();
    let markers = LifecycleExpiration::builder().expired_object_delete_marker(true).build();
    let abort = AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build();
    let rules = vec![
        rule("exp", prefix("exp/")).expiration(expire_after(1)).build().unwrap(),
        rule(
            "tg",
            LifecycleRuleFilter::builder().tag(Tag::builder().key("class").value("temp").build().unwrap()).build(),
        )
        .expiration(expire_after(1))
        .build()
        .unwrap(),
        rule("keep", prefix("keep/")).expiration(expire_after(3650)).build().unwrap(),
        rule("nc", prefix("nc/")).noncurrent_version_expiration(noncurrent.clone()).build().unwrap(),
        rule("dm", prefix("dm/")).expiration(markers).build().unwrap(),
        rule("up", prefix("up/")).abort_incomplete_multipart_upload(abort).build().unwrap(),
    ];
    put_rules(c, "lcv", rules).await.unwrap();
    expire_unversioned_and_locked(c).await;
    // Two lifecycle days on, and a pass that began after them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    pass_done_after(&gw, now_ms()).await;

    let exp_versions = versions_of(c, "lcv", "exp/a").await;
    assert_eq!(exp_versions.len(), 2, "{exp_versions:?}");
    assert!(exp_versions[0].1, "a delete marker is the latest: {exp_versions:?}");
    assert_eq!(exp_versions[1], (exp.clone(), false), "the expired version stays, noncurrent");
    assert_eq!(versions_of(c, "lcv", "keep/a").await, vec![(keep, false)], "3650 days to go");
    let tg = versions_of(c, "lcv", "tg/a").await;
    assert_eq!((tg.len(), tg[0].1, &tg[1]), (2, true, &(tagged, false)), "the tagged version expired: {tg:?}");
    assert_eq!(versions_of(c, "lcv", "tg/b").await, vec![(untagged, false)], "without the tag it stays");
    let nc_versions = versions_of(c, "lcv", "nc/a").await;
    assert_eq!(nc_versions, vec![(nc[3].clone(), false), (nc[2].clone(), false)], "the newest noncurrent kept");
    let e = c.get_object().bucket("lcv").key("nc/a").version_id(&nc[0]).send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchVersion"));
    assert_eq!(versions_of(c, "lcv", "dm/alone").await, vec![], "the lone marker went");
    let hiding_versions = versions_of(c, "lcv", "dm/hiding").await;
    assert_eq!(hiding_versions.len(), 2, "a marker hiding a version stays: {hiding_versions:?}");
    assert_eq!(hiding_versions[1], (hiding, false));
    let uploads = c.list_multipart_uploads().bucket("lcv").send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the upload was aborted");
    let e = c
        .upload_part()
        .bucket("lcv")
        .key("up/a")
        .upload_id(&upload_id)
        .part_number(1)
        .body(b"p".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchUpload"));

    unversioned_deleted_and_locked_kept(c, &locked).await;
    let series = "souverain_lifecycle_actions_total";
    assert_eq!(gw.metric_sum(series, &["\"expired\""]).await, 4, "lcv's exp/a and tg/a, lcplain and lclock's exp/a");
    assert_eq!(gw.metric_sum(series, &["\"delete_marker_removed\""]).await, 1);
    assert_eq!(gw.metric_sum(series, &["\"upload_aborted\""]).await, 1);
    assert!(gw.metric_sum(series, &["\"locked\""]).await >= 1, "the locked version was due and refused");
    gw.stop().await;
}

/// An object in an unversioned bucket and, in a bucket with Object Lock, a COMPLIANCE-locked
/// version with a newer one over it; the locked version's id.
async fn unversioned_and_locked(c: &Client) -> String {
    c.create_bucket().bucket("lcplain").send().await.unwrap();
    put(c, "lcplain", "exp/a", "gone").await;
    c.create_bucket().bucket("lclock").object_lock_enabled_for_bucket(true).send().await.unwrap();
    let until = DateTime::from_secs(DateTime::from(std::time::SystemTime::now()).secs() + 3600);
    let locked = c
        .put_object()
        .bucket("lclock")
        .key("exp/a")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(until)
        .body(b"locked".to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    put(c, "lclock", "exp/a", "newer").await;
    locked
}

/// Rules that expire both buckets' `exp/` (and, with Object Lock, noncurrent versions too).
async fn expire_unversioned_and_locked(c: &Client) {
    put_rules(c, "lcplain", vec![rule("exp", prefix("exp/")).expiration(expire_after(1)).build().unwrap()])
        .await
        .unwrap();
    let lock_rules = vec![
        rule("exp", prefix("exp/"))
            .expiration(expire_after(1))
            .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(1).build())
            .build()
            .unwrap(),
    ];
    put_rules(c, "lclock", lock_rules).await.unwrap();
}

/// The unversioned object was deleted (no marker); the locked version stays, under a marker.
async fn unversioned_deleted_and_locked_kept(c: &Client, locked: &str) {
    let e = c.get_object().bucket("lcplain").key("exp/a").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchKey"), "unversioned: deleted");
    let plain = c.list_object_versions().bucket("lcplain").send().await.unwrap();
    assert!(plain.versions().is_empty() && plain.delete_markers().is_empty(), "no marker in an unversioned bucket");

    let lock_versions = versions_of(c, "lclock", "exp/a").await;
    assert!(lock_versions[0].1, "a marker may hide a locked version: {lock_versions:?}");
    assert!(lock_versions.contains(&(locked.to_owned(), false)), "the locked version stays: {lock_versions:?}");
    let got = c.get_object().bucket("lclock").key("exp/a").version_id(locked).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"locked");
}
