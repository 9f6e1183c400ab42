//! Every `x-amz-*` header of a SigV4 request must be signed, as S3 requires: otherwise anyone
//! relaying a signed request could add `x-amz-copy-source`, `x-amz-meta-*` or a checksum header
//! its signer never approved. s3s checks the signature over the headers the client names in
//! `SignedHeaders`; this finds the ones it did not name. `x-amz-content-sha256` may stay
//! unsigned, as S3 allows (presigned URLs carry it from some clients).

use http::HeaderMap;

/// The `x-amz-*` headers a SigV4 request carries without signing them, in request order; empty
/// for requests that are not SigV4 (anonymous or SigV2 requests are judged by s3s alone).
pub fn unsigned_amz_headers(headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
    let Some(signed) = signed_header_list(headers, query) else { return Vec::new() };
    let signed: Vec<&str> = signed.split(';').map(str::trim).collect();
    let mut unsigned: Vec<String> = Vec::new();
    for name in headers.keys().map(http::HeaderName::as_str) {
        let needs_signing = name.starts_with("x-amz-") && name != "x-amz-content-sha256";
        if needs_signing && !signed.iter().any(|s| s.eq_ignore_ascii_case(name)) && !unsigned.iter().any(|u| u == name)
        {
            unsigned.push(name.to_owned());
        }
    }
    unsigned
}

/// `SignedHeaders` of a SigV4 Authorization header, or `X-Amz-SignedHeaders` of a presigned URL.
fn signed_header_list(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
        let list = rest.split(',').map(str::trim).find_map(|part| part.strip_prefix("SignedHeaders="))?;
        return Some(list.to_owned());
    }
    let query = query?;
    let raw = query.split('&').find_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="))?;
    crate::model::names::percent_decode(raw, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn header_auth_names_only_the_unsigned_amz_headers() {
        let h = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AK/20260101/eu/s3/aws4_request, SignedHeaders=host;x-amz-date;x-amz-meta-a, Signature=00",
            ),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-b", "2"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amzn-trace-id", "t"),
            ("user-agent", "u"),
        ]);
        assert_eq!(unsigned_amz_headers(&h, None), ["x-amz-meta-b"]);
    }

    #[test]
    fn presigned_urls_read_the_list_from_the_query() {
        let h = headers(&[("x-amz-acl", "public-read"), ("x-amz-meta-a", "1")]);
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=00";
        assert_eq!(unsigned_amz_headers(&h, Some(q)), ["x-amz-acl"]);
    }

    #[test]
    fn anonymous_and_sigv2_requests_are_left_to_s3s() {
        let h = headers(&[("x-amz-meta-a", "1")]);
        assert!(unsigned_amz_headers(&h, None).is_empty());
        let h = headers(&[("authorization", "AWS AK:sig"), ("x-amz-meta-a", "1")]);
        assert!(unsigned_amz_headers(&h, Some("a=b")).is_empty());
    }
}
