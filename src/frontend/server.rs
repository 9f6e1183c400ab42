//! The S3 (and admin) listener: connection limit, header read timeout, idle timeout, header size
//! limit, HTTP/2 stream limit and keep-alive pings, TCP_NODELAY, and graceful shutdown (in-flight
//! requests finish within a grace period). HTTP/1 and HTTP/2 connections hold one slot each and
//! get the same deadlines.
//!
//! A connection beyond the limit is accepted and answered `503 SlowDown` at once (TLS ones are
//! closed), rather than left in the kernel's accept queue: a flood then costs the gateway almost
//! nothing, its clients learn to back off, and the held connections still run out their header
//! deadline, so slow or idle flooders free their slots by themselves.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, TryAcquireError};

use super::first_bytes::FirstBytesDeadline;
use super::idle::{Activity, Tracked};
use super::tls::TlsFiles;
use crate::shutdown::Shutdown;

/// Connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Simultaneous connections; further ones are answered 503 SlowDown and closed.
    pub max_connections: usize,
    /// Time to receive a request's headers.
    pub header_read_timeout: Duration,
    /// Largest request head (line + headers) accepted.
    pub max_header_bytes: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Requests one HTTP/2 connection may carry at once.
    pub http2_max_streams: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
            http2_max_streams: 64,
        }
    }
}

/// Serves S3 on `listener` until `shutdown`, then drains connections for up to the grace period.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: ServerLimits,
    tls: Option<Arc<TlsFiles>>,
    rejected: prometheus::IntCounter,
    mut shutdown: Shutdown,
) where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = ConnBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // A peer that stops answering pings (a dead NAT entry, a vanished client) is dropped,
        // even while a stream is open.
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %crate::report::Report(&e), "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.wait() => break,
        };
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::NoPermits) => {
                rejected.inc();
                refuse(stream, tls.is_some(), &refusals);
                continue;
            }
            Err(TryAcquireError::Closed) => break,
        };
        let _ = stream.set_nodelay(true);
        let acceptor = tls.as_ref().and_then(|t| t.acceptor());
        let peer = super::peer::Peer { addr: peer, tls: acceptor.is_some() };
        let service = super::peer::WithPeer::new(service.clone(), peer);
        let (builder, shutdown) = (builder.clone(), shutdown.clone());
        tokio::spawn(async move {
            let result = match acceptor {
                // The handshake runs in the connection's task, so a slow client never blocks
                // accepting others; it gets the header deadline.
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(&builder, tls, service, limits, shutdown).await,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %crate::report::Report(&e), "TLS handshake failed");
                            Ok(())
                        }
                        Err(_) => Ok(()),
                    }
                }
                None => serve_connection(&builder, stream, service, limits, shutdown).await,
            };
            if let Err(e) = result {
                tracing::debug!(error = %crate::report::Report(e.as_ref()), "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection gives its slot back once drained (each is bounded by the grace period).
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => tracing::info!("all connections drained"),
        () = tokio::time::sleep(limits.shutdown_grace + IDLE_CLOSE) => tracing::warn!("shutdown grace period expired; closing remaining connections"),
    }
}

/// How long an HTTP/2 peer has to answer a keep-alive ping.
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection closed for idleness may take to say goodbye (GOAWAY, close_notify).
const IDLE_CLOSE: Duration = Duration::from_secs(1);

/// Serves one accepted connection (either HTTP version) until it ends, stays idle past the
/// header deadline, or shutdown asks it to finish its requests (within the grace period).
async fn serve_connection<I, S, B>(
    builder: &ConnBuilder<TokioExecutor>,
    io: I,
    service: S,
    limits: ServerLimits,
    mut shutdown: Shutdown,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let activity = Activity::new();
    let io = TokioIo::new(FirstBytesDeadline::new(io, limits.header_read_timeout));
    let conn = builder.serve_connection(io, Tracked::new(service, Arc::clone(&activity)));
    tokio::pin!(conn);
    let mut closing: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    loop {
        tokio::select! {
            r = conn.as_mut() => return r,
            () = shutdown.wait(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Box::pin(tokio::time::sleep(limits.shutdown_grace)));
            }
            () = activity.idle(limits.header_read_timeout), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Box::pin(tokio::time::sleep(IDLE_CLOSE)));
            }
            () = async { if let Some(c) = closing.as_mut() { c.await } }, if closing.is_some() => return Ok(()),
        }
    }
}

/// Refusals being written at once; beyond this a connection is simply closed.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// What a refused client gets to read, however slowly it reads.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(1);

const SLOW_DOWN: &str = "HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/xml\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 128\r\n\r\n\
<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>SlowDown</Code><Message>Too many connections; retry later.</Message></Error>";

/// Answers a connection over the limit with 503 SlowDown and closes it. A TLS client is just
/// closed: a handshake is the expensive part a flood should not get.
fn refuse(mut stream: TcpStream, tls: bool, refusals: &Arc<Semaphore>) {
    if tls {
        return;
    }
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else { return };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_DEADLINE, async {
            stream.write_all(SLOW_DOWN.as_bytes()).await?;
            stream.shutdown().await?;
            // Drain what the client already sent, so closing does not reset the connection
            // before it has read the answer.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<(), std::io::Error>(())
        })
        .await;
        drop(permit);
    });
}

#[cfg(test)]
mod tests {
    use super::SLOW_DOWN;

    #[test]
    fn slow_down_content_length_matches_its_body() {
        let (head, body) = SLOW_DOWN.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head} / {}", body.len());
    }
}
