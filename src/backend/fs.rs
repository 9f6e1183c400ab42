//! A local directory provider: atomic write-then-rename with fsync. Used by the quickstart and
//! by single-host setups on mounted storage; it receives the same sealed streams as a remote one.

use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use tokio::task::JoinHandle;

use super::{Backend, BackendError, BackendErrorKind, CipherStream, GrantedBody, SealedBody};
use crate::model::{ProviderId, usize_from};
use crate::pools::Pool;

const READ_CHUNK: usize = 256 * 1024;
/// The most bytes one blocking write call takes (see [`FsBackend::write_all`]).
const WRITE_BATCH: usize = 1 << 20;
/// The directories of the names the gateway mints: streams, keyrings, log segments.
const NAME_DIRS: [&str; 3] = ["sv1", "sv2/k", "sv2/l"];

/// A provider backed by a local directory.
#[derive(Debug)]
pub struct FsBackend {
    id: ProviderId,
    root: PathBuf,
}

impl FsBackend {
    /// Uses (and creates) `root`; objects go under `root/sv1/`, uploads in flight in `root/.tmp/`.
    pub fn open(id: ProviderId, root: &Path) -> Result<Self, BackendError> {
        let me = Self { id, root: root.to_owned() };
        for sub in ["sv1", "sv2/k", "sv2/l", ".tmp"] {
            std::fs::create_dir_all(root.join(sub)).map_err(|e| me.io(e))?;
        }
        // Leftovers of uploads interrupted by a crash are never visible; remove them.
        if let Ok(entries) = std::fs::read_dir(root.join(".tmp")) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(me)
    }

    fn io(&self, e: std::io::Error) -> BackendError {
        let kind =
            if e.kind() == std::io::ErrorKind::NotFound { BackendErrorKind::NotFound } else { BackendErrorKind::Io };
        BackendError::caused(self.id.clone(), kind, "file system", e)
    }

    fn err(&self, kind: BackendErrorKind, detail: impl Into<String>) -> BackendError {
        BackendError::new(self.id.clone(), kind, detail)
    }

    fn path(&self, name: &str) -> Result<PathBuf, BackendError> {
        // Names are minted by the gateway; anything else is refused rather than joined.
        let (dir, hex) = name.rsplit_once('/').filter(|(dir, _)| NAME_DIRS.contains(dir)).unzip();
        let hex = hex.filter(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        dir.zip(hex)
            .map(|(dir, h)| self.root.join(dir).join(h))
            .ok_or_else(|| self.err(BackendErrorKind::Protocol, "invalid object name"))
    }

    /// Writes the body to `tmp` and syncs it. The file is written from blocking threads with
    /// `std::fs` (not `tokio::fs::File`, which copies every chunk into a buffer of its own), in
    /// batches of the chunks that are already waiting, up to [`WRITE_BATCH`] bytes, one batch
    /// in flight while the next is gathered: a handoff to the blocking pool per batch rather
    /// than per 64 KiB segment (issue 25: thread switches and that copy were a third of the
    /// gateway's CPU per GiB over local directories).
    async fn write_all(&self, tmp: &Path, len: u64, mut body: SealedBody) -> Result<(), BackendError> {
        let file = std::sync::Arc::new(tokio::fs::File::create(tmp).await.map_err(|e| self.io(e))?.into_std().await);
        let mut written = 0u64;
        let mut in_flight: Option<JoinHandle<std::io::Result<()>>> = None;
        while let Some(first) = body.next().await {
            let mut batch = vec![first];
            let mut batch_len = 0;
            while let Some(chunk) = batch.last() {
                let chunk = chunk.as_ref().map_err(|e| self.err(BackendErrorKind::Aborted, e.to_string()))?;
                batch_len += chunk.len();
                if batch_len >= WRITE_BATCH {
                    break;
                }
                match body.next().now_or_never() {
                    Some(Some(next)) => batch.push(next),
                    _ => break,
                }
            }
            written += batch_len as u64;
            if written > len {
                return Err(self.err(BackendErrorKind::Protocol, "body longer than announced"));
            }
            if let Some(write) = in_flight.take() {
                self.joined(write).await?;
            }
            let file = std::sync::Arc::clone(&file);
            in_flight = Some(crate::pools::spawn(Pool::FileIo, move || {
                batch.iter().flatten().try_for_each(|chunk| (&*file).write_all(chunk))
            }));
        }
        if let Some(write) = in_flight {
            self.joined(write).await?;
        }
        if written != len {
            return Err(self.err(BackendErrorKind::Aborted, "body shorter than announced"));
        }
        self.joined(crate::pools::spawn(Pool::FileIo, move || file.sync_all())).await
    }

    /// The outcome of a file task on the blocking pool, its failure (or the task's) as a
    /// provider error that keeps its cause.
    async fn joined<T>(&self, task: JoinHandle<std::io::Result<T>>) -> Result<T, BackendError> {
        task.await
            .map_err(|e| BackendError::caused(self.id.clone(), BackendErrorKind::Io, "file task", e))?
            .map_err(|e| self.io(e))
    }
}

#[async_trait]
impl Backend for FsBackend {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn put(&self, name: &str, len: u64, body: GrantedBody) -> Result<(), BackendError> {
        let body = body.open(&self.id)?;
        let dest = self.path(name)?;
        let nonce: [u8; 8] = crate::model::random_array().map_err(|e| self.err(BackendErrorKind::Io, e.to_string()))?;
        let tmp = self.root.join(".tmp").join(hex::encode(nonce));
        if let Err(e) = self.write_all(&tmp, len, body).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        tokio::fs::rename(&tmp, &dest).await.map_err(|e| self.io(e))?;
        let dir = dest.parent().map_or_else(|| self.root.clone(), Path::to_path_buf);
        self.joined(crate::pools::spawn(Pool::FileIo, move || std::fs::File::open(dir).and_then(|d| d.sync_all())))
            .await
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<CipherStream, BackendError> {
        let path = self.path(name)?;
        let file = tokio::fs::File::open(&path).await.map_err(|e| self.io(e))?;
        let size = file.metadata().await.map_err(|e| self.io(e))?.len();
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(self.err(BackendErrorKind::Protocol, format!("range {range:?} beyond object of {size} bytes")));
        }
        // Read with `std::fs` on the blocking pool straight into the chunk handed on (not
        // `tokio::fs::File`, which reads into a buffer of its own and copies out of it).
        let file = std::sync::Arc::new(file.into_std().await);
        let provider = self.id.clone();
        let stream = futures_util::stream::try_unfold(
            (file, range.start, range.end, provider),
            |(file, at, end, provider)| async move {
                if at == end {
                    return Ok(None);
                }
                let want = usize_from(end - at).min(READ_CHUNK);
                let reader = std::sync::Arc::clone(&file);
                let read = crate::pools::spawn(Pool::FileIo, move || {
                    let mut buf = vec![0u8; want];
                    std::os::unix::fs::FileExt::read_at(&*reader, &mut buf, at).map(|n| {
                        buf.truncate(n);
                        buf
                    })
                })
                .await;
                let buf = read
                    .map_err(|e| BackendError::caused(provider.clone(), BackendErrorKind::Io, "file task", e))?
                    .map_err(|e| BackendError::caused(provider.clone(), BackendErrorKind::Io, "reading", e))?;
                if buf.is_empty() {
                    return Err(BackendError::new(provider, BackendErrorKind::Protocol, "object shrank"));
                }
                let next = at + buf.len() as u64;
                Ok(Some((Bytes::from(buf), (file, next, end, provider))))
            },
        );
        Ok(stream.boxed())
    }

    async fn head(&self, name: &str) -> Result<Option<u64>, BackendError> {
        match tokio::fs::metadata(self.path(name)?).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), BackendError> {
        match tokio::fs::remove_file(self.path(name)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(e)),
        }
    }

    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<(String, u64)>, BackendError> {
        let sub = prefix.strip_suffix('/').filter(|d| NAME_DIRS.contains(d));
        let sub = sub.ok_or_else(|| self.err(BackendErrorKind::Protocol, "not a prefix of the gateway's names"))?;
        // Names first (readdir only), keeping only the `limit` smallest in a bounded max-heap,
        // so memory stays O(limit) however many objects the directory holds; lengths only for
        // the page returned.
        let mut dir = tokio::fs::read_dir(self.root.join(sub)).await.map_err(|e| self.io(e))?;
        let mut smallest: std::collections::BinaryHeap<String> = std::collections::BinaryHeap::new();
        while let Some(entry) = dir.next_entry().await.map_err(|e| self.io(e))? {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            // Only stream names: anything else in the directory is not ours to report.
            if limit == 0 || self.path(&name).is_err() || after.is_some_and(|a| name.as_str() <= a) {
                continue;
            }
            if smallest.len() < limit {
                smallest.push(name);
            } else if smallest.peek().is_some_and(|largest| name < *largest) {
                smallest.pop();
                smallest.push(name);
            }
        }
        let names = smallest.into_sorted_vec();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            // A name deleted meanwhile is skipped.
            if let Some(len) = self.head(&name).await? {
                out.push((name, len));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BodyAborted;

    /// Promise: a listing page is the `limit` smallest stream names after `after`, in order,
    /// with their lengths, whatever order the directory yields them in; other files are not
    /// reported (issue 18 item 14: a page no longer holds the whole directory in memory).
    #[tokio::test]
    async fn list_pages_are_the_smallest_names_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsBackend::open(ProviderId::parse("p").unwrap(), dir.path()).unwrap();
        let names: Vec<String> = [9u8, 3, 7, 1, 5].iter().map(|b| format!("sv1/{}", hex::encode([*b; 16]))).collect();
        for (i, n) in names.iter().enumerate() {
            std::fs::write(dir.path().join(n), vec![0u8; i + 1]).unwrap();
        }
        std::fs::write(dir.path().join("sv1/not-a-stream"), b"x").unwrap();
        let mut sorted = names.clone();
        sorted.sort();
        let page = fs.list("sv1/", None, 2).await.unwrap();
        assert_eq!(page.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), sorted[..2]);
        assert_eq!(page[0].1, 4, "the length of the file written fourth (0x01…)");
        let rest = fs.list("sv1/", Some(&sorted[1]), 10).await.unwrap();
        assert_eq!(rest.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), sorted[2..]);
        assert!(fs.list("sv1/", None, 0).await.unwrap().is_empty());
        assert!(fs.list("sv1/", Some(&sorted[4]), 5).await.unwrap().is_empty());
    }

    /// Promise (issue 20 item 4): a provider failure keeps its cause: the operating system's
    /// error is the source, and the logged chain names provider, kind and the OS reason.
    #[test]
    fn a_provider_failure_keeps_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = FsBackend::open(ProviderId::parse("here").unwrap(), &file).unwrap_err();
        assert_eq!(err.kind, BackendErrorKind::Io);
        let cause = std::error::Error::source(&err).and_then(|c| c.downcast_ref::<std::io::Error>());
        let os = cause.map(ToString::to_string).unwrap_or_default();
        assert!(!os.is_empty(), "{err:?}");
        assert_eq!(crate::report::chain(&err), format!("provider here: Io: file system: {os}"));
    }

    /// Promise (issue 18 item 5): a backend writes only with a grant for its own provider, and
    /// object data only with a residency grant; a refused write leaves nothing.
    #[tokio::test]
    async fn writes_need_a_grant_for_this_provider() {
        let dir = tempfile::tempdir().unwrap();
        let id = ProviderId::parse("here").unwrap();
        let fs = FsBackend::open(id.clone(), dir.path()).unwrap();
        let name = format!("sv1/{}", hex::encode([4u8; 16]));
        let data = bytes::Bytes::from_static(b"ciphertext");
        let elsewhere = crate::placement::probe_grant(&ProviderId::parse("elsewhere").unwrap());
        let body = GrantedBody::new(&elsewhere, SealedBody::from_bytes(data.clone())).unwrap();
        let err = fs.put(&name, data.len() as u64, body).await.unwrap_err();
        assert_eq!(err.kind, BackendErrorKind::Refused);
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let object_data = GrantedBody::new(&crate::placement::probe_grant(&id), SealedBody::new(rx));
        assert!(object_data.is_err(), "a probe grant admits no object data");
        assert!(fs.head(&name).await.unwrap().is_none(), "nothing written");
        let body = GrantedBody::new(&crate::placement::probe_grant(&id), SealedBody::from_bytes(data.clone())).unwrap();
        fs.put(&name, data.len() as u64, body).await.unwrap();
        assert_eq!(fs.head(&name).await.unwrap(), Some(data.len() as u64));
    }

    /// A body sent as sealed chunks are: 64 KiB + 16 each, on a channel, ending with `tail`.
    fn chunked_body(
        id: &ProviderId,
        data: &[u8],
        tail: Option<Result<Bytes, BodyAborted>>,
    ) -> (GrantedBody, tokio::task::JoinHandle<()>) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let chunks: Vec<Bytes> = data.chunks((64 << 10) + 16).map(Bytes::copy_from_slice).collect();
        let feeder = tokio::spawn(async move {
            for c in chunks.into_iter().map(Ok).chain(tail) {
                if tx.send(c).await.is_err() {
                    return;
                }
            }
        });
        (GrantedBody::new(&crate::placement::test_object_grant(id), SealedBody::new(rx)).unwrap(), feeder)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0]).collect()
    }

    async fn read(fs: &FsBackend, name: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = fs.get(name, range).await.unwrap();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    /// Promise (issue 25 item 1, the batched writer): a stream sent in many sealed chunks is
    /// stored byte for byte, and reads back whole and in ranges that cross read chunks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_in_many_chunks_reads_back_whole_and_in_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let id = ProviderId::parse("here").unwrap();
        let fs = FsBackend::open(id.clone(), dir.path()).unwrap();
        let name = format!("sv1/{}", hex::encode([5u8; 16]));
        let data = pattern((3 << 20) + 12_345);
        let (body, _feeder) = chunked_body(&id, &data, None);
        fs.put(&name, data.len() as u64, body).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), data, "the file holds the bytes in order");
        assert_eq!(read(&fs, &name, None).await, data);
        for r in [0..1u64, 100..(READ_CHUNK as u64 + 7), (1 << 20) - 3..(3 << 20) + 1, 0..data.len() as u64] {
            let want = &data[usize_from(r.start)..usize_from(r.end)];
            assert_eq!(read(&fs, &name, Some(r.clone())).await, want, "range {r:?}");
        }
        assert!(std::fs::read_dir(dir.path().join(".tmp")).unwrap().next().is_none(), "no leftovers");
    }

    /// Promise (the Backend contract): a body that the gateway aborts, that ends short or that
    /// runs longer than announced leaves nothing under the name and nothing behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_aborted_short_or_long_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let id = ProviderId::parse("here").unwrap();
        let fs = FsBackend::open(id.clone(), dir.path()).unwrap();
        let name = format!("sv1/{}", hex::encode([6u8; 16]));
        let data = pattern(1 << 20);
        let len = data.len() as u64;
        let cases = [
            ("aborted", chunked_body(&id, &data, Some(Err(BodyAborted))), len + 1, BackendErrorKind::Aborted),
            ("short", chunked_body(&id, &data, None), len + 1, BackendErrorKind::Aborted),
            ("long", chunked_body(&id, &data, None), len - 1, BackendErrorKind::Protocol),
        ];
        for (what, (body, _feeder), announced, kind) in cases {
            let err = fs.put(&name, announced, body).await.unwrap_err();
            assert_eq!(err.kind, kind, "{what}: {err:?}");
            assert_eq!(fs.head(&name).await.unwrap(), None, "{what}: nothing visible");
            let left = std::fs::read_dir(dir.path().join(".tmp")).unwrap().count();
            assert_eq!(left, 0, "{what}: no temporary file left");
        }
    }
}
