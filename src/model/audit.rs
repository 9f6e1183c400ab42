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
        problems.extend(link_problems(prev, r, anchor).into_iter().map(|problem| ChainProblem { line, problem }));
        prev = Some(r);
    }
    problems
}

/// What is wrong with `r` as the record after `prev` (or, with no `prev`, as the first one,
/// whose `prev_hash` must be `anchor` — or, without one, [`GENESIS`] for record 1 and
/// anything for a later one): its hash does not match its fields, it does not link to `prev`,
/// or its sequence number does not follow.
pub fn link_problems(prev: Option<&AuditRecord>, r: &AuditRecord, anchor: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    if r.computed_hash() != r.hash {
        problems.push(format!("record {}: its content does not match its hash (edited)", r.seq));
    }
    if let Some(p) = prev {
        if r.prev_hash != p.hash {
            problems.push(format!("record {}: does not follow record {} (removed or reordered)", r.seq, p.seq));
        }
        if r.seq != p.seq + 1 {
            problems.push(format!("record {}: expected sequence number {}", r.seq, p.seq + 1));
        }
    } else if r.prev_hash != anchor.unwrap_or(if r.seq == 1 { GENESIS } else { r.prev_hash.as_str() }) {
        problems.push(format!("record {}: does not start the chain it claims to", r.seq));
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

/// The key that seals the chain's head. Random, kept in the metadata wrapped under the default
/// KEK (so writing the metadata is not enough to reseal a rewritten chain), in the clear only in
/// memory. No `Debug` of the bytes.
pub struct AuditKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

/// The chain's head at record `seq`, authenticated with the [`AuditKey`]. Every audited commit
/// writes a new seal with its record; a record rewritten at or before `seq` changes the hash
/// the chain gives there, and a new seal cannot be made without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSeal {
    /// The sealed record.
    pub seq: u64,
    /// Its hash (hex).
    pub hash: String,
    /// HMAC-SHA256 (hex) over a label, `seq` and `hash`.
    pub mac: String,
}

impl AuditKey {
    /// The key from its bytes.
    pub fn new(bytes: zeroize::Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    fn hmac_key(&self) -> ring::hmac::Key {
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.0.as_slice())
    }

    /// Seals the head `seq` whose hash is `hash`.
    pub fn seal(&self, seq: u64, hash: &str) -> AuditSeal {
        let tag = ring::hmac::sign(&self.hmac_key(), &seal_message(seq, hash));
        AuditSeal { seq, hash: hash.to_owned(), mac: hex::encode(tag.as_ref()) }
    }

    /// Whether `seal` was made with this key.
    pub fn made(&self, seal: &AuditSeal) -> bool {
        let Ok(mac) = hex::decode(&seal.mac) else { return false };
        ring::hmac::verify(&self.hmac_key(), &seal_message(seal.seq, &seal.hash), &mac).is_ok()
    }

    /// A short public name of the key (recorded when it is created), not the key.
    pub fn fingerprint(&self) -> String {
        hex::encode(&ring::hmac::sign(&self.hmac_key(), b"souverain/v1/audit-key-fingerprint").as_ref()[..8])
    }
}

/// What a seal authenticates: a label, the sequence number and the hash, each length-prefixed.
fn seal_message(seq: u64, hash: &str) -> Vec<u8> {
    let mut msg = Vec::new();
    for p in [b"souverain/v1/audit-seal".as_slice(), &seq.to_be_bytes(), hash.as_bytes()] {
        msg.extend_from_slice(&(p.len() as u64).to_be_bytes());
        msg.extend_from_slice(p);
    }
    msg
}

/// What the seal says of a whole chain whose last record is `head` (`None`: empty) and whose
/// record `seal.seq` has the hash `at_seal` (`None`: no such record). Problems, empty when the
/// seal is genuine and covers exactly the chain.
pub fn check_seal(key: &AuditKey, seal: &AuditSeal, head: Option<u64>, at_seal: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    if !key.made(seal) {
        problems.push(format!("the seal of record {} was not made with the audit key (forged)", seal.seq));
        return problems;
    }
    match at_seal {
        None => problems.push(format!("record {} that the seal covers is missing (removed)", seal.seq)),
        Some(h) if h != seal.hash => {
            problems.push(format!("the chain up to record {} is not the sealed one (rewritten)", seal.seq));
        }
        Some(_) => {}
    }
    if let Some(head) = head.filter(|h| *h > seal.seq) {
        problems.push(format!(
            "records {}..={head} are not covered by the seal (written without the audit key)",
            seal.seq + 1
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut out: Vec<AuditRecord> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map_or(GENESIS.to_owned(), |r| r.hash.clone());
            let e = AuditEntry::new("admin", "provider.update", &serde_json::json!({ "n": seq }));
            out.push(AuditRecord::seal(e, seq, 1000 + i64::try_from(seq).unwrap_or(i64::MAX), &prev));
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
    fn the_seal_finds_a_rewritten_tail_that_the_plain_chain_cannot() {
        let key = AuditKey::new(zeroize::Zeroizing::new([7; 32]));
        let chain = chain(5);
        let seal = key.seal(5, &chain[4].hash);
        assert!(check_seal(&key, &seal, Some(5), Some(&chain[4].hash)).is_empty());
        // Someone who can write the metadata rewrites record 3 and recomputes every later hash:
        // the plain chain verifies, the seal does not.
        let mut forged = chain.clone();
        forged[2].detail = "{\"n\":99}".into();
        for i in 2..5 {
            if i > 2 {
                forged[i].prev_hash = forged[i - 1].hash.clone();
            }
            forged[i].hash = forged[i].computed_hash();
        }
        assert!(verify(&forged, None).is_empty());
        let found = check_seal(&key, &seal, Some(5), Some(&forged[4].hash));
        assert_eq!(found, ["the chain up to record 5 is not the sealed one (rewritten)"]);
        // Nor can they seal their version: a seal made with another key is refused.
        let other = AuditKey::new(zeroize::Zeroizing::new([8; 32]));
        let reseal = other.seal(5, &forged[4].hash);
        assert!(check_seal(&key, &reseal, Some(5), Some(&forged[4].hash))[0].contains("forged"));
        // Truncation and unsealed appends are named too.
        assert!(check_seal(&key, &seal, Some(4), None)[0].contains("missing"));
        assert!(check_seal(&key, &seal, Some(7), Some(&chain[4].hash))[0].contains("6..=7"));
        assert!(!format!("{key:?}").contains('7'), "no key bytes in Debug");
    }

    #[test]
    fn json_lines_round_trip() {
        let text: String = chain(3).iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
        assert_eq!(parse_lines(&text).unwrap(), chain(3));
        assert_eq!(parse_lines("{\"seq\":1}\n").unwrap_err().line, 1);
    }
}
