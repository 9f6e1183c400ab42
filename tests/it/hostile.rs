//! Hostile input: keys that look like paths or carry bytes a listing cannot, header floods,
//! entity expansion, oversized batch deletes, bodies that lie about their length, clients that
//! never finish, connection floods. Each gets a clear S3 error or is cut off; the gateway keeps
//! serving others and nothing stored is damaged.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use md5::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::raw::{RawResponse, Signer, send, sha256_hex};
use crate::common::{TestGateway, body_bytes, listed_keys};

const KEEP: &[u8] = b"bytes that no hostile request may change";

/// A gateway with `limits` added to its `[limits]` section and one object, `hostile/keep`.
async fn gateway_with(limits: &str) -> TestGateway {
    let gw = TestGateway::start_with(|t| t.replace("[limits]\n", &format!("[limits]\n{limits}\n"))).await;
    gw.client.create_bucket().bucket("hostile").send().await.unwrap();
    gw.client.put_object().bucket("hostile").key("keep").body(KEEP.to_vec().into()).send().await.unwrap();
    gw
}

/// The object stored before the attack still reads back byte for byte.
async fn keep_is_intact(gw: &TestGateway) {
    let got = body_bytes(gw.client.get_object().bucket("hostile").key("keep").send().await.unwrap()).await;
    assert_eq!(got, KEEP);
}

/// A signed request for `decoded_path` (what the signature covers) sent as `wire_path`.
async fn signed(
    gw: &TestGateway,
    method: &str,
    decoded_path: &str,
    wire_path: &str,
    query: &[(&str, &str)],
    extra: Vec<(String, String)>,
    body: &[u8],
) -> RawResponse {
    let mut headers = extra;
    headers.push(("content-length".into(), body.len().to_string()));
    Signer::new(SystemTime::now()).sign(
        method,
        decoded_path,
        query,
        &mut headers,
        &gw.addr.to_string(),
        &sha256_hex(body),
    );
    send(gw.addr, method, wire_path, &headers, body).await.expect("request sent")
}

/// A signed DeleteObjects (`POST /hostile?delete`) with `body` and its Content-MD5.
async fn delete_objects(gw: &TestGateway, body: &str) -> RawResponse {
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body.as_bytes()));
    let headers = vec![("content-md5".to_owned(), md5)];
    signed(gw, "POST", "/hostile", "/hostile?delete", &[("delete", "")], headers, body.as_bytes()).await
}

/// Reads until the server closes, for at most `limit`; `None` if it did not close in time.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Promise: keys with `..`, `.` and `/` runs are opaque names: each stores and reads back its
/// own bytes, lists exactly as written, and no provider file is named after it or lands
/// outside the provider directories.
#[tokio::test]
async fn path_like_keys_are_opaque_names_inside_the_providers() {
    let gw = gateway_with("").await;
    let keys = ["../../../etc/passwd", "a/../b", "./c", "d//e///f", "/g", "h/.", "..", "."];
    for (i, key) in keys.iter().enumerate() {
        let path = format!("/hostile/{key}");
        let body = format!("body of key {i}");
        let r = signed(&gw, "PUT", &path, &path, &[], vec![], body.as_bytes()).await;
        assert_eq!(r.status, 200, "{key}: {}", r.body_text());
        let r = signed(&gw, "GET", &path, &path, &[], vec![], b"").await;
        assert_eq!((r.status, r.body_text()), (200, body), "{key}");
    }
    let mut expected: Vec<String> =
        keys.iter().map(std::string::ToString::to_string).chain(["keep".to_owned()]).collect();
    expected.sort();
    assert_eq!(listed_keys(&gw.client, "hostile").await, expected);
    let dirs = gw.provider_dirs();
    assert_eq!(gw.stream_files().len(), 3 * (keys.len() + 1), "one opaque stream per object and replica");
    for (file, _) in crate::common::provider_files(&dirs) {
        let shown = file.display().to_string();
        assert!(!shown.contains("passwd") && !shown.contains("/etc/") && !shown.contains(".."), "{shown}");
    }
    assert!(!gw.dir.path().join("etc").exists());
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: a key that is not UTF-8 is refused with 400 InvalidURI before anything is stored; a key with
/// a NUL or another control character XML 1.0 cannot carry is refused with 400 InvalidArgument,
/// so no object can make the bucket's XML listing unreadable for every client.
#[tokio::test]
async fn keys_that_are_not_utf8_or_not_xml_are_refused() {
    let gw = gateway_with("").await;
    let r = signed(&gw, "PUT", "/hostile/bad", "/hostile/%FF%FEbad", &[], vec![], b"x").await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("InvalidURI")), "{}", r.body_text());
    for (decoded, wire) in [("/hostile/a\u{0}b", "/hostile/a%00b"), ("/hostile/c\u{1}d", "/hostile/c%01d")] {
        let r = signed(&gw, "PUT", decoded, wire, &[], vec![], b"x").await;
        assert_eq!((r.status, r.code().as_deref()), (400, Some("InvalidArgument")), "{wire}: {}", r.body_text());
    }
    // Tab, newline and carriage return are valid XML characters: such keys store and list.
    let r = signed(&gw, "PUT", "/hostile/t\tn\nr\r", "/hostile/t%09n%0Ar%0D", &[], vec![], b"x").await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(listed_keys(&gw.client, "hostile").await, ["keep", "t\tn\nr\r"]);
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: more request headers than the server parses (hyper's 100) is 431, like a header
/// block above 64 KiB (objects::request_size_limits).
#[tokio::test]
async fn too_many_headers_are_refused_with_431() {
    let gw = gateway_with("").await;
    let mut headers = vec![("host".to_owned(), gw.addr.to_string())];
    headers.extend((0..150).map(|i| (format!("x-filler-{i}"), "v".to_owned())));
    let r = send(gw.addr, "GET", "/hostile/keep", &headers, b"").await.unwrap();
    assert_eq!(r.status, 431);
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: XML with a DOCTYPE (entity expansion, external entities) is MalformedXML: no
/// entity is expanded or fetched, and nothing is deleted.
#[tokio::test]
async fn xml_entities_are_malformed_xml() {
    let gw = gateway_with("").await;
    let laughs: String =
        (1..10).map(|i| format!("<!ENTITY l{i} \"{}\">", format!("&l{};", i - 1).repeat(10))).collect::<String>();
    let bodies = [
        format!("<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY l0 \"keep\">{laughs}]><Delete><Object><Key>&l9;</Key></Object></Delete>"),
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Delete><Object><Key>&x;</Key></Object></Delete>".to_owned(),
        "<Delete><Object><Key>&unknown;</Key></Object></Delete>".to_owned(),
    ];
    for body in bodies {
        let r = delete_objects(&gw, &body).await;
        assert_eq!((r.status, r.code().as_deref()), (400, Some("MalformedXML")), "{body}: {}", r.body_text());
    }
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: DeleteObjects with more than 1,000 keys is MalformedXML and deletes none of them.
#[tokio::test]
async fn delete_objects_over_1000_keys_deletes_nothing() {
    let gw = gateway_with("").await;
    let keys: String = std::iter::once("keep".to_owned())
        .chain((0..1000).map(|i| format!("k{i}")))
        .map(|k| format!("<Object><Key>{k}</Key></Object>"))
        .collect();
    let body = format!("<Delete>{keys}</Delete>");
    let r = delete_objects(&gw, &body).await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("MalformedXML")), "{}", r.body_text());
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: a body shorter than its Content-Length (the client hangs up) stores nothing; a
/// longer one is framed by Content-Length: with a signed payload hash of the whole it is
/// XAmzContentSHA256Mismatch and stores nothing, unsigned it stores exactly the declared bytes
/// and the excess is a bad next request on that connection, never a second object.
#[tokio::test]
async fn bodies_shorter_or_longer_than_content_length() {
    let gw = gateway_with("").await;
    let host = gw.addr.to_string();
    let signer = Signer::new(SystemTime::now());
    // Shorter, then the client closes its side.
    let mut headers = vec![("content-length".to_owned(), "1000".to_owned())];
    signer.sign("PUT", "/hostile/short", &[], &mut headers, &host, "UNSIGNED-PAYLOAD");
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let head: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    s.write_all(format!("PUT /hostile/short HTTP/1.1\r\n{head}\r\n").as_bytes()).await.unwrap();
    s.write_all(&[7u8; 400]).await.unwrap();
    s.shutdown().await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(30)).await.expect("the gateway closes the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.starts_with("HTTP/1.1 200"), "a short body was acknowledged: {answer}");
    // Longer, with the payload hash of everything sent.
    let long = [9u8; 30];
    let mut headers = vec![("content-length".to_owned(), "10".to_owned())];
    signer.sign("PUT", "/hostile/long-signed", &[], &mut headers, &host, &sha256_hex(&long));
    let r = send(gw.addr, "PUT", "/hostile/long-signed", &headers, &long).await.unwrap();
    assert_eq!((r.status, r.code().as_deref()), (400, Some("XAmzContentSHA256Mismatch")), "{}", r.body_text());
    // Longer, unsigned: Content-Length frames the object.
    let mut headers = vec![("content-length".to_owned(), "10".to_owned())];
    signer.sign("PUT", "/hostile/long-unsigned", &[], &mut headers, &host, "UNSIGNED-PAYLOAD");
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let head: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    s.write_all(format!("PUT /hostile/long-unsigned HTTP/1.1\r\n{head}\r\n").as_bytes()).await.unwrap();
    s.write_all(b"0123456789GARBAGE\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut s, Duration::from_secs(30)).await.expect("the gateway closes the connection");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("HTTP/1.1 400"), "{answer}");
    let stored = body_bytes(gw.client.get_object().bucket("hostile").key("long-unsigned").send().await.unwrap()).await;
    assert_eq!(stored, b"0123456789");
    assert_eq!(listed_keys(&gw.client, "hostile").await, ["keep", "long-unsigned"]);
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: a client that stops sending its body gets 400 RequestTimeout after
/// `limits.body_read_timeout_secs`, nothing is stored, and others are served meanwhile.
#[tokio::test]
async fn a_stalled_body_times_out() {
    let gw = gateway_with("body_read_timeout_secs = 1").await;
    let mut headers = vec![("content-length".to_owned(), "100000".to_owned())];
    Signer::new(SystemTime::now()).sign(
        "PUT",
        "/hostile/stalled",
        &[],
        &mut headers,
        &gw.addr.to_string(),
        "UNSIGNED-PAYLOAD",
    );
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    let head: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    s.write_all(format!("PUT /hostile/stalled HTTP/1.1\r\n{head}\r\n").as_bytes()).await.unwrap();
    s.write_all(&[1u8; 5000]).await.unwrap();
    keep_is_intact(&gw).await;
    let started = Instant::now();
    let answer = read_until_closed(&mut s, Duration::from_secs(20)).await.expect("the gateway answers and closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let e = gw.client.head_object().bucket("hostile").key("stalled").send().await.unwrap_err();
    assert_eq!(crate::common::error_status(&e), Some(404));
    gw.stop().await;
}

/// Promise: clients that never finish their headers (slowloris) are cut off after
/// `limits.header_read_timeout_secs`, while a normal client is served meanwhile.
#[tokio::test]
async fn slow_headers_are_cut_off() {
    let gw = gateway_with("header_read_timeout_secs = 1").await;
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(b"GET /hostile/keep HTTP/1.1\r\nhost: x\r\n").await.unwrap();
        slow.push(s);
    }
    let started = Instant::now();
    // One header byte every 200 ms, for at most 10 s: the gateway must close first.
    let mut open = slow.len();
    for _ in 0..50 {
        keep_is_intact(&gw).await;
        open = 0;
        for s in &mut slow {
            if s.write_all(b"x").await.is_ok() && s.flush().await.is_ok() {
                let mut b = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                    Ok(Ok(0) | Err(_)) => {}
                    _ => open += 1,
                }
            }
        }
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open, 0, "slow clients still connected after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(10));
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// Promise: connections beyond `limits.max_connections` are answered 503 SlowDown at once and
/// counted; the held ones are cut off at the header deadline, after which clients are served
/// again and nothing stored is damaged.
#[tokio::test]
async fn connection_floods_get_slow_down() {
    let gw = gateway_with("max_connections = 8\nheader_read_timeout_secs = 2").await;
    keep_is_intact(&gw).await;
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    let answers =
        futures_util::future::join_all(flood.iter_mut().map(|s| read_until_closed(s, Duration::from_secs(15)))).await;
    let (mut slowed, mut cut) = (0, 0);
    for a in answers {
        let a = String::from_utf8_lossy(&a.expect("every flood connection is closed by the gateway")).into_owned();
        if a.is_empty() {
            cut += 1;
        } else {
            assert!(a.starts_with("HTTP/1.1 503") && a.contains("<Code>SlowDown</Code>"), "{a}");
            slowed += 1;
        }
    }
    assert!(slowed >= 32 && slowed + cut == 40, "{slowed} answered SlowDown, {cut} cut off");
    assert!(gw.metric_sum("souverain_connections_rejected_total", &["listener=\"s3\""]).await >= 32);
    keep_is_intact(&gw).await;
    gw.stop().await;
}

/// What an HTTP/2 client sends first, before any frame.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One GET over cleartext HTTP/2 (h2c, prior knowledge): status and body.
async fn h2c_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use http_body_util::BodyExt as _;
    let stream = TcpStream::connect(addr).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.expect("h2c handshake");
    tokio::spawn(conn);
    let req = http::Request::get(format!("http://{addr}{path}")).body(http_body_util::Empty::<bytes::Bytes>::new());
    let resp = sender.send_request(req.unwrap()).await.expect("h2c answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Promise: an HTTP/2 connection holds its slot only as long as an HTTP/1 one. Connections that
/// send the h2c preface and then nothing fill `max_connections` (one more is answered 503) and
/// are closed by the gateway at the header deadline; then clients are served again, over
/// HTTP/1.1 and HTTP/2, on the S3 and on the admin listener.
#[tokio::test]
async fn h2c_connections_that_send_only_the_preface_are_cut_off() {
    let gw = gateway_with("max_connections = 8\nheader_read_timeout_secs = 2").await;
    for (listener, addr) in [("s3", gw.addr), ("admin", gw.admin_addr())] {
        let mut held = Vec::new();
        for _ in 0..8 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(H2_PREFACE).await.unwrap();
            held.push(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let refused = read_until_closed(&mut extra, Duration::from_secs(5)).await.unwrap_or_default();
        assert!(String::from_utf8_lossy(&refused).starts_with("HTTP/1.1 503"), "{listener}: the 8 slots are held");
        let started = Instant::now();
        let closed =
            futures_util::future::join_all(held.iter_mut().map(|s| read_until_closed(s, Duration::from_secs(10))))
                .await;
        assert!(closed.iter().all(Option::is_some), "{listener}: preface-only connections still open after 10 s");
        assert!(started.elapsed() >= Duration::from_secs(1), "{listener}: closed before the header deadline");
        let (status, body) = h2c_get(addr, if listener == "s3" { "/hostile/keep" } else { "/ready" }).await;
        if listener == "s3" {
            assert_eq!(status, 403, "{body}");
            assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        } else {
            assert_eq!(status, 200, "{body}");
        }
    }
    keep_is_intact(&gw).await;
    gw.stop().await;
}
