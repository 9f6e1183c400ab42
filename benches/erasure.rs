//! Reed–Solomon candidates for erasure coding across providers (issue 26), measured on this
//! machine before one is chosen: `reed-solomon-simd` (Leopard-RS, O(n log n), SIMD chosen at
//! run time) against `reed-solomon-erasure` (a Vandermonde matrix over GF(2^8), with its
//! `simd-accel` C kernels). Erasure coding runs over ciphertext, a stripe at a time; a shard is
//! one sealed segment of 1 MiB + its 16-byte tag. For the schemes a policy would name (3+2,
//! 4+2, 6+3): computing the parity, and rebuilding the data when as many data shards as there
//! are parity shards are lost (the worst a read can meet). Throughput counts the data bytes of
//! the stripe. Compare the two crates with each other, on the same machine.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// One sealed segment: 1 MiB of ciphertext and its tag (even, as `reed-solomon-simd` needs).
const SHARD: usize = (1 << 20) + 16;

fn data_shards(k: usize) -> Vec<Vec<u8>> {
    (0..k).map(|s| (0..SHARD).map(|i| u8::try_from((i * 7 + s * 13) % 251).unwrap_or(0)).collect()).collect()
}

fn bench(c: &mut Criterion) {
    for (k, m) in [(3usize, 2usize), (4, 2), (6, 3)] {
        let data = data_shards(k);
        let mut g = c.benchmark_group(format!("erasure_{k}+{m}"));
        g.throughput(Throughput::Bytes((k * SHARD) as u64));
        g.sample_size(20);

        let mut encoder = ReedSolomonEncoder::new(k, m, SHARD).expect("encoder");
        g.bench_function("simd_encode", |b| {
            b.iter(|| {
                for s in &data {
                    encoder.add_original_shard(s).expect("shard");
                }
                let out = encoder.encode().expect("encode");
                black_box(out.recovery_iter().map(|r| r[0]).fold(0u8, u8::wrapping_add))
            });
        });
        let parity: Vec<Vec<u8>> = {
            for s in &data {
                encoder.add_original_shard(s).expect("shard");
            }
            encoder.encode().expect("encode").recovery_iter().map(<[u8]>::to_vec).collect()
        };

        let rs = ReedSolomon::new(k, m).expect("codec");
        let mut all: Vec<Vec<u8>> = data.iter().cloned().chain((0..m).map(|_| vec![0u8; SHARD])).collect();
        g.bench_function("matrix_encode", |b| b.iter(|| rs.encode(black_box(&mut all)).expect("encode")));

        // The first m data shards lost: rebuild them from the rest and every parity shard.
        let mut decoder = ReedSolomonDecoder::new(k, m, SHARD).expect("decoder");
        g.bench_function("simd_rebuild_m_lost", |b| {
            b.iter(|| {
                for (i, s) in data.iter().enumerate().skip(m) {
                    decoder.add_original_shard(i, s).expect("shard");
                }
                for (i, p) in parity.iter().enumerate() {
                    decoder.add_recovery_shard(i, p).expect("shard");
                }
                let out = decoder.decode().expect("decode");
                let restored: Vec<(usize, &[u8])> = out.restored_original_iter().collect();
                assert_eq!(restored.len(), m);
                black_box(restored.iter().map(|(_, r)| r[0]).fold(0u8, u8::wrapping_add))
            });
        });
        let matrix_parity: Vec<Vec<u8>> = all[k..].to_vec();
        let lost = || -> Vec<Option<Vec<u8>>> {
            (0..k + m)
                .map(|i| match i {
                    i if i < m => None,
                    i if i < k => Some(data[i].clone()),
                    i => Some(matrix_parity[i - k].clone()),
                })
                .collect()
        };
        g.bench_function("matrix_rebuild_m_lost", |b| {
            b.iter_batched(
                lost,
                |mut shards| {
                    rs.reconstruct_data(&mut shards).expect("rebuild");
                    black_box(shards)
                },
                BatchSize::LargeInput,
            );
        });
        // Both rebuild what was lost, byte for byte.
        let mut shards = lost();
        rs.reconstruct_data(&mut shards).expect("rebuild");
        assert!(shards.iter().take(k).zip(&data).all(|(s, d)| s.as_deref() == Some(d.as_slice())));
        for (i, s) in data.iter().enumerate().skip(m) {
            decoder.add_original_shard(i, s).expect("shard");
        }
        for (i, p) in parity.iter().enumerate() {
            decoder.add_recovery_shard(i, p).expect("shard");
        }
        let out = decoder.decode().expect("decode");
        assert!(out.restored_original_iter().all(|(i, r)| r == data[i].as_slice()));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
