//! Lifecycle rules (issue 23): a bucket's expiration rules and the pure decisions taken from
//! them, by the lifecycle worker (what to remove now) and by the responses (`x-amz-expiration`).
//! The caller gives the time and the length of a day: 86 400 s, shorter only where tests ask
//! for it (as Ceph RGW's `rgw_lc_debug_interval`), so a rule of one day runs in a second.

use serde::{Deserialize, Serialize};

use super::tagging::{MAX_BUCKET_TAGS, TagSet};

/// Rules per configuration, as S3 allows.
pub const MAX_RULES: usize = 1000;
/// Characters of a rule id, as S3 allows.
pub const MAX_RULE_ID: usize = 255;

/// A bucket's lifecycle configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    /// Its rules, in the order given.
    pub rules: Vec<LifecycleRule>,
}

/// One rule: which objects, and what happens to them when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// Its id (S3 makes one up when the client gives none; so does the gateway).
    pub id: String,
    /// `Status: Enabled` (a disabled rule is kept and shown, never applied).
    pub enabled: bool,
    /// Which objects it applies to.
    pub filter: RuleFilter,
    /// What happens to current versions (or to delete markers left alone).
    pub expiration: Option<Expiration>,
    /// What happens to noncurrent versions.
    pub noncurrent: Option<NoncurrentExpiration>,
    /// Unfinished multipart uploads are aborted this many days after they started.
    pub abort_upload_after_days: Option<u32>,
}

/// The objects a rule applies to: all of these hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleFilter {
    /// The key starts with it.
    pub prefix: String,
    /// The size is strictly greater (`ObjectSizeGreaterThan`).
    pub size_greater_than: Option<u64>,
    /// The size is strictly less (`ObjectSizeLessThan`).
    pub size_less_than: Option<u64>,
    /// The object carries every one of these tags with this value (`Tag`, `And`'s `Tag`s).
    /// Absent from configurations logged before tagging, hence the default.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A version a rule may apply to.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its key.
    pub key: &'a str,
    /// Its size.
    pub size: u64,
    /// Its tags.
    pub tags: &'a TagSet,
}

impl RuleFilter {
    fn matches(&self, c: &Candidate<'_>) -> bool {
        c.key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|min| c.size > min)
            && self.size_less_than.is_none_or(|max| c.size < max)
            && self.tags.iter().all(|(k, v)| c.tags.get(k) == Some(v.as_str()))
    }
}

/// When current versions expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// This many days after the version was written (rounded up to the next midnight UTC); a
    /// delete marker left as its key's only version goes once it is that old too.
    Days(u32),
    /// On this date (midnight UTC, ms since the epoch) for every matching version.
    Date(i64),
    /// `ExpiredObjectDeleteMarker`: only delete markers left as their key's only version, at once.
    ExpiredDeleteMarker,
}

/// When noncurrent versions expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// Days after a version became noncurrent (a newer version was written).
    pub days: u32,
    /// `NewerNoncurrentVersions`: this many of the newest noncurrent versions are kept anyway.
    pub newer_noncurrent: Option<u32>,
}

/// The length of a lifecycle day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayLength(i64);

impl DayLength {
    /// A day of 86 400 s.
    pub const REAL: DayLength = DayLength(86_400_000);

    /// A day of `ms` milliseconds (at least one).
    pub fn of_ms(ms: i64) -> Self {
        DayLength(ms.max(1))
    }

    /// `days` days after `start_ms`, rounded up to the next day boundary (midnight UTC for
    /// real days), as S3 counts lifecycle days.
    pub fn after(self, start_ms: i64, days: u32) -> i64 {
        let end = start_ms.saturating_add(self.0.saturating_mul(i64::from(days)));
        let rem = end.rem_euclid(self.0);
        if rem == 0 { end } else { end.saturating_add(self.0 - rem) }
    }
}

/// A configuration S3 would refuse, with S3's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidLifecycle(pub &'static str);

impl LifecycleConfig {
    /// The checks S3 makes on PutBucketLifecycleConfiguration beyond the XML's shape.
    pub fn validate(&self) -> Result<(), InvalidLifecycle> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(InvalidLifecycle("A lifecycle configuration holds between 1 and 1000 rules"));
        }
        let mut ids = std::collections::HashSet::new();
        for r in &self.rules {
            if r.id.is_empty() || r.id.chars().count() > MAX_RULE_ID {
                return Err(InvalidLifecycle("ID length should not exceed allowed limit of 255"));
            }
            if !ids.insert(r.id.as_str()) {
                return Err(InvalidLifecycle("Rule ID must be unique. Found same ID for more than one rule"));
            }
            r.validate()?;
        }
        Ok(())
    }

    fn applying(&self) -> impl Iterator<Item = &LifecycleRule> {
        self.rules.iter().filter(|r| r.enabled)
    }

    /// When the current version `c` (written at `written_ms`) expires, and by which rule: the
    /// earliest of the rules that expire it (`x-amz-expiration`).
    pub fn current_expiry(&self, c: &Candidate<'_>, written_ms: i64, day: DayLength) -> Option<(i64, &str)> {
        self.applying()
            .filter(|r| r.filter.matches(c))
            .filter_map(|r| {
                let at = match r.expiration? {
                    Expiration::Days(d) => day.after(written_ms, d),
                    Expiration::Date(ms) => ms,
                    Expiration::ExpiredDeleteMarker => return None,
                };
                Some((at, r.id.as_str()))
            })
            .min_by_key(|(at, _)| *at)
    }

    /// Whether a delete marker written at `marker_ms`, its key's only version, goes at `now_ms`:
    /// at once under `ExpiredObjectDeleteMarker`, once as old as the days of an `Expiration`
    /// in days (as S3 does). Delete markers have no size: size filters do not exclude them; nor
    /// tags, so a rule filtering on tags never matches one.
    pub fn removes_sole_marker(&self, key: &str, marker_ms: i64, now_ms: i64, day: DayLength) -> bool {
        let mut rules = self.applying().filter(|r| r.filter.tags.is_empty() && key.starts_with(&r.filter.prefix));
        rules.any(|r| match r.expiration {
            Some(Expiration::ExpiredDeleteMarker) => true,
            Some(Expiration::Days(d)) => day.after(marker_ms, d) <= now_ms,
            _ => false,
        })
    }

    /// Whether the noncurrent version `c` goes at `now_ms`: noncurrent since `since_ms` (when
    /// the next newer version was written), with `newer` noncurrent versions newer than it.
    pub fn noncurrent_due(&self, c: &Candidate<'_>, since_ms: i64, newer: u64, now_ms: i64, day: DayLength) -> bool {
        self.applying().filter(|r| r.filter.matches(c)).any(|r| {
            r.noncurrent.is_some_and(|n| {
                newer >= u64::from(n.newer_noncurrent.unwrap_or(0)) && day.after(since_ms, n.days) <= now_ms
            })
        })
    }

    /// Whether an unfinished multipart upload of `key` begun at `initiated_ms` is aborted at
    /// `now_ms` (an upload has no size yet: only the prefix counts).
    pub fn upload_due(&self, key: &str, initiated_ms: i64, now_ms: i64, day: DayLength) -> bool {
        self.applying()
            .filter(|r| key.starts_with(&r.filter.prefix))
            .any(|r| r.abort_upload_after_days.is_some_and(|d| day.after(initiated_ms, d) <= now_ms))
    }

    /// Whether any enabled rule aborts uploads (the worker walks them only then).
    pub fn aborts_uploads(&self) -> bool {
        self.applying().any(|r| r.abort_upload_after_days.is_some())
    }

    /// Whether any rule is enabled.
    pub fn applies(&self) -> bool {
        self.applying().next().is_some()
    }
}

impl LifecycleRule {
    fn validate(&self) -> Result<(), InvalidLifecycle> {
        if self.expiration.is_none() && self.noncurrent.is_none() && self.abort_upload_after_days.is_none() {
            return Err(InvalidLifecycle("At least one action needs to be specified in a rule"));
        }
        if matches!(self.expiration, Some(Expiration::Days(0))) {
            return Err(InvalidLifecycle("'Days' for Expiration action must be a positive integer"));
        }
        if matches!(self.expiration, Some(Expiration::Date(ms)) if ms.rem_euclid(DayLength::REAL.0) != 0) {
            return Err(InvalidLifecycle("'Date' must be at midnight GMT"));
        }
        if self.noncurrent.is_some_and(|n| n.days == 0) {
            return Err(InvalidLifecycle(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ));
        }
        if self.abort_upload_after_days == Some(0) {
            return Err(InvalidLifecycle(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            ));
        }
        if let (Some(min), Some(max)) = (self.filter.size_greater_than, self.filter.size_less_than)
            && min >= max
        {
            return Err(InvalidLifecycle("ObjectSizeGreaterThan must be less than ObjectSizeLessThan"));
        }
        if (self.filter.size_greater_than.is_some() || self.filter.size_less_than.is_some())
            && self.abort_upload_after_days.is_some()
        {
            return Err(InvalidLifecycle(
                "AbortIncompleteMultipartUpload cannot be specified with an object size filter",
            ));
        }
        if !self.filter.tags.is_empty() && self.abort_upload_after_days.is_some() {
            return Err(InvalidLifecycle("Tag-based filter cannot be used with AbortIncompleteMultipartUpload action"));
        }
        if !self.filter.tags.is_empty() && self.expiration == Some(Expiration::ExpiredDeleteMarker) {
            return Err(InvalidLifecycle("ExpiredObjectDeleteMarker cannot be specified with tag filters"));
        }
        if TagSet::new(self.filter.tags.clone(), MAX_BUCKET_TAGS).is_err() {
            return Err(InvalidLifecycle("The TagKey or TagValue you have provided is invalid"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            filter: RuleFilter::default(),
            expiration: None,
            noncurrent: None,
            abort_upload_after_days: None,
        }
    }

    fn config(rules: Vec<LifecycleRule>) -> LifecycleConfig {
        LifecycleConfig { rules }
    }

    static NO_TAGS: std::sync::LazyLock<TagSet> = std::sync::LazyLock::new(TagSet::default);

    fn at(key: &str, size: u64) -> Candidate<'_> {
        Candidate { key, size, tags: &NO_TAGS }
    }

    #[test]
    fn tag_filters_need_every_tag_and_never_match_markers() {
        let mut r = rule("tagged");
        r.expiration = Some(Expiration::Days(1));
        r.filter.tags = vec![("class".into(), "temp".into()), ("team".into(), "blue".into())];
        let c = config(vec![r]);
        let both = TagSet::new(vec![("team".into(), "blue".into()), ("class".into(), "temp".into())], 10).unwrap();
        let one = TagSet::new(vec![("class".into(), "temp".into())], 10).unwrap();
        let wrong = TagSet::new(vec![("class".into(), "keep".into()), ("team".into(), "blue".into())], 10).unwrap();
        let with = |tags| Candidate { key: "k", size: 1, tags };
        assert!(c.current_expiry(&with(&both), 0, DayLength::REAL).is_some(), "every tag, in any order");
        assert!(c.current_expiry(&with(&one), 0, DayLength::REAL).is_none(), "one tag missing");
        assert!(c.current_expiry(&with(&wrong), 0, DayLength::REAL).is_none(), "a value differs");
        assert!(!c.removes_sole_marker("k", 0, 10 * DAY, DayLength::REAL), "markers have no tags");
        let mut abort = rule("abort");
        abort.abort_upload_after_days = Some(1);
        abort.filter.tags = vec![("a".into(), "b".into())];
        assert!(abort.validate().is_err(), "uploads have no tags yet");
    }

    #[test]
    fn days_round_up_to_the_next_midnight() {
        // Written 2014-01-15 10:30 UTC, three days: expires 2014-01-19 00:00 UTC (S3's example).
        let written = 1_389_781_800_000;
        assert_eq!(DayLength::REAL.after(written, 3), 1_390_089_600_000);
        // Exactly at midnight it stays there.
        assert_eq!(DayLength::REAL.after(20 * DAY, 1), 21 * DAY);
        // A one-second test day.
        assert_eq!(DayLength::of_ms(1000).after(1500, 1), 3000);
    }

    #[test]
    fn the_earliest_matching_rule_names_the_expiry() {
        let mut late = rule("late");
        late.expiration = Some(Expiration::Days(30));
        let mut early = rule("early");
        early.expiration = Some(Expiration::Days(2));
        early.filter.prefix = "logs/".into();
        let mut off = rule("off");
        off.expiration = Some(Expiration::Days(1));
        off.enabled = false;
        let c = config(vec![late, early, off]);
        assert_eq!(c.current_expiry(&at("logs/a", 1), 0, DayLength::REAL), Some((2 * DAY, "early")));
        assert_eq!(c.current_expiry(&at("data/a", 1), 0, DayLength::REAL), Some((30 * DAY, "late")));
    }

    #[test]
    fn size_filters_are_strict() {
        let mut r = rule("sized");
        r.expiration = Some(Expiration::Days(1));
        r.filter.size_greater_than = Some(10);
        r.filter.size_less_than = Some(20);
        let c = config(vec![r]);
        assert!(c.current_expiry(&at("k", 10), 0, DayLength::REAL).is_none());
        assert!(c.current_expiry(&at("k", 11), 0, DayLength::REAL).is_some());
        assert!(c.current_expiry(&at("k", 20), 0, DayLength::REAL).is_none());
    }

    #[test]
    fn sole_delete_markers_go_at_once_or_when_old_enough() {
        let mut m = rule("markers");
        m.expiration = Some(Expiration::ExpiredDeleteMarker);
        m.filter.prefix = "a/".into();
        let mut d = rule("days");
        d.expiration = Some(Expiration::Days(2));
        let c = config(vec![m, d]);
        assert!(c.removes_sole_marker("a/k", 0, 1, DayLength::REAL));
        assert!(!c.removes_sole_marker("b/k", 0, DAY, DayLength::REAL));
        assert!(c.removes_sole_marker("b/k", 0, 2 * DAY, DayLength::REAL));
    }

    #[test]
    fn noncurrent_versions_keep_the_newest_asked_for() {
        let mut r = rule("nc");
        r.noncurrent = Some(NoncurrentExpiration { days: 1, newer_noncurrent: Some(2) });
        let c = config(vec![r]);
        assert!(!c.noncurrent_due(&at("k", 1), 0, 1, DAY, DayLength::REAL), "one of the two newest kept");
        assert!(c.noncurrent_due(&at("k", 1), 0, 2, DAY, DayLength::REAL));
        assert!(!c.noncurrent_due(&at("k", 1), 1, 2, DAY, DayLength::REAL), "not yet a day noncurrent");
    }

    #[test]
    fn uploads_are_aborted_after_their_days() {
        let mut r = rule("mpu");
        r.abort_upload_after_days = Some(1);
        let c = config(vec![r]);
        assert!(c.aborts_uploads());
        // Begun just after midnight: a day later, rounded up to the next midnight.
        assert!(!c.upload_due("k", 5, 2 * DAY - 1, DayLength::REAL));
        assert!(c.upload_due("k", 5, 2 * DAY, DayLength::REAL));
    }

    #[test]
    fn validation_follows_s3() {
        let mut ok = rule("a");
        ok.expiration = Some(Expiration::Days(1));
        assert!(config(vec![ok.clone()]).validate().is_ok());
        assert!(config(vec![ok.clone(), ok.clone()]).validate().is_err(), "duplicate ids");
        assert!(config(vec![rule("empty")]).validate().is_err(), "no action");
        let mut zero = ok.clone();
        zero.expiration = Some(Expiration::Days(0));
        assert!(config(vec![zero]).validate().is_err());
        let mut noon = ok.clone();
        noon.expiration = Some(Expiration::Date(DAY / 2));
        assert!(config(vec![noon]).validate().is_err());
        let mut sized = ok;
        sized.filter.size_greater_than = Some(5);
        sized.filter.size_less_than = Some(5);
        assert!(config(vec![sized]).validate().is_err());
    }
}
