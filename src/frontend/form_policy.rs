//! The signature and the policy document of a POST object form (AWS "Browser-based uploads
//! using POST", SigV4): the form's `policy` (base64 JSON) is signed as a string to sign
//! under the access key's SigV4 signing key, and every form field must be allowed by one of
//! its conditions. Checked before a byte of the file is read.

use ring::hmac;
use s3s::post_policy::{PostPolicy, PostPolicyCondition};
use s3s::{S3Error, S3ErrorCode, S3Result};
use subtle::ConstantTimeEq;

/// The form's fields before the file, names in lower case, in order.
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The value of `name` (lower case), if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The SigV4 credential of a form: `AKID/yyyymmdd/region/s3/aws4_request`.
pub struct Credential<'a> {
    /// The access key id.
    pub access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

fn denied(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, message.into())
}

/// Parses `x-amz-credential`.
pub fn credential(value: &str) -> S3Result<Credential<'_>> {
    let mut parts = value.split('/');
    let (Some(access_key), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, "malformed x-amz-credential"));
    };
    Ok(Credential { access_key, date, region, service })
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// Checks `x-amz-signature` over the base64 policy with `secret`'s signing key for the
/// credential's date, region and service (compared in constant time).
pub fn verify_signature(cred: &Credential<'_>, secret: &str, policy_b64: &str, signature: &str) -> S3Result<()> {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), cred.date.as_bytes());
    let k_region = hmac_sha256(k_date.as_ref(), cred.region.as_bytes());
    let k_service = hmac_sha256(k_region.as_ref(), cred.service.as_bytes());
    let k_signing = hmac_sha256(k_service.as_ref(), b"aws4_request");
    let expected = hex::encode(hmac_sha256(k_signing.as_ref(), policy_b64.as_bytes()));
    if bool::from(expected.as_bytes().ct_eq(signature.trim().to_ascii_lowercase().as_bytes())) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        ))
    }
}

/// Fields no condition needs to name (AWS's list).
fn exempt(name: &str) -> bool {
    matches!(name, "x-amz-signature" | "file" | "policy") || name.starts_with("x-ignore-")
}

fn named(c: &PostPolicyCondition) -> Option<&str> {
    match c {
        PostPolicyCondition::Eq { field, .. } | PostPolicyCondition::StartsWith { field, .. } => Some(field),
        PostPolicyCondition::ContentLengthRange { .. } => None,
    }
}

/// The policy, once it has not expired at `now` and every field (and the URL's `bucket`)
/// meets its conditions: `(min, max)` of the file's length, if the policy bounds it.
pub fn check_policy(
    policy_b64: &str,
    fields: &FormFields,
    bucket: &str,
    now: time::OffsetDateTime,
) -> S3Result<Option<(u64, u64)>> {
    let policy = PostPolicy::from_base64(policy_b64).map_err(|e| {
        S3Error::with_message(S3ErrorCode::Custom("InvalidPolicyDocument".into()), format!("Invalid Policy: {e}"))
    })?;
    if now >= time::OffsetDateTime::from(policy.expiration.clone()) {
        return Err(denied("Invalid according to Policy: Policy expired."));
    }
    let value = |field: &str| if field == "bucket" { Some(bucket) } else { fields.get(field) };
    for c in &policy.conditions {
        let holds = match c {
            PostPolicyCondition::Eq { field, value: want } => value(field) == Some(want.as_str()),
            PostPolicyCondition::StartsWith { field, prefix } => {
                value(field).is_some_and(|v| v.starts_with(prefix.as_str()))
            }
            PostPolicyCondition::ContentLengthRange { .. } => true,
        };
        if !holds {
            return Err(denied(format!("Invalid according to Policy: Policy Condition failed: {c:?}")));
        }
    }
    let extra: Vec<&str> = fields
        .0
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !exempt(k) && !policy.conditions.iter().any(|c| named(c) == Some(k)))
        .collect();
    if !extra.is_empty() {
        return Err(denied(format!("Invalid according to Policy: Extra input fields: {}", extra.join(", "))));
    }
    Ok(policy.content_length_range())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn fields(pairs: &[(&str, &str)]) -> FormFields {
        FormFields(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    const POLICY: &str = r#"{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"up"},["starts-with","$key","user/"],{"x-amz-credential":"AK/20261204/eu/s3/aws4_request"},["content-length-range",1,100]]}"#;

    #[test]
    fn conditions_and_extra_fields() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let ok = fields(&[("key", "user/a.txt"), ("x-amz-credential", "AK/20261204/eu/s3/aws4_request")]);
        assert_eq!(check_policy(&b64(POLICY), &ok, "up", now).unwrap(), Some((1, 100)));
        let bad_key = fields(&[("key", "admin/a.txt"), ("x-amz-credential", "AK/20261204/eu/s3/aws4_request")]);
        assert!(check_policy(&b64(POLICY), &bad_key, "up", now).is_err());
        assert!(check_policy(&b64(POLICY), &ok, "other", now).is_err(), "the URL's bucket");
        let extra = fields(&[("key", "user/a"), ("x-amz-credential", "AK/20261204/eu/s3/aws4_request"), ("acl", "x")]);
        assert!(check_policy(&b64(POLICY), &extra, "up", now).is_err(), "a field no condition names");
        let later = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        assert!(check_policy(&b64(POLICY), &ok, "up", later).is_err(), "expired");
    }

    #[test]
    fn the_signature_is_sigv4_over_the_policy() {
        // AWS's example ("Example: Browser-based upload using HTTP POST (using AWS Signature
        // Version 4)"): this policy, key and date give this signature.
        let cred = credential("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request").unwrap();
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let sig = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
        assert!(verify_signature(&cred, secret, policy, sig).is_ok());
        assert!(verify_signature(&cred, secret, policy, &sig.replace('8', "9")).is_err());
        assert!(verify_signature(&cred, "another secret", policy, sig).is_err());
    }
}
