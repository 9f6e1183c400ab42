//! A deadline on a connection's first bytes. hyper's header-read timeout starts only once the
//! HTTP version is known, and hyper-util's version detection waits for the first bytes (up to
//! the 24 of the HTTP/2 preface) without a deadline: a client that connects and sends nothing
//! would hold a connection slot for ever. Reads fail with `TimedOut` until that many bytes came.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Bytes after which hyper-util has decided between HTTP/1 and HTTP/2 (the preface length).
const VERSION_BYTES: usize = 24;

/// `inner`, whose first [`VERSION_BYTES`] must arrive within the deadline.
pub struct FirstBytesDeadline<T> {
    inner: T,
    deadline: Option<Pin<Box<Sleep>>>,
    received: usize,
}

impl<T> FirstBytesDeadline<T> {
    /// Starts the clock now.
    pub fn new(inner: T, within: Duration) -> Self {
        Self { inner, deadline: Some(Box::pin(tokio::time::sleep(within))), received: 0 }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FirstBytesDeadline<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(deadline) = this.deadline.as_mut() else { return polled };
        match polled {
            Poll::Ready(Ok(())) => {
                this.received += buf.filled().len() - before;
                if this.received >= VERSION_BYTES {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no request within the header deadline")))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FirstBytesDeadline<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn silence_times_out_and_a_request_does_not() {
        let (client, server) = tokio::io::duplex(1024);
        let mut silent = FirstBytesDeadline::new(server, Duration::from_millis(100));
        let mut buf = [0u8; 64];
        let e = silent.read(&mut buf).await.err().map(|e| e.kind());
        assert_eq!(e, Some(io::ErrorKind::TimedOut));
        drop(client);

        let (mut client, server) = tokio::io::duplex(1024);
        let mut talking = FirstBytesDeadline::new(server, Duration::from_millis(100));
        client.write_all(b"GET /bucket/key HTTP/1.1\r\nhost: x\r\n\r\n").await.ok();
        let n = talking.read(&mut buf).await.unwrap_or(0);
        assert!(n >= VERSION_BYTES);
        // Past the first bytes the deadline is gone: hyper's own timeouts take over.
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.write_all(b"x").await.ok();
        assert_eq!(talking.read(&mut buf).await.ok(), Some(1));
    }
}
