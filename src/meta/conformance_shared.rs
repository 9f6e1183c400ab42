//! What must hold between two gateways on one shared store (PostgreSQL): the part of the
//! metadata conformance suite that needs two stores over one database.

use std::sync::Arc;

use super::conformance::{bucket_name, key_of, put, version};
use super::{AuditedChange, BucketRecord, CommitOutcome, Intent, MetadataStore, RepairTask};
use crate::model::WriteCondition;
use crate::model::audit::{AuditEntry, GENESIS};
use crate::model::{BootId, BucketUid, ProviderId, StreamId, VersionUid};

/// What must hold between two gateways `a` and `b` on one shared store (empty at the start).
///
/// # Panics
/// When the stores break their contract: that is how the suite reports it.
pub async fn shared_suite(a: Arc<dyn MetadataStore>, b: Arc<dyn MetadataStore>) {
    let bu = BucketUid([1; 16]);
    let entry = |action: &str| AuditEntry::new("test", action, &serde_json::json!({ "n": action }));
    let rec = BucketRecord { uid: bu, name: bucket_name("bkt"), policy_id: "p".into(), created_ms: 0 };
    a.create_bucket(rec.clone(), None, entry("create")).await.unwrap().expect("created");
    assert_eq!(b.create_bucket(rec, None, entry("again")).await.unwrap().err().map(|r| r.uid), Some(bu));

    // Read-after-write across gateways.
    a.commit_put(put(bu, "k", version(1, "a"), WriteCondition::None)).await.unwrap();
    assert_eq!(b.current(bu, &key_of("k")).await.unwrap().map(|v| v.version_uid), Some(VersionUid([1; 16])));

    // Concurrent If-None-Match through both: exactly one winner; If-Match races likewise.
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            s.commit_put(put(bu, "race", version(100 + i, "r"), WriteCondition::IfAbsent)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1, "one If-None-Match winner across gateways");
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            let cond = WriteCondition::IfMatch("\"a\"".into());
            s.commit_put(put(bu, "k", version(120 + i, &format!("\"m{i}\"")), cond)).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == CommitOutcome::Committed);
    }
    assert_eq!(wins, 1, "one If-Match winner across gateways");

    // The audit chain stays one chain when both append at once.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            s.apply_change(AuditedChange::RecordOnly, AuditEntry::new("t", "x", &serde_json::json!(i))).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("recorded");
    }
    let log = a.audit_records(0, 100).await.unwrap();
    assert_eq!(log.len(), 9);
    assert!(crate::model::audit::verify(&log, Some(GENESIS)).is_empty(), "one verifiable chain");

    // Repair claims: a task goes to one gateway, and to another only after the claim's lease.
    let fr = ProviderId::parse("fr").unwrap();
    let mut v = version(90, "r");
    v.streams[0].replicas = vec![fr.clone()];
    let mut c = put(bu, "repaired", v.clone(), WriteCondition::None);
    c.repairs = vec![RepairTask::for_stream(&v.streams[0], fr, 0, 1_000)];
    a.commit_put(c).await.unwrap();
    let (ca, cb) = tokio::join!(a.claim_repairs(1_000, 5_000, 10), b.claim_repairs(1_000, 5_000, 10));
    assert_eq!(ca.unwrap().len() + cb.unwrap().len(), 1, "claimed by exactly one");
    // The scrubber of the other gateway finds the replica missing meanwhile: the claim stands.
    b.queue_repair(RepairTask::for_stream(&v.streams[0], ProviderId::parse("fr").unwrap(), 0, 2_000)).await.unwrap();
    assert!(b.claim_repairs(5_999, 5_000, 10).await.unwrap().is_empty(), "a re-found replica keeps its claim");
    assert_eq!(b.claim_repairs(6_000, 5_000, 10).await.unwrap().len(), 1, "taken over after the lease");

    // Job leases: one holder at a time, renewable, free after expiry.
    let (g1, g2) = (BootId([1; 16]), BootId([2; 16]));
    assert!(a.take_lease("scrub", g1, 1_000, 10_000).await.unwrap());
    assert!(!b.take_lease("scrub", g2, 2_000, 10_000).await.unwrap(), "held by another");
    assert!(a.take_lease("scrub", g1, 5_000, 10_000).await.unwrap(), "renewed by its holder");
    assert!(!b.take_lease("scrub", g2, 14_999, 10_000).await.unwrap(), "renewal extended it");
    assert!(b.take_lease("scrub", g2, 15_000, 10_000).await.unwrap(), "free after expiry");
    assert!(a.take_lease("rotation", g1, 15_000, 10_000).await.unwrap(), "leases are per job");

    // Heartbeats: a live gateway's intents are not stale for another; a silent one's are.
    let (ga, gb, gone) = (BootId([0xA; 16]), BootId([0xB; 16]), BootId([0xC; 16]));
    a.heartbeat(ga, 100_000).await.unwrap();
    b.heartbeat(gb, 100_000).await.unwrap();
    b.heartbeat(gone, 10_000).await.unwrap();
    let mut live = a.live_boots(50_000).await.unwrap();
    live.sort();
    assert_eq!(live, [ga, gb]);
    for (id, boot) in [(1u8, gb), (2, gone)] {
        b.record_intent(Intent { stream_id: StreamId([id; 16]), targets: vec![], boot_id: boot, created_ms: 99_000 })
            .await
            .unwrap();
    }
    let mut mine = a.live_boots(50_000).await.unwrap();
    mine.push(ga);
    let stale: Vec<StreamId> = a.stale_intents(mine, 0, 10).await.unwrap().iter().map(|i| i.stream_id).collect();
    assert_eq!(stale, [StreamId([2; 16])], "only the silent gateway's intent is stale");
}
