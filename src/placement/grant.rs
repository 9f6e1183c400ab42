//! Leave to write to a provider. Every provider write takes a [`WriteGrant`], and only this
//! module mints one: for object data, after the residency rules admitted the provider for the
//! object's bucket (a fresh [`Placement`], or one provider checked against its policy today);
//! for the provider probe's random bytes, at any configured provider. A backend reads a body
//! only through [`WriteGrant`]-checked access (`backend::GrantedBody`), so no code path can
//! send object ciphertext to a provider the policy does not allow at that moment.

use super::{Placement, ResidencyChecked, eligible};
use crate::model::{ProviderId, ProviderInfo, ResidencyPolicy};

/// What a grant admits.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Admits {
    /// Object ciphertext: the residency rules admitted the provider.
    ObjectData(ResidencyChecked),
    /// Random bytes of the provider probe, which carry no object data.
    ProbeBytes,
}

/// Proof that `provider` may receive a write now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteGrant {
    provider: ProviderId,
    admits: Admits,
}

impl WriteGrant {
    /// The provider the grant is for.
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    /// True for object data (a residency check), false for probe bytes.
    pub fn admits_object_data(&self) -> bool {
        matches!(self.admits, Admits::ObjectData(_))
    }
}

impl Placement {
    /// Leave to write to `provider`, one of this placement's targets.
    pub fn grant(&self, provider: &ProviderId) -> Option<WriteGrant> {
        self.targets
            .contains(provider)
            .then(|| WriteGrant { provider: provider.clone(), admits: Admits::ObjectData(ResidencyChecked(())) })
    }
}

/// Leave to write a replica of an existing object's stream to `provider` (repair, evacuation),
/// if the provider satisfies the bucket's `policy` on `today`.
pub fn grant_replica(policy: &ResidencyPolicy, provider: &ProviderInfo, today: time::Date) -> Option<WriteGrant> {
    eligible(policy, provider, today)
        .then(|| WriteGrant { provider: provider.id.clone(), admits: Admits::ObjectData(ResidencyChecked(())) })
}

/// Leave to write object data to `provider`, for unit tests of the backends only (production
/// code gets its grants from placement).
#[cfg(test)]
pub fn test_object_grant(provider: &ProviderId) -> WriteGrant {
    WriteGrant { provider: provider.clone(), admits: Admits::ObjectData(ResidencyChecked(())) }
}

/// Leave to write the provider probe's random bytes (never object data) to `provider`.
pub fn probe_grant(provider: &ProviderId) -> WriteGrant {
    WriteGrant { provider: provider.clone(), admits: Admits::ProbeBytes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucketUid, CountryCode, Distinct, expand_countries};

    fn provider(id: &str, country: &str) -> ProviderInfo {
        ProviderInfo {
            id: ProviderId::parse(id).unwrap(),
            country: CountryCode::parse(country).unwrap(),
            operator: id.into(),
            jurisdictions: vec![CountryCode::parse(country).unwrap()],
            exposures: Vec::new(),
            independence_group: id.into(),
            certifications: Vec::new(),
            retired: false,
        }
    }

    /// Promise (issue 18 item 5): a grant for object data exists only for a provider the
    /// policy admits today, or a target of a placement; a probe grant admits no object data.
    #[test]
    fn grants_follow_the_residency_rules() {
        let policy = ResidencyPolicy {
            id: "de-only".into(),
            allowed_countries: expand_countries(&["DE".into()]).unwrap(),
            allowed_jurisdictions: Vec::new(),
            forbid_exposures: Vec::new(),
            replicas: 1,
            write_quorum: 1,
            distinct: Distinct::IndependenceGroup,
            min_distinct_countries: 1,
            min_distinct_operators: 1,
            required_certifications: Vec::new(),
            erasure: None,
        };
        let de = provider("de", "DE");
        let fr = provider("fr", "FR");
        assert!(
            grant_replica(&policy, &de, time::macros::date!(2026 - 12 - 02)).is_some_and(|g| g.admits_object_data())
        );
        assert!(grant_replica(&policy, &fr, time::macros::date!(2026 - 12 - 02)).is_none());
        let placement = crate::placement::place(
            &policy,
            &[de.clone(), fr.clone()],
            BucketUid([1; 16]),
            time::macros::date!(2026 - 12 - 02),
        );
        let placement = placement.unwrap();
        assert!(placement.grant(&de.id).is_some());
        assert!(placement.grant(&fr.id).is_none());
        assert!(!probe_grant(&fr.id).admits_object_data());
    }
}
