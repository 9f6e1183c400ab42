//! The connection a request came on (the client's address, whether TLS), put into each
//! request's extensions for the bucket policies' `aws:SourceIp` and `aws:SecureTransport`.

use std::net::SocketAddr;

/// The connection of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// A service whose requests carry their [`Peer`].
#[derive(Clone)]
pub struct WithPeer<S> {
    inner: S,
    peer: Peer,
}

impl<S> WithPeer<S> {
    /// `inner`, for requests on the connection from `peer`.
    pub fn new(inner: S, peer: Peer) -> Self {
        Self { inner, peer }
    }
}

impl<S, B> hyper::service::Service<http::Request<B>> for WithPeer<S>
where
    S: hyper::service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.peer);
        self.inner.call(req)
    }
}
