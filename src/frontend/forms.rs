//! POST object: HTML form uploads to `POST /bucket` (AWS "Browser-based uploads using POST",
//! SigV4 forms). The form is read field by field until the file; the signature and policy
//! are checked then (`form_policy`), before a byte of the file is read; the file streams into
//! an ordinary PutObject of unknown length (stored in pieces, never held whole), its size held
//! to the policy's `content-length-range` while it streams. s3s is not involved: it would
//! gather the whole file in memory first.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyStream;
use hyper::body::Incoming;
use s3s::{HttpError, HttpResponse, S3Error, S3ErrorCode, S3Result};

use super::addressing::{Addressing, bucket_of};
use super::body_timeout::IdleTimeout;
use super::form_policy::{FormFields, check_policy, credential, verify_signature};
use super::limits::Limited;
use super::peer::Peer;
use crate::error::BodyError;
use crate::model::ContentHeaders;
use crate::service::{Caller, ClientBody, Gate, PutRequest};

/// Form fields before the file: at most this many, each at most [`MAX_FIELD_BYTES`].
const MAX_FIELDS: usize = 100;
const MAX_FIELD_BYTES: u64 = 64 * 1024;

/// Form uploads in front of the rest of the S3 service.
#[derive(Clone)]
pub struct Forms {
    inner: Limited,
    gate: Arc<dyn Gate>,
    addressing: Addressing,
    body_timeout: Duration,
}

impl Forms {
    /// Wraps `inner`.
    pub fn new(inner: Limited, gate: Arc<dyn Gate>, addressing: Addressing, body_timeout: Duration) -> Self {
        Self { inner, gate, addressing, body_timeout }
    }
}

/// A POST whose body is a form (`multipart/form-data`), to a bucket: S3's POST object.
fn form_boundary(req: &Request<Incoming>) -> Option<String> {
    if req.method() != Method::POST {
        return None;
    }
    let content_type = req.headers().get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(content_type).ok()
}

fn malformed(message: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedPOSTRequest, message.into())
}

impl hyper::service::Service<Request<Incoming>> for Forms {
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = futures_util::future::BoxFuture<'static, Result<HttpResponse, HttpError>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let Some(boundary) = form_boundary(&req) else {
            let inner = self.inner.clone();
            return Box::pin(async move { inner.call(req).await });
        };
        let path = self.addressing.path_style(&req);
        let (bucket, key_in_path) = match path.trim_start_matches('/').split_once('/') {
            Some((b, k)) => (b.to_owned(), !k.is_empty()),
            None => (bucket_of(&path).unwrap_or_default().to_owned(), false),
        };
        let (gate, timeout) = (Arc::clone(&self.gate), self.body_timeout);
        Box::pin(async move {
            let answer = if key_in_path || bucket.is_empty() {
                Err(S3Error::with_message(S3ErrorCode::MethodNotAllowed, "POST object goes to the bucket's URL"))
            } else {
                upload(gate, bucket, boundary, req, timeout).await
            };
            answer.or_else(S3Error::to_http_response).map_err(|e| HttpError::new(Box::new(e)))
        })
    }
}

/// The file's bytes, failing as soon as they exceed `max` and, at their end, if fewer than
/// `min`: the policy's range holds while the file streams.
fn bounded(file: multer::Field<'static>, (min, max): (u64, u64)) -> BoxStream<'static, Result<Bytes, BodyError>> {
    futures_util::stream::unfold(Some((file, 0u64)), move |state| async move {
        let (mut file, seen) = state?;
        match file.next().await {
            Some(Ok(chunk)) => {
                let seen = seen + chunk.len() as u64;
                if seen > max {
                    return Some((Err(BodyError::TooLarge(max)), None));
                }
                Some((Ok(chunk), Some((file, seen))))
            }
            Some(Err(e)) => Some((Err(BodyError::Incomplete(e.to_string())), None)),
            None if seen < min => Some((Err(BodyError::TooSmall(min)), None)),
            None => None,
        }
    })
    .boxed()
}

/// Reads the fields before the file; the file field itself.
async fn fields_until_file(form: &mut multer::Multipart<'static>) -> S3Result<(FormFields, multer::Field<'static>)> {
    let mut fields = Vec::new();
    loop {
        let field = form.next_field().await.map_err(|e| malformed(format!("the form could not be read: {e}")))?;
        let Some(field) = field else {
            return Err(malformed("POST requires exactly one file upload per request."));
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            return Ok((FormFields(fields), field));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(malformed("too many form fields"));
        }
        let value = field.text().await.map_err(|e| malformed(format!("form field {name}: {e}")))?;
        fields.push((name, value));
    }
}

/// The stored headers a form's fields ask for.
fn content_headers(fields: &FormFields) -> ContentHeaders {
    let text = |name: &str| fields.get(name).map(str::to_owned);
    let mut user_metadata: Vec<(String, String)> =
        fields.0.iter().filter_map(|(k, v)| Some((k.strip_prefix("x-amz-meta-")?.to_owned(), v.clone()))).collect();
    user_metadata.sort();
    ContentHeaders {
        content_type: text("content-type"),
        content_encoding: text("content-encoding"),
        content_disposition: text("content-disposition"),
        content_language: text("content-language"),
        cache_control: text("cache-control"),
        expires_unix: None,
        user_metadata,
    }
}

/// The encryption fields, as the headers of a PutObject: SSE-C's
/// `x-amz-server-side-encryption-customer-*` (the key crosses the network in the form, so the
/// same transport rule), or `x-amz-server-side-encryption` with SSE-KMS's key id.
fn form_encryption(
    fields: &FormFields,
    peer: Option<&Peer>,
) -> S3Result<(Option<crate::service::CustomerKey>, Option<crate::service::encryption::KmsRequest>)> {
    use super::s3::sse;
    let field = |name: &str| fields.get(name).map(str::to_owned);
    let headers = sse::CustomerHeaders {
        algorithm: &field("x-amz-server-side-encryption-customer-algorithm"),
        key: &field("x-amz-server-side-encryption-customer-key"),
        key_md5: &field("x-amz-server-side-encryption-customer-key-md5"),
    };
    let customer = sse::customer_key(&headers, peer)?;
    let algorithm = field("x-amz-server-side-encryption").map(s3s::dto::ServerSideEncryption::from);
    sse::one_encryption(&algorithm, &customer)?;
    let bucket_key =
        fields.get("x-amz-server-side-encryption-bucket-key-enabled").map(|v| v.eq_ignore_ascii_case("true"));
    let kms = sse::kms_request(
        &algorithm,
        &field("x-amz-server-side-encryption-aws-kms-key-id"),
        &field("x-amz-server-side-encryption-context"),
        bucket_key,
    )?;
    Ok((customer, kms))
}

/// The `tagging` field: a `<Tagging>` document, as PutObjectTagging's body.
fn form_tags(xml: &str) -> S3Result<crate::model::tagging::TagSet> {
    use s3s::xml::Deserialize as _;
    let tagging = s3s::dto::Tagging::deserialize(&mut s3s::xml::Deserializer::new(xml.as_bytes()))
        .map_err(|_| S3Error::with_message(S3ErrorCode::MalformedXML, "the tagging field is not a Tagging document"))?;
    super::s3::tagging::body_tags(tagging, crate::model::tagging::MAX_OBJECT_TAGS)
}

/// The checksum fields: `x-amz-checksum-<algorithm>` with the value the file must have (at
/// most one), or `x-amz-checksum-algorithm` alone to have one computed and stored.
fn form_checksum(fields: &FormFields) -> S3Result<(Option<crate::model::ChecksumAlgorithm>, Option<String>)> {
    let field = |name: &str| fields.get(name).map(str::to_owned);
    let given = super::convert::header_checksum(
        &field("x-amz-checksum-crc32"),
        &field("x-amz-checksum-crc32c"),
        &field("x-amz-checksum-crc64nvme"),
        &field("x-amz-checksum-sha1"),
        &field("x-amz-checksum-sha256"),
    )?;
    let named = fields
        .get("x-amz-checksum-algorithm")
        .map(|a| {
            crate::model::ChecksumAlgorithm::parse(a)
                .ok_or_else(|| S3Error::with_message(S3ErrorCode::InvalidRequest, "unsupported checksum algorithm"))
        })
        .transpose()?;
    match (named, given) {
        (Some(a), Some((b, _))) if a != b => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "x-amz-checksum-algorithm does not match the checksum field given",
        )),
        (_, Some((a, value))) => Ok((Some(a), Some(value))),
        (named, None) => Ok((named, None)),
    }
}

/// Refuses fields asking for what the gateway does not do with a form (501, never ignored).
fn refuse_unsupported(fields: &FormFields) -> S3Result<()> {
    let unsupported =
        |what: &str| Err(S3Error::with_message(S3ErrorCode::NotImplemented, format!("{what} in a POST form")));
    if fields.get("acl").is_some_and(|a| a != "private") {
        return unsupported("ACLs other than private");
    }
    if fields.get("expires").is_some() || fields.get("x-amz-website-redirect-location").is_some() {
        return unsupported("Expires and website redirects");
    }
    if fields.0.iter().any(|(k, _)| k.starts_with("x-amz-object-lock-")) {
        return unsupported("Object Lock");
    }
    if fields.get("x-amz-storage-class").is_some_and(|c| c != "STANDARD") {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        ));
    }
    Ok(())
}

/// Checks the form's signature and policy: the access key it is signed with (none for an
/// unsigned form) and the file's length range.
async fn authenticate(gate: &dyn Gate, fields: &FormFields, bucket: &str) -> S3Result<(Option<String>, (u64, u64))> {
    let all = (0, crate::service::MAX_OBJECT_SIZE);
    let Some(policy) = fields.get("policy") else {
        // An unsigned form: the bucket's policy alone decides (public write).
        return Ok((None, all));
    };
    if fields.get("x-amz-algorithm") != Some("AWS4-HMAC-SHA256") {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "POST forms are signed with SigV4 (AWS4-HMAC-SHA256) only",
        ));
    }
    let cred = credential(fields.get("x-amz-credential").unwrap_or_default())?;
    let signature = fields.get("x-amz-signature").unwrap_or_default();
    let secret = gate.secret(cred.access_key).await.map_err(|e| super::error::to_s3(&e))?.ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })?;
    verify_signature(&cred, secret.expose(), policy, signature)?;
    let range = check_policy(policy, fields, bucket, time::OffsetDateTime::now_utc())?;
    Ok((Some(cred.access_key.to_owned()), range.unwrap_or(all)))
}

/// Reads, checks and stores one form upload; the answer S3 gives for it.
async fn upload(
    gate: Arc<dyn Gate>,
    bucket: String,
    boundary: String,
    req: Request<Incoming>,
    timeout: Duration,
) -> S3Result<HttpResponse> {
    let peer = req.extensions().get::<Peer>().copied();
    let body = IdleTimeout::new(req.into_body(), timeout);
    let stream = BodyStream::new(body).filter_map(|frame| async move {
        match frame {
            Ok(f) => f.into_data().ok().map(Ok),
            Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
        }
    });
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new().per_field(MAX_FIELD_BYTES).for_field("file", crate::service::MAX_OBJECT_SIZE),
    );
    let mut form = multer::Multipart::with_constraints(stream, boundary, limits);
    let (fields, file) = fields_until_file(&mut form).await?;
    refuse_unsupported(&fields)?;
    let (access_key, range) = authenticate(gate.as_ref(), &fields, &bucket).await?;
    let file_name = file.file_name().unwrap_or_default().to_owned();
    let key =
        fields.get("key").ok_or_else(|| malformed("POST requires the key field"))?.replace("${filename}", &file_name);
    let content_md5 = match fields.get("content-md5") {
        Some(m) => Some(super::convert::decode_content_md5(m)?),
        None => None,
    };
    let tags = match fields.get("tagging") {
        Some(xml) => form_tags(xml)?,
        None => crate::model::tagging::TagSet::default(),
    };
    let (algorithm, expected_checksum) = form_checksum(&fields)?;
    let (customer_key, kms) = form_encryption(&fields, peer.as_ref())?;
    let put = PutRequest {
        bucket: bucket.clone(),
        key: key.clone(),
        headers: content_headers(&fields),
        condition: crate::model::WriteCondition::None,
        lock: crate::service::LockRequest::default(),
        tags,
        customer_key,
        kms,
    };
    let body = ClientBody {
        len: None,
        stream: bounded(file, range),
        content_md5,
        algorithm,
        expected_checksum,
        trailers: None,
    };
    let caller =
        Caller { access_key, source_ip: peer.as_ref().map(|p| p.addr.ip()), secure: peer.is_some_and(|p| p.tls) };
    let session = gate.session(caller).await.map_err(|e| super::error::to_s3(&e))?;
    let out = session.put_object(put, body).await.map_err(|e| super::error::to_s3(&e))?;
    answer(&fields, &bucket, &key, &format!("\"{}\"", out.etag.0))
}

/// S3's answer to a stored form upload: a redirect to `success_action_redirect` (with bucket,
/// key and ETag), else `success_action_status` 200, 201 (with an XML body) or 204 (default).
fn answer(fields: &FormFields, bucket: &str, key: &str, etag: &str) -> S3Result<HttpResponse> {
    let url_encoded = |s: &str| super::convert::url_encode(s).replace('/', "%2F");
    let mut resp = if let Some(to) = fields.get("success_action_redirect").or(fields.get("redirect")) {
        let sep = if to.contains('?') { '&' } else { '?' };
        let location =
            format!("{to}{sep}bucket={}&key={}&etag={}", url_encoded(bucket), url_encoded(key), url_encoded(etag));
        let mut r = HttpResponse::new(s3s::Body::empty());
        *r.status_mut() = StatusCode::SEE_OTHER;
        r.headers_mut().insert(http::header::LOCATION, header_value(&location)?);
        r
    } else {
        match fields.get("success_action_status") {
            Some("201") => {
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>/{b}/{k}</Location><Bucket>{b}</Bucket><Key>{k}</Key><ETag>{e}</ETag></PostResponse>",
                    b = xml_escape(bucket),
                    k = xml_escape(key),
                    e = xml_escape(etag)
                );
                let mut r = HttpResponse::new(s3s::Body::from(xml));
                *r.status_mut() = StatusCode::CREATED;
                r.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                r
            }
            Some("200") => HttpResponse::new(s3s::Body::empty()),
            _ => {
                let mut r = HttpResponse::new(s3s::Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            }
        }
    };
    resp.headers_mut().insert(http::header::ETAG, header_value(etag)?);
    if !resp.headers().contains_key(http::header::LOCATION) {
        let object = format!("/{bucket}/{}", url_encoded(key));
        resp.headers_mut().insert(http::header::LOCATION, header_value(&object)?);
    }
    Ok(resp)
}

fn header_value(v: &str) -> S3Result<HeaderValue> {
    HeaderValue::from_str(v)
        .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidArgument, "a value that is not a valid header"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
