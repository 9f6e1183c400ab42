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

/// Promise: a 512 MiB file sent through a signed POST form — whose length the gateway learns
/// only at its end — keeps the gateway's resident memory under 256 MiB (stored in pieces of
/// 8 MiB, never gathered), and reads back with the MD5 of the whole as its ETag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_512_mib_form_upload_is_streamed_with_bounded_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("forms").send().await.unwrap();
    let form = crate::forms::Form::signed("forms", &[r#"["starts-with","$key","big/"]"#], &[("key", "big/file")], 600);
    let (head_and_tail, boundary) = form.body("file.bin", b"");
    // The form's bytes around the empty file: its fields and the file's part header, then the
    // closing boundary; the file itself is streamed in between.
    let closing = format!("\r\n--{boundary}--\r\n");
    let head = &head_and_tail[..head_and_tail.len() - closing.len()];
    let block: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let blocks = 512u32;
    let len = head.len() + blocks as usize * block.len() + closing.len();
    let mut s = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let request = format!(
        "POST /forms HTTP/1.1\r\nhost: {}\r\ncontent-type: multipart/form-data; boundary={boundary}\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n",
        gw.addr
    );
    s.write_all(request.as_bytes()).await.unwrap();
    s.write_all(head).await.unwrap();
    let mut want = md5::Md5::new();
    for i in 0..blocks {
        let mut b = block.clone();
        b[..4].copy_from_slice(&i.to_be_bytes());
        want.update(&b);
        s.write_all(&b).await.unwrap();
    }
    s.write_all(closing.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let etag = format!("\"{}\"", hex::encode(want.finalize()));
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains(&format!("etag: {etag}")), "{answer}");
    let head = c.head_object().bucket("forms").key("big/file").send().await.unwrap();
    assert_eq!((head.content_length(), head.e_tag()), (Some(512 << 20), Some(etag.as_str())));
    let peak = gw.peak_rss();
    println!("peak RSS of the gateway over a 512 MiB form upload: {} MiB", peak >> 20);
    assert!(peak > 0 && peak < 256 << 20, "peak RSS {} MiB", peak >> 20);
    gw.kill();
}
