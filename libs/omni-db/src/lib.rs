//! Diesel on PostgreSQL and SQLite behind one connection type ([`DbConnection`], a diesel `MultiConnection`),
//! pooled, with per-service embedded migrations, the transactional outbox and the consumer inbox.
//!
//! Queries are written once against [`DbConnection`]; they run on PostgreSQL in production and on SQLite in
//! `omni dev`. Blocking diesel calls run on tokio's blocking pool through [`Db::run`] and [`Db::transaction`].

pub mod audit;
pub mod inbox;
pub mod outbox;
pub mod schema;
pub mod statistics;
pub mod testing;
pub mod typed;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool};

/// A connection checked out of a service's pool.
pub type PooledConnection = diesel::r2d2::PooledConnection<Manager>;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection type for both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL: production and the real-backend tests.
    Pg(PgConnection),
    /// SQLite: `omni dev` and the embedded-backend tests.
    Sqlite(SqliteConnection),
}

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or the URL is wrong.
    #[error("cannot connect to the database at {target}: {reason}")]
    Connect {
        /// The URL with any password removed.
        target: String,
        /// The driver's error on one line.
        reason: String,
    },
    /// No pooled connection became free in time.
    #[error("no database connection available: {0}")]
    Pool(#[source] diesel::r2d2::PoolError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Stored data breaks a rule the code relies on (a corrupt column, a row that must exist and does not).
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
    /// The blocking task running a query panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a service's database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A PostgreSQL URL and the schema the service owns in it (created if missing).
    Postgres {
        /// `postgres://...`
        url: String,
        /// Schema name, or `None` to use the URL's default search path.
        schema: Option<String>,
    },
    /// A SQLite file.
    Sqlite(PathBuf),
}

impl Target {
    /// Parses `postgres://...`, `postgresql://...` or `sqlite://<path>`.
    pub fn parse(url: &str, schema: Option<&str>) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres {
                url: url.to_owned(),
                schema: schema.map(str::to_owned),
            })
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Target::Sqlite(PathBuf::from(path)))
        } else {
            Err(Error::Connect {
                target: redact(url),
                reason: "expected postgres://, postgresql:// or sqlite://".into(),
            })
        }
    }

    /// The target with credentials removed, for messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres { url, schema } => {
                format!(
                    "{} (schema {})",
                    redact(url),
                    schema.as_deref().unwrap_or("public")
                )
            }
            Target::Sqlite(path) => format!("sqlite://{}", path.display()),
        }
    }

    fn establish(&self) -> Result<DbConnection> {
        let connect_err = |source: diesel::ConnectionError| Error::Connect {
            target: self.describe(),
            reason: one_line(&source),
        };
        match self {
            Target::Postgres { url, schema } => {
                let mut conn = PgConnection::establish(url).map_err(connect_err)?;
                if let Some(schema) = schema {
                    let quoted = quote_ident(schema);
                    conn.batch_execute(&format!(
                        "CREATE SCHEMA IF NOT EXISTS {quoted}; SET search_path TO {quoted}"
                    ))
                    .map_err(Error::Query)?;
                }
                Ok(DbConnection::Pg(conn))
            }
            Target::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        connect_err(diesel::ConnectionError::BadConnection(format!(
                            "cannot create {}: {e}",
                            dir.display()
                        )))
                    })?;
                }
                let mut conn = SqliteConnection::establish(&path.to_string_lossy()).map_err(connect_err)?;
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 15000; \
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(Error::Query)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A driver message on one line (libpq's span several).
fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Removes the password from a URL for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// r2d2 manager that establishes exactly the configured backend (never falls back to another).
#[derive(Debug)]
pub struct Manager(Target);

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = Error;

    fn connect(&self) -> Result<DbConnection> {
        self.0.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<()> {
        conn.batch_execute("SELECT 1").map_err(Error::Query)
    }

    /// A connection whose transaction manager is broken (a rollback that failed: the server went away mid-way)
    /// is dropped rather than handed out again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        std::thread::panicking()
            || match conn {
                DbConnection::Pg(pg) => pg.is_broken(),
                DbConnection::Sqlite(sqlite) => sqlite.is_broken(),
            }
    }
}

/// A service's connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    target: std::sync::Arc<Target>,
    /// SQLite has one writer, and a deferred transaction that read a snapshot cannot upgrade to a write once
    /// another writer committed ("database is locked" at once, whatever the busy timeout). Dev mode is not
    /// about throughput, so every call on a SQLite database takes this lock: one at a time per service.
    sqlite_writer: Option<std::sync::Arc<std::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("target", &self.target.describe())
            .finish()
    }
}

/// Migrations shared by every service: the outbox and inbox tables.
pub const COMMON_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

impl Db {
    /// Connects (failing at once with a clear error if the database is unreachable) and builds the pool.
    pub fn connect(target: Target, pool_size: u32) -> Result<Self> {
        // One connection up front so a missing database is reported now, by name, not on first use.
        drop(target.establish()?);
        let pool_size = match target {
            // SQLite serialises writers anyway; a small pool avoids busy waits.
            Target::Sqlite(_) => pool_size.min(4),
            Target::Postgres { .. } => pool_size,
        };
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .connection_timeout(Duration::from_secs(10))
            // No `SELECT 1` before every use: a broken connection fails its query, which callers retry, and
            // the pool replaces it. The ping was a round trip on every call of every hot path.
            .test_on_check_out(false)
            .build_unchecked(Manager(target.clone()));
        let sqlite_writer =
            matches!(target, Target::Sqlite(_)).then(|| std::sync::Arc::new(std::sync::Mutex::new(())));
        Ok(Self {
            pool,
            target: std::sync::Arc::new(target),
            sqlite_writer,
        })
    }

    /// Applies the common migrations, then the service's own.
    pub async fn migrate(&self, service_migrations: EmbeddedMigrations) -> Result<()> {
        self.run(move |conn| match conn {
            DbConnection::Pg(c) => apply_migrations(c, service_migrations),
            DbConnection::Sqlite(c) => apply_migrations(c, service_migrations),
        })
        .await
    }

    /// Where this pool connects.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(*self.target, Target::Postgres { .. })
    }

    /// A pooled connection for the calling (blocking) thread.
    pub fn get(&self) -> Result<PooledConnection> {
        self.pool.get().map_err(Error::Pool)
    }

    /// Runs blocking database work on tokio's blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> std::result::Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let writer = self.sqlite_writer.clone();
        let target = self.target.clone();
        // The caller's span follows the work onto the blocking thread, so events written to the outbox there
        // carry the caller's trace context.
        let span = tracing::Span::current();
        // So does the request and trace an audit entry written there names.
        let audit = audit::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _serialized = writer
                .as_ref()
                .map(|w| w.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let mut conn = pool.get().map_err(|e| E::from(Error::Pool(e)))?;
            let done = audit::with_context(audit, || f(&mut conn));
            // After a failure, one round trip tells a dead connection (the server restarted, failed over or
            // ended the backend) from a failed query: a dead one is replaced in the pool now, so no later caller
            // gets it. Nothing is paid while queries succeed.
            if done.is_err() && conn.batch_execute("SELECT 1").is_err() {
                match Manager(target.as_ref().clone()).connect() {
                    Ok(fresh) => *conn = fresh,
                    Err(e) => {
                        tracing::warn!(error = %e, "A dead database connection could not be replaced yet.")
                    }
                }
            }
            done
        })
        .await
        .map_err(|e| E::from(Error::Task(e.to_string())))?
    }

    /// Runs `f` in one transaction on tokio's blocking pool; an `Err` rolls it back.
    pub async fn transaction<T, E, F>(&self, f: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> std::result::Result<T, E> + Send + 'static,
    {
        self.run(move |conn| conn.transaction(f)).await
    }

    /// Checks the database answers (for `/health/ready`).
    pub async fn ping(&self) -> Result<()> {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(Error::Query))
            .await
    }
}

fn apply_migrations<DB: diesel::backend::Backend>(
    harness: &mut impl MigrationHarness<DB>,
    service_migrations: EmbeddedMigrations,
) -> Result<()> {
    for set in [COMMON_MIGRATIONS, service_migrations] {
        harness
            .run_pending_migrations(set)
            .map_err(|e| Error::Migration(e.to_string()))?;
    }
    Ok(())
}

/// A stable 63-bit advisory-lock key for `name` (FNV-1a), so every replica of a service contends for the same lock.
pub fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) as i64
}

/// Serialises the caller's transaction with every other one taking the lock named `name`, across replicas: a
/// PostgreSQL transaction-scoped advisory lock, released at commit or rollback. SQLite needs none (one process,
/// writers already serialised).
pub fn lock_transaction(conn: &mut DbConnection, name: &str) -> Result<()> {
    if matches!(conn, DbConnection::Pg(_)) {
        conn.batch_execute(&format!("SELECT pg_advisory_xact_lock({})", lock_key(name)))
            .map_err(Error::Query)?;
    }
    Ok(())
}

/// Whether a query failed because a unique constraint already holds the row.
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// UTC now, as the naive timestamp both backends store.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}
