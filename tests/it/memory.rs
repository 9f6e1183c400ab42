use std::io::Write;

use aws_sdk_s3::primitives::ByteStream;
use md5::Digest as _;

use crate::common::{BinaryGateway, Providers, client};

/// Promise: a 1 GiB PUT and GET through the gateway keep its resident memory under 256 MiB
/// (peak RSS of the real process, read from /proc), and the bytes come back intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_put_get_bounded_memory() {
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("one-gib.bin");
    let mut want = md5::Md5::new();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&src).unwrap());
        let block: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for i in 0..1024u32 {
            let mut b = block.clone();
            b[..4].copy_from_slice(&i.to_be_bytes());
            want.update(&b);
            f.write_all(&b).unwrap();
        }
    }
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("big").send().await.unwrap();
    c.put_object().bucket("big").key("g").body(ByteStream::from_path(&src).await.unwrap()).send().await.unwrap();
    std::fs::remove_file(&src).unwrap();
    let mut out = c.get_object().bucket("big").key("g").send().await.unwrap();
    let mut got = md5::Md5::new();
    let mut n = 0u64;
    while let Some(chunk) = out.body.try_next().await.unwrap() {
        n += chunk.len() as u64;
        got.update(&chunk);
    }
    assert_eq!(n, 1 << 30);
    assert_eq!(got.finalize(), want.finalize());
    let peak = gw.peak_rss();
    println!("peak RSS of the gateway over a 1 GiB PUT + GET: {} MiB", peak >> 20);
    assert!(peak > 0 && peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
    gw.kill();
}
