//! Diesel queries and transactions, one module per aggregate. Functions take
//! a connection so that callers can compose them inside one transaction.

pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod calendar_feeds;
pub mod chat_channels;
pub mod consent;
pub mod departments;
pub mod digests;
pub mod feeds;
pub mod hub_caps;
pub mod live_posts;
pub mod login_throttle;
pub mod org;
pub mod outbox;
pub mod policy;
pub mod posts;
pub mod previews;
pub mod queue;
pub mod reports;
pub mod sessions;
pub mod shares;
pub mod sso;
pub mod suggestions;
pub mod tokens;
pub mod users;

pub use crate::db::DbConnection;

/// At most this many ids go into one statement's `IN` list: SQLite takes
/// at most 32,766 parameters, and the posts of a large organisation's
/// hub (50,000 live at a million employees) are more.
pub const IDS_PER_STATEMENT: usize = 10_000;

/// The rows `load` gives for `ids`, asked [`IDS_PER_STATEMENT`] ids at a
/// time.
pub fn in_chunks<T>(
    ids: &[i64],
    mut load: impl FnMut(&[i64]) -> StoreResult<Vec<T>>,
) -> StoreResult<Vec<T>> {
    let mut rows = Vec::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        rows.extend(load(chunk)?);
    }
    Ok(rows)
}

/// Runs a query on the backend's own connection. Through the
/// MultiConnection, diesel writes out a statement's whole SQL text on every
/// run just to find it in the statement cache; on the backend's connection
/// it finds it by type. For the few queries every page runs (`conn` is a
/// `&mut DbConnection`, `c` names the backend's connection in `body`).
macro_rules! natively {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use natively;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

impl StoreError {
    /// The connection broke under the query: PostgreSQL restarted or was
    /// stopped (its backends are terminated), or the network dropped. The
    /// pool replaces the connection; the request may simply be retried.
    pub fn is_connection_lost(&self) -> bool {
        let StoreError::Query(error) = self;
        crate::db::is_connection_lost(error)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

pub(crate) fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Runs an INSERT in a savepoint and treats "already there" as done, so a
/// repeated request is idempotent and the caller's transaction survives.
pub(crate) fn insert_once(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<usize>,
) -> StoreResult<()> {
    match crate::db::write_transaction(conn, insert) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
