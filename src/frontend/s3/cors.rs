//! PutBucketCors, GetBucketCors, DeleteBucketCors: the XML rules to [`CorsConfig`] and back.
//! The rules are applied to browsers' requests by the CORS layer (`frontend/cors.rs`).

use s3s::dto::{
    CORSConfiguration, CORSRule, DeleteBucketCorsInput, DeleteBucketCorsOutput, GetBucketCorsInput,
    GetBucketCorsOutput, PutBucketCorsInput, PutBucketCorsOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::model::cors::{CorsConfig, CorsRule};
use crate::service::ObjectApi;

fn rule(r: CORSRule) -> S3Result<CorsRule> {
    let max_age_secs = r
        .max_age_seconds
        .map(|s| {
            u32::try_from(s)
                .map_err(|_| S3Error::with_message(S3ErrorCode::InvalidArgument, "MaxAgeSeconds must not be negative"))
        })
        .transpose()?;
    Ok(CorsRule {
        id: r.id,
        allowed_origins: r.allowed_origins,
        allowed_methods: r.allowed_methods,
        allowed_headers: r.allowed_headers.unwrap_or_default(),
        expose_headers: r.expose_headers.unwrap_or_default(),
        max_age_secs,
    })
}

fn rule_dto(r: &CorsRule) -> CORSRule {
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
        expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
        max_age_seconds: r.max_age_secs.map(crate::frontend::convert::dto_i32),
    }
}

pub(super) async fn put_bucket_cors(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let i = req.input;
    let CORSConfiguration { cors_rules } = i.cors_configuration;
    let rules = cors_rules.into_iter().map(rule).collect::<S3Result<Vec<_>>>()?;
    svc(service.put_bucket_cors(&i.bucket, Some(CorsConfig { rules })).await)?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(super) async fn get_bucket_cors(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let config = svc(service.bucket_cors(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(config.rules.iter().map(rule_dto).collect()) }))
}

pub(super) async fn delete_bucket_cors(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    svc(service.put_bucket_cors(&req.input.bucket, None).await)?;
    Ok(S3Response::with_status(DeleteBucketCorsOutput::default(), http::StatusCode::NO_CONTENT))
}
