//! Object and bucket tags: S3's limits and character rules, checked once when a tag set is
//! made, so every stored set is one S3 would accept.

use serde::{Deserialize, Serialize};

/// At most 10 tags on an object (S3 "Categorizing your storage using tags"); buckets may have
/// 50.
pub const MAX_OBJECT_TAGS: usize = 10;
/// At most 50 tags on a bucket.
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// Why a tag set was refused (answered 400 InvalidTag).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// More tags than allowed.
    #[error("Object tags cannot be greater than {0}")]
    TooMany(usize),
    /// An empty key or one longer than 128 characters.
    #[error("The TagKey you have provided is invalid")]
    KeyLength,
    /// A value longer than 256 characters.
    #[error("The TagValue you have provided is invalid")]
    ValueLength,
    /// A character outside letters, digits, spaces and `+ - = . _ : / @`.
    #[error("The TagKey or TagValue you have provided contains invalid characters")]
    Characters,
    /// The same key twice.
    #[error("Cannot provide multiple Tags with the same key")]
    Duplicate,
    /// A key in the `aws:` namespace, which S3 reserves for itself.
    #[error("Your TagKey cannot be prefixed with aws:")]
    Reserved,
    /// `x-amz-tagging` that is not a URL query string.
    #[error(
        "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
    )]
    Header,
}

/// A validated tag set, in the order the client gave it (S3 returns tags as set).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSet(Vec<(String, String)>);

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || matches!(c, '+' | '-' | '=' | '.' | '_' | ':' | '/' | '@')
}

impl TagSet {
    /// Checks `tags` against S3's rules, with at most `max` tags.
    pub fn new(tags: Vec<(String, String)>, max: usize) -> Result<Self, TagError> {
        if tags.len() > max {
            return Err(TagError::TooMany(max));
        }
        for (i, (k, v)) in tags.iter().enumerate() {
            if k.is_empty() || k.chars().count() > MAX_KEY_CHARS {
                return Err(TagError::KeyLength);
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(TagError::ValueLength);
            }
            if !k.chars().chain(v.chars()).all(allowed) {
                return Err(TagError::Characters);
            }
            if k.starts_with("aws:") {
                return Err(TagError::Reserved);
            }
            if tags[..i].iter().any(|(earlier, _)| earlier == k) {
                return Err(TagError::Duplicate);
            }
        }
        Ok(Self(tags))
    }

    /// An object's tags from `x-amz-tagging` (`k1=v1&k2=v2`, URL-encoded).
    pub fn from_header(header: &str) -> Result<Self, TagError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(header).map_err(|_| TagError::Header)?;
        Self::new(pairs, MAX_OBJECT_TAGS)
    }

    /// The tags.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// How many there are (`x-amz-tagging-count`).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key`, if tagged with it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Result<TagSet, TagError> {
        TagSet::new(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), MAX_OBJECT_TAGS)
    }

    #[test]
    fn s3_limits_hold() {
        assert!(set(&[("project", "blue"), ("owner", "Élodie @ ops"), ("empty", "")]).is_ok());
        let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(TagSet::new(eleven.clone(), MAX_OBJECT_TAGS), Err(TagError::TooMany(10)));
        assert!(TagSet::new(eleven, MAX_BUCKET_TAGS).is_ok());
        assert_eq!(set(&[("", "v")]), Err(TagError::KeyLength));
        assert!(set(&[(&"k".repeat(128), &"v".repeat(256))]).is_ok());
        assert_eq!(set(&[(&"k".repeat(129), "v")]), Err(TagError::KeyLength));
        assert_eq!(set(&[("k", &"v".repeat(257))]), Err(TagError::ValueLength));
        assert_eq!(set(&[("k", "a;b")]), Err(TagError::Characters));
        assert_eq!(set(&[("k", "1"), ("k", "2")]), Err(TagError::Duplicate));
        assert_eq!(set(&[("aws:createdBy", "x")]), Err(TagError::Reserved));
    }

    #[test]
    fn the_header_is_a_url_query() {
        let t = TagSet::from_header("project=blue&note=a%20b%2Bc&empty=").unwrap();
        assert_eq!(t.get("note"), Some("a b+c"));
        assert_eq!(t.get("empty"), Some(""));
        assert_eq!(t.len(), 3);
        assert_eq!(TagSet::from_header("a=1&a=2"), Err(TagError::Duplicate));
        assert_eq!(TagSet::from_header("").map(|t| t.len()), Ok(0));
    }
}
