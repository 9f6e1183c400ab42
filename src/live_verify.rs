//! `meta verify` on the running gateway's own store, for the admin API
//! ([`crate::admin::meta_verify`]): the admin API sits above the metadata log's reader and
//! reaches it through this (the composition root wires it in).
//!
//! A run with repair is recorded in the audit log twice: when it starts (who asked, which
//! providers) and when it ends (its counts, or why it failed), so that repairs and deletions
//! it queued are accounted for even when it stops half way.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::admin::meta_verify::{LiveVerifier, Verified, VerifyError};
use crate::meta::AuditedChange;
use crate::metalog::rebuild::RebuildError;
use crate::metalog::verify::{VerifyReport, verify};
use crate::model::audit::AuditEntry;
use crate::shutdown::Shutdown;
use crate::workers::Context;

/// One verification at a time on this gateway's store.
pub struct StoreVerifier {
    ctx: Context,
    running: Arc<tokio::sync::Mutex<()>>,
    shutdown: Shutdown,
}

/// A verification's progress goes nowhere: the admin API answers with the report.
fn no_progress(_: &'static str, _: u64, _: u64) {}

impl StoreVerifier {
    /// Verifies `ctx`'s store against its providers; a run stops when `shutdown` fires.
    pub fn new(ctx: Context, shutdown: Shutdown) -> Self {
        Self { ctx, running: Arc::new(tokio::sync::Mutex::new(())), shutdown }
    }

    /// Appends a `meta.verify` record for `actor`.
    async fn record(&self, actor: &str, detail: &serde_json::Value) -> Result<(), VerifyError> {
        let entry = AuditEntry::new(actor, "meta.verify", detail);
        self.ctx
            .meta
            .apply_change(AuditedChange::RecordOnly, entry)
            .await
            .map_err(|e| VerifyError::Failed(Box::new(e)))?;
        Ok(())
    }

    /// The run itself. rustc cannot prove the verification's future `Send` (borrows inside its
    /// stream combinators), which a task of this runtime must be; so it is driven from a
    /// metadata thread with this runtime's I/O (a multi-thread runtime's drivers run on its
    /// workers). It holds the lock until it ends, even if the admin request goes away, and
    /// stops at shutdown.
    async fn run(
        &self,
        running: tokio::sync::OwnedMutexGuard<()>,
        providers: &[String],
        repair: bool,
    ) -> Result<VerifyReport, VerifyError> {
        let (ctx, providers, mut shutdown) = (self.ctx.clone(), providers.to_vec(), self.shutdown.clone());
        let runtime = tokio::runtime::Handle::current();
        let outcome = crate::pools::spawn(crate::pools::Pool::Metadata, move || {
            let _running = running;
            let run = verify(ctx.meta.as_ref(), ctx.keys.as_ref(), &ctx.backends, &providers, repair, &no_progress);
            runtime.block_on(async {
                tokio::select! {
                    outcome = run => Some(outcome),
                    () = shutdown.wait() => None,
                }
            })
        })
        .await
        .map_err(|e| VerifyError::Failed(Box::new(e)))?;
        match outcome {
            None => Err(VerifyError::Stopped),
            Some(Err(e @ RebuildError::UnknownProvider(_))) => Err(VerifyError::BadRequest(e.to_string())),
            Some(Err(e)) => Err(VerifyError::Failed(Box::new(e))),
            Some(Ok(report)) => Ok(report),
        }
    }
}

impl LiveVerifier for StoreVerifier {
    fn verify<'a>(
        &'a self,
        actor: &'a str,
        providers: &'a [String],
        repair: bool,
    ) -> BoxFuture<'a, Result<Verified, VerifyError>> {
        Box::pin(async move {
            let running = Arc::clone(&self.running).try_lock_owned().map_err(|_| VerifyError::Busy)?;
            if repair {
                let started = serde_json::json!({ "phase": "started", "providers": providers });
                self.record(actor, &started).await?;
            }
            let outcome = self.run(running, providers, repair).await;
            if repair {
                let ended = match &outcome {
                    Ok(report) => serde_json::json!({ "phase": "finished", "counts": report.counts() }),
                    Err(e) => serde_json::json!({ "phase": "failed", "error": crate::report::chain(e) }),
                };
                self.record(actor, &ended).await?;
            }
            let report = outcome?;
            let clean = report.clean();
            tracing::info!(actor, repair, clean, "meta verify through the admin API finished");
            let report = serde_json::to_value(&report).map_err(|e| VerifyError::Failed(Box::new(e)))?;
            Ok(Verified { report, clean })
        })
    }
}
