//! Filling the generated s3s types, which repeat the same fields under distinct names (GET and
//! HEAD, every output carrying checksums): one macro per shape instead of one copy per type.

/// An output struct with its `checksum_*` fields filled from a [`ChecksumFields`]
/// (`typed`: with `checksum_type` too), the other fields as given, the rest default.
///
/// [`ChecksumFields`]: crate::frontend::convert::ChecksumFields
macro_rules! with_checksums {
    ($ty:ident, $c:expr, typed, { $($field:ident: $value:expr),* $(,)? }) => {{
        let c: $crate::frontend::convert::ChecksumFields = $c;
        let kind = c.kind.clone();
        with_checksums!($ty, c, { $($field: $value,)* checksum_type: kind })
    }};
    ($ty:ident, $c:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let c: $crate::frontend::convert::ChecksumFields = $c;
        #[allow(clippy::needless_update)] // some of these types have no other field
        let out = $ty {
            $($field: $value,)*
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        };
        out
    }};
}

/// The SSE-C key of a request (`copy_source`: the `x-amz-copy-source-` headers), read from
/// the input's fields with the connection it came on.
macro_rules! customer_key {
    ($req:expr, $i:expr) => {
        $crate::frontend::s3::sse::customer_key(
            &$crate::frontend::s3::sse::CustomerHeaders {
                algorithm: &$i.sse_customer_algorithm,
                key: &$i.sse_customer_key,
                key_md5: &$i.sse_customer_key_md5,
            },
            $req.extensions.get::<$crate::frontend::peer::Peer>(),
        )
    };
    ($req:expr, $i:expr, copy_source) => {
        $crate::frontend::s3::sse::customer_key(
            &$crate::frontend::s3::sse::CustomerHeaders {
                algorithm: &$i.copy_source_sse_customer_algorithm,
                key: &$i.copy_source_sse_customer_key,
                key_md5: &$i.copy_source_sse_customer_key_md5,
            },
            $req.extensions.get::<$crate::frontend::peer::Peer>(),
        )
    };
}

/// The SSE-KMS a PutObject, CopyObject or CreateMultipartUpload input asks for.
macro_rules! kms_request {
    ($i:expr) => {
        $crate::frontend::s3::sse::kms_request(
            &$i.server_side_encryption,
            &$i.ssekms_key_id,
            &$i.ssekms_encryption_context,
            $i.bucket_key_enabled,
        )
    };
}

/// The service request of a GetObject or HeadObject input (distinct generated types with the
/// same fields), with the SSE-C key `$customer`.
macro_rules! read_request {
    ($i:expr, $customer:expr) => {{
        $crate::service::GetRequest {
            customer_key: $customer,
            bucket: $i.bucket.clone(),
            key: $i.key.clone(),
            range: $crate::frontend::convert::range($i.range),
            part_number: $i.part_number.map(|n| u32::try_from(n).unwrap_or(0)),
            conditions: $crate::frontend::convert::conditions(
                &$i.if_match,
                &$i.if_none_match,
                &$i.if_modified_since,
                &$i.if_unmodified_since,
            ),
            version_id: $i.version_id.clone(),
        }
    }};
}

/// The body of a PutObject or UploadPart input, with its integrity headers and trailers.
macro_rules! request_body {
    ($i:expr, $req:expr) => {{
        let checksum = $crate::frontend::convert::header_checksum(
            &$i.checksum_crc32,
            &$i.checksum_crc32c,
            &$i.checksum_crc64nvme,
            &$i.checksum_sha1,
            &$i.checksum_sha256,
        )?;
        $crate::frontend::convert::client_body(
            $i.body,
            $crate::frontend::convert::BodyHeaders {
                content_length: $i.content_length,
                content_md5: $i.content_md5.as_deref(),
                header_checksum: checksum,
                sdk_algorithm: $i.checksum_algorithm.as_ref(),
                headers: &$req.headers,
                trailing: $req.trailing_headers,
                unknown_length: $req.extensions.get::<$crate::frontend::unknown_length::UnknownLength>().is_some(),
            },
        )?
    }};
}

/// The content headers and user metadata an input asks to store.
macro_rules! stored_headers {
    ($i:expr) => {
        $crate::frontend::convert::content_headers(
            $i.content_type.map(|c| c.to_string()),
            $i.content_encoding,
            $i.content_disposition,
            $i.content_language,
            $i.cache_control,
            $i.expires,
            $i.metadata,
        )
    };
}

/// The write headers every write input shares that the gateway refuses (see
/// [`refuse_unsupported_write`](crate::frontend::s3::refuse::refuse_unsupported_write)), with
/// the SSE-C, KMS and grant fields each type names differently given as booleans.
macro_rules! refuse_unsupported_write {
    ($i:expr, grants: $grants:expr $(,)?) => {
        $crate::frontend::s3::refuse::refuse_unsupported_write(
            $crate::frontend::s3::refuse::Refusals { grants: $grants },
            &$i.website_redirect_location,
            &$i.acl,
            &$i.storage_class,
        )
    };
}
