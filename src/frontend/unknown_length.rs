//! PutObject with HTTP/1.1 chunked transfer and no length at all (`Transfer-Encoding: chunked`,
//! no `Content-Length`, no `x-amz-decoded-content-length`, an unsigned payload), which S3
//! accepts (Ceph's s3-tests check it against AWS: `test_object_write_with_chunked_transfer_encoding`)
//! and s3s 0.14 refuses with 411 while checking the signature ("as MinIO").
//!
//! Such a request is marked here, before s3s: an [`UnknownLength`] extension (a client cannot
//! set one) and `Content-Length: 0` so that s3s's check passes. Content-Length is never among
//! the signed headers of a request that did not send it, so the signature s3s checks is the
//! client's own; hyper already frames the body by its chunks, so the header changes nothing of
//! what is read; the frontend sees the mark and hands the service a body of unknown length,
//! which it stores piece by piece (`service::unsized_body`), never whole in memory.
//!
//! Left as s3s answers (411): a signed payload (a SHA-256 in `x-amz-content-sha256`, whose
//! check needs the length up front) and UploadPart (a part's stream is sealed with its length).

use http::{HeaderValue, Method, Request, header};

use super::query::Query;

/// The request's body length is unknown: ignore the `Content-Length: 0` put in for s3s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownLength;

/// Marks `req` when it is such a PutObject (`object_path`: its path names a key).
pub fn mark<B>(req: &mut Request<B>, query: &Query, object_path: bool) -> bool {
    let h = req.headers();
    let chunked = h
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")));
    let presigned = query.has("X-Amz-Signature");
    let unsigned_payload = match h.get("x-amz-content-sha256") {
        Some(v) => v.as_bytes() == b"UNSIGNED-PAYLOAD",
        // Presigned URLs are signed without the body; most clients send no hash with them.
        None => presigned,
    };
    let applies = req.method() == Method::PUT
        && object_path
        && chunked
        && unsigned_payload
        && !h.contains_key(header::CONTENT_LENGTH)
        && !h.contains_key("x-amz-decoded-content-length")
        && !h.contains_key("x-amz-copy-source")
        && !query.has("uploadId")
        && !query.has("partNumber");
    if applies {
        req.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        req.extensions_mut().insert(UnknownLength);
    }
    applies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    fn marked(method: &str, uri: &str, headers: &[(&str, &str)]) -> Option<(bool, Option<String>)> {
        let mut req = request(method, uri, headers);
        let query = Query::parse(req.uri().query());
        mark(&mut req, &query, true).then(|| {
            let len = req.headers().get(header::CONTENT_LENGTH).map(|v| v.to_str().unwrap_or("").to_owned());
            (req.extensions().get::<UnknownLength>().is_some(), len)
        })
    }

    /// Promise: only an unsigned-payload PutObject with chunked transfer and no length of any
    /// kind is marked (with the extension and the `Content-Length: 0` s3s needs); a part, a
    /// copy, a signed payload, aws-chunked framing or a declared length are left alone.
    #[test]
    fn only_an_unsized_unsigned_put_object_is_marked() {
        let te = ("transfer-encoding", "chunked");
        let unsigned = ("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        assert_eq!(marked("PUT", "/b/k", &[te, unsigned]), Some((true, Some("0".into()))));
        assert!(marked("PUT", "/b/k?X-Amz-Signature=ab&X-Amz-Credential=c", &[te]).is_some(), "presigned");
        assert!(marked("PUT", "/b/k", &[te]).is_none(), "header auth without a payload hash");
        assert!(marked("PUT", "/b/k", &[te, ("x-amz-content-sha256", &"a".repeat(64))]).is_none(), "signed");
        assert!(marked("PUT", "/b/k", &[te, unsigned, ("content-length", "5")]).is_none(), "sized");
        assert!(marked("PUT", "/b/k", &[te, unsigned, ("x-amz-decoded-content-length", "5")]).is_none());
        assert!(marked("PUT", "/b/k?partNumber=1&uploadId=u", &[te, unsigned]).is_none(), "a part");
        assert!(marked("PUT", "/b/k", &[te, unsigned, ("x-amz-copy-source", "/b/o")]).is_none(), "a copy");
        assert!(marked("POST", "/b/k", &[te, unsigned]).is_none());
        assert!(marked("PUT", "/b/k", &[unsigned]).is_none(), "not chunked");
        assert!(marked("PUT", "/b/k", &[("transfer-encoding", "gzip, chunked"), unsigned]).is_some());
    }
}
