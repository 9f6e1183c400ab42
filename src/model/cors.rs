//! A bucket's CORS configuration (PutBucketCors) and the decisions S3 takes from it: which
//! rule, if any, lets a browser's request through — the preflight `OPTIONS` and the actual
//! request alike. Pure: the frontend turns a decision into headers.

use serde::{Deserialize, Serialize};

/// Rules per configuration, as S3 allows.
pub const MAX_RULES: usize = 100;
/// The methods a rule may allow (S3's list).
pub const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// A bucket's CORS rules, in the order given: the first that matches decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    /// The rules.
    pub rules: Vec<CorsRule>,
}

/// One rule: which origins may send which requests, and what the browser may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// Its `ID`, if given.
    pub id: Option<String>,
    /// `AllowedOrigin`s, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// `AllowedMethod`s (of [`METHODS`]).
    pub allowed_methods: Vec<String>,
    /// `AllowedHeader`s a preflight may ask for, each with at most one `*` (case-insensitive).
    pub allowed_headers: Vec<String>,
    /// `ExposeHeader`s: response headers the browser's script may read.
    pub expose_headers: Vec<String>,
    /// `MaxAgeSeconds`: how long a browser may cache the preflight's answer.
    pub max_age_secs: Option<u32>,
}

/// Why a configuration was refused (400 InvalidRequest, or MalformedXML for its shape).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCors(pub String);

/// `pattern` with at most one `*` standing for any run of characters, against `value`.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len() && value.starts_with(head) && value.ends_with(tail)
        }
    }
}

impl CorsConfig {
    /// The checks S3 makes on PutBucketCors beyond the XML's shape.
    pub fn validate(&self) -> Result<(), InvalidCors> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(InvalidCors(format!("A CORS configuration holds between 1 and {MAX_RULES} rules")));
        }
        for r in &self.rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(InvalidCors("Each CORSRule needs an AllowedOrigin and an AllowedMethod".into()));
            }
            if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(InvalidCors(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
            if let Some(o) = r.allowed_origins.iter().find(|o| o.matches('*').count() > 1) {
                return Err(InvalidCors(format!("AllowedOrigin \"{o}\" can not have more than one wildcard.")));
            }
            if let Some(h) = r.allowed_headers.iter().find(|h| h.matches('*').count() > 1) {
                return Err(InvalidCors(format!("AllowedHeader \"{h}\" can not have more than one wildcard.")));
            }
        }
        Ok(())
    }

    /// The rule that allows a preflight from `origin` for `method` with `headers` (the
    /// `Access-Control-Request-Headers`, each allowed by one of the rule's `AllowedHeader`s).
    pub fn preflight(&self, origin: &str, method: &str, headers: &[&str]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allows(origin, method)
                && headers.iter().all(|h| {
                    let h = h.to_ascii_lowercase();
                    r.allowed_headers.iter().any(|p| wildcard_match(&p.to_ascii_lowercase(), &h))
                })
        })
    }

    /// The rule that applies to an actual request from `origin` with `method`.
    pub fn actual(&self, origin: &str, method: &str) -> Option<&CorsRule> {
        self.rules.iter().find(|r| r.allows(origin, method))
    }
}

impl CorsRule {
    fn allows(&self, origin: &str, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
            && self.allowed_origins.iter().any(|o| wildcard_match(o, origin))
    }

    /// Whether it allows every origin (`*`): S3 then answers `Access-Control-Allow-Origin: *`
    /// and no credentials, else it echoes the origin.
    pub fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            ..CorsRule::default()
        }
    }

    #[test]
    fn origins_match_with_one_wildcard() {
        assert!(wildcard_match("https://*.example.eu", "https://app.example.eu"));
        assert!(!wildcard_match("https://*.example.eu", "https://example.eu"));
        assert!(!wildcard_match("https://*.example.eu", "http://app.example.eu"));
        assert!(wildcard_match("*", "null"));
        assert!(wildcard_match("http://localhost:8080", "http://localhost:8080"));
        assert!(!wildcard_match("http://localhost:8080", "http://localhost:8081"));
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let c = CorsConfig {
            rules: vec![
                rule(&["https://*.example.eu"], &["PUT", "POST"], &["content-type", "x-amz-*"]),
                rule(&["*"], &["GET"], &[]),
            ],
        };
        assert!(c.validate().is_ok());
        let put = c.preflight("https://app.example.eu", "PUT", &["Content-Type", "x-amz-date"]);
        assert_eq!(put.map(|r| r.allowed_methods.len()), Some(2));
        assert!(c.preflight("https://app.example.eu", "PUT", &["authorization"]).is_none(), "a header not allowed");
        assert!(c.preflight("https://evil.test", "PUT", &[]).is_none());
        assert!(c.preflight("https://evil.test", "GET", &[]).is_some_and(CorsRule::any_origin));
        assert!(c.actual("https://evil.test", "DELETE").is_none());
    }

    #[test]
    fn s3_refuses_these_configurations() {
        assert!(CorsConfig { rules: vec![] }.validate().is_err());
        assert!(CorsConfig { rules: vec![rule(&["*"], &["PATCH"], &[])] }.validate().is_err());
        assert!(CorsConfig { rules: vec![rule(&["https://*.*.eu"], &["GET"], &[])] }.validate().is_err());
        assert!(CorsConfig { rules: vec![rule(&[], &["GET"], &[])] }.validate().is_err());
    }
}
