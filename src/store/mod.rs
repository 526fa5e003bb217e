//! Diesel queries and transactions, one module per aggregate. Functions take
//! a connection so that callers can compose them inside one transaction.

pub mod accounts;
pub mod audit;
pub mod consent;
pub mod departments;
pub mod login_throttle;
pub mod org;
pub mod policy;
pub mod posts;
pub mod queue;
pub mod sessions;
pub mod shares;
pub mod suggestions;
pub mod tokens;
pub mod users;

pub use crate::db::DbConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub(crate) fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
