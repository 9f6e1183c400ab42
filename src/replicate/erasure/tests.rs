//! The coder's promises without providers: what the encoder cuts, any `k` chunks of each
//! stripe give back, whichever `m` are lost.

use bytes::Bytes;
use reed_solomon_simd::ReedSolomonDecoder;

use super::encode::StripeEncoder;
use super::layout::{CHUNK_CHECK_LEN, ShardLayout, chunk_check};
use super::read::rebuild;
use crate::model::{ErasureShards, StreamId, StripeShape};

fn shape(k: u8, m: u8, chunk: u32) -> StripeShape {
    StripeShape { shards: ErasureShards { data: k, parity: m }, chunk }
}

fn cipher(len: usize) -> Vec<u8> {
    (0..len).map(|i| u8::try_from((i * 31 + i / 251) % 256).unwrap_or(0)).collect()
}

/// The shards of `data`, pushed in pieces of `piece` bytes.
fn encode(s: StripeShape, data: &[u8], piece: usize) -> Vec<Vec<u8>> {
    let id = StreamId([9; 16]);
    let mut enc = StripeEncoder::new(s, id, data.len() as u64).unwrap();
    let mut shards = vec![Vec::new(); usize::from(s.shards.total())];
    for p in data.chunks(piece) {
        for (i, bytes) in enc.push(p).unwrap().into_iter().enumerate() {
            shards[i].extend_from_slice(&bytes);
        }
    }
    enc.finish().unwrap();
    shards
}

/// Stripe `s`'s chunk of `shard`, its trailer checked.
fn chunk_of(layout: &ShardLayout, shards: &[Vec<u8>], shard: usize, s: u64) -> Bytes {
    let at = usize::try_from(layout.shard_offset(s)).unwrap();
    let len = usize::try_from(layout.chunk_len(s)).unwrap();
    let chunk = &shards[shard][at..at + len];
    let trailer = &shards[shard][at + len..at + len + CHUNK_CHECK_LEN];
    assert_eq!(trailer, chunk_check(StreamId([9; 16]), shard, s, chunk), "shard {shard} stripe {s}");
    Bytes::copy_from_slice(chunk)
}

/// Promise: every shard has the layout's exact length and checked chunks; the data shards are
/// the ciphertext itself; and for every pair of lost shards, each stripe rebuilds exactly
/// (sizes around the stripe boundary, pushed in pieces that do not align with it).
#[test]
fn any_k_shards_give_the_ciphertext_back() {
    let s = shape(4, 2, 1024);
    for len in [112, 4095, 4096, 4097, 3 * 4096 + 1000] {
        let data = cipher(len);
        let shards = encode(s, &data, 1500);
        let layout = ShardLayout::new(s, len as u64);
        assert!(shards.iter().all(|sh| sh.len() as u64 == layout.shard_len()), "len {len}");
        let mut plain_data = Vec::new();
        for st in 0..layout.stripes() {
            for i in 0..4 {
                plain_data.extend_from_slice(&chunk_of(&layout, &shards, i, st));
            }
        }
        assert_eq!(&plain_data[..len], &data[..], "data shards hold the ciphertext");
        for lost_a in 0..6 {
            for lost_b in lost_a + 1..6 {
                let mut decoder = ReedSolomonDecoder::new(4, 2, 1024).unwrap();
                let mut rebuilt = Vec::new();
                for st in 0..layout.stripes() {
                    let chunk = usize::try_from(layout.chunk_len(st)).unwrap();
                    let good = (0..6)
                        .filter(|i| *i != lost_a && *i != lost_b)
                        .map(|i| (i, chunk_of(&layout, &shards, i, st)))
                        .collect();
                    let (d, originals) = rebuild(decoder, 4, 2, chunk, good).unwrap();
                    decoder = d;
                    for c in originals {
                        rebuilt.extend_from_slice(&c);
                    }
                }
                assert_eq!(&rebuilt[..len], &data[..], "len {len}, lost {lost_a} and {lost_b}");
            }
        }
    }
}

/// Promise: the encoder refuses more or fewer bytes than announced (a stream is never cut
/// into shards of another length).
#[test]
fn the_encoder_holds_the_announced_length() {
    let s = shape(3, 2, 64);
    let mut short = StripeEncoder::new(s, StreamId([1; 16]), 1000).unwrap();
    short.push(&cipher(999)).unwrap();
    assert!(short.finish().is_err());
    let mut long = StripeEncoder::new(s, StreamId([1; 16]), 1000).unwrap();
    assert!(long.push(&cipher(1001)).is_err());
}
