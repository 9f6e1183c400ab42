//! A request body that fails when the client sends nothing for too long. hyper bounds only the
//! time to send headers; without this a client that sends headers and then a trickle (or
//! nothing) holds its connection slot and its request's buffers for ever. Only time spent
//! waiting on the client counts: while the gateway is not asking for more (its providers are
//! slow), the clock is stopped.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The text [`super::error::body_error`] recognises.
pub const BODY_TIMEOUT_MESSAGE: &str = "RequestTimeout: the client sent no body bytes within the timeout";

/// `inner`, failing after `timeout` without a frame while the gateway waits for one.
pub struct IdleTimeout<B> {
    inner: B,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<B> IdleTimeout<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)), waiting: false }
    }
}

/// The body stalled.
#[derive(Debug, thiserror::Error)]
#[error("{BODY_TIMEOUT_MESSAGE}")]
pub struct BodyTimedOut;

impl<B> Body for IdleTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if !this.waiting {
            this.deadline.as_mut().reset(Instant::now() + this.timeout);
            this.waiting = true;
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        ready!(this.deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn a_stalled_body_fails_and_a_flowing_one_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
        let mut body = IdleTimeout::new(StreamBody::new(Box::pin(stream)), Duration::from_millis(300));
        tx.send(Ok(Frame::data(Bytes::from_static(b"a")))).await.ok();
        let first = body.frame().await;
        assert!(matches!(first, Some(Ok(_))));
        // The gateway does not ask for a while (its providers are slow): the clock is stopped.
        tokio::time::sleep(Duration::from_millis(900)).await;
        tx.send(Ok(Frame::data(Bytes::from_static(b"b")))).await.ok();
        assert!(matches!(body.frame().await, Some(Ok(_))));
        // Then the client stalls.
        let stalled = body.frame().await;
        assert!(matches!(&stalled, Some(Err(e)) if e.to_string() == BODY_TIMEOUT_MESSAGE), "{stalled:?}");
        drop(tx);
    }
}
