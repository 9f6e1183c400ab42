//! The audit log's records and their hash chain (DESIGN.md §5): each record carries the SHA-256
//! of its own fields and of the previous record's hash, so an edited, removed or reordered
//! record breaks the chain. Pure: the metadata store appends records, the admin API exports
//! them as JSON lines, and `souverain admin audit verify` checks an export with [`verify`].

use serde::{Deserialize, Serialize};

/// The `prev_hash` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a new record says (the store assigns its sequence number, time and hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who: `admin` (the admin token), `s3` (an S3 request), `gateway` (a background job).
    pub actor: String,
    /// What, e.g. `bucket.create`, `placement.refused`, `provider.update`, `evacuation.move`.
    pub action: String,
    /// The facts, as a JSON document.
    pub detail: String,
}

impl AuditEntry {
    /// An entry with `detail` serialized as JSON.
    pub fn new(actor: &str, action: &str, detail: &serde_json::Value) -> Self {
        Self { actor: actor.to_owned(), action: action.to_owned(), detail: detail.to_string() }
    }
}

/// One record of the log, as stored and exported (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3, … without gaps.
    pub seq: u64,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The facts (JSON text).
    pub detail: String,
    /// The previous record's `hash` (hex), or [`GENESIS`].
    pub prev_hash: String,
    /// SHA-256 (hex) over the fields above, each length-prefixed.
    pub hash: String,
}

impl AuditRecord {
    /// Seals `entry` as record `seq` after `prev_hash`.
    pub fn seal(entry: AuditEntry, seq: u64, time_ms: i64, prev_hash: &str) -> Self {
        let mut r = Self {
            seq,
            time_ms,
            actor: entry.actor,
            action: entry.action,
            detail: entry.detail,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        r.hash = r.computed_hash();
        r
    }

    /// The hash the record's fields give.
    pub fn computed_hash(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for field in [
            self.seq.to_be_bytes().as_slice(),
            self.time_ms.to_be_bytes().as_slice(),
            self.actor.as_bytes(),
            self.action.as_bytes(),
            self.detail.as_bytes(),
            self.prev_hash.as_bytes(),
        ] {
            ctx.update(&(field.len() as u64).to_be_bytes());
            ctx.update(field);
        }
        hex::encode(ctx.finish().as_ref())
    }
}

/// A break in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// 1-based line (or position) of the offending record.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Checks records in order: each hash matches its fields, each `prev_hash` is the previous
/// record's hash, and sequence numbers follow each other (the first may be any, so an export
/// `after=N` verifies too, if its first `prev_hash` is given as `anchor`). Returns every
/// problem found (empty = intact).
pub fn verify(records: &[AuditRecord], anchor: Option<&str>) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut prev: Option<&AuditRecord> = None;
    for (i, r) in records.iter().enumerate() {
        let line = i + 1;
        let mut report = |p: String| problems.push(ChainProblem { line, problem: p });
        if r.computed_hash() != r.hash {
            report(format!("record {}: its content does not match its hash (edited)", r.seq));
        }
        match prev {
            Some(p) => {
                if r.prev_hash != p.hash {
                    report(format!("record {}: does not follow record {} (removed or reordered)", r.seq, p.seq));
                }
                if r.seq != p.seq + 1 {
                    report(format!("record {}: expected sequence number {}", r.seq, p.seq + 1));
                }
            }
            None => {
                let expected = anchor.unwrap_or(if r.seq == 1 { GENESIS } else { r.prev_hash.as_str() });
                if r.prev_hash != expected {
                    report(format!("record {}: does not start the chain it claims to", r.seq));
                }
            }
        }
        prev = Some(r);
    }
    problems
}

/// Parses JSON lines (blank lines skipped) into records; a line that does not parse is a problem.
pub fn parse_lines(text: &str) -> Result<Vec<AuditRecord>, ChainProblem> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ChainProblem { line: i + 1, problem: format!("not a record: {e}") })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_owned(), |r| r.hash.clone());
            let e = AuditEntry::new("admin", "provider.update", &serde_json::json!({ "n": seq }));
            out.push(AuditRecord::seal(e, seq, 1000 + seq as i64, &prev));
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert!(verify(&chain(5), None).is_empty());
        assert!(verify(&chain(5)[2..], None).is_empty(), "an export after=2 verifies on its own");
    }

    #[test]
    fn edits_removals_and_reorders_are_each_found() {
        let mut edited = chain(5);
        edited[2].detail = "{\"n\":99}".into();
        assert_eq!(verify(&edited, None).len(), 1);
        assert_eq!(verify(&edited, None)[0].line, 3);

        let mut removed = chain(5);
        removed.remove(2);
        assert!(verify(&removed, None).iter().any(|p| p.line == 3 && p.problem.contains("removed or reordered")));

        let mut reordered = chain(5);
        reordered.swap(1, 2);
        assert!(!verify(&reordered, None).is_empty());

        let mut rehashed = chain(5);
        rehashed[2].detail = "{\"n\":99}".into();
        rehashed[2].hash = rehashed[2].computed_hash(); // a forger recomputes one hash…
        assert!(verify(&rehashed, None).iter().any(|p| p.line == 4), "…and the next record no longer follows");
    }

    #[test]
    fn json_lines_round_trip() {
        let text: String = chain(3).iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
        assert_eq!(parse_lines(&text).unwrap(), chain(3));
        assert_eq!(parse_lines("{\"seq\":1}\n").unwrap_err().line, 1);
    }
}
