//! Who may do what: user names, per-bucket permissions, and the stored records of users and
//! their access keys (docs/access-control.md).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::WrappedKey;

/// Why a user name or a permission list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessNameError {
    /// The user name breaks the rules; the text says which.
    #[error("invalid user name: {0}")]
    UserName(&'static str),
    /// A permission other than read, write, owner.
    #[error("unknown permission {0:?} (expected read, write or owner)")]
    Permission(String),
    /// An admin role other than the five.
    #[error("unknown role {0:?} (expected viewer, residency, keys, users or admin)")]
    Role(String),
}

/// A user's name: 1–64 characters of `A-Z a-z 0-9 . _ @ + = , -` (as IAM user names), so
/// it can appear in a path segment, a log line and a policy's principal unescaped.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserName(String);

impl UserName {
    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self, AccessNameError> {
        if name.is_empty() || name.len() > 64 {
            return Err(AccessNameError::UserName("length must be between 1 and 64"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@+=,-".contains(&b)) {
            return Err(AccessNameError::UserName("only letters, digits and . _ @ + = , - are allowed"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserName({})", self.0)
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do in one bucket, in the style of Garage: `read` (GET, HEAD, listings),
/// `write` (PUT, multipart, copy destination, DELETE), `owner` (bucket settings, deleting the
/// bucket). They do not imply each other: an owner who should also read is granted both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perms {
    /// GET, HEAD, listings.
    pub read: bool,
    /// PUT, multipart, copy destination, DELETE.
    pub write: bool,
    /// Bucket settings, the bucket's deletion.
    pub owner: bool,
}

impl Perms {
    /// Everything (a bucket's creator).
    pub const ALL: Perms = Perms { read: true, write: true, owner: true };

    /// `read,write,owner` in any order and case, comma or space separated; `none` or empty
    /// for no permission.
    pub fn parse(text: &str) -> Result<Self, AccessNameError> {
        let mut out = Perms::default();
        for word in text.split([',', ' ']).map(str::trim).filter(|w| !w.is_empty()) {
            match word.to_ascii_lowercase().as_str() {
                "read" => out.read = true,
                "write" => out.write = true,
                "owner" => out.owner = true,
                "none" => {}
                _ => return Err(AccessNameError::Permission(word.to_owned())),
            }
        }
        Ok(out)
    }

    /// Both sets together.
    pub fn union(self, other: Perms) -> Perms {
        Perms { read: self.read || other.read, write: self.write || other.write, owner: self.owner || other.owner }
    }

    /// What is in `self` but not in `other`.
    pub fn without(self, other: Perms) -> Perms {
        Perms { read: self.read && !other.read, write: self.write && !other.write, owner: self.owner && !other.owner }
    }

    /// No permission at all.
    pub fn is_empty(self) -> bool {
        !(self.read || self.write || self.owner)
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = [(self.read, "read"), (self.write, "write"), (self.owner, "owner")]
            .into_iter()
            .filter_map(|(on, w)| on.then_some(w))
            .collect();
        f.write_str(if words.is_empty() { "none" } else { "" })?;
        f.write_str(&words.join(","))
    }
}

/// What a user may do beyond the buckets granted to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCaps {
    /// May create buckets (and becomes their owner).
    pub create_buckets: bool,
    /// The residency policies their new buckets may use; `None` for any.
    pub policies: Option<Vec<String>>,
}

/// A user, as the admin API created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The name.
    pub name: UserName,
    /// A longer name for people.
    pub display_name: Option<String>,
    /// What they may do beyond their grants.
    pub caps: UserCaps,
    /// Created, ms since the epoch.
    pub created_ms: i64,
}

/// An access key of a user. Its secret is needed to check SigV4 signatures, so it cannot be
/// hashed: it is derived from a random key wrapped under the default KEK, bound to the key id
/// (`keys::access_secret`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    /// The access key id clients send.
    pub id: String,
    /// Whose key it is.
    pub user: UserName,
    /// A label (which application uses it).
    pub name: Option<String>,
    /// The wrapped key material the secret derives from.
    pub secret: WrappedKey,
    /// Created, ms since the epoch.
    pub created_ms: i64,
    /// Refused from this time on, ms since the epoch.
    pub expires_ms: Option<i64>,
    /// Refused while set.
    pub disabled: bool,
}

impl fmt::Debug for AccessKeyRecord {
    // The wrapped secret is no use without the KEK, but keep it out of logs all the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("name", &self.name)
            .field("created_ms", &self.created_ms)
            .field("expires_ms", &self.expires_ms)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl AccessKeyRecord {
    /// Whether the key is refused at `now_ms` (disabled, or expired).
    pub fn refused_at(&self, now_ms: i64) -> bool {
        self.disabled || self.expires_ms.is_some_and(|e| e <= now_ms)
    }
}

/// What an admin token may do through the admin API. Every role may read (`viewer`); each
/// other role may also change its part; `admin` may do everything, including managing tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Read only: health, locate, audit export, placement explain, jobs, the catalog.
    Viewer,
    /// The catalog, policies, bucket bindings.
    Residency,
    /// Key rotation, buckets' own KEKs, crypto-shredding.
    Keys,
    /// Users, access keys, grants.
    Users,
    /// Everything, and the admin tokens themselves.
    Admin,
}

impl AdminRole {
    /// `viewer`, `residency`, `keys`, `users` or `admin`.
    pub fn parse(text: &str) -> Result<Self, AccessNameError> {
        match text {
            "viewer" => Ok(Self::Viewer),
            "residency" => Ok(Self::Residency),
            "keys" => Ok(Self::Keys),
            "users" => Ok(Self::Users),
            "admin" => Ok(Self::Admin),
            other => Err(AccessNameError::Role(other.to_owned())),
        }
    }

    /// Its name, as [`Self::parse`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Residency => "residency",
            Self::Keys => "keys",
            Self::Users => "users",
            Self::Admin => "admin",
        }
    }
}

/// An admin token created through the admin API: only the SHA-256 of the token is kept (a
/// bearer secret of 256 random bits needs no slow hash: the hash cannot be reversed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTokenRecord {
    /// Its name: the audit log's actor for every change made with it.
    pub name: UserName,
    /// What it may do.
    pub role: AdminRole,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
    /// Created, ms since the epoch.
    pub created_ms: i64,
}

/// A console session as the store keeps it, under the SHA-256 of the secret its cookie holds:
/// whose admin token opened it (the token's SHA-256, so a deleted token ends it) and when.
/// Not logged to the providers and not rebuilt: a lost store logs everyone out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// SHA-256 of the admin token that logged in.
    pub token_sha256: [u8; 32],
    /// Login time, seconds since the epoch.
    pub issued_secs: u64,
}

/// A bucket's public access block, with AWS's four settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools, reason = "AWS's four independent settings, named as AWS names them")]
pub struct PublicAccessBlock {
    /// Refuse public ACLs (public ACLs are not supported at all: kept and reported).
    pub block_public_acls: bool,
    /// Ignore public ACLs (as above).
    pub ignore_public_acls: bool,
    /// Refuse storing a public bucket policy.
    pub block_public_policy: bool,
    /// Statements for anyone allow no anonymous request.
    pub restrict_public_buckets: bool,
}

/// The SHA-256 of an admin token, as kept and compared.
pub fn token_sha256(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_follow_the_iam_alphabet() {
        assert!(UserName::parse("team-a.backup@example").is_ok());
        for bad in ["", "has space", "slash/", "ü", &"x".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn permissions_parse_and_print() {
        assert_eq!(Perms::parse("read,WRITE").unwrap(), Perms { read: true, write: true, owner: false });
        assert_eq!(Perms::parse("owner read write").unwrap(), Perms::ALL);
        assert_eq!(Perms::parse("none").unwrap(), Perms::default());
        assert!(Perms::parse("admin").is_err());
        assert_eq!(Perms::ALL.to_string(), "read,write,owner");
        assert_eq!(Perms::default().to_string(), "none");
        assert_eq!(Perms::ALL.without(Perms::parse("write").unwrap()).to_string(), "read,owner");
    }
}
