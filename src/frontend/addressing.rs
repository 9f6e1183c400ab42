//! Where a request's bucket is named: in its `Host` (`bucket.<domain>`, virtual-hosted style,
//! for the configured `server.domains`) or in its path's first segment (path style). The
//! layers in front of s3s (metrics, CORS, body limits) read requests in path style through
//! this, so both styles are measured and limited alike.

use std::borrow::Cow;
use std::sync::Arc;

/// The virtual-hosting domains.
#[derive(Debug, Clone, Default)]
pub struct Addressing {
    domains: Arc<[String]>,
}

impl Addressing {
    /// Over `domains` (lower case, checked by the configuration).
    pub fn new(domains: &[String]) -> Self {
        Self { domains: domains.into() }
    }

    /// The bucket the `Host` names, if it is `<bucket>.<domain>` (port and case ignored).
    pub fn virtual_bucket(&self, host: Option<&str>) -> Option<String> {
        let host = host?;
        let host = host.rsplit_once(':').map_or(host, |(name, _)| name).to_ascii_lowercase();
        self.domains.iter().find_map(|d| host.strip_suffix(d.as_str())?.strip_suffix('.').map(str::to_owned))
    }

    /// The request's path as path style writes it (`/bucket/key`).
    pub fn path_style<'a>(&self, req: &'a http::Request<impl Sized>) -> Cow<'a, str> {
        let host = req.headers().get(http::header::HOST).and_then(|v| v.to_str().ok());
        let host = host.or_else(|| req.uri().authority().map(http::uri::Authority::as_str));
        match self.virtual_bucket(host) {
            Some(bucket) => Cow::Owned(format!("/{bucket}{}", req.uri().path())),
            None => Cow::Borrowed(req.uri().path()),
        }
    }
}

/// What s3s asks of a request's `Host`: the bucket of `<bucket>.<domain>`; any other host
/// (the domain itself, an address, another name) is path style. No error and no CNAME-style
/// guess: an address or a name the configuration does not list always means path style.
impl s3s::host::S3Host for Addressing {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        let vh = s3s::host::VirtualHost::new(host);
        Ok(match self.virtual_bucket(Some(host)) {
            Some(bucket) => vh.with_bucket(bucket),
            None => vh,
        })
    }
}

/// The bucket a path-style path names.
pub fn bucket_of(path: &str) -> Option<&str> {
    path.trim_start_matches('/').split('/').next().filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).header("host", host).body(()).unwrap()
    }

    #[test]
    fn the_bucket_is_named_by_the_host_or_the_path() {
        let a = Addressing::new(&["s3.example.eu".to_owned()]);
        assert_eq!(a.path_style(&request("127.0.0.1:9000", "/photos/a.jpg")), "/photos/a.jpg");
        assert_eq!(a.path_style(&request("Photos.S3.example.eu:9000", "/a.jpg")), "/photos/a.jpg");
        assert_eq!(a.path_style(&request("photos.s3.example.eu", "/")), "/photos/");
        assert_eq!(a.path_style(&request("s3.example.eu", "/photos/a.jpg")), "/photos/a.jpg", "path style");
        assert_eq!(a.virtual_bucket(Some("evil-s3.example.eu")), None, "not a sub-domain");
        assert_eq!(bucket_of("/photos/a.jpg"), Some("photos"));
        assert_eq!(bucket_of("/"), None);
    }
}
