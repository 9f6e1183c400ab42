//! Fuzz targets: the parsers that read what clients, providers and admins send. Each function
//! takes arbitrary bytes and panics only when its oracle is violated (a crash, a 5xx for a
//! client's malformed input, wrong plaintext accepted, a range outside the object). They are
//! shared by `fuzz/` (cargo fuzz, coverage-guided, long runs: `scripts/fuzz.sh`) and by a unit
//! test that replays every kept corpus file in each `make test`.
// Panicking is how a fuzz target reports a broken oracle: each one's doc says what it checks.
#![allow(clippy::missing_panics_doc)]

use crate::model::usize_from;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::datapath::format::StreamParams;
use crate::datapath::{SegmentOpener, SegmentSpan, StreamSealer};
use crate::model::{BucketUid, StreamId, VersionUid};

/// A fuzz target: arbitrary bytes in, a panic only when its oracle is violated.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/` know them.
pub const TARGETS: [(&str, Target); 8] = [
    ("aws_chunked", aws_chunked),
    ("range_header", range_header),
    ("sealed_stream", sealed_stream),
    ("config_file", config_file),
    ("audit_log", audit_log),
    ("provider_listing", provider_listing),
    ("copy_source", copy_source),
    ("format_v2_objects", format_v2_objects),
];

/// What a provider returns for a format v2 keyring or log segment (docs/format-v2.md). Either
/// is refused or read back exactly: a keyring that parses writes the same bytes again, and a
/// segment that opens (under the key the seeds were sealed with) seals to the same bytes, so
/// no two byte strings are accepted as one segment.
pub fn format_v2_objects(data: &[u8]) {
    use crate::datapath::keyring::Keyring;
    use crate::datapath::segment::{SegmentHeader, open_segment, seal_segment};
    if let Ok(keyring) = Keyring::parse(data) {
        assert_eq!(keyring.to_bytes().ok().as_deref(), Some(data), "a keyring reads back as written");
    }
    let log_key = [7u8; 32];
    if let Ok(entries) = open_segment(&log_key, data) {
        let header = SegmentHeader::parse(data).expect("an opened segment has a header");
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        assert_eq!(seal_segment(&log_key, &header, &refs).ok().as_deref(), Some(data), "one segment, one encoding");
    }
}

/// `Range` header → s3s parse → S3 resolution against a length → the covering segments. The
/// resolved range lies inside the object and the segments cover it.
pub fn range_header(data: &[u8]) {
    let (len_bytes, header) = data.split_at(data.len().min(8));
    let mut len = [0u8; 8];
    len[..len_bytes.len()].copy_from_slice(len_bytes);
    let len = u64::from_le_bytes(len) % (1 << 40);
    let Ok(header) = std::str::from_utf8(header) else { return };
    let Some(spec) = crate::frontend::convert::range_header(header) else { return };
    let Some((first, last)) = crate::service::get::resolve_range(spec, len) else { return };
    assert!(first <= last && last < len, "{header:?} over {len} resolved to {first}-{last}");
    for seg_log2 in [12u8, 16, 20] {
        let span = SegmentSpan::for_range(len, seg_log2, Some((first, last)));
        let seg = 1u64 << seg_log2;
        assert!(span.first_segment * seg <= first, "{header:?}: the span starts after the range");
        assert!((span.last_segment + 1) * seg > last, "{header:?}: the span ends before the range");
        assert!(span.cipher_start <= span.cipher_end);
        assert!(span.cipher_end <= crate::datapath::ciphertext_len(len, seg_log2));
    }
}

const FUZZ_DEK: [u8; 32] = [7; 32];
const FUZZ_PLAINTEXT_LEN: usize = 5000;

fn fuzz_params() -> StreamParams {
    StreamParams {
        stream_id: StreamId([1; 16]),
        plaintext_len: FUZZ_PLAINTEXT_LEN as u64,
        seg_log2: 10,
        bucket_uid: BucketUid([2; 16]),
        version_uid: VersionUid([3; 16]),
        part_number: 0,
        salt: [4; 32],
    }
}

/// One sealed stream of a known plaintext, made once.
fn sealed_original() -> &'static (Vec<u8>, Vec<u8>, [u8; 32]) {
    static SEALED: OnceLock<(Vec<u8>, Vec<u8>, [u8; 32])> = OnceLock::new();
    SEALED.get_or_init(|| {
        let plain: Vec<u8> = (0..FUZZ_PLAINTEXT_LEN).map(|i| u8::try_from(i * 31 % 251).unwrap_or(0)).collect();
        let mut out = BytesMut::new();
        let (cipher, commit) = match StreamSealer::new(&FUZZ_DEK, &fuzz_params()) {
            Ok(mut s) => {
                let pushed = s.push(&plain, &mut out);
                match (pushed, s.finish(&mut out)) {
                    (Ok(()), Ok(summary)) => (out.to_vec(), summary.commit),
                    _ => (Vec::new(), [0; 32]),
                }
            }
            Err(_) => (Vec::new(), [0; 32]),
        };
        (plain, cipher, commit)
    })
}

/// The on-provider format reader. The input edits a valid sealed stream (each 4-byte group is
/// an offset and an XOR mask; a trailing byte cuts or extends it) and picks a range; whatever
/// the reader emits must be exactly the original plaintext of that range, and if the stream was
/// changed inside the span the reader must fail instead of completing.
pub fn sealed_stream(data: &[u8]) {
    let (plain, original, commit) = sealed_original();
    assert!(!original.is_empty(), "sealing the fuzz plaintext failed");
    let mut cipher = original.clone();
    let (range_bytes, edits) = data.split_at(data.len().min(4));
    for e in edits.chunks(4) {
        match e {
            [a, b, mask, 0] if !cipher.is_empty() => {
                let at = usize::from(u16::from_le_bytes([*a, *b])) % cipher.len();
                cipher[at] ^= mask | 1;
            }
            [cut, _, _, 1] => {
                let n = usize::from(*cut).min(cipher.len());
                cipher.truncate(cipher.len() - n);
            }
            [extra, ..] => cipher.extend(std::iter::repeat_n(*extra, usize::from(*extra % 17))),
            [] => {}
        }
    }
    let range = match range_bytes {
        [a, b, c, d] => {
            let first = usize::from(u16::from_le_bytes([*a, *b])) % FUZZ_PLAINTEXT_LEN;
            let last = (first + usize::from(u16::from_le_bytes([*c, *d]))).min(FUZZ_PLAINTEXT_LEN - 1);
            (first as u64, last as u64)
        }
        _ => (0, FUZZ_PLAINTEXT_LEN as u64 - 1),
    };
    let params = fuzz_params();
    let span = SegmentSpan::for_range(params.plaintext_len, params.seg_log2, Some(range));
    let Ok(mut opener) = SegmentOpener::new(&FUZZ_DEK, &params, commit, span) else { return };
    let start = usize_from(span.cipher_start).min(cipher.len());
    let end = usize_from(span.cipher_end).min(cipher.len());
    let mut emitted = Vec::new();
    let mut failed = false;
    for piece in cipher[start..end].chunks(700) {
        let mut out: Vec<Bytes> = Vec::new();
        let r = opener.push(piece, &mut out);
        for b in &out {
            emitted.extend_from_slice(b);
        }
        if r.is_err() {
            failed = true;
            break;
        }
    }
    let completed =
        !failed && end - start == usize_from(span.cipher_end - span.cipher_start) && opener.finish().is_ok();
    let (first, last) = range;
    let wanted = &plain[usize_from(first)..=usize_from(last)];
    assert!(wanted.starts_with(&emitted), "the reader emitted bytes that are not the plaintext");
    let span_bytes = usize_from(span.cipher_start)..usize_from(span.cipher_end);
    let span_intact = cipher.get(span_bytes.clone()) == original.get(span_bytes);
    if completed {
        assert!(emitted.as_slice() == wanted, "a completed read must be the whole range");
        assert!(span_intact, "a changed stream was read to the end without an error");
    }
}

/// The config parser and validator: any text gives a config or a one-line error.
pub fn config_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = crate::config::Config::parse(text, Path::new("/nonexistent-fuzz-base")) {
        let shown = crate::report::chain(&e);
        assert!(!shown.contains('\n'), "config errors are one line: {shown:?}");
    }
}

/// The audit log reader (`admin audit verify --file`): any text parses or is refused, and
/// verifying what parsed never panics.
pub fn audit_log(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(records) = crate::model::audit::parse_lines(text) {
        let _ = crate::model::audit::verify(&records, None);
        let _ = crate::model::audit::verify(&records, Some("0"));
    }
}

/// A provider's ListObjectsV2 answer (providers are not trusted with anything but ciphertext).
pub fn provider_listing(data: &[u8]) {
    let _ = crate::backend::s3::xml::list_objects_v2(data);
    let _ = crate::backend::s3::xml::upload_id(data);
    let _ = crate::backend::s3::xml::error_code(data);
}

/// `x-amz-copy-source` and `x-amz-copy-source-range` as the front end reads them.
pub fn copy_source(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (source, range) = text.split_once('\n').unwrap_or((text, ""));
    let _ = crate::frontend::s3::copy_source_header(source);
    if let Ok((first, last)) = crate::frontend::s3::parse_copy_range(range) {
        assert!(range.starts_with("bytes="), "{range:?} {first}-{last}");
    }
}

/// A gateway over memory metadata and two local providers, started once per fuzz process.
struct FuzzGateway {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
    _dir: std::path::PathBuf,
}

const FUZZ_ACCESS: &str = "fuzz-access";
const FUZZ_SECRET: &str = "fuzz-secret-0123456789";

fn fuzz_gateway() -> Result<&'static FuzzGateway, &'static str> {
    static GW: OnceLock<Result<FuzzGateway, String>> = OnceLock::new();
    GW.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = std::env::temp_dir().join(format!("souverain-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let text = format!(
            r#"
[server]
s3_listen = "127.0.0.1:0"
region = "eu-fuzz-1"
default_policy = "p"
data_dir = "{dir}"
[metadata]
engine = "memory"
[keys]
provider = "local"
key_file = "kek.key"
[log]
level = "off"
[[provider]]
id = "a"
kind = "fs"
path = "a"
country = "DE"
operator = "a"
[[provider]]
id = "b"
kind = "fs"
path = "b"
country = "FR"
operator = "b"
[[policy]]
id = "p"
replicas = 2
write_quorum = 1
[[access_key]]
id = "{FUZZ_ACCESS}"
secret = "{FUZZ_SECRET}"
"#,
            dir = dir.display()
        );
        let config = crate::config::Config::parse(&text, &dir).map_err(|e| crate::report::chain(&e))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let running = runtime.block_on(crate::app::start(config)).map_err(|e| e.to_string())?;
        let addr = running.s3_addr;
        runtime.spawn(async move {
            // Keeps the gateway alive for the process's lifetime.
            std::future::pending::<()>().await;
            drop(running);
        });
        let gw = FuzzGateway { addr, _runtime: runtime, _dir: dir };
        let create = signed_head("PUT", "/fuzz", "UNSIGNED-PAYLOAD", &[("content-length", "0")]).ok_or("signing")?;
        match exchange(gw.addr, &create, b"") {
            Some(200) => Ok(gw),
            other => Err(format!("CreateBucket answered {other:?}")),
        }
    })
    .as_ref()
    .map_err(String::as_str)
}

/// A SigV4-signed request head (signed now, so long runs never fall outside the clock skew).
fn signed_head(method: &str, path: &str, payload: &str, extra: &[(&str, &str)]) -> Option<String> {
    let signer = crate::backend::s3::sign::RequestSigner::new(FUZZ_ACCESS, FUZZ_SECRET, "eu-fuzz-1");
    let mut req = http::Request::builder().method(method).uri(format!("http://fuzz{path}")).header("host", "fuzz");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let mut req = req.body(()).ok()?;
    signer.sign(&mut req, crate::backend::s3::sign::Payload::Declared(payload)).ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in req.headers() {
        let _ = write!(head, "{k}: {}\r\n", v.to_str().ok()?);
    }
    head.push_str("connection: close\r\n\r\n");
    Some(head)
}

/// Sends a request over a fresh connection; the status of the answer.
fn exchange(addr: SocketAddr, head: &str, body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(head.as_bytes()).ok()?;
    // No half-close: hyper drops a connection whose read side ends before it has answered.
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// An aws-chunked PutObject body as s3s decodes it, sent to a real in-process gateway. The
/// first byte picks the mode (unsigned with a CRC32C trailer, or signed chunks), the next two
/// the declared decoded length; the rest is the body as sent. A malformed body is a 4xx, never
/// a 5xx or a crash, and the gateway stays up.
pub fn aws_chunked(data: &[u8]) {
    let gw = fuzz_gateway().unwrap_or_else(|e| panic!("the fuzz gateway did not start: {e}"));
    let [mode, l0, l1, body @ ..] = data else { return };
    let decoded = u16::from_le_bytes([*l0, *l1]).to_string();
    let length = body.len().to_string();
    let (payload, trailer) = if mode % 2 == 0 {
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", Some(("x-amz-trailer", "x-amz-checksum-crc32c")))
    } else {
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", None)
    };
    let mut extra = vec![
        ("content-encoding", "aws-chunked"),
        ("content-length", length.as_str()),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    extra.extend(trailer);
    let Some(head) = signed_head("PUT", "/fuzz/object", payload, &extra) else { return };
    if let Some(status) = exchange(gw.addr, &head, body) {
        assert!(status < 500, "a malformed aws-chunked body got {status}");
    }
    let Some(probe) = signed_head("GET", "/fuzz", "UNSIGNED-PAYLOAD", &[]) else { return };
    assert_eq!(exchange(gw.addr, &probe, b""), Some(200), "the gateway stopped answering");
}

#[cfg(test)]
mod tests {
    use super::TARGETS;

    /// Every input kept in `fuzz/corpus/<target>/` (seeds and whatever the long runs found)
    /// still passes its target's oracle.
    #[test]
    fn kept_fuzz_corpora_pass() {
        // The checkout being tested (cargo sets this when it runs the test): the compile-time value
        // can name another clone that shared the target directory.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), std::path::PathBuf::from);
        let root = dir.join("fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let mut count = 0;
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
                let data = std::fs::read(entry.path()).unwrap_or_default();
                target(&data);
                count += 1;
            }
            assert!(count > 0, "no corpus for {name}");
        }
    }
}
