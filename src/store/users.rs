//! People: accounts, roles, departments and whether they are active.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::Actor;
use super::{DbConnection, StoreResult, departments, is_unique_violation};
use crate::db::schema::{departments as dept, users};
use crate::domain::email::EmailAddress;
use crate::domain::names::{DepartmentName, PersonName};
use crate::domain::roles::{Role, Roles};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub department: Option<String>,
    pub roles: Roles,
    pub active: bool,
    pub password_hash: Option<String>,
    /// Their own time zone, if they chose one (else the organisation's).
    pub timezone: Option<String>,
    pub department_id: Option<i64>,
}

type UserRow = (
    i64,
    String,
    String,
    Option<String>,
    bool,
    bool,
    bool,
    bool,
    Option<String>,
    Option<String>,
    Option<i64>,
);

fn from_row(row: UserRow) -> User {
    let (
        id,
        email,
        name,
        department,
        employee,
        comms,
        admin,
        active,
        password_hash,
        timezone,
        department_id,
    ) = row;
    User {
        id,
        email,
        name,
        department,
        timezone,
        department_id,
        roles: Roles {
            employee,
            comms,
            admin,
        },
        active,
        password_hash,
    }
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on SQLite and PostgreSQL for ASCII.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The columns a [`User`] is made of (users left-joined to departments).
macro_rules! user_columns {
    () => {
        (
            users::id,
            users::email,
            users::name,
            dept::name.nullable(),
            users::is_employee,
            users::is_comms,
            users::is_admin,
            users::active,
            users::password_hash,
            users::timezone,
            users::department_id,
        )
    };
}

macro_rules! user_query {
    () => {
        users::table.left_join(dept::table).select(user_columns!())
    };
}

/// The person whose session this is, with the session's times, in one
/// read (the session layer asks this on every request).
pub(super) fn with_session(
    conn: &mut DbConnection,
    id_hash: &str,
) -> StoreResult<Option<(User, NaiveDateTime, NaiveDateTime)>> {
    use crate::db::schema::sessions;
    let query = sessions::table
        .inner_join(users::table.left_join(dept::table))
        .filter(sessions::id_hash.eq(id_hash))
        .select((
            user_columns!(),
            sessions::last_seen_at,
            sessions::expires_at,
        ));
    let row = super::natively!(conn, |c| {
        query
            .first::<(UserRow, NaiveDateTime, NaiveDateTime)>(c)
            .optional()
    })?;
    Ok(row.map(|(row, last_seen_at, expires_at)| (from_row(row), last_seen_at, expires_at)))
}

pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<User>> {
    Ok(user_query!()
        .filter(users::id.eq(id))
        .first::<UserRow>(conn)
        .optional()?
        .map(from_row))
}

/// The people with these ids, in no particular order (an id naming nobody
/// is left out).
pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> StoreResult<Vec<User>> {
    Ok(user_query!()
        .filter(users::id.eq_any(ids))
        .load::<UserRow>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

pub fn find_by_email(conn: &mut DbConnection, email: &EmailAddress) -> StoreResult<Option<User>> {
    Ok(user_query!()
        .filter(users::email.eq(email.as_str()))
        .first::<UserRow>(conn)
        .optional()?
        .map(from_row))
}

/// One page of people, ordered by name, optionally filtered by a search
/// over name and email; with the total count of matches.
pub fn list(
    conn: &mut DbConnection,
    search: &str,
    offset: i64,
    limit: i64,
) -> StoreResult<(Vec<User>, i64)> {
    let pattern = format!("%{}%", search.trim().to_lowercase().replace(['%', '_'], ""));
    let total: i64 = users::table
        .filter(
            users::email
                .like(&pattern)
                .or(lower(users::name).like(&pattern)),
        )
        .count()
        .get_result(conn)?;
    let rows = user_query!()
        .filter(
            users::email
                .like(&pattern)
                .or(lower(users::name).like(&pattern)),
        )
        .order((users::name.asc(), users::id.asc()))
        .offset(offset)
        .limit(limit)
        .load::<UserRow>(conn)?;
    Ok((rows.into_iter().map(from_row).collect(), total))
}

pub fn any_active_admin(conn: &mut DbConnection) -> StoreResult<bool> {
    let count: i64 = users::table
        .filter(users::is_admin.eq(true).and(users::active.eq(true)))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

fn other_active_admins(conn: &mut DbConnection, user_id: i64) -> StoreResult<i64> {
    Ok(users::table
        .filter(users::is_admin.eq(true).and(users::active.eq(true)))
        .filter(users::id.ne(user_id))
        .count()
        .get_result(conn)?)
}

#[derive(Debug)]
pub struct NewUser {
    pub email: EmailAddress,
    pub name: PersonName,
    pub roles: Roles,
    pub department: Option<DepartmentName>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    Created(i64),
    EmailTaken,
}

/// Creates an active user without a password (they set it by a one-time
/// link); a department it names for the first time is created by the system.
pub fn create(
    conn: &mut DbConnection,
    user: &NewUser,
    now: NaiveDateTime,
) -> StoreResult<CreateOutcome> {
    create_by(conn, user, Actor::System, now)
}

/// Like [`create`], for someone acting (who creates a new department).
pub fn create_by(
    conn: &mut DbConnection,
    user: &NewUser,
    by: Actor,
    now: NaiveDateTime,
) -> StoreResult<CreateOutcome> {
    crate::db::write_transaction(conn, |conn| {
        if find_by_email(conn, &user.email)?.is_some() {
            return Ok(CreateOutcome::EmailTaken);
        }
        let department_id = match &user.department {
            Some(name) => Some(departments::find_or_create(conn, name, by, now)?),
            None => None,
        };
        let values = (
            users::email.eq(user.email.as_str()),
            users::name.eq(user.name.as_str()),
            users::department_id.eq(department_id),
            users::is_employee.eq(user.roles.employee),
            users::is_comms.eq(user.roles.comms),
            users::is_admin.eq(user.roles.admin),
            users::active.eq(true),
            users::created_at.eq(now),
            users::updated_at.eq(now),
            // The person's secret record key for the reports' cell keys.
            users::record_key.eq(rand::random::<i64>()),
        );
        let query = diesel::insert_into(users::table).values(values);
        // RETURNING does not pass through the multi-backend connection.
        let inserted = crate::db::write_transaction(conn, |conn| match conn {
            DbConnection::Postgresql(c) => query.returning(users::id).get_result::<i64>(c),
            DbConnection::Sqlite(c) => query.returning(users::id).get_result::<i64>(c),
        });
        match inserted {
            Ok(id) => Ok(CreateOutcome::Created(id)),
            Err(e) if is_unique_violation(&e) => Ok(CreateOutcome::EmailTaken),
            Err(e) => Err(e.into()),
        }
    })
}

pub struct ProfileChange {
    pub name: PersonName,
    pub roles: Roles,
    pub department: Option<DepartmentName>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    Done,
    NotFound,
    /// The change would leave the organisation without an active admin.
    LastAdmin,
}

pub fn update_profile(
    conn: &mut DbConnection,
    user_id: i64,
    change: &ProfileChange,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<ChangeOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let Some(current) = find(conn, user_id)? else {
            return Ok(ChangeOutcome::NotFound);
        };
        if current.active
            && current.roles.has(Role::Admin)
            && !change.roles.has(Role::Admin)
            && other_active_admins(conn, user_id)? == 0
        {
            return Ok(ChangeOutcome::LastAdmin);
        }
        let department_id = match &change.department {
            Some(name) => Some(departments::find_or_create(
                conn,
                name,
                Actor::Person(by),
                now,
            )?),
            None => None,
        };
        diesel::update(users::table.find(user_id))
            .set((
                users::name.eq(change.name.as_str()),
                users::department_id.eq(department_id),
                users::is_employee.eq(change.roles.employee),
                users::is_comms.eq(change.roles.comms),
                users::is_admin.eq(change.roles.admin),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        let detail = format!(
            "roles {}; department {}",
            change.roles.describe(),
            change
                .department
                .as_ref()
                .map(|d| d.as_str())
                .unwrap_or("none")
        );
        super::audit::record(
            conn,
            Actor::Person(by),
            "user.changed",
            &format!("user:{user_id}"),
            &detail,
            now,
        )?;
        if department_id != current.department_id {
            // Its own entry, which the person sees too: moving someone in
            // and out of departments could single them out in reports.
            let name = |d: Option<&str>| d.unwrap_or("no department").to_string();
            let moved_to = find(conn, user_id)?.and_then(|u| u.department);
            super::audit::record(
                conn,
                Actor::Person(by),
                super::audit::DEPARTMENT_CHANGED,
                &format!("user:{user_id}"),
                &format!(
                    "from {} to {}",
                    name(current.department.as_deref()),
                    name(moved_to.as_deref())
                ),
                now,
            )?;
        }
        Ok(ChangeOutcome::Done)
    })
}

/// Deactivating ends every session of the person at once.
pub fn set_active(
    conn: &mut DbConnection,
    user_id: i64,
    active: bool,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<ChangeOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let Some(current) = find(conn, user_id)? else {
            return Ok(ChangeOutcome::NotFound);
        };
        if !active && current.roles.has(Role::Admin) && other_active_admins(conn, user_id)? == 0 {
            return Ok(ChangeOutcome::LastAdmin);
        }
        diesel::update(users::table.find(user_id))
            .set((users::active.eq(active), users::updated_at.eq(now)))
            .execute(conn)?;
        if !active {
            // Every session of a deactivated person ends with it.
            use crate::db::schema::sessions;
            diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        }
        let action = if active {
            "user.reactivated"
        } else {
            "user.deactivated"
        };
        super::audit::record(
            conn,
            Actor::Person(by),
            action,
            &format!("user:{user_id}"),
            "",
            now,
        )?;
        Ok(ChangeOutcome::Done)
    })
}

/// Whether the account was never used: no password set, never signed in
/// with single sign-on, no session.
pub fn never_signed_in(conn: &mut DbConnection, user_id: i64) -> StoreResult<bool> {
    use crate::db::schema::sessions;
    let (password, subject) = users::table
        .find(user_id)
        .select((users::password_hash, users::oidc_subject))
        .first::<(Option<String>, Option<String>)>(conn)?;
    if password.is_some() || subject.is_some() {
        return Ok(false);
    }
    let sessions: i64 = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(sessions == 0)
}

/// How many active accounts were never used (as [`never_signed_in`]):
/// invitations no one has taken up yet.
pub fn count_never_signed_in(conn: &mut DbConnection) -> StoreResult<i64> {
    use crate::db::schema::sessions;
    use diesel::dsl::{exists, not};
    Ok(users::table
        .filter(users::active.eq(true))
        .filter(users::password_hash.is_null())
        .filter(users::oidc_subject.is_null())
        .filter(not(exists(
            sessions::table.filter(sessions::user_id.eq(users::id)),
        )))
        .count()
        .get_result(conn)?)
}

pub fn set_password_hash(
    conn: &mut DbConnection,
    user_id: i64,
    hash: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(Some(hash)),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A person's own settings: time zone and quiet hours (minutes after midnight).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub timezone: Option<String>,
    pub quiet_from: Option<i32>,
    pub quiet_until: Option<i32>,
}

pub fn preferences(conn: &mut DbConnection, user_id: i64) -> StoreResult<Preferences> {
    let (timezone, quiet_from, quiet_until) = users::table
        .find(user_id)
        .select((users::timezone, users::quiet_from, users::quiet_until))
        .first::<(Option<String>, Option<i32>, Option<i32>)>(conn)?;
    Ok(Preferences {
        timezone,
        quiet_from,
        quiet_until,
    })
}

pub fn set_preferences(
    conn: &mut DbConnection,
    user_id: i64,
    preferences: &Preferences,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::timezone.eq(&preferences.timezone),
            users::quiet_from.eq(preferences.quiet_from),
            users::quiet_until.eq(preferences.quiet_until),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A person's digest settings, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSettings {
    pub frequency: String,
    pub weekday: i32,
    pub hour: i32,
    pub max_posts: i32,
    pub last_digest_at: Option<NaiveDateTime>,
}

pub fn digest_settings(conn: &mut DbConnection, user_id: i64) -> StoreResult<DigestSettings> {
    let (frequency, weekday, hour, max_posts, last_digest_at) = users::table
        .find(user_id)
        .select((
            users::digest_frequency,
            users::digest_weekday,
            users::digest_hour,
            users::digest_max_posts,
            users::last_digest_at,
        ))
        .first::<(String, i32, i32, i32, Option<NaiveDateTime>)>(conn)?;
    Ok(DigestSettings {
        frequency,
        weekday,
        hour,
        max_posts,
        last_digest_at,
    })
}

pub fn set_digest_settings(
    conn: &mut DbConnection,
    user_id: i64,
    settings: &DigestSettings,
) -> StoreResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::digest_frequency.eq(&settings.frequency),
            users::digest_weekday.eq(settings.weekday),
            users::digest_hour.eq(settings.hour),
            users::digest_max_posts.eq(settings.max_posts),
        ))
        .execute(conn)?;
    Ok(())
}

/// Active people who chose digests (their consent is checked by the planner).
pub fn with_digests(conn: &mut DbConnection) -> StoreResult<Vec<i64>> {
    Ok(users::table
        .filter(users::active.eq(true))
        .filter(users::digest_frequency.ne("off"))
        .order(users::id.asc())
        .select(users::id)
        .load(conn)?)
}

/// Records that these people's digests were planned at `at`, in one
/// statement.
pub fn set_last_digest_at(
    conn: &mut DbConnection,
    user_ids: &[i64],
    at: NaiveDateTime,
) -> StoreResult<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    diesel::update(users::table.filter(users::id.eq_any(user_ids)))
        .set(users::last_digest_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

/// What planning a digest reads of its recipient.
#[derive(Debug, Clone)]
pub struct DigestRecipient {
    pub id: i64,
    pub email: String,
    pub department_id: Option<i64>,
    pub settings: DigestSettings,
    pub preferences: Preferences,
}

type DigestRecipientRow = (
    i64,
    String,
    Option<i64>,
    String,
    i32,
    i32,
    i32,
    Option<NaiveDateTime>,
    Option<String>,
    Option<i32>,
    Option<i32>,
);

macro_rules! digest_recipients {
    ($ids:expr) => {
        users::table
            .filter(users::id.eq_any($ids))
            .filter(users::active.eq(true))
            .filter(users::digest_frequency.ne("off"))
            .order(users::id.asc())
            .select((
                users::id,
                users::email,
                users::department_id,
                users::digest_frequency,
                users::digest_weekday,
                users::digest_hour,
                users::digest_max_posts,
                users::last_digest_at,
                users::timezone,
                users::quiet_from,
                users::quiet_until,
            ))
    };
}

/// Of these people, those still active with digests on, read and locked
/// until the caller's transaction ends: on PostgreSQL each row as an
/// UPDATE locks it (taken in id order, so two planners never deadlock),
/// on SQLite by the caller's write transaction. A consent change locks the
/// person's row too (`consent::record_choice`), so an unsubscribe waits
/// for the planning, or the planning sees it.
pub fn lock_digest_recipients(
    conn: &mut DbConnection,
    user_ids: &[i64],
) -> StoreResult<Vec<DigestRecipient>> {
    let rows: Vec<DigestRecipientRow> = match conn {
        DbConnection::Postgresql(pg) => {
            digest_recipients!(user_ids).for_no_key_update().load(pg)?
        }
        DbConnection::Sqlite(sqlite) => digest_recipients!(user_ids).load(sqlite)?,
    };
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                email,
                department_id,
                frequency,
                weekday,
                hour,
                max_posts,
                last_digest_at,
                timezone,
                quiet_from,
                quiet_until,
            )| DigestRecipient {
                id,
                email,
                department_id,
                settings: DigestSettings {
                    frequency,
                    weekday,
                    hour,
                    max_posts,
                    last_digest_at,
                },
                preferences: Preferences {
                    timezone,
                    quiet_from,
                    quiet_until,
                },
            },
        )
        .collect())
}
