//! The audit chain a rebuild brings back (docs/format-v2.md, "The audit log"): every record
//! staged, whichever scope logged it — a deleted bucket's too, since the log is history, not
//! state — in chain order, with the hash links checked as they are written back. A record
//! missing from the log (a segment lost, or written before records were logged) is reported,
//! never hidden: the restored chain shows the same break to `audit verify`.

use super::fold::unstaged;
use super::stage::{self, AUDIT};
use crate::meta::log_entry::LogEntry;
use crate::meta::restore::RestoredAudit;
use crate::meta::{MetaError, RebuildStage};
use crate::model::BucketUid;
use crate::model::audit::{AuditRecord, link_problems};

/// Problems listed in a report at most (the count goes on).
const MAX_LISTED: usize = 100;

/// What the chain read back holds.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    /// Records restored.
    pub records: usize,
    /// The first and last record's sequence numbers.
    pub first: Option<u64>,
    /// The last.
    pub last: Option<u64>,
    /// Breaks found (missing or altered records), at most [`MAX_LISTED`].
    pub problems: Vec<String>,
    /// How many breaks in all.
    pub problem_count: usize,
}

impl ChainReport {
    fn note(&mut self, problems: Vec<String>) {
        self.problem_count += problems.len();
        let room = MAX_LISTED.saturating_sub(self.problems.len());
        self.problems.extend(problems.into_iter().take(room));
    }
}

/// Hands the staged records to `each` in chain order, `page` at a time, checking each link.
pub(super) async fn each_record<F, E>(
    stage: &dyn RebuildStage,
    page: usize,
    report: &mut ChainReport,
    mut each: F,
) -> Result<(), E>
where
    F: AsyncFnMut(Vec<RestoredAudit>) -> Result<(), E>,
    E: From<MetaError>,
{
    let mut prev: Option<AuditRecord> = None;
    stage::each_page(stage, &[AUDIT], page, async |pairs| {
        let mut batch = Vec::with_capacity(pairs.len());
        for (_, v) in pairs {
            let LogEntry::Audited(a) = unstaged(&v)?.entry else { continue };
            let record = a.record();
            if prev.is_none() && record.seq > 1 {
                let missing =
                    if record.seq == 2 { "record 1 is".into() } else { format!("records 1 to {} are", record.seq - 1) };
                report.note(vec![format!("{missing} not in the log (written before records were logged, or lost)")]);
            }
            report.note(link_problems(prev.as_ref(), &record, None));
            report.records += 1;
            report.first.get_or_insert(record.seq);
            report.last = Some(record.seq);
            prev = Some(record.clone());
            batch.push(RestoredAudit { record, bucket: a.bucket.map(BucketUid), log_seq: a.seq });
        }
        each(batch).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::log_entry::{LoggedAudit, LoggedCheckpoint};
    use crate::metalog::fold::{ReadSegment, fold_segments};
    use crate::metalog::stage::{Job, MemoryStage};
    use crate::model::audit::{AuditEntry, GENESIS};

    /// A chain of `n` records; record `i` is logged at sequence `10 * i` in the scope of
    /// bucket `i % 3` (0: the catalog).
    fn chain(n: u64) -> Vec<LogEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|i| {
                let rec = AuditRecord::seal(AuditEntry::new("t", &format!("a{i}"), &i.into()), i, 0, &prev);
                prev.clone_from(&rec.hash);
                let bucket = (i % 3 != 0).then_some([(i % 3) as u8; 16]);
                LogEntry::Audited(Box::new(LoggedAudit::new(10 * i, bucket, &rec)))
            })
            .collect()
    }

    /// The records handed on (sequence, scope byte, log number) and the report, after
    /// folding `segments` in that order.
    async fn restored(segments: Vec<Vec<LogEntry>>) -> (Vec<(u64, Option<u8>, u64)>, ChainReport) {
        let stage = MemoryStage::default();
        for (i, entries) in segments.into_iter().enumerate() {
            let read = ReadSegment { name: format!("seg{i}"), entries, holders: Vec::new(), bytes: 0 };
            fold_segments(&stage, vec![read], &mut Job::default()).await.unwrap();
        }
        let (mut out, mut report) = (Vec::new(), ChainReport::default());
        each_record(&stage, 2, &mut report, async |page| -> Result<(), MetaError> {
            out.extend(page.into_iter().map(|r| (r.record.seq, r.bucket.map(|b| b.as_bytes()[0]), r.log_seq)));
            Ok(())
        })
        .await
        .unwrap();
        (out, report)
    }

    /// Promise: the records of every scope — a live bucket's, the catalog's, and a deleted
    /// bucket's carried by its checkpoint — come back as one chain in order, with their scopes
    /// and log numbers, however the segments are read, and read twice change nothing.
    #[tokio::test]
    async fn records_of_every_scope_come_back_as_one_chain() {
        let all = chain(7);
        let by_scope = |b: Option<u8>| -> Vec<LogEntry> {
            all.iter().filter(|e| e.bucket().map(|x| x[0]) == b).cloned().collect()
        };
        let marker =
            LogEntry::Checkpoint(LoggedCheckpoint { through: 100, bucket: [2; 16], id: [9; 16], part: 0, last: true });
        let deleted = [vec![marker, LogEntry::BucketDeleted { seq: 100, bucket: [2; 16] }], by_scope(Some(2))].concat();
        let expected: Vec<_> = (1..=7).map(|i| (i, (i % 3 != 0).then_some((i % 3) as u8), 10 * i)).collect::<Vec<_>>();
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let segments = [by_scope(Some(1)), by_scope(None), deleted.clone()];
            let mut read: Vec<_> = order.iter().map(|&i| segments[i].clone()).collect();
            read.push(segments[order[0]].clone());
            let (got, report) = restored(read).await;
            assert_eq!(got, expected, "order {order:?}");
            assert_eq!((report.records, report.first, report.last), (7, Some(1), Some(7)));
            assert!(report.problems.is_empty(), "{:?}", report.problems);
        }
    }

    /// Promise: a record missing from the log (its segment lost) or an altered one is reported
    /// by number, and so are records older than the first one logged; the others still come
    /// back, so the restored chain shows the same break.
    #[tokio::test]
    async fn a_missing_record_is_reported_not_hidden() {
        let mut all = chain(6);
        all.remove(3);
        let LogEntry::Audited(a) = &mut all[0] else { unreachable!() };
        a.detail = "altered".into();
        let (got, report) = restored(vec![all[1..].to_vec()]).await;
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 5, 6]);
        assert_eq!(
            report.problems,
            [
                "record 1 is not in the log (written before records were logged, or lost)",
                "record 5: does not follow record 3 (removed or reordered)",
                "record 5: expected sequence number 4",
            ]
        );
        let (_, report) = restored(vec![all]).await;
        assert_eq!(report.problems[0], "record 1: its content does not match its hash (edited)");
        assert_eq!(report.problem_count, 3);
    }
}
