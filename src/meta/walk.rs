//! Walks over a whole bucket a page at a time, for the jobs and admin checks that visit every
//! open upload (rotation, evacuation, the shredding check) without loading them all at once.

use super::{ListEntry, ListQuery, ListStart, MetaError, MetadataStore, UploadRecord};
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
