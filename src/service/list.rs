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
    /// Each object's owner asked for (v1 always, v2 with `fetch-owner=true`).
    pub fetch_owner: bool,
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
    /// The owner of every listed object, when asked: the bucket's (objects have no owner of
    /// their own here, as S3 buckets whose object ownership is "bucket owner enforced").
    pub owner: Option<String>,
}

/// A ListObjectVersions request.
#[derive(Debug, Clone)]
pub struct ListVersionsRequest {
    /// Bucket.
    pub bucket: String,
    /// Prefix.
    pub prefix: String,
    /// Delimiter.
    pub delimiter: Option<String>,
    /// `key-marker`.
    pub key_marker: Option<String>,
    /// `version-id-marker` (with a key marker only).
    pub version_id_marker: Option<String>,
    /// `max-keys` (clamped to 1,000).
    pub max: usize,
}

/// One listed version or delete marker.
#[derive(Debug, Clone)]
pub struct ListedVersion {
    /// Key.
    pub key: String,
    /// Version id (`null` for the null version).
    pub version_id: String,
    /// It is its key's latest version.
    pub latest: bool,
    /// A delete marker (no size, no ETag).
    pub delete_marker: bool,
    /// Size.
    pub size: u64,
    /// ETag.
    pub etag: ETag,
    /// Last-Modified, ms.
    pub last_modified_ms: i64,
}

/// A page of versions.
#[derive(Debug, Clone, Default)]
pub struct VersionsPage {
    /// Versions and delete markers, by key then newest first.
    pub versions: Vec<ListedVersion>,
    /// Common prefixes.
    pub prefixes: Vec<String>,
    /// More follow.
    pub truncated: bool,
    /// `NextKeyMarker` of a truncated page.
    pub next_key_marker: Option<String>,
    /// `NextVersionIdMarker` of a truncated page that ended with a version.
    pub next_version_id_marker: Option<String>,
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
        let owner =
            if req.fetch_owner && !page.entries.is_empty() { Some(self.bucket_acl(permit).await?.owner) } else { None };
        let mut out = ObjectsPage { truncated: page.truncated, owner, ..Default::default() };
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

    /// ListObjectVersions. A version-id marker that no longer exists (a client deleting the
    /// versions it lists, page by page) resumes at its key's newest remaining version.
    pub(crate) async fn list_object_versions(&self, permit: &Permit, req: ListVersionsRequest) -> Result<VersionsPage> {
        let bucket = permit.bucket();
        let delimiter = req.delimiter.filter(|d| !d.is_empty());
        let key_marker = req.key_marker.filter(|k| !k.is_empty());
        let version_marker = req.version_id_marker.filter(|v| !v.is_empty());
        let (start, after_order) = match (key_marker, version_marker) {
            (None, Some(_)) => {
                return Err(ErrorKind::InvalidArgument(
                    "A version-id marker cannot be specified without a key marker.".into(),
                )
                .into());
            }
            (None, None) => (ListStart::Beginning, None),
            (Some(k), None) => (ListResume::Marker(k).start(&req.prefix, delimiter.as_deref())?, None),
            (Some(k), Some(v)) => {
                let r = super::versions::parse_version_id(&v)?;
                let key = super::parse_key(&k)?;
                let order = self.meta.version(bucket.uid, &key, r).await?.map_or(u64::MAX, |v| v.order);
                (ListStart::AfterKey(k.into_bytes()), Some(order))
            }
        };
        let q = ListQuery {
            prefix: req.prefix.into_bytes(),
            delimiter: delimiter.map(String::into_bytes),
            start,
            max: req.max.min(1000),
        };
        if q.max == 0 {
            return Ok(VersionsPage::default());
        }
        let page = self.meta.list_versions(bucket.uid, &q, after_order).await?;
        let mut out = VersionsPage { truncated: page.truncated, ..Default::default() };
        let mut last = None;
        for e in page.entries {
            match e {
                ListEntry::Item(k, e) => {
                    let version_id = e.version.version_ref().to_s3();
                    last = Some((k.clone(), Some(version_id.clone())));
                    out.versions.push(ListedVersion {
                        key: text(k),
                        version_id,
                        latest: e.latest,
                        delete_marker: e.version.delete_marker,
                        size: e.version.size,
                        etag: e.version.etag,
                        last_modified_ms: e.version.last_modified_ms,
                    });
                }
                ListEntry::Prefix(p) => {
                    last = Some((p.clone(), None));
                    out.prefixes.push(text(p));
                }
            }
        }
        if let Some((k, v)) = last.filter(|_| page.truncated) {
            out.next_key_marker = Some(text(k));
            out.next_version_id_marker = v;
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
