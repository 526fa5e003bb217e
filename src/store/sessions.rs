//! Server-side sessions. Only the SHA-256 of the random session id is stored,
//! so the table cannot be used to log in; deleting a row ends the session.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult, users};
use crate::db::schema::sessions;

pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user_id: i64,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn create(conn: &mut DbConnection, session: &NewSession<'_>) -> StoreResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(session.id_hash),
            sessions::user_id.eq(session.user_id),
            sessions::created_at.eq(session.now),
            sessions::last_seen_at.eq(session.now),
            sessions::expires_at.eq(session.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A live session and its (active) user.
pub struct LiveSession {
    pub user: users::User,
    pub last_seen_at: NaiveDateTime,
}

/// What a session id names.
pub enum Lookup {
    Live(LiveSession),
    /// Past its idle or absolute limit, or its person is deactivated: the
    /// caller deletes it (see [`delete`]); this read writes nothing.
    Ended,
    Unknown,
}

/// The session and its person, in one read that never writes (so the
/// session layer may run it without leaving the request's thread).
pub fn find_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
    idle_timeout: chrono::Duration,
) -> StoreResult<Lookup> {
    Ok(match users::with_session(conn, id_hash)? {
        None => Lookup::Unknown,
        Some((user, last_seen_at, expires_at)) => {
            if expires_at <= now || last_seen_at + idle_timeout <= now || !user.active {
                Lookup::Ended
            } else {
                Lookup::Live(LiveSession { user, last_seen_at })
            }
        }
    })
}

pub fn touch(conn: &mut DbConnection, id_hash: &str, now: NaiveDateTime) -> StoreResult<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id_hash: &str) -> StoreResult<()> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

pub fn delete_all_for_user(conn: &mut DbConnection, user_id: i64) -> StoreResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?)
}

/// Ends every other session of a person (after a password change).
pub fn delete_others_for_user(
    conn: &mut DbConnection,
    user_id: i64,
    keep_id_hash: &str,
) -> StoreResult<usize> {
    Ok(diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id_hash.ne(keep_id_hash)),
    )
    .execute(conn)?)
}

pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> StoreResult<i64> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .count()
        .get_result(conn)?)
}

/// Removes sessions past their absolute expiry.
pub fn delete_expired(conn: &mut DbConnection, now: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)?)
}
