//! Living beside other gateways on a shared store (PostgreSQL): each records a heartbeat, so
//! the garbage collector of one never takes the uploads in flight at another for abandoned
//! ones, and picks up the residency changes (providers, policies, KEKs) made through another
//! gateway's admin API.

use std::sync::Arc;
use std::time::Duration;

use crate::meta::{MetaError, MetadataStore};
use crate::model::BootId;
use crate::service::now_ms;
use crate::service::state::GatewayState;
use crate::shutdown::Shutdown;

/// Between heartbeats.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A gateway silent this long is taken for stopped: its intents become stale.
pub const LIVE_WITHIN: Duration = Duration::from_mins(1);

/// Records this gateway's heartbeat now.
pub async fn beat(meta: &dyn MetadataStore, boot_id: BootId) -> Result<(), MetaError> {
    meta.heartbeat(boot_id, now_ms()).await
}

/// This gateway's run and every other one alive (none with a store one process owns).
pub async fn live_boots(meta: &dyn MetadataStore, boot_id: BootId) -> Result<Vec<BootId>, MetaError> {
    let since = now_ms() - i64::try_from(LIVE_WITHIN.as_millis()).unwrap_or(i64::MAX);
    let mut live = meta.live_boots(since).await?;
    live.push(boot_id);
    Ok(live)
}

/// Beats and reloads the residency state every [`HEARTBEAT_EVERY`] until shutdown (nothing
/// with a store one process owns: every change is made through this gateway then).
pub async fn run(meta: Arc<dyn MetadataStore>, state: Arc<GatewayState>, boot_id: BootId, shutdown: Shutdown) {
    if !meta.is_shared() {
        return;
    }
    super::repeat(HEARTBEAT_EVERY, None, shutdown, || async {
        if let Err(e) = beat(meta.as_ref(), boot_id).await {
            tracing::warn!(error = %crate::report::Report(&e), "heartbeat failed");
        }
        if let Err(e) = state.reload(meta.as_ref()).await {
            tracing::warn!(error = %crate::report::Report(&e), "reloading the residency changes failed");
        }
    })
    .await;
}
