//! Every `x-amz-*` header of a SigV4 request must be signed, as S3 requires: otherwise anyone
//! relaying a signed request could add `x-amz-copy-source`, `x-amz-meta-*` or a checksum header
//! its signer never approved. s3s checks the signature over the headers the client names in
//! `SignedHeaders`; this finds the ones it did not name. `x-amz-content-sha256` may stay
//! unsigned, as S3 allows (presigned URLs carry it from some clients).

use http::HeaderMap;

use super::query::Query;

/// How a request authenticates, as s3s will verify it.
#[derive(Debug, PartialEq, Eq)]
pub enum SignedHeaders {
    /// Anonymous or SigV2: judged by s3s alone.
    NotSigV4,
    /// SigV4 with this `;`-separated list of signed header names.
    List(String),
    /// Both a query signature and an `Authorization` header: s3s verifies the query and
    /// ignores the header, so whatever the header claims is unverified. Refused, as S3 does
    /// ("Only one auth mechanism allowed").
    TwoMechanisms,
}

/// The `x-amz-*` headers a SigV4 request carries without signing them, in request order; empty
/// for requests that are not SigV4 (anonymous or SigV2 requests are judged by s3s alone).
pub fn unsigned_amz_headers(headers: &HeaderMap, signed: &SignedHeaders) -> Vec<String> {
    let SignedHeaders::List(signed) = signed else { return Vec::new() };
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

/// The signed-header list of exactly the credential s3s verifies: the decoded query's
/// `X-Amz-SignedHeaders` whenever the decoded query carries `X-Amz-Signature` (s3s checks the
/// presigned form first), else the `SignedHeaders` of a SigV4 `Authorization` header.
pub fn signed_header_list(headers: &HeaderMap, query: &Query) -> SignedHeaders {
    let authorization = headers.get(http::header::AUTHORIZATION);
    let query_signed = query.has("X-Amz-Signature") || query.has("X-Amz-Algorithm") || query.has("Signature");
    if query_signed && authorization.is_some() {
        return SignedHeaders::TwoMechanisms;
    }
    if query.has("X-Amz-Signature") {
        // A list given twice is refused by s3s; an empty one signs nothing here.
        return SignedHeaders::List(query.values("X-Amz-SignedHeaders").next().unwrap_or_default().to_owned());
    }
    let Some(auth) = authorization.and_then(|v| v.to_str().ok()) else { return SignedHeaders::NotSigV4 };
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") else { return SignedHeaders::NotSigV4 };
    let list = rest.split(',').map(str::trim).find_map(|part| part.strip_prefix("SignedHeaders="));
    SignedHeaders::List(list.unwrap_or_default().to_owned())
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
        assert_eq!(unsigned(&h, None), ["x-amz-meta-b"]);
    }

    fn unsigned(h: &HeaderMap, query: Option<&str>) -> Vec<String> {
        unsigned_amz_headers(h, &signed_header_list(h, &Query::parse(query)))
    }

    #[test]
    fn presigned_urls_read_the_list_from_the_decoded_query() {
        let h = headers(&[("x-amz-acl", "public-read"), ("x-amz-meta-a", "1")]);
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bx-amz-meta-a&X-Amz-Signature=00";
        assert_eq!(unsigned(&h, Some(q)), ["x-amz-acl"]);
        // The name spelled with percent-escapes is the same parameter to s3s.
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signed%48eaders=host&X-Amz-%53ignature=00";
        assert_eq!(unsigned(&h, Some(q)), ["x-amz-acl", "x-amz-meta-a"]);
    }

    #[test]
    fn a_presigned_query_beside_an_authorization_header_is_two_mechanisms() {
        let h = headers(&[(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AK/20260101/eu/s3/aws4_request, SignedHeaders=host;x-amz-copy-source, Signature=00",
        )]);
        let q = Query::parse(Some("X-Amz-Signature=00&X-Amz-SignedHeaders=host"));
        assert_eq!(signed_header_list(&h, &q), SignedHeaders::TwoMechanisms);
        let v2 = Query::parse(Some("AWSAccessKeyId=AK&Signature=x&Expires=1"));
        assert_eq!(signed_header_list(&h, &v2), SignedHeaders::TwoMechanisms);
    }

    #[test]
    fn anonymous_and_sigv2_requests_are_left_to_s3s() {
        let h = headers(&[("x-amz-meta-a", "1")]);
        assert!(unsigned(&h, None).is_empty());
        let h = headers(&[("authorization", "AWS AK:sig"), ("x-amz-meta-a", "1")]);
        assert!(unsigned(&h, Some("a=b")).is_empty());
    }
}
