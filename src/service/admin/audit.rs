//! The audit key (DESIGN.md §5): a random key, stored in the metadata wrapped under the default
//! KEK, with which the store seals the chain's head at every audited commit. Someone who can
//! write the metadata but has no KEK can rewrite records and recompute their hashes, but not
//! make the seal that `audit verify` checks.

use std::sync::Arc;

use super::AdminOps;
use crate::error::Result;
use crate::keys::{AUDIT_KEY_PURPOSE, DataKey, KeyBinding};
use crate::meta::AuditedChange;
use crate::model::audit::{AuditEntry, AuditKey, AuditSeal, check_seal};

/// What the audit key is bound to when wrapped (unchanged since it was first written).
const KEY_BINDING: KeyBinding<'static> = KeyBinding::internal(AUDIT_KEY_PURPOSE);

/// The seal's verdict on the live chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SealReport {
    /// The record the seal covers (`None`: the chain was never sealed).
    pub sealed_through: Option<u64>,
    /// What does not hold (empty: the seal is genuine and covers exactly the chain).
    pub problems: Vec<String>,
}

impl AdminOps {
    /// Loads the audit key (creating it, and recording its creation in the chain, when the
    /// store has none) and gives it to the store. Runs before the listeners open.
    pub async fn start_audit_sealing(&self) -> Result<()> {
        let kek = self.keys.kek_for(None);
        let (wrapped, created) = if let Some(w) = self.meta.audit_key().await? {
            (w, false)
        } else {
            let fresh = self.keys.wrap(&DataKey::generate()?, &kek, KEY_BINDING).await?;
            let stored = self.meta.init_audit_key(fresh.clone()).await?;
            let created = stored == fresh;
            (stored, created)
        };
        let plain = self.keys.unwrap(&wrapped, KEY_BINDING).await?;
        let key = Arc::new(AuditKey::new(zeroize::Zeroizing::new(*plain.expose())));
        self.meta.set_audit_key(Arc::clone(&key));
        self.audit_key.set(Arc::clone(&key)).ok();
        if created {
            // Sealed already: from this record on, the chain cannot be rewritten unnoticed.
            let detail = serde_json::json!({ "kek": kek, "fingerprint": key.fingerprint() });
            let entry = AuditEntry::new("gateway", "audit.key", &detail);
            self.meta.apply_change(AuditedChange::RecordOnly, entry).await?;
        }
        Ok(())
    }

    /// Checks the stored seal against the chain whose last record is `head` and whose record
    /// at the seal's sequence number has the hash `at_seal` (looked up by the caller's walk).
    pub fn check_audit_seal(&self, seal: Option<&AuditSeal>, head: Option<u64>, at_seal: Option<&str>) -> SealReport {
        let Some(key) = self.audit_key.get() else {
            return SealReport { sealed_through: None, problems: vec!["this gateway has no audit key".into()] };
        };
        match seal {
            Some(seal) => SealReport { sealed_through: Some(seal.seq), problems: check_seal(key, seal, head, at_seal) },
            None if head.is_none() => SealReport { sealed_through: None, problems: Vec::new() },
            None => SealReport { sealed_through: None, problems: vec!["the chain's seal is missing (removed)".into()] },
        }
    }

    /// The stored seal.
    pub async fn audit_seal(&self) -> Result<Option<AuditSeal>> {
        Ok(self.meta.audit_seal().await?)
    }
}
