//! Residency placement: pure logic, no I/O, no clock (`today` is an argument), no randomness.
//! The only module that can mint a [`Placement`], so a write cannot reach a provider that no
//! policy check admitted.

pub mod grant;
pub mod rules;

use std::collections::BTreeSet;

use crate::model::redundancy::DEFAULT_SHARD_CHUNK;
use crate::model::{
    BucketUid, Distinct, ErasureShards, ProviderId, ProviderInfo, Redundancy, ResidencyPolicy, StripeShape,
};

#[cfg(test)]
pub use grant::test_object_grant;
pub use grant::{WriteGrant, grant_replica, probe_grant};
pub use rules::{Violation, check};

/// Proof that the residency rules were checked; only this module can build one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResidencyChecked(());

/// The providers a bucket's objects go to, and how many must acknowledge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    targets: Vec<ProviderId>,
    write_quorum: u8,
    erasure: Option<ErasureShards>,
    _checked: ResidencyChecked,
}

impl Placement {
    /// The chosen providers, in rendezvous order (the preferred read order).
    pub fn targets(&self) -> &[ProviderId] {
        &self.targets
    }
    /// W: replicas, or shards.
    pub fn write_quorum(&self) -> u8 {
        self.write_quorum
    }
    /// How a new stream is held: replicas, or target `i` holding shard `i` of stripes of
    /// [`DEFAULT_SHARD_CHUNK`] per shard.
    pub fn redundancy(&self) -> Redundancy {
        match self.erasure {
            None => Redundancy::Replicas,
            Some(shards) => Redundancy::ReedSolomon(StripeShape { shards, chunk: DEFAULT_SHARD_CHUNK }),
        }
    }
}

/// Why a policy cannot be met, in words an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {policy} needs {needed} providers {rule}; {eligible} eligible")]
pub struct Unsatisfiable {
    /// The policy.
    pub policy: String,
    /// N.
    pub needed: usize,
    /// How many providers passed the rules.
    pub eligible: usize,
    /// The constraint that could not be met, e.g. "in distinct independence groups".
    pub rule: String,
    /// Per refused provider, the rules it breaks.
    pub violations: Vec<(ProviderId, Vec<Violation>)>,
}

/// Whether `provider` may hold replicas under `policy` on `today`.
pub fn eligible(policy: &ResidencyPolicy, provider: &ProviderInfo, today: time::Date) -> bool {
    check(policy, provider, today).is_empty()
}

fn rendezvous(seed: BucketUid, id: &ProviderId) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(seed.as_bytes());
    ctx.update(id.as_str().as_bytes());
    let mut score = [0u8; 32];
    score.copy_from_slice(ctx.finish().as_ref());
    score
}

fn satisfies(policy: &ResidencyPolicy, chosen: &[&ProviderInfo]) -> bool {
    let distinct = |key: &dyn Fn(&ProviderInfo) -> String| chosen.iter().map(|p| key(p)).collect::<BTreeSet<_>>().len();
    let all_distinct = match policy.distinct {
        Distinct::IndependenceGroup => distinct(&|p| p.independence_group.clone()) == chosen.len(),
        Distinct::Operator => distinct(&|p| p.operator.clone()) == chosen.len(),
        Distinct::Country => distinct(&|p| p.country.to_string()) == chosen.len(),
        Distinct::None => true,
    };
    all_distinct
        && distinct(&|p| p.country.to_string()) >= usize::from(policy.min_distinct_countries)
        && distinct(&|p| p.operator.clone()) >= usize::from(policy.min_distinct_operators)
}

fn rule_text(policy: &ResidencyPolicy) -> String {
    let distinct = match policy.distinct {
        Distinct::IndependenceGroup => "in distinct independence groups",
        Distinct::Operator => "with distinct operators",
        Distinct::Country => "in distinct countries",
        Distinct::None => "",
    };
    format!(
        "{distinct}{}(at least {} countries, {} operators)",
        if distinct.is_empty() { "" } else { " " },
        policy.min_distinct_countries,
        policy.min_distinct_operators
    )
}

/// Visits the `n`-combinations of `items` in lexicographic order until `f` accepts one.
fn first_combination<'a, T>(items: &[&'a T], n: usize, f: &mut impl FnMut(&[&'a T]) -> bool) -> Option<Vec<&'a T>> {
    fn go<'a, T>(
        items: &[&'a T],
        n: usize,
        start: usize,
        cur: &mut Vec<&'a T>,
        f: &mut impl FnMut(&[&'a T]) -> bool,
    ) -> bool {
        if cur.len() == n {
            return f(cur);
        }
        for i in start..items.len() {
            if items.len() - i < n - cur.len() {
                break;
            }
            cur.push(items[i]);
            if go(items, n, i + 1, cur, f) {
                return true;
            }
            cur.pop();
        }
        false
    }
    let mut cur = Vec::with_capacity(n);
    go(items, n, 0, &mut cur, f).then_some(cur)
}

impl Unsatisfiable {
    /// The refusal's reason as a closed set (a metric label): too few providers pass the
    /// per-provider rules, or enough do but no combination meets the independence rules.
    pub fn reason(&self) -> &'static str {
        if self.eligible < self.needed { "too_few_eligible" } else { "independence" }
    }
}

/// Chooses N eligible providers for a bucket: eligible providers ordered by rendezvous score
/// on the bucket (stable, spread across buckets; health is deliberately not an input), then
/// the first N-combination in that order that satisfies the independence rules. Exhaustive
/// and deterministic.
pub fn place(
    policy: &ResidencyPolicy,
    catalog: &[ProviderInfo],
    seed: BucketUid,
    today: time::Date,
) -> Result<Placement, Unsatisfiable> {
    let mut violations = Vec::new();
    let mut ok: Vec<&ProviderInfo> = Vec::new();
    for p in catalog {
        let v = check(policy, p, today);
        if v.is_empty() { ok.push(p) } else { violations.push((p.id.clone(), v)) }
    }
    ok.sort_by_key(|p| rendezvous(seed, &p.id));
    let needed = usize::from(policy.replicas);
    let refusal = |violations| Unsatisfiable {
        policy: policy.id.clone(),
        needed,
        eligible: ok.len(),
        rule: rule_text(policy),
        violations,
    };
    if needed == 0 || ok.len() < needed {
        return Err(refusal(violations));
    }
    match first_combination(&ok, needed, &mut |c| satisfies(policy, c)) {
        Some(chosen) => Ok(Placement {
            targets: chosen.iter().map(|p| p.id.clone()).collect(),
            write_quorum: policy.write_quorum,
            erasure: policy.erasure,
            _checked: ResidencyChecked(()),
        }),
        None => Err(refusal(violations)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Certification, CountryCode, expand_countries};

    fn provider(id: &str, country: &str, chain: &[&str], group: &str) -> ProviderInfo {
        ProviderInfo {
            id: ProviderId::parse(id).unwrap(),
            country: CountryCode::parse(country).unwrap(),
            operator: group.into(),
            jurisdictions: chain.iter().map(|c| CountryCode::parse(c).unwrap()).collect(),
            exposures: Vec::new(),
            independence_group: group.into(),
            certifications: Vec::new(),
            retired: false,
        }
    }

    fn policy(n: u8) -> ResidencyPolicy {
        let eea = expand_countries(&["EEA".into()]).unwrap();
        ResidencyPolicy {
            id: "eu-default".into(),
            allowed_countries: eea.clone(),
            allowed_jurisdictions: eea,
            forbid_exposures: vec!["us-cloud-act".into(), "us-fisa-702".into()],
            replicas: n,
            write_quorum: n,
            distinct: Distinct::IndependenceGroup,
            min_distinct_countries: 1,
            min_distinct_operators: 1,
            required_certifications: Vec::new(),
            erasure: None,
        }
    }

    const TODAY: time::Date = time::macros::date!(2026 - 11 - 25);

    #[test]
    fn us_owned_provider_in_eu_is_never_chosen() {
        let mut us = provider("us-fra", "DE", &["US"], "hyperscaler");
        us.exposures = vec!["us-cloud-act".into()];
        let catalog = [provider("a", "DE", &["DE"], "a"), provider("b", "FR", &["FR"], "b"), us];
        let p = place(&policy(2), &catalog, BucketUid([7; 16]), TODAY).unwrap();
        assert!(!p.targets().iter().any(|t| t.as_str() == "us-fra"));
        let err = place(&policy(3), &catalog, BucketUid([7; 16]), TODAY).unwrap_err();
        assert_eq!((err.needed, err.eligible), (3, 2));
        let (id, v) = &err.violations[0];
        assert_eq!(id.as_str(), "us-fra");
        assert!(
            v.contains(&Violation::JurisdictionNotAllowed("US".into()))
                && v.contains(&Violation::Exposure("us-cloud-act".into()))
        );
    }

    #[test]
    fn swiss_operator_refused_by_default_admitted_when_allowed() {
        let exo = provider("exo-vie", "AT", &["CH", "AT"], "exoscale");
        assert_eq!(check(&policy(1), &exo, TODAY), vec![Violation::JurisdictionNotAllowed("CH".into())]);
        let mut with_ch = policy(1);
        with_ch.allowed_jurisdictions.push(CountryCode::parse("CH").unwrap());
        assert!(eligible(&with_ch, &exo, TODAY));
        let gva = provider("exo-gva", "CH", &["CH"], "exoscale");
        assert_eq!(check(&with_ch, &gva, TODAY), vec![Violation::CountryNotAllowed("CH".into())]);
    }

    #[test]
    fn independence_groups_and_minimums() {
        // Two OVH regions share a group: three replicas need a third operator.
        let catalog = [
            provider("ovh-gra", "FR", &["FR"], "ovh"),
            provider("ovh-de", "DE", &["FR"], "ovh"),
            provider("hetzner", "DE", &["DE"], "hetzner"),
        ];
        let err = place(&policy(3), &catalog, BucketUid([1; 16]), TODAY).unwrap_err();
        assert!(err.to_string().contains("distinct independence groups"), "{err}");
        let p = place(&policy(2), &catalog, BucketUid([1; 16]), TODAY).unwrap();
        assert!(p.targets().iter().any(|t| t.as_str() == "hetzner"), "one OVH and Hetzner");
        let mut loose = policy(3);
        loose.distinct = Distinct::None;
        loose.min_distinct_countries = 3;
        assert!(place(&loose, &catalog, BucketUid([1; 16]), TODAY).is_err(), "only two countries exist");
        loose.min_distinct_countries = 2;
        assert_eq!(place(&loose, &catalog, BucketUid([1; 16]), TODAY).unwrap().targets().len(), 3);
    }

    #[test]
    fn certifications_must_be_valid_today() {
        let mut p = provider("a", "FR", &["FR"], "a");
        p.certifications =
            vec![Certification { scheme: "secnumcloud".into(), valid_until: time::macros::date!(2026 - 11 - 25) }];
        let mut pol = policy(1);
        pol.required_certifications = vec!["secnumcloud".into()];
        assert!(eligible(&pol, &p, time::macros::date!(2026 - 11 - 25)), "valid through its last day");
        assert_eq!(
            check(&pol, &p, time::macros::date!(2026 - 11 - 26)),
            vec![Violation::CertExpired("secnumcloud".into(), time::macros::date!(2026 - 11 - 25))]
        );
        pol.required_certifications.push("c5-type2".into());
        assert!(
            check(&pol, &p, time::macros::date!(2026 - 11 - 01)).contains(&Violation::CertMissing("c5-type2".into()))
        );
    }

    #[test]
    fn placement_is_deterministic_per_bucket() {
        let catalog =
            [provider("a", "DE", &["DE"], "a"), provider("b", "FR", &["FR"], "b"), provider("c", "NL", &["NL"], "c")];
        let one = place(&policy(2), &catalog, BucketUid([1; 16]), TODAY).unwrap();
        assert_eq!(one, place(&policy(2), &catalog, BucketUid([1; 16]), TODAY).unwrap());
    }
}
