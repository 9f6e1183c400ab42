//! Conformance, access control: users, access keys and grants are stored through audited
//! changes, each logged as a catalog entry (a removal as `null`); deleting a user takes their
//! keys and grants with them; a bucket's creator owns it; deleting a bucket drops its grants;
//! restored records read back.

use super::conformance::{bucket_name, entry};
use super::log_entry::LogEntry;
use super::restore::{AccessRecord, RestoreBatch};
use super::{AuditedChange, BucketRecord, MetadataStore};
use crate::model::access::{
    AccessKeyRecord, AdminRole, AdminTokenRecord, Perms, PublicAccessBlock, UserCaps, UserName, UserRecord,
};
use crate::model::{BucketUid, WrappedKey};

fn user(name: &str) -> UserRecord {
    UserRecord {
        name: UserName::parse(name).unwrap(),
        display_name: Some(format!("{name} of team a")),
        caps: UserCaps { create_buckets: true, policies: Some(vec!["p".into()]) },
        created_ms: 11,
    }
}

fn key(id: &str, owner: &str) -> AccessKeyRecord {
    AccessKeyRecord {
        id: id.into(),
        user: UserName::parse(owner).unwrap(),
        name: Some("backup".into()),
        secret: WrappedKey { kek_id: "souverain".into(), kek_version: 1, bytes: vec![1, 2, 3], context: None },
        created_ms: 12,
        expires_ms: Some(99),
        disabled: false,
    }
}

/// The catalog entries waiting in the outbox: (name, JSON).
async fn logged_catalog(store: &dyn MetadataStore) -> Vec<(String, String)> {
    let all = store.unlogged(0, 100_000).await.unwrap();
    let entries = all.into_iter().map(|u| LogEntry::decode(&u.entry).unwrap());
    entries
        .filter_map(|e| if let LogEntry::Catalog { name, json, .. } = e { Some((name, json)) } else { None })
        .collect()
}

/// Users, keys and grants: created once, read back, audited, logged; the cascade of a user's
/// deletion; the owner grant of a creator; a deleted bucket's grants go with it.
pub(super) async fn users_keys_and_grants(store: &dyn MetadataStore) {
    let seqs: Vec<u64> = store.unlogged(0, 100_000).await.unwrap().iter().map(|u| u.seq).collect();
    store.mark_logged(seqs).await.unwrap();
    let alice = UserName::parse("alice").unwrap();
    let bob = UserName::parse("bob").unwrap();
    let audited_before = store.audit_records(0, 100_000).await.unwrap().len();

    assert!(store.apply_change(AuditedChange::CreateUser(user("alice")), entry("u1")).await.unwrap().is_some());
    let again = UserRecord { display_name: None, ..user("alice") };
    assert!(store.apply_change(AuditedChange::CreateUser(again), entry("u2")).await.unwrap().is_none(), "exists");
    assert_eq!(store.user(&alice).await.unwrap(), Some(user("alice")), "the first one stays");
    store.apply_change(AuditedChange::CreateUser(user("bob")), entry("u3")).await.unwrap().expect("bob");
    assert_eq!(store.users().await.unwrap(), [user("alice"), user("bob")]);

    let orphan = key("SVNOBODY", "carol");
    assert!(store.apply_change(AuditedChange::PutAccessKey(orphan), entry("k0")).await.unwrap().is_none(), "no user");
    for (id, owner) in [("SVA1", "alice"), ("SVA2", "alice"), ("SVB1", "bob")] {
        store.apply_change(AuditedChange::PutAccessKey(key(id, owner)), entry("k")).await.unwrap().expect("key");
    }
    let disabled = AccessKeyRecord { disabled: true, ..key("SVA2", "alice") };
    let disable = |id: &str| AuditedChange::SetAccessKeyDisabled { id: id.into(), disabled: true };
    store.apply_change(disable("SVA2"), entry("k")).await.unwrap().expect("disabled");
    assert_eq!(store.access_key("SVA2").await.unwrap(), Some(disabled));
    assert!(store.apply_change(disable("SVNONE"), entry("k")).await.unwrap().is_none(), "a missing key stays missing");
    // Key rotation rewraps a secret only while its wrapping is still the one read.
    let read = key("SVA1", "alice").secret;
    let rewrapped = WrappedKey { kek_version: 2, bytes: vec![4, 5, 6], ..read.clone() };
    let rewrap = |expected: &WrappedKey| AuditedChange::RewrapAccessKey {
        id: "SVA1".into(),
        expected: expected.clone(),
        new: rewrapped.clone(),
    };
    assert!(store.apply_change(rewrap(&rewrapped), entry("r")).await.unwrap().is_none(), "changed meanwhile");
    store.apply_change(rewrap(&read), entry("r")).await.unwrap().expect("rewrapped");
    assert_eq!(store.access_key("SVA1").await.unwrap().map(|k| k.secret), Some(rewrapped.clone()));
    assert_eq!(store.access_keys(Some(&alice)).await.unwrap().len(), 2);
    assert_eq!(store.access_keys(None).await.unwrap().len(), 3);
    assert!(store.access_key("SVNOBODY").await.unwrap().is_none());

    // The creator owns the bucket; a grant is set, changed and removed; none on a missing bucket.
    let b = BucketUid([61; 16]);
    let rec = BucketRecord { uid: b, name: bucket_name("grants"), policy_id: "p".into(), created_ms: 0 };
    store.create_bucket(rec, Some(alice.clone()), entry("create")).await.unwrap().expect("created");
    assert_eq!(store.grant(b, &alice).await.unwrap(), Perms::ALL);
    let grant = |bucket: &str, add: &str, remove: &str| AuditedChange::Grant {
        bucket: bucket_name(bucket),
        user: bob.clone(),
        add: Perms::parse(add).unwrap(),
        remove: Perms::parse(remove).unwrap(),
    };
    store.apply_change(grant("grants", "read", ""), entry("g1")).await.unwrap().expect("granted");
    store.apply_change(grant("grants", "write", ""), entry("g1b")).await.unwrap().expect("added to");
    assert_eq!(store.grant(b, &bob).await.unwrap(), Perms::parse("read,write").unwrap());
    store.apply_change(grant("grants", "", "write,owner"), entry("g2")).await.unwrap().expect("changed");
    assert_eq!(store.grant(b, &bob).await.unwrap(), Perms::parse("read").unwrap());
    assert!(store.apply_change(grant("missing", "read", ""), entry("g3")).await.unwrap().is_none(), "no bucket");
    assert_eq!(store.grants().await.unwrap().len(), 2);

    // Deleting bob takes his key and grant with him, each removal logged.
    store.apply_change(AuditedChange::DeleteUser(bob.clone()), entry("u4")).await.unwrap().expect("deleted");
    assert!(store.apply_change(AuditedChange::DeleteUser(bob.clone()), entry("u5")).await.unwrap().is_none());
    assert!(store.user(&bob).await.unwrap().is_none());
    assert!(store.access_key("SVB1").await.unwrap().is_none());
    assert!(store.grant(b, &bob).await.unwrap().is_empty());
    assert!(store.apply_change(AuditedChange::DeleteAccessKey("SVA1".into()), entry("k")).await.unwrap().is_some());
    assert!(store.apply_change(AuditedChange::DeleteAccessKey("SVA1".into()), entry("k")).await.unwrap().is_none());

    let names: Vec<(String, bool)> =
        logged_catalog(store).await.into_iter().map(|(name, json)| (name, json == "null")).collect();
    let grant_name = format!("grant/{}/", hex::encode([61; 16]));
    let expected: Vec<(String, bool)> = [
        ("user/alice".to_owned(), false),
        ("user/bob".into(), false),
        ("accesskey/SVA1".into(), false),
        ("accesskey/SVA2".into(), false),
        ("accesskey/SVB1".into(), false),
        ("accesskey/SVA2".into(), false),
        ("accesskey/SVA1".into(), false),
        (format!("{grant_name}alice"), false),
        (format!("{grant_name}bob"), false),
        (format!("{grant_name}bob"), false),
        (format!("{grant_name}bob"), false),
        ("user/bob".into(), true),
        ("accesskey/SVB1".into(), true),
        (format!("{grant_name}bob"), true),
        ("accesskey/SVA1".into(), true),
    ]
    .into();
    assert_eq!(names, expected, "every change logged, in commit order, removals as null");
    let audited = store.audit_records(0, 100_000).await.unwrap().len() - audited_before;
    assert_eq!(audited, 13, "every applied change is audited (creation included), refusals not");

    bucket_access_round_trip(store, b).await;

    // A deleted bucket's grants, policy and block go with it.
    assert!(store.delete_bucket(&bucket_name("grants")).await.unwrap());
    assert!(store.grants().await.unwrap().is_empty());
    assert_eq!(store.bucket_access(b).await.unwrap(), (None, None));

    // Restored records read back as written.
    let carol = UserRecord { name: UserName::parse("carol").unwrap(), ..user("x") };
    let restored = vec![
        AccessRecord::User(carol.clone()),
        AccessRecord::Key(key("SVC1", "carol")),
        AccessRecord::Grant { bucket: b, user: carol.name.clone(), perms: Perms::parse("write").unwrap() },
    ];
    store.restore(RestoreBatch { access: restored, ..RestoreBatch::default() }).await.unwrap();
    assert_eq!(store.user(&carol.name).await.unwrap(), Some(carol.clone()));
    assert_eq!(store.access_key("SVC1").await.unwrap(), Some(key("SVC1", "carol")));
    assert_eq!(store.grant(b, &carol.name).await.unwrap(), Perms::parse("write").unwrap());

    admin_tokens_round_trip(store).await;
}

/// A bucket's policy and public access block: set, replaced, read back, removed; none for a
/// missing bucket. Leaves the block set on `grants` (its deletion must take it).
async fn bucket_access_round_trip(store: &dyn MetadataStore, b: BucketUid) {
    // A bucket's policy and public access block: set, replaced, read back, removed.
    let policy = |document: Option<&str>| AuditedChange::BucketAccessPolicy {
        bucket: bucket_name("grants"),
        document: document.map(str::to_owned),
    };
    let block = PublicAccessBlock { restrict_public_buckets: true, ..PublicAccessBlock::default() };
    store.apply_change(policy(Some("{\"v\":1}")), entry("p1")).await.unwrap().expect("set");
    store.apply_change(policy(Some("{\"v\":2}")), entry("p2")).await.unwrap().expect("replaced");
    let blocked = AuditedChange::PublicBlock { bucket: bucket_name("grants"), block: Some(block) };
    store.apply_change(blocked, entry("b1")).await.unwrap().expect("set");
    assert_eq!(store.bucket_access(b).await.unwrap(), (Some("{\"v\":2}".to_owned()), Some(block)));
    store.apply_change(policy(None), entry("p3")).await.unwrap().expect("removed");
    assert_eq!(store.bucket_access(b).await.unwrap(), (None, Some(block)));
    let missing = AuditedChange::BucketAccessPolicy { bucket: bucket_name("nope"), document: Some("{}".into()) };
    assert!(store.apply_change(missing, entry("p4")).await.unwrap().is_none(), "no bucket");
}

/// Admin tokens: created once (first wins), listed, deleted once, restored.
async fn admin_tokens_round_trip(store: &dyn MetadataStore) {
    let ops = UserName::parse("ops").unwrap();
    let token = AdminTokenRecord { name: ops.clone(), role: AdminRole::Viewer, sha256: [7; 32], created_ms: 1 };
    let create = |t: &AdminTokenRecord| AuditedChange::CreateAdminToken(t.clone());
    assert!(store.apply_change(create(&token), entry("t1")).await.unwrap().is_some());
    let other = AdminTokenRecord { role: AdminRole::Admin, ..token.clone() };
    assert!(store.apply_change(create(&other), entry("t2")).await.unwrap().is_none(), "exists");
    assert_eq!(store.admin_tokens().await.unwrap(), std::slice::from_ref(&token));
    assert!(store.apply_change(AuditedChange::DeleteAdminToken(ops.clone()), entry("t3")).await.unwrap().is_some());
    assert!(store.apply_change(AuditedChange::DeleteAdminToken(ops), entry("t4")).await.unwrap().is_none());
    assert!(store.admin_tokens().await.unwrap().is_empty());
    let batch = RestoreBatch { access: vec![AccessRecord::Token(token.clone())], ..RestoreBatch::default() };
    store.restore(batch).await.unwrap();
    assert_eq!(store.admin_tokens().await.unwrap(), [token]);
}
