//! Wiring: from a validated [`Config`] to a serving gateway. `main.rs` and the integration tests
//! both start the gateway through here, so tests run exactly what ships.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::admin::AdminService;
use crate::backend::Backends;
use crate::backend::health::{ProviderBook, ProviderStats};
use crate::backend::instrumented::Instrumented;
use crate::backend::probe::{ProbeReport, probe};
use crate::backend::{Backend, FsBackend, S3Backend};
use crate::config::KeyConfig;
use crate::config::{Config, MetadataEngine, ProviderConfig, ProviderKind};
use crate::frontend::tls::{TlsError, TlsFiles};
use crate::frontend::{ServerLimits, s3_service, serve};
use crate::keys::cache::CachedKeys;
use crate::keys::local::LOCAL_KEK_ID;
use crate::keys::transit::TransitKeys;
use crate::keys::{KeyError, KeyProvider, LocalKeyFile};
use crate::meta::memory::MemoryEngine;
use crate::meta::{KvMetadataStore, MetadataStore};
use crate::metrics::Metrics;
use crate::model::BootId;
use crate::model::random_array;
use crate::service::admin::AdminOps;
use crate::service::residency::Residency;
use crate::service::state::GatewayState;
use crate::service::{Gate, ObjectService, ServiceConfig};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::workers::Context;
use crate::workers::evacuation::Evacuator;
use crate::workers::gc::{DELETION_CLAIM, GarbageCollector, GcSettings};
use crate::workers::health::{HealthChecker, HealthState};
use crate::workers::repair::RepairWorker;
use crate::workers::scrub::Scrubber;
use crate::workers::usage::UsageCounter;

/// A listener whose new certificate could not be loaded at SIGHUP (it keeps the old one).
#[derive(Debug, thiserror::Error)]
#[error("{listener} listener")]
pub struct TlsReloadError {
    /// `s3` or `admin`.
    pub listener: &'static str,
    /// Why.
    #[source]
    pub source: TlsError,
}

/// Why the gateway could not start: what failed, with the cause under it as its source
/// (`report::chain` prints the whole line; so does the binary when it stops on one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The metadata store could not be opened.
    #[error("metadata store")]
    Meta(#[from] crate::meta::MetaError),
    /// The key file could not be opened or created.
    #[error("key provider")]
    Keys(#[from] crate::keys::KeyError),
    /// A provider could not be opened.
    #[error("provider")]
    Backend(#[from] crate::backend::BackendError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The OS random generator failed.
    #[error("random generator failed")]
    Random,
    /// The HTTPS certificate or key could not be loaded.
    #[error("TLS")]
    Tls(#[source] TlsError),
    /// The metrics registry could not be built.
    #[error("metrics registry")]
    Metrics(#[source] prometheus::Error),
    /// The stored residency changes could not be read.
    #[error("residency state")]
    Residency(#[source] crate::error::Error),
    /// The RocksDB engine is not compiled in.
    #[error("metadata.engine = \"rocksdb\" needs the `rocksdb` feature")]
    NoRocksdb,
    /// `souverain meta rebuild` failed.
    #[error("rebuilding the metadata store")]
    Rebuild(#[from] crate::metalog::rebuild::RebuildError),
    /// A rebuild of this store started and did not finish: the store is partial.
    #[error("a `souverain meta rebuild` of this metadata store did not finish; run it again to complete it")]
    RebuildUnfinished,
    /// The store was never used, yet a provider holds a metadata log: most likely the
    /// gateway's metadata was lost. Starting would begin a second history over the first.
    #[error(
        "the metadata store is empty, but provider {provider} holds a metadata log ({object}): if this gateway's \
         metadata was lost, restore its key (file or KMS) and run `souverain meta rebuild` before starting; a new \
         deployment needs provider buckets of its own"
    )]
    LogWithoutStore {
        /// A provider holding a log.
        provider: String,
        /// One of its log objects.
        object: String,
    },
}

/// A gateway serving in the background.
pub struct RunningGateway {
    /// Where S3 listens.
    pub s3_addr: SocketAddr,
    /// Where the admin listener (`/metrics`, `/health`, `/ready`) listens, if configured.
    pub admin_addr: Option<SocketAddr>,
    /// The metadata store (embedding; tests look at queues and claims).
    pub meta: Arc<dyn MetadataStore>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Provider health as last checked.
    pub health: Arc<HealthState>,
    tls: Option<Arc<TlsFiles>>,
    admin_tls: Option<Arc<TlsFiles>>,
    trigger: ShutdownTrigger,
    tasks: Vec<JoinHandle<()>>,
    /// The metadata log writer: stopped last, so requests still draining get their answers.
    log: (ShutdownTrigger, JoinHandle<()>),
}

impl RunningGateway {
    /// Re-reads the HTTPS certificates and keys of both listeners (SIGHUP); open connections
    /// keep theirs. A listener whose files fail to load keeps its previous certificate.
    pub fn reload_tls(&self) -> Result<(), Vec<TlsReloadError>> {
        let mut errors = Vec::new();
        for (listener, files) in [("s3", &self.tls), ("admin", &self.admin_tls)] {
            if let Some(Err(source)) = files.as_ref().map(|t| t.reload()) {
                errors.push(TlsReloadError { listener, source });
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Stops accepting, drains in-flight requests (within the grace period) and stops workers.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        for t in self.tasks {
            let _ = t.await;
        }
        let (log_trigger, log_task) = self.log;
        log_trigger.trigger();
        let _ = log_task.await;
    }
}

/// Opens one provider.
pub fn open_backend(p: &ProviderConfig) -> Result<Arc<dyn Backend>, StartError> {
    let id = p.info.id.clone();
    Ok(match &p.kind {
        ProviderKind::Fs(path) => Arc::new(FsBackend::open(id, path)?),
        ProviderKind::S3(s3) => {
            if s3.endpoint.starts_with("http://") && !crate::config::loopback_endpoint(&s3.endpoint) {
                tracing::warn!(provider = %id, endpoint = %s3.endpoint, "allow_insecure_http: traffic to this provider crosses the network without TLS");
            }
            Arc::new(S3Backend::new(id, (**s3).clone())?)
        }
    })
}

/// Probes one configured provider (`souverain admin provider probe`).
pub async fn probe_provider(p: &ProviderConfig) -> Result<ProbeReport, StartError> {
    let backend = open_backend(p)?;
    let mut report = match &p.kind {
        ProviderKind::S3(s3) => {
            // The same provider with a 5 MiB threshold, so the multipart path runs on a few MiB.
            let mut small = (**s3).clone();
            small.dialect.max_put_size = 5 << 20;
            small.dialect.part_size = 5 << 20;
            let mp: Arc<dyn Backend> = Arc::new(S3Backend::new(p.info.id.clone(), small)?);
            let mut r = probe(backend.as_ref(), Some((mp.as_ref(), 5 << 20))).await;
            r.notes.push(format!(
                "dialect {}: max single PUT {} bytes, parts of {} bytes, at most {} parts",
                s3.dialect.name, s3.dialect.max_put_size, s3.dialect.part_size, s3.dialect.max_parts
            ));
            r
        }
        ProviderKind::Fs(_) => probe(backend.as_ref(), None).await,
    };
    report.notes.push(format!("country {}, operator {}", p.info.country, p.info.operator));
    Ok(report)
}

async fn open_meta(engine: &MetadataEngine) -> Result<Arc<dyn MetadataStore>, StartError> {
    match engine {
        MetadataEngine::Memory => Ok(Arc::new(KvMetadataStore::new(MemoryEngine::default()).await?)),
        MetadataEngine::Postgres(settings) => {
            Ok(Arc::new(KvMetadataStore::new(crate::meta::postgres::PgEngine::connect(settings).await?).await?))
        }
        #[cfg(feature = "rocksdb")]
        MetadataEngine::Rocksdb(path) => {
            private_dir(path).map_err(|e| crate::meta::MetaError::engine_from(path.display().to_string(), e))?;
            Ok(Arc::new(KvMetadataStore::new(crate::meta::rocks::RocksEngine::open(path)?).await?))
        }
        #[cfg(not(feature = "rocksdb"))]
        MetadataEngine::Rocksdb(_) => Err(StartError::NoRocksdb),
    }
}

/// Creates the metadata directory readable by the gateway's user only (0700), and takes
/// group and world access away from one that exists: it holds every wrapped data key and the
/// names of every object.
#[cfg(feature = "rocksdb")]
fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// How often a stopped key rotation (the KMS failed) is resumed; a new one starts at once.
const ROTATION_POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// The configured key provider behind the data-key cache.
async fn open_keys(config: &Config, meta: &dyn MetadataStore) -> Result<Arc<dyn KeyProvider>, StartError> {
    let (ttl, entries) = config.dek_cache;
    Ok(match &config.keys {
        KeyConfig::Local { key_file } => {
            if let Some(dir) = key_file.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| KeyError::KeyFile { path: dir.display().to_string(), reason: e.to_string() })?;
            }
            Arc::new(CachedKeys::new(open_local_key(key_file, meta).await?, ttl, entries))
        }
        KeyConfig::Transit(t) => Arc::new(CachedKeys::new(TransitKeys::new(t.clone())?, ttl, entries)),
    })
}

/// Opens the local key file, created only on a store that holds no data key yet, and checks
/// it against the fingerprint the store recorded when the key was first used.
async fn open_local_key(path: &std::path::Path, meta: &dyn MetadataStore) -> Result<LocalKeyFile, StartError> {
    let known = meta.kek_fingerprint(LOCAL_KEK_ID).await?;
    let may_create = known.is_none() && !meta.holds_data_keys().await?;
    let key = LocalKeyFile::open(path, may_create)?;
    let recorded = meta.record_kek_fingerprint(LOCAL_KEK_ID, key.fingerprint()).await?;
    if recorded != key.fingerprint() {
        return Err(KeyError::KeyFile {
            path: path.display().to_string(),
            reason: format!(
                "not the key this metadata store was written with (fingerprint {}, recorded {recorded}); restore the right file",
                key.fingerprint()
            ),
        }
        .into());
    }
    Ok(key)
}

/// Binds a listener; the address it got (the port may have been 0).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let local = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    Ok((listener, local))
}

/// Between attempts to load the audit key while the key provider does not answer.
const AUDIT_KEY_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs a background loop in a `worker` span naming it, so each line it logs says which
/// worker wrote it (and no line of a worker can pass for a request's).
fn spawn_worker(name: &'static str, run: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(tracing::Instrument::instrument(run, tracing::info_span!("worker", worker = name)))
}

/// Starts the metadata log writer and makes the store wait for it at every commit.
fn start_metadata_log(ctx: &Context, config: &Config) -> (ShutdownTrigger, JoinHandle<()>) {
    let log = crate::metalog::MetadataLog::new(
        ctx,
        config.default_policy.clone(),
        config.repair_interval,
        config.checkpoints,
    );
    ctx.meta.set_log_sink(Arc::new(log.clone()));
    let (trigger, stop) = shutdown::channel();
    (trigger, spawn_worker("metadata-log", log.run(stop)))
}

/// Loads the audit key once the key provider answers (or until shutdown).
async fn load_audit_key(admin: Arc<AdminOps>, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(AUDIT_KEY_RETRY) => {}
            () = shutdown.wait() => return,
        }
        match admin.start_audit_sealing().await {
            Ok(()) => {
                tracing::info!("audit key loaded; the audit chain is sealed again");
                return;
            }
            Err(e) => tracing::debug!(error = %crate::report::Report(&e), "audit key still not loaded"),
        }
    }
}

/// Opens everything and starts serving. Stale intents of earlier runs are collected at once.
pub async fn start(config: Config) -> Result<RunningGateway, StartError> {
    let meta = open_meta(&config.metadata).await?;
    start_on(config, meta).await
}

/// `souverain meta rebuild`: recreates the configured (empty) metadata store from the metadata
/// log at the providers, with the configured KEK, or finishes a rebuild that was stopped. The
/// local key file must exist (it is never created here: a new key would open nothing).
pub async fn rebuild_metadata(
    config: Config,
    options: &crate::metalog::rebuild::RebuildOptions,
    progress: &crate::metalog::rebuild::Progress,
) -> Result<crate::metalog::rebuild::RebuildReport, StartError> {
    let (meta, keys, backends) = open_offline(&config).await?;
    Ok(crate::metalog::rebuild::rebuild(meta.as_ref(), keys.as_ref(), &backends, options, progress).await?)
}

/// `souverain meta verify`: compares the configured metadata store with the providers (the
/// replicas they list, the metadata log they hold); with `repair`, queues the repairs and
/// deletions that set them right, for the gateway's workers.
pub async fn verify_metadata(
    config: Config,
    providers: &[String],
    repair: bool,
    progress: &crate::metalog::rebuild::Progress,
) -> Result<crate::metalog::verify::VerifyReport, StartError> {
    let (meta, keys, backends) = open_offline(&config).await?;
    refuse_unfinished_rebuild(meta.as_ref()).await?;
    Ok(crate::metalog::verify::verify(meta.as_ref(), keys.as_ref(), &backends, providers, repair, progress).await?)
}

/// What an offline command (`meta rebuild`, `meta verify`) works on: the configured store,
/// key provider (the local key file must exist: it is never created here, a new key would
/// open nothing) and providers.
async fn open_offline(config: &Config) -> Result<(Arc<dyn MetadataStore>, Arc<dyn KeyProvider>, Backends), StartError> {
    let meta = open_meta(&config.metadata).await?;
    let keys: Arc<dyn KeyProvider> = match &config.keys {
        KeyConfig::Local { key_file } => Arc::new(LocalKeyFile::open(key_file, false)?),
        KeyConfig::Transit(t) => Arc::new(TransitKeys::new(t.clone())?),
    };
    let metrics = Arc::new(Metrics::new().map_err(StartError::Metrics)?);
    let (backends, _) = open_providers(config, &metrics)?;
    Ok((meta, keys, backends))
}

/// A store whose rebuild started and did not finish is partial: nothing but the rebuild may
/// use it.
async fn refuse_unfinished_rebuild(meta: &dyn MetadataStore) -> Result<(), StartError> {
    if crate::metalog::rebuild::unfinished(meta).await? {
        return Err(StartError::RebuildUnfinished);
    }
    Ok(())
}

/// A store that was never used (no audit record — the first start records its audit key —,
/// no bucket, no data key) over providers that hold a metadata log is a lost store, not a new
/// deployment: its commits would start again at sequence 1 beside a log whose entries rank
/// above them, and a later rebuild would take the old entries over the new. Refused, naming
/// the rebuild. A provider that cannot be listed now is not judged.
async fn refuse_empty_store_over_a_log(meta: &dyn MetadataStore, backends: &Backends) -> Result<(), StartError> {
    let used = !meta.audit_records(0, 1).await?.is_empty()
        || !meta.buckets().await?.is_empty()
        || meta.holds_data_keys().await?;
    if used {
        return Ok(());
    }
    let mut providers: Vec<_> = backends.values().collect();
    providers.sort_by(|a, b| a.id().cmp(b.id()));
    for p in providers {
        if let Ok(found) = p.list(crate::backend::KEYRING_PREFIX, None, 1).await
            && let Some((object, _)) = found.into_iter().next()
        {
            // Another gateway of a shared store may have begun meanwhile: its first record
            // and keyring come together. Only a store still unused is refused.
            if !meta.audit_records(0, 1).await?.is_empty() {
                return Ok(());
            }
            return Err(StartError::LogWithoutStore { provider: p.id().to_string(), object });
        }
    }
    Ok(())
}

/// Every configured provider, instrumented, with the book of their health statistics.
fn open_providers(config: &Config, metrics: &Arc<Metrics>) -> Result<(Backends, ProviderBook), StartError> {
    let mut backends = HashMap::new();
    let mut book = Vec::new();
    for p in &config.providers {
        let gauge = metrics.backend_circuit_state.with_label_values(&[p.info.id.as_str()]);
        let stats = Arc::new(ProviderStats::new(Some(gauge)));
        book.push((p.info.id.clone(), Arc::clone(&stats)));
        let backend: Arc<dyn Backend> = Arc::new(Instrumented::new(open_backend(p)?, Arc::clone(metrics), stats));
        backends.insert(p.info.id.clone(), backend);
    }
    Ok((Arc::new(backends), ProviderBook::new(book)))
}

/// A listener's certificate and key, loaded once (reloaded on SIGHUP).
fn load_tls(pair: Option<&(PathBuf, PathBuf)>) -> Result<Option<Arc<TlsFiles>>, StartError> {
    pair.map(|(cert, key)| TlsFiles::load(cert, key).map(Arc::new).map_err(StartError::Tls)).transpose()
}

/// The background workers that maintain the data: scrub, evacuation, key rotation, usage, lifecycle,
/// cluster membership, repair and GC (health runs before the admin listener is served).
fn spawn_background_workers(
    ctx: &Context,
    config: &Config,
    service: Arc<dyn crate::service::convert::SchemeConverter>,
    shutdown: &Shutdown,
) -> Vec<JoinHandle<()>> {
    let gc_settings =
        GcSettings { intent_ttl: config.intent_ttl, claim: DELETION_CLAIM, overdue_after: config.deletion_overdue };
    vec![
        spawn_worker("scrub", Scrubber::new(ctx, config.scrub).run(config.scrub_interval, shutdown.clone())),
        spawn_worker("evacuation", Evacuator::new(ctx, service).run(config.evacuation_interval, shutdown.clone())),
        spawn_worker("rotation", crate::workers::rotation::Rotator::new(ctx).run(ROTATION_POLL, shutdown.clone())),
        spawn_worker("usage", UsageCounter::new(ctx).run(config.usage_interval, shutdown.clone())),
        spawn_worker(
            "lifecycle",
            crate::workers::lifecycle::LifecycleWorker::new(ctx, config.lifecycle_day)
                .run(config.lifecycle_interval, shutdown.clone()),
        ),
        spawn_worker(
            "cluster",
            crate::workers::cluster::run(Arc::clone(&ctx.meta), Arc::clone(&ctx.state), ctx.boot_id, shutdown.clone()),
        ),
        spawn_worker(
            "repair",
            RepairWorker::new(ctx, config.repair_claim).run(config.repair_interval, shutdown.clone()),
        ),
        spawn_worker("gc", GarbageCollector::new(ctx, gc_settings).run(config.gc_interval, shutdown.clone())),
    ]
}

/// What the object service takes of the configuration.
fn service_config(config: &Config) -> ServiceConfig {
    ServiceConfig {
        default_policy: config.default_policy.clone(),
        region: config.region.clone(),
        access_keys: config.access_keys.clone(),
        block_public_access: config.block_public_access,
        lifecycle_day: config.lifecycle_day,
        conversion_grace: config.conversion_grace,
    }
}

/// [`start`] over a metadata store the caller opened (embedding; tests that slow one engine
/// down). `config.metadata` is not opened again.
pub async fn start_on(config: Config, meta: Arc<dyn MetadataStore>) -> Result<RunningGateway, StartError> {
    refuse_unfinished_rebuild(meta.as_ref()).await?;
    let metrics = Arc::new(Metrics::new().map_err(StartError::Metrics)?);
    let (backends, book) = open_providers(&config, &metrics)?;
    // Before a key file is made for the empty store: one made now would open nothing.
    refuse_empty_store_over_a_log(meta.as_ref(), &backends).await?;
    let keys = open_keys(&config, meta.as_ref()).await?;
    let boot_id = BootId(random_array().map_err(|_| StartError::Random)?);
    let catalog: Vec<_> = config.providers.iter().map(|p| p.info.clone()).collect();
    let state = Arc::new(GatewayState::new(Residency { catalog, policies: config.policies.clone() }));
    let health = Arc::new(HealthState::new(Arc::new(book)));
    let ctx = Context {
        meta: Arc::clone(&meta),
        backends,
        metrics: Arc::clone(&metrics),
        health: Arc::clone(&health),
        state: Arc::clone(&state),
        keys,
        boot_id,
    };
    let service_config = service_config(&config);
    let service = Arc::new(ObjectService::new(
        Arc::clone(&meta),
        Arc::clone(&ctx.keys),
        Arc::clone(&ctx.backends),
        service_config,
        Arc::clone(&state),
        boot_id,
        Arc::clone(&metrics),
        Arc::clone(&health),
    ));
    let admin_ops = Arc::new(AdminOps::new(
        Arc::clone(&meta),
        Arc::clone(&ctx.keys),
        Arc::clone(&state),
        Arc::clone(&health),
        Arc::clone(&metrics),
        service.directory(),
        config.admin_tokens.clone(),
    ));
    // Every audited change from now on seals the chain's head. With the key provider down the
    // gateway still starts (it answers 503 for data and says so in /health); the key is then
    // loaded as soon as the provider answers, and its first seal covers the records before it.
    let audit_key_pending = match admin_ops.start_audit_sealing().await {
        Ok(()) => false,
        Err(e) => {
            tracing::warn!(error = %crate::report::Report(&e), "audit key not loaded yet; retrying in the background");
            true
        }
    };
    // Alive before serving: another gateway's GC must not take this run's uploads for stale.
    crate::workers::cluster::beat(meta.as_ref(), boot_id).await?;
    // The admin's stored catalog, policies and bucket KEKs before the first request: until
    // then a disabled provider would be eligible again and data keys wrapped under the
    // default KEK instead of the bucket's own.
    state.reload(meta.as_ref()).await.map_err(StartError::Residency)?;
    // From here every commit waits for its metadata log entry; the writer's first round logs
    // what an earlier run committed without logging. It stops after the listeners drained.
    let log = start_metadata_log(&ctx, &config);
    let (listener, s3_addr) = bind(config.s3_listen).await?;
    let admin = match config.admin_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let (trigger, shutdown): (ShutdownTrigger, Shutdown) = shutdown::channel();
    let limits = ServerLimits {
        max_connections: config.max_connections,
        shutdown_grace: config.shutdown_grace,
        header_read_timeout: config.header_read_timeout,
        http2_max_streams: config.http2_max_streams,
        ..ServerLimits::default()
    };
    let tls = load_tls(config.tls.as_ref())?;
    let admin_tls = load_tls(config.admin_tls.as_ref())?;
    let converter = Arc::clone(&service);
    let gate = Arc::new(service) as Arc<dyn Gate>;
    let s3 = s3_service(gate, Arc::clone(&metrics), config.body_read_timeout, &config.domains);
    let mut tasks = vec![tokio::spawn(serve(
        listener,
        s3,
        limits,
        tls.clone(),
        metrics.connections_rejected.with_label_values(&["s3"]),
        shutdown.clone(),
    ))];
    let checker = HealthChecker::new(&ctx);
    tasks.push(spawn_worker("health", checker.run(config.health_interval, shutdown.clone())));
    let admin_addr = admin.as_ref().map(|(_, a)| *a);
    if let Some((listener, _)) = admin {
        let service = AdminService::new(
            Arc::clone(&metrics),
            Arc::clone(&health),
            Arc::clone(&admin_ops),
            config.console.clone(),
            Arc::new(crate::live_verify::StoreVerifier::new(ctx.clone(), shutdown.clone())),
        );
        let rejected = metrics.connections_rejected.with_label_values(&["admin"]);
        tasks.push(tokio::spawn(serve(listener, service, limits, admin_tls.clone(), rejected, shutdown.clone())));
    }
    if audit_key_pending {
        tasks.push(spawn_worker("audit-key", load_audit_key(Arc::clone(&admin_ops), shutdown.clone())));
    }
    tasks.extend(spawn_background_workers(&ctx, &config, converter, &shutdown));
    tracing::info!(%s3_addr, ?admin_addr, providers = config.providers.len(), "souverain listening");
    Ok(RunningGateway { s3_addr, admin_addr, meta, metrics, health, tls, admin_tls, trigger, tasks, log })
}
