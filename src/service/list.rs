//! ListObjects v1/v2 and ListMultipartUploads over metadata only (DESIGN.md §3.5).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::ObjectService;
use crate::error::{ErrorKind, Result};
use crate::meta::{ListEntry, ListQuery, ListStart, UploadRecord};
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
    /// Resume point.
    pub start: ListStart,
    /// Max keys (clamped to 1,000).
    pub max_keys: usize,
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
    /// The last key or prefix of this page, for markers and tokens.
    pub last: Option<ListStart>,
}

/// A page of uploads.
#[derive(Debug, Clone, Default)]
pub struct UploadsPage {
    /// Uploads.
    pub uploads: Vec<UploadRecord>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
}

const TOKEN_KEY: u8 = 0x01;
const TOKEN_PREFIX: u8 = 0x02;

/// Encodes a resume point as an opaque continuation token.
pub fn encode_token(start: &ListStart) -> Option<String> {
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
pub fn decode_token(token: &str) -> Result<ListStart> {
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
    String::from_utf8_lossy(&b).into_owned()
}

impl ObjectService {
    /// ListObjects / ListObjectsV2.
    pub async fn list_objects(&self, req: ListObjectsRequest) -> Result<ObjectsPage> {
        let bucket = self.existing_bucket(&req.bucket).await?;
        let q = ListQuery {
            prefix: req.prefix.into_bytes(),
            delimiter: req.delimiter.filter(|d| !d.is_empty()).map(String::into_bytes),
            start: req.start,
            max: req.max_keys.min(1000),
        };
        if q.max == 0 {
            return Ok(ObjectsPage::default());
        }
        let page = self.meta.list(bucket.uid, &q).await?;
        let mut out = ObjectsPage { truncated: page.truncated, ..Default::default() };
        for e in page.entries {
            match e {
                ListEntry::Item(k, v) => {
                    out.last = Some(ListStart::AfterKey(k.clone()));
                    out.objects.push(ListedObject {
                        key: text(k),
                        size: v.size,
                        etag: v.etag,
                        last_modified_ms: v.last_modified_ms,
                    });
                }
                ListEntry::Prefix(p) => {
                    out.last = Some(ListStart::AfterPrefix(p.clone()));
                    out.prefixes.push(text(p));
                }
            }
        }
        Ok(out)
    }

    /// ListMultipartUploads.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: String,
        delimiter: Option<String>,
        key_marker: Option<String>,
        upload_id_marker: Option<String>,
        max: usize,
    ) -> Result<UploadsPage> {
        let bucket = self.existing_bucket(bucket).await?;
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
                ListEntry::Item(_, u) => out.uploads.push(u),
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
