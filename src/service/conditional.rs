//! Conditional requests, evaluated on metadata before any provider I/O (RFC 9110 §13.2.2, as
//! AWS S3 applies it).

use crate::error::{ErrorKind, Result};
use crate::model::ETag;

/// The conditional headers of a read, or the `x-amz-copy-source-if-*` of a copy.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// If-Match: the ETag, or `*`.
    pub if_match: Option<String>,
    /// If-None-Match: the ETag, or `*`.
    pub if_none_match: Option<String>,
    /// If-Modified-Since, seconds since the epoch.
    pub if_modified_since: Option<i64>,
    /// If-Unmodified-Since, seconds since the epoch.
    pub if_unmodified_since: Option<i64>,
}

fn tag_matches(cond: &str, etag: &ETag) -> bool {
    cond.split(',').any(|c| {
        let c = c.trim();
        c == "*" || etag.matches(c.trim_start_matches("W/"))
    })
}

impl Conditions {
    /// GET/HEAD: 412 for a failed If-Match or If-Unmodified-Since, 304 for a failed
    /// If-None-Match or If-Modified-Since. A true If-Match overrides If-Unmodified-Since; a
    /// present If-None-Match overrides If-Modified-Since.
    pub fn check_read(&self, etag: &ETag, last_modified_ms: i64) -> Result<()> {
        let modified = last_modified_ms.div_euclid(1000);
        match &self.if_match {
            Some(m) if !tag_matches(m, etag) => return Err(ErrorKind::PreconditionFailed.into()),
            Some(_) => {}
            None => {
                if self.if_unmodified_since.is_some_and(|t| modified > t) {
                    return Err(ErrorKind::PreconditionFailed.into());
                }
            }
        }
        let not_modified = || ErrorKind::NotModified { etag: etag.quoted(), last_modified_ms }.into();
        match &self.if_none_match {
            Some(m) if tag_matches(m, etag) => Err(not_modified()),
            // If-Modified-Since counts only without If-None-Match (RFC 9110 §13.1.3).
            None if self.if_modified_since.is_some_and(|t| modified <= t) => Err(not_modified()),
            Some(_) | None => Ok(()),
        }
    }

    /// CopyObject / UploadPartCopy source conditions: every failure is 412, with the same
    /// precedence as reads (a true if-match overrides if-unmodified-since; a true
    /// if-none-match overrides if-modified-since).
    pub fn check_copy_source(&self, etag: &ETag, last_modified_ms: i64) -> Result<()> {
        match self.check_read(etag, last_modified_ms) {
            Err(e) if matches!(e.kind(), ErrorKind::NotModified { .. }) => Err(ErrorKind::PreconditionFailed.into()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond() -> Conditions {
        Conditions::default()
    }

    #[test]
    fn precedence_follows_rfc9110() {
        let etag = ETag("abc".into());
        let lm = 10_000; // 10 s
        let mut c = cond();
        c.if_match = Some("\"abc\"".into());
        c.if_unmodified_since = Some(5);
        assert!(c.check_read(&etag, lm).is_ok(), "true If-Match wins over false If-Unmodified-Since");
        let mut c = cond();
        c.if_none_match = Some("\"abc\"".into());
        c.if_modified_since = Some(5);
        assert!(matches!(c.check_read(&etag, lm).unwrap_err().kind(), ErrorKind::NotModified { .. }));
        let mut c = cond();
        c.if_none_match = Some("\"zzz\"".into());
        c.if_modified_since = Some(20);
        assert!(c.check_read(&etag, lm).is_ok(), "a present If-None-Match overrides If-Modified-Since");
        let mut c = cond();
        c.if_match = Some("\"zzz\"".into());
        assert!(matches!(c.check_read(&etag, lm).unwrap_err().kind(), ErrorKind::PreconditionFailed));
        let mut c = cond();
        c.if_modified_since = Some(10);
        assert!(matches!(c.check_read(&etag, lm).unwrap_err().kind(), ErrorKind::NotModified { .. }));
    }
}
