//! Residency policies, from the config file or the admin API.

use crate::model::{Distinct, ResidencyPolicy, expand_countries};

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
    if !(1..=7).contains(&p.replicas) {
        return Err(FieldError::new(field("replicas"), "must be between 1 and 7"));
    }
    if p.write_quorum < 1 || p.write_quorum > p.replicas {
        return Err(FieldError::new(field("write_quorum"), format!("must be between 1 and replicas ({})", p.replicas)));
    }
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
    if min_countries > p.replicas || min_operators > p.replicas {
        return Err(FieldError::new(
            field("min_distinct_countries"),
            format!("minimums cannot exceed replicas ({})", p.replicas),
        ));
    }
    Ok(ResidencyPolicy {
        id: p.id,
        allowed_countries: countries("allowed_countries", p.allowed_countries.unwrap_or_else(eu_eea))?,
        allowed_jurisdictions: countries("allowed_jurisdictions", p.allowed_jurisdictions.unwrap_or_else(eu_eea))?,
        forbid_exposures: p.forbid_exposures.unwrap_or_else(|| vec!["us-cloud-act".into(), "us-fisa-702".into()]),
        replicas: p.replicas,
        write_quorum: p.write_quorum,
        distinct,
        min_distinct_countries: min_countries,
        min_distinct_operators: min_operators,
        required_certifications: p.required_certifications,
    })
}
