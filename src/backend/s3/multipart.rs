//! Provider-side multipart upload for streams above the dialect's `max_put_size`: the sealed
//! stream is cut into parts of known length, each streamed as it arrives (never buffered
//! whole); any failure aborts the provider upload.

use bytes::Bytes;
use futures_util::StreamExt;
use http::Method;
use std::fmt::Write as _;
use tokio::sync::mpsc;

use super::{S3Backend, StreamError, xml};
use crate::backend::{BackendError, BackendErrorKind, SealedBody};

const PART_CHANNEL: usize = 4;

impl S3Backend {
    /// The part size for `len` bytes: the dialect's, grown if the part count would exceed the
    /// provider's maximum.
    fn part_size(&self, len: u64) -> u64 {
        self.dialect.part_size.max(len.div_ceil(u64::from(self.dialect.max_parts)))
    }

    pub(super) async fn put_multipart(&self, name: &str, len: u64, body: SealedBody) -> Result<(), BackendError> {
        let resp = self.simple(Method::POST, name, "uploads=", Bytes::new(), &[]).await?;
        if !resp.status().is_success() {
            return Err(self.http.failure("CreateMultipartUpload", resp).await);
        }
        let answer = self.http.small_body(resp).await?;
        let upload_id = xml::upload_id(&answer).map_err(|e| self.http.error(BackendErrorKind::Protocol, e))?;
        match self.upload_parts(name, &upload_id, len, body).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let query = format!("uploadId={}", encode(&upload_id));
                if let Err(abort) = self.simple(Method::DELETE, name, &query, Bytes::new(), &[]).await {
                    tracing::warn!(provider = %self.id, error = %crate::report::Report(&abort), "aborting a provider multipart upload failed");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        name: &str,
        upload_id: &str,
        len: u64,
        mut body: SealedBody,
    ) -> Result<(), BackendError> {
        let part_size = self.part_size(len);
        let mut etags = Vec::new();
        let mut carry: Option<Bytes> = None;
        let mut sent = 0u64;
        while sent < len {
            let part_len = part_size.min(len - sent);
            let (tx, rx) = mpsc::channel::<Result<Bytes, StreamError>>(PART_CHANNEL);
            let query = format!("partNumber={}&uploadId={}", etags.len() + 1, encode(upload_id));
            let stream =
                futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
                    .boxed();
            let part = self.put_stream(name, &query, part_len, stream);
            let feed = async {
                let mut left = part_len;
                while left > 0 {
                    let mut chunk = match carry.take() {
                        Some(c) => c,
                        None => match body.next().await {
                            Some(Ok(c)) => c,
                            Some(Err(e)) => {
                                let _ = tx.send(Err(Box::new(e))).await;
                                return Err(self
                                    .http
                                    .error(BackendErrorKind::Aborted, "upload aborted by the gateway"));
                            }
                            None => {
                                return Err(self.http.error(BackendErrorKind::Aborted, "body shorter than announced"));
                            }
                        },
                    };
                    if chunk.len() as u64 > left {
                        carry = Some(chunk.split_off(crate::model::usize_from(left)));
                    }
                    left -= chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return Err(self.http.error(BackendErrorKind::Aborted, "provider stopped reading the part"));
                    }
                }
                drop(tx);
                Ok(())
            };
            let (feeding, etag) = tokio::join!(feed, part);
            feeding?;
            etags.push(etag?);
            sent += part_len;
        }
        if carry.is_some_and(|c| !c.is_empty()) || body.next().await.is_some() {
            return Err(self.http.error(BackendErrorKind::Protocol, "body longer than announced"));
        }
        let xml = xml::complete_body(&etags);
        let query = format!("uploadId={}", encode(upload_id));
        let resp = self.simple(Method::POST, name, &query, Bytes::from(xml), &[]).await?;
        if !resp.status().is_success() {
            return Err(self.http.failure("CompleteMultipartUpload", resp).await);
        }
        // S3 may answer 200 with an error document after a long Complete.
        let answer = self.http.small_body(resp).await?;
        if let Some(code) = xml::error_code(&answer) {
            return Err(self.http.error(BackendErrorKind::Status(500), format!("CompleteMultipartUpload: {code}")));
        }
        Ok(())
    }
}

/// Percent-encodes a query value (upload ids may hold `+`, `/` or `=`).
fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
