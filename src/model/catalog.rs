//! Providers and residency policies as plain data.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A provider's stable id: `[a-z0-9-]{1,32}`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProviderId(String);

impl ProviderId {
    /// Validates the id's shape.
    pub fn parse(id: &str) -> Option<Self> {
        let ok = (1..=32).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| Self(id.to_owned()))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderId({})", self.0)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case. Serialized as its text (`"DE"`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a country code")))
    }
}

/// The EU-27 member states.
pub const EU_COUNTRIES: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];
/// The EEA members outside the EU.
pub const EEA_ONLY_COUNTRIES: [&str; 3] = ["IS", "LI", "NO"];

impl CountryCode {
    /// Accepts two ASCII letters in any case.
    pub fn parse(code: &str) -> Option<Self> {
        let b = code.as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
            .then(|| Self([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]))
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
    /// True for the EU-27 and the EEA (IS, LI, NO).
    pub fn is_eu_or_eea(&self) -> bool {
        let s = self.as_str();
        EU_COUNTRIES.contains(&s) || EEA_ONLY_COUNTRIES.contains(&s)
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A certification held by a provider, valid until a day (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certification {
    /// Scheme, e.g. `secnumcloud`, `c5-type2`, `iso27001`, `eucs-high`.
    pub scheme: String,
    /// Last valid day (`YYYY-MM-DD` in text).
    #[serde(with = "super::day::as_text")]
    pub valid_until: time::Date,
}

/// What the catalog knows about one provider. Admin-entered facts: the gateway enforces them,
/// it cannot prove them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    /// Stable id.
    pub id: ProviderId,
    /// Data-centre country.
    pub country: CountryCode,
    /// Contracting legal entity.
    pub operator: String,
    /// Legal systems along the ownership chain (operator, parent, ultimate parent).
    pub jurisdictions: Vec<CountryCode>,
    /// Extraterritorial laws the chain is subject to, e.g. `us-cloud-act`.
    pub exposures: Vec<String>,
    /// Failure and legal domain: all regions of one operator share a group.
    pub independence_group: String,
    /// Certifications with their expiry.
    pub certifications: Vec<Certification>,
    /// Retired by an admin: ineligible under every policy, so its replicas are evacuated.
    #[serde(default)]
    pub retired: bool,
}

/// Which attribute replicas must not share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distinct {
    /// No two replicas in one independence group (the default).
    IndependenceGroup,
    /// No two replicas with one operator.
    Operator,
    /// No two replicas in one country.
    Country,
    /// No constraint.
    None,
}

/// A residency policy: which providers may hold replicas, how many, how independent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidencyPolicy {
    /// Policy name, used as the S3 LocationConstraint.
    pub id: String,
    /// Countries where replicas may live (aliases EU and EEA already expanded).
    pub allowed_countries: Vec<CountryCode>,
    /// Every entry of a provider's ownership chain must be in here; empty = any.
    pub allowed_jurisdictions: Vec<CountryCode>,
    /// A provider subject to any of these is refused.
    pub forbid_exposures: Vec<String>,
    /// Replica count N.
    pub replicas: u8,
    /// Write quorum W.
    pub write_quorum: u8,
    /// Independence between replicas.
    pub distinct: Distinct,
    /// At least this many countries among the replicas.
    pub min_distinct_countries: u8,
    /// At least this many operators among the replicas.
    pub min_distinct_operators: u8,
    /// Certifications every replica's provider must hold, valid on the day of placement.
    pub required_certifications: Vec<String>,
    /// Reed–Solomon shards instead of replicas (`scheme = "rs"`): then `replicas` is k + m and
    /// `write_quorum` counts shards. Last, and left out when absent, so that a replication
    /// policy's stored record keeps the layout of before (`meta::records::encode_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<super::ErasureShards>,
}

/// Expands `EU` and `EEA` aliases into country codes.
pub fn expand_countries(items: &[String]) -> Option<Vec<CountryCode>> {
    let mut out = Vec::new();
    for item in items {
        match item.to_ascii_uppercase().as_str() {
            "EU" => out.extend(EU_COUNTRIES.iter().filter_map(|c| CountryCode::parse(c))),
            "EEA" => {
                out.extend(EU_COUNTRIES.iter().chain(EEA_ONLY_COUNTRIES.iter()).filter_map(|c| CountryCode::parse(c)));
            }
            other => out.push(CountryCode::parse(other)?),
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}
