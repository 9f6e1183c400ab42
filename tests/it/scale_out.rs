//! Several gateways on one PostgreSQL database and the same providers: what one writes the
//! other reads at once, a conditional write has one winner across gateways, and repair work a
//! killed gateway held is finished by another.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use souverain::app::{RunningGateway, start};
use souverain::config::Config;

use crate::common::fault_proxy::Fault;
use crate::common::postgres::PgServer;
use crate::common::{BinaryGateway, Providers, body_bytes, client, error_status, init, pattern};

/// The test config over `providers`, with its metadata in `db` of `pg` and short repair claims.
fn config_on_postgres(dir: &Path, providers: &Providers, pg: &PgServer, db: &str) -> String {
    crate::common::config_on_postgres(dir, providers, pg, db)
        .replace("repair_interval_secs = 1", "repair_interval_secs = 1\nrepair_claim_secs = 10")
}

async fn start_gateway(text: &str, dir: &Path) -> RunningGateway {
    start(Config::parse(text, dir).expect("test config is valid")).await.expect("gateway starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_postgres_read_each_others_writes_and_agree_on_conditions() {
    init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let pg = PgServer::start();
    pg.create_database("gateways");
    let text = config_on_postgres(dir.path(), &providers, &pg, "gateways");
    // One after the other: the first creates the shared key file.
    let g1 = start_gateway(&text, dir.path()).await;
    let g2 = start_gateway(&text, dir.path()).await;
    let (c1, c2) = (client(g1.s3_addr), client(g2.s3_addr));

    c1.create_bucket().bucket("shared").send().await.unwrap();
    let e = c2.create_bucket().bucket("shared").send().await.unwrap_err();
    assert_eq!(crate::common::error_code(&e).as_deref(), Some("BucketAlreadyOwnedByYou"));

    // Written through one, read byte-exact through the other at once.
    let body = pattern(3 << 20, 7);
    c1.put_object().bucket("shared").key("doc").body(ByteStream::from(body.clone())).send().await.unwrap();
    let got = body_bytes(c2.get_object().bucket("shared").key("doc").send().await.unwrap()).await;
    assert!(got == body, "bytes read through the second gateway differ");
    let listed = crate::common::listed_keys(&c2, "shared").await;
    assert_eq!(listed, ["doc"]);
    // Overwritten through the second, read through the first.
    let newer = pattern(1000, 8);
    c2.put_object().bucket("shared").key("doc").body(ByteStream::from(newer.clone())).send().await.unwrap();
    assert_eq!(body_bytes(c1.get_object().bucket("shared").key("doc").send().await.unwrap()).await, newer);

    // A multipart upload started on one gateway, continued and completed on the other.
    let up = c1.create_multipart_upload().bucket("shared").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = pattern(5 << 20, 9);
    let p1 = c2
        .upload_part()
        .bucket("shared")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap();
    let done = crate::multipart::completed(&[(1, p1.e_tag().unwrap().to_owned())]);
    c1.complete_multipart_upload()
        .bucket("shared")
        .key("mp")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    assert_eq!(body_bytes(c2.get_object().bucket("shared").key("mp").send().await.unwrap()).await, part);

    // If-None-Match: * through both at once: exactly one 200 and one 412, every time.
    for round in 0..8 {
        let key = format!("once-{round}");
        let put = |c: &aws_sdk_s3::Client, n: u64| {
            c.put_object()
                .bucket("shared")
                .key(&key)
                .if_none_match("*")
                .body(ByteStream::from(pattern(64 << 10, n)))
                .send()
        };
        let (r1, r2) = tokio::join!(put(&c1, 1), put(&c2, 2));
        let statuses: Vec<u16> = [r1.as_ref().err(), r2.as_ref().err()]
            .into_iter()
            .map(|e| e.map_or(200, |e| error_status(e).unwrap_or(0)))
            .collect();
        let mut sorted = statuses.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [200, 412], "round {round}: {statuses:?}");
        let winner = if r1.is_ok() { 1 } else { 2 };
        let stored = body_bytes(c1.get_object().bucket("shared").key(&key).send().await.unwrap()).await;
        assert!(stored == pattern(64 << 10, winner), "round {round}: the winner's bytes are stored");
    }

    // A residency change made through one gateway's admin API reaches the other: a bucket can
    // be created there under the new policy within a few heartbeats.
    let admin = g1.admin_addr.expect("admin listener");
    let policy = r#"{"id":"pair","replicas":2,"write_quorum":2,"min_distinct_countries":2}"#;
    let headers = [
        ("host".to_owned(), admin.to_string()),
        ("authorization".to_owned(), format!("Bearer {}", crate::common::ADMIN_TOKEN)),
        ("content-length".to_owned(), policy.len().to_string()),
    ];
    let r = crate::common::raw::send(admin, "PUT", "/admin/v1/policies/pair", &headers, policy.as_bytes()).await;
    assert_eq!(r.as_ref().map(|r| r.status).ok(), Some(200));
    let conf = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from("pair"))
        .build();
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(e) = c2.create_bucket().bucket("paired").create_bucket_configuration(conf.clone()).send().await {
        assert!(Instant::now() < deadline, "the second gateway never learnt the policy: {e:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Deleted through one: gone through the other.
    c2.delete_object().bucket("shared").key("doc").send().await.unwrap();
    let e = c1.get_object().bucket("shared").key("doc").send().await.unwrap_err();
    assert_eq!(crate::common::error_code(&e).as_deref(), Some("NoSuchKey"));
    g1.shutdown().await;
    g2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_work_held_by_a_killed_gateway_is_finished_by_another() {
    let _heavy = crate::common::heavy_or_latency_sensitive().await;
    init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start_proxied(dir.path()).await;
    let pg = PgServer::start();
    pg.create_database("repair");
    let text = config_on_postgres(dir.path(), &providers, &pg, "repair");
    std::fs::write(dir.path().join("souverain.toml"), &text).unwrap();
    let g1 = BinaryGateway::spawn(dir.path(), &providers);
    let c1 = client(g1.addr);
    c1.create_bucket().bucket("bkt").send().await.unwrap();

    // The third provider swallows object requests: the PUT succeeds on two replicas, and the
    // first gateway's repair worker claims the third and hangs copying it.
    providers.proxies[2].set_for_objects(Fault::BlackHole);
    let body = pattern(2 << 20, 3);
    let puts_before = providers.proxies[2].object_puts();
    c1.put_object().bucket("bkt").key("k").body(ByteStream::from(body.clone())).send().await.unwrap();
    // Observed: the repair's copy reached the black hole (the write's own PUT came first), so
    // the first gateway holds the claim when it is killed.
    crate::common::wait_until("the first gateway's repair copying", Duration::from_mins(1), || {
        providers.proxies[2].object_puts() >= puts_before + 2
    })
    .await;
    g1.kill();
    providers.proxies[2].set(Fault::None);

    let g2 = start_gateway(&text, dir.path()).await;
    let meta = &g2.meta;
    let held = meta.repairs(None, 10).await.unwrap();
    assert_eq!(held.len(), 1, "one replica owed: {held:?}");
    let now = souverain::service::now_ms();
    assert!(held[0].due_ms > now, "the killed gateway's claim still runs: {:?} vs now {now}", held[0]);

    let deadline = Instant::now() + Duration::from_mins(1);
    while !meta.repairs(None, 10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the second gateway did not finish the repair");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let finished = souverain::service::now_ms();
    assert!(finished >= held[0].due_ms, "taken over only when the claim ran out");
    let repaired = g2.metrics.repair_completed.with_label_values(&["local-nl", "ok"]).get();
    assert_eq!(repaired, 1, "the second gateway made the copy");
    // Three replicas on three providers, and the bytes read back through the second gateway
    // from the repaired provider alone.
    let streams = providers.stream_files();
    assert_eq!(streams.len(), 3, "one stream file per provider");
    providers.proxies[0].set(Fault::Status(500));
    providers.proxies[1].set(Fault::Status(500));
    let c2 = client(g2.s3_addr);
    assert!(body_bytes(c2.get_object().bucket("bkt").key("k").send().await.unwrap()).await == body);
    providers.proxies[0].set(Fault::None);
    providers.proxies[1].set(Fault::None);
    g2.shutdown().await;
}

/// Promise (issue 18 item 12): TLS to the database cannot be downgraded. With a `ca_file` the
/// connection must be TLS: a server (or a man in the middle) answering the TLS request with
/// "N" (here a server without TLS, which answers exactly that) stops the gateway at start
/// instead of letting it fall back to cleartext; `sslmode=disable` beside a `ca_file` is
/// refused at config load, naming the way to accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_tls_is_not_downgraded() {
    init();
    let pg = PgServer::start();
    pg.create_database("downgrade");
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let (_, ca_pem, _, _) = crate::tls::issue_with_ca_pem();
    std::fs::write(dir.path().join("pg-ca.pem"), ca_pem).unwrap();
    let with_ca = config_on_postgres(dir.path(), &providers, &pg, "downgrade")
        .replace("password_file =", "ca_file = \"pg-ca.pem\"\npassword_file =");
    let disabled = Config::parse(&with_ca, dir.path()).err().map(|e| souverain::report::chain(&e)).unwrap_or_default();
    assert!(disabled.contains("sslmode=disable") && disabled.contains("allow_plaintext"), "{disabled}");
    let prefer = with_ca.replace("?sslmode=disable", "");
    let config = Config::parse(&prefer, dir.path()).expect("valid config");
    let err = start(config).await.err().map(|e| souverain::report::chain(&e)).unwrap_or_default();
    assert!(err.to_lowercase().contains("tls"), "refused without TLS: {err:?}");
    let plaintext = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'souverain'");
    assert_eq!(plaintext.trim(), "0", "no cleartext session was opened");
}

/// Promise: the connection to the database can be TLS, and its certificate is verified: with
/// the CA in `metadata.ca_file` the gateway works over TLS; without it the gateway refuses to
/// start, naming the unknown issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_connection_is_tls_and_verified() {
    init();
    let (_, ca_pem, cert_pem, key_pem) = crate::tls::issue_with_ca_pem();
    let pg = PgServer::start_tls(&cert_pem, &key_pem);
    pg.create_database("tls");
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    std::fs::write(dir.path().join("pg-ca.pem"), ca_pem).unwrap();
    let text = config_on_postgres(dir.path(), &providers, &pg, "tls").replace("sslmode=disable", "sslmode=require");
    let untrusted = Config::parse(&text, dir.path()).expect("valid config");
    let err = start(untrusted).await.err().map(|e| souverain::report::chain(&e)).unwrap_or_default();
    assert!(err.contains("UnknownIssuer"), "refused without the CA: {err}");
    let text = text.replace("password_file =", "ca_file = \"pg-ca.pem\"\npassword_file =");
    let g = start_gateway(&text, dir.path()).await;
    let c = client(g.s3_addr);
    c.create_bucket().bucket("over-tls").send().await.unwrap();
    let body = pattern(100_000, 4);
    c.put_object().bucket("over-tls").key("k").body(ByteStream::from(body.clone())).send().await.unwrap();
    assert!(body_bytes(c.get_object().bucket("over-tls").key("k").send().await.unwrap()).await == body);
    let ssl = pg.psql("SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'souverain'");
    assert_eq!(ssl.trim(), "t", "every gateway connection uses TLS");
    g.shutdown().await;
}
