//! The database: a connection type over SQLite or PostgreSQL, the r2d2 pool,
//! migrations, and the one helper that runs blocking diesel work off the
//! async executor.

pub mod schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection to whichever backend the URL names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend is chosen from the URL scheme, never by trial and error,
    /// so that a wrong PostgreSQL URL reports PostgreSQL's own error.
    pub fn from_url(url: &str) -> Result<Backend, DbError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if lower.starts_with("sqlite://")
            || lower.starts_with("file:")
            || !lower.contains("://")
        {
            Ok(Backend::Sqlite)
        } else {
            Err(DbError::UnsupportedUrl(redact_url(url)))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "unsupported database URL {0:?}: use postgres://… for PostgreSQL, or a file path or sqlite://path for SQLite"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to {backend} at {url}: {message}")]
    Connect {
        backend: &'static str,
        url: String,
        message: String,
    },
    #[error("cannot apply migrations: {0}")]
    Migrations(String),
    #[error("database pool: {0}")]
    Pool(String),
}

/// Hides the password of a URL before it is printed or logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The file a SQLite URL names (`sqlite://path` or a plain path).
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// Makes every SQLite connection this process opens from now on keep the
/// plan a statement was prepared with (called once, by [`prepare_sqlite`]).
///
/// Since 3.47, SQLite re-plans a prepared statement before each run when a
/// bound value might change its plan, and it counts the `LIMIT ?` of every
/// diesel `.first()` among those: each run of a cached statement was parsed
/// and planned again (a third of the CPU of a queue page, most of it the
/// session lookup). The query-planner stability guarantee (QPSG) turns
/// that off. Diesel gives no handle to the raw connection, so the setting
/// goes through SQLite's auto-extension hook, which runs for each new
/// connection.
fn keep_sqlite_plans() {
    use libsqlite3_sys as ffi;
    use std::ffi::{c_char, c_int};

    unsafe extern "C" fn stable_plans(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: SQLite calls this with the connection it has just opened;
        // the option takes an int (1: on) and an optional int* (none).
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            );
        }
        ffi::SQLITE_OK
    }

    // SAFETY: the entry point has the signature SQLite calls it with.
    unsafe {
        ffi::sqlite3_auto_extension(Some(stable_plans));
    }
}

/// Sets SQLite up for this process, once, before its first connection:
/// the per-connection hook that keeps plans.
fn prepare_sqlite() {
    static PREPARED: std::sync::Once = std::sync::Once::new();
    PREPARED.call_once(keep_sqlite_plans);
}

/// Opens one connection, with the real error of the chosen backend.
pub fn establish(url: &str) -> Result<DbConnection, DbError> {
    let backend = Backend::from_url(url)?;
    let connect_error = |message: String| DbError::Connect {
        backend: backend.name(),
        url: redact_url(url),
        message: message.trim().to_string(),
    };
    match backend {
        Backend::Postgres => diesel::PgConnection::establish(url)
            .map(DbConnection::Postgresql)
            .map_err(|e| connect_error(e.to_string())),
        Backend::Sqlite => {
            prepare_sqlite();
            let mut conn = diesel::SqliteConnection::establish(sqlite_path(url))
                .map_err(|e| connect_error(e.to_string()))?;
            // busy_timeout first: switching to WAL may itself wait for a lock.
            conn.batch_execute(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                 PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| connect_error(e.to_string()))?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// Runs `work` in a transaction that may write. On SQLite it begins with
/// `BEGIN IMMEDIATE`: the write lock is taken first, waiting for it under
/// the busy timeout. A deferred transaction that reads and then writes
/// asks to upgrade its read lock instead, and when another connection has
/// committed meanwhile SQLite refuses that at once ("database is locked"),
/// busy timeout or not. Inside a transaction already open it is a
/// savepoint, as [`Connection::transaction`]. On PostgreSQL a transaction
/// as usual.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    match AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        Ok(()) => {}
        Err(diesel::result::Error::AlreadyInTransaction) => return conn.transaction(work),
        Err(error) => return Err(error.into()),
    }
    let outcome = work(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        unreachable!("the connection stays SQLite");
    };
    match outcome {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(sqlite)?;
            Ok(value)
        }
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(sqlite)?;
            Err(error)
        }
    }
}

/// Runs reads in one read-only snapshot of the database: a deferred
/// transaction on SQLite (under WAL, writers go on meanwhile), repeatable
/// read on PostgreSQL. Everything `work` reads is as of one moment.
pub fn read_snapshot<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let DbConnection::Postgresql(_) = conn {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(conn)?;
        }
        work(conn)
    })
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<(), DbError> {
    let migrations = match conn {
        DbConnection::Postgresql(_) => POSTGRES_MIGRATIONS,
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
    };
    conn.run_pending_migrations(migrations)
        .map(|_| ())
        .map_err(|e| DbError::Migrations(e.to_string()))
}

/// The r2d2 manager: connects by URL scheme (see [`establish`]).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: String,
    queries: Arc<AtomicU64>,
}

#[derive(Debug)]
pub struct ManagerError(String);

impl std::fmt::Display for ManagerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ManagerError {}

/// A connection in the pool, and what the pool knows of its health.
pub struct PooledDb {
    conn: DbConnection,
    /// The worst outcome of its statements since it was last known good
    /// (set by the connection's instrumentation): [`CLEAN`], [`FAILED`] or
    /// [`LOST`].
    health: Arc<AtomicU8>,
    /// When it last went back to the pool with every statement succeeded.
    clean_at: Option<Instant>,
}

const CLEAN: u8 = 0;
/// A statement failed (a constraint, a bad query): the connection is
/// probably fine, but it is tried before its next use.
const FAILED: u8 = 1;
/// The server or the network dropped it: it leaves the pool.
const LOST: u8 = 2;

/// A PostgreSQL connection that went back to the pool in good order this
/// recently is handed out again without a `SELECT 1` first. Under load a
/// connection comes back every few milliseconds, and the check was one of
/// a queue view's round trips; a connection idle for longer, or one whose
/// last statement failed, is still tried. A server restart shorter than
/// this window can still cost one request a 503 (its statement reports the
/// lost connection, and the pool drops it).
const TRUSTED_AFTER_RETURN: Duration = Duration::from_millis(100);

impl std::ops::Deref for PooledDb {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The connection broke under the statement: the server restarted or
/// stopped (its backends are terminated), or the network dropped.
pub fn is_connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        error,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        )
    )
}

impl ManageConnection for ConnectionManager {
    type Connection = PooledDb;
    type Error = ManagerError;

    fn connect(&self) -> Result<PooledDb, ManagerError> {
        let mut conn = establish(&self.url).map_err(|e| ManagerError(e.to_string()))?;
        let queries = self.queries.clone();
        let health = Arc::new(AtomicU8::new(CLEAN));
        let seen = health.clone();
        conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
            use diesel::connection::InstrumentationEvent::*;
            match event {
                StartQuery { .. } => {
                    queries.fetch_add(1, Ordering::Relaxed);
                }
                FinishQuery {
                    error: Some(error), ..
                } => {
                    let outcome = if is_connection_lost(error) {
                        LOST
                    } else {
                        FAILED
                    };
                    seen.fetch_max(outcome, Ordering::Relaxed);
                }
                _ => {}
            }
        });
        Ok(PooledDb {
            conn,
            health,
            clean_at: None,
        })
    }

    /// Called on check-out (PostgreSQL only, see `test_on_check_out`).
    fn is_valid(&self, pooled: &mut PooledDb) -> Result<(), ManagerError> {
        let trusted = pooled.health.load(Ordering::Relaxed) == CLEAN
            && pooled
                .clean_at
                .is_some_and(|at| at.elapsed() < TRUSTED_AFTER_RETURN);
        if trusted {
            return Ok(());
        }
        pooled
            .conn
            .batch_execute("SELECT 1")
            .map_err(|e| ManagerError(e.to_string()))?;
        pooled.health.store(CLEAN, Ordering::Relaxed);
        Ok(())
    }

    /// Called as a connection goes back to the pool: one that was lost, or
    /// left inside a broken transaction, is dropped.
    fn has_broken(&self, pooled: &mut PooledDb) -> bool {
        let health = pooled.health.load(Ordering::Relaxed);
        if health == LOST || diesel::r2d2::R2D2Connection::is_broken(&mut pooled.conn) {
            return true;
        }
        pooled.clean_at = (health == CLEAN).then(Instant::now);
        false
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The pool and the backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    queries: Arc<AtomicU64>,
    /// SQLite's writers of this process, one at a time (see [`Db::write`]).
    writer: Arc<std::sync::Mutex<()>>,
    /// The thread of [`Db::run_kept`], started at its first use.
    keeper: Arc<std::sync::OnceLock<Option<Lane>>>,
}

/// A piece of work for a [`Lane`].
type LaneJob = Box<dyn FnOnce() + Send>;

/// A thread of its own that runs work one piece at a time, in order. It
/// ends when the last [`Db`] sharing it is dropped.
struct Lane {
    jobs: std::sync::mpsc::Sender<LaneJob>,
}

impl Lane {
    fn start(name: &str) -> Option<Lane> {
        let (jobs, queued) = std::sync::mpsc::channel::<LaneJob>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for job in queued {
                    // A panic fails that piece of work (its caller hears
                    // the answer was dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .ok()?;
        Some(Lane { jobs })
    }
}

/// What went wrong while running work on a pooled connection.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Work(E),
}

impl Db {
    /// Connects once (to report the real error), migrates, then builds the pool.
    pub fn connect_and_migrate(url: &str, pool_size: u32) -> Result<Db, DbError> {
        let backend = Backend::from_url(url)?;
        let mut first = establish(url)?;
        run_migrations(&mut first)?;
        drop(first);
        let queries = Arc::new(AtomicU64::new(0));
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            // No background top-up of idle connections: a connection being
            // opened on r2d2's thread while a command-line process exits
            // crashes inside libpq's exit handlers. Connections open on demand.
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            .test_on_check_out(backend == Backend::Postgres)
            .build(ConnectionManager {
                url: url.to_string(),
                queries: queries.clone(),
            })
            .map_err(|e| DbError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            backend,
            queries,
            writer: Arc::default(),
            keeper: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How many SQL statements the pool's connections have started so far
    /// (a page's cost in queries is the difference around its request).
    pub fn queries_started(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Runs blocking diesel work on the blocking thread pool, never on the
    /// async executor.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let pool = self.pool.clone();
        // Log lines of the work belong to the request (or job) that asked.
        let span = tracing::Span::current();
        actix_web::rt::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool
                .get()
                .map_err(|e| RunError::Unavailable(e.to_string()))?;
            work(&mut conn).map_err(RunError::Work)
        })
        .await
        .map_err(|e| RunError::Unavailable(format!("blocking task failed: {e}")))?
    }

    /// Runs work whose result the process keeps for long (the queue's
    /// published posts), as [`Db::run`] but on one thread of its own, one
    /// piece at a time. glibc's malloc gives each thread an arena of its
    /// own: a copy read on whichever blocking thread was free left the last
    /// copy's memory free but held in another arena (at a million
    /// employees, RSS grew by about 45 MiB over five reads under load).
    /// Read on one thread, each copy reuses the memory the last one freed.
    pub async fn run_kept<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let Some(lane) = self.keeper.get_or_init(|| Lane::start("chorus-kept")) else {
            return self.run(work).await;
        };
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: LaneJob = Box::new(move || {
            let _entered = span.enter();
            let outcome = match pool.get() {
                Ok(mut conn) => work(&mut conn).map_err(RunError::Work),
                Err(e) => Err(RunError::Unavailable(e.to_string())),
            };
            let _ = answer.send(outcome);
        });
        lane.jobs
            .send(job)
            .map_err(|_| RunError::Unavailable("the keeping thread has stopped".into()))?;
        answered
            .await
            .map_err(|_| RunError::Unavailable("the kept work failed".into()))?
    }

    /// Runs short read-only work: on SQLite, with a connection free at once,
    /// right here on the caller's thread; otherwise as [`Db::run`].
    ///
    /// An indexed read of an in-process SQLite database takes tens of
    /// microseconds, less than handing it to the blocking pool and back
    /// (two thread wake-ups). In WAL mode readers never wait for writers, so
    /// such work does not block. Never for writes (they may wait for the
    /// write lock), nor for PostgreSQL (every query is a network round trip).
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        if self.backend == Backend::Sqlite
            && let Some(mut conn) = self.pool.try_get()
        {
            return work(&mut conn).map_err(RunError::Work);
        }
        self.run(work).await
    }

    /// Runs several short reads, as [`Db::read`], that see one snapshot of
    /// the database. On SQLite they run in one read transaction: one lock
    /// of the database file (SQLite's locks are system calls) instead of
    /// one per statement, and no write by another process lands between
    /// them. On PostgreSQL as [`Db::run`], statement by statement: a
    /// transaction there would cost two more round trips.
    pub async fn read_snapshot<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        if self.backend != Backend::Sqlite {
            return self.run(work).await;
        }
        let outcome = self
            .read(move |conn| {
                conn.transaction::<_, diesel::result::Error, _>(|conn| Ok(work(conn)))
            })
            .await;
        match outcome {
            Ok(result) => result.map_err(RunError::Work),
            // BEGIN or COMMIT failed: the database, not the work.
            Err(RunError::Work(error)) => Err(RunError::Unavailable(error.to_string())),
            Err(RunError::Unavailable(message)) => Err(RunError::Unavailable(message)),
        }
    }

    /// Runs work that writes, as [`Db::run`]. On SQLite, this process's
    /// writers take turns here first: one waiting in line is woken the
    /// moment the writer before it is done, while one waiting in SQLite's
    /// busy handler naps a millisecond and more between tries, and under
    /// load those naps, not the writes, set the pace. Other processes still
    /// meet SQLite's own lock and busy timeout.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, RunError<E>>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let line = (self.backend == Backend::Sqlite).then(|| self.writer.clone());
        self.run(move |conn| {
            let _turn = line.as_ref().map(|line| {
                line.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            });
            work(conn)
        })
        .await
    }

    /// Runs blocking work synchronously (command-line tools, tests).
    pub fn run_sync<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, RunError<E>> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| RunError::Unavailable(e.to_string()))?;
        work(&mut conn).map_err(RunError::Work)
    }

    /// Open and idle connections, and the most the pool opens.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let state = self.pool.state();
        (
            state.connections,
            state.idle_connections,
            self.pool.max_size(),
        )
    }

    /// True when a connection answers a trivial query.
    pub fn ping(&self) -> bool {
        match self.pool.get_timeout(Duration::from_secs(2)) {
            Ok(mut conn) => conn.batch_execute("SELECT 1").is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or("").to_string()
    }

    /// The kept posts are read on one thread, whoever asks: each copy is
    /// made where the last one's memory was freed. A piece of work that
    /// panics fails alone; the next one still runs there.
    #[actix_web::test]
    async fn kept_work_runs_on_one_thread_of_its_own_and_outlives_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("chorus.db").display().to_string();
        let db = Db::connect_and_migrate(&url, 4).unwrap();
        let mut threads = Vec::new();
        for _ in 0..5 {
            let (first, second) = futures_util::future::join(
                db.run_kept(|_| Ok::<_, ()>(thread_name())),
                db.clone().run_kept(|_| Ok::<_, ()>(thread_name())),
            )
            .await;
            threads.extend([first.unwrap(), second.unwrap()]);
        }
        assert!(
            threads.iter().all(|name| name == "chorus-kept"),
            "{threads:?}"
        );

        let panicked = db
            .run_kept(|_| -> Result<(), ()> { panic!("a bug in the work") })
            .await;
        assert!(matches!(panicked, Err(RunError::Unavailable(_))));
        let after = db.run_kept(|_| Ok::<_, ()>(thread_name())).await;
        assert_eq!(after.unwrap(), "chorus-kept");
    }
}
