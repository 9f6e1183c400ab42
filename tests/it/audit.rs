//! The audit chain's seal: a record rewritten in the metadata store, with every later hash
//! recomputed, is found by `audit verify`, although the plain hash chain still links.

use std::net::SocketAddr;

use souverain::meta::codec::{decode, encode};
use souverain::meta::kv::{Cf, KvEngine, KvOp};
use souverain::meta::rocks::RocksEngine;
use souverain::model::audit::{AuditRecord, verify};

use crate::common::{BinaryGateway, Providers, admin_request, client, config_text};

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
