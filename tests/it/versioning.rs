//! Object versioning through aws-sdk-s3, as AWS S3 documents it: version ids on writes, reads
//! and deletes of one version, delete markers, the `null` version of unversioned and suspended
//! buckets, ListObjectVersions, and a bucket that keeps its versions until each is deleted.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{BucketVersioningStatus, Delete, ObjectIdentifier, VersioningConfiguration};

use crate::common::{TestGateway, error_code, error_status};

pub(crate) async fn set_versioning(c: &Client, bucket: &str, status: BucketVersioningStatus) {
    let conf = VersioningConfiguration::builder().status(status).build();
    c.put_bucket_versioning().bucket(bucket).versioning_configuration(conf).send().await.unwrap();
}

pub(crate) async fn put(c: &Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out = c.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await.unwrap();
    out.version_id().map(str::to_owned)
}

/// The body of `key` (of `version`, if given) and the version id the answer carries.
pub(crate) async fn get(c: &Client, bucket: &str, key: &str, version: Option<&str>) -> (Vec<u8>, Option<String>) {
    let out = c.get_object().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await.unwrap();
    let id = out.version_id().map(str::to_owned);
    (out.body.collect().await.unwrap().into_bytes().to_vec(), id)
}

/// `(key, version id, is latest, is a delete marker)` of every version, in the order
/// ListObjectVersions gives them (by key, newest first), `max` at a time.
pub(crate) async fn versions(c: &Client, bucket: &str, max: i32) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket(bucket)
            .max_keys(max)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        let mut listed: Vec<(String, String, bool, bool, Option<aws_sdk_s3::primitives::DateTime>)> = Vec::new();
        for v in page.versions() {
            let (k, id) = (v.key().unwrap().to_owned(), v.version_id().unwrap().to_owned());
            listed.push((k, id, v.is_latest().unwrap(), false, v.last_modified().copied()));
        }
        for m in page.delete_markers() {
            let (k, id) = (m.key().unwrap().to_owned(), m.version_id().unwrap().to_owned());
            listed.push((k, id, m.is_latest().unwrap(), true, m.last_modified().copied()));
        }
        assert!(listed.len() <= max as usize);
        // The XML carries versions and markers apart; the order within a key is newest first.
        listed.sort_by(|a, b| a.0.cmp(&b.0).then(b.4.cmp(&a.4)));
        out.extend(listed.into_iter().map(|(k, id, latest, marker, _)| (k, id, latest, marker)));
        if !page.is_truncated().unwrap_or(false) {
            return out;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_version_id_marker().map(str::to_owned);
        assert!(key_marker.is_some(), "a truncated page says where to go on");
    }
}

/// Promise: with versioning enabled every write keeps the versions before it, each readable by
/// its id with its own bytes; a DELETE hides the key behind a delete marker (404 with
/// `x-amz-delete-marker`), deleting the marker restores the key, deleting a version removes
/// exactly that version; ListObjectVersions lists them newest first, also one at a time.
#[tokio::test]
async fn versions_markers_and_restores() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("vers").send().await.unwrap();
    assert_eq!(put(c, "vers", "k", b"zero").await, None, "no version id before versioning");
    let status = c.get_bucket_versioning().bucket("vers").send().await.unwrap();
    assert_eq!(status.status(), None, "an unversioned bucket shows no status");
    let streams_per_version = gw.stream_files().len();

    set_versioning(c, "vers", BucketVersioningStatus::Enabled).await;
    let status = c.get_bucket_versioning().bucket("vers").send().await.unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Enabled));
    let v1 = put(c, "vers", "k", b"one").await.expect("a version id");
    let v2 = put(c, "vers", "k", b"two").await.expect("a version id");
    assert!(v1 != v2 && v1.len() == 32 && v1.bytes().all(|b| b.is_ascii_hexdigit()), "{v1} {v2}");
    assert_eq!(gw.stream_files().len(), 3 * streams_per_version, "each version has its own ciphertext");

    assert_eq!(get(c, "vers", "k", None).await, (b"two".to_vec(), Some(v2.clone())));
    assert_eq!(get(c, "vers", "k", Some(&v1)).await, (b"one".to_vec(), Some(v1.clone())));
    assert_eq!(get(c, "vers", "k", Some("null")).await, (b"zero".to_vec(), Some("null".into())));
    let head = c.head_object().bucket("vers").key("k").version_id(&v1).send().await.unwrap();
    assert_eq!((head.content_length(), head.version_id()), (Some(3), Some(v1.as_str())));
    let e = c.get_object().bucket("vers").key("k").version_id("0".repeat(32)).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchVersion")));
    let e = c.get_object().bucket("vers").key("k").version_id("not-an-id").send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));

    let expected = vec![
        ("k".to_owned(), v2.clone(), true, false),
        ("k".to_owned(), v1.clone(), false, false),
        ("k".to_owned(), "null".to_owned(), false, false),
    ];
    assert_eq!(versions(c, "vers", 1000).await, expected);
    assert_eq!(versions(c, "vers", 1).await, expected, "one version per page");

    // DELETE without a version id: a marker.
    let del = c.delete_object().bucket("vers").key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    let m = del.version_id().expect("the marker's id").to_owned();
    let raw = crate::common::raw::signed_request(
        gw.addr,
        &crate::common::raw::Signer::new(std::time::SystemTime::now()),
        "GET",
        "/vers/k",
        vec![],
        &crate::common::raw::sha256_hex(b""),
        b"",
    )
    .await;
    assert_eq!((raw.status, raw.code().as_deref()), (404, Some("NoSuchKey")));
    assert_eq!((raw.header("x-amz-delete-marker"), raw.header("x-amz-version-id")), (Some("true"), Some(m.as_str())));
    let e = c.get_object().bucket("vers").key("k").version_id(&m).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(405), Some("MethodNotAllowed")));
    let listed = c.list_objects_v2().bucket("vers").send().await.unwrap();
    assert!(listed.contents().is_empty(), "a deleted key is not listed");
    let all = versions(c, "vers", 1000).await;
    assert_eq!(all[0], ("k".to_owned(), m.clone(), true, true));
    assert_eq!(all[1..], [(expected[0].0.clone(), v2.clone(), false, false), expected[1].clone(), expected[2].clone()]);
    assert_eq!(gw.stream_files().len(), 3 * streams_per_version, "a marker deletes nothing");

    // Deleting the marker restores the key; deleting a version removes only it.
    let del = c.delete_object().bucket("vers").key("k").version_id(&m).send().await.unwrap();
    assert_eq!((del.delete_marker(), del.version_id()), (Some(true), Some(m.as_str())));
    assert_eq!(get(c, "vers", "k", None).await.0, b"two");
    let del = c.delete_object().bucket("vers").key("k").version_id(&v2).send().await.unwrap();
    assert_eq!((del.delete_marker(), del.version_id()), (None, Some(v2.as_str())));
    assert_eq!(get(c, "vers", "k", None).await, (b"one".to_vec(), Some(v1.clone())));
    assert_eq!(
        versions(c, "vers", 1000).await,
        [(expected[1].0.clone(), v1.clone(), true, false), expected[2].clone()]
    );

    // A copy from a version, and DeleteObjects naming versions.
    let copied = c.copy_object().bucket("vers").key("copy").copy_source("vers/k?versionId=null").send().await.unwrap();
    assert_eq!(copied.copy_source_version_id(), Some("null"));
    assert_eq!(get(c, "vers", "copy", None).await.0, b"zero");
    let ids = [("k", v1.as_str()), ("k", "null")]
        .map(|(k, v)| ObjectIdentifier::builder().key(k).version_id(v).build().unwrap());
    let delete = Delete::builder().set_objects(Some(ids.to_vec())).build().unwrap();
    let out = c.delete_objects().bucket("vers").delete(delete).send().await.unwrap();
    let mut deleted: Vec<_> = out.deleted().iter().map(|d| d.version_id().unwrap().to_owned()).collect();
    deleted.sort();
    let mut wanted = vec![v1.clone(), "null".to_owned()];
    wanted.sort();
    assert_eq!((deleted, out.errors().len()), (wanted, 0));
    let e = c.get_object().bucket("vers").key("k").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchKey"), "no version of k is left");
    let e = c.delete_bucket().bucket("vers").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("BucketNotEmpty"), "the copy's version is still there");
    let copy_version = versions(c, "vers", 1000).await[0].1.clone();
    c.delete_object().bucket("vers").key("copy").version_id(copy_version).send().await.unwrap();
    c.delete_bucket().bucket("vers").send().await.unwrap();
    gw.stop().await;
}

/// Promise: in a suspended bucket a write replaces the key's `null` version (and only it),
/// older versions stay readable, and a DELETE makes the `null` delete marker.
#[tokio::test]
async fn suspended_bucket_replaces_only_the_null_version() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("susp").send().await.unwrap();
    set_versioning(c, "susp", BucketVersioningStatus::Enabled).await;
    let kept = put(c, "susp", "k", b"kept").await.unwrap();
    set_versioning(c, "susp", BucketVersioningStatus::Suspended).await;
    let status = c.get_bucket_versioning().bucket("susp").send().await.unwrap();
    assert_eq!(status.status(), Some(&BucketVersioningStatus::Suspended));
    assert_eq!(put(c, "susp", "k", b"first null").await.as_deref(), Some("null"));
    assert_eq!(put(c, "susp", "k", b"second null").await.as_deref(), Some("null"));
    assert_eq!(
        versions(c, "susp", 1000).await,
        [("k".to_owned(), "null".to_owned(), true, false), ("k".to_owned(), kept.clone(), false, false)]
    );
    assert_eq!(get(c, "susp", "k", Some("null")).await.0, b"second null");
    let del = c.delete_object().bucket("susp").key("k").send().await.unwrap();
    assert_eq!((del.delete_marker(), del.version_id()), (Some(true), Some("null")));
    assert_eq!(
        versions(c, "susp", 1000).await,
        [("k".to_owned(), "null".to_owned(), true, true), ("k".to_owned(), kept.clone(), false, false)]
    );
    assert_eq!(get(c, "susp", "k", Some(&kept)).await.0, b"kept");
    let bad = VersioningConfiguration::builder().status(BucketVersioningStatus::from("Off")).build();
    let e = c.put_bucket_versioning().bucket("susp").versioning_configuration(bad).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(400), "never back to unversioned");
    gw.stop().await;
}

/// Promise: GetObjectAttributes answers the attributes asked for, of the current version or of
/// the one `versionId` names (ETag, size, storage class, the checksum with its type), and the
/// parts of a multipart object with their sizes and checksums, paged by `max-parts` and
/// `part-number-marker`; an unknown attribute is 400 InvalidArgument, a key behind a delete
/// marker 404 NoSuchKey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_attributes_of_versions_and_parts() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes};
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("attrs").send().await.unwrap();
    set_versioning(c, "attrs", BucketVersioningStatus::Enabled).await;
    let put = |body: &'static [u8]| {
        c.put_object().bucket("attrs").key("k").checksum_algorithm(ChecksumAlgorithm::Crc32).body(body.to_vec().into())
    };
    let first = put(b"first body").send().await.unwrap();
    put(b"second, longer body").send().await.unwrap();
    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::ObjectSize,
        ObjectAttributes::StorageClass,
        ObjectAttributes::Checksum,
    ];
    let attrs = |version: Option<&str>| {
        c.get_object_attributes()
            .bucket("attrs")
            .key("k")
            .set_version_id(version.map(str::to_owned))
            .set_object_attributes(Some(all.to_vec()))
            .send()
    };
    let now = attrs(None).await.unwrap();
    assert_eq!(now.object_size(), Some(19));
    assert_eq!(now.e_tag().map(|e| e.trim_matches('"')), Some(crate::common::md5_hex(b"second, longer body").as_str()));
    assert_eq!(now.storage_class().map(aws_sdk_s3::types::StorageClass::as_str), Some("STANDARD"));
    let old = attrs(first.version_id()).await.unwrap();
    assert_eq!((old.object_size(), old.version_id()), (Some(10), first.version_id()));
    let crc = old.checksum().unwrap();
    assert_eq!(crc.checksum_crc32(), first.checksum_crc32(), "the version's own checksum");
    assert_eq!(crc.checksum_type().map(aws_sdk_s3::types::ChecksumType::as_str), Some("FULL_OBJECT"));

    // A multipart object: its parts, a page at a time.
    let up = c.create_multipart_upload().bucket("attrs").key("mp").checksum_algorithm(ChecksumAlgorithm::Crc32);
    let id = up.send().await.unwrap().upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (n, len) in [(1, 5 << 20), (2, 1)] {
        let body = crate::common::pattern(len, n as u64);
        let part = c.upload_part().bucket("attrs").key("mp").upload_id(&id).part_number(n);
        let part = part.checksum_algorithm(ChecksumAlgorithm::Crc32).body(body.into()).send().await.unwrap();
        let crc = part.checksum_crc32().unwrap().to_owned();
        done.push((
            CompletedPart::builder().part_number(n).e_tag(part.e_tag().unwrap()).checksum_crc32(&crc).build(),
            crc,
        ));
    }
    let parts = CompletedMultipartUpload::builder().set_parts(Some(done.iter().map(|d| d.0.clone()).collect())).build();
    c.complete_multipart_upload()
        .bucket("attrs")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
    let page = |marker: Option<i32>| {
        c.get_object_attributes()
            .bucket("attrs")
            .key("mp")
            .object_attributes(ObjectAttributes::ObjectParts)
            .max_parts(1)
            .set_part_number_marker(marker.map(|m| m.to_string()))
            .send()
    };
    let p1 = page(None).await.unwrap();
    let p1 = p1.object_parts().unwrap();
    assert_eq!(
        (p1.total_parts_count(), p1.is_truncated(), p1.next_part_number_marker()),
        (Some(2), Some(true), Some("1"))
    );
    let part = &p1.parts()[0];
    assert_eq!(
        (part.part_number(), part.size(), part.checksum_crc32()),
        (Some(1), Some(5 << 20), Some(done[0].1.as_str()))
    );
    let p2 = page(Some(1)).await.unwrap();
    let p2 = p2.object_parts().unwrap();
    assert_eq!(p2.is_truncated(), Some(false));
    let part = &p2.parts()[0];
    assert_eq!((part.part_number(), part.size(), part.checksum_crc32()), (Some(2), Some(1), Some(done[1].1.as_str())));

    let bogus = c.get_object_attributes().bucket("attrs").key("k").object_attributes(ObjectAttributes::from("Owner"));
    let e = bogus.send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(400), Some("InvalidArgument")));
    c.delete_object().bucket("attrs").key("k").send().await.unwrap();
    let e = attrs(None).await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(404), Some("NoSuchKey")));
    gw.stop().await;
}

/// Promise: conditional reads apply to the version read: with `versionId`, If-Match and
/// If-None-Match compare that version's ETag (200, 412 PreconditionFailed, 304), not the
/// current one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_reads_judge_the_version_named() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("conds").send().await.unwrap();
    set_versioning(c, "conds", BucketVersioningStatus::Enabled).await;
    let old = c.put_object().bucket("conds").key("k").body(b"old".to_vec().into()).send().await.unwrap();
    let new = c.put_object().bucket("conds").key("k").body(b"new".to_vec().into()).send().await.unwrap();
    let (old_id, old_etag, new_etag) = (old.version_id().unwrap(), old.e_tag().unwrap(), new.e_tag().unwrap());
    let get = || c.get_object().bucket("conds").key("k").version_id(old_id);
    let got = get().if_match(old_etag).send().await.unwrap();
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"old");
    let e = get().if_match(new_etag).send().await.unwrap_err();
    assert_eq!((error_status(&e), error_code(&e).as_deref()), (Some(412), Some("PreconditionFailed")));
    let e = get().if_none_match(old_etag).send().await.unwrap_err();
    assert_eq!(error_status(&e), Some(304));
    assert!(get().if_none_match(new_etag).send().await.is_ok(), "the current ETag does not match the old version");
    let head = c.head_object().bucket("conds").key("k").version_id(old_id).if_match(new_etag).send().await;
    assert_eq!(error_status(&head.unwrap_err()), Some(412));
    gw.stop().await;
}
