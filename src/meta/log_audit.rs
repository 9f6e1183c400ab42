//! The log entry of an audit record (docs/format-v2.md, "Log entries", kind 13): every record
//! the store chains is logged in the same commit, in the scope of the bucket it concerns (its
//! names stay at that bucket's placement) or the catalog's, so a rebuild restores the chain
//! with its hashes. Spelled out field by field like every entry (see [`super::log_entry`]).

use serde::{Deserialize, Serialize};

use crate::model::audit::AuditRecord;

/// An audit record as the chain sealed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedAudit {
    /// Commit sequence of the entry (a log number, not the record's own).
    pub seq: u64,
    /// The bucket whose scope holds it, or `None` for the catalog's.
    pub bucket: Option<[u8; 16]>,
    /// The record's place in the chain: 1, 2, 3, …
    pub record: u64,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The facts (JSON text).
    pub detail: String,
    /// The previous record's hash (hex).
    pub prev_hash: String,
    /// The record's hash (hex).
    pub hash: String,
}

impl LoggedAudit {
    /// The entry of `rec`, logged at `seq` in the scope of `bucket`.
    pub fn new(seq: u64, bucket: Option<[u8; 16]>, rec: &AuditRecord) -> Self {
        Self {
            seq,
            bucket,
            record: rec.seq,
            time_ms: rec.time_ms,
            actor: rec.actor.clone(),
            action: rec.action.clone(),
            detail: rec.detail.clone(),
            prev_hash: rec.prev_hash.clone(),
            hash: rec.hash.clone(),
        }
    }

    /// The record as the chain holds it.
    pub fn record(&self) -> AuditRecord {
        AuditRecord {
            seq: self.record,
            time_ms: self.time_ms,
            actor: self.actor.clone(),
            action: self.action.clone(),
            detail: self.detail.clone(),
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }
}
