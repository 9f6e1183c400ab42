//! Object versioning vocabulary (DESIGN §12.4): a bucket's versioning state and how a request
//! names a version.

use serde::{Deserialize, Serialize};

use super::VersionUid;

/// A bucket's versioning state. A bucket starts unversioned; once versioning was enabled it
/// can only be suspended, never unversioned again (as S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled: a key has one version, the `null` one.
    #[default]
    Unversioned,
    /// Every write makes a new version; a DELETE without a version id adds a delete marker.
    Enabled,
    /// Writes replace the `null` version; older versions stay.
    Suspended,
}

impl Versioning {
    /// The S3 spelling (`Enabled`, `Suspended`); `None` for an unversioned bucket, which S3
    /// shows without a status.
    pub fn s3_status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }

    /// Parses `Enabled` or `Suspended` (what PutBucketVersioning accepts).
    pub fn parse_status(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(Versioning::Enabled),
            "Suspended" => Some(Versioning::Suspended),
            _ => None,
        }
    }

    /// Writes in this state make `null` versions (that replace the key's earlier `null` one).
    pub fn writes_null(self) -> bool {
        self != Versioning::Enabled
    }
}

/// A version as a request names it: `versionId=null` or the id S3 answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionRef {
    /// The key's `null` version (made while versioning was off or suspended).
    Null,
    /// A version made while versioning was enabled, by its id.
    Id(VersionUid),
}

impl VersionRef {
    /// Parses a client's version id; `None` for anything the gateway never answered (S3 then
    /// says `InvalidArgument: Invalid version id specified`).
    pub fn parse(s: &str) -> Option<Self> {
        if s == "null" { Some(VersionRef::Null) } else { VersionUid::from_hex(s).map(VersionRef::Id) }
    }

    /// The id as S3 shows it.
    pub fn to_s3(self) -> String {
        match self {
            VersionRef::Null => "null".to_owned(),
            VersionRef::Id(uid) => uid.to_hex(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_round_trip_and_foreign_ids_are_refused() {
        let uid = VersionUid([0xab; 16]);
        assert_eq!(VersionRef::parse(&VersionRef::Id(uid).to_s3()), Some(VersionRef::Id(uid)));
        assert_eq!(VersionRef::parse("null"), Some(VersionRef::Null));
        assert_eq!(VersionRef::Null.to_s3(), "null");
        for bad in ["", "NULL", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", &"g".repeat(32), &"a".repeat(31)] {
            assert_eq!(VersionRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn statuses_are_spelled_as_s3_spells_them() {
        assert_eq!(Versioning::parse_status("Enabled"), Some(Versioning::Enabled));
        assert_eq!(Versioning::parse_status("Suspended"), Some(Versioning::Suspended));
        assert_eq!(Versioning::parse_status("enabled"), None);
        assert_eq!(Versioning::Unversioned.s3_status(), None);
        assert!(Versioning::Suspended.writes_null() && !Versioning::Enabled.writes_null());
    }
}
