//! Residency policies, from the config file or the admin API.

use crate::model::redundancy::MAX_SHARDS;
use crate::model::{Distinct, ErasureShards, ResidencyPolicy, expand_countries};

use super::error::FieldError;
use super::raw;

/// Validates a policy given to the admin API (JSON, the fields of a `[[policy]]` section).
pub fn parse_policy(raw: raw::RawPolicy) -> Result<ResidencyPolicy, FieldError> {
    policy_with(std::borrow::ToOwned::to_owned, raw)
}

pub(super) fn policy(i: usize, p: raw::RawPolicy) -> Result<ResidencyPolicy, FieldError> {
    policy_with(|f| format!("policy[{i}].{f}"), p)
}

pub(super) fn policy_with(field: impl Fn(&str) -> String, p: raw::RawPolicy) -> Result<ResidencyPolicy, FieldError> {
    if p.id.is_empty() || p.id.len() > 63 || !p.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(FieldError::new(field("id"), format!("{:?} must be 1 to 63 letters, digits or '-'", p.id)));
    }
    let (replicas, write_quorum, erasure) = redundancy(&field, &p)?;
    let eu_eea = || vec!["EU".to_owned(), "EEA".to_owned()];
    let countries = |f: &str, v: Vec<String>| {
        expand_countries(&v).ok_or_else(|| {
            FieldError::new(field(f), format!("{v:?} holds a value that is not a country code, EU or EEA"))
        })
    };
    let distinct = match p.distinct.as_deref().unwrap_or("independence_group") {
        "independence_group" => Distinct::IndependenceGroup,
        "operator" => Distinct::Operator,
        "country" => Distinct::Country,
        "none" => Distinct::None,
        other => {
            return Err(FieldError::new(
                field("distinct"),
                format!("{other:?} (expected independence_group, operator, country or none)"),
            ));
        }
    };
    let min_countries = p.min_distinct_countries.unwrap_or(1);
    let min_operators = p.min_distinct_operators.unwrap_or(1);
    if min_countries > replicas || min_operators > replicas {
        return Err(FieldError::new(
            field("min_distinct_countries"),
            format!("minimums cannot exceed the providers the policy places on ({replicas})"),
        ));
    }
    Ok(ResidencyPolicy {
        id: p.id,
        allowed_countries: countries("allowed_countries", p.allowed_countries.unwrap_or_else(eu_eea))?,
        allowed_jurisdictions: countries("allowed_jurisdictions", p.allowed_jurisdictions.unwrap_or_else(eu_eea))?,
        forbid_exposures: p.forbid_exposures.unwrap_or_else(|| vec!["us-cloud-act".into(), "us-fisa-702".into()]),
        replicas,
        write_quorum,
        distinct,
        min_distinct_countries: min_countries,
        min_distinct_operators: min_operators,
        required_certifications: p.required_certifications,
        erasure,
    })
}

/// N, W and the shards: `replicas` N of 1–7 with W of 1–N, or `rs` with k ≥ 1 data and m ≥ 1
/// parity shards (k + m ≤ 16 providers) and W of k–(k + m) shards, k + 1 by default (one
/// provider may fail during a write and it is still acknowledged with a loss to spare).
fn redundancy(
    field: &impl Fn(&str) -> String,
    p: &raw::RawPolicy,
) -> Result<(u8, u8, Option<ErasureShards>), FieldError> {
    match p.scheme.as_deref().unwrap_or("replicas") {
        "replicas" => {
            if p.data_shards.is_some() || p.parity_shards.is_some() {
                return Err(FieldError::new(field("data_shards"), "only with scheme = \"rs\""));
            }
            let replicas = p.replicas.ok_or_else(|| FieldError::new(field("replicas"), "required"))?;
            if !(1..=7).contains(&replicas) {
                return Err(FieldError::new(field("replicas"), "must be between 1 and 7"));
            }
            let quorum = p.write_quorum.ok_or_else(|| FieldError::new(field("write_quorum"), "required"))?;
            if quorum < 1 || quorum > replicas {
                return Err(FieldError::new(
                    field("write_quorum"),
                    format!("must be between 1 and replicas ({replicas})"),
                ));
            }
            Ok((replicas, quorum, None))
        }
        "rs" => {
            let k =
                p.data_shards.ok_or_else(|| FieldError::new(field("data_shards"), "required with scheme = \"rs\""))?;
            let m = p
                .parity_shards
                .ok_or_else(|| FieldError::new(field("parity_shards"), "required with scheme = \"rs\""))?;
            let shards = ErasureShards { data: k, parity: m };
            if k < 1 || m < 1 || u16::from(k) + u16::from(m) > u16::from(MAX_SHARDS) {
                return Err(FieldError::new(
                    field("data_shards"),
                    format!("data_shards and parity_shards must be at least 1 and together at most {MAX_SHARDS}"),
                ));
            }
            let total = shards.total();
            if p.replicas.is_some_and(|n| n != total) {
                return Err(FieldError::new(
                    field("replicas"),
                    format!("must be absent or data_shards + parity_shards ({total})"),
                ));
            }
            let quorum = p.write_quorum.unwrap_or(k + 1);
            if quorum < k || quorum > total {
                return Err(FieldError::new(
                    field("write_quorum"),
                    format!("must be between data_shards ({k}) and {total} shards"),
                ));
            }
            Ok((total, quorum, Some(shards)))
        }
        other => Err(FieldError::new(field("scheme"), format!("{other:?} (expected replicas or rs)"))),
    }
}
