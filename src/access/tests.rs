use super::*;

fn user(create_buckets: bool, policies: Option<&[&str]>) -> Principal {
    Principal::User {
        name: UserName::parse("alice").unwrap(),
        key_id: "SVALICE".into(),
        caps: UserCaps { create_buckets, policies: policies.map(|p| p.iter().map(|s| (*s).to_owned()).collect()) },
    }
}

static NO_FACTS: policy::RequestFacts =
    policy::RequestFacts { source_ip: None, secure: false, prefix: None, delimiter: None };

fn granted(text: &str) -> Target<'static> {
    Target::Bucket(BucketFacts::granted(Perms::parse(text).unwrap(), "arn:aws:s3:::b/k", &NO_FACTS))
}

const BUCKET_ACTIONS: [Action; 9] = [
    Action::HeadBucket,
    Action::DeleteBucket,
    Action::ListBucket,
    Action::ListBucketMultipartUploads,
    Action::ListMultipartUploadParts,
    Action::GetObject,
    Action::PutObject,
    Action::DeleteObject,
    Action::AbortMultipartUpload,
];

/// Promise: each bucket action is allowed exactly by the permission it needs, and a user with
/// no grant is refused everything on the bucket.
#[test]
fn each_grant_allows_exactly_its_actions() {
    let expected = |action: Action, grant: &str| -> bool {
        match action {
            Action::HeadBucket => grant != "none",
            Action::PutObject | Action::DeleteObject | Action::AbortMultipartUpload => grant == "write",
            Action::DeleteBucket => grant == "owner",
            _ => grant == "read",
        }
    };
    let alice = user(false, None);
    for grant in ["none", "read", "write", "owner"] {
        for action in BUCKET_ACTIONS {
            let decision = authorize(&alice, action, granted(grant));
            assert_eq!(decision == Decision::Allow, expected(action, grant), "{action:?} with {grant}: {decision:?}");
        }
    }
}

/// Promise: the configuration's own keys do everything; anonymous requests nothing.
#[test]
fn root_keys_do_everything_and_anonymous_nothing() {
    let root = Principal::Root { key_id: "quickstart".into() };
    for action in BUCKET_ACTIONS {
        assert_eq!(authorize(&root, action, granted("none")), Decision::Allow);
        assert_eq!(
            authorize(&Principal::Anonymous, action, granted("read,write,owner")),
            Decision::Deny(Denial::Anonymous)
        );
    }
    assert_eq!(authorize(&root, Action::CreateBucket, Target::NewBucket { policy: "any" }), Decision::Allow);
}

/// Promise: bucket creation needs the capability, and a user limited to some residency
/// policies cannot pick another.
#[test]
fn bucket_creation_follows_the_user_capabilities() {
    let create = |p: &Principal, policy| authorize(p, Action::CreateBucket, Target::NewBucket { policy });
    assert_eq!(create(&user(false, None), "eu"), Decision::Deny(Denial::MayNotCreateBuckets));
    assert_eq!(create(&user(true, None), "eu"), Decision::Allow);
    let limited = user(true, Some(&["de-only"]));
    assert_eq!(create(&limited, "de-only"), Decision::Allow);
    assert_eq!(create(&limited, "eu"), Decision::Deny(Denial::PolicyNotAllowed("eu".into())));
    assert_eq!(authorize(&user(false, None), Action::ListBuckets, Target::Service), Decision::Allow);
}

/// Promise: an action asked of the wrong kind of target is refused, never guessed.
#[test]
fn an_action_on_the_wrong_target_is_refused() {
    let alice = user(true, None);
    assert!(matches!(authorize(&alice, Action::GetObject, Target::Service), Decision::Deny(Denial::WrongTarget(_))));
    assert!(matches!(
        authorize(&alice, Action::CreateBucket, granted("owner")),
        Decision::Deny(Denial::WrongTarget(_))
    ));
}

/// Promise: every admin role reads; each changes only its own part; only `admin` manages
/// tokens; admin tokens do no S3 operation and S3 keys no admin route.
#[test]
fn admin_roles_cover_exactly_their_routes() {
    use crate::model::access::AdminRole;
    let routes =
        [Action::AdminRead, Action::AdminResidency, Action::AdminKeys, Action::AdminUsers, Action::AdminTokens];
    let table: [(AdminRole, [bool; 5]); 5] = [
        (AdminRole::Viewer, [true, false, false, false, false]),
        (AdminRole::Residency, [true, true, false, false, false]),
        (AdminRole::Keys, [true, false, true, false, false]),
        (AdminRole::Users, [true, false, false, true, false]),
        (AdminRole::Admin, [true, true, true, true, true]),
    ];
    for (role, allowed) in table {
        let token = Principal::Admin { name: "ops".into(), role };
        for (action, expected) in routes.into_iter().zip(allowed) {
            assert_eq!(authorize(&token, action, Target::Service) == Decision::Allow, expected, "{role:?} {action:?}");
        }
        assert!(matches!(
            authorize(&token, Action::GetObject, granted("read")),
            Decision::Deny(Denial::WrongPrincipal(_))
        ));
    }
    let root = Principal::Root { key_id: "quickstart".into() };
    assert!(matches!(authorize(&root, Action::AdminRead, Target::Service), Decision::Deny(Denial::WrongPrincipal(_))));
}

/// Promise: a bucket policy's deny wins over grants and over the root keys (except on the
/// policy operations themselves), its allow adds to the grants, and an unsigned request is
/// allowed through a public statement only while public access is not blocked.
#[test]
fn bucket_policies_combine_with_grants_as_aws_evaluates() {
    let text = r#"{"Statement":[
        {"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutBucketPolicy"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
        {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"}]}"#;
    let policy = policy::BucketPolicy::parse(text, "b").unwrap();
    let facts = |granted: &str, resource: &'static str, public_allowed: bool| {
        Target::Bucket(BucketFacts {
            granted: Perms::parse(granted).unwrap(),
            policy: Some(&policy),
            resource,
            request: &NO_FACTS,
            public_allowed,
        })
    };
    let root = Principal::Root { key_id: "quickstart".into() };
    let alice = user(false, None);
    let deny = |a: Action| Decision::Deny(Denial::PolicyDenies(a.s3_name()));
    assert_eq!(
        authorize(&alice, Action::DeleteObject, facts("write", "arn:aws:s3:::b/k", false)),
        deny(Action::DeleteObject)
    );
    assert_eq!(
        authorize(&root, Action::DeleteObject, facts("none", "arn:aws:s3:::b/k", false)),
        deny(Action::DeleteObject)
    );
    assert_eq!(authorize(&root, Action::PutBucketPolicy, facts("none", "arn:aws:s3:::b", false)), Decision::Allow);
    assert_eq!(
        authorize(&alice, Action::PutBucketPolicy, facts("owner", "arn:aws:s3:::b", false)),
        deny(Action::PutBucketPolicy)
    );
    assert_eq!(authorize(&alice, Action::GetObject, facts("none", "arn:aws:s3:::b/public/x", false)), Decision::Allow);
    assert!(matches!(
        authorize(&alice, Action::GetObject, facts("none", "arn:aws:s3:::b/k", false)),
        Decision::Deny(Denial::NotGranted { .. })
    ));
    let anonymous = Principal::Anonymous;
    assert_eq!(
        authorize(&anonymous, Action::GetObject, facts("none", "arn:aws:s3:::b/public/x", true)),
        Decision::Allow
    );
    assert_eq!(
        authorize(&anonymous, Action::GetObject, facts("none", "arn:aws:s3:::b/public/x", false)),
        Decision::Deny(Denial::Anonymous)
    );
    assert_eq!(
        authorize(&anonymous, Action::GetObject, facts("read", "arn:aws:s3:::b/k", true)),
        Decision::Deny(Denial::Anonymous)
    );
}
