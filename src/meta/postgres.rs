//! The PostgreSQL engine: the only importer of `tokio-postgres`. Several gateways share one
//! database. Every [`Cf`] is a value of the `cf` column of one table whose keys and values are
//! `bytea`: PostgreSQL compares `bytea` bytewise, so scans come back in exactly RocksDB's
//! order. A transaction takes its [`TxnLock`]s as row locks on `souverain_locks` (`FOR
//! UPDATE`, or `FOR SHARE` for the shared side of the lifecycle lock) before it reads; it runs
//! in READ COMMITTED, so every statement after the grant sees every commit made before it, and
//! a conditional commit has exactly one winner across all gateways. Row locks rather than
//! advisory locks keep the wire-compatible CockroachDB and YugabyteDB possible (DESIGN §7.2).
//! Commits are durable when PostgreSQL's are (`synchronous_commit`, the server's setting).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::runtime::Handle;
use zeroize::Zeroizing;

use super::MetaError;
use super::kv::{Cf, KvEngine, KvOp, KvPairs, KvTxn, TxnLock};

/// How gateways reach the database (the `[metadata]` section).
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// A `postgres://` URL or `key=value` string without a password.
    pub url: String,
    /// The password, from `password`, `password_env` or `password_file`.
    pub password: Option<Zeroizing<String>>,
    /// CA certificates (PEM) trusted for the server's certificate, beside the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Connections per gateway.
    pub pool_size: usize,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl PgSettings {
    /// Parses the URL; a password inside it is refused (it would end up in process lists and
    /// logs of whoever prints the config).
    pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, String> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("metadata.url: {e}"))?;
        if config.get_password().is_some() {
            return Err("metadata.url: must not contain the password (use password_file or password_env)".into());
        }
        Ok(config)
    }
}

/// Key locks are striped over this many rows: two keys of one stripe only wait on each other.
const KEY_STRIPES: i32 = 4096;

/// The `souverain_locks` row of each [`TxnLock`]: (class, id).
fn lock_row(l: TxnLock) -> (i16, i32) {
    match l {
        TxnLock::Lifecycle { .. } => (1, 0),
        TxnLock::Key(h) => (2, (h % KEY_STRIPES as u32) as i32),
        TxnLock::Audit => (3, 0),
        TxnLock::Claims => (4, 0),
    }
}

/// Serializes migrations of gateways starting together (an advisory lock: the lock table may
/// not exist yet; on CockroachDB, whose advisory locks do not lock, DDL is transactional).
const MIGRATION_LOCK: i64 = 0x5356_4d49_4752;

/// Schema versions, applied in order at start; `souverain_schema` records the ones applied.
const MIGRATIONS: &[&str] = &["CREATE TABLE souverain_kv (
        cf smallint NOT NULL,
        k bytea NOT NULL,
        v bytea NOT NULL,
        PRIMARY KEY (cf, k)
    );
    CREATE SEQUENCE souverain_commit_seq;
    CREATE TABLE souverain_locks (class smallint NOT NULL, id integer NOT NULL, PRIMARY KEY (class, id));
    INSERT INTO souverain_locks (class, id) VALUES (1, 0), (3, 0), (4, 0);
    INSERT INTO souverain_locks (class, id) SELECT 2, g FROM generate_series(0, 4095) AS g;"];

fn cf_id(cf: Cf) -> i16 {
    // Stable ids: the position in `Cf::ALL` (new families are appended there).
    Cf::ALL.iter().position(|c| *c == cf).map_or(-1, |i| i as i16)
}

fn pg_err(e: tokio_postgres::Error) -> MetaError {
    // The driver's messages name the server and the failure, never the password.
    let mut msg = e.to_string();
    if let Some(db) = e.as_db_error() {
        msg = format!("{}: {}", db.code().code(), db.message());
    } else if let Some(src) = std::error::Error::source(&e) {
        msg = format!("{msg}: {src}");
    }
    MetaError::Engine(format!("postgres: {msg}"))
}

fn pool_err(e: deadpool_postgres::PoolError) -> MetaError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => MetaError::Engine(format!("postgres pool: {other}")),
    }
}

/// A pool of connections to the shared database.
pub struct PgEngine {
    pool: Pool,
    runtime: Handle,
}

impl PgEngine {
    /// Connects (TLS as the URL's `sslmode` asks, verified against the webpki roots and
    /// `ca_file`) and applies the pending migrations.
    pub async fn connect(settings: &PgSettings) -> Result<Self, MetaError> {
        let mut config = PgSettings::parse_url(&settings.url).map_err(MetaError::Engine)?;
        if let Some(p) = &settings.password {
            config.password(p.as_bytes());
        }
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("souverain");
        let tls = crate::tls_client::client_config(settings.ca_file.as_deref()).map_err(MetaError::Engine)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| MetaError::Engine(format!("postgres pool: {e}")))?;
        let engine = Self { pool, runtime: Handle::current() };
        engine.migrate().await?;
        Ok(engine)
    }

    async fn migrate(&self) -> Result<(), MetaError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(pg_err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS souverain_schema (version integer PRIMARY KEY)")
            .await
            .map_err(pg_err)?;
        let applied: i32 =
            tx.query_one("SELECT coalesce(max(version), 0) FROM souverain_schema", &[]).await.map_err(pg_err)?.get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i32 + 1;
            if version > applied {
                tx.batch_execute(sql).await.map_err(pg_err)?;
                tx.execute("INSERT INTO souverain_schema (version) VALUES ($1)", &[&version]).await.map_err(pg_err)?;
                tracing::info!(version, "metadata schema migrated");
            }
        }
        if applied > MIGRATIONS.len() as i32 {
            return Err(MetaError::Engine(format!(
                "postgres: the schema is at version {applied}, newer than this gateway knows ({}); upgrade the gateway",
                MIGRATIONS.len()
            )));
        }
        tx.commit().await.map_err(pg_err)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        // Engine calls run on the store's blocking threads (spawn_blocking), where waiting on
        // the runtime that owns the pool's connections is allowed.
        self.runtime.block_on(f)
    }

    fn client(&self) -> Result<Object, MetaError> {
        self.block_on(self.pool.get()).map_err(pool_err)
    }
}

const LOCK_UPDATE_SQL: &str = "SELECT 1 FROM souverain_locks WHERE class = $1 AND id = $2 FOR UPDATE";
const LOCK_SHARE_SQL: &str = "SELECT 1 FROM souverain_locks WHERE class = $1 AND id = $2 FOR SHARE";
const GET_SQL: &str = "SELECT v FROM souverain_kv WHERE cf = $1 AND k = $2";
const SCAN_SQL: &str = "SELECT k, v FROM souverain_kv WHERE cf = $1 AND k >= $2 ORDER BY k LIMIT $3";
const SCAN_TO_SQL: &str = "SELECT k, v FROM souverain_kv WHERE cf = $1 AND k >= $2 AND k < $3 ORDER BY k LIMIT $4";
const PUT_SQL: &str = "INSERT INTO souverain_kv (cf, k, v) SELECT * FROM unnest($1::smallint[], $2::bytea[], $3::bytea[]) \
     ON CONFLICT (cf, k) DO UPDATE SET v = EXCLUDED.v";
const DELETE_SQL: &str =
    "DELETE FROM souverain_kv WHERE (cf, k) IN (SELECT * FROM unnest($1::smallint[], $2::bytea[]))";

async fn get_on(client: &Object, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
    let stmt = client.prepare_cached(GET_SQL).await.map_err(pg_err)?;
    let row = client.query_opt(&stmt, &[&cf_id(cf), &key]).await.map_err(pg_err)?;
    Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
}

async fn scan_on(
    client: &Object,
    cf: Cf,
    start: &[u8],
    end: Option<&[u8]>,
    limit: usize,
) -> Result<KvPairs, MetaError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match end {
        Some(end) => {
            let stmt = client.prepare_cached(SCAN_TO_SQL).await.map_err(pg_err)?;
            client.query(&stmt, &[&cf_id(cf), &start, &end, &limit]).await
        }
        None => {
            let stmt = client.prepare_cached(SCAN_SQL).await.map_err(pg_err)?;
            client.query(&stmt, &[&cf_id(cf), &start, &limit]).await
        }
    }
    .map_err(pg_err)?;
    Ok(rows.into_iter().map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1))).collect())
}

/// Applies `ops` (the last op of a key wins, as in a RocksDB batch) in two statements.
async fn apply_on(client: &Object, ops: Vec<KvOp>) -> Result<(), MetaError> {
    let mut last: BTreeMap<(i16, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
    for op in ops {
        match op {
            KvOp::Put(cf, k, v) => last.insert((cf_id(cf), k), Some(v)),
            KvOp::Delete(cf, k) => last.insert((cf_id(cf), k), None),
        };
    }
    let (mut put_cf, mut put_k, mut put_v, mut del_cf, mut del_k) = (vec![], vec![], vec![], vec![], vec![]);
    for ((cf, k), v) in last {
        match v {
            Some(v) => {
                put_cf.push(cf);
                put_k.push(k);
                put_v.push(v);
            }
            None => {
                del_cf.push(cf);
                del_k.push(k);
            }
        }
    }
    if !del_k.is_empty() {
        let stmt = client.prepare_cached(DELETE_SQL).await.map_err(pg_err)?;
        client.execute(&stmt, &[&del_cf, &del_k]).await.map_err(pg_err)?;
    }
    if !put_k.is_empty() {
        let stmt = client.prepare_cached(PUT_SQL).await.map_err(pg_err)?;
        client.execute(&stmt, &[&put_cf, &put_k, &put_v]).await.map_err(pg_err)?;
    }
    Ok(())
}

impl KvEngine for PgEngine {
    type Txn<'a> = PgTxn<'a>;
    const SHARED: bool = true;

    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        let client = self.client()?;
        self.block_on(get_on(&client, cf, key))
    }

    fn write(&self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.begin(&[])?.commit(ops)
    }

    fn scan(&self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        let client = self.client()?;
        self.block_on(scan_on(&client, cf, start, end, limit))
    }

    fn begin(&self, locks: &[TxnLock]) -> Result<PgTxn<'_>, MetaError> {
        let client = self.client()?;
        let mut order = locks.to_vec();
        order.sort();
        order.dedup();
        // Open from before BEGIN: a failure after it still rolls back (a ROLLBACK outside a
        // transaction is only a warning).
        let txn = PgTxn { engine: self, client: Some(client), open: true };
        let client = txn.client.as_ref().ok_or_else(|| MetaError::Engine("postgres: no connection".into()))?;
        self.block_on(async {
            client.batch_execute("BEGIN").await.map_err(pg_err)?;
            for l in order {
                let sql = match l {
                    TxnLock::Lifecycle { exclusive: false } => LOCK_SHARE_SQL,
                    _ => LOCK_UPDATE_SQL,
                };
                let (class, id) = lock_row(l);
                let stmt = client.prepare_cached(sql).await.map_err(pg_err)?;
                let locked = client.execute(&stmt, &[&class, &id]).await.map_err(pg_err)?;
                if locked != 1 {
                    return Err(MetaError::Engine(format!("postgres: lock row ({class}, {id}) is missing")));
                }
            }
            Ok::<_, MetaError>(())
        })?;
        Ok(txn)
    }
}

/// A database transaction on a pooled connection.
pub struct PgTxn<'a> {
    engine: &'a PgEngine,
    client: Option<Object>,
    /// BEGIN was sent and neither COMMIT nor ROLLBACK yet.
    open: bool,
}

impl PgTxn<'_> {
    fn client(&self) -> Result<&Object, MetaError> {
        self.client.as_ref().ok_or_else(|| MetaError::Engine("postgres: transaction already ended".into()))
    }
}

impl KvTxn for PgTxn<'_> {
    fn get(&mut self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        self.engine.block_on(get_on(self.client()?, cf, key))
    }

    fn scan(&mut self, cf: Cf, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<KvPairs, MetaError> {
        self.engine.block_on(scan_on(self.client()?, cf, start, end, limit))
    }

    fn next_seq(&mut self) -> Result<u64, MetaError> {
        let client = self.client()?;
        let n: i64 = self
            .engine
            .block_on(client.query_one("SELECT nextval('souverain_commit_seq')", &[]))
            .map_err(pg_err)?
            .get(0);
        Ok(n as u64)
    }

    fn commit(mut self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        let client = self.client()?;
        self.engine.block_on(async {
            apply_on(client, ops).await?;
            client.batch_execute("COMMIT").await.map_err(pg_err)
        })?;
        self.open = false;
        Ok(())
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(client) = self.client.take() else { return };
        // Nothing was committed: roll back so the connection goes back to the pool clean.
        // If even that fails, the connection is closed instead (the server rolls back).
        if self.engine.block_on(client.batch_execute("ROLLBACK")).is_err() {
            drop(Object::take(client));
        }
    }
}
