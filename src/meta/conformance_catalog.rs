//! Conformance, the catalog's checkpoint state (docs/format-v2.md, "Checkpoints"): every
//! provider, policy, shredded KEK, user, access key, admin token, grant and bucket setting is
//! paged as the `Catalog` entry its last change logged — same name, same JSON — so a rebuild
//! reading the checkpoint restores what it would have from the entries it replaces; a removed
//! record is not in it; then the audit records of the catalog's scope, and no others.

use std::collections::BTreeMap;

use super::conformance::{bucket_name, entry};
use super::log_entry::LogEntry;
use super::outbox::CatalogCursor;
use super::{AuditedChange, BucketRecord, MetadataStore};
use crate::model::access::{AccessKeyRecord, AdminRole, AdminTokenRecord, Perms, UserCaps, UserName, UserRecord};
use crate::model::{BucketUid, WrappedKey};

fn user(name: &str) -> UserRecord {
    UserRecord { name: UserName::parse(name).unwrap(), display_name: None, caps: UserCaps::default(), created_ms: 3 }
}

/// One change of every kind the catalog holds (and a removal), on bucket `name`.
fn changes(name: &str) -> Vec<AuditedChange> {
    use crate::model::cors::{CorsConfig, CorsRule};
    use crate::model::lifecycle::{LifecycleConfig, LifecycleRule, RuleFilter};
    let bucket = || bucket_name(name);
    let policy = super::conformance::policy("cat-policy");
    let provider = crate::model::ProviderInfo {
        id: crate::model::ProviderId::parse("cat-prov").unwrap(),
        country: crate::model::CountryCode::parse("FR").unwrap(),
        operator: "o".into(),
        jurisdictions: vec![],
        exposures: vec![],
        independence_group: "o".into(),
        certifications: vec![],
        retired: false,
    };
    let rule = LifecycleRule {
        id: "r".into(),
        enabled: true,
        filter: RuleFilter { prefix: "logs/".into(), ..RuleFilter::default() },
        expiration: None,
        noncurrent: None,
        abort_upload_after_days: Some(3),
    };
    let cors =
        CorsRule { allowed_origins: vec!["*".into()], allowed_methods: vec!["GET".into()], ..CorsRule::default() };
    let secret = WrappedKey { kek_id: "souverain".into(), kek_version: 1, bytes: vec![5], context: None };
    let owner = UserName::parse("cat-user").unwrap();
    vec![
        AuditedChange::Provider(provider),
        AuditedChange::Policy(policy),
        AuditedChange::KekShredded { kek: "cat-kek".into(), at_ms: 77 },
        AuditedChange::CreateUser(user("cat-user")),
        AuditedChange::CreateUser(user("cat-gone")),
        AuditedChange::DeleteUser(UserName::parse("cat-gone").unwrap()),
        AuditedChange::PutAccessKey(AccessKeyRecord {
            id: "CATKEY".into(),
            user: owner.clone(),
            name: Some("k".into()),
            secret,
            created_ms: 4,
            expires_ms: None,
            disabled: false,
        }),
        AuditedChange::CreateAdminToken(AdminTokenRecord {
            name: UserName::parse("cat-token").unwrap(),
            role: AdminRole::Viewer,
            sha256: [3; 32],
            created_ms: 5,
        }),
        AuditedChange::Grant { bucket: bucket(), user: owner, add: Perms::ALL, remove: Perms::default() },
        AuditedChange::BucketAccessPolicy { bucket: bucket(), document: Some("{\"Statement\":[]}".into()) },
        AuditedChange::PublicBlock {
            bucket: bucket(),
            block: Some(crate::model::access::PublicAccessBlock::default()),
        },
        AuditedChange::BucketVersioning { bucket: bucket(), state: crate::model::Versioning::Enabled },
        AuditedChange::BucketObjectLock { bucket: bucket(), config: crate::model::lock::LockConfig::default() },
        AuditedChange::BucketLifecycle { bucket: bucket(), config: Some(LifecycleConfig { rules: vec![rule] }) },
        AuditedChange::BucketTagging { bucket: bucket(), tags: Some(crate::model::tagging::TagSet::default()) },
        AuditedChange::BucketCors { bucket: bucket(), config: Some(CorsConfig { rules: vec![cors] }) },
        AuditedChange::BucketEtagMode { bucket: bucket(), mode: crate::model::EtagMode::default() },
        AuditedChange::RecordOnly,
    ]
}

pub(super) async fn catalog_state_is_what_the_log_says(store: &dyn MetadataStore) {
    let earlier: Vec<u64> = store.unlogged(0, 100_000).await.unwrap().iter().map(|u| u.seq).collect();
    store.mark_logged(earlier).await.unwrap();
    let rec =
        BucketRecord { uid: BucketUid([151; 16]), name: bucket_name("catstate"), policy_id: "p".into(), created_ms: 1 };
    store.create_bucket(rec, None, entry("cat-create")).await.unwrap().expect("created");
    for (i, change) in changes("catstate").into_iter().enumerate() {
        store.apply_change(change, entry(&format!("cat-{i}"))).await.unwrap().expect("applied");
    }
    let mut logged = BTreeMap::new();
    for u in store.unlogged(0, 100_000).await.unwrap() {
        if let LogEntry::Catalog { name, json, .. } = LogEntry::decode(&u.entry).unwrap() {
            logged.insert(name, json);
        }
    }
    assert_eq!(logged.len(), 16, "{logged:?}");

    let (mut state, mut audit) = (BTreeMap::new(), Vec::new());
    let mut cursor = Some(CatalogCursor::default());
    for _ in 0..10_000 {
        let Some(from) = cursor.take() else { break };
        let (entries, next) = store.catalog_state_page(from, 3).await.unwrap();
        for e in entries {
            match e {
                LogEntry::Catalog { seq, name, json } => {
                    assert_eq!(seq, 0, "numbered by the checkpoint's through");
                    assert!(state.insert(name.clone(), json).is_none(), "{name} twice");
                }
                LogEntry::Audited(a) => {
                    assert_eq!(a.bucket, None, "only the catalog's records");
                    audit.push(a.action);
                }
                other => panic!("not a catalog entry: {other:?}"),
            }
        }
        cursor = next;
    }
    assert!(cursor.is_none(), "the walk ends");
    for (name, json) in &logged {
        if json == "null" {
            assert_eq!(state.get(name), None, "{name} was removed");
        } else {
            assert_eq!(state.get(name), Some(json), "{name}: as logged");
        }
    }
    // The bucket's own records (its creation, its settings and grants) stay in its scope.
    let scoped = |a: &String| a == "cat-create" || (8..=16).any(|i| *a == format!("cat-{i}"));
    for i in (0..=7).chain([17]) {
        assert!(audit.contains(&format!("cat-{i}")), "cat-{i} in {audit:?}");
    }
    assert!(!audit.iter().any(scoped), "{audit:?}");
}
