//! `FaultProxy`: an HTTP proxy on 127.0.0.1 in front of one provider process (DESIGN.md §10).
//! It forwards requests untouched (the Host header too, so the provider's SigV4 check still
//! passes) and injects the fault set at the moment: delay, an error status, a reset, a black
//! hole, a truncated or bit-flipped response body. Self-contained (no test-harness imports),
//! so the hedging benchmark uses it too.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ProxyBody = BoxBody<Bytes, BoxError>;

/// What the proxy does to the requests it receives from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward untouched.
    None,
    /// Wait this long before forwarding (the provider looks slow to its first byte).
    Delay(Duration),
    /// Answer this status with an S3 error body, without forwarding (500, 503 SlowDown).
    Status(u16),
    /// Accept and never answer.
    BlackHole,
    /// Close the connection without an answer.
    Reset,
    /// Forward the response head, then only this many body bytes, then cut the connection.
    TruncateAfter(usize),
    /// Flip one bit of the first body byte of successful GET responses.
    FlipBit,
}

struct State {
    upstream: Mutex<SocketAddr>,
    /// The fault, and whether it spares bucket-level requests (the gateway's health checks).
    fault: Mutex<(Fault, bool)>,
    object_gets: AtomicU64,
    object_puts: AtomicU64,
    /// Every request received, as `METHOD /path`, in order.
    requests: Mutex<Vec<String>>,
    client: Client<HttpConnector, Incoming>,
}

/// A running proxy; stops accepting when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fault proxy");
        let addr = listener.local_addr().expect("fault proxy address");
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let state = Arc::new(State {
            upstream: Mutex::new(upstream),
            fault: Mutex::new((Fault::None, false)),
            object_gets: AtomicU64::new(0),
            object_puts: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            client: Client::builder(TokioExecutor::new()).build(connector),
        });
        let accept_state = Arc::clone(&state);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&accept_state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state, accept }
    }

    /// `http://127.0.0.1:port`, for the gateway's provider config.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the fault for every request that arrives from now on.
    pub fn set(&self, fault: Fault) {
        if let Ok(mut f) = self.state.fault.lock() {
            *f = (fault, false);
        }
    }

    /// Sets the fault for object requests only: listings (the gateway's health checks) pass, so
    /// the provider looks reachable while its objects misbehave.
    pub fn set_for_objects(&self, fault: Fault) {
        if let Ok(mut f) = self.state.fault.lock() {
            *f = (fault, true);
        }
    }

    /// Points the proxy at another provider address (a restarted process).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        if let Ok(mut u) = self.state.upstream.lock() {
            *u = upstream;
        }
    }

    /// Object GETs received so far (GETs of `/bucket/key`, not listings).
    pub fn object_gets(&self) -> u64 {
        self.state.object_gets.load(Ordering::Relaxed)
    }

    /// Object writes received so far (PUTs of `/bucket/key`: objects and multipart parts).
    pub fn object_puts(&self) -> u64 {
        self.state.object_puts.load(Ordering::Relaxed)
    }

    /// How many requests received so far read `METHOD /path` with `needle` in them (a KMS
    /// proxy: `POST /v1/transit/encrypt/souverain` counts data keys wrapped under that KEK).
    pub fn requests_matching(&self, needle: &str) -> usize {
        self.state.requests.lock().map_or(0, |r| r.iter().filter(|line| line.contains(needle)).count())
    }
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes).map_err(|e: Infallible| match e {}).boxed()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<ProxyBody>, BoxError> {
    // `/bucket/key`; a listing may be `/bucket/` (an empty key), which is not an object.
    let object = req.uri().path().trim_start_matches('/').split_once('/').is_some_and(|(_, key)| !key.is_empty());
    if object && req.method() == hyper::Method::GET {
        state.object_gets.fetch_add(1, Ordering::Relaxed);
    }
    if object && req.method() == hyper::Method::PUT {
        state.object_puts.fetch_add(1, Ordering::Relaxed);
    }
    if let Ok(mut seen) = state.requests.lock() {
        seen.push(format!("{} {}", req.method(), req.uri().path()));
    }
    let fault = match state.fault.lock().map(|f| *f) {
        Ok((fault, objects_only)) if object || !objects_only => fault,
        _ => Fault::None,
    };
    match fault {
        Fault::BlackHole => std::future::pending::<()>().await,
        Fault::Reset => return Err("fault proxy: connection reset".into()),
        Fault::Status(code) => {
            let s3_code = if code == 503 { "SlowDown" } else { "InternalError" };
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code><Message>injected by the fault proxy</Message></Error>"
            );
            let mut resp = Response::new(full(Bytes::from(body)));
            *resp.status_mut() = hyper::StatusCode::from_u16(code)?;
            return Ok(resp);
        }
        Fault::Delay(d) => tokio::time::sleep(d).await,
        Fault::None | Fault::TruncateAfter(_) | Fault::FlipBit => {}
    }
    let upstream = state.upstream.lock().map(|u| *u).map_err(|_| "fault proxy: poisoned")?;
    let get = req.method() == hyper::Method::GET;
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    parts.uri = format!("http://{upstream}{path}").parse()?;
    let resp = state.client.request(Request::from_parts(parts, body)).await?;
    let ok_body = get && resp.status().is_success();
    let (parts, body) = resp.into_parts();
    let body: ProxyBody = match fault {
        Fault::TruncateAfter(n) => truncate(body, n),
        Fault::FlipBit if ok_body => flip_first_bit(body),
        _ => body.map_err(BoxError::from).boxed(),
    };
    Ok(Response::from_parts(parts, body))
}

/// Passes `limit` body bytes, then fails the body (hyper then aborts the connection).
fn truncate(body: Incoming, limit: usize) -> ProxyBody {
    let frames = BodyStream::new(body).scan(limit, |left, frame| {
        let out: Option<Result<Frame<Bytes>, BoxError>> = match frame {
            Err(e) => Some(Err(e.into())),
            Ok(f) => match f.into_data() {
                Ok(data) if *left == 0 => {
                    let _ = data;
                    Some(Err("fault proxy: body truncated".into()))
                }
                Ok(data) => {
                    let take = data.len().min(*left);
                    *left -= take;
                    Some(Ok(Frame::data(data.slice(..take))))
                }
                Err(other) => Some(Ok(other)),
            },
        };
        std::future::ready(out)
    });
    BoxBody::new(StreamBody::new(frames))
}

/// Flips the lowest bit of the first body byte.
fn flip_first_bit(body: Incoming) -> ProxyBody {
    let mut done = false;
    body.map_err(BoxError::from)
        .map_frame(move |f| match f.into_data() {
            Ok(data) if !done && !data.is_empty() => {
                done = true;
                let mut v = data.to_vec();
                v[0] ^= 1;
                Frame::data(Bytes::from(v))
            }
            Ok(data) => Frame::data(data),
            Err(other) => other,
        })
        .boxed()
}
