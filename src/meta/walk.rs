//! Walks over a whole bucket a page at a time, for the jobs and admin checks that visit every
//! version or open upload (rotation, evacuation, usage, the shredding check) without loading
//! them all at once.

use super::{ListEntry, ListQuery, ListStart, MetaError, MetadataStore, UploadRecord, VersionEntry};
use crate::model::{BucketUid, UploadId};

/// A bucket's open multipart uploads, in key order then upload id.
#[derive(Debug)]
pub struct UploadWalk {
    bucket: BucketUid,
    /// The last upload handed out (its key and id); `None` before the first page.
    after: Option<(Vec<u8>, UploadId)>,
    done: bool,
}

impl UploadWalk {
    /// From the bucket's first upload.
    pub fn new(bucket: BucketUid) -> Self {
        Self { bucket, after: None, done: false }
    }

    /// The next page of at most `max` uploads; empty once every upload was handed out.
    pub async fn next_page(&mut self, meta: &dyn MetadataStore, max: usize) -> Result<Vec<UploadRecord>, MetaError> {
        if self.done {
            return Ok(Vec::new());
        }
        let start = self.after.as_ref().map_or(ListStart::Beginning, |(k, _)| ListStart::AfterKey(k.clone()));
        let q = ListQuery { prefix: Vec::new(), delimiter: None, start, max };
        let page = meta.list_uploads(self.bucket, &q, self.after.as_ref().map(|(_, u)| *u)).await?;
        let uploads: Vec<(Vec<u8>, UploadRecord)> = page
            .entries
            .into_iter()
            .filter_map(|e| match e {
                ListEntry::Item(key, upload) => Some((key, upload)),
                ListEntry::Prefix(_) => None,
            })
            .collect();
        match uploads.last() {
            Some((key, upload)) if page.truncated => self.after = Some((key.clone(), upload.upload_id)),
            _ => self.done = true,
        }
        Ok(uploads.into_iter().map(|(_, u)| u).collect())
    }
}

/// A bucket's versions, delete markers included: by key, then newest first — what the jobs
/// that must reach every stored version walk (evacuation, rotation, usage, the shredding
/// check), a page at a time.
#[derive(Debug)]
pub struct VersionWalk {
    bucket: BucketUid,
    /// Where the next page starts: after every version of a key, or after one of them.
    start: ListStart,
    after_order: Option<u64>,
    /// The last key every version of which was handed out.
    settled: Option<Vec<u8>>,
    done: bool,
}

impl VersionWalk {
    /// From the bucket's first key, or after every version of `after_key`.
    pub fn new(bucket: BucketUid, after_key: Option<Vec<u8>>) -> Self {
        let start = after_key.clone().map_or(ListStart::Beginning, ListStart::AfterKey);
        Self { bucket, start, after_order: None, settled: after_key, done: false }
    }

    /// The next page of at most `max` versions with their keys; empty once all were handed out.
    pub async fn next_page(
        &mut self,
        meta: &dyn MetadataStore,
        max: usize,
    ) -> Result<Vec<(Vec<u8>, VersionEntry)>, MetaError> {
        if self.done {
            return Ok(Vec::new());
        }
        let q = ListQuery { prefix: Vec::new(), delimiter: None, start: self.start.clone(), max };
        let page = meta.list_versions(self.bucket, &q, self.after_order).await?;
        let versions: Vec<(Vec<u8>, VersionEntry)> = page
            .entries
            .into_iter()
            .filter_map(|e| match e {
                ListEntry::Item(key, v) => Some((key, v)),
                ListEntry::Prefix(_) => None,
            })
            .collect();
        match versions.last() {
            Some((key, v)) if page.truncated => {
                // The last key may have older versions on the next page: only the keys before
                // it are settled.
                if let Some((before, _)) = versions.iter().rev().find(|(k, _)| k != key) {
                    self.settled = Some(before.clone());
                }
                self.start = ListStart::AfterKey(key.clone());
                self.after_order = Some(v.version.order);
            }
            last => {
                if let Some((key, _)) = last {
                    self.settled = Some(key.clone());
                }
                self.done = true;
            }
        }
        Ok(versions)
    }

    /// The last key all of whose versions were handed out: a job's durable cursor (resuming
    /// after it may visit some versions of the next key again, never skip one).
    pub fn settled(&self) -> Option<&[u8]> {
        self.settled.as_deref()
    }
}
