//! Access control (issue 22): no key opens a bucket it was not given. Users and their keys
//! are made through the admin CLI and API; every S3 operation the gateway serves answers each
//! kind of principal exactly as its grants say, and a refusal changes nothing.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration, Delete,
    ObjectIdentifier,
};

use crate::common::raw::send;
use crate::common::{TestGateway, client_with};

/// Runs `souverain admin --url <admin> <args>` with the test token; (success, stdout, stderr).
pub(crate) async fn cli(gw: &TestGateway, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--url".to_owned(), format!("http://{}", gw.admin_addr())];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    crate::common::admin_cli(all).await
}

/// A new access key of `user` through the CLI: a client signing with it, and its id.
async fn key_of(gw: &TestGateway, user: &str, extra: &[&str]) -> (Client, String) {
    let (ok, out, err) = cli(gw, &[&["key", "create", user][..], extra].concat()).await;
    assert!(ok, "key create {user}: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("key JSON");
    let (id, secret) = (v["id"].as_str().expect("id"), v["secret"].as_str().expect("secret"));
    assert_eq!(secret.len(), 40, "a 40-character secret");
    (client_with(gw.addr, id, secret), id.to_owned())
}

/// What an SDK call answered: `ok`, or the S3 error code (the status for a HEAD, which has no
/// body to carry a code).
pub(crate) fn outcome<T, E: ProvideErrorMetadata>(
    r: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => match e.code() {
            Some(code) => code.to_owned(),
            None => e.raw_response().map_or_else(|| "no response".to_owned(), |r| r.status().as_u16().to_string()),
        },
    }
}

/// What a refused request could have changed: the bucket's keys and open uploads, and the
/// streams at the providers.
pub(crate) async fn state(gw: &TestGateway, bucket: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let keys = crate::common::listed_keys(&gw.client, bucket).await;
    let uploads = gw.client.list_multipart_uploads().bucket(bucket).send().await.expect("uploads");
    let uploads = uploads.uploads().iter().filter_map(|u| u.upload_id().map(str::to_owned)).collect();
    let mut streams: Vec<String> = gw.stream_files().iter().map(|(p, _)| p.display().to_string()).collect();
    streams.sort();
    (keys, uploads, streams)
}

/// Which permission an operation needs (mirrors `access::Action::needs`, written out again so
/// the test cannot agree with a wrong table by construction).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Need {
    Any,
    Read,
    Write,
    ReadWrite,
    Owner,
}

/// A principal of the matrix and the permissions it holds on the bucket `matrix`.
struct Who {
    name: &'static str,
    client: Client,
    read: bool,
    write: bool,
    owner: bool,
}

impl Who {
    fn allowed(&self, need: Need) -> bool {
        match need {
            Need::Any => self.read || self.write || self.owner,
            Need::Read => self.read,
            Need::Write => self.write,
            Need::ReadWrite => self.read && self.write,
            Need::Owner => self.owner,
        }
    }
}

/// Runs every object and bucket operation as `who` against `matrix` (and `spare` for the
/// bucket deletion): (operation, its need, whether it writes, what it answered).
async fn run_all(gw: &TestGateway, who: &Who) -> Vec<(&'static str, Need, String)> {
    let c = &who.client;
    let n = who.name;
    let root = &gw.client;
    let mut out = Vec::new();
    let mut check = |op: &'static str, need: Need, answer: String, refused_write_changed: Option<bool>| {
        if let Some(true) = refused_write_changed {
            panic!("{n}: the refused {op} changed the bucket or the providers");
        }
        out.push((op, need, answer));
    };
    let same = |a: &(Vec<String>, Vec<String>, Vec<String>), b: &(Vec<String>, Vec<String>, Vec<String>)| a == b;

    check("HeadBucket", Need::Any, outcome(c.head_bucket().bucket("matrix").send().await), None);
    check("GetBucketLocation", Need::Any, outcome(c.get_bucket_location().bucket("matrix").send().await), None);
    check("ListObjectsV2", Need::Read, outcome(c.list_objects_v2().bucket("matrix").send().await), None);
    check("ListObjects", Need::Read, outcome(c.list_objects().bucket("matrix").send().await), None);
    check("GetObject", Need::Read, outcome(c.get_object().bucket("matrix").key("seed").send().await), None);
    check("HeadObject", Need::Read, outcome(c.head_object().bucket("matrix").key("seed").send().await), None);
    let missing = outcome(c.get_object().bucket("matrix").key("no-such-key").send().await);
    check("GetObject(missing)", Need::Read, missing, None);
    check("ListMultipartUploads", Need::Read, outcome(c.list_multipart_uploads().bucket("matrix").send().await), None);
    let open = root.create_multipart_upload().bucket("matrix").key(format!("mp-{n}")).send().await.unwrap();
    let upload = open.upload_id().unwrap().to_owned();
    let parts = c.list_parts().bucket("matrix").key(format!("mp-{n}")).upload_id(&upload).send().await;
    check("ListParts", Need::Read, outcome(parts), None);

    // Writes: a refused one must leave the bucket and the providers as they were.
    let writes = who.write;
    let before = state(gw, "matrix").await;
    let put = c.put_object().bucket("matrix").key(format!("put-{n}")).body(ByteStream::from_static(b"new")).send();
    let answer = outcome(put.await);
    check("PutObject", Need::Write, answer, Some(!writes && !same(&before, &state(gw, "matrix").await)));
    let before = state(gw, "matrix").await;
    let copy = c.copy_object().bucket("matrix").key(format!("copy-{n}")).copy_source("matrix/seed").send().await;
    let can_copy = who.read && who.write;
    check("CopyObject", Need::ReadWrite, outcome(copy), Some(!can_copy && !same(&before, &state(gw, "matrix").await)));
    root.put_object()
        .bucket("matrix")
        .key(format!("del-{n}"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let before = state(gw, "matrix").await;
    let del = outcome(c.delete_object().bucket("matrix").key(format!("del-{n}")).send().await);
    check("DeleteObject", Need::Write, del, Some(!writes && !same(&before, &state(gw, "matrix").await)));
    root.put_object()
        .bucket("matrix")
        .key(format!("dels-{n}"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let before = state(gw, "matrix").await;
    let id = ObjectIdentifier::builder().key(format!("dels-{n}")).build().unwrap();
    let delete = Delete::builder().objects(id).build().unwrap();
    let dels = outcome(c.delete_objects().bucket("matrix").delete(delete).send().await);
    check("DeleteObjects", Need::Write, dels, Some(!writes && !same(&before, &state(gw, "matrix").await)));
    let before = state(gw, "matrix").await;
    let create = outcome(c.create_multipart_upload().bucket("matrix").key(format!("new-mp-{n}")).send().await);
    check("CreateMultipartUpload", Need::Write, create, Some(!writes && !same(&before, &state(gw, "matrix").await)));
    let before = state(gw, "matrix").await;
    let part = c.upload_part().bucket("matrix").key(format!("mp-{n}")).upload_id(&upload).part_number(1);
    let part = outcome(part.body(ByteStream::from_static(b"part")).send().await);
    check("UploadPart", Need::Write, part, Some(!writes && !same(&before, &state(gw, "matrix").await)));
    let before = state(gw, "matrix").await;
    let copied = c.upload_part_copy().bucket("matrix").key(format!("mp-{n}")).upload_id(&upload).part_number(2);
    let copied = outcome(copied.copy_source("matrix/seed").send().await);
    check("UploadPartCopy", Need::ReadWrite, copied, Some(!can_copy && !same(&before, &state(gw, "matrix").await)));
    // Complete an upload whose part the root key wrote; abort another.
    let done = root.create_multipart_upload().bucket("matrix").key(format!("done-{n}")).send().await.unwrap();
    let done_id = done.upload_id().unwrap().to_owned();
    let p = root.upload_part().bucket("matrix").key(format!("done-{n}")).upload_id(&done_id).part_number(1);
    let etag = p.body(ByteStream::from_static(b"whole")).send().await.unwrap().e_tag().unwrap().to_owned();
    let before = state(gw, "matrix").await;
    let list = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(etag).build());
    let complete = c.complete_multipart_upload().bucket("matrix").key(format!("done-{n}")).upload_id(&done_id);
    let complete = outcome(complete.multipart_upload(list.build()).send().await);
    check(
        "CompleteMultipartUpload",
        Need::Write,
        complete,
        Some(!writes && !same(&before, &state(gw, "matrix").await)),
    );
    let before = state(gw, "matrix").await;
    let abort = c.abort_multipart_upload().bucket("matrix").key(format!("mp-{n}")).upload_id(&upload).send().await;
    check(
        "AbortMultipartUpload",
        Need::Write,
        outcome(abort),
        Some(!writes && !same(&before, &state(gw, "matrix").await)),
    );
    let before = state(gw, "spare").await;
    let gone = outcome(c.delete_bucket().bucket("spare").send().await);
    check("DeleteBucket", Need::Owner, gone, Some(!who.owner && !same(&before, &state(gw, "spare").await)));
    out
}

/// The matrix's users and keys.
pub(crate) struct Keys {
    pub(crate) olivia: Client,
    pub(crate) rita: Client,
    pub(crate) walter: Client,
    pub(crate) oscar: Client,
    pub(crate) disabled: Client,
    pub(crate) expiring: Client,
}

/// Users and keys through the CLI and API (olivia may create buckets, walter only under
/// de-only), olivia's buckets `matrix` (with `seed`) and `spare`, rita reading and walter
/// writing both; a key of rita's disabled, another about to expire, each seen working first.
pub(crate) async fn users_keys_and_grants(gw: &TestGateway) -> Keys {
    for args in [
        &["user", "create", "olivia", "--create-buckets"][..],
        &["user", "create", "rita", "--display-name", "Rita Reader"],
        &["user", "create", "walter", "--create-buckets", "--policy", "de-only"],
        &["user", "create", "oscar"],
    ] {
        let (ok, _, err) = cli(gw, args).await;
        assert!(ok, "{args:?}: {err}");
    }
    let (ok, _, err) = cli(gw, &["user", "create", "oscar"]).await;
    assert!(!ok && err.contains("409"), "a second oscar is refused: {err}");
    let (olivia, _) = key_of(gw, "olivia", &[]).await;
    let (rita, _) = key_of(gw, "rita", &["--name", "reporting"]).await;
    let (walter, _) = key_of(gw, "walter", &[]).await;
    let (oscar, _) = key_of(gw, "oscar", &[]).await;
    let (disabled, disabled_id) = key_of(gw, "rita", &[]).await;
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date().to_string();
    let (tomorrow, _) = key_of(gw, "rita", &["--expires", &expires]).await;

    // The creator owns the bucket; grants through the CLI.
    olivia.create_bucket().bucket("matrix").send().await.expect("olivia creates matrix");
    olivia.create_bucket().bucket("spare").send().await.expect("olivia creates spare");
    olivia.put_object().bucket("matrix").key("seed").body(ByteStream::from_static(b"seed bytes")).send().await.unwrap();
    for (bucket, user, perms) in [
        ("matrix", "rita", "read"),
        ("matrix", "walter", "write"),
        ("spare", "rita", "read"),
        ("spare", "walter", "write"),
    ] {
        let (ok, out, err) = cli(gw, &["bucket", "allow", bucket, user, perms]).await;
        assert!(ok, "allow {user}: {err}");
        assert!(out.contains(&format!("\"perms\": \"{perms}\"")), "{out}");
    }
    let (ok, out, _) = cli(gw, &["bucket", "grants", "matrix"]).await;
    assert!(ok && out.contains("\"read,write,owner\"") && out.contains("rita"), "{out}");

    // Keys that worked, then are refused: disabled through the CLI, or past their expiry.
    assert_eq!(outcome(disabled.head_bucket().bucket("matrix").send().await), "ok");
    assert_eq!(outcome(tomorrow.head_bucket().bucket("matrix").send().await), "ok");
    let (ok, _, err) = cli(gw, &["key", "disable", &disabled_id]).await;
    assert!(ok, "{err}");
    let (ok, out, _) = cli(gw, &["key", "list", "--user", "rita"]).await;
    assert!(ok && out.contains("\"disabled\"") && !out.contains("secret"), "{out}");
    let body = serde_json::json!({ "user": "rita", "expires_ms": now_ms() + 1500 });
    let r = gw.admin_send("POST", "/admin/v1/access-keys", body).await;
    assert_eq!(r.status, 201, "{}", r.body_text());
    let v: serde_json::Value = serde_json::from_str(&r.body_text()).unwrap();
    let expiring = client_with(gw.addr, v["id"].as_str().unwrap(), v["secret"].as_str().unwrap());
    assert_eq!(outcome(expiring.head_bucket().bucket("matrix").send().await), "ok");

    Keys { olivia, rita, walter, oscar, disabled, expiring }
}

/// Promise: each S3 operation answers the owner, a reader, a writer and a user without a
/// grant exactly as their grants say (AccessDenied otherwise, and NoSuchKey for a missing key
/// only to one who may read); a disabled or expired key (InvalidAccessKeyId) and an anonymous
/// request (AccessDenied) are refused every operation; ListBuckets shows each user only their buckets; a refused write changes
/// neither the listing nor the providers.
#[tokio::test]
async fn every_operation_answers_each_principal_as_its_grants_say() {
    let gw = TestGateway::start().await;
    let Keys { olivia, rita, walter, oscar, disabled, expiring } = users_keys_and_grants(&gw).await;
    let who = |name, client, read, write, owner| Who { name, client, read, write, owner };
    let principals = [
        who("rita", rita, true, false, false),
        who("walter", walter, false, true, false),
        who("oscar", oscar, false, false, false),
        who("olivia", olivia.clone(), true, true, true),
    ];
    for p in &principals {
        for (op, need, answer) in run_all(&gw, p).await {
            let expected = match (p.allowed(need), op) {
                (true, "GetObject(missing)") => "NoSuchKey",
                (true, _) => "ok",
                (false, "HeadBucket" | "HeadObject") => "403",
                (false, _) => "AccessDenied",
            };
            assert_eq!(answer, expected, "{} {op}", p.name);
        }
    }

    // Refused keys: every request is InvalidAccessKeyId, nothing written.
    let deadline = Instant::now() + Duration::from_secs(5);
    while expiring.head_bucket().bucket("matrix").send().await.is_ok() {
        assert!(Instant::now() < deadline, "the key never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Refused keys answer InvalidAccessKeyId to every operation, unsigned requests
    // AccessDenied (a HEAD: the bare status); a refused write changes nothing (run_all checks).
    let anonymous = crate::common::anonymous_client(gw.addr);
    gw.client.create_bucket().bucket("spare").send().await.expect("spare again, for DeleteBucket");
    for (name, client, code) in [
        ("disabled", disabled, "InvalidAccessKeyId"),
        ("expired", expiring, "InvalidAccessKeyId"),
        ("anonymous", anonymous, "AccessDenied"),
    ] {
        let refused = Who { name, client, read: false, write: false, owner: false };
        for (op, _, answer) in run_all(&gw, &refused).await {
            let expected = if matches!(op, "HeadBucket" | "HeadObject") { "403" } else { code };
            assert_eq!(answer, expected, "{name} {op}");
        }
        let list = outcome(refused.client.list_buckets().send().await);
        assert_eq!(list, code, "{name} ListBuckets");
    }
    gw.client.delete_bucket().bucket("spare").send().await.expect("spare removed");

    // Anonymous requests are refused, with S3's code, also when sent bare.
    for (method, target) in [("GET", "/matrix/seed"), ("PUT", "/matrix/anon"), ("GET", "/"), ("GET", "/matrix")] {
        let headers = [("host".to_owned(), gw.addr.to_string()), ("content-length".to_owned(), "0".to_owned())];
        let r = send(gw.addr, method, target, &headers, b"").await.unwrap();
        assert_eq!(r.status, 403, "{method} {target}");
        assert!(r.body_text().contains("<Code>AccessDenied</Code>"), "{}", r.body_text());
    }

    // ListBuckets shows each user the buckets they hold a permission on (spare is gone).
    let names = |c: Client| async move {
        let out = c.list_buckets().send().await.expect("ListBuckets");
        out.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect::<Vec<_>>()
    };
    assert_eq!(names(principals[0].client.clone()).await, ["matrix"]);
    assert!(names(principals[2].client.clone()).await.is_empty(), "oscar sees nothing");

    // Bucket creation follows the user's capabilities and allowed policies.
    let in_policy =
        |p: &str| CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(p)).build();
    let create = |c: &Client, name: &str| c.create_bucket().bucket(name).send();
    assert_eq!(outcome(create(&principals[0].client, "rita-new").await), "AccessDenied", "rita may not create");
    assert_eq!(outcome(create(&principals[1].client, "walter-eu").await), "AccessDenied", "not under eu-default");
    let de = principals[1].client.create_bucket().bucket("walter-de").create_bucket_configuration(in_policy("de-only"));
    assert_eq!(outcome(de.send().await), "ok");
    let taken = principals[1].client.create_bucket().bucket("matrix").create_bucket_configuration(in_policy("de-only"));
    assert_eq!(outcome(taken.send().await), "BucketAlreadyExists");
    assert_eq!(outcome(create(&olivia, "matrix").await), "BucketAlreadyOwnedByYou");
    assert_eq!(names(principals[1].client.clone()).await, ["matrix", "walter-de"], "walter owns walter-de");
    assert_eq!(outcome(principals[1].client.list_objects_v2().bucket("walter-de").send().await), "ok");
    assert_eq!(outcome(olivia.list_objects_v2().bucket("walter-de").send().await), "AccessDenied");
    assert_eq!(names(gw.client.clone()).await, ["matrix", "walter-de"], "the root key sees every bucket");
    gw.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Promise: a key from the configuration file with a `user` does what its configured grants
/// and the admin API's grants allow, nothing more; configuration keys without a user keep
/// doing everything (the quickstart).
#[tokio::test]
async fn configured_user_keys_follow_their_grants() {
    let gw = TestGateway::start_with(|text| {
        text + r#"
[[access_key]]
id = "app-key"
secret = "app-secret-0123456789"
user = "app"
grants = { "shared" = "read" }
"#
    })
    .await;
    let root = &gw.client;
    for b in ["shared", "private"] {
        root.create_bucket().bucket(b).send().await.unwrap();
        root.put_object().bucket(b).key("doc").body(ByteStream::from_static(b"doc")).send().await.unwrap();
    }
    let app = client_with(gw.addr, "app-key", "app-secret-0123456789");
    assert_eq!(outcome(app.get_object().bucket("shared").key("doc").send().await), "ok");
    let put =
        |bucket: &'static str| app.put_object().bucket(bucket).key("new").body(ByteStream::from_static(b"n")).send();
    assert_eq!(outcome(put("shared").await), "AccessDenied");
    assert_eq!(outcome(app.list_objects_v2().bucket("private").send().await), "AccessDenied");
    assert_eq!(outcome(app.create_bucket().bucket("mine").send().await), "AccessDenied", "no create_buckets");
    let listed = app.list_buckets().send().await.unwrap();
    assert_eq!(listed.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["shared"]);
    assert_eq!(crate::common::listed_keys(root, "shared").await, ["doc"], "the refused PUT wrote nothing");

    // A configured user can be granted more through the API; the grant holds at once here.
    let (ok, _, err) = cli(&gw, &["bucket", "allow", "shared", "app", "write"]).await;
    assert!(ok, "{err}");
    assert_eq!(outcome(put("shared").await), "ok");
    let (ok, _, err) = cli(&gw, &["bucket", "allow", "shared", "nobody", "write"]).await;
    assert!(!ok && err.contains("no user nobody"), "{err}");
    let (ok, _, _) = cli(&gw, &["bucket", "deny", "shared", "app", "write"]).await;
    assert!(ok);
    assert_eq!(outcome(put("shared").await), "AccessDenied");
    gw.stop().await;
}

/// Promise: with several gateways on one PostgreSQL database, a key disabled and a grant
/// withdrawn through one gateway are refused by the other within 5 s (its cache lives 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_gateway_holds_on_another_within_5_seconds() {
    use crate::common::{Providers, admin_request, init, postgres::PgServer};
    init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let pg = PgServer::start();
    pg.create_database("access");
    let text = crate::common::config_on_postgres(dir.path(), &providers, &pg, "access");
    let path = dir.path().to_owned();
    let start = |t: String| {
        let path = path.clone();
        async move { souverain::app::start(souverain::config::Config::parse(&t, &path).unwrap()).await.unwrap() }
    };
    // One after the other: the first creates the shared key file.
    let g1 = start(text.clone()).await;
    let g2 = start(text).await;
    let admin1 = g1.admin_addr.unwrap();
    let (status, _) = admin_request(admin1, "POST", "/admin/v1/users", r#"{"name":"dana"}"#).await;
    assert_eq!(status, 201);
    let (status, body) = admin_request(admin1, "POST", "/admin/v1/access-keys", r#"{"user":"dana"}"#).await;
    assert_eq!(status, 201, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    crate::common::client(g1.s3_addr).create_bucket().bucket("team").send().await.unwrap();
    let grant = r#"{"user":"dana","allow":"read"}"#;
    assert_eq!(admin_request(admin1, "POST", "/admin/v1/buckets/team/grants", grant).await.0, 200);
    let dana = client_with(g2.s3_addr, &id, v["secret"].as_str().unwrap());

    // Within 5 s of each change the second gateway refuses; it allowed just before.
    let refused_within = |what: &'static str, expected: &'static str| {
        let dana = dana.clone();
        async move {
            let changed = Instant::now();
            loop {
                let answer = outcome(dana.list_objects_v2().bucket("team").send().await);
                if answer == expected {
                    return changed.elapsed();
                }
                assert_eq!(answer, "ok", "{what}");
                assert!(changed.elapsed() < Duration::from_secs(5), "{what}: still allowed after 5 s");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(outcome(dana.list_objects_v2().bucket("team").send().await), "ok", "the grant holds on the other");
    let deny = r#"{"user":"dana","deny":"read"}"#;
    assert_eq!(admin_request(admin1, "POST", "/admin/v1/buckets/team/grants", deny).await.0, 200);
    let took = refused_within("grant withdrawn", "AccessDenied").await;
    println!("grant withdrawal seen by the other gateway after {took:?}");
    assert_eq!(admin_request(admin1, "POST", "/admin/v1/buckets/team/grants", grant).await.0, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while outcome(dana.list_objects_v2().bucket("team").send().await) != "ok" {
        assert!(Instant::now() < deadline, "the grant given again never held");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = format!("/admin/v1/access-keys/{id}/disable");
    assert_eq!(admin_request(admin1, "POST", &path, "").await.0, 200);
    let took = refused_within("key disabled", "InvalidAccessKeyId").await;
    println!("key disabling seen by the other gateway after {took:?}");
    g1.shutdown().await;
    g2.shutdown().await;
}

/// Promise: each admin token does exactly what its role allows on every admin API route (every
/// role reads; residency, keys and users change their part, users alone see users, keys and
/// grants; only admin manages tokens), a refusal is 403 and changes
/// nothing, an unknown or deleted token is 401, and the audit log names the token that made
/// each change.
#[tokio::test]
async fn admin_tokens_do_what_their_role_allows_and_the_audit_names_them() {
    use crate::common::admin_request;
    let gw = TestGateway::start_with(|t| {
        t + "\n[[admin_token]]\nname = \"auditor\"\nrole = \"viewer\"\ntoken = \"viewer-token-0123456789\"\n"
    })
    .await;
    gw.client.create_bucket().bucket("adm").send().await.unwrap();
    gw.client.put_object().bucket("adm").key("doc").body(ByteStream::from_static(b"d")).send().await.unwrap();
    let mut tokens = vec![("auditor".to_owned(), "viewer".to_owned(), "viewer-token-0123456789".to_owned())];
    for (name, role) in [("res-ops", "residency"), ("key-ops", "keys"), ("user-ops", "users"), ("all-ops", "admin")] {
        let (ok, out, err) = cli(&gw, &["token", "create", name, "--role", role]).await;
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        tokens.push((name.to_owned(), role.to_owned(), v["token"].as_str().unwrap().to_owned()));
    }
    let (ok, out, _) = cli(&gw, &["token", "list"]).await;
    assert!(ok && out.contains("res-ops") && out.contains("auditor") && !out.contains("svat_"), "{out}");

    let send = |token: String, method: &'static str, path: String, body: String| {
        let admin = gw.admin_addr();
        async move {
            let headers = [
                ("host".to_owned(), admin.to_string()),
                ("authorization".to_owned(), format!("Bearer {token}")),
                ("content-length".to_owned(), body.len().to_string()),
            ];
            let r = send(admin, method, &path, &headers, body.as_bytes()).await.unwrap();
            (r.status, r.body_text())
        }
    };
    // Every admin API route: (method, path, body, the role that may besides admin; "*": every
    // role). Bodies that would change something are malformed, or name what does not exist,
    // except for the changes the audit check below looks for (a user made, a bucket bound, a
    // bucket given its own KEK): an allowed request answers anything but 401/403.
    let routes: &[(&str, &str, &str, &str)] = &[
        ("GET", "/admin/v1/providers", "", "*"),
        ("GET", "/admin/v1/policies", "", "*"),
        ("GET", "/admin/v1/locations/adm/doc", "", "*"),
        ("GET", "/admin/v1/audit", "", "*"),
        ("GET", "/admin/v1/audit/verify", "", "*"),
        ("GET", "/admin/v1/placement/explain?bucket=adm", "", "*"),
        ("GET", "/admin/v1/keys", "", "*"),
        ("GET", "/admin/v1/repair", "", "*"),
        ("GET", "/admin/v1/deletions", "", "*"),
        ("GET", "/admin/v1/jobs/rotation", "", "*"),
        ("GET", "/admin/v1/buckets/adm/etag", "", "*"),
        ("PUT", "/admin/v1/buckets/adm/policy", r#"{"policy":"eu-default"}"#, "residency"),
        ("PUT", "/admin/v1/buckets/adm/etag", "{", "residency"),
        ("PUT", "/admin/v1/providers/local-nl", "{", "residency"),
        ("PUT", "/admin/v1/policies/p-new", "{", "residency"),
        ("POST", "/admin/v1/meta/verify?repair=false", "", "residency"),
        ("PUT", "/admin/v1/buckets/adm/kek", r#"{"kek":"own"}"#, "keys"),
        ("POST", "/admin/v1/keys/rotate", "{", "keys"),
        ("POST", "/admin/v1/keys/no-such-kek/shred", "", "keys"),
        ("GET", "/admin/v1/users", "", "users"),
        ("POST", "/admin/v1/users", "", "users"),
        ("DELETE", "/admin/v1/users/nobody", "", "users"),
        ("GET", "/admin/v1/access-keys", "", "users"),
        ("POST", "/admin/v1/access-keys", "{", "users"),
        ("POST", "/admin/v1/access-keys/SVNOSUCHKEY/disable", "", "users"),
        ("POST", "/admin/v1/access-keys/SVNOSUCHKEY/enable", "", "users"),
        ("DELETE", "/admin/v1/access-keys/SVNOSUCHKEY", "", "users"),
        ("GET", "/admin/v1/buckets/adm/grants", "", "users"),
        ("POST", "/admin/v1/buckets/adm/grants", "{", "users"),
        ("GET", "/admin/v1/tokens", "", "admin"),
        ("POST", "/admin/v1/tokens", "{", "admin"),
        ("DELETE", "/admin/v1/tokens/nobody", "", "admin"),
    ];
    for (name, role, token) in &tokens {
        for &(method, path, body, who) in routes {
            let body = if path == "/admin/v1/users" && method == "POST" {
                format!(r#"{{"name":"made-by-{name}"}}"#)
            } else {
                body.to_owned()
            };
            let before = admin_request(gw.admin_addr(), "GET", "/admin/v1/audit", "").await.1;
            let (status, text) = send(token.clone(), method, path.to_owned(), body).await;
            let allowed = who == "*" || who == role || role == "admin";
            assert_ne!(status, 401, "{name} ({role}) {method} {path}: {text}");
            assert_eq!(status == 403, !allowed, "{name} ({role}) {method} {path}: {status} {text}");
            if !allowed {
                assert!(text.contains(&format!("role {role} may not")), "{text}");
                let after = admin_request(gw.admin_addr(), "GET", "/admin/v1/audit", "").await.1;
                assert_eq!(before, after, "a refused admin request changes nothing");
            }
        }
    }
    let audit = admin_request(gw.admin_addr(), "GET", "/admin/v1/audit", "").await.1;
    let made = audit.lines().find(|l| l.contains("made-by-user-ops")).expect("user-ops's change is audited");
    assert!(made.contains(r#""actor":"user-ops""#) && made.contains("user.create"), "{made}");
    let bound = audit.lines().find(|l| l.contains("bucket.bind")).expect("a binding is audited");
    assert!(bound.contains(r#""actor":"res-ops""#), "{bound}");

    // Unknown and deleted tokens: 401.
    let (status, _) = send("not-a-token".into(), "GET", "/admin/v1/providers".into(), String::new()).await;
    assert_eq!(status, 401);
    let (ok, _, err) = cli(&gw, &["token", "delete", "key-ops"]).await;
    assert!(ok, "{err}");
    let (status, _) = send(tokens[2].2.clone(), "GET", "/admin/v1/providers".into(), String::new()).await;
    assert_eq!(status, 401, "a deleted token is refused at once");
    gw.stop().await;
}

/// Promise: GetBucketAcl and GetObjectAcl show the grants in S3's vocabulary (the owner's
/// FULL_CONTROL, READ, WRITE), only to the bucket's owner; ACLs cannot be set: canned ACLs
/// other than `private` and PutBucketAcl answer 501 NotImplemented and change nothing.
#[tokio::test]
async fn acls_show_the_grants_and_cannot_be_set() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, Permission};
    let gw = TestGateway::start().await;
    let mut clients = Vec::new();
    for (user, create) in [("olga", true), ("rudi", false), ("wim", false)] {
        let body = serde_json::json!({ "name": user, "create_buckets": create });
        assert_eq!(gw.admin_send("POST", "/admin/v1/users", body).await.status, 201);
        let r = gw.admin_send("POST", "/admin/v1/access-keys", serde_json::json!({ "user": user })).await;
        let v: serde_json::Value = serde_json::from_str(&r.body_text()).unwrap();
        clients.push(client_with(gw.addr, v["id"].as_str().unwrap(), v["secret"].as_str().unwrap()));
    }
    let (olga, rudi) = (&clients[0], &clients[1]);
    olga.create_bucket().bucket("acl").send().await.unwrap();
    olga.put_object().bucket("acl").key("doc").body(ByteStream::from_static(b"d")).send().await.unwrap();
    for (user, perms) in [("rudi", "read"), ("wim", "write")] {
        let body = serde_json::json!({ "user": user, "allow": perms });
        assert_eq!(gw.admin_send("POST", "/admin/v1/buckets/acl/grants", body).await.status, 200);
    }
    let shown = |grants: &[aws_sdk_s3::types::Grant]| -> Vec<(String, String)> {
        grants
            .iter()
            .map(|g| {
                let who = g.grantee().and_then(|e| e.id()).unwrap_or("").to_owned();
                (who, g.permission().map_or("", Permission::as_str).to_owned())
            })
            .collect()
    };
    let expected =
        [("olga", "FULL_CONTROL"), ("rudi", "READ"), ("wim", "WRITE")].map(|(u, p)| (u.to_owned(), p.to_owned()));
    let acl = olga.get_bucket_acl().bucket("acl").send().await.unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some("olga"));
    assert_eq!(shown(acl.grants()), expected);
    let acl = olga.get_object_acl().bucket("acl").key("doc").send().await.unwrap();
    assert_eq!(shown(acl.grants()), expected, "an object's ACL is its bucket's");
    assert_eq!(outcome(olga.get_object_acl().bucket("acl").key("none").send().await), "NoSuchKey");
    assert_eq!(outcome(rudi.get_bucket_acl().bucket("acl").send().await), "AccessDenied", "only the owner reads ACLs");
    assert_eq!(outcome(rudi.get_object_acl().bucket("acl").key("doc").send().await), "AccessDenied");

    let public = olga.put_object().bucket("acl").key("pub").acl(ObjectCannedAcl::PublicRead);
    assert_eq!(outcome(public.body(ByteStream::from_static(b"p")).send().await), "NotImplemented");
    let bucket_acl = olga.put_bucket_acl().bucket("acl").acl(BucketCannedAcl::PublicRead).send().await;
    assert_eq!(outcome(bucket_acl), "NotImplemented");
    let created = olga.create_bucket().bucket("acl2").acl(BucketCannedAcl::PublicReadWrite).send().await;
    assert_eq!(outcome(created), "NotImplemented");
    assert_eq!(crate::common::listed_keys(olga, "acl").await, ["doc"], "nothing written");
    gw.stop().await;
}
