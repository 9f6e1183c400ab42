//! Datapath costs per byte: sealing and opening by segment size, against the unavoidable
//! baselines measured in the same run (MD5 for the ETag, a plain memcpy, CRC32C and SHA-256).
//! Compare the ratios, not the absolute numbers, and only on the same machine.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use md5::Digest as _;
use souverain::datapath::{SegmentOpener, SegmentSpan, StreamParams, StreamSealer};
use souverain::model::{BucketUid, StreamId, VersionUid};

const LEN: usize = 8 << 20;

fn params(seg_log2: u8) -> StreamParams {
    StreamParams {
        stream_id: StreamId([1; 16]),
        plaintext_len: LEN as u64,
        seg_log2,
        bucket_uid: BucketUid([2; 16]),
        version_uid: VersionUid([3; 16]),
        part_number: 0,
        salt: [4; 32],
    }
}

fn seal(p: &StreamParams, data: &[u8]) -> (BytesMut, [u8; 32]) {
    let mut s = StreamSealer::new(&[9; 32], p).expect("sealer");
    let mut out = BytesMut::with_capacity(LEN + LEN / 1000 + 200);
    for chunk in data.chunks(1 << 20) {
        s.push(chunk, &mut out).expect("push");
    }
    let summary = s.finish(&mut out).expect("finish");
    (out, summary.commit)
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..LEN).map(|i| u8::try_from(i * 7 % 251).unwrap_or(0)).collect();
    let mut g = c.benchmark_group("datapath_8MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(20);
    g.bench_function("baseline_memcpy", |b| b.iter(|| black_box(data.clone())));
    g.bench_function("baseline_md5", |b| b.iter(|| black_box(md5::Md5::digest(&data))));
    g.bench_function("baseline_crc32c", |b| {
        b.iter(|| black_box(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &data)));
    });
    g.bench_function("baseline_sha256", |b| b.iter(|| black_box(ring::digest::digest(&ring::digest::SHA256, &data))));
    // Candidates for format v2's keyless ciphertext check (docs/format-v2.md decision 9).
    g.bench_function("baseline_crc64nvme", |b| {
        b.iter(|| black_box(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &data)));
    });
    g.bench_function("baseline_blake3", |b| b.iter(|| black_box(blake3::hash(&data))));
    for seg_log2 in [16u8, 18, 20] {
        let p = params(seg_log2);
        g.bench_function(format!("seal_seg{}KiB", 1 << (seg_log2 - 10)), |b| b.iter(|| black_box(seal(&p, &data))));
        let (cipher, commit) = seal(&p, &data);
        let span = SegmentSpan::for_range(LEN as u64, seg_log2, Some((0, LEN as u64 - 1)));
        g.bench_function(format!("open_seg{}KiB", 1 << (seg_log2 - 10)), |b| {
            b.iter(|| {
                let mut o = SegmentOpener::new(&[9; 32], &p, &commit, span).expect("opener");
                let mut out: Vec<Bytes> = Vec::new();
                for chunk in cipher[souverain::model::usize_from(span.cipher_start)..].chunks(256 << 10) {
                    o.push(chunk, &mut out).expect("open");
                }
                o.finish().expect("complete");
                black_box(out)
            });
        });
    }
    g.finish();
    c.bench_function("range_mapping", |b| {
        b.iter(|| {
            for a in (0..LEN as u64).step_by(4099) {
                black_box(SegmentSpan::for_range(LEN as u64, 16, Some((a, (a + 1000).min(LEN as u64 - 1)))));
            }
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
