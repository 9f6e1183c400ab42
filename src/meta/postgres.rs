//! The PostgreSQL engine: the only importer of `tokio-postgres`. Several gateways share one
//! database. Every [`Cf`] is a value of the `cf` column of one table whose keys and values are
//! `bytea`: PostgreSQL compares `bytea` bytewise, so scans come back in exactly RocksDB's
//! order. A transaction takes its [`TxnLock`]s before it reads: advisory transaction locks on
//! genuine PostgreSQL, row locks on `souverain_locks` (`FOR UPDATE`, or `FOR SHARE` for the
//! shared side of the lifecycle lock) on servers that only speak its protocol (CockroachDB,
//! YugabyteDB; DESIGN §7.2). It runs in READ COMMITTED, so every statement after the grant
//! sees every commit made before it, and a conditional commit has exactly one winner across
//! all gateways. Statements that do not depend on each other's answers are pipelined.
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
    /// Accept `sslmode=disable` to a host that is not on this machine (refused otherwise).
    pub allow_plaintext: bool,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

/// Why a database URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not a URL tokio-postgres understands.
    #[error("not a PostgreSQL URL")]
    Syntax(#[source] tokio_postgres::Error),
    /// The password is in it.
    #[error("must not contain the password (use password_file or password_env)")]
    Password,
    /// Cleartext to a database that TLS should protect.
    #[error(
        "sslmode=disable, but a ca_file is given or the database is not on this machine; remove sslmode=disable (TLS is then required), or set metadata.allow_plaintext = true to accept cleartext"
    )]
    Plaintext,
}

impl PgSettings {
    /// Parses the URL; a password inside it is refused (it would end up in process lists and
    /// logs of whoever prints the config).
    pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, UrlError> {
        let config: tokio_postgres::Config = url.parse().map_err(UrlError::Syntax)?;
        if config.get_password().is_some() {
            return Err(UrlError::Password);
        }
        Ok(config)
    }

    /// The URL parsed, with TLS required whenever it is configured (a CA file) or the
    /// connection leaves the machine (a host that is not loopback): tokio-postgres's default
    /// `sslmode=prefer` falls back to cleartext when the server (or a man in the middle)
    /// answers that it has no TLS. `sslmode=disable` to such a host is refused unless
    /// `allow_plaintext`. TLS is always verified (rustls, webpki roots plus `ca_file`).
    pub fn connection_config(&self) -> Result<tokio_postgres::Config, UrlError> {
        use tokio_postgres::config::{Host, SslMode};
        let mut config = Self::parse_url(&self.url)?;
        let remote = config.get_hosts().iter().any(|h| match h {
            Host::Tcp(name) => !crate::tls_client::loopback_host(name),
            Host::Unix(_) => false,
        });
        let wanted = self.ca_file.is_some() || remote;
        match config.get_ssl_mode() {
            SslMode::Disable if wanted && !self.allow_plaintext => return Err(UrlError::Plaintext),
            SslMode::Prefer if wanted => {
                config.ssl_mode(SslMode::Require);
            }
            _ => {}
        }
        Ok(config)
    }
}

/// Key locks are striped over this many rows: two keys of one stripe only wait on each other.
const KEY_STRIPES: u32 = 4096;

/// The `souverain_locks` row of each [`TxnLock`]: (class, id).
fn lock_row(l: TxnLock) -> (i16, i32) {
    match l {
        TxnLock::Lifecycle { .. } => (1, 0),
        TxnLock::Key(h) => (2, i32::try_from(h % KEY_STRIPES).unwrap_or(0)),
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
    Cf::ALL.iter().position(|c| *c == cf).and_then(|i| i16::try_from(i).ok()).unwrap_or(-1)
}

fn pg_err(e: tokio_postgres::Error) -> MetaError {
    // The driver's errors (kept as the source) name the server and the failure, never the
    // password; a database error's SQLSTATE goes in the context.
    match e.as_db_error().map(|db| db.code().code().to_owned()) {
        Some(code) => MetaError::engine_from(format!("postgres {code}"), e),
        None => MetaError::engine_from("postgres", e),
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> MetaError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => MetaError::engine_from("postgres pool", other),
    }
}

/// A pool of connections to the shared database.
pub struct PgEngine {
    pool: Pool,
    runtime: Handle,
    locks: LockStyle,
}

/// How transactions take their locks. PostgreSQL's advisory transaction locks live in shared
/// memory: taking one writes nothing, where a row lock rewrites the row's lock field (and a
/// shared one makes a MultiXact), costing WAL and CPU on every commit. Servers that only speak
/// the protocol (CockroachDB, YugabyteDB), whose advisory locks may not lock, get row locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockStyle {
    Advisory,
    Rows,
}

impl PgEngine {
    /// Connects (TLS as [`PgSettings::connection_config`] decides, verified against the
    /// webpki roots and `ca_file`) and applies the pending migrations.
    pub async fn connect(settings: &PgSettings) -> Result<Self, MetaError> {
        let mut config = settings.connection_config().map_err(|e| MetaError::engine_from("database URL refused", e))?;
        if let Some(p) = &settings.password {
            config.password(p.as_bytes());
        }
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("souverain");
        let tls = crate::tls_client::client_config(settings.ca_file.as_deref()).map_err(MetaError::engine)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| MetaError::engine_from("postgres pool", e))?;
        let mut engine = Self { pool, runtime: Handle::current(), locks: LockStyle::Rows };
        engine.migrate().await?;
        engine.locks = engine.lock_style().await?;
        tracing::info!(locks = ?engine.locks, "metadata in PostgreSQL");
        Ok(engine)
    }

    /// Takes row locks even on genuine PostgreSQL, as on servers without working advisory
    /// locks (so the tests cover both ways).
    #[cfg(test)]
    pub fn with_row_locks(mut self) -> Self {
        self.locks = LockStyle::Rows;
        self
    }

    async fn lock_style(&self) -> Result<LockStyle, MetaError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let version: String = client.query_one("SELECT version()", &[]).await.map_err(pg_err)?.get(0);
        let genuine = version.starts_with("PostgreSQL ") && !version.contains("-YB-");
        Ok(if genuine { LockStyle::Advisory } else { LockStyle::Rows })
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
        if usize::try_from(applied).is_ok_and(|a| a > MIGRATIONS.len()) {
            return Err(MetaError::engine(format!(
                "postgres: the schema is at version {applied}, newer than this gateway knows ({}); upgrade the gateway",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
            if version > applied {
                tx.batch_execute(sql).await.map_err(pg_err)?;
                tx.execute("INSERT INTO souverain_schema (version) VALUES ($1)", &[&version]).await.map_err(pg_err)?;
                tracing::info!(version, "metadata schema migrated");
            }
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

/// Advisory lock keys (two-key form) of a lock row (class, id): in a range of their own ("SV"),
/// so other users of the database are not disturbed.
const ADVISORY_CLASS: i32 = 0x5356_0000;
const ADVISORY_SQL: &str = "SELECT pg_advisory_xact_lock($1, $2)";
const ADVISORY_SHARE_SQL: &str = "SELECT pg_advisory_xact_lock_shared($1, $2)";
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
    let rows = if let Some(end) = end {
        let stmt = client.prepare_cached(SCAN_TO_SQL).await.map_err(pg_err)?;
        client.query(&stmt, &[&cf_id(cf), &start, &end, &limit]).await
    } else {
        let stmt = client.prepare_cached(SCAN_SQL).await.map_err(pg_err)?;
        client.query(&stmt, &[&cf_id(cf), &start, &limit]).await
    }
    .map_err(pg_err)?;
    Ok(rows.into_iter().map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, Vec<u8>>(1))).collect())
}

/// A batch of ops as (at most) two statements' arrays; the last op of a key wins, as in a
/// RocksDB batch.
#[derive(Default)]
struct Batch {
    put_cf: Vec<i16>,
    put_k: Vec<Vec<u8>>,
    put_v: Vec<Vec<u8>>,
    del_cf: Vec<i16>,
    del_k: Vec<Vec<u8>>,
}

impl Batch {
    fn of(ops: Vec<KvOp>) -> Self {
        let mut last: BTreeMap<(i16, Vec<u8>), Option<Vec<u8>>> = BTreeMap::new();
        for op in ops {
            match op {
                KvOp::Put(cf, k, v) => last.insert((cf_id(cf), k), Some(v)),
                KvOp::Delete(cf, k) => last.insert((cf_id(cf), k), None),
            };
        }
        let mut b = Batch::default();
        for ((cf, k), v) in last {
            if let Some(v) = v {
                b.put_cf.push(cf);
                b.put_k.push(k);
                b.put_v.push(v);
            } else {
                b.del_cf.push(cf);
                b.del_k.push(k);
            }
        }
        b
    }

    /// One statement at most: atomic on its own, no transaction needed.
    fn single_statement(&self) -> bool {
        self.put_k.is_empty() || self.del_k.is_empty()
    }
}

/// Runs the batch's statements and then, if `commit`, COMMIT: pipelined, in this order, in one
/// round trip. A failed statement makes PostgreSQL answer the COMMIT with a rollback, and its
/// error is the one returned.
async fn apply_on(client: &Object, b: Batch, commit: bool) -> Result<(), MetaError> {
    let del = if b.del_k.is_empty() { None } else { Some(client.prepare_cached(DELETE_SQL).await.map_err(pg_err)?) };
    let put = if b.put_k.is_empty() { None } else { Some(client.prepare_cached(PUT_SQL).await.map_err(pg_err)?) };
    let deletes = async {
        if let Some(stmt) = &del {
            client.execute(stmt, &[&b.del_cf, &b.del_k]).await.map_err(pg_err)?;
        }
        Ok::<_, MetaError>(())
    };
    let puts = async {
        if let Some(stmt) = &put {
            client.execute(stmt, &[&b.put_cf, &b.put_k, &b.put_v]).await.map_err(pg_err)?;
        }
        Ok(())
    };
    let end = async {
        if commit {
            client.batch_execute("COMMIT").await.map_err(pg_err)?;
        }
        Ok(())
    };
    futures_util::future::try_join3(deletes, puts, end).await?;
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
        let batch = Batch::of(ops);
        if batch.single_statement() {
            let client = self.client()?;
            return self.block_on(apply_on(&client, batch, false));
        }
        self.begin(&[])?.commit_batch(batch)
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
        let client = txn.client.as_ref().ok_or_else(|| MetaError::engine("postgres: no connection"))?;
        let style = self.locks;
        self.block_on(async {
            // Statements prepared first (cached per connection), so that BEGIN and the locks then
            // go out together, pipelined and executed in order: one round trip, locks in order.
            let mut stmts = Vec::with_capacity(order.len());
            for l in order {
                let shared = l == TxnLock::Lifecycle { exclusive: false };
                let sql = match (style, shared) {
                    (LockStyle::Advisory, true) => ADVISORY_SHARE_SQL,
                    (LockStyle::Advisory, false) => ADVISORY_SQL,
                    (LockStyle::Rows, true) => LOCK_SHARE_SQL,
                    (LockStyle::Rows, false) => LOCK_UPDATE_SQL,
                };
                stmts.push((client.prepare_cached(sql).await.map_err(pg_err)?, lock_row(l)));
            }
            let begin = async { client.batch_execute("BEGIN").await.map_err(pg_err) };
            let locks = stmts.iter().map(|(stmt, (class, id))| async move {
                let locked = match style {
                    LockStyle::Advisory => client.execute(stmt, &[&(ADVISORY_CLASS + i32::from(*class)), id]).await,
                    LockStyle::Rows => client.execute(stmt, &[class, id]).await,
                }
                .map_err(pg_err)?;
                if locked != 1 {
                    return Err(MetaError::engine(format!("postgres: lock row ({class}, {id}) is missing")));
                }
                Ok(())
            });
            futures_util::future::try_join(begin, futures_util::future::try_join_all(locks)).await
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
        self.client.as_ref().ok_or_else(|| MetaError::engine("postgres: transaction already ended"))
    }

    fn commit_batch(mut self, batch: Batch) -> Result<(), MetaError> {
        let client = self.client()?;
        self.engine.block_on(apply_on(client, batch, true))?;
        self.open = false;
        Ok(())
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
        u64::try_from(n).map_err(|e| MetaError::engine_from("a negative commit sequence number", e))
    }

    fn raise_seq(&mut self, floor: u64) -> Result<(), MetaError> {
        let floor = i64::try_from(floor).map_err(|e| MetaError::engine_from("a commit sequence beyond i64", e))?;
        let client = self.client()?;
        let sql = "SELECT setval('souverain_commit_seq', GREATEST($1, (SELECT last_value FROM souverain_commit_seq)))";
        self.engine.block_on(client.query_one(sql, &[&floor])).map_err(pg_err)?;
        Ok(())
    }

    fn commit(self, ops: Vec<KvOp>) -> Result<(), MetaError> {
        self.commit_batch(Batch::of(ops))
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
