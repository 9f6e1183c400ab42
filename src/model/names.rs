//! Bucket names and object keys, validated once at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The bucket name breaks the S3 naming rules; the text says which.
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(&'static str),
    /// The key is longer than 1,024 bytes.
    #[error("object key longer than 1024 bytes")]
    KeyTooLong,
    /// The key is empty.
    #[error("object key is empty")]
    EmptyKey,
    /// The key holds a character XML 1.0 cannot carry (NUL and the other control characters
    /// but tab, line feed and carriage return; U+FFFE, U+FFFF).
    #[error("object key contains a character XML 1.0 cannot carry (U+{0:04X})")]
    KeyNotXml(u32),
}

/// A bucket name that follows the S3 general-purpose naming rules.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BucketName(String);

impl BucketName {
    /// Validates `name` against the S3 rules: 3–63 characters of `a-z 0-9 . -`, starting and
    /// ending with a letter or digit, no `..`, not shaped like an IP address, none of the
    /// reserved prefixes or suffixes.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        use NameError::InvalidBucketName as Bad;
        const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
        const SUFFIXES: [&str; 3] = ["-s3alias", "--ol-s3", "--x-s3"];
        if !(3..=63).contains(&name.len()) {
            return Err(Bad("length must be between 3 and 63"));
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
            return Err(Bad("only lowercase letters, digits, '.' and '-' are allowed"));
        }
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let bytes = name.as_bytes();
        if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
            return Err(Bad("must begin and end with a letter or digit"));
        }
        if name.contains("..") || name.contains(".-") || name.contains("-.") {
            return Err(Bad("adjacent periods or period-dash are not allowed"));
        }
        if name.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(Bad("must not be formatted as an IP address"));
        }
        if PREFIXES.iter().any(|p| name.starts_with(p)) || SUFFIXES.iter().any(|s| name.ends_with(s)) {
            return Err(Bad("reserved prefix or suffix"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's bytes (how stores key it).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketName({})", self.0)
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object key: 1 to 1,024 bytes of UTF-8. Never logged and never sent to a provider.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey(String);

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

impl ObjectKey {
    /// Validates the key length (any existing key can be read and deleted).
    pub fn parse(key: &str) -> Result<Self, NameError> {
        if key.is_empty() {
            return Err(NameError::EmptyKey);
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(NameError::KeyTooLong);
        }
        Ok(Self(key.to_owned()))
    }

    /// Validates the key of an object being created: its length, and only characters XML 1.0
    /// can carry. S3 itself accepts control characters, but one such key makes the bucket's
    /// XML listing unreadable for every client that does not ask for `encoding-type=url`.
    pub fn parse_new(key: &str) -> Result<Self, NameError> {
        let parsed = Self::parse(key)?;
        match key.chars().find(|&c| !xml_char(c)) {
            Some(c) => Err(NameError::KeyNotXml(u32::from(c))),
            None => Ok(parsed),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's bytes (how stores key it).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for ObjectKey {
    // Keys are user data: debug output shows only the length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey(<{} bytes>)", self.0.len())
    }
}

/// A character of the XML 1.0 `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_rules() {
        for ok in ["abc", "my-bucket.1", "a1b2c3"] {
            assert!(BucketName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "Abc", "a_b", "-ab", "ab-", "a..b", "192.168.1.1", "xn--abc", "abc-s3alias"] {
            assert!(BucketName::parse(bad).is_err(), "{bad}");
        }
        assert!(BucketName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn key_length_limit() {
        assert!(ObjectKey::parse(&"k".repeat(1024)).is_ok());
        assert_eq!(ObjectKey::parse(&"k".repeat(1025)), Err(NameError::KeyTooLong));
        assert_eq!(ObjectKey::parse(""), Err(NameError::EmptyKey));
    }

    #[test]
    fn keys_carry_only_xml_characters() {
        for ok in ["a\tb\nc\rd", "../x", "日本/🦀", "\u{FFFD}"] {
            assert!(ObjectKey::parse_new(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(ObjectKey::parse_new("a\0b"), Err(NameError::KeyNotXml(0)));
        assert_eq!(ObjectKey::parse_new("a\u{1b}b"), Err(NameError::KeyNotXml(0x1b)));
        assert_eq!(ObjectKey::parse_new("\u{FFFF}"), Err(NameError::KeyNotXml(0xFFFF)));
        assert!(ObjectKey::parse("a\0b").is_ok(), "an existing key stays readable and deletable");
    }
}

/// Decodes `%XX` escapes (and, with `plus_as_space`, `+` as a space, as in form encoding);
/// `None` for a bad escape or a result that is not UTF-8.
pub fn percent_decode(s: &str, plus_as_space: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod percent_tests {
    use super::percent_decode;

    #[test]
    fn escapes_and_plus() {
        assert_eq!(percent_decode("a%20b%2Bc+d", false).as_deref(), Some("a b+c+d"));
        assert_eq!(percent_decode("a%20b%2Bc+d", true).as_deref(), Some("a b+c d"));
        assert_eq!(percent_decode("%C3%A9", false).as_deref(), Some("é"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%FF", false), None);
    }
}
