//! One-time links (first-run setup, invitations, password resets). Stored as
//! hashes; a link works once, before it expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::one_time_tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Creates the first admin; no user yet.
    Setup,
    /// Lets a user set their password (invitation or reset).
    SetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Setup => "setup",
            Purpose::SetPassword => "set_password",
        }
    }
}

pub fn issue(
    conn: &mut DbConnection,
    purpose: Purpose,
    user_id: Option<i64>,
    token_hash: &str,
    now: NaiveDateTime,
    valid_for: chrono::Duration,
) -> StoreResult<()> {
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::token_hash.eq(token_hash),
            one_time_tokens::purpose.eq(purpose.as_str()),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::created_at.eq(now),
            one_time_tokens::expires_at.eq(now + valid_for),
        ))
        .execute(conn)?;
    Ok(())
}

/// The token's user (None for setup) if the token is unused and unexpired.
pub fn find_valid(
    conn: &mut DbConnection,
    purpose: Purpose,
    token_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<Option<i64>>> {
    Ok(one_time_tokens::table
        .find(token_hash)
        .filter(one_time_tokens::purpose.eq(purpose.as_str()))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now))
        .select(one_time_tokens::user_id)
        .first::<Option<i64>>(conn)
        .optional()?)
}

/// Uses the token up; false if it was already used or has expired. The
/// conditional update makes a link work once even with concurrent requests.
pub fn consume(
    conn: &mut DbConnection,
    purpose: Purpose,
    token_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let updated = diesel::update(
        one_time_tokens::table
            .find(token_hash)
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now)),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Retires every unused token of a purpose (all setup links once setup is
/// done) or of a user (older invitations when a new one is issued).
pub fn retire(
    conn: &mut DbConnection,
    purpose: Purpose,
    user_id: Option<i64>,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    let base = one_time_tokens::table
        .filter(one_time_tokens::purpose.eq(purpose.as_str()))
        .filter(one_time_tokens::used_at.is_null());
    let updated = match user_id {
        Some(id) => diesel::update(base.filter(one_time_tokens::user_id.eq(id)))
            .set(one_time_tokens::used_at.eq(Some(now)))
            .execute(conn)?,
        None => diesel::update(base)
            .set(one_time_tokens::used_at.eq(Some(now)))
            .execute(conn)?,
    };
    Ok(updated)
}

/// How long a set-password link (invitation or reset) works.
pub const PASSWORD_LINK_DAYS: i64 = 7;
/// How long a first-run setup link works.
pub const SETUP_LINK_HOURS: i64 = 24;

/// Issues a fresh set-password link for a user, retiring their older ones,
/// and returns the token to put in the link (it is stored only hashed).
pub fn issue_password_link(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> StoreResult<String> {
    issue_password_link_for(
        conn,
        user_id,
        now,
        chrono::Duration::days(PASSWORD_LINK_DAYS),
    )
}

/// A set-password link valid for `valid_for` (a reset link lives one hour).
pub fn issue_password_link_for(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
    valid_for: chrono::Duration,
) -> StoreResult<String> {
    let token = crate::credentials::random_token();
    retire(conn, Purpose::SetPassword, Some(user_id), now)?;
    issue(
        conn,
        Purpose::SetPassword,
        Some(user_id),
        &crate::credentials::token_hash(&token),
        now,
        valid_for,
    )?;
    Ok(token)
}

/// Issues a first-run setup link and returns its token.
pub fn issue_setup_link(conn: &mut DbConnection, now: NaiveDateTime) -> StoreResult<String> {
    let token = crate::credentials::random_token();
    issue(
        conn,
        Purpose::Setup,
        None,
        &crate::credentials::token_hash(&token),
        now,
        chrono::Duration::hours(SETUP_LINK_HOURS),
    )?;
    Ok(token)
}
