//! Unit tests of `meta::log_entry` (a file of their own to keep the module under 600 lines).

use super::*;

fn version() -> VersionRecord {
    VersionRecord {
        version_uid: VersionUid([2; 16]),
        seq: 41,
        size: 11,
        etag: ETag("5eb63bbbe01eeed093cb22bb8f5acdc3".into()),
        last_modified_ms: 1_764_000_000_000,
        headers: ContentHeaders {
            content_type: Some("text/plain".into()),
            cache_control: Some("no-cache".into()),
            expires_unix: Some(1_800_000_000),
            user_metadata: vec![("owner".into(), "ops".into())],
            ..ContentHeaders::default()
        },
        checksum: Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            value: "AAAAAAAAAAA=".into(),
            kind: ChecksumType::FullObject,
        }),
        streams: vec![StreamManifest {
            stream_id: StreamId([3; 16]),
            part_number: 0,
            plaintext_len: 11,
            seg_log2: 16,
            salt: [4; 32],
            commit: [5; 32],
            ciphertext_check: crate::model::CiphertextCheck([6; 32]),
            replicas: vec![
                crate::model::ProviderId::parse("de").unwrap(),
                crate::model::ProviderId::parse("fr").unwrap(),
            ],
            redundancy: crate::model::Redundancy::Replicas,
        }],
        part_checksums: vec![],
        multipart: false,
        manifest_mac: [7; 32],
        // An entry of the first format reads back as the key's null version, ordered by
        // its sequence number.
        order: 41,
        null: true,
        delete_marker: false,
        lock: crate::model::lock::VersionLock::default(),
        tags: crate::model::tagging::TagSet::default(),
    }
}

/// Promise: a tagged version is logged as a `TaggedVersion` entry (an untagged one keeps
/// the `ObjectVersion` bytes of before tagging) and reads back with its tags in order.
#[test]
fn a_tagged_version_round_trips_with_its_tags() {
    let dek = WrappedKey { kek_id: "souverain".into(), kek_version: 2, bytes: vec![9; 60], context: None };
    let pairs = vec![("team".to_owned(), "blue".to_owned()), ("class".to_owned(), "a b".to_owned())];
    let tags = crate::model::tagging::TagSet::new(pairs.clone(), 10).unwrap();
    let v = VersionRecord { order: 40, null: false, tags, ..version() };
    let entry = LoggedObjectVersion::new(BucketUid([1; 16]), "k", &v, &dek).entry();
    let LogEntry::TaggedVersion(back, logged) = LogEntry::decode(&entry.encode().unwrap()).unwrap() else {
        panic!("a tagged version entry")
    };
    assert_eq!(logged, pairs);
    assert_eq!(LoggedObjectVersion { tags: logged, ..*back }.record().unwrap(), (v.clone(), dek.clone()));
    let untagged = VersionRecord { tags: crate::model::tagging::TagSet::default(), ..v };
    let plain = LoggedObjectVersion::new(BucketUid([1; 16]), "k", &untagged, &dek).entry();
    assert!(matches!(plain, LogEntry::ObjectVersion(_)), "untagged versions log as before");
}

/// Promise: a version logged at commit comes back from its entry as the very record and
/// data key the store had (names, metadata, ETag, checksum, streams, replicas).
#[test]
fn a_version_round_trips_through_its_entry() {
    let dek = WrappedKey { kek_id: "souverain".into(), kek_version: 2, bytes: vec![9; 60], context: None };
    let entry = LogEntry::Version(Box::new(LoggedVersion::new(BucketUid([1; 16]), "docs/a.txt", &version(), &dek)));
    let LogEntry::Version(back) = LogEntry::decode(&entry.encode().unwrap()).unwrap() else {
        panic!("a version entry")
    };
    assert_eq!(back.key, "docs/a.txt");
    assert_eq!(back.record().unwrap(), (version(), dek.clone()));
    // Since versioning: a version with its own id and place, and a delete marker.
    let own = VersionRecord { order: 40, null: false, ..version() };
    let marker = VersionRecord { order: 45, null: false, ..VersionRecord::marker(VersionUid([5; 16]), 9) };
    for (v, key) in [(own, dek.clone()), (marker, WrappedKey::default())] {
        let entry = LogEntry::ObjectVersion(Box::new(LoggedObjectVersion::new(BucketUid([1; 16]), "k", &v, &key)));
        let LogEntry::ObjectVersion(back) = LogEntry::decode(&entry.encode().unwrap()).unwrap() else {
            panic!("a version entry")
        };
        assert_eq!(back.record().unwrap(), (v, key));
    }
    // An erasure-coded version: scheme code 1, its shape first in the holder list.
    let mut sharded = version();
    sharded.streams[0].redundancy = crate::model::Redundancy::ReedSolomon(crate::model::StripeShape {
        shards: crate::model::ErasureShards { data: 1, parity: 1 },
        chunk: 65536,
    });
    let logged = LoggedVersion::new(BucketUid([1; 16]), "k", &sharded, &dek);
    assert_eq!(
        (logged.streams[0].scheme, logged.streams[0].replicas[0].as_str()),
        (SCHEME_REED_SOLOMON, "~rs/1/1/65536")
    );
    let mut mislabelled = logged.clone();
    mislabelled.streams[0].scheme = SCHEME_REPLICAS;
    assert_eq!(mislabelled.record().unwrap_err(), EntryError::Field("scheme"));
    let LogEntry::Version(back) = LogEntry::decode(&LogEntry::Version(Box::new(logged)).encode().unwrap()).unwrap()
    else {
        panic!("a version entry")
    };
    assert_eq!(back.record().unwrap().0.streams, sharded.streams);
    let bucket = BucketRecord {
        uid: BucketUid([1; 16]),
        name: BucketName::parse("photos").unwrap(),
        policy_id: "eu".into(),
        created_ms: 5,
    };
    let logged = LogEntry::Bucket(LoggedBucket::new(7, &bucket, Some("kek-7".into())));
    let LogEntry::Bucket(b) = LogEntry::decode(&logged.encode().unwrap()).unwrap() else { panic!("a bucket entry") };
    assert_eq!((b.record().unwrap(), b.kek.as_deref()), (bucket, Some("kek-7")));
}

/// Promise: the encoding is pinned. A tombstone's bytes follow from postcard's published
/// wire format by hand (variant index, varint, raw array, length-prefixed string), so a
/// reordered variant or field cannot slip in.
#[test]
fn a_tombstone_has_known_bytes() {
    let entry = LogEntry::Deleted { seq: 300, bucket: [1; 16], key: "a/b".into() };
    let mut expected = vec![ENTRY_FORMAT, 3, 0xAC, 0x02];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[3, b'a', b'/', b'b']);
    assert_eq!(entry.encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(entry));
    let entry = LogEntry::VersionDeleted { seq: 5, bucket: [1; 16], key: "k".into(), version: [2; 16] };
    let mut expected = vec![ENTRY_FORMAT, 7, 5];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[1, b'k']);
    expected.extend_from_slice(&[2; 16]);
    assert_eq!(entry.encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(entry));
    // A checkpoint's marker: kind 9, varint through, bucket, id, varint part, bool last.
    let marker = LoggedCheckpoint { through: 200, bucket: [1; 16], id: [4; 16], part: 2, last: true };
    let mut expected = vec![ENTRY_FORMAT, 9, 0xC8, 0x01];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[4; 16]);
    expected.extend_from_slice(&[2, 1]);
    assert_eq!(LogEntry::Checkpoint(marker).encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(LogEntry::Checkpoint(marker)));
    // Every kind keeps its index for ever (a new kind is appended).
    let dek = WrappedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![], context: None };
    let bucket = BucketRecord {
        uid: BucketUid([1; 16]),
        name: BucketName::parse("b-1").unwrap(),
        policy_id: "p".into(),
        created_ms: 0,
    };
    let kinds = [
        LogEntry::Bucket(LoggedBucket::new(1, &bucket, None)),
        LogEntry::BucketDeleted { seq: 1, bucket: [1; 16] },
        LogEntry::Version(Box::new(LoggedVersion::new(BucketUid([1; 16]), "k", &version(), &dek))),
        LogEntry::Deleted { seq: 1, bucket: [1; 16], key: "k".into() },
        LogEntry::Rewrapped { seq: 1, version: [2; 16], dek: (&dek).into() },
        LogEntry::Catalog { seq: 1, name: "policy/eu".into(), json: "{}".into() },
        LogEntry::ObjectVersion(Box::new(LoggedObjectVersion::new(BucketUid([1; 16]), "k", &version(), &dek))),
        LogEntry::VersionDeleted { seq: 1, bucket: [1; 16], key: "k".into(), version: [2; 16] },
    ];
    for (index, kind) in (0u8..).zip(&kinds) {
        assert_eq!(kind.encode().unwrap()[..2], [ENTRY_FORMAT, index], "{kind:?}");
    }
}

/// Promise: the upload entries' encoding is pinned (kinds 10–12), derived by hand from
/// postcard's wire format: variant index, varints for integers (zigzag for signed ones), raw
/// fixed arrays, length-prefixed strings and sequences, 0/1 for `Option` and `bool`.
#[test]
fn upload_entries_have_known_bytes() {
    let upload = LoggedUpload {
        seq: 3,
        bucket: [1; 16],
        upload: [6; 16],
        key: "k".into(),
        version: [7; 16],
        targets: vec!["de".into()],
        write_quorum: 1,
        initiated_ms: 2,
        content: [Some("t".into()), None, None, None, None],
        expires_unix: None,
        user_metadata: vec![("a".into(), "b".into())],
        checksum: Some((3, true)),
        dek: LoggedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![9] },
        lock: LoggedLock::default(),
        tags: vec![],
    };
    let mut expected = vec![ENTRY_FORMAT, 10, 3];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[6; 16]);
    expected.extend_from_slice(&[1, b'k']);
    expected.extend_from_slice(&[7; 16]);
    expected.extend_from_slice(&[1, 2, b'd', b'e']); // targets
    expected.extend_from_slice(&[1, 4]); // write quorum, initiated_ms 2 zigzagged
    expected.extend_from_slice(&[1, 1, b't', 0, 0, 0, 0]); // content headers
    expected.extend_from_slice(&[0, 1, 1, b'a', 1, b'b']); // Expires, user metadata
    expected.extend_from_slice(&[1, 3, 1]); // checksum CRC64-NVME, composite
    expected.extend_from_slice(&[1, b'k', 1, 1, 9]); // data key
    expected.extend_from_slice(&[0, 0, 0, 0]); // lock, tags
    let entry = LogEntry::Upload(Box::new(upload));
    assert_eq!(entry.encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(entry));
    let ended = LogEntry::UploadEnded { seq: 5, bucket: [1; 16], upload: [6; 16] };
    let mut expected = vec![ENTRY_FORMAT, 12, 5];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[6; 16]);
    assert_eq!(ended.encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(ended));
    let part = crate::meta::PartRecord {
        stream: version().streams[0].clone(),
        etag_digest: [8; 16],
        checksum: None,
        last_modified_ms: 0,
        fast_etag: true,
    };
    let logged = LoggedPart::new(4, BucketUid([1; 16]), crate::model::UploadId([6; 16]), 2, &part);
    let bytes = LogEntry::Part(Box::new(logged.clone())).encode().unwrap();
    assert_eq!(bytes[..3], [ENTRY_FORMAT, 11, 4]);
    assert_eq!(logged.record().unwrap(), part, "a part reads back as stored");
}

/// Promise: an audit record's entry (kind 13) has fixed bytes, derived by hand from
/// postcard's wire format, and reads back as the record the chain sealed.
#[test]
fn audit_entries_have_known_bytes() {
    let rec = crate::model::audit::AuditRecord {
        seq: 2,
        time_ms: 5,
        actor: "a".into(),
        action: "b".into(),
        detail: "{}".into(),
        prev_hash: "p".into(),
        hash: "h".into(),
    };
    let entry = LogEntry::Audited(Box::new(LoggedAudit::new(3, Some([1; 16]), &rec)));
    let mut expected = vec![ENTRY_FORMAT, 13, 3, 1];
    expected.extend_from_slice(&[1; 16]);
    expected.extend_from_slice(&[2, 10]); // record 2, time 5 zigzagged
    expected.extend_from_slice(&[1, b'a', 1, b'b', 2, b'{', b'}', 1, b'p', 1, b'h']);
    assert_eq!(entry.encode().unwrap(), expected);
    assert_eq!(LogEntry::decode(&expected), Ok(entry.clone()));
    let LogEntry::Audited(a) = entry else { unreachable!() };
    assert_eq!(a.record(), rec);
    let catalog = LogEntry::Audited(Box::new(LoggedAudit::new(3, None, &rec)));
    assert_eq!(catalog.encode().unwrap()[..5], [ENTRY_FORMAT, 13, 3, 0, 2], "no bucket: the catalog's scope");
}

/// Promise: an entry of another format, a truncated one, or one naming what no gateway
/// writes is refused, not half-applied.
#[test]
fn bad_entries_are_refused() {
    let entry = LogEntry::Deleted { seq: 1, bucket: [1; 16], key: "k".into() };
    let bytes = entry.encode().unwrap();
    assert_eq!(LogEntry::decode(&bytes[..bytes.len() - 1]), Err(EntryError::Decode));
    assert_eq!(LogEntry::decode(&[1, 3]), Err(EntryError::Format));
    assert_eq!(LogEntry::decode(&[]), Err(EntryError::Format));
    let dek = WrappedKey { kek_id: "k".into(), kek_version: 1, bytes: vec![], context: None };
    let mut v = LoggedVersion::new(BucketUid([1; 16]), "k", &version(), &dek);
    v.checksum = Some((9, String::new(), false));
    assert_eq!(v.record().err(), Some(EntryError::Field("checksum")));
    v.checksum = None;
    v.streams[0].scheme = 1;
    assert_eq!(v.record().err(), Some(EntryError::Field("scheme")));
    let bucket = LoggedBucket {
        seq: 1,
        uid: [1; 16],
        name: "Not_A_Bucket".into(),
        policy: "eu".into(),
        created_ms: 0,
        kek: None,
    };
    assert_eq!(bucket.record().err(), Some(EntryError::Field("bucket name")));
}
