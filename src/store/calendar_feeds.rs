//! Private calendar addresses of the hub's schedule (`/calendar/{secret}`),
//! one per comms user and calendar app. Only the SHA-256 of the secret is
//! stored; the address is shown once, at creation, and revoked like an API
//! token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreResult, users};
use crate::credentials;
use crate::db::schema::calendar_feeds;
use crate::domain::roles::Role;

/// Printed in front of the secret, so a leaked address is recognisable.
pub const SECRET_PREFIX: &str = "chorus_cal_";
/// Characters of the secret kept in the clear, to recognise it in a list.
const SHOWN_PREFIX_CHARS: usize = 4;
/// `last_used_at` is written at most this often: calendar apps poll.
const TOUCH_EVERY_SECONDS: i64 = 300;

#[derive(Debug, Clone)]
pub struct CalendarFeed {
    pub id: i64,
    pub prefix: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

type Row = (
    i64,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

fn from_row((id, prefix, name, created_at, last_used_at, revoked_at): Row) -> CalendarFeed {
    CalendarFeed {
        id,
        prefix,
        name,
        created_at,
        last_used_at,
        revoked_at,
    }
}

/// Creates an address for `owner` and records it in the audit log, in one
/// transaction. Returns its id and the secret, which is never available
/// again.
pub fn create(
    conn: &mut DbConnection,
    owner: i64,
    name: &str,
    now: NaiveDateTime,
) -> StoreResult<(i64, String)> {
    let secret = format!("{SECRET_PREFIX}{}", credentials::random_token());
    let hash = credentials::token_hash(&secret);
    let prefix: String = secret
        .chars()
        .take(SECRET_PREFIX.len() + SHOWN_PREFIX_CHARS)
        .collect();
    crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(calendar_feeds::table)
            .values((
                calendar_feeds::token_hash.eq(&hash),
                calendar_feeds::prefix.eq(&prefix),
                calendar_feeds::user_id.eq(owner),
                calendar_feeds::name.eq(name),
                calendar_feeds::created_at.eq(now),
            ))
            .execute(conn)?;
        // MultiConnection has no RETURNING; the hash is unique.
        let id: i64 = calendar_feeds::table
            .filter(calendar_feeds::token_hash.eq(&hash))
            .select(calendar_feeds::id)
            .first(conn)?;
        audit::record(
            conn,
            Actor::Person(owner),
            "calendar_feed.created",
            &format!("calendar_feed:{id}"),
            &format!("calendar address {name:?}"),
            now,
        )?;
        Ok((id, secret))
    })
}

/// A person's own addresses, newest first (revoked ones included).
pub fn of_user(conn: &mut DbConnection, owner: i64) -> StoreResult<Vec<CalendarFeed>> {
    Ok(calendar_feeds::table
        .filter(calendar_feeds::user_id.eq(owner))
        .order(calendar_feeds::id.desc())
        .select((
            calendar_feeds::id,
            calendar_feeds::prefix,
            calendar_feeds::name,
            calendar_feeds::created_at,
            calendar_feeds::last_used_at,
            calendar_feeds::revoked_at,
        ))
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Revokes one of `owner`'s addresses at once; false when it is not theirs
/// or was revoked already.
pub fn revoke(
    conn: &mut DbConnection,
    id: i64,
    owner: i64,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let updated = diesel::update(
            calendar_feeds::table
                .filter(calendar_feeds::id.eq(id))
                .filter(calendar_feeds::user_id.eq(owner))
                .filter(calendar_feeds::revoked_at.is_null()),
        )
        .set(calendar_feeds::revoked_at.eq(Some(now)))
        .execute(conn)?;
        if updated == 1 {
            audit::record(
                conn,
                Actor::Person(owner),
                "calendar_feed.revoked",
                &format!("calendar_feed:{id}"),
                "",
                now,
            )?;
        }
        Ok(updated == 1)
    })
}

/// Whether `secret` opens the schedule: an unrevoked address whose owner is
/// active and still in comms (losing the role or the account closes it).
pub fn opens(conn: &mut DbConnection, secret: &str, now: NaiveDateTime) -> StoreResult<bool> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(false);
    }
    let hash = credentials::token_hash(secret);
    let Some((id, owner, last_used_at)) = calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(&hash))
        .filter(calendar_feeds::revoked_at.is_null())
        .select((
            calendar_feeds::id,
            calendar_feeds::user_id,
            calendar_feeds::last_used_at,
        ))
        .first::<(i64, i64, Option<NaiveDateTime>)>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    let allowed = users::find(conn, owner)?.is_some_and(|u| u.active && u.roles.has(Role::Comms));
    if allowed && last_used_at.is_none_or(|at| (now - at).num_seconds() >= TOUCH_EVERY_SECONDS) {
        diesel::update(calendar_feeds::table.find(id))
            .set(calendar_feeds::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(allowed)
}
