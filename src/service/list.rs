//! ListObjects v1/v2 and ListMultipartUploads over metadata only (DESIGN.md §3.5).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::ObjectService;
use super::access::Permit;
use crate::error::{ErrorKind, Result};
use crate::meta::{ListEntry, ListQuery, ListStart};
use crate::model::{ETag, UploadId};

/// A listing request, already decoded from v1 or v2 parameters.
#[derive(Debug, Clone)]
pub struct ListObjectsRequest {
    /// Bucket.
    pub bucket: String,
    /// Prefix.
    pub prefix: String,
    /// Delimiter.
    pub delimiter: Option<String>,
    /// Where the page starts, as the client said it.
    pub resume: ListResume,
    /// Max keys (clamped to 1,000).
    pub max_keys: usize,
}

/// Where a listing resumes, in the words of the request: ListObjects v1 has a marker,
/// ListObjectsV2 a continuation token or a start-after key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListResume {
    /// From the first key.
    Beginning,
    /// v1 `marker`: after this key, or after every key under it when it is a common prefix
    /// (which is what this gateway answers as `NextMarker` with a delimiter).
    Marker(String),
    /// v2 `continuation-token`, as a previous page gave it.
    Token(String),
    /// v2 `start-after`.
    StartAfter(String),
}

impl ListResume {
    /// The resume point in key order.
    fn start(&self, prefix: &str, delimiter: Option<&str>) -> Result<ListStart> {
        Ok(match self {
            Self::Beginning => ListStart::Beginning,
            Self::Marker(m) if m.is_empty() => ListStart::Beginning,
            Self::Marker(m)
                if delimiter.is_some_and(|d| m.ends_with(d) && m.starts_with(prefix) && m.len() > prefix.len()) =>
            {
                ListStart::AfterPrefix(m.as_bytes().to_vec())
            }
            Self::Marker(m) => ListStart::AfterKey(m.as_bytes().to_vec()),
            Self::Token(t) => decode_token(t)?,
            Self::StartAfter(s) if s.is_empty() => ListStart::Beginning,
            Self::StartAfter(s) => ListStart::AfterKey(s.as_bytes().to_vec()),
        })
    }
}

/// One listed object.
#[derive(Debug, Clone)]
pub struct ListedObject {
    /// Key.
    pub key: String,
    /// Size.
    pub size: u64,
    /// ETag.
    pub etag: ETag,
    /// Last-Modified, ms.
    pub last_modified_ms: i64,
}

/// A page of objects.
#[derive(Debug, Clone, Default)]
pub struct ObjectsPage {
    /// Objects.
    pub objects: Vec<ListedObject>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// v1 `NextMarker`: the last key or prefix of a truncated page.
    pub next_marker: Option<String>,
    /// v2 `NextContinuationToken` of a truncated page.
    pub next_token: Option<String>,
}

/// A page of uploads.
#[derive(Debug, Clone, Default)]
pub struct UploadsPage {
    /// Uploads.
    pub uploads: Vec<super::UploadInfo>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
}

const TOKEN_KEY: u8 = 0x01;
const TOKEN_PREFIX: u8 = 0x02;

/// Encodes a resume point as an opaque continuation token.
fn encode_token(start: &ListStart) -> Option<String> {
    let (tag, bytes) = match start {
        ListStart::Beginning => return None,
        ListStart::AfterKey(k) => (TOKEN_KEY, k),
        ListStart::AfterPrefix(p) => (TOKEN_PREFIX, p),
    };
    let mut raw = vec![tag];
    raw.extend_from_slice(bytes);
    Some(B64URL.encode(raw))
}

/// Decodes a continuation token.
fn decode_token(token: &str) -> Result<ListStart> {
    let bad = || ErrorKind::InvalidArgument("The continuation token provided is incorrect".into());
    let raw = B64URL.decode(token).map_err(|_| bad())?;
    match raw.split_first() {
        Some((&TOKEN_KEY, k)) => Ok(ListStart::AfterKey(k.to_vec())),
        Some((&TOKEN_PREFIX, p)) => Ok(ListStart::AfterPrefix(p.to_vec())),
        _ => Err(bad().into()),
    }
}

fn text(b: Vec<u8>) -> String {
    // Keys were stored from UTF-8 strings, so this never replaces anything.
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl ObjectService {
    /// ListObjects / ListObjectsV2.
    pub(crate) async fn list_objects(&self, permit: &Permit, req: ListObjectsRequest) -> Result<ObjectsPage> {
        let bucket = permit.bucket();
        let delimiter = req.delimiter.filter(|d| !d.is_empty());
        let start = req.resume.start(&req.prefix, delimiter.as_deref())?;
        let q = ListQuery {
            prefix: req.prefix.into_bytes(),
            delimiter: delimiter.map(String::into_bytes),
            start,
            max: req.max_keys.min(1000),
        };
        if q.max == 0 {
            return Ok(ObjectsPage::default());
        }
        let page = self.meta.list(bucket.uid, &q).await?;
        let mut out = ObjectsPage { truncated: page.truncated, ..Default::default() };
        let mut last = None;
        for e in page.entries {
            match e {
                ListEntry::Item(k, v) => {
                    last = Some(ListStart::AfterKey(k.clone()));
                    out.objects.push(ListedObject {
                        key: text(k),
                        size: v.size,
                        etag: v.etag,
                        last_modified_ms: v.last_modified_ms,
                    });
                }
                ListEntry::Prefix(p) => {
                    last = Some(ListStart::AfterPrefix(p.clone()));
                    out.prefixes.push(text(p));
                }
            }
        }
        if let Some(last) = last.filter(|_| page.truncated) {
            out.next_token = encode_token(&last);
            if let ListStart::AfterKey(k) | ListStart::AfterPrefix(k) = last {
                out.next_marker = Some(text(k));
            }
        }
        Ok(out)
    }

    /// ListMultipartUploads.
    pub(crate) async fn list_uploads(&self, permit: &Permit, req: super::ListUploadsRequest) -> Result<UploadsPage> {
        let super::ListUploadsRequest { prefix, delimiter, key_marker, upload_id_marker, max, .. } = req;
        let bucket = permit.bucket();
        let after_upload = match upload_id_marker.filter(|_| key_marker.is_some()) {
            Some(m) => Some(
                UploadId::from_hex(&m).ok_or_else(|| ErrorKind::InvalidArgument("Invalid uploadId marker".into()))?,
            ),
            None => None,
        };
        let q = ListQuery {
            prefix: prefix.into_bytes(),
            delimiter: delimiter.filter(|d| !d.is_empty()).map(String::into_bytes),
            start: key_marker.map_or(ListStart::Beginning, |k| ListStart::AfterKey(k.into_bytes())),
            max: max.min(1000),
        };
        if q.max == 0 {
            return Ok(UploadsPage::default());
        }
        let page = self.meta.list_uploads(bucket.uid, &q, after_upload).await?;
        let mut out = UploadsPage { truncated: page.truncated, ..Default::default() };
        for e in page.entries {
            match e {
                ListEntry::Item(_, u) => out.uploads.push(super::UploadInfo::from(&u)),
                ListEntry::Prefix(p) => out.prefixes.push(text(p)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for s in [ListStart::AfterKey(b"a/b".to_vec()), ListStart::AfterPrefix(b"photos/".to_vec())] {
            assert_eq!(decode_token(&encode_token(&s).unwrap()).unwrap(), s);
        }
        assert!(decode_token("!!").is_err());
    }
}
