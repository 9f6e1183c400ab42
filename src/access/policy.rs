//! Bucket policies: the subset of the AWS policy language S3 users write (docs/access-control.md).
//! Parsed once when stored (anything outside the subset is refused as `MalformedPolicy`, never
//! half-understood), evaluated without I/O: explicit deny wins, then allow, else no opinion.

use std::net::IpAddr;

use serde_json::Value;

use super::Principal;

/// Largest policy document accepted (AWS's limit).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn bad<T>(why: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(why.into()))
}

/// A parsed bucket policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPolicy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    principals: Principals,
    actions: Matcher,
    resources: Matcher,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    /// `"*"`: everyone, anonymous included.
    Anyone,
    /// Users by name; `None` is the deployment's root (`arn:aws:iam::…:root`).
    Named(Vec<Option<String>>),
}

/// Patterns, or everything but them (`NotAction`, `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Matcher {
    patterns: Vec<String>,
    negated: bool,
    /// Actions match without regard to case; resources with.
    ignore_case: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    SourceIp,
    SecureTransport,
    Prefix,
    Delimiter,
    Username,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    op: Op,
    key: Key,
    values: Vec<String>,
}

/// What a request brings to the policy's conditions.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// The client's address, if known.
    pub source_ip: Option<IpAddr>,
    /// Whether it came over TLS.
    pub secure: bool,
    /// ListObjects' `prefix`.
    pub prefix: Option<String>,
    /// ListObjects' `delimiter`.
    pub delimiter: Option<String>,
}

/// What the policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A matching statement denies.
    Deny,
    /// A matching statement allows (and none denies).
    Allow,
    /// No statement matches.
    Silent,
}

/// Strings or one string, as the language allows.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| PolicyError(format!("{what} must hold strings"))))
            .collect(),
        Value::Bool(b) if what == "condition value" => Ok(vec![b.to_string()]),
        _ => bad(format!("{what} must be a string or a non-empty list of strings")),
    }
}

impl BucketPolicy {
    /// Parses and checks a policy for `bucket`: every resource must be the bucket or objects in
    /// it, every element one this gateway understands.
    pub fn parse(text: &str, bucket: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return bad("Policies must be less than 20 KB");
        }
        let doc: Value =
            serde_json::from_str(text).map_err(|e| PolicyError(format!("Policies must be valid JSON: {e}")))?;
        let Some(doc) = doc.as_object() else { return bad("a policy is a JSON object") };
        for key in doc.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return bad(format!("unknown policy element {key}"));
            }
        }
        if let Some(v) = doc.get("Version")
            && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
        {
            return bad("The policy language version must be 2012-10-17 or 2008-10-17");
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(items)) if !items.is_empty() => items.iter().collect::<Vec<_>>(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => return bad("Missing required field Statement"),
        };
        let statements = statements.into_iter().map(|s| statement(s, bucket)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { statements })
    }

    /// Whether a statement allows anyone (`"*"`) without limiting them to narrow source
    /// address blocks (IPv4 /8 or longer, IPv6 /32 or longer: `0.0.0.0/0` limits nothing) or a
    /// user name: AWS's meaning of a public policy.
    pub fn is_public(&self) -> bool {
        let narrow = |v: &String| parse_cidr(v).is_some_and(|c| c.bits >= if c.net.is_ipv4() { 8 } else { 32 });
        self.statements.iter().any(|s| {
            s.allow
                && s.principals == Principals::Anyone
                && !s.conditions.iter().any(|c| {
                    (c.key == Key::SourceIp && c.op == Op::IpAddress && c.values.iter().all(narrow))
                        || (c.key == Key::Username && c.op == Op::StringEquals)
                })
        })
    }

    /// The verdict on `principal` doing `action` (its AWS name) on `resource` (an ARN).
    /// `public_allowed`: whether statements for anyone may allow (public access not blocked);
    /// denials always apply.
    pub fn evaluate(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        facts: &RequestFacts,
        public_allowed: bool,
    ) -> Verdict {
        let mut verdict = Verdict::Silent;
        for s in &self.statements {
            let applies = s.principals.covers(principal)
                && s.actions.matches(action)
                && s.resources.matches(resource)
                && s.conditions.iter().all(|c| c.holds(principal, facts));
            if !applies {
                continue;
            }
            if !s.allow {
                return Verdict::Deny;
            }
            if public_allowed || s.principals != Principals::Anyone || !matches!(principal, Principal::Anonymous) {
                verdict = Verdict::Allow;
            }
        }
        verdict
    }
}

fn statement(v: &Value, bucket: &str) -> Result<Statement, PolicyError> {
    let Some(s) = v.as_object() else { return bad("a Statement is a JSON object") };
    for key in s.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Principal" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition" => {}
            "NotPrincipal" => return bad("NotPrincipal is not supported"),
            other => return bad(format!("unknown statement element {other}")),
        }
    }
    let allow = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return bad("Effect must be Allow or Deny"),
    };
    let principals =
        principals(s.get("Principal").ok_or_else(|| PolicyError("Missing required field Principal".into()))?)?;
    let actions = matcher(s, "Action", "NotAction", true)?;
    let resources = matcher(s, "Resource", "NotResource", false)?;
    for r in &resources.patterns {
        let target = r.strip_prefix("arn:aws:s3:::").unwrap_or("");
        let (named, _) = target.split_once('/').unwrap_or((target, ""));
        if !(named == bucket || (named.contains(['*', '?']) && wildcard(named, bucket, false))) {
            return bad(format!("Policy has invalid resource {r}: only this bucket and its objects"));
        }
    }
    for a in &actions.patterns {
        if !(a == "*" || a.to_ascii_lowercase().starts_with("s3:")) {
            return bad(format!("Policy has invalid action {a}"));
        }
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(ops)) => conditions(ops)?,
        Some(_) => return bad("Condition must be an object"),
    };
    Ok(Statement { allow, principals, actions, resources, conditions })
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    let names = match v {
        Value::String(s) if s == "*" => return Ok(Principals::Anyone),
        Value::Object(m) if m.len() == 1 && m.contains_key("AWS") => strings(&m["AWS"], "Principal")?,
        _ => return bad("Principal must be \"*\" or {\"AWS\": ARNs}"),
    };
    if names.iter().any(|n| n == "*") {
        return Ok(Principals::Anyone);
    }
    let mut out = Vec::new();
    for n in names {
        let rest = n.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(':')).map(|(_, r)| r);
        match rest {
            Some("root") => out.push(None),
            Some(r) if r.starts_with("user/") && r.len() > 5 => out.push(Some(r[5..].to_owned())),
            _ => return bad(format!("Invalid principal in policy: {n} (expected arn:aws:iam::<account>:user/<name>)")),
        }
    }
    Ok(Principals::Named(out))
}

fn matcher(
    s: &serde_json::Map<String, Value>,
    name: &str,
    not: &str,
    ignore_case: bool,
) -> Result<Matcher, PolicyError> {
    match (s.get(name), s.get(not)) {
        (Some(v), None) => Ok(Matcher { patterns: strings(v, name)?, negated: false, ignore_case }),
        (None, Some(v)) => Ok(Matcher { patterns: strings(v, not)?, negated: true, ignore_case }),
        (Some(_), Some(_)) => bad(format!("a statement has {name} or {not}, not both")),
        (None, None) => bad(format!("Missing required field {name}")),
    }
}

fn conditions(ops: &serde_json::Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let op = match op_name.as_str() {
            "StringEquals" => Op::StringEquals,
            "StringNotEquals" => Op::StringNotEquals,
            "StringLike" => Op::StringLike,
            "StringNotLike" => Op::StringNotLike,
            "IpAddress" => Op::IpAddress,
            "NotIpAddress" => Op::NotIpAddress,
            "Bool" => Op::Bool,
            other => return bad(format!("Policy has an unsupported condition operator {other}")),
        };
        let Some(keys) = keys.as_object() else { return bad("a condition operator maps keys to values") };
        for (key_name, values) in keys {
            let key = match key_name.to_ascii_lowercase().as_str() {
                "aws:sourceip" => Key::SourceIp,
                "aws:securetransport" => Key::SecureTransport,
                "s3:prefix" => Key::Prefix,
                "s3:delimiter" => Key::Delimiter,
                "aws:username" => Key::Username,
                _ => return bad(format!("Policy has an invalid condition key {key_name}")),
            };
            let values = strings(values, "condition value")?;
            let fits = match key {
                Key::SourceIp => matches!(op, Op::IpAddress | Op::NotIpAddress),
                Key::SecureTransport => op == Op::Bool,
                _ => !matches!(op, Op::IpAddress | Op::NotIpAddress | Op::Bool),
            };
            if !fits {
                return bad(format!("{op_name} does not apply to {key_name}"));
            }
            if key == Key::SourceIp && values.iter().any(|v| parse_cidr(v).is_none()) {
                return bad(format!("{key_name}: every value must be an IP address or CIDR block"));
            }
            if key == Key::SecureTransport && values.iter().any(|v| v != "true" && v != "false") {
                return bad(format!("{key_name}: values are true or false"));
            }
            out.push(Condition { op, key, values });
        }
    }
    Ok(out)
}

impl Principals {
    fn covers(&self, principal: &Principal) -> bool {
        match (self, principal) {
            (Principals::Anyone, _) => true,
            (Principals::Named(names), Principal::User { name, .. }) => {
                names.iter().flatten().any(|n| n == name.as_str())
            }
            (Principals::Named(names), Principal::Root { .. }) => names.iter().any(Option::is_none),
            (Principals::Named(_), _) => false,
        }
    }
}

impl Matcher {
    fn matches(&self, value: &str) -> bool {
        self.patterns.iter().any(|p| wildcard(p, value, self.ignore_case)) != self.negated
    }
}

impl Condition {
    /// Values of one key are alternatives; a key the request lacks matches only the negated
    /// operators (as AWS evaluates a missing key).
    fn holds(&self, principal: &Principal, facts: &RequestFacts) -> bool {
        let negated = matches!(self.op, Op::StringNotEquals | Op::StringNotLike | Op::NotIpAddress);
        match self.key {
            Key::SourceIp => match facts.source_ip {
                None => negated,
                Some(ip) => self.values.iter().any(|v| parse_cidr(v).is_some_and(|c| c.contains(ip))) != negated,
            },
            Key::SecureTransport => self.values.iter().any(|v| (v == "true") == facts.secure),
            Key::Prefix => self.string(facts.prefix.as_deref(), negated),
            Key::Delimiter => self.string(facts.delimiter.as_deref(), negated),
            Key::Username => self.string(principal.user().map(crate::model::access::UserName::as_str), negated),
        }
    }

    fn string(&self, value: Option<&str>, negated: bool) -> bool {
        let Some(value) = value else { return negated };
        let like = matches!(self.op, Op::StringLike | Op::StringNotLike);
        self.values.iter().any(|v| if like { wildcard(v, value, false) } else { v == value }) != negated
    }
}

/// `*` matches any run of characters, `?` any one; the rest literally.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| if ignore_case { s.to_lowercase() } else { s.to_owned() };
    let (p, v): (Vec<char>, Vec<char>) = (fold(pattern).chars().collect(), fold(value).chars().collect());
    // Greedy matching with backtracking to the last star: linear in practice, bounded by p×v.
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        // A star in the pattern is a wildcard even where the value holds a `*` itself.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// An address block: an address and how many leading bits must match.
struct Cidr {
    net: IpAddr,
    bits: u32,
}

/// An address or block; an IPv4-mapped IPv6 block (`::ffff:a.b.c.d/n`, n ≥ 96) is the IPv4
/// block it maps, so it matches IPv4 clients as written either way.
fn parse_cidr(text: &str) -> Option<Cidr> {
    let (addr, bits) = if let Some((a, b)) = text.split_once('/') {
        (a.parse::<IpAddr>().ok()?, b.parse::<u32>().ok()?)
    } else {
        let a = text.parse::<IpAddr>().ok()?;
        (a, if a.is_ipv4() { 32 } else { 128 })
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return None;
    }
    match addr {
        IpAddr::V6(v6) if bits >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Some(Cidr { net: IpAddr::V4(v4), bits: bits - 96 }),
            None => Some(Cidr { net: addr, bits }),
        },
        _ => Some(Cidr { net: addr, bits }),
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.net.is_ipv4() => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            other => other,
        };
        let mask = |bits: u32, width: u32| if bits == 0 { 0 } else { u128::MAX << (width - bits) };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask(self.bits, 32) & u128::from(u32::MAX);
                u128::from(u32::from(n)) & m == u128::from(u32::from(a)) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask(self.bits, 128);
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
