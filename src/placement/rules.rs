//! Eligibility: every rule a provider breaks under a policy on a given day.

use std::fmt;

use crate::model::{ProviderInfo, ResidencyPolicy};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The data centre's country is not allowed.
    CountryNotAllowed(String),
    /// A jurisdiction of the ownership chain is not allowed.
    JurisdictionNotAllowed(String),
    /// The chain is subject to a forbidden extraterritorial law.
    Exposure(String),
    /// A required certification is absent.
    CertMissing(String),
    /// A required certification expired (scheme, last valid day).
    CertExpired(String, time::Date),
    /// The provider was retired by an admin: it takes no new replicas and is evacuated.
    Retired,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CountryNotAllowed(c) => write!(f, "country {c} not allowed"),
            Self::JurisdictionNotAllowed(c) => write!(f, "jurisdiction {c} not allowed"),
            Self::Exposure(e) => write!(f, "exposed to {e}"),
            Self::CertMissing(s) => write!(f, "certification {s} missing"),
            Self::CertExpired(s, d) => write!(f, "certification {s} expired on {}", crate::model::format_day(*d)),
            Self::Retired => f.write_str("retired"),
        }
    }
}

/// Every rule `p` breaks under `policy` on `today`. Empty means eligible.
pub fn check(policy: &ResidencyPolicy, p: &ProviderInfo, today: time::Date) -> Vec<Violation> {
    let mut v = Vec::new();
    if p.retired {
        v.push(Violation::Retired);
    }
    if !policy.allowed_countries.contains(&p.country) {
        v.push(Violation::CountryNotAllowed(p.country.to_string()));
    }
    if !policy.allowed_jurisdictions.is_empty() {
        for j in &p.jurisdictions {
            if !policy.allowed_jurisdictions.contains(j) {
                v.push(Violation::JurisdictionNotAllowed(j.to_string()));
            }
        }
    }
    for e in &p.exposures {
        if policy.forbid_exposures.contains(e) {
            v.push(Violation::Exposure(e.clone()));
        }
    }
    for scheme in &policy.required_certifications {
        match p.certifications.iter().find(|c| c.scheme == *scheme) {
            None => v.push(Violation::CertMissing(scheme.clone())),
            // ISO dates compare as strings; the last valid day itself is still valid.
            Some(c) if c.valid_until < today => v.push(Violation::CertExpired(scheme.clone(), c.valid_until)),
            Some(_) => {}
        }
    }
    v
}
