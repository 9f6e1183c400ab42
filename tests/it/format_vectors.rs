//! Known answers for format v1 (docs/format-v1.md): real provider files and the metadata needed
//! to read them, in `tests/fixtures/format-v1/`, made once by `write_format_v1_fixtures` and
//! checked byte for byte for ever. A change made on both sides of the format (nonce layout, HKDF
//! labels, AAD, commitment, header) seals and opens its own output fine, and still fails here.
//! Format v2 gets a fixture directory of its own; these files are never regenerated.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use souverain::datapath::crypto::{manifest_mac, sha256, unwrap_key, wrap_key};
use souverain::datapath::format::manifest_bytes;
use souverain::datapath::{SegmentOpener, SegmentSpan, StreamParams, StreamSealer};
use souverain::keys::KeyBinding;
use souverain::model::random_array;
use souverain::model::{BucketUid, ProviderId, StreamId, StreamManifest, VersionUid};

fn dir() -> PathBuf {
    crate::common::repo_root().join("tests/fixtures/format-v1")
}

/// What the metadata store holds about the fixture object (hex fields).
#[derive(Debug, Serialize, Deserialize)]
struct Fixture {
    /// The local key file's 32 bytes are in `kek.key`; the DEK wrapped under it, bound to
    /// bucket, version and key (`souverain/v2/dek`), and as keys were wrapped before object
    /// keys were bound (`souverain/v1/dek`).
    wrapped_dek: String,
    wrapped_dek_v1_aad: String,
    dek: String,
    bucket_uid: String,
    version_uid: String,
    key: String,
    /// HMAC of the streams taken as parts 1..n of one multipart object.
    manifest_mac: String,
    streams: Vec<FixtureStream>,
}

#[derive(Debug, Serialize, Deserialize)]
struct FixtureStream {
    /// The provider file, as named at the provider (`sv1/<stream id>`).
    file: String,
    stream_id: String,
    part_number: u32,
    plaintext_len: u64,
    seg_log2: u8,
    salt: String,
    commit: String,
    ciphertext_sha256: String,
}

/// Lengths across segment boundaries (64 KiB segments, and one stream of 128 KiB segments).
const CASES: [(u64, u8); 7] =
    [(0, 16), (1, 16), (65_535, 16), (65_536, 16), (65_537, 16), (2 * 65_536 + 100, 16), (200_000, 17)];

/// The plaintext of every fixture stream of length `len`.
fn plaintext(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn arr<const N: usize>(hex_text: &str) -> [u8; N] {
    hex::decode(hex_text).ok().and_then(|b| <[u8; N]>::try_from(b).ok()).expect("fixture hex of the right length")
}

fn params(f: &Fixture, s: &FixtureStream) -> StreamParams {
    StreamParams {
        stream_id: StreamId(arr(&s.stream_id)),
        plaintext_len: s.plaintext_len,
        seg_log2: s.seg_log2,
        bucket_uid: BucketUid(arr(&f.bucket_uid)),
        version_uid: VersionUid(arr(&f.version_uid)),
        part_number: s.part_number,
        salt: arr(&s.salt),
    }
}

fn seal(dek: &[u8; 32], p: &StreamParams, data: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let mut sealer = StreamSealer::new(dek, p).unwrap();
    let mut out = BytesMut::new();
    for chunk in data.chunks(10_000) {
        sealer.push(chunk, &mut out).unwrap();
    }
    let summary = sealer.finish(&mut out).unwrap();
    (out.to_vec(), summary.commit)
}

fn manifests(f: &Fixture) -> Vec<StreamManifest> {
    f.streams
        .iter()
        .map(|s| StreamManifest {
            stream_id: StreamId(arr(&s.stream_id)),
            part_number: s.part_number,
            plaintext_len: s.plaintext_len,
            seg_log2: s.seg_log2,
            salt: arr(&s.salt),
            commit: arr(&s.commit),
            ciphertext_check: souverain::model::CiphertextCheck(arr(&s.ciphertext_sha256)),
            replicas: vec![ProviderId::parse("fixture").unwrap()],
            redundancy: souverain::model::Redundancy::Replicas,
        })
        .collect()
}

/// Promise: format v1 is frozen. The committed provider files have the documented header at the
/// documented offsets, open to their plaintext under the recorded DEK and salt, and sealing
/// that plaintext again gives the same bytes; the wrapped DEK opens under the key file with
/// both bindings; the manifest MAC is the recorded one.
#[test]
fn format_v1_provider_files_are_read_byte_for_byte() {
    let f: Fixture = serde_json::from_slice(&std::fs::read(dir().join("fixture.json")).unwrap()).unwrap();
    let kek: [u8; 32] = std::fs::read(dir().join("kek.key")).unwrap().try_into().unwrap();
    let dek: [u8; 32] = arr(&f.dek);
    let at = KeyBinding::new(BucketUid(arr(&f.bucket_uid)), VersionUid(arr(&f.version_uid)), &f.key);
    let opened = unwrap_key(&kek, &at.aad("local"), &hex::decode(&f.wrapped_dek).unwrap()).unwrap();
    assert_eq!(*opened, dek, "the wrapped DEK (object key bound)");
    let legacy = unwrap_key(&kek, &at.legacy_aad("local"), &hex::decode(&f.wrapped_dek_v1_aad).unwrap()).unwrap();
    assert_eq!(*legacy, dek, "the wrapped DEK (bucket and version only)");
    assert_eq!(f.streams.len(), CASES.len());
    for s in &f.streams {
        let file = std::fs::read(dir().join(&s.file)).unwrap();
        assert_eq!(hex::encode(sha256(&file)), s.ciphertext_sha256, "{}", s.file);
        let p = params(&f, s);
        assert_eq!(&file[0..4], b"SOVG");
        assert_eq!(file[4..8], [1, 1, s.seg_log2, 0], "format_version, alg_id, seg_log2, flags");
        assert_eq!(file[8..24], p.stream_id.0);
        assert_eq!(file[24..56], p.salt);
        assert_eq!(file[56..64], s.plaintext_len.to_be_bytes());
        assert_eq!(hex::encode(&file[64..96]), s.commit);
        let commit: [u8; 32] = arr(&s.commit);
        let whole = s.plaintext_len.checked_sub(1).map(|last| (0, last));
        let span = SegmentSpan::for_range(s.plaintext_len, s.seg_log2, whole);
        let mut opener = SegmentOpener::new(&dek, &p, &commit, span).unwrap();
        let mut out: Vec<Bytes> = Vec::new();
        for chunk in file[span.cipher_start as usize..span.cipher_end as usize].chunks(7_777) {
            opener.push(chunk, &mut out).unwrap();
        }
        opener.finish().unwrap();
        assert!(out.concat() == plaintext(s.plaintext_len), "{} opens to its plaintext", s.file);
        let (again, again_commit) = seal(&dek, &p, &plaintext(s.plaintext_len));
        assert_eq!(again_commit, commit, "{}: the commitment", s.file);
        assert!(again == file, "{}: sealing again gives the same bytes", s.file);
    }
    let (bucket, version) = (arr::<16>(&f.bucket_uid), arr::<16>(&f.version_uid));
    let mac = manifest_mac(&dek, &bucket, &version, &manifest_bytes(&manifests(&f))).unwrap();
    assert_eq!(hex::encode(mac), f.manifest_mac, "the manifest MAC");
}

/// Writes the fixtures. Run once, for a new format's directory, never again for v1:
/// `SOUVERAIN_WRITE_FIXTURES=1 cargo test --test it -- --ignored write_format_v1_fixtures`.
#[test]
#[ignore = "writes the committed fixtures; only for a new format"]
fn write_format_v1_fixtures() {
    if std::env::var_os("SOUVERAIN_WRITE_FIXTURES").is_none() {
        return;
    }
    let d = dir();
    assert!(!d.join("fixture.json").exists(), "format v1's fixtures exist: they are never regenerated");
    std::fs::create_dir_all(d.join("sv1")).unwrap();
    let kek: [u8; 32] = random_array().unwrap();
    let dek: [u8; 32] = random_array().unwrap();
    let (bucket, version): ([u8; 16], [u8; 16]) = (random_array().unwrap(), random_array().unwrap());
    let key = "fixtures/format-v1/object.bin".to_owned();
    let at = KeyBinding::new(BucketUid(bucket), VersionUid(version), &key);
    let mut f = Fixture {
        wrapped_dek: hex::encode(wrap_key(&kek, &at.aad("local"), &dek).unwrap()),
        wrapped_dek_v1_aad: hex::encode(wrap_key(&kek, &at.legacy_aad("local"), &dek).unwrap()),
        dek: hex::encode(dek),
        bucket_uid: hex::encode(bucket),
        version_uid: hex::encode(version),
        key: key.clone(),
        manifest_mac: String::new(),
        streams: Vec::new(),
    };
    for (i, (len, seg_log2)) in CASES.into_iter().enumerate() {
        let stream_id: [u8; 16] = random_array().unwrap();
        let salt: [u8; 32] = random_array().unwrap();
        let mut s = FixtureStream {
            file: format!("sv1/{}", hex::encode(stream_id)),
            stream_id: hex::encode(stream_id),
            part_number: i as u32 + 1,
            plaintext_len: len,
            seg_log2,
            salt: hex::encode(salt),
            commit: String::new(),
            ciphertext_sha256: String::new(),
        };
        let (bytes, commit) = seal(&dek, &params(&f, &s), &plaintext(len));
        s.commit = hex::encode(commit);
        s.ciphertext_sha256 = hex::encode(sha256(&bytes));
        std::fs::write(d.join(&s.file), bytes).unwrap();
        f.streams.push(s);
    }
    f.manifest_mac = hex::encode(manifest_mac(&dek, &bucket, &version, &manifest_bytes(&manifests(&f))).unwrap());
    std::fs::write(d.join("kek.key"), kek).unwrap();
    std::fs::write(d.join("fixture.json"), serde_json::to_string_pretty(&f).unwrap() + "\n").unwrap();
}
