//! Property tests of format v1: round trips, range mapping and tamper detection.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::format::{StreamParams, segment_count};
use super::{OpenError, SegmentOpener, SegmentSpan, StreamSealer, ciphertext_len, slice_parts};
use crate::model::{BucketUid, StreamId, VersionUid, usize_from};

const DEK: [u8; 32] = [7; 32];

fn params(len: u64, seg_log2: u8, part: u32) -> StreamParams {
    StreamParams {
        stream_id: StreamId([1; 16]),
        plaintext_len: len,
        seg_log2,
        bucket_uid: BucketUid([2; 16]),
        version_uid: VersionUid([3; 16]),
        part_number: part,
        salt: [4; 32],
    }
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from(i * 31 % 251).unwrap_or(0)).collect()
}

/// Seals in uneven pushes, as network chunks arrive.
fn seal(p: &StreamParams, data: &[u8], push: usize) -> (Vec<u8>, [u8; 32]) {
    let mut s = StreamSealer::new(&DEK, p).unwrap();
    let mut out = BytesMut::new();
    for chunk in data.chunks(push.max(1)) {
        s.push(chunk, &mut out).unwrap();
    }
    let summary = s.finish(&mut out).unwrap();
    assert_eq!(summary.ciphertext_len, out.len() as u64);
    (out.to_vec(), summary.commit)
}

/// Opens a span, feeding ciphertext in uneven pieces; returns what was emitted and the outcome.
fn open(
    p: &StreamParams,
    commit: &[u8; 32],
    cipher: &[u8],
    range: Option<(u64, u64)>,
    feed: usize,
) -> (Vec<u8>, Result<(), OpenError>) {
    let span = SegmentSpan::for_range(p.plaintext_len, p.seg_log2, range);
    let mut o = match SegmentOpener::new(&DEK, p, commit, span) {
        Ok(o) => o,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let slice = &cipher[usize_from(span.cipher_start)..usize_from(span.cipher_end).min(cipher.len())];
    let mut emitted = Vec::new();
    for chunk in slice.chunks(feed.max(1)) {
        let mut out: Vec<Bytes> = Vec::new();
        let r = o.push(chunk, &mut out);
        for b in &out {
            emitted.extend_from_slice(b);
        }
        if let Err(e) = r {
            return (emitted, Err(e));
        }
    }
    (emitted, o.finish())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn seal_open_round_trip(len in 0usize..=(4 * 65_536 + 17), seg_log2 in 16u8..=17, push in 1usize..200_000, feed in 1usize..100_000) {
        let p = params(len as u64, seg_log2, 0);
        let data = plaintext(len);
        let (cipher, commit) = seal(&p, &data, push);
        prop_assert_eq!(cipher.len() as u64, ciphertext_len(len as u64, seg_log2));
        let range = (len > 0).then(|| (0, len as u64 - 1));
        let (got, r) = open(&p, &commit, &cipher, range, feed);
        prop_assert!(r.is_ok());
        prop_assert_eq!(got, data);
    }

    #[test]
    fn ranges_match_naive_slice(len in 1usize..=(3 * 65_536 + 5), a in any::<u64>(), b in any::<u64>(), feed in 1usize..70_000) {
        let p = params(len as u64, 16, 0);
        let data = plaintext(len);
        let (cipher, commit) = seal(&p, &data, 65_536);
        let (x, y) = (a % len as u64, b % len as u64);
        let (first, last) = (x.min(y), x.max(y));
        let (got, r) = open(&p, &commit, &cipher, Some((first, last)), feed);
        prop_assert!(r.is_ok());
        prop_assert_eq!(&got[..], &data[usize_from(first)..=usize_from(last)]);
    }

    #[test]
    fn part_slices_cover_the_range(lens in proptest::collection::vec(0u64..1000, 1..8), a in any::<u64>(), b in any::<u64>()) {
        let total: u64 = lens.iter().sum();
        prop_assume!(total > 0);
        let (x, y) = (a % total, b % total);
        let (first, last) = (x.min(y), x.max(y));
        let slices = slice_parts(&lens, first, last);
        let covered: u64 = slices.iter().map(|s| s.last - s.first + 1).sum();
        prop_assert_eq!(covered, last - first + 1);
        let starts: Vec<u64> = lens.iter().scan(0, |acc, l| { let s = *acc; *acc += l; Some(s) }).collect();
        prop_assert_eq!(starts[slices[0].index] + slices[0].first, first);
        let end = slices[slices.len() - 1];
        prop_assert_eq!(starts[end.index] + end.last, last);
    }

    #[test]
    fn any_flip_is_detected_without_releasing_the_damaged_segment(len in 1usize..(2 * 65_536 + 100), pos in any::<usize>(), bit in 0u8..8) {
        let p = params(len as u64, 16, 0);
        let data = plaintext(len);
        let (mut cipher, commit) = seal(&p, &data, 10_000);
        // Flip inside the segments (a range read never fetches the header).
        let pos = 96 + pos % (cipher.len() - 96);
        cipher[pos] ^= 1 << bit;
        let (got, r) = open(&p, &commit, &cipher, Some((0, len as u64 - 1)), 4096);
        prop_assert!(r.is_err());
        let damaged_segment = (pos - 96) / (65_536 + 16);
        prop_assert_eq!(got.len(), damaged_segment * 65_536, "only segments before the damage are released");
        prop_assert_eq!(&got[..], &data[..got.len()]);
    }

    #[test]
    fn truncation_and_extension_are_detected(len in 0usize..(2 * 65_536 + 100), cut in 1usize..40) {
        let p = params(len as u64, 16, 0);
        let (cipher, commit) = seal(&p, &plaintext(len), 65_536);
        let range = (len > 0).then(|| (0, len as u64 - 1));
        let short = &cipher[..cipher.len() - cut.min(cipher.len() - 96)];
        prop_assert!(open(&p, &commit, short, range, 5000).1.is_err());
        let mut long = cipher.clone();
        long.extend_from_slice(&[0u8; 16]);
        let span = SegmentSpan::for_range(p.plaintext_len, 16, range);
        let mut o = SegmentOpener::new(&DEK, &p, &commit, span).unwrap();
        let mut out = Vec::new();
        prop_assert!(o.push(&long[usize_from(span.cipher_start)..], &mut out).is_err());
    }
}

#[test]
fn wrong_identity_fails_the_commitment_before_decrypting() {
    let p = params(1000, 16, 1);
    let (cipher, commit) = seal(&p, &plaintext(1000), 100);
    for other in [
        params(1000, 16, 2),
        StreamParams { version_uid: VersionUid([9; 16]), ..params(1000, 16, 1) },
        StreamParams { salt: [5; 32], ..params(1000, 16, 1) },
    ] {
        let (got, r) = open(&other, &commit, &cipher, Some((0, 999)), 100);
        assert_eq!(r, Err(OpenError::Commitment));
        assert!(got.is_empty());
    }
}

#[test]
fn a_read_from_the_first_segment_checks_the_header_against_the_metadata() {
    let p = params(200_000, 16, 1);
    let data = plaintext(200_000);
    let (cipher, commit) = seal(&p, &data, 65_536);
    let (got, r) = open(&p, &commit, &cipher, Some((0, 99)), 7);
    assert_eq!((got.as_slice(), r), (&data[..100], Ok(())), "header and first segment, fed 7 bytes at a time");
    for at in [0, 7, 30, 60, 64, 95] {
        let mut damaged = cipher.clone();
        damaged[at] ^= 1;
        let (got, r) = open(&p, &commit, &damaged, Some((0, 99)), 1000);
        assert_eq!(r, Err(OpenError::Header), "byte {at}");
        assert!(got.is_empty());
    }
    // A read that starts past the first segment does not fetch the header.
    let mut damaged = cipher.clone();
    damaged[30] ^= 1;
    let (got, r) = open(&p, &commit, &damaged, Some((70_000, 70_099)), 1000);
    assert_eq!((got.as_slice(), r), (&data[70_000..70_100], Ok(())));
}

#[test]
fn empty_stream_is_one_empty_final_segment() {
    let p = params(0, 16, 0);
    let (cipher, commit) = seal(&p, &[], 1);
    assert_eq!(cipher.len(), 96 + 16);
    assert_eq!(segment_count(0, 16), 1);
    let (got, r) = open(&p, &commit, &cipher, None, 7);
    assert!(r.is_ok() && got.is_empty());
}

#[test]
fn nonces_never_repeat_across_streams() {
    // Fresh salts give fresh keys: the same plaintext sealed twice never yields the same bytes.
    let a = seal(&params(100, 16, 0), &plaintext(100), 100).0;
    let b = seal(&StreamParams { salt: [8; 32], ..params(100, 16, 0) }, &plaintext(100), 100).0;
    assert_ne!(a[96..], b[96..]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A read that fails at a damaged segment and resumes on an intact copy from
    /// `remaining_span` yields exactly the requested range, once.
    #[test]
    fn resumed_reads_are_seamless(len in 1usize..(4 * 65_536), a in any::<u64>(), b in any::<u64>(), pos in any::<usize>()) {
        let p = params(len as u64, 16, 0);
        let data = plaintext(len);
        let (cipher, commit) = seal(&p, &data, 65_536);
        let (x, y) = (a % len as u64, b % len as u64);
        let (first, last) = (x.min(y), x.max(y));
        let span = SegmentSpan::for_range(p.plaintext_len, 16, Some((first, last)));
        let mut damaged = cipher.clone();
        let lo = usize_from(span.cipher_start);
        let hi = usize_from(span.cipher_end);
        damaged[lo + pos % (hi - lo)] ^= 0x20;
        let mut o = SegmentOpener::new(&DEK, &p, &commit, span).unwrap();
        let mut out: Vec<Bytes> = Vec::new();
        let failed = damaged[lo..hi].chunks(10_000).any(|c| o.push(c, &mut out).is_err());
        prop_assert!(failed);
        let rest = o.remaining_span();
        let mut got: Vec<u8> = out.iter().flat_map(|b| b.to_vec()).collect();
        if rest.first_segment <= rest.last_segment {
            let mut o2 = SegmentOpener::new(&DEK, &p, &commit, rest).unwrap();
            let mut out2: Vec<Bytes> = Vec::new();
            o2.push(&cipher[usize_from(rest.cipher_start)..usize_from(rest.cipher_end)], &mut out2).unwrap();
            o2.finish().unwrap();
            got.extend(out2.iter().flat_map(|b| b.to_vec()));
        }
        prop_assert_eq!(&got[..], &data[usize_from(first)..=usize_from(last)]);
    }
}
