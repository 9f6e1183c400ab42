//! Object Lock (DESIGN §12.4): a version's retention and legal hold, a bucket's default
//! retention, and the one decision every path that would remove or shorten them asks,
//! [`may_remove`] and [`may_set_retention`]. Pure: the caller gives the time.

use serde::{Deserialize, Serialize};

/// How strictly a retention holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetentionMode {
    /// Removable or shortened before its date only by a principal allowed to bypass
    /// governance retention who asks to (`x-amz-bypass-governance-retention: true`).
    Governance,
    /// Nobody removes the version or shortens its retention before the date, the admin neither.
    Compliance,
}

impl RetentionMode {
    /// The S3 spelling.
    pub fn as_s3(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }

    /// Parses the S3 spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(RetentionMode::Governance),
            "COMPLIANCE" => Some(RetentionMode::Compliance),
            _ => None,
        }
    }
}

/// A version's retention: its mode and the time it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Governance or compliance.
    pub mode: RetentionMode,
    /// Retain until, ms since the epoch.
    pub until_ms: i64,
}

/// What protects one version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionLock {
    /// Its retention, if one was set (it may have ended).
    pub retention: Option<Retention>,
    /// A legal hold: no removal while it is on, whatever the retention.
    pub legal_hold: bool,
}

impl VersionLock {
    /// A retention that has not ended at `now_ms`.
    pub fn active_retention(&self, now_ms: i64) -> Option<Retention> {
        self.retention.filter(|r| r.until_ms > now_ms)
    }

    /// Anything still protects the version at `now_ms`.
    pub fn protects(&self, now_ms: i64) -> bool {
        self.legal_hold || self.active_retention(now_ms).is_some()
    }
}

/// A bucket's default retention, applied to each new version that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// Governance or compliance.
    pub mode: RetentionMode,
    /// How long, in days (S3's years are 365 days each, as AWS counts them).
    pub days: u32,
}

/// A bucket's Object Lock configuration: present once Object Lock is enabled (never again
/// disabled), with its default retention if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    /// The default retention of new versions.
    pub default: Option<DefaultRetention>,
}

impl LockConfig {
    /// The retention a version written at `now_ms` gets when its request names none.
    pub fn default_for(&self, now_ms: i64) -> Option<Retention> {
        self.default.map(|d| Retention { mode: d.mode, until_ms: now_ms + i64::from(d.days) * 86_400_000 })
    }
}

/// A change of one version's Object Lock state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockChange {
    /// PutObjectRetention (`None`: the retention removed).
    Retention(Option<Retention>),
    /// PutObjectLegalHold.
    LegalHold(bool),
}

/// Why a removal or a retention change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LockDenial {
    /// A legal hold is on.
    #[error("the version is under a legal hold")]
    LegalHold,
    /// A compliance retention has not ended.
    #[error("the version is under compliance retention")]
    Compliance,
    /// A governance retention has not ended and bypass was not asked for (or not allowed).
    #[error("the version is under governance retention")]
    Governance,
}

/// Whether a version with `lock` may be removed at `now_ms`; `bypass`: the principal may
/// bypass governance retention and asked to. Every path that deletes a version's data asks.
pub fn may_remove(lock: &VersionLock, now_ms: i64, bypass: bool) -> Result<(), LockDenial> {
    if lock.legal_hold {
        return Err(LockDenial::LegalHold);
    }
    match lock.active_retention(now_ms) {
        Some(Retention { mode: RetentionMode::Compliance, .. }) => Err(LockDenial::Compliance),
        Some(Retention { mode: RetentionMode::Governance, .. }) if !bypass => Err(LockDenial::Governance),
        _ => Ok(()),
    }
}

/// Whether a version's retention may become `new` (`None`: removed) at `now_ms`: extending
/// is always allowed; shortening, removing or changing the mode of a retention that has not
/// ended only for governance with bypass, never for compliance.
pub fn may_set_retention(
    lock: &VersionLock,
    new: Option<Retention>,
    now_ms: i64,
    bypass: bool,
) -> Result<(), LockDenial> {
    let Some(current) = lock.active_retention(now_ms) else { return Ok(()) };
    let extends = new.is_some_and(|n| n.mode == current.mode && n.until_ms >= current.until_ms)
        || new.is_some_and(|n| {
            current.mode == RetentionMode::Governance
                && n.mode == RetentionMode::Compliance
                && n.until_ms >= current.until_ms
        });
    match current.mode {
        _ if extends => Ok(()),
        RetentionMode::Compliance => Err(LockDenial::Compliance),
        RetentionMode::Governance if bypass => Ok(()),
        RetentionMode::Governance => Err(LockDenial::Governance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    fn lock(mode: RetentionMode, until_ms: i64, legal_hold: bool) -> VersionLock {
        VersionLock { retention: Some(Retention { mode, until_ms }), legal_hold }
    }

    /// Promise: the removal matrix of docs/object-lock.md.
    #[test]
    fn removal_follows_mode_hold_time_and_bypass() {
        use RetentionMode::{Compliance, Governance};
        let cases = [
            (lock(Governance, NOW + 1, false), false, Err(LockDenial::Governance)),
            (lock(Governance, NOW + 1, false), true, Ok(())),
            (lock(Compliance, NOW + 1, false), true, Err(LockDenial::Compliance)),
            (lock(Compliance, NOW, false), false, Ok(())),
            (lock(Governance, NOW - 1, true), true, Err(LockDenial::LegalHold)),
            (VersionLock { retention: None, legal_hold: true }, true, Err(LockDenial::LegalHold)),
            (VersionLock::default(), false, Ok(())),
        ];
        for (l, bypass, want) in cases {
            assert_eq!(may_remove(&l, NOW, bypass), want, "{l:?} bypass={bypass}");
        }
    }

    /// Promise: a retention is extended by anyone, shortened only in governance with bypass,
    /// never in compliance; an ended one is replaced freely.
    #[test]
    fn retention_changes_follow_the_mode() {
        use RetentionMode::{Compliance, Governance};
        let r = |mode, until_ms| Some(Retention { mode, until_ms });
        let gov = lock(Governance, NOW + 100, false);
        let comp = lock(Compliance, NOW + 100, false);
        assert_eq!(may_set_retention(&gov, r(Governance, NOW + 200), NOW, false), Ok(()));
        assert_eq!(may_set_retention(&gov, r(Compliance, NOW + 100), NOW, false), Ok(()), "stricter");
        assert_eq!(may_set_retention(&gov, r(Governance, NOW + 50), NOW, false), Err(LockDenial::Governance));
        assert_eq!(may_set_retention(&gov, None, NOW, true), Ok(()));
        assert_eq!(may_set_retention(&comp, r(Compliance, NOW + 200), NOW, false), Ok(()));
        assert_eq!(may_set_retention(&comp, r(Compliance, NOW + 50), NOW, true), Err(LockDenial::Compliance));
        assert_eq!(may_set_retention(&comp, r(Governance, NOW + 500), NOW, true), Err(LockDenial::Compliance));
        assert_eq!(may_set_retention(&comp, None, NOW + 100, false), Ok(()), "ended");
    }
}
