//! Single sign-on in the database: sign-ins under way (state, nonce, PKCE
//! verifier, each taken once), and finding, linking or creating the person
//! a provider vouches for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::users::{self, CreateOutcome, NewUser, User};
use super::{DbConnection, StoreResult};
use crate::db::schema::{sso_logins, users as users_table};
use crate::domain::email::EmailAddress;
use crate::domain::names::{DepartmentName, PersonName};
use crate::domain::roles::{Role, Roles};

pub struct NewLogin<'a> {
    pub state_hash: &'a str,
    pub browser_hash: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub next_path: &'a str,
    pub now: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Records a sign-in sent to the provider; forgets the expired ones.
pub fn begin(conn: &mut DbConnection, login: &NewLogin<'_>) -> StoreResult<()> {
    diesel::delete(sso_logins::table.filter(sso_logins::expires_at.le(login.now))).execute(conn)?;
    diesel::insert_into(sso_logins::table)
        .values((
            sso_logins::state_hash.eq(login.state_hash),
            sso_logins::browser_hash.eq(login.browser_hash),
            sso_logins::nonce.eq(login.nonce),
            sso_logins::pkce_verifier.eq(login.pkce_verifier),
            sso_logins::next_path.eq(login.next_path),
            sso_logins::created_at.eq(login.now),
            sso_logins::expires_at.eq(login.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// What the callback needs to finish a sign-in.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub nonce: String,
    pub pkce_verifier: String,
    pub next_path: String,
}

/// Takes the sign-in with this state, started by this browser, if it has
/// not expired. The conditional delete makes it single-use on any number of
/// processes: a replayed callback, or one from another browser, finds nothing.
pub fn take(
    conn: &mut DbConnection,
    state_hash: &str,
    browser_hash: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<PendingLogin>> {
    crate::db::write_transaction(conn, |conn| {
        let mine = sso_logins::table
            .find(state_hash)
            .filter(sso_logins::browser_hash.eq(browser_hash));
        let row = mine
            .select((
                sso_logins::nonce,
                sso_logins::pkce_verifier,
                sso_logins::next_path,
                sso_logins::expires_at,
            ))
            .first::<(String, String, String, NaiveDateTime)>(conn)
            .optional()?;
        let Some((nonce, pkce_verifier, next_path, expires_at)) = row else {
            return Ok(None);
        };
        let taken = diesel::delete(mine).execute(conn)?;
        Ok((taken == 1 && expires_at > now).then_some(PendingLogin {
            nonce,
            pkce_verifier,
            next_path,
        }))
    })
}

/// The person a provider vouched for, its email verified by the provider.
pub struct VouchedFor {
    pub subject: String,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub department: Option<String>,
}

#[derive(Debug)]
pub enum SignIn {
    /// An account, found by its subject or linked now by its email.
    Existing(User),
    /// A new employee account, created because the admin allows it.
    Created(User),
    Deactivated,
    /// No account with this email, and SSO may not create accounts.
    NoAccount,
    /// The account with this email is linked to another subject.
    LinkedElsewhere,
}

/// Finds the person by the provider's subject, else by verified email
/// (linking the subject to the account), else creates an employee when the
/// organisation's setting allows it. One transaction.
pub fn sign_in(
    conn: &mut DbConnection,
    who: &VouchedFor,
    now: NaiveDateTime,
) -> StoreResult<SignIn> {
    crate::db::write_transaction(conn, |conn| {
        let by_subject = users_table::table
            .filter(users_table::oidc_subject.eq(&who.subject))
            .select(users_table::id)
            .first::<i64>(conn)
            .optional()?;
        if let Some(id) = by_subject {
            return Ok(match users::find(conn, id)? {
                Some(user) if user.active => SignIn::Existing(user),
                _ => SignIn::Deactivated,
            });
        }
        if let Some(user) = users::find_by_email(conn, &who.email)? {
            let linked: Option<String> = users_table::table
                .find(user.id)
                .select(users_table::oidc_subject)
                .first(conn)?;
            if linked.is_some() {
                return Ok(SignIn::LinkedElsewhere);
            }
            if !user.active {
                return Ok(SignIn::Deactivated);
            }
            link_subject(conn, user.id, &who.subject, now)?;
            audit::record(
                conn,
                Actor::Person(user.id),
                "user.sso_linked",
                &format!("user:{}", user.id),
                "first sign-in with single sign-on",
                now,
            )?;
            return Ok(SignIn::Existing(user));
        }
        if !super::org::settings(conn)?.sso_create_accounts {
            return Ok(SignIn::NoAccount);
        }
        let name = who
            .name
            .as_deref()
            .and_then(|n| PersonName::parse(n).ok())
            .or_else(|| PersonName::parse(who.email.as_str().split('@').next()?).ok());
        let Some(name) = name else {
            return Ok(SignIn::NoAccount);
        };
        // A department the claim names but that is not a valid name is left out.
        let department = who
            .department
            .as_deref()
            .and_then(|d| DepartmentName::parse_optional(d).ok().flatten());
        let new_user = NewUser {
            email: who.email.clone(),
            name,
            roles: Roles::only(Role::Employee),
            department,
        };
        let CreateOutcome::Created(id) = users::create(conn, &new_user, now)? else {
            return Ok(SignIn::NoAccount);
        };
        link_subject(conn, id, &who.subject, now)?;
        let user = users::find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
        audit::record(
            conn,
            Actor::Person(id),
            "user.created_by_sso",
            &format!("user:{id}"),
            &format!(
                "{} (employee); department {}",
                user.email,
                user.department.as_deref().unwrap_or("none")
            ),
            now,
        )?;
        Ok(SignIn::Created(user))
    })
}

fn link_subject(
    conn: &mut DbConnection,
    user_id: i64,
    subject: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(users_table::table.find(user_id))
        .set((
            users_table::oidc_subject.eq(Some(subject)),
            users_table::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Keeps the ID token a session was signed in with, for the provider's logout.
pub fn remember_id_token(
    conn: &mut DbConnection,
    session_hash: &str,
    id_token: &str,
) -> StoreResult<()> {
    use crate::db::schema::sessions;
    diesel::update(sessions::table.find(session_hash))
        .set(sessions::sso_id_token.eq(Some(id_token)))
        .execute(conn)?;
    Ok(())
}

/// Ends a session; the ID token it was signed in with, if any.
pub fn end_session(conn: &mut DbConnection, session_hash: &str) -> StoreResult<Option<String>> {
    use crate::db::schema::sessions;
    let id_token = sessions::table
        .find(session_hash)
        .select(sessions::sso_id_token)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    super::sessions::delete(conn, session_hash)?;
    Ok(id_token)
}

/// The provider's subject the person is linked to, if any.
pub fn subject_of(conn: &mut DbConnection, user_id: i64) -> StoreResult<Option<String>> {
    Ok(users_table::table
        .find(user_id)
        .select(users_table::oidc_subject)
        .first::<Option<String>>(conn)?)
}

/// Whether the person has signed in with SSO at least once (so an admin
/// who turns password login off is not locking themselves out).
pub fn is_linked(conn: &mut DbConnection, user_id: i64) -> StoreResult<bool> {
    Ok(subject_of(conn, user_id)?.is_some())
}

/// The organisation's two SSO settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsoPolicy {
    pub create_accounts: bool,
    pub password_login: bool,
}

/// Saves the SSO settings, audit-logged; `by` None is the command line.
pub fn set_policy(
    conn: &mut DbConnection,
    policy: SsoPolicy,
    by: Actor,
    now: NaiveDateTime,
) -> StoreResult<()> {
    use crate::db::schema::org_settings;
    crate::db::write_transaction(conn, |conn| {
        let before = super::org::settings(conn)?;
        diesel::update(org_settings::table.find(1_i64))
            .set((
                org_settings::sso_create_accounts.eq(policy.create_accounts),
                org_settings::password_login.eq(policy.password_login),
                org_settings::updated_at.eq(now),
            ))
            .execute(conn)?;
        let on_off = |on: bool| if on { "on" } else { "off" };
        let mut changes = Vec::new();
        if before.sso_create_accounts != policy.create_accounts {
            changes.push(format!(
                "accounts created at first SSO sign-in {}",
                on_off(policy.create_accounts)
            ));
        }
        if before.password_login != policy.password_login {
            changes.push(format!("password login {}", on_off(policy.password_login)));
        }
        if !changes.is_empty() {
            audit::record(
                conn,
                by,
                "settings.sso",
                "settings",
                &changes.join("; "),
                now,
            )?;
        }
        Ok(())
    })
}
