//! Object tagging (issue 24), against AWS S3's documented behaviour: PutObjectTagging replaces
//! the whole set, GetObjectTagging returns it as set, DeleteObjectTagging (204) empties it,
//! `x-amz-tagging` on PutObject, CreateMultipartUpload and CopyObject (with the tagging
//! directive), `x-amz-tagging-count` on GET and HEAD, and S3's limits (10 tags, keys of 128
//! and values of 256 characters, 400 InvalidTag).

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};

use crate::common::raw::{Signer, sha256_hex, signed_request};
use crate::common::{TestGateway, error_code, error_status, listed_keys};

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    let set = pairs.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap()).collect();
    Tagging::builder().set_tag_set(Some(set)).build().unwrap()
}

async fn tags_of(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> Vec<(String, String)> {
    let out = c.get_object_tagging().bucket(bucket).key(key).set_version_id(version.map(str::to_owned));
    let out = out.send().await.unwrap();
    out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// `x-amz-tagging-count` of a HEAD, read off the wire (the SDK's HeadObjectOutput drops it).
async fn head_tag_count(gw: &TestGateway, path: &str) -> Option<String> {
    let signer = Signer::new(SystemTime::now());
    let r = signed_request(gw.addr, &signer, "HEAD", path, vec![], &sha256_hex(b""), b"").await;
    assert_eq!(r.status, 200);
    r.header("x-amz-tagging-count").map(str::to_owned)
}

/// Promise: tags given with PutObject come back from GetObjectTagging in the order set, and
/// GET and HEAD count them; PutObjectTagging replaces the set without touching the object
/// (same bytes, ETag and Last-Modified); DeleteObjectTagging answers 204 and leaves no count.
#[tokio::test]
async fn tags_are_set_replaced_and_removed() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("tags").send().await.unwrap();
    let put = c
        .put_object()
        .bucket("tags")
        .key("doc")
        .tagging("project=blue&note=a%20b%2Bc")
        .body(b"tagged".to_vec().into())
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(c, "tags", "doc", None).await, owned(&[("project", "blue"), ("note", "a b+c")]));
    let get = c.get_object().bucket("tags").key("doc").send().await.unwrap();
    assert_eq!(get.tag_count(), Some(2));
    let modified = get.last_modified().copied();
    assert_eq!(head_tag_count(&gw, "/tags/doc").await.as_deref(), Some("2"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    c.put_object_tagging().bucket("tags").key("doc").tagging(tagging(&[("stage", "final")])).send().await.unwrap();
    assert_eq!(tags_of(c, "tags", "doc", None).await, owned(&[("stage", "final")]), "the whole set is replaced");
    let get = c.get_object().bucket("tags").key("doc").send().await.unwrap();
    assert_eq!((get.e_tag(), get.last_modified().copied(), get.tag_count()), (put.e_tag(), modified, Some(1)));
    assert_eq!(crate::common::body_bytes(get).await, b"tagged");
    c.delete_object_tagging().bucket("tags").key("doc").send().await.unwrap();
    assert!(tags_of(c, "tags", "doc", None).await.is_empty());
    assert_eq!(c.get_object().bucket("tags").key("doc").send().await.unwrap().tag_count(), None);
    assert_eq!(head_tag_count(&gw, "/tags/doc").await, None);
    let e = c.get_object_tagging().bucket("tags").key("absent").send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchKey")));
    gw.stop().await;
}

/// Promise: a tag set S3 would refuse (11 tags, a 129-character key, a 257-character value,
/// a key twice, a key in the reserved `aws:` space, a character outside S3's set) is 400
/// InvalidTag and changes nothing: PutObjectTagging leaves the old tags, a PutObject with such
/// an `x-amz-tagging` stores no object.
#[tokio::test]
async fn tag_sets_s3_refuses_change_nothing() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("limits").send().await.unwrap();
    c.put_object().bucket("limits").key("k").tagging("keep=me").body(b"x".to_vec().into()).send().await.unwrap();
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (long_key, long_value) = ("k".repeat(129), "v".repeat(257));
    let refused: [&[(&str, &str)]; 5] = [
        &eleven,
        &[(long_key.as_str(), "v")],
        &[("k", long_value.as_str())],
        &[("aws:owner", "x")],
        &[("k", "semi;colon")],
    ];
    for set in refused {
        let e = c.put_object_tagging().bucket("limits").key("k").tagging(tagging(set)).send().await.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidTag")), "{set:?}");
    }
    assert_eq!(tags_of(c, "limits", "k", None).await, owned(&[("keep", "me")]), "unchanged");
    let ten: Vec<(&str, &str)> = eleven[..10].to_vec();
    c.put_object_tagging().bucket("limits").key("k").tagging(tagging(&ten)).send().await.unwrap();
    assert_eq!(tags_of(c, "limits", "k", None).await.len(), 10, "ten is the limit, inclusive");
    for header in ["a=1&a=2", &format!("{}=v", "k".repeat(129))] {
        let e = c.put_object().bucket("limits").key("new").tagging(header).body(b"y".to_vec().into()).send().await;
        let e = e.unwrap_err();
        assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidTag")), "{header}");
    }
    assert_eq!(listed_keys(c, "limits").await, ["k"], "no object stored under refused tags");
    gw.stop().await;
}

/// Promise: CopyObject copies the source's tags by default (directive COPY, where S3 ignores
/// `x-amz-tagging`), takes `x-amz-tagging` with REPLACE (none without it); a multipart upload
/// gets the tags of its CreateMultipartUpload at completion.
#[tokio::test]
async fn copies_and_multipart_uploads_carry_tags() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("carry").send().await.unwrap();
    c.put_object().bucket("carry").key("src").tagging("a=1&b=2").body(b"s".to_vec().into()).send().await.unwrap();
    let copy = |dst: &'static str| c.copy_object().bucket("carry").key(dst).copy_source("carry/src");
    copy("default").tagging("ignored=yes").send().await.unwrap();
    assert_eq!(tags_of(c, "carry", "default", None).await, owned(&[("a", "1"), ("b", "2")]));
    copy("replaced").tagging_directive(TaggingDirective::Replace).tagging("c=3").send().await.unwrap();
    assert_eq!(tags_of(c, "carry", "replaced", None).await, owned(&[("c", "3")]));
    copy("cleared").tagging_directive(TaggingDirective::Replace).send().await.unwrap();
    assert!(tags_of(c, "carry", "cleared", None).await.is_empty());
    let up = c.create_multipart_upload().bucket("carry").key("mpu").tagging("part=of-upload").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket("carry").key("mpu").upload_id(id).part_number(1);
    let part = part.body(b"p".to_vec().into()).send().await.unwrap();
    c.complete_multipart_upload()
        .bucket("carry")
        .key("mpu")
        .upload_id(id)
        .multipart_upload(crate::multipart::completed(&[(1, part.e_tag().unwrap().to_owned())]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(c, "carry", "mpu", None).await, owned(&[("part", "of-upload")]));
    gw.stop().await;
}

/// Promise: in a versioned bucket tags belong to a version: tagging a named version answers
/// with its id and leaves the others untouched; without a version id the current one is
/// tagged; a delete marker cannot be tagged (405 MethodNotAllowed, as S3).
#[tokio::test]
async fn tags_belong_to_a_version() {
    use aws_sdk_s3::types::BucketVersioningStatus as Status;
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("vtags").send().await.unwrap();
    crate::versioning::set_versioning(c, "vtags", Status::Enabled).await;
    let v1 = crate::versioning::put(c, "vtags", "k", b"one").await.unwrap();
    let v2 = crate::versioning::put(c, "vtags", "k", b"two").await.unwrap();
    let out = c.put_object_tagging().bucket("vtags").key("k").version_id(&v1).tagging(tagging(&[("old", "yes")]));
    assert_eq!(out.send().await.unwrap().version_id(), Some(v1.as_str()));
    let out = c.put_object_tagging().bucket("vtags").key("k").tagging(tagging(&[("new", "yes")])).send().await;
    assert_eq!(out.unwrap().version_id(), Some(v2.as_str()), "the current version");
    assert_eq!(tags_of(c, "vtags", "k", Some(&v1)).await, owned(&[("old", "yes")]));
    assert_eq!(tags_of(c, "vtags", "k", Some(&v2)).await, owned(&[("new", "yes")]));
    let marker = c.delete_object().bucket("vtags").key("k").send().await.unwrap();
    let marker = marker.version_id().unwrap();
    let e = c
        .put_object_tagging()
        .bucket("vtags")
        .key("k")
        .version_id(marker)
        .tagging(tagging(&[("x", "y")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(405), Some("MethodNotAllowed")));
    assert_eq!(tags_of(c, "vtags", "k", Some(&v2)).await, owned(&[("new", "yes")]), "the version under it kept");
    gw.stop().await;
}

/// Promise: bucket tags as S3 keeps them: GetBucketTagging of an untagged bucket is 404
/// NoSuchTagSet, PutBucketTagging (204) replaces the whole set (up to 50 tags; 51 is 400
/// InvalidTag and changes nothing), DeleteBucketTagging (204) removes it, only the bucket's
/// owner may change them, and a bucket deleted and made again starts without tags.
#[tokio::test]
async fn bucket_tags_are_set_replaced_and_removed() {
    let gw = TestGateway::start_with(|t| {
        t + "\n[[access_key]]\nid = \"tag-writer\"\nsecret = \"tag-writer-secret-0123456789\"\nuser = \"tag-writer\"\ngrants = { btags = \"read,write\" }\n"
    })
    .await;
    let c = &gw.client;
    c.create_bucket().bucket("btags").send().await.unwrap();
    let bucket_tags = || async {
        let out = c.get_bucket_tagging().bucket("btags").send().await?;
        Ok::<_, aws_sdk_s3::error::SdkError<_>>(
            out.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect::<Vec<_>>(),
        )
    };
    let e = bucket_tags().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchTagSet")));
    c.put_bucket_tagging().bucket("btags").tagging(tagging(&[("cost", "42"), ("env", "prod")])).send().await.unwrap();
    assert_eq!(bucket_tags().await.unwrap(), owned(&[("cost", "42"), ("env", "prod")]));
    c.put_bucket_tagging().bucket("btags").tagging(tagging(&[("env", "test")])).send().await.unwrap();
    assert_eq!(bucket_tags().await.unwrap(), owned(&[("env", "test")]), "replaced whole");
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let e = c.put_bucket_tagging().bucket("btags").tagging(tagging(&many)).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidTag")));
    c.put_bucket_tagging().bucket("btags").tagging(tagging(&many[..50])).send().await.unwrap();
    assert_eq!(bucket_tags().await.unwrap().len(), 50, "fifty is the limit, inclusive");
    let writer = crate::common::client_with(gw.addr, "tag-writer", "tag-writer-secret-0123456789");
    let e = writer.put_bucket_tagging().bucket("btags").tagging(tagging(&[("x", "y")])).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(403), Some("AccessDenied")), "not the owner");
    assert_eq!(bucket_tags().await.unwrap().len(), 50, "unchanged");
    c.delete_bucket_tagging().bucket("btags").send().await.unwrap();
    assert_eq!(error_code(&bucket_tags().await.unwrap_err()).as_deref(), Some("NoSuchTagSet"));
    c.put_bucket_tagging().bucket("btags").tagging(tagging(&[("old", "bucket")])).send().await.unwrap();
    c.delete_bucket().bucket("btags").send().await.unwrap();
    c.create_bucket().bucket("btags").send().await.unwrap();
    assert_eq!(error_code(&bucket_tags().await.unwrap_err()).as_deref(), Some("NoSuchTagSet"), "a new bucket");
    gw.stop().await;
}
