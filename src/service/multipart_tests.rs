//! Unit tests of `service::multipart` (a file of their own to keep the module under 600 lines).

use super::*;
use crate::model::{
    BucketUid, CountryCode, Distinct, ErasureShards, ProviderInfo, Redundancy, ResidencyPolicy, StreamManifest,
    StripeShape,
};

fn provider(id: &str, retired: bool) -> ProviderInfo {
    ProviderInfo {
        id: ProviderId::parse(id).unwrap(),
        country: CountryCode::parse("DE").unwrap(),
        operator: id.into(),
        jurisdictions: vec![CountryCode::parse("DE").unwrap()],
        exposures: Vec::new(),
        independence_group: id.into(),
        certifications: Vec::new(),
        retired,
    }
}

/// Promise (issue 26): completing an upload whose part has a shard on a provider that left
/// the policy replaces that holder in place (shard `i` stays at position `i`, the count
/// never changes) by a provider of the current placement; with none left, 503.
#[test]
fn a_sharded_part_keeps_its_shard_positions_when_a_holder_leaves() {
    let policy = ResidencyPolicy {
        id: "rs".into(),
        allowed_countries: vec![CountryCode::parse("DE").unwrap()],
        allowed_jurisdictions: Vec::new(),
        forbid_exposures: Vec::new(),
        replicas: 3,
        write_quorum: 3,
        distinct: Distinct::IndependenceGroup,
        min_distinct_countries: 1,
        min_distinct_operators: 1,
        required_certifications: Vec::new(),
        erasure: Some(ErasureShards { data: 2, parity: 1 }),
    };
    let today = time::macros::date!(2026 - 12 - 04);
    let all = ["a", "b", "c", "d"].map(|p| provider(p, false));
    let before = crate::placement::place(&policy, &all, BucketUid([1; 16]), today).unwrap();
    let leaving = before.targets()[1].clone();
    let after_catalog: Vec<ProviderInfo> = all.iter().map(|p| provider(p.id.as_str(), p.id == leaving)).collect();
    let after = crate::placement::place(&policy, &after_catalog, BucketUid([1; 16]), today).unwrap();
    let mut s = StreamManifest {
        part_number: 1,
        replicas: before.targets().to_vec(),
        redundancy: Redundancy::ReedSolomon(StripeShape { shards: ErasureShards { data: 2, parity: 1 }, chunk: 65536 }),
        ..crate::meta::conformance::stream(1)
    };
    let allowed = |p: &ProviderId| *p != leaving;
    let added = reseat_shards(&mut s, &after, &allowed).unwrap();
    let spare = all.iter().map(|p| p.id.clone()).find(|p| !before.targets().contains(p)).unwrap();
    assert_eq!(added, std::slice::from_ref(&spare));
    let mut want = before.targets().to_vec();
    want[1] = spare;
    assert_eq!(s.replicas, want, "shards 0 and 2 stay where they are");
    let none_left = |_: &ProviderId| false;
    assert!(reseat_shards(&mut s, &after, &none_left).is_err(), "no provider to move three shards to");
}
