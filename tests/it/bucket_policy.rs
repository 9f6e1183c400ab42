//! Bucket policies and public access blocks (issue 22): what a policy allows and denies,
//! anonymous access only through a public statement while public access is not blocked, the
//! block at server and bucket level, and conditions on the real connection (source address,
//! TLS) and the listing's prefix. Every refusal leaves the policy and the objects as they were.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, PublicAccessBlockConfiguration};

use crate::common::raw::send;
use crate::common::{TestGateway, client_with};

fn code<T, E: ProvideErrorMetadata>(r: Result<T, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().unwrap_or("no code").to_owned(),
    }
}

/// An unsigned request: (status, S3 error code or body).
async fn anonymous(gw: &TestGateway, method: &str, target: &str) -> (u16, String) {
    let headers = [("host".to_owned(), gw.addr.to_string()), ("content-length".to_owned(), "0".to_owned())];
    let r = send(gw.addr, method, target, &headers, b"").await.unwrap();
    let body = r.body_text();
    let code = body.split("<Code>").nth(1).and_then(|c| c.split('<').next()).map_or(body.clone(), str::to_owned);
    (r.status, code)
}

const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"},
  {"Sid":"NotPrivate","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/private/*"}]}"#;

async fn put(c: &Client, bucket: &str, key: &str, body: &'static [u8]) {
    c.put_object().bucket(bucket).key(key).body(ByteStream::from_static(body)).send().await.unwrap();
}

fn block(restrict: bool, block_policy: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .restrict_public_buckets(restrict)
        .block_public_policy(block_policy)
        .build()
}

/// Promise: with public access allowed on the server, a public-read policy serves unsigned
/// GETs of the objects it names and nothing else (a key it names that is not there is 403 to
/// them: only who may list learns of absence); its deny holds even for the root key; the
/// bucket's RestrictPublicBuckets shuts anonymous access again and BlockPublicPolicy refuses a
/// public policy; malformed policies are 400 and change nothing; status and documents read back.
#[tokio::test]
async fn a_public_read_policy_and_the_public_access_block() {
    let gw = TestGateway::start_with(|t| t.replacen("[server]\n", "[server]\nblock_public_access = false\n", 1)).await;
    let c = &gw.client;
    c.create_bucket().bucket("site").send().await.unwrap();
    put(c, "site", "index.html", b"<h1>hello</h1>").await;
    put(c, "site", "private/secret", b"secret").await;
    assert_eq!(anonymous(&gw, "GET", "/site/index.html").await, (403, "AccessDenied".into()), "no policy yet");
    assert_eq!(code(c.get_bucket_policy().bucket("site").send().await), "NoSuchBucketPolicy");

    c.put_bucket_policy().bucket("site").policy(PUBLIC_READ).send().await.expect("public policy stored");
    let stored = c.get_bucket_policy().bucket("site").send().await.unwrap();
    assert_eq!(stored.policy(), Some(PUBLIC_READ), "the document reads back as sent");
    let status = c.get_bucket_policy_status().bucket("site").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(aws_sdk_s3::types::PolicyStatus::is_public), Some(true));

    let r = send(gw.addr, "GET", "/site/index.html", &[("host".into(), gw.addr.to_string())], b"").await.unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<h1>hello</h1>"[..]), "served without a signature");
    let overridden = anonymous(&gw, "GET", "/site/index.html?response-content-type=text/plain").await;
    assert_eq!(overridden, (400, "InvalidRequest".into()), "response-* overrides need a signature (as S3)");
    assert_eq!(anonymous(&gw, "GET", "/site/private/secret").await, (403, "AccessDenied".into()));
    // Whether a key exists is told only to who may list the bucket (as S3 does).
    let missing = anonymous(&gw, "GET", "/site/missing.html").await;
    assert_eq!(missing, (403, "AccessDenied".into()), "a public reader learns nothing of absent keys");
    assert_eq!(code(c.get_object().bucket("site").key("missing.html").send().await), "NoSuchKey", "the owner does");
    assert_eq!(anonymous(&gw, "PUT", "/site/new").await, (403, "AccessDenied".into()));
    assert_eq!(anonymous(&gw, "GET", "/site?list-type=2").await, (403, "AccessDenied".into()));
    assert_eq!(anonymous(&gw, "GET", "/").await, (403, "AccessDenied".into()));
    assert_eq!(
        code(c.get_object().bucket("site").key("private/secret").send().await),
        "AccessDenied",
        "deny binds root"
    );
    assert_eq!(crate::common::listed_keys(c, "site").await, ["index.html", "private/secret"], "nothing written");

    // The bucket's own block.
    c.put_public_access_block()
        .bucket("site")
        .public_access_block_configuration(block(true, false))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous(&gw, "GET", "/site/index.html").await, (403, "AccessDenied".into()), "restricted");
    let got = c.get_public_access_block().bucket("site").send().await.unwrap();
    assert_eq!(
        got.public_access_block_configuration().and_then(PublicAccessBlockConfiguration::restrict_public_buckets),
        Some(true)
    );
    c.delete_public_access_block().bucket("site").send().await.unwrap();
    assert_eq!(anonymous(&gw, "GET", "/site/index.html").await.0, 200, "unrestricted again");
    assert_eq!(code(c.get_public_access_block().bucket("site").send().await), "NoSuchPublicAccessBlockConfiguration");
    c.put_public_access_block()
        .bucket("site")
        .public_access_block_configuration(block(false, true))
        .send()
        .await
        .unwrap();
    let other = PUBLIC_READ.replace("PublicRead", "Changed");
    assert_eq!(code(c.put_bucket_policy().bucket("site").policy(&other).send().await), "AccessDenied");
    for bad in [
        "{not json",
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::elsewhere/*"}]}"#,
    ] {
        assert_eq!(code(c.put_bucket_policy().bucket("site").policy(bad).send().await), "MalformedPolicy");
    }
    let still = c.get_bucket_policy().bucket("site").send().await.unwrap();
    assert_eq!(still.policy(), Some(PUBLIC_READ), "refused policies changed nothing");

    c.delete_bucket_policy().bucket("site").send().await.unwrap();
    assert_eq!(code(c.get_bucket_policy().bucket("site").send().await), "NoSuchBucketPolicy");
    assert_eq!(anonymous(&gw, "GET", "/site/index.html").await, (403, "AccessDenied".into()));
    gw.stop().await;
}

/// Promise: a policy gives a user without grants exactly what it names: listing under their
/// prefix only (`s3:prefix`), deleting under one prefix only (DeleteObjects answers the other
/// keys AccessDenied and deletes nothing of theirs); a user without `owner` cannot change the
/// policy; with the server's default block a public policy is refused.
#[tokio::test]
async fn a_policy_for_a_user_with_conditions_and_per_key_deletes() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let r = gw.admin_send("POST", "/admin/v1/users", serde_json::json!({ "name": "alice" })).await;
    assert_eq!(r.status, 201);
    let r = gw.admin_send("POST", "/admin/v1/access-keys", serde_json::json!({ "user": "alice" })).await;
    let v: serde_json::Value = serde_json::from_str(&r.body_text()).unwrap();
    let alice = client_with(gw.addr, v["id"].as_str().unwrap(), v["secret"].as_str().unwrap());
    c.create_bucket().bucket("team").send().await.unwrap();
    for key in ["home/alice/a", "home/bob/b", "tmp/x", "keep"] {
        put(c, "team", key, b"data").await;
    }
    assert_eq!(
        code(c.put_bucket_policy().bucket("team").policy(PUBLIC_READ.replace("site", "team")).send().await),
        "AccessDenied",
        "the server blocks public policies by default"
    );
    let policy = r#"{"Statement":[
      {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::souverain:user/alice"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::team",
       "Condition":{"StringLike":{"s3:prefix":"home/alice/*"}}},
      {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::souverain:user/alice"]},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::team/tmp/*"}]}"#;
    c.put_bucket_policy().bucket("team").policy(policy).send().await.expect("a policy for a named user is not public");
    let status = c.get_bucket_policy_status().bucket("team").send().await.unwrap();
    assert_eq!(status.policy_status().and_then(aws_sdk_s3::types::PolicyStatus::is_public), Some(false));

    let listed = alice.list_objects_v2().bucket("team").prefix("home/alice/").send().await.expect("her prefix");
    assert_eq!(listed.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["home/alice/a"]);
    assert_eq!(code(alice.list_objects_v2().bucket("team").prefix("home/bob/").send().await), "AccessDenied");
    assert_eq!(code(alice.list_objects_v2().bucket("team").send().await), "AccessDenied", "no prefix: not hers");
    assert_eq!(code(alice.get_object().bucket("team").key("home/alice/a").send().await), "AccessDenied", "not granted");

    let ids = ["tmp/x", "keep"].map(|k| ObjectIdentifier::builder().key(k).build().unwrap());
    let out = alice
        .delete_objects()
        .bucket("team")
        .delete(Delete::builder().set_objects(Some(ids.to_vec())).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().iter().filter_map(|d| d.key()).collect::<Vec<_>>(), ["tmp/x"]);
    let errors: Vec<_> = out.errors().iter().map(|e| (e.key().unwrap_or(""), e.code().unwrap_or(""))).collect();
    assert_eq!(errors, [("keep", "AccessDenied")]);
    let only_keep =
        Delete::builder().objects(ObjectIdentifier::builder().key("keep").build().unwrap()).build().unwrap();
    assert_eq!(
        code(alice.delete_objects().bucket("team").delete(only_keep).send().await),
        "AccessDenied",
        "none allowed"
    );
    assert_eq!(crate::common::listed_keys(c, "team").await, ["home/alice/a", "home/bob/b", "keep"]);
    assert_eq!(
        code(alice.put_bucket_policy().bucket("team").policy(policy).send().await),
        "AccessDenied",
        "not the owner"
    );
    assert_eq!(code(alice.delete_bucket_policy().bucket("team").send().await), "AccessDenied");
    gw.stop().await;
}

/// Promise: conditions see the real connection: a deny outside 10.0.0.0/8 refuses the
/// loopback client (even the root key), one outside 127.0.0.0/8 does not; a deny of plain
/// HTTP refuses requests without TLS; the policy operations stay open to the root key, so the
/// policy can be removed.
#[tokio::test]
async fn conditions_see_the_client_address_and_transport() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("net").send().await.unwrap();
    put(c, "net", "doc", b"doc").await;
    let deny_outside = |cidr: &str| {
        format!(
            r#"{{"Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::net","arn:aws:s3:::net/*"],"Condition":{{"NotIpAddress":{{"aws:SourceIp":"{cidr}"}}}}}}]}}"#
        )
    };
    c.put_bucket_policy().bucket("net").policy(deny_outside("127.0.0.0/8")).send().await.unwrap();
    assert_eq!(code(c.get_object().bucket("net").key("doc").send().await), "ok", "the client is on loopback");
    c.put_bucket_policy().bucket("net").policy(deny_outside("10.0.0.0/8")).send().await.unwrap();
    assert_eq!(code(c.get_object().bucket("net").key("doc").send().await), "AccessDenied");
    assert_eq!(code(c.list_objects_v2().bucket("net").send().await), "AccessDenied");
    let tls_only = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::net/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    c.put_bucket_policy()
        .bucket("net")
        .policy(tls_only)
        .send()
        .await
        .expect("the root key may still change the policy");
    assert_eq!(code(c.get_object().bucket("net").key("doc").send().await), "AccessDenied", "plain HTTP");
    assert_eq!(code(c.list_objects_v2().bucket("net").send().await), "ok", "only GetObject is denied");
    c.delete_bucket_policy().bucket("net").send().await.unwrap();
    assert_eq!(code(c.get_object().bucket("net").key("doc").send().await), "ok");
    gw.stop().await;
}
