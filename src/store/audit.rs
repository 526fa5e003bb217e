//! The audit log: who did what, when. Append-only (database triggers).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::audit_log;

/// Who acted: a person, or the system (background jobs).
#[derive(Debug, Clone, Copy)]
pub enum Actor {
    Person(i64),
    System,
}

pub fn record(
    conn: &mut DbConnection,
    actor: Actor,
    action: &str,
    subject: &str,
    detail: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let (actor_id, label) = match actor {
        Actor::Person(id) => (Some(id), format!("user:{id}")),
        Actor::System => (None, "system".to_string()),
    };
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(now),
            audit_log::actor_id.eq(actor_id),
            audit_log::actor.eq(label),
            audit_log::action.eq(action),
            audit_log::subject.eq(subject),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable)]
pub struct AuditEntry {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Newest first, one page, with the total; optionally one action only.
pub fn page(
    conn: &mut DbConnection,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<AuditEntry>, i64)> {
    filtered(conn, None, offset, limit)
}

pub fn filtered(
    conn: &mut DbConnection,
    action: Option<&str>,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<AuditEntry>, i64)> {
    use crate::db::schema::users;
    let mut count = audit_log::table.count().into_boxed();
    let mut query = audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::actor_id)))
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor,
            users::name.nullable(),
            audit_log::action,
            audit_log::subject,
            audit_log::detail,
        ))
        .into_boxed();
    if let Some(action) = action {
        count = count.filter(audit_log::action.eq(action.to_string()));
        query = query.filter(audit_log::action.eq(action.to_string()));
    }
    let total = count.get_result(conn)?;
    let entries = query
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((entries, total))
}

/// The actions that occur in the log, for the filter.
pub fn actions(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    Ok(audit_log::table
        .select(audit_log::action)
        .distinct()
        .order(audit_log::action.asc())
        .load(conn)?)
}

/// What one person did, for their own data export.
pub fn by_actor(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<Vec<(NaiveDateTime, String, String, String)>> {
    Ok(audit_log::table
        .filter(audit_log::actor_id.eq(user_id))
        .order(audit_log::id.asc())
        .select((
            audit_log::at,
            audit_log::action,
            audit_log::subject,
            audit_log::detail,
        ))
        .load(conn)?)
}

/// Entries about one subject (e.g. "post:12"), oldest first.
pub fn for_subject(conn: &mut DbConnection, subject: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(audit_log::table
        .filter(audit_log::subject.eq(subject))
        .order(audit_log::id.asc())
        .select((audit_log::action, audit_log::actor))
        .load(conn)?)
}

/// The audit action of a move between departments ("from A to B").
pub const DEPARTMENT_CHANGED: &str = "user.department_changed";

/// The actions on a person's account that the person is shown: moves
/// between departments, deactivation and reactivation, password links an
/// admin asked for. Moving someone in and out of departments is how an
/// admin could try to single them out in reports; it cannot go unseen.
pub const SHOWN_TO_THE_PERSON: [&str; 4] = [
    DEPARTMENT_CHANGED,
    "user.deactivated",
    "user.reactivated",
    "user.password_link",
];

/// Entries about a person's account that they are shown (see
/// [`SHOWN_TO_THE_PERSON`]): time, action and detail, newest first.
pub fn shown_to_person(
    conn: &mut DbConnection,
    user_id: i64,
    limit: i64,
) -> StoreResult<Vec<(NaiveDateTime, String, String)>> {
    Ok(audit_log::table
        .filter(audit_log::subject.eq(format!("user:{user_id}")))
        .filter(audit_log::action.eq_any(SHOWN_TO_THE_PERSON))
        .order(audit_log::id.desc())
        .limit(limit)
        .select((audit_log::at, audit_log::action, audit_log::detail))
        .load(conn)?)
}
