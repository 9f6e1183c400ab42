//! PutObject bodies of unknown length (HTTP/1.1 chunked transfer without `Content-Length`, as
//! S3 accepts from HTTP/1.1 clients). A sealed stream's length is fixed in its header and a
//! provider wants each object's length, so such a body is read in pieces of at most
//! [`PIECE_BYTES`], each held in memory while it is stored (the memory a request may hold,
//! whatever its size): a body that ends within the first piece is an ordinary single stream;
//! a longer one becomes one stream per piece (numbered from 1, as parts are), the object's
//! ETag and checksum taken over its whole plaintext. Nothing is visible before the commit; a
//! failure sends every piece already stored to garbage collection.

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::ClientBody;
use super::ObjectService;
use super::checksum::{PlainDigests, PlainHasher};
use super::put::{BodyChecks, MAX_OBJECT_SIZE, PlainSource, StoredStream, StreamTarget};
use crate::error::{Error, ErrorKind, Result};
use crate::meta::GcTask;

/// The most a body of unknown length holds in memory at once: one piece.
pub(crate) const PIECE_BYTES: usize = 8 << 20;

/// A PutObject body whose length is known, or found while reading it.
pub(crate) enum Measured {
    /// The length was declared, or the body ended within one piece.
    Sized(ClientBody, u64),
    /// Longer than a piece, length unknown: stored piece by piece.
    Long(LongBody),
}

impl Measured {
    /// The length, when known.
    pub(crate) fn len(&self) -> Option<u64> {
        match self {
            Measured::Sized(_, n) => Some(*n),
            Measured::Long(_) => None,
        }
    }
}

/// A body of unknown length, its first piece already read.
pub(crate) struct LongBody {
    first: Vec<Bytes>,
    body: ClientBody,
}

/// Reads chunks from `stream` until `want` bytes are held (or it ends): (chunks, bytes, ended).
async fn fill(
    stream: &mut BoxStream<'static, std::result::Result<Bytes, crate::error::BodyError>>,
    mut held: Vec<Bytes>,
    want: usize,
) -> Result<(Vec<Bytes>, usize, bool)> {
    let mut len: usize = held.iter().map(Bytes::len).sum();
    while len < want {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(Error::from)?;
                len += chunk.len();
                held.push(chunk);
            }
            None => return Ok((held, len, true)),
        }
    }
    Ok((held, len, false))
}

/// Splits `held` after `n` bytes: (the first `n`, the rest).
fn split_at(held: Vec<Bytes>, n: usize) -> (Vec<Bytes>, Vec<Bytes>) {
    let (mut taken, mut rest, mut left) = (Vec::new(), Vec::new(), n);
    for mut b in held {
        if left >= b.len() {
            left -= b.len();
            taken.push(b);
        } else if left > 0 {
            rest.push(b.split_off(left));
            taken.push(b);
            left = 0;
        } else {
            rest.push(b);
        }
    }
    (taken, rest)
}

/// The body's length: declared, or found by reading up to one piece.
pub(crate) async fn measure(mut body: ClientBody) -> Result<Measured> {
    if let Some(n) = body.len {
        return Ok(Measured::Sized(body, n));
    }
    // Read again after it ended (a piece at a time), the body must keep saying so.
    body.stream = std::mem::replace(&mut body.stream, futures_util::stream::empty().boxed()).fuse().boxed();
    let (first, len, ended) = fill(&mut body.stream, Vec::new(), PIECE_BYTES + 1).await?;
    if ended {
        body.stream = futures_util::stream::iter(first.into_iter().map(Ok)).boxed();
        body.len = Some(len as u64);
        return Ok(Measured::Sized(body, len as u64));
    }
    Ok(Measured::Long(LongBody { first, body }))
}

fn piece_source(piece: Vec<Bytes>, len: usize) -> PlainSource {
    PlainSource {
        len: len as u64,
        stream: futures_util::stream::iter(piece.into_iter().map(Ok)).boxed(),
        algorithm: None,
        // Each piece's own digests go unused (the body's are computed over the whole):
        // the cheapest ETag digest.
        etag: crate::model::EtagMode::Fast,
    }
}

impl ObjectService {
    /// Stores a long body of unknown length as one stream per piece, checking the body's
    /// Content-MD5 and checksum over the whole once it ended; the streams and the digests.
    pub(crate) async fn store_in_pieces(
        &self,
        target: StreamTarget<'_>,
        long: LongBody,
        etag: crate::model::EtagMode,
    ) -> Result<(Vec<StoredStream>, PlainDigests)> {
        let mut stored: Vec<StoredStream> = Vec::new();
        let outcome = self.store_pieces(&target, long, etag, &mut stored).await;
        if outcome.is_err() && !stored.is_empty() {
            let gc = stored.iter().map(|s| GcTask::for_stream(&s.manifest)).collect();
            self.meta.abandon_intents(gc).await?;
        }
        outcome.map(|digests| (stored, digests))
    }

    async fn store_pieces(
        &self,
        target: &StreamTarget<'_>,
        long: LongBody,
        etag: crate::model::EtagMode,
        stored: &mut Vec<StoredStream>,
    ) -> Result<PlainDigests> {
        let LongBody { first, body } = long;
        let (checks, mut source) = BodyChecks::split(body, 0, etag);
        let mut hasher = PlainHasher::new(source.etag, source.algorithm);
        let mut held = first;
        let mut total: u64 = 0;
        for number in 1u32.. {
            let (filled, len, ended) = fill_plain(&mut source.stream, held).await?;
            let (piece, rest) = split_at(filled, len.min(PIECE_BYTES));
            held = rest;
            let piece_len = len.min(PIECE_BYTES);
            total += piece_len as u64;
            if total > MAX_OBJECT_SIZE {
                return Err(ErrorKind::EntityTooLarge.into());
            }
            if piece_len > 0 || number == 1 {
                hasher = hash_in_background(hasher, piece.clone()).await?;
                let piece_target = StreamTarget { part_number: number, placement: target.placement.clone(), ..*target };
                stored.push(self.store_stream(piece_target, piece_source(piece, piece_len), |_| Ok(())).await?);
            }
            if ended && held.is_empty() {
                break;
            }
        }
        let digests = hasher.finish();
        checks.verify(&digests)?;
        Ok(digests)
    }
}

/// [`fill`] over the service's plaintext stream (errors already converted).
async fn fill_plain(
    stream: &mut BoxStream<'static, Result<Bytes>>,
    mut held: Vec<Bytes>,
) -> Result<(Vec<Bytes>, usize, bool)> {
    let mut len: usize = held.iter().map(Bytes::len).sum();
    while len < PIECE_BYTES {
        match stream.next().await.transpose()? {
            Some(chunk) => {
                len += chunk.len();
                held.push(chunk);
            }
            None => return Ok((held, len, true)),
        }
    }
    Ok((held, len, false))
}

/// The whole body's digests go on off the async threads (MD5 of a piece takes milliseconds).
async fn hash_in_background(mut hasher: PlainHasher, piece: Vec<Bytes>) -> Result<PlainHasher> {
    crate::pools::spawn(crate::pools::Pool::Hash, move || {
        for b in &piece {
            hasher.update(b);
        }
        hasher
    })
    .await
    .map_err(|e| ErrorKind::Internal { context: "hashing task".into(), source: Some(Box::new(e)) }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_inside_a_chunk() {
        let held = vec![Bytes::from_static(b"abc"), Bytes::from_static(b"defg"), Bytes::from_static(b"h")];
        let (first, rest) = split_at(held, 5);
        assert_eq!(first.concat(), b"abcde");
        assert_eq!(rest.concat(), b"fgh");
        let (whole, none) = split_at(vec![Bytes::from_static(b"ab")], 2);
        assert_eq!((whole.concat(), none.len()), (b"ab".to_vec(), 0));
    }
}
