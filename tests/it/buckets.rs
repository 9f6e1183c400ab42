use crate::common::{TestGateway, error_code, error_status};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

/// Promise: buckets can be created, listed, inspected and deleted as on AWS S3.
#[tokio::test]
async fn bucket_lifecycle() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("alpha").send().await.unwrap();
    c.create_bucket().bucket("beta-1").send().await.unwrap();
    let names: Vec<String> =
        c.list_buckets().send().await.unwrap().buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect();
    assert_eq!(names, ["alpha", "beta-1"]);
    c.head_bucket().bucket("alpha").send().await.unwrap();
    let loc = c.get_bucket_location().bucket("alpha").send().await.unwrap();
    assert_eq!(
        loc.location_constraint().map(aws_sdk_s3::types::BucketLocationConstraint::as_str),
        Some("eu-sovereign-1")
    );
    let again = c.create_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(error_code(&again).as_deref(), Some("BucketAlreadyOwnedByYou"));
    assert_eq!(error_status(&again), Some(409));
    c.delete_bucket().bucket("beta-1").send().await.unwrap();
    let gone = c.head_bucket().bucket("beta-1").send().await.unwrap_err();
    assert_eq!(error_status(&gone), Some(404));
    let missing = c.delete_bucket().bucket("nope-nope").send().await.unwrap_err();
    assert_eq!(error_code(&missing).as_deref(), Some("NoSuchBucket"));
    gw.stop().await;
}

/// Promise: invalid bucket names are refused with InvalidBucketName and nothing is created.
#[tokio::test]
async fn bucket_name_rules() {
    let gw = TestGateway::start().await;
    for bad in ["ab", "UPPER", "under_score", "-dash", "192.168.0.1", "a..b"] {
        let r = crate::common::raw::signed_request(
            gw.addr,
            &crate::common::raw::Signer::new(std::time::SystemTime::now()),
            "PUT",
            &format!("/{bad}"),
            vec![],
            &crate::common::raw::sha256_hex(b""),
            b"",
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body_text());
        assert_eq!(r.code().as_deref(), Some("InvalidBucketName"), "{bad}");
    }
    assert!(gw.client.list_buckets().send().await.unwrap().buckets().is_empty());
    gw.stop().await;
}

/// Promise: a non-empty bucket cannot be deleted (BucketNotEmpty, 409); one whose only content
/// is unfinished multipart uploads is deleted with them (as S3 does: tools clean up after an
/// interrupted upload by deleting the bucket).
#[tokio::test]
async fn delete_non_empty_bucket_refused() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    c.create_bucket().bucket("full").send().await.unwrap();
    c.put_object().bucket("full").key("k").body(b"x".to_vec().into()).send().await.unwrap();
    let e = c.delete_bucket().bucket("full").send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("BucketNotEmpty"));
    assert_eq!(error_status(&e), Some(409));
    c.delete_object().bucket("full").key("k").send().await.unwrap();
    let up = c.create_multipart_upload().bucket("full").key("m").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = vec![7u8; 1000];
    c.upload_part().bucket("full").key("m").upload_id(id).part_number(1).body(part.into()).send().await.unwrap();
    c.delete_bucket().bucket("full").send().await.unwrap();
    let gone = c.head_bucket().bucket("full").send().await.unwrap_err();
    assert_eq!(error_status(&gone), Some(404));
    c.create_bucket().bucket("full").send().await.unwrap();
    let uploads = c.list_multipart_uploads().bucket("full").send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the upload went with the bucket");
    let e = c.list_parts().bucket("full").key("m").upload_id(id).send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("NoSuchUpload"));
    gw.stop().await;
}

/// Promise: the LocationConstraint names a residency policy; a policy that cannot be met
/// refuses the bucket (409 ResidencyUnsatisfiable), an unknown one is InvalidLocationConstraint,
/// and a DE-only bucket stores only in Germany.
#[tokio::test]
async fn location_constraint_selects_residency_policy() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let conf =
        |l: &str| CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(l)).build();
    c.create_bucket().bucket("german").create_bucket_configuration(conf("de-only")).send().await.unwrap();
    let e = c
        .create_bucket()
        .bucket("two-de")
        .create_bucket_configuration(conf("two-in-germany"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("ResidencyUnsatisfiable"));
    assert_eq!(error_status(&e), Some(409));
    // Two German providers are needed and one exists: too few eligible, counted by reason.
    let refused = "souverain_placement_refusals_total";
    assert_eq!(gw.metric_sum(refused, &["policy=\"two-in-germany\"", "reason=\"too_few_eligible\""]).await, 1);
    let e = c.create_bucket().bucket("mars").create_bucket_configuration(conf("mars-1")).send().await.unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("InvalidLocationConstraint"));
    assert_eq!(c.list_buckets().send().await.unwrap().buckets().len(), 1);
    c.put_object().bucket("german").key("k").body(vec![7u8; 1000].into()).send().await.unwrap();
    let dirs = gw.provider_dirs();
    let streams = gw.stream_files();
    let count = |d: &std::path::Path| streams.iter().filter(|(p, _)| p.starts_with(d)).count();
    assert_eq!((count(&dirs[0]), count(&dirs[1]), count(&dirs[2])), (1, 0, 0), "only the DE provider holds the object");
    gw.stop().await;
}

/// Promise: certification and independence rules decide placement: a policy requiring a
/// certification no provider holds refuses the bucket (409, naming the policy) and stores
/// nothing; one requiring three countries and operators places on DE, FR and NL.
#[tokio::test]
async fn certification_and_independence_rules() {
    let gw = TestGateway::start().await;
    let c = &gw.client;
    let conf =
        |l: &str| CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(l)).build();
    let e = c
        .create_bucket()
        .bucket("certified")
        .create_bucket_configuration(conf("secnum-only"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&e).as_deref(), Some("ResidencyUnsatisfiable"));
    let message = e
        .as_service_error()
        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::message(s))
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("secnum-only"), "{message}");
    let refused = "souverain_placement_refusals_total";
    assert_eq!(gw.metric_sum(refused, &["policy=\"secnum-only\"", "reason=\"too_few_eligible\""]).await, 1);
    c.create_bucket().bucket("spread").create_bucket_configuration(conf("three-countries")).send().await.unwrap();
    c.put_object().bucket("spread").key("k").body(vec![1u8; 100].into()).send().await.unwrap();
    let dirs = gw.provider_dirs();
    let streams = gw.stream_files();
    for d in &dirs {
        assert_eq!(streams.iter().filter(|(p, _)| p.starts_with(d)).count(), 1, "{}", d.display());
    }
    assert!(gw.client.list_buckets().send().await.unwrap().buckets().iter().all(|b| b.name() != Some("certified")));
    // The admin API explains a placement provider by provider.
    c.create_bucket().bucket("german").create_bucket_configuration(conf("de-only")).send().await.unwrap();
    let admin = gw.admin_addr();
    let headers = [
        ("host".to_owned(), admin.to_string()),
        ("authorization".to_owned(), format!("Bearer {}", crate::common::ADMIN_TOKEN)),
    ];
    let r = crate::common::raw::send(admin, "GET", "/admin/v1/placement/explain?bucket=german", &headers, b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["outcome"], "placed");
    for p in v["providers"].as_array().unwrap() {
        let de = p["country"] == "DE";
        assert_eq!(p["chosen"], de, "{p}");
        assert_eq!(p["violations"].as_array().unwrap().is_empty(), de, "{p}");
        if !de {
            assert_eq!(p["violations"][0], format!("country {} not allowed", p["country"].as_str().unwrap()));
        }
    }
    gw.stop().await;
}
