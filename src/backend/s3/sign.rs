//! SigV4 signing of provider requests: the only importer of `aws_sigv4`.

use std::fmt;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4::{SigningParams, sign_chunk};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

/// What the signature says about the body.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// `UNSIGNED-PAYLOAD` (streamed sealed bodies).
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// A body in memory, hashed into the signature.
    Bytes(&'a [u8]),
    /// A payload hash given as is (an aws-chunked mode such as
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`); no chunk signatures follow.
    Declared(&'a str),
}

/// Signs requests for one provider. Its `Debug` never shows the secret.
pub struct RequestSigner {
    identity: Identity,
    access_key: String,
    region: String,
}

impl fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSigner")
            .field("access_key", &self.access_key)
            .field("secret", &"<redacted>")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl RequestSigner {
    /// A signer for `region` (never derived: it must match the provider's SigV4 scope).
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        let creds = Credentials::new(access_key, secret_key, None, None, "souverain-config");
        Self { identity: creds.into(), access_key: access_key.to_owned(), region: region.to_owned() }
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to `req`. The `host`
    /// header must already be set. For [`Payload::StreamingSigned`] the returned chunk signer
    /// signs the body's chunks, chained to this request's signature.
    pub fn sign<B>(&self, req: &mut http::Request<B>, payload: Payload<'_>) -> Result<ChunkSigner, String> {
        let time = SystemTime::now();
        let params = params(&self.identity, &self.region, time)?.into();
        let headers = req.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let body = match payload {
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::Bytes(b) => SignableBody::Bytes(b),
            Payload::StreamingSigned => SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into()),
            Payload::Declared(hash) => SignableBody::Precomputed(hash.into()),
        };
        let signable = SignableRequest::new(req.method().as_str(), req.uri().to_string(), headers, body)
            .map_err(|e| e.to_string())?;
        let (instructions, signature) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
        instructions.apply_to_request_http1x(req);
        Ok(ChunkSigner { identity: self.identity.clone(), region: self.region.clone(), time, previous: signature })
    }
}

fn params<'a>(
    identity: &'a Identity,
    region: &'a str,
    time: SystemTime,
) -> Result<SigningParams<'a, SigningSettings>, String> {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())
}

/// Signs the chunks of one aws-chunked body, each chained to the previous signature. Owns
/// what it needs, so the body stream can outlive the request builder.
pub struct ChunkSigner {
    identity: Identity,
    region: String,
    time: SystemTime,
    previous: String,
}

impl ChunkSigner {
    /// The signature of the next chunk (an empty chunk ends the body).
    pub fn next(&mut self, chunk: &Bytes) -> Result<String, String> {
        let params = params(&self.identity, &self.region, self.time)?;
        let signature = sign_chunk(chunk, &self.previous, &params).map_err(|e| e.to_string())?.into_parts().1;
        self.previous.clone_from(&signature);
        Ok(signature)
    }
}
