//! Residency placement: pure logic, no I/O, no clock, no randomness. The only module that can
//! mint a [`Placement`], so a write cannot reach a provider that no policy check admitted.

use crate::model::{BucketUid, ProviderId, ProviderInfo, ResidencyPolicy};

/// Proof that the residency rules were checked; only this module can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResidencyChecked(());

/// The providers a bucket's objects go to, and how many must acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    targets: Vec<ProviderId>,
    write_quorum: u8,
    _checked: ResidencyChecked,
}

impl Placement {
    /// The chosen providers, in rendezvous order (the preferred read order).
    pub fn targets(&self) -> &[ProviderId] {
        &self.targets
    }
    /// W.
    pub fn write_quorum(&self) -> u8 {
        self.write_quorum
    }
}

/// Why a policy cannot be met, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy} needs {needed} eligible providers; {eligible} eligible")]
pub struct Unsatisfiable {
    /// The policy.
    pub policy: String,
    /// N.
    pub needed: usize,
    /// How many providers passed the rules.
    pub eligible: usize,
}

/// Whether `provider` may hold replicas under `policy`.
pub fn eligible(policy: &ResidencyPolicy, provider: &ProviderInfo) -> bool {
    let country_ok = match &policy.allowed_countries {
        Some(list) => list.contains(&provider.country),
        None => provider.country.is_eu_or_eea(),
    };
    country_ok && provider.jurisdictions.iter().all(|j| j.is_eu_or_eea())
}

/// Chooses N eligible providers by rendezvous hashing on the bucket, so a bucket's placement
/// is stable and spread across buckets. Health is deliberately not an input.
pub fn place(policy: &ResidencyPolicy, catalog: &[ProviderInfo], seed: BucketUid) -> Result<Placement, Unsatisfiable> {
    let mut scored: Vec<([u8; 32], &ProviderId)> = catalog
        .iter()
        .filter(|p| eligible(policy, p))
        .map(|p| {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
            ctx.update(seed.as_bytes());
            ctx.update(p.id.as_str().as_bytes());
            let mut score = [0u8; 32];
            score.copy_from_slice(ctx.finish().as_ref());
            (score, &p.id)
        })
        .collect();
    let needed = usize::from(policy.replicas);
    if scored.len() < needed || needed == 0 {
        return Err(Unsatisfiable { policy: policy.id.clone(), needed, eligible: scored.len() });
    }
    scored.sort();
    let targets = scored.into_iter().take(needed).map(|(_, id)| id.clone()).collect();
    Ok(Placement { targets, write_quorum: policy.write_quorum, _checked: ResidencyChecked(()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CountryCode;

    fn provider(id: &str, country: &str, parent: &str) -> ProviderInfo {
        ProviderInfo {
            id: ProviderId::parse(id).unwrap(),
            country: CountryCode::parse(country).unwrap(),
            operator: id.into(),
            jurisdictions: vec![CountryCode::parse(parent).unwrap()],
        }
    }

    fn policy(n: u8) -> ResidencyPolicy {
        ResidencyPolicy { id: "eu-default".into(), allowed_countries: None, replicas: n, write_quorum: n }
    }

    #[test]
    fn us_owned_provider_in_eu_is_never_chosen() {
        let catalog = [provider("a", "DE", "DE"), provider("b", "FR", "FR"), provider("us-fra", "DE", "US")];
        let p = place(&policy(2), &catalog, BucketUid([7; 16])).unwrap();
        assert!(!p.targets().iter().any(|t| t.as_str() == "us-fra"));
        let err = place(&policy(3), &catalog, BucketUid([7; 16])).unwrap_err();
        assert_eq!((err.needed, err.eligible), (3, 2));
    }

    #[test]
    fn placement_is_deterministic_per_bucket() {
        let catalog = [provider("a", "DE", "DE"), provider("b", "FR", "FR"), provider("c", "NL", "NL")];
        let one = place(&policy(2), &catalog, BucketUid([1; 16])).unwrap();
        assert_eq!(one, place(&policy(2), &catalog, BucketUid([1; 16])).unwrap());
    }
}
