//! What a checkpoint of the catalog reads (docs/format-v2.md, "Checkpoints"): the catalog's
//! live state — providers, policies and shredded KEKs changed through the admin API, then
//! users, access keys, admin tokens, grants and bucket settings — each as the `Catalog` entry
//! that logs its current value, then the audit records logged in the catalog's scope.

use super::Inner;
use crate::meta::codec::{decode, key_successor};
use crate::meta::kv::{Cf, KvEngine};
use crate::meta::log_entry::LogEntry;
use crate::meta::outbox::{CatalogCursor, CatalogPhase};
use crate::meta::{MetaError, records::decode_policy};
use crate::model::ProviderInfo;

impl<E: KvEngine> Inner<E> {
    /// See [`crate::meta::LogMeta::catalog_state_page`].
    pub(super) fn catalog_state_page(
        &self,
        from: CatalogCursor,
        limit: usize,
    ) -> Result<(Vec<LogEntry>, Option<CatalogCursor>), MetaError> {
        let limit = limit.max(1);
        let (cf, then) = match from.phase {
            CatalogPhase::Audit => {
                let (entries, last) = self.audit_scope_page(None, from.after, limit)?;
                return Ok((entries, last.map(|k| CatalogCursor { phase: CatalogPhase::Audit, after: Some(k) })));
            }
            CatalogPhase::Catalog => (Cf::Catalog, CatalogPhase::Access),
            CatalogPhase::Access => (Cf::Access, CatalogPhase::Audit),
        };
        let start = from.after.as_deref().map_or_else(Vec::new, key_successor);
        let pairs = self.engine.scan(cf, &start, None, limit)?;
        let mut entries = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            let name = String::from_utf8(k.clone()).map_err(|e| MetaError::codec_from("a catalog record's name", e))?;
            let json = match from.phase {
                CatalogPhase::Access => Some(super::access::logged_json(&name, v)?),
                _ => catalog_json(&name, v)?,
            };
            entries.extend(json.map(|json| LogEntry::Catalog { seq: 0, name, json }));
        }
        let next = match pairs.last() {
            Some((k, _)) if pairs.len() >= limit => CatalogCursor { phase: from.phase, after: Some(k.clone()) },
            _ => CatalogCursor { phase: then, after: None },
        };
        Ok((entries, Some(next)))
    }
}

/// The JSON an admin catalog change was logged with, from its name and stored bytes; `None`
/// for the records of the `Catalog` family that are not catalog entries (a bucket's own KEK
/// is logged with the bucket, a log keyring is an object at the providers).
fn catalog_json(name: &str, value: &[u8]) -> Result<Option<String>, MetaError> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| MetaError::codec_from("a catalog record as JSON", e));
    Ok(Some(match name.split_inclusive('/').next().unwrap_or_default() {
        "provider/" => json(serde_json::to_string(&decode::<ProviderInfo>(value)?))?,
        "policy/" => json(serde_json::to_string(&decode_policy(value)?))?,
        "shredded/" => json(serde_json::to_string(&decode::<i64>(value)?))?,
        "bucketkek/" | "logkey/" => return Ok(None),
        other => return Err(MetaError::codec(format!("a catalog record of an unknown kind ({other})"))),
    }))
}
