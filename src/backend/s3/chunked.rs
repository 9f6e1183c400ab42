//! `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` bodies for providers that demand signed payloads:
//! the sealed stream is cut into fixed 64 KiB chunks, each signed as it passes, so the body is
//! authenticated without ever being hashed (or held) whole.

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::StreamError;
use super::sign::ChunkSigner;

/// Plaintext bytes per signed chunk.
pub(super) const CHUNK: usize = 64 * 1024;
const SIGNATURE_HEX: usize = 64;

/// The length of one encoded chunk carrying `n` data bytes.
fn frame_len(n: usize) -> u64 {
    // "<hex n>;chunk-signature=<64 hex>\r\n" data "\r\n"; the final empty chunk ends "\r\n\r\n".
    (format!("{n:x}").len() + ";chunk-signature=".len() + SIGNATURE_HEX + 2 + n + 2) as u64
}

/// Content-Length of the encoded body for `len` payload bytes.
pub(super) fn encoded_len(len: u64) -> u64 {
    let full = len / CHUNK as u64;
    let rest = crate::model::usize_from(len % CHUNK as u64);
    full * frame_len(CHUNK) + if rest > 0 { frame_len(rest) } else { 0 } + frame_len(0)
}

fn frame(signer: &mut ChunkSigner, data: Bytes, out: &mut Vec<Result<Bytes, StreamError>>) -> Result<(), StreamError> {
    let sig = signer.next(&data)?;
    out.push(Ok(Bytes::from(format!("{:x};chunk-signature={sig}\r\n", data.len()))));
    out.push(Ok(data));
    out.push(Ok(Bytes::from_static(b"\r\n")));
    Ok(())
}

struct Encoder<S> {
    body: S,
    signer: ChunkSigner,
    buf: BytesMut,
    done: bool,
}

impl<S: Stream<Item = Result<Bytes, StreamError>> + Unpin> Encoder<S> {
    /// The frames of the next full chunk, or of the tail and the final empty chunk.
    async fn next_frames(&mut self) -> Option<Vec<Result<Bytes, StreamError>>> {
        if self.done {
            return None;
        }
        let mut out = Vec::new();
        loop {
            if self.buf.len() >= CHUNK {
                let data = self.buf.split_to(CHUNK).freeze();
                if let Err(e) = frame(&mut self.signer, data, &mut out) {
                    self.done = true;
                    return Some(vec![Err(e)]);
                }
                return Some(out);
            }
            match self.body.next().await {
                Some(Ok(b)) => self.buf.extend_from_slice(&b),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(vec![Err(e)]);
                }
                None => {
                    self.done = true;
                    let rest = self.buf.split().freeze();
                    let framed = if rest.is_empty() { Ok(()) } else { frame(&mut self.signer, rest, &mut out) }
                        .and_then(|()| frame(&mut self.signer, Bytes::new(), &mut out));
                    return Some(match framed {
                        Ok(()) => out,
                        Err(e) => vec![Err(e)],
                    });
                }
            }
        }
    }
}

/// Encodes `body` as signed aws-chunked frames.
pub(super) fn encode(
    body: impl Stream<Item = Result<Bytes, StreamError>> + Send + Unpin + 'static,
    signer: ChunkSigner,
) -> impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static {
    let encoder = Encoder { body, signer, buf: BytesMut::new(), done: false };
    futures_util::stream::unfold(encoder, |mut e| async move { e.next_frames().await.map(|frames| (frames, e)) })
        .flat_map(futures_util::stream::iter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_length_counts_every_frame() {
        assert_eq!(encoded_len(0), 86);
        assert_eq!(encoded_len(1), frame_len(1) + 86);
        assert_eq!(encoded_len(CHUNK as u64), frame_len(CHUNK) + 86);
        assert_eq!(encoded_len(CHUNK as u64 * 2 + 5), 2 * frame_len(CHUNK) + frame_len(5) + 86);
    }
}
