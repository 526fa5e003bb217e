//! Account changes that span several tables, each in one transaction:
//! inviting people, first-run setup, and replacing a password.

use chrono::NaiveDateTime;

use super::tokens::{self, Purpose};
use super::users::{self, CreateOutcome, NewUser, User};
use super::{DbConnection, StoreError, StoreResult, login_throttle, org, sessions};
use crate::domain::login_throttle::Bucket;
use crate::domain::names::PersonName;
use crate::domain::roles::{Role, Roles};

/// Why an invitation was refused when the address has an account.
pub const EMAIL_TAKEN: &str = "Someone with this email address already has an account.";

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
    invite_as(conn, new_user, super::audit::Actor::System, now)
}

/// Like [`invite`], for someone acting (who creates a new department).
fn invite_as(
    conn: &mut DbConnection,
    new_user: &NewUser,
    by: super::audit::Actor,
    now: NaiveDateTime,
) -> StoreResult<InviteOutcome> {
    crate::db::write_transaction(conn, |conn| {
        match users::create_by(conn, new_user, by, now)? {
            CreateOutcome::Created(id) => {
                let token = tokens::issue_password_link(conn, id, now)?;
                let user = users::find(conn, id)?.ok_or(diesel::result::Error::NotFound)?;
                Ok(InviteOutcome::Invited(user, token))
            }
            CreateOutcome::EmailTaken => Ok(InviteOutcome::EmailTaken),
        }
    })
}

/// Invites many people at once, all or nothing: a crash halfway leaves no
/// half-imported file. Rows already refused by validation pass through.
pub fn invite_many(
    conn: &mut DbConnection,
    rows: Vec<Result<NewUser, String>>,
    now: NaiveDateTime,
) -> StoreResult<Vec<Result<String, String>>> {
    crate::db::write_transaction(conn, |conn| {
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(match row {
                Err(reason) => Err(reason),
                Ok(new_user) => match invite(conn, &new_user, now)? {
                    InviteOutcome::Invited(_, token) => Ok(token),
                    InviteOutcome::EmailTaken => Err(EMAIL_TAKEN.to_string()),
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
    crate::db::write_transaction(conn, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
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
    crate::db::write_transaction(conn, |conn| {
        users::set_password_hash(conn, user.id, password_hash, now)?;
        sessions::delete_all_for_user(conn, user.id)?;
        login_throttle::clear(conn, &Bucket::Account(user.email.clone()))
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
    use crate::db::schema::{
        api_tokens, calendar_feeds, one_time_tokens, outbox, suggestions, unsubscribe_tokens,
        user_caps, users as users_table,
    };
    use diesel::prelude::*;
    crate::db::write_transaction(conn, |conn| {
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
        diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(user.id))).execute(conn)?;
        diesel::delete(calendar_feeds::table.filter(calendar_feeds::user_id.eq(user.id)))
            .execute(conn)?;
        // Suggestions carry the person's own words; shares and dismissals
        // stay with the tombstone, without personal data, for the counts.
        diesel::delete(suggestions::table.filter(suggestions::user_id.eq(user.id)))
            .execute(conn)?;
        diesel::delete(user_caps::table.filter(user_caps::user_id.eq(user.id))).execute(conn)?;
        // Emails to the person carry their address and name.
        diesel::delete(outbox::table.filter(outbox::user_id.eq(user.id))).execute(conn)?;
        diesel::delete(unsubscribe_tokens::table.filter(unsubscribe_tokens::user_id.eq(user.id)))
            .execute(conn)?;
        login_throttle::clear(conn, &Bucket::Account(user.email.clone()))?;
        login_throttle::clear(conn, &Bucket::ResetAccount(user.email.clone()))?;
        diesel::update(users_table::table.find(user.id))
            .set((
                users_table::email.eq(format!("erased-{}@erased.invalid", user.id)),
                users_table::name.eq("Erased account"),
                users_table::password_hash.eq(None::<String>),
                users_table::oidc_subject.eq(None::<String>),
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

/// Where links in emails point, and the domain of Message-IDs.
pub struct MailContext<'a> {
    pub base_url: &'a str,
    pub mail_domain: &'a str,
}

fn message_id(mail: &MailContext<'_>) -> String {
    format!("{}@{}", uuid::Uuid::new_v4(), mail.mail_domain)
}

/// Queues the email that carries a set-password link.
pub fn email_password_link(
    conn: &mut DbConnection,
    user: &User,
    token: &str,
    kind: super::outbox::Kind,
    mail: &MailContext<'_>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let path = match kind {
        super::outbox::Kind::PasswordReset => "password/reset",
        _ => "invite",
    };
    let link = format!("{}/{path}/{token}", mail.base_url);
    super::outbox::enqueue(
        conn,
        &super::outbox::NewMessage {
            kind,
            user_id: Some(user.id),
            recipient: user.email.clone(),
            dedupe_key: format!(
                "{}:{}:{}",
                kind.as_str(),
                user.id,
                &crate::credentials::token_hash(token)[..16]
            ),
            payload: serde_json::json!({ "link": link }).to_string(),
            send_before: None,
            message_id: message_id(mail),
        },
        now,
    )
}

/// Invites a person and queues their invitation email, in one transaction.
pub fn invite_by_email(
    conn: &mut DbConnection,
    new_user: &NewUser,
    mail: &MailContext<'_>,
    by: super::audit::Actor,
    now: NaiveDateTime,
) -> StoreResult<InviteOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let outcome = invite_as(conn, new_user, by, now)?;
        if let InviteOutcome::Invited(user, token) = &outcome {
            email_password_link(
                conn,
                user,
                token,
                super::outbox::Kind::Invitation,
                mail,
                now,
            )?;
            let detail = format!("{} ({})", user.email, user.roles.describe());
            super::audit::record(
                conn,
                by,
                "user.invited",
                &format!("user:{}", user.id),
                &detail,
                now,
            )?;
        }
        Ok(outcome)
    })
}

/// Like [`invite_many`], with an invitation email for each accepted row.
pub fn invite_many_by_email(
    conn: &mut DbConnection,
    rows: Vec<Result<NewUser, String>>,
    mail: &MailContext<'_>,
    by: super::audit::Actor,
    now: NaiveDateTime,
) -> StoreResult<Vec<Result<String, String>>> {
    crate::db::write_transaction(conn, |conn| {
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(match row {
                Err(reason) => Err(reason),
                Ok(new_user) => match invite_by_email(conn, &new_user, mail, by, now)? {
                    InviteOutcome::Invited(_, token) => Ok(token),
                    InviteOutcome::EmailTaken => Err(EMAIL_TAKEN.to_string()),
                },
            });
        }
        Ok::<_, StoreError>(outcomes)
    })
}

/// "Forgot password": for an active account, a one-hour reset link by
/// email, at most one per hour (a second request changes nothing, so the
/// link already sent keeps working). Unknown addresses get the same answer.
pub fn request_password_reset(
    conn: &mut DbConnection,
    email: &crate::domain::email::EmailAddress,
    mail: &MailContext<'_>,
    now: NaiveDateTime,
) -> StoreResult<()> {
    use crate::db::schema::outbox;
    use diesel::prelude::*;
    crate::db::write_transaction(conn, |conn| {
        let Some(user) = users::find_by_email(conn, email)?.filter(|u| u.active) else {
            return Ok(());
        };
        let recent: i64 = outbox::table
            .filter(outbox::user_id.eq(user.id))
            .filter(outbox::kind.eq(super::outbox::Kind::PasswordReset.as_str()))
            .filter(outbox::created_at.gt(now - chrono::Duration::hours(1)))
            .count()
            .get_result(conn)?;
        if recent > 0 {
            return Ok(());
        }
        let token =
            tokens::issue_password_link_for(conn, user.id, now, chrono::Duration::hours(1))?;
        email_password_link(
            conn,
            &user,
            &token,
            super::outbox::Kind::PasswordReset,
            mail,
            now,
        )?;
        Ok(())
    })
}

/// What became of a set-password link an admin asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminPasswordLink {
    /// The person never signed in (an invitation not yet used): the admin
    /// may see the link, to pass it on. The token is in the link.
    Shown(String),
    /// The person has signed in or set a password: the link went to them
    /// only. Shown to the admin, it would let them into the account and
    /// everything the person sees of their own choices.
    EmailedOnly,
}

/// A fresh set-password link for a person, at an admin's request: always
/// emailed to the person with a word that an admin asked for it, given to
/// the admin only for an account never used. Audited. None if there is
/// no such person.
pub fn new_password_link_by_email(
    conn: &mut DbConnection,
    user_id: i64,
    mail: &MailContext<'_>,
    by: super::audit::Actor,
    now: NaiveDateTime,
) -> StoreResult<Option<AdminPasswordLink>> {
    crate::db::write_transaction(conn, |conn| {
        let Some(person) = users::find(conn, user_id)? else {
            return Ok(None);
        };
        let shown = users::never_signed_in(conn, user_id)?;
        let token = tokens::issue_password_link(conn, user_id, now)?;
        super::audit::record(
            conn,
            by,
            "user.password_link",
            &format!("user:{user_id}"),
            if shown {
                "shown to the admin and emailed (never signed in)"
            } else {
                "emailed to the person only"
            },
            now,
        )?;
        let kind = super::outbox::Kind::AdminPasswordLink;
        // The invitation's page for a first password, the reset page after.
        let path = if shown { "invite" } else { "password/reset" };
        super::outbox::enqueue(
            conn,
            &super::outbox::NewMessage {
                kind,
                user_id: Some(person.id),
                recipient: person.email.clone(),
                dedupe_key: format!(
                    "{}:{}:{}",
                    kind.as_str(),
                    person.id,
                    &crate::credentials::token_hash(&token)[..16]
                ),
                payload: serde_json::json!({
                    "link": format!("{}/{path}/{token}", mail.base_url),
                    "shown_to_admin": shown,
                })
                .to_string(),
                send_before: None,
                message_id: message_id(mail),
            },
            now,
        )?;
        Ok(Some(if shown {
            AdminPasswordLink::Shown(token)
        } else {
            AdminPasswordLink::EmailedOnly
        }))
    })
}
