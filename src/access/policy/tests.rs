//! Bucket policy evaluation against the cases the AWS documentation works through: explicit
//! deny over allow, wildcards in actions and resources, IP conditions, SecureTransport,
//! prefix conditions on listing, principals, and what counts as public.

use super::*;
use crate::model::access::{UserCaps, UserName};

fn user(name: &str) -> Principal {
    Principal::User { name: UserName::parse(name).unwrap(), key_id: "SV".into(), caps: UserCaps::default() }
}

fn policy(statements: &str) -> BucketPolicy {
    BucketPolicy::parse(&format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#), "docs").unwrap()
}

fn facts(ip: &str, secure: bool) -> RequestFacts {
    RequestFacts { source_ip: Some(ip.parse().unwrap()), secure, ..RequestFacts::default() }
}

const OBJ: &str = "arn:aws:s3:::docs/reports/2026.pdf";
const BUCKET: &str = "arn:aws:s3:::docs";

/// Public read (the AWS example "Granting read-only permission to anonymous users").
#[test]
fn public_read_allows_anonymous_get_only() {
    let p = policy(r#"{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::docs/*"}"#);
    let f = facts("203.0.113.9", false);
    assert_eq!(p.evaluate(&Principal::Anonymous, "s3:GetObject", OBJ, &f, true), Verdict::Allow);
    assert_eq!(p.evaluate(&Principal::Anonymous, "s3:PutObject", OBJ, &f, true), Verdict::Silent);
    assert_eq!(
        p.evaluate(&Principal::Anonymous, "s3:ListBucket", BUCKET, &f, true),
        Verdict::Silent,
        "the bucket ARN is not docs/*"
    );
    assert_eq!(
        p.evaluate(&Principal::Anonymous, "s3:GetObject", OBJ, &f, false),
        Verdict::Silent,
        "public access blocked"
    );
    assert_eq!(
        p.evaluate(&user("bob"), "s3:GetObject", OBJ, &f, false),
        Verdict::Allow,
        "a signed user still matches *"
    );
    assert!(p.is_public());
}

/// An explicit deny wins over any allow; `s3:*` and `Get*` wildcards, case-insensitive actions.
#[test]
fn explicit_deny_wins_and_actions_match_wildcards() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::souverain:user/bob"},"Action":"s3:*","Resource":["arn:aws:s3:::docs","arn:aws:s3:::docs/*"]},
           {"Sid":"NoDeletes","Effect":"Deny","Principal":"*","Action":"s3:Delete*","Resource":"arn:aws:s3:::docs/*"}"#,
    );
    let f = RequestFacts::default();
    assert_eq!(p.evaluate(&user("bob"), "s3:GetObject", OBJ, &f, false), Verdict::Allow);
    assert_eq!(p.evaluate(&user("bob"), "S3:getobject", OBJ, &f, false), Verdict::Allow, "actions ignore case");
    assert_eq!(p.evaluate(&user("bob"), "s3:ListBucket", BUCKET, &f, false), Verdict::Allow);
    assert_eq!(p.evaluate(&user("bob"), "s3:DeleteObject", OBJ, &f, false), Verdict::Deny, "deny wins");
    assert_eq!(p.evaluate(&user("eve"), "s3:GetObject", OBJ, &f, false), Verdict::Silent, "another user");
    assert_eq!(p.evaluate(&user("eve"), "s3:DeleteObject", OBJ, &f, false), Verdict::Deny, "deny for *");
    assert!(!p.is_public(), "allows a fixed user only");
}

/// `aws:SourceIp` (the AWS example "Managing access based on specific IP addresses"): an
/// allow limited to a block, a deny outside another; IPv6 and IPv4-mapped addresses.
#[test]
fn source_ip_conditions() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*",
            "Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}},
           {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::docs/*",
            "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","198.51.100.7","2001:db8::/32"]}}}"#,
    );
    let get = |ip: &str| p.evaluate(&Principal::Anonymous, "s3:GetObject", OBJ, &facts(ip, false), true);
    assert_eq!(get("192.0.2.77"), Verdict::Allow);
    assert_eq!(get("::ffff:192.0.2.77"), Verdict::Allow, "IPv4-mapped IPv6");
    assert_eq!(get("2001:db8:1::5"), Verdict::Allow);
    assert_eq!(get("198.51.100.7"), Verdict::Silent, "not denied, not allowed");
    assert_eq!(get("203.0.113.1"), Verdict::Deny);
    let unknown = p.evaluate(&Principal::Anonymous, "s3:GetObject", OBJ, &RequestFacts::default(), true);
    assert_eq!(unknown, Verdict::Deny, "no address: NotIpAddress holds, IpAddress does not");
    assert!(!p.is_public(), "limited to CIDR blocks");
}

/// `aws:SecureTransport` (the AWS example denying plain HTTP).
#[test]
fn secure_transport_condition() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::x:user/bob"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"},
           {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::docs/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
    );
    assert_eq!(p.evaluate(&user("bob"), "s3:GetObject", OBJ, &facts("192.0.2.1", true), false), Verdict::Allow);
    assert_eq!(p.evaluate(&user("bob"), "s3:GetObject", OBJ, &facts("192.0.2.1", false), false), Verdict::Deny);
}

/// `s3:prefix` (the AWS example allowing a user to list only their home prefix), `StringLike`,
/// and a missing key matching only negated operators.
#[test]
fn prefix_conditions_on_listing() {
    let p = policy(
        r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::x:user/bob"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::docs",
            "Condition":{"StringLike":{"s3:prefix":["home/bob/*",""]}}},
           {"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::docs",
            "Condition":{"StringNotEquals":{"s3:delimiter":"/"}}}"#,
    );
    let list = |prefix: Option<&str>, delimiter: Option<&str>| {
        let f =
            RequestFacts { prefix: prefix.map(Into::into), delimiter: delimiter.map(Into::into), ..Default::default() };
        p.evaluate(&user("bob"), "s3:ListBucket", BUCKET, &f, false)
    };
    assert_eq!(list(Some("home/bob/photos/"), Some("/")), Verdict::Allow);
    assert_eq!(list(Some(""), Some("/")), Verdict::Allow);
    assert_eq!(list(Some("home/alice/"), Some("/")), Verdict::Silent);
    assert_eq!(list(Some("home/bob/"), None), Verdict::Deny, "missing delimiter: StringNotEquals holds");
    assert_eq!(list(None, Some("/")), Verdict::Silent, "missing prefix: StringLike does not hold");
}

/// NotAction and NotResource; the root principal; wildcards in resources.
#[test]
fn not_elements_root_and_resource_wildcards() {
    let p = policy(
        r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::x:root"},"NotAction":"s3:Get*","Resource":"arn:aws:s3:::docs/*"},
           {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::docs/private/*"},
           {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::docs/in?ox/*.txt"}"#,
    );
    let root = Principal::Root { key_id: "k".into() };
    let f = RequestFacts::default();
    assert_eq!(p.evaluate(&root, "s3:PutObject", OBJ, &f, true), Verdict::Deny);
    assert_eq!(p.evaluate(&root, "s3:GetObject", OBJ, &f, true), Verdict::Allow);
    assert_eq!(p.evaluate(&user("b"), "s3:GetObject", "arn:aws:s3:::docs/private/x", &f, true), Verdict::Silent);
    assert_eq!(p.evaluate(&user("b"), "s3:PutObject", "arn:aws:s3:::docs/inbox/a.txt", &f, true), Verdict::Allow);
    assert_eq!(p.evaluate(&user("b"), "s3:PutObject", "arn:aws:s3:::docs/inbox/a.pdf", &f, true), Verdict::Silent);
    assert_eq!(p.evaluate(&user("b"), "s3:PutObject", "arn:aws:s3:::docs/in/a.txt", &f, true), Verdict::Silent);
}

/// Documents outside the subset are refused with a reason, never half-understood.
#[test]
fn malformed_policies_are_refused() {
    let stmt = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{s}]}}"#);
    let cases = [
        ("not json".to_owned(), "valid JSON"),
        (r#"{"Version":"2012-10-17"}"#.to_owned(), "Statement"),
        (r#"{"Version":"2099-01-01","Statement":[]}"#.to_owned(), "version"),
        (
            stmt(r#"{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}"#),
            "Effect",
        ),
        (stmt(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}"#), "Principal"),
        (
            stmt(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#),
            "invalid resource",
        ),
        (
            stmt(r#"{"Effect":"Allow","Principal":"*","Action":"iam:PassRole","Resource":"arn:aws:s3:::docs/*"}"#),
            "invalid action",
        ),
        (
            stmt(r#"{"Effect":"Allow","NotPrincipal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}"#),
            "NotPrincipal",
        ),
        (
            stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"}}}"#,
            ),
            "condition operator",
        ),
        (
            stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*","Condition":{"StringEquals":{"aws:Referer":"x"}}}"#,
            ),
            "condition key",
        ),
        (
            stmt(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*","Condition":{"IpAddress":{"aws:SourceIp":"not-an-ip"}}}"#,
            ),
            "CIDR",
        ),
        (
            stmt(
                r#"{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*"}"#,
            ),
            "Invalid principal",
        ),
        (format!(r#"{{"Statement":[],"x":"{}"}}"#, "a".repeat(MAX_POLICY_BYTES)), "20 KB"),
    ];
    for (text, says) in cases {
        let err = BucketPolicy::parse(&text, "docs").unwrap_err();
        assert!(err.0.contains(says), "{text:.80}: {err} should say {says}");
    }
}

/// Wildcard matching and CIDR blocks at their edges.
#[test]
fn wildcards_and_cidr_edges() {
    assert!(wildcard("a*b*c", "aXXbYYc", false));
    assert!(!wildcard("a*b*c", "aXXbYY", false));
    assert!(wildcard("*", "", false));
    assert!(wildcard("s3:get*", "S3:GetObject", true));
    assert!(!wildcard("s3:get*", "S3:GetObject", false));
    let c = parse_cidr("10.0.0.0/8").unwrap();
    assert!(c.contains("10.255.1.1".parse().unwrap()) && !c.contains("11.0.0.1".parse().unwrap()));
    assert!(parse_cidr("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
    assert!(parse_cidr("10.0.0.0/33").is_none());
    assert!(!parse_cidr("10.0.0.1").unwrap().contains("10.0.0.2".parse().unwrap()));
    let mapped = parse_cidr("::ffff:203.0.113.0/120").unwrap();
    assert!(mapped.contains("203.0.113.9".parse().unwrap()), "a mapped rule matches an IPv4 client");
    assert!(mapped.contains("::ffff:203.0.113.9".parse().unwrap()));
}

/// Promise (review finding): a `*` in a key does not escape a pattern's `*` — a deny of
/// `private/*` covers `private/*x`, and `StringLike` the same.
#[test]
fn stars_in_values_are_matched_by_pattern_stars() {
    assert!(wildcard("docs/private/*", "docs/private/*x", false));
    assert!(wildcard("a*", "a*", false));
    assert!(wildcard("*b", "*b", false));
    assert!(wildcard("a*c", "a**c", false));
    let p =
        policy(r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::docs/private/*"}"#);
    let v =
        p.evaluate(&user("w"), "s3:PutObject", "arn:aws:s3:::docs/private/*anything", &RequestFacts::default(), false);
    assert_eq!(v, Verdict::Deny);
}

/// Promise (review finding): a statement for anyone limited to `0.0.0.0/0` (or any block wider
/// than /8, /32 for IPv6) is public; one limited to narrow blocks is not.
#[test]
fn wide_address_blocks_do_not_make_a_policy_private() {
    let with = |cidr: &str| {
        policy(&format!(
            r#"{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*","Condition":{{"IpAddress":{{"aws:SourceIp":"{cidr}"}}}}}}"#
        ))
    };
    assert!(with("0.0.0.0/0").is_public());
    assert!(with("::/0").is_public());
    assert!(with("10.0.0.0/7").is_public());
    assert!(!with("10.0.0.0/8").is_public());
    assert!(!with("192.0.2.0/24").is_public());
    assert!(!with("2001:db8::/32").is_public());
}
