//! Someone who can write the metadata store but holds no KEK (a database administrator, a
//! restored backup with edits): a rewritten audit chain is found by its seal, and one object's
//! record made to point at another's data serves nothing.

use std::net::SocketAddr;

use souverain::meta::codec::{decode, encode};
use souverain::meta::kv::{Cf, KvEngine, KvOp};
use souverain::meta::rocks::RocksEngine;
use souverain::model::audit::{AuditRecord, verify};

use crate::common::{BinaryGateway, Providers, admin_request, body_bytes, client, config_text, error_status};

/// The live chain's verdict, as `GET /admin/v1/audit/verify` gives it.
async fn verdict(admin: SocketAddr) -> serde_json::Value {
    let (status, body) = admin_request(admin, "GET", "/admin/v1/audit/verify", "").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Every record of the stopped gateway's store, in order.
fn stored_records(engine: &RocksEngine) -> Vec<AuditRecord> {
    engine.scan(Cf::Audit, b"", None, usize::MAX).unwrap().iter().map(|(_, v)| decode(v).unwrap()).collect()
}

/// Promise (issue 18 item 13): the audit chain is sealed with a key that only the KEK opens.
/// Someone who can write the metadata store (not the key file) edits a record and recomputes
/// every later hash so that the chain links again; the restarted gateway's `audit verify`
/// reports it not intact ("rewritten"). Removing the seal as well is reported too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_audit_tail_is_found_by_the_seal() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let admin: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let config = config_text(dir.path(), "127.0.0.1:0", "rocksdb", &providers)
        .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"{admin}\""));
    std::fs::write(dir.path().join("souverain.toml"), config).unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    for b in ["ledger-a", "ledger-b", "ledger-c"] {
        client(gw.addr).create_bucket().bucket(b).send().await.unwrap();
    }
    let v = verdict(admin).await;
    assert_eq!((v["intact"].as_bool(), v["records"].as_u64()), (Some(true), Some(4)), "{v}");
    assert_eq!(v["sealed_through"], 4, "the key's own record and three creations: {v}");
    gw.kill();

    // The forger rewrites the second record and re-links every later one.
    {
        let engine = RocksEngine::open(&dir.path().join("meta")).unwrap();
        let mut records = stored_records(&engine);
        assert_eq!(records[0].action, "audit.key");
        assert!(records[1].detail.contains("ledger-a"), "{:?}", records[1]);
        records[1].detail = records[1].detail.replace("ledger-a", "ledger-z");
        for i in 1..records.len() {
            records[i].prev_hash = records[i - 1].hash.clone();
            records[i].hash = records[i].computed_hash();
        }
        assert!(verify(&records, None).is_empty(), "the plain chain links again");
        let head = records.last().map(|r| (r.seq, r.hash.clone())).unwrap();
        let mut ops: Vec<KvOp> =
            records.iter().map(|r| KvOp::Put(Cf::Audit, r.seq.to_be_bytes().to_vec(), encode(r).unwrap())).collect();
        ops.push(KvOp::Put(Cf::Meta, b"audit_head".to_vec(), encode(&head).unwrap()));
        engine.write(ops).unwrap();
    }
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let v = verdict(admin).await;
    assert_eq!(v["intact"], false, "{v}");
    assert_eq!(v["problems"], serde_json::json!(["the chain up to record 4 is not the sealed one (rewritten)"]), "{v}");
    gw.kill();

    // Removing the seal does not help.
    RocksEngine::open(&dir.path().join("meta"))
        .unwrap()
        .write(vec![KvOp::Delete(Cf::Meta, b"audit_seal".to_vec())])
        .unwrap();
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let v = verdict(admin).await;
    assert_eq!(v["problems"], serde_json::json!(["the chain's seal is missing (removed)"]), "{v}");
    gw.kill();
}

/// Promise (issue 18 item 10): each data key is bound to its object's key (as well as its bucket
/// and version). Swapping the metadata records of two objects of a bucket (so that `alpha`
/// names `beta`'s version, data key and streams) makes both GETs fail; neither serves the other
/// object's bytes. Reordering a multipart object's parts in its record fails its manifest MAC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_object_records_serve_nothing() {
    crate::common::init();
    let dir = tempfile::tempdir().unwrap();
    let providers = Providers::start(dir.path());
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    c.create_bucket().bucket("pair").send().await.unwrap();
    let (alpha, beta) = (b"alpha: pay 10 EUR to Alice".to_vec(), b"beta: pay 9000 EUR to Mallory".to_vec());
    for (key, body) in [("alpha", &alpha), ("beta", &beta)] {
        c.put_object().bucket("pair").key(key).body(body.clone().into()).send().await.unwrap();
    }
    let parts = [crate::common::pattern(5 << 20, 1), crate::common::pattern(5 << 20, 2)];
    let up = c.create_multipart_upload().bucket("pair").key("multi").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let mut done = aws_sdk_s3::types::CompletedMultipartUpload::builder();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c.upload_part().bucket("pair").key("multi").upload_id(id).part_number(n).body(p.clone().into());
        let etag = r.send().await.unwrap().e_tag().unwrap().to_owned();
        done = done.parts(aws_sdk_s3::types::CompletedPart::builder().part_number(n).e_tag(etag).build());
    }
    let complete = c.complete_multipart_upload().bucket("pair").key("multi").upload_id(id);
    complete.multipart_upload(done.build()).send().await.unwrap();
    gw.kill();
    {
        let engine = RocksEngine::open(&dir.path().join("meta")).unwrap();
        let bucket: souverain::meta::BucketRecord =
            decode(&engine.get(Cf::Buckets, b"pair").unwrap().unwrap()).unwrap();
        let record = |key: &str| [bucket.uid.as_bytes().as_slice(), key.as_bytes()].concat();
        let a = engine.get(Cf::Objects, &record("alpha")).unwrap().unwrap();
        let b = engine.get(Cf::Objects, &record("beta")).unwrap().unwrap();
        engine
            .write(vec![KvOp::Put(Cf::Objects, record("alpha"), b), KvOp::Put(Cf::Objects, record("beta"), a)])
            .unwrap();
        let mut multi: souverain::meta::VersionRecord =
            decode(&engine.get(Cf::Objects, &record("multi")).unwrap().unwrap()).unwrap();
        multi.streams.swap(0, 1);
        engine.write(vec![KvOp::Put(Cf::Objects, record("multi"), encode(&multi).unwrap())]).unwrap();
    }
    let gw = BinaryGateway::spawn(dir.path(), &providers);
    let c = client(gw.addr);
    for key in ["alpha", "beta", "multi"] {
        match c.get_object().bucket("pair").key(key).send().await {
            Ok(out) => {
                let got = body_bytes(out).await;
                let head = String::from_utf8_lossy(&got[..got.len().min(40)]).into_owned();
                panic!("{key} served {} bytes beginning {head:?}", got.len());
            }
            Err(e) => assert_eq!(error_status(&e), Some(500), "{key}: {e:?}"),
        }
    }
    gw.kill();
}
