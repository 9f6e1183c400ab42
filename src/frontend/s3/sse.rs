//! Server-side encryption on the wire: SSE-KMS's `x-amz-server-side-encryption: aws:kms` and
//! its key id, SSE-C's `x-amz-server-side-encryption-customer-*` headers (and their
//! `x-amz-copy-source-` twins) read into a [`CustomerKey`], with S3's errors for each way they
//! can be wrong, and the encryption headers of an answer.

use base64::Engine as _;
use md5::Digest as _;
use s3s::dto::ServerSideEncryption;
use s3s::{S3Error, S3ErrorCode, S3Result};
use zeroize::Zeroizing;

use crate::frontend::error::not_implemented;
use crate::frontend::peer::Peer;
use crate::model::KmsContext;
use crate::service::CustomerKey;
use crate::service::encryption::{KmsRequest, ObjectEncryption};

/// The SSE-C headers of a request, as s3s parsed them.
pub(crate) struct CustomerHeaders<'a> {
    pub algorithm: &'a Option<String>,
    pub key: &'a Option<String>,
    pub key_md5: &'a Option<String>,
}

fn invalid_argument(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message)
}

/// The customer key the headers carry, if any (S3's messages for each refusal). The key is
/// refused on a plain-HTTP connection from another machine, where it crossed the network in
/// the clear (S3 refuses SSE-C over HTTP; loopback is the gateway's own machine, e.g. behind a
/// TLS-terminating proxy).
pub(crate) fn customer_key(h: &CustomerHeaders<'_>, peer: Option<&Peer>) -> S3Result<Option<CustomerKey>> {
    if h.algorithm.is_none() && h.key.is_none() && h.key_md5.is_none() {
        return Ok(None);
    }
    if !secure_enough(peer) {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    match h.algorithm.as_deref() {
        Some("AES256") => {}
        Some(_) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidEncryptionAlgorithmError,
                "The Encryption request you specified is not valid. Supported value: AES256.",
            ));
        }
        None => {
            return Err(invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ));
        }
    }
    let Some(key) = h.key.as_deref() else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let Some(key_md5) = h.key_md5.as_deref() else {
        return Err(invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let invalid_key = || invalid_argument("The secret key was invalid for the specified algorithm.");
    let decoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(key).map_err(|_| invalid_key())?);
    let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| invalid_key())?;
    let md5 = base64::engine::general_purpose::STANDARD.decode(key_md5).unwrap_or_default();
    if md5 != md5::Md5::digest(bytes).as_slice() {
        return Err(invalid_argument("The calculated MD5 hash of the key did not match the hash that was provided."));
    }
    Ok(Some(CustomerKey::new(Zeroizing::new(bytes))))
}

/// The SSE-KMS a write asks for: `aws:kms` with its key id, if named, and its encryption
/// context (bound into the data key's wrapping), if given. A key id or context without
/// `aws:kms` is S3's 400, so is a context that is not base64 of a JSON map of strings; S3
/// Bucket Keys (a KMS cost feature of AWS) are not implemented (501), DSSE-KMS neither.
pub(crate) fn kms_request(
    sse: &Option<ServerSideEncryption>,
    key_id: &Option<String>,
    context: &Option<String>,
    bucket_key: Option<bool>,
) -> S3Result<Option<KmsRequest>> {
    match sse.as_ref().map(ServerSideEncryption::as_str) {
        Some(ServerSideEncryption::AWS_KMS) => {
            if bucket_key == Some(true) {
                return Err(not_implemented("S3 Bucket Keys (x-amz-server-side-encryption-bucket-key-enabled)"));
            }
            let context = context.as_deref().map(KmsContext::from_header).transpose();
            let context = context.map_err(|e| S3Error::with_message(S3ErrorCode::InvalidArgument, e.to_string()))?;
            Ok(Some(KmsRequest { key_id: key_id.clone(), context: context.flatten() }))
        }
        Some(ServerSideEncryption::AWS_KMS_DSSE) => Err(not_implemented("DSSE-KMS (aws:kms:dsse)")),
        None | Some(ServerSideEncryption::AES256) => {
            if key_id.is_some() || context.is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                ));
            }
            Ok(None)
        }
        Some(_) => Err(invalid_argument("The encryption method specified is not supported")),
    }
}

/// A request may ask for SSE-C or name an SSE algorithm, not both (S3's 400).
pub(crate) fn one_encryption(sse: &Option<ServerSideEncryption>, customer: &Option<CustomerKey>) -> S3Result<()> {
    if sse.is_some() && customer.is_some() {
        return Err(invalid_argument(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        ));
    }
    Ok(())
}

/// Whether a customer key may arrive on this connection: TLS, or the loopback interface.
fn secure_enough(peer: Option<&Peer>) -> bool {
    peer.is_some_and(|p| p.tls || p.addr.ip().is_loopback())
}

/// The encryption headers of an answer about an object: SSE-C's algorithm and key MD5 for an
/// object under a customer key, `aws:kms` with the KEK's name for one under a KMS key, else
/// `x-amz-server-side-encryption: AES256` (every object is encrypted by the gateway).
#[derive(Default)]
pub(super) struct SseAnswer {
    pub server_side_encryption: Option<ServerSideEncryption>,
    pub kms_key_id: Option<String>,
    /// The encryption context, as S3 answers it (PUT, COPY, CreateMultipartUpload only).
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
}

impl SseAnswer {
    /// For an object whose data key `encryption` wraps, reached with `customer` (the service
    /// refuses any mismatch, so the request's key is the object's).
    pub(super) fn of(encryption: &ObjectEncryption, customer: Option<&CustomerKey>) -> Self {
        match (encryption, customer) {
            (_, Some(key)) => Self {
                customer_algorithm: Some("AES256".into()),
                customer_key_md5: Some(key.md5_base64()),
                ..Self::default()
            },
            (ObjectEncryption::Kms(kek, context), None) => Self {
                server_side_encryption: Some(ServerSideEncryption::from_static(ServerSideEncryption::AWS_KMS)),
                kms_key_id: Some(kek.clone()),
                kms_context: context.as_ref().map(KmsContext::to_header),
                bucket_key_enabled: Some(false),
                ..Self::default()
            },
            (ObjectEncryption::GatewayKey | ObjectEncryption::Customer, None) => Self {
                server_side_encryption: Some(ServerSideEncryption::from_static(ServerSideEncryption::AES256)),
                ..Self::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str, tls: bool) -> Peer {
        Peer { addr: addr.parse().unwrap(), tls }
    }

    fn headers<'a>(alg: &'a Option<String>, key: &'a Option<String>, md5: &'a Option<String>) -> CustomerHeaders<'a> {
        CustomerHeaders { algorithm: alg, key, key_md5: md5 }
    }

    // 32 × 'A' and its MD5.
    const KEY: &str = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
    const MD5: &str = "UhbdzFjo2t5SVgded/ZC2g==";

    #[test]
    fn a_customer_key_crosses_only_tls_or_loopback() {
        let (alg, key, md5) = (Some("AES256".to_owned()), Some(KEY.to_owned()), Some(MD5.to_owned()));
        let h = headers(&alg, &key, &md5);
        for ok in [peer("127.0.0.1:1", false), peer("[::1]:1", false), peer("192.0.2.7:1", true)] {
            assert_eq!(customer_key(&h, Some(&ok)).unwrap().unwrap().md5_base64(), MD5);
        }
        for refused in [Some(peer("192.0.2.7:1", false)), Some(peer("[2001:db8::1]:1", false)), None] {
            let e = customer_key(&h, refused.as_ref()).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
            assert!(e.message().unwrap().contains("secure connection"));
        }
    }

    /// Algorithm, key, key MD5; the error code and a part of its message.
    type Case = (Option<String>, Option<String>, Option<String>, S3ErrorCode, &'static str);

    #[test]
    fn each_malformed_header_set_gets_s3s_error() {
        let local = peer("127.0.0.1:1", false);
        let some = |s: &str| Some(s.to_owned());
        let cases: [Case; 6] = [
            (some("aws:kms"), some(KEY), some(MD5), S3ErrorCode::InvalidEncryptionAlgorithmError, "Supported value"),
            (None, some(KEY), some(MD5), S3ErrorCode::InvalidArgument, "valid encryption algorithm"),
            (some("AES256"), None, some(MD5), S3ErrorCode::InvalidArgument, "appropriate secret key"),
            (some("AES256"), some(KEY), None, S3ErrorCode::InvalidArgument, "calculated MD5 of the secret key"),
            (some("AES256"), some("QUFB"), some(MD5), S3ErrorCode::InvalidArgument, "invalid for the specified"),
            (
                some("AES256"),
                some(KEY),
                some("AAAAAAAAAAAAAAAAAAAAAA=="),
                S3ErrorCode::InvalidArgument,
                "did not match",
            ),
        ];
        for (alg, key, md5, code, message) in cases {
            let e = customer_key(&headers(&alg, &key, &md5), Some(&local)).unwrap_err();
            assert_eq!((e.code(), e.message().unwrap().contains(message)), (&code, true), "{:?}", e.message());
        }
        assert!(customer_key(&headers(&None, &None, &None), None).unwrap().is_none());
    }
}
