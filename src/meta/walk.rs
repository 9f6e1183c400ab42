//! Walks over a whole bucket a page at a time, for the jobs and admin checks that visit every
//! version or open upload (rotation, evacuation, usage, the shredding check) without loading
//! them all at once.

use std::collections::VecDeque;

use super::{ListEntry, ListQuery, ListStart, MetaError, MetadataStore, PartRecord, UploadRecord, VersionEntry};
use crate::model::{BucketUid, UploadId, VersionUid};

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

/// One stored part of an open upload, with what says whose it is.
#[derive(Debug, Clone)]
pub struct OpenPart {
    /// The upload's target key.
    pub key: String,
    /// The version the upload becomes.
    pub version: VersionUid,
    /// The upload.
    pub upload: UploadId,
    /// The part's number.
    pub number: u32,
    /// The part, with its stream.
    pub part: PartRecord,
}

/// The stored parts of a bucket's open uploads, upload by upload in [`UploadWalk`]'s order and
/// by part number within each (the evacuation moves them, its dry run counts them).
#[derive(Debug)]
pub struct PartWalk {
    uploads: UploadWalk,
    /// Uploads read but not walked yet.
    pending: VecDeque<UploadRecord>,
    /// The upload being walked and the last part number handed out of it.
    current: Option<(UploadRecord, u32)>,
}

impl PartWalk {
    /// From the bucket's first upload.
    pub fn new(bucket: BucketUid) -> Self {
        Self { uploads: UploadWalk::new(bucket), pending: VecDeque::new(), current: None }
    }

    /// The next page of at most `max` parts (of one upload); empty once every part was handed out.
    pub async fn next_page(&mut self, meta: &dyn MetadataStore, max: usize) -> Result<Vec<OpenPart>, MetaError> {
        loop {
            if self.current.is_none() {
                if self.pending.is_empty() {
                    self.pending.extend(self.uploads.next_page(meta, max).await?);
                }
                let Some(next) = self.pending.pop_front() else { return Ok(Vec::new()) };
                self.current = Some((next, 0));
            }
            let Some((upload, after)) = self.current.as_mut() else { continue };
            let parts = meta.parts(upload.upload_id, *after, max).await?;
            // A full page may have more after it; a shorter one ends the upload.
            let full = parts.len() >= max;
            if let Some((n, _)) = parts.last().filter(|_| full) {
                *after = *n;
            }
            let of = |(number, part)| OpenPart {
                key: upload.key.clone(),
                version: upload.version_uid,
                upload: upload.upload_id,
                number,
                part,
            };
            let page: Vec<OpenPart> = parts.into_iter().map(of).collect();
            if !full {
                self.current = None;
            }
            if !page.is_empty() {
                return Ok(page);
            }
        }
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
