//! Put/Get/DeleteBucketLifecycle: the XML rules to [`LifecycleConfig`] and back. Transitions
//! (storage classes) answer 501: there are no storage classes here (docs/compatibility.md).

use s3s::dto::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, DeleteBucketLifecycleInput,
    DeleteBucketLifecycleOutput, ExpirationStatus, GetBucketLifecycleConfigurationInput,
    GetBucketLifecycleConfigurationOutput, LifecycleExpiration, LifecycleRule as RuleDto, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PutBucketLifecycleConfigurationInput,
    PutBucketLifecycleConfigurationOutput, Tag,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::svc;
use crate::frontend::convert::{dto_i32, dto_i64, timestamp};
use crate::frontend::error::not_implemented;
use crate::model::lifecycle::{Expiration, LifecycleConfig, LifecycleRule, NoncurrentExpiration, RuleFilter};
use crate::service::ObjectApi;

fn malformed(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedXML, message)
}

fn invalid(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, message)
}

/// A count of days or versions from the XML: positive (zero is left to the model's checks).
fn count(n: i32, what: &'static str) -> S3Result<u32> {
    u32::try_from(n).map_err(|_| invalid(what))
}

fn size(n: Option<i64>) -> S3Result<Option<u64>> {
    n.map(|n| u64::try_from(n).map_err(|_| invalid("Object size filters must not be negative"))).transpose()
}

fn filter(rule: &RuleDto) -> S3Result<RuleFilter> {
    let f = match (&rule.filter, &rule.prefix) {
        (Some(_), Some(_)) => return Err(malformed("A rule has either a Filter or a Prefix, not both")),
        (None, prefix) => {
            return Ok(RuleFilter { prefix: prefix.clone().unwrap_or_default(), ..RuleFilter::default() });
        }
        (Some(f), None) => f,
    };
    let given = [f.prefix.is_some(), f.tag.is_some(), f.and.is_some()];
    let sizes = [f.object_size_greater_than.is_some(), f.object_size_less_than.is_some()];
    if given.iter().chain(&sizes).filter(|g| **g).count() > 1 {
        return Err(malformed(
            "Filter must have exactly one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And",
        ));
    }
    Ok(match &f.and {
        Some(a) => RuleFilter {
            prefix: a.prefix.clone().unwrap_or_default(),
            size_greater_than: size(a.object_size_greater_than)?,
            size_less_than: size(a.object_size_less_than)?,
            tags: a.tags.iter().flatten().map(tag_pair).collect::<S3Result<_>>()?,
        },
        None => RuleFilter {
            prefix: f.prefix.clone().unwrap_or_default(),
            size_greater_than: size(f.object_size_greater_than)?,
            size_less_than: size(f.object_size_less_than)?,
            tags: f.tag.iter().map(tag_pair).collect::<S3Result<_>>()?,
        },
    })
}

fn tag_pair(t: &Tag) -> S3Result<(String, String)> {
    match (&t.key, &t.value) {
        (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
        _ => Err(malformed("A Tag needs a Key and a Value")),
    }
}

fn tag_dto((key, value): &(String, String)) -> Tag {
    Tag { key: Some(key.clone()), value: Some(value.clone()) }
}

fn expiration(e: Option<&LifecycleExpiration>) -> S3Result<Option<Expiration>> {
    let Some(e) = e else { return Ok(None) };
    let days_msg = "'Days' for Expiration action must be a positive integer";
    match (e.days, &e.date, e.expired_object_delete_marker) {
        (Some(d), None, None) => Ok(Some(Expiration::Days(count(d, days_msg)?))),
        (None, Some(t), None) => {
            let at = time::OffsetDateTime::from(t.clone());
            let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
            Ok(Some(Expiration::Date(ms)))
        }
        (None, None, Some(true)) => Ok(Some(Expiration::ExpiredDeleteMarker)),
        (None, None, Some(false)) => Ok(None),
        (None, None, None) => Err(malformed("Expiration names Days, Date or ExpiredObjectDeleteMarker")),
        _ => Err(malformed(
            "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
        )),
    }
}

fn noncurrent(n: Option<&NoncurrentVersionExpiration>) -> S3Result<Option<NoncurrentExpiration>> {
    let Some(n) = n else { return Ok(None) };
    let days = n.noncurrent_days.ok_or_else(|| malformed("NoncurrentVersionExpiration needs NoncurrentDays"))?;
    let days = count(days, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")?;
    let newer = n.newer_noncurrent_versions.map(|v| count(v, "NewerNoncurrentVersions must be between 1 and 100"));
    let newer_noncurrent = newer.transpose()?;
    if newer_noncurrent.is_some_and(|v| !(1..=100).contains(&v)) {
        return Err(invalid("NewerNoncurrentVersions must be between 1 and 100"));
    }
    Ok(Some(NoncurrentExpiration { days, newer_noncurrent }))
}

fn rule(r: &RuleDto) -> S3Result<LifecycleRule> {
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
    {
        return Err(not_implemented("lifecycle transitions (the gateway has one storage class)"));
    }
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed("Status must be Enabled or Disabled")),
    };
    let abort = r.abort_incomplete_multipart_upload.as_ref().map(|a| {
        let days = a
            .days_after_initiation
            .ok_or_else(|| malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation"))?;
        count(days, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
    });
    let id = match &r.id {
        Some(id) => id.clone(),
        // S3 names a rule given without an id; so does the gateway (random, as S3's are).
        None => hex::encode(crate::model::random_array::<12>().map_err(|_| S3Error::new(S3ErrorCode::InternalError))?),
    };
    Ok(LifecycleRule {
        id,
        enabled,
        filter: filter(r)?,
        expiration: expiration(r.expiration.as_ref())?,
        noncurrent: noncurrent(r.noncurrent_version_expiration.as_ref())?,
        abort_upload_after_days: abort.transpose()?,
    })
}

fn rule_dto(r: &LifecycleRule) -> RuleDto {
    let f = &r.filter;
    let sized = f.size_greater_than.is_some() || f.size_less_than.is_some();
    let filter = if !sized && f.tags.is_empty() {
        LifecycleRuleFilter { prefix: Some(f.prefix.clone()), ..Default::default() }
    } else if let ([tag], false, true) = (f.tags.as_slice(), sized, f.prefix.is_empty()) {
        LifecycleRuleFilter { tag: Some(tag_dto(tag)), ..Default::default() }
    } else if f.tags.is_empty() && f.prefix.is_empty() && (f.size_greater_than.is_none() || f.size_less_than.is_none())
    {
        LifecycleRuleFilter {
            object_size_greater_than: f.size_greater_than.map(dto_i64),
            object_size_less_than: f.size_less_than.map(dto_i64),
            ..Default::default()
        }
    } else {
        let and = LifecycleRuleAndOperator {
            prefix: Some(f.prefix.clone()),
            object_size_greater_than: f.size_greater_than.map(dto_i64),
            object_size_less_than: f.size_less_than.map(dto_i64),
            tags: (!f.tags.is_empty()).then(|| f.tags.iter().map(tag_dto).collect()),
        };
        LifecycleRuleFilter { and: Some(and), ..Default::default() }
    };
    let expiration = r.expiration.map(|e| match e {
        Expiration::Days(d) => LifecycleExpiration { days: Some(dto_i32(d)), ..Default::default() },
        Expiration::Date(ms) => LifecycleExpiration { date: Some(timestamp(ms)), ..Default::default() },
        Expiration::ExpiredDeleteMarker => {
            LifecycleExpiration { expired_object_delete_marker: Some(true), ..Default::default() }
        }
    });
    RuleDto {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        filter: Some(filter),
        expiration,
        noncurrent_version_expiration: r.noncurrent.map(|n| NoncurrentVersionExpiration {
            noncurrent_days: Some(dto_i32(n.days)),
            newer_noncurrent_versions: n.newer_noncurrent.map(dto_i32),
        }),
        abort_incomplete_multipart_upload: r
            .abort_upload_after_days
            .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: Some(dto_i32(d)) }),
        noncurrent_version_transitions: None,
        prefix: None,
        transitions: None,
    }
}

pub(super) async fn put_bucket_lifecycle_configuration(
    service: &dyn ObjectApi,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    super::object_lock::require_integrity_header(&req.headers)?;
    let i = req.input;
    let BucketLifecycleConfiguration { rules } =
        i.lifecycle_configuration.ok_or_else(|| malformed("The XML you provided was not well-formed"))?;
    let rules = rules.iter().map(rule).collect::<S3Result<Vec<_>>>()?;
    svc(service.put_bucket_lifecycle(&i.bucket, Some(LifecycleConfig { rules })).await)?;
    Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
}

pub(super) async fn get_bucket_lifecycle_configuration(
    service: &dyn ObjectApi,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let config = svc(service.bucket_lifecycle(&req.input.bucket).await)?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(config.rules.iter().map(rule_dto).collect()),
        transition_default_minimum_object_size: None,
    }))
}

pub(super) async fn delete_bucket_lifecycle(
    service: &dyn ObjectApi,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    svc(service.put_bucket_lifecycle(&req.input.bucket, None).await)?;
    Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
}
