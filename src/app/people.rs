//! People, as an admin manages them: the directory, inviting one person or
//! a roster from a CSV file, changing details and roles, deactivating and
//! reactivating, and fresh set-password links. Every change is audited in
//! its own transaction, and none leaves the organisation without an admin.
//! Nothing here tells an admin what a person chose, shared or skipped, nor
//! gives them a way into an account someone uses.

use super::{App, Error, Result};
use crate::db::DbConnection;
use crate::domain::ids::UserId;
use crate::domain::people::{
    Invitee, PersonDetails, PersonProblems, RosterRefused, RosterRow, parse_roster,
};
use crate::store::accounts::{self, AdminPasswordLink, InviteOutcome, MailContext};
use crate::store::audit::Actor;
use crate::store::users::{self, ChangeOutcome, NewUser, ProfileChange, User};
use crate::store::{StoreResult, departments};

/// People on one page of the directory.
pub const PAGE_SIZE: i64 = 50;

/// One page of the directory, for a search.
pub struct Directory {
    pub people: Vec<User>,
    /// How many match the search.
    pub total: i64,
    /// The page shown, from 1.
    pub page_number: i64,
    pub pages: i64,
}

/// The page `page_number` (clamped to the pages there may be) of the
/// people whose name or email matches `search`.
pub async fn directory(app: &App, search: String, page_number: i64) -> Result<Directory> {
    let page_number = page_number.clamp(1, super::queue::MAX_PAGE);
    let (people, total) = app
        .db
        .run(move |conn| users::list(conn, &search, (page_number - 1) * PAGE_SIZE, PAGE_SIZE))
        .await?;
    Ok(Directory {
        people,
        total,
        page_number,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// The departments' names, to offer when typing one.
pub async fn department_names(app: &App) -> Result<Vec<String>> {
    let departments = app.db.run(departments::list).await?;
    Ok(departments.into_iter().map(|d| d.name).collect())
}

/// A person by id; NotFound when there is none.
pub async fn find(app: &App, person: UserId) -> Result<User> {
    app.db
        .run(move |conn| users::find(conn, person.get()))
        .await?
        .ok_or(Error::NotFound)
}

/// The link that sets a first password (an invitation's).
fn invitation_link(app: &App, token: &str) -> String {
    format!("{}/invite/{token}", app.base_url)
}

/// Runs `work` with where links in emails point.
async fn with_mail<T: Send + 'static>(
    app: &App,
    work: impl FnOnce(&mut DbConnection, &MailContext<'_>) -> StoreResult<T> + Send + 'static,
) -> Result<T> {
    let (base_url, mail_domain) = (app.base_url.clone(), app.mail_domain.clone());
    Ok(app
        .db
        .run(move |conn| {
            let mail = MailContext {
                base_url: &base_url,
                mail_domain: &mail_domain,
            };
            work(conn, &mail)
        })
        .await?)
}

fn new_user(invitee: Invitee) -> NewUser {
    NewUser {
        email: invitee.email,
        name: invitee.details.name,
        roles: invitee.details.roles,
        department: invitee.details.department,
    }
}

/// A person just added, and the set-password link emailed to them.
pub struct Added {
    pub person: User,
    pub link: String,
}

/// Adds a person and emails them a set-password link, which the admin
/// sees too (the account has never been used). Refused, on the email
/// field, when someone already has the address.
pub async fn invite(
    app: &App,
    invitee: Invitee,
    by: UserId,
) -> Result<std::result::Result<Added, PersonProblems>> {
    let (new_user, now) = (new_user(invitee), app.clock.now_naive());
    let outcome = with_mail(app, move |conn, mail| {
        accounts::invite_by_email(conn, &new_user, mail, Actor::Person(by.get()), now)
    })
    .await?;
    Ok(match outcome {
        InviteOutcome::Invited(person, token) => Ok(Added {
            link: invitation_link(app, &token),
            person,
        }),
        InviteOutcome::EmailTaken => Err(PersonProblems {
            email: Some(accounts::EMAIL_TAKEN.into()),
            ..PersonProblems::default()
        }),
    })
}

/// Why a change to a person was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It would leave the organisation without an active admin.
    LastAdmin,
    /// An admin cannot deactivate themselves.
    OwnAccount,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::LastAdmin => {
                "Chorus needs at least one active admin. Make someone else an admin first."
            }
            Refused::OwnAccount => "You cannot deactivate your own account.",
        }
    }
}

fn refused_unless_done(outcome: ChangeOutcome) -> Result<std::result::Result<(), Refused>> {
    match outcome {
        ChangeOutcome::Done => Ok(Ok(())),
        ChangeOutcome::NotFound => Err(Error::NotFound),
        ChangeOutcome::LastAdmin => Ok(Err(Refused::LastAdmin)),
    }
}

/// Changes a person's name, department and roles.
pub async fn update(
    app: &App,
    person: UserId,
    details: PersonDetails,
    by: UserId,
) -> Result<std::result::Result<(), Refused>> {
    let change = ProfileChange {
        name: details.name,
        roles: details.roles,
        department: details.department,
    };
    let now = app.clock.now_naive();
    let outcome = app
        .db
        .run(move |conn| users::update_profile(conn, person.get(), &change, by.get(), now))
        .await?;
    refused_unless_done(outcome)
}

/// Deactivates a person (their sessions end at once) or reactivates them.
pub async fn set_active(
    app: &App,
    person: UserId,
    active: bool,
    by: UserId,
) -> Result<std::result::Result<(), Refused>> {
    if !active && person == by {
        return Ok(Err(Refused::OwnAccount));
    }
    let now = app.clock.now_naive();
    let outcome = app
        .db
        .run(move |conn| users::set_active(conn, person.get(), active, by.get(), now))
        .await?;
    refused_unless_done(outcome)
}

/// A fresh set-password link, and whom it is for.
pub struct PasswordLink {
    pub person: User,
    /// The link, for an account never used; None when it went to the
    /// person only.
    pub link: Option<String>,
}

/// Emails a person a fresh set-password link (telling them an admin asked
/// for it); the admin sees the link only for an account never used.
/// Refused for a deactivated person.
pub async fn password_link(app: &App, person: UserId, by: UserId) -> Result<PasswordLink> {
    let person = find(app, person).await?;
    if !person.active {
        return Err(Error::Invalid(
            "This person is deactivated. Reactivate them before issuing a password link.".into(),
        ));
    }
    let (person_id, now) = (person.id, app.clock.now_naive());
    let outcome = with_mail(app, move |conn, mail| {
        accounts::new_password_link_by_email(conn, person_id, mail, Actor::Person(by.get()), now)
    })
    .await?
    .ok_or(Error::NotFound)?;
    let link = match outcome {
        AdminPasswordLink::Shown(token) => Some(invitation_link(app, &token)),
        AdminPasswordLink::EmailedOnly => None,
    };
    Ok(PasswordLink { person, link })
}

/// One row of an import, as typed, and what became of it.
pub struct ImportRow {
    pub line: u64,
    pub email: String,
    pub name: String,
    /// The set-password link when accepted; the reason when refused.
    pub outcome: std::result::Result<String, String>,
}

/// What became of an import, row by row.
pub struct ImportReport {
    pub rows: Vec<ImportRow>,
    pub accepted: usize,
    pub refused: usize,
}

/// Invites everyone on a CSV roster (see [`parse_roster`]), all in one
/// transaction: each row is accepted, with its emailed link, or refused
/// with a reason. A file that cannot be read is refused whole.
pub async fn import(
    app: &App,
    file: &[u8],
    by: UserId,
) -> Result<std::result::Result<ImportReport, RosterRefused>> {
    let candidates = match parse_roster(file) {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    let (typed, parsed): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .map(
            |RosterRow {
                 line,
                 email,
                 name,
                 parsed,
             }| ((line, email, name), parsed.map(new_user)),
        )
        .unzip();
    let now = app.clock.now_naive();
    let outcomes = with_mail(app, move |conn, mail| {
        accounts::invite_many_by_email(conn, parsed, mail, Actor::Person(by.get()), now)
    })
    .await?;
    let rows: Vec<ImportRow> = typed
        .into_iter()
        .zip(outcomes)
        .map(|((line, email, name), outcome)| ImportRow {
            line,
            email,
            name,
            outcome: outcome.map(|token| invitation_link(app, &token)),
        })
        .collect();
    let accepted = rows.iter().filter(|r| r.outcome.is_ok()).count();
    Ok(Ok(ImportReport {
        refused: rows.len() - accepted,
        accepted,
        rows,
    }))
}
