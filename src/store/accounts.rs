//! Account changes that span several tables, each in one transaction:
//! inviting people, first-run setup, and replacing a password.

use chrono::NaiveDateTime;
use diesel::Connection;

use super::tokens::{self, Purpose};
use super::users::{self, CreateOutcome, NewUser, User};
use super::{DbConnection, StoreError, StoreResult, login_throttle, org, sessions};
use crate::domain::names::PersonName;
use crate::domain::roles::{Role, Roles};

pub enum InviteOutcome {
    /// The person and the token of their one-time set-password link.
    Invited(User, String),
    EmailTaken,
}

/// Creates a person and a set-password link for them.
pub fn invite(
    conn: &mut DbConnection,
    new_user: &NewUser,
    now: NaiveDateTime,
) -> StoreResult<InviteOutcome> {
    conn.transaction(|conn| match users::create(conn, new_user, now)? {
        CreateOutcome::Created(id) => {
            let token = tokens::issue_password_link(conn, id, now)?;
            let user = users::find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
            Ok(InviteOutcome::Invited(user, token))
        }
        CreateOutcome::EmailTaken => Ok(InviteOutcome::EmailTaken),
    })
}

/// Invites many people at once, all or nothing: a crash halfway leaves no
/// half-imported file. Rows already refused by validation pass through.
pub fn invite_many(
    conn: &mut DbConnection,
    rows: Vec<Result<NewUser, String>>,
    now: NaiveDateTime,
) -> StoreResult<Vec<Result<String, String>>> {
    conn.transaction(|conn| {
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(match row {
                Err(reason) => Err(reason),
                Ok(new_user) => match invite(conn, &new_user, now)? {
                    InviteOutcome::Invited(_, token) => Ok(token),
                    InviteOutcome::EmailTaken => {
                        Err("Someone with this email address already has an account.".to_string())
                    }
                },
            });
        }
        Ok::<_, StoreError>(outcomes)
    })
}

pub struct FirstAdmin {
    pub org_name: PersonName,
    pub admin: NewUser,
    pub password_hash: String,
}

/// Creates the first admin from a setup link. Every step is conditional, so
/// two setups racing (on any number of processes) make exactly one admin.
/// Returns the new admin's id, or None if the link or the moment has passed.
pub fn complete_setup(
    conn: &mut DbConnection,
    setup_token_hash: &str,
    first: FirstAdmin,
    now: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    conn.transaction(|conn| {
        if !tokens::consume(conn, Purpose::Setup, setup_token_hash, now)?
            || users::any_active_admin(conn)?
            || !org::complete_setup(conn, first.org_name.as_str(), now)?
        {
            return Ok(None);
        }
        let admin = NewUser {
            roles: first.admin.roles.with(Role::Admin),
            ..first.admin
        };
        let CreateOutcome::Created(id) = users::create(conn, &admin, now)? else {
            return Ok(None);
        };
        users::set_password_hash(conn, id, &first.password_hash, now)?;
        tokens::retire(conn, Purpose::Setup, None, now)?;
        Ok(Some(id))
    })
}

/// The roles the first admin gets: admin, and employee so they can try the queue.
pub fn first_admin_roles() -> Roles {
    Roles::only(Role::Admin).with(Role::Employee)
}

/// Sets a password from a one-time link; false if the link was used meanwhile.
/// A new password ends every session opened with the old one.
pub fn set_password_with_link(
    conn: &mut DbConnection,
    token_hash: &str,
    user: &User,
    password_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        if !tokens::consume(conn, Purpose::SetPassword, token_hash, now)? {
            return Ok(false);
        }
        replace_password(conn, user, password_hash, now)?;
        Ok(true)
    })
}

/// Stores a new password hash, ends all of the person's sessions and clears
/// their failed-login count.
pub fn replace_password(
    conn: &mut DbConnection,
    user: &User,
    password_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    conn.transaction(|conn| {
        users::set_password_hash(conn, user.id, password_hash, now)?;
        sessions::delete_all_for_user(conn, user.id)?;
        login_throttle::clear(conn, &user.email)
    })
}

/// Erases a person's own account. Personal data goes: name, email,
/// password, sessions, one-time links, throttle entries, consent events and
/// state. A tombstone row keeps the id (and department) so that aggregate
/// counts that refer to it stay correct. Returns false if the person is the
/// last active admin (the organisation would be left without one).
pub fn erase_account(
    conn: &mut DbConnection,
    user: &User,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    use crate::db::schema::{one_time_tokens, suggestions, user_caps, users as users_table};
    use diesel::prelude::*;
    conn.transaction(|conn| {
        if user.roles.has(Role::Admin) {
            let other_admins: i64 = users_table::table
                .filter(
                    users_table::is_admin
                        .eq(true)
                        .and(users_table::active.eq(true)),
                )
                .filter(users_table::id.ne(user.id))
                .count()
                .get_result(conn)?;
            if other_admins == 0 {
                return Ok(false);
            }
        }
        super::consent::erase_for_user(conn, user.id)?;
        sessions::delete_all_for_user(conn, user.id)?;
        diesel::delete(one_time_tokens::table.filter(one_time_tokens::user_id.eq(user.id)))
            .execute(conn)?;
        // Suggestions carry the person's own words; shares and dismissals
        // stay with the tombstone, without personal data, for the counts.
        diesel::delete(suggestions::table.filter(suggestions::user_id.eq(user.id)))
            .execute(conn)?;
        diesel::delete(user_caps::table.filter(user_caps::user_id.eq(user.id))).execute(conn)?;
        login_throttle::clear(conn, &user.email)?;
        diesel::update(users_table::table.find(user.id))
            .set((
                users_table::email.eq(format!("erased-{}@erased.invalid", user.id)),
                users_table::name.eq("Erased account"),
                users_table::password_hash.eq(None::<String>),
                users_table::active.eq(false),
                users_table::is_employee.eq(false),
                users_table::is_comms.eq(false),
                users_table::is_admin.eq(false),
                users_table::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    })
}
