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

/// Finds the session if it is within both its absolute expiry and its idle
/// timeout and its user is active; an expired session is deleted on sight.
pub fn find_live(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
    idle_timeout: chrono::Duration,
) -> StoreResult<Option<LiveSession>> {
    let row = sessions::table
        .find(id_hash)
        .select((
            sessions::user_id,
            sessions::last_seen_at,
            sessions::expires_at,
        ))
        .first::<(i64, NaiveDateTime, NaiveDateTime)>(conn)
        .optional()?;
    let Some((user_id, last_seen_at, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at <= now || last_seen_at + idle_timeout <= now {
        delete(conn, id_hash)?;
        return Ok(None);
    }
    match users::find(conn, user_id)? {
        Some(user) if user.active => Ok(Some(LiveSession { user, last_seen_at })),
        _ => {
            delete(conn, id_hash)?;
            Ok(None)
        }
    }
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
