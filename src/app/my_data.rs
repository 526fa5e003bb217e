//! A person's own data: everything Chorus holds about them, as a summary
//! and as one JSON document (the right of access), and erasing their own
//! account (the right to erasure). Each concerns only the person asking.

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use super::{App, Result, accounts};
use crate::domain::consent::ConsentEvent;
use crate::domain::ids::UserId;
use crate::store::consent::ConsentState;
use crate::store::users::User;
use crate::store::{self, StoreError};

/// Everything Chorus holds about a person, beside their profile.
pub struct Holdings {
    pub org_name: String,
    pub privacy_contact: String,
    pub states: Vec<ConsentState>,
    pub events: Vec<ConsentEvent>,
    pub sessions: i64,
    pub shares: Vec<(i64, String, NaiveDateTime, bool)>,
    pub dismissals: Vec<(i64, NaiveDateTime)>,
    pub suggestions: Vec<store::suggestions::Suggestion>,
    pub emails: Vec<store::outbox::OutboxRow>,
    pub own_actions: Vec<(NaiveDateTime, String, String, String)>,
    pub api_tokens: Vec<store::api_tokens::ApiToken>,
    pub calendar_feeds: Vec<store::calendar_feeds::CalendarFeed>,
    /// The subject the organisation's sign-in provider knows them by.
    pub sso_subject: Option<String>,
}

pub async fn holdings(app: &App, user: UserId) -> Result<Holdings> {
    let user_id = user.get();
    Ok(app
        .db
        .run(move |conn| {
            let settings = store::org::settings(conn)?;
            Ok::<_, StoreError>(Holdings {
                org_name: settings.org_name,
                privacy_contact: settings.privacy_contact,
                states: store::consent::states_for(conn, user_id)?,
                events: store::consent::events_for(conn, user_id)?,
                sessions: store::sessions::count_for_user(conn, user_id)?,
                shares: store::shares::history(conn, user_id)?,
                dismissals: store::shares::dismissed(conn, user_id)?,
                suggestions: store::suggestions::of_user(conn, user_id)?,
                emails: store::outbox::of_user(conn, user_id)?,
                own_actions: store::audit::by_actor(conn, user_id)?,
                api_tokens: store::api_tokens::personal_of(conn, user_id)?,
                calendar_feeds: store::calendar_feeds::of_user(conn, user_id)?,
                sso_subject: store::sso::subject_of(conn, user_id)?,
            })
        })
        .await?)
}

fn at(time: NaiveDateTime) -> String {
    time.and_utc().to_rfc3339()
}

fn at_opt(time: Option<NaiveDateTime>) -> Option<String> {
    time.map(at)
}

/// Everything Chorus holds about the person, as one JSON document: never
/// a token's or a calendar address's secret.
pub async fn export(app: &App, user: &User) -> Result<Value> {
    let held = holdings(app, UserId::new(user.id)).await?;
    Ok(json!({
        "exportedAt": app.clock.now().to_rfc3339(),
        "organisation": held.org_name,
        "profile": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "department": user.department,
            "roles": user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "active": user.active,
            "openSessions": held.sessions,
            "singleSignOnSubject": held.sso_subject,
        },
        "consent": consent_json(app, &held, &user.email),
        "shares": held.shares.iter().map(|(post, platform, time, edited)| json!({
            "post": post, "platform": platform, "sharedAt": at(*time), "editedText": edited,
        })).collect::<Vec<_>>(),
        "dismissals": held.dismissals.iter().map(|(post, time)| json!({
            "post": post, "dismissedAt": at(*time),
        })).collect::<Vec<_>>(),
        "suggestions": held.suggestions.iter().map(|s| json!({
            "link": s.link, "note": s.note, "status": s.status.as_str(), "response": s.response_note,
            "createdAt": at(s.created_at),
        })).collect::<Vec<_>>(),
        "auditLogOfYourOwnActions": held.own_actions.iter().map(|(time, action, subject, detail)| json!({
            "at": at(*time), "action": action, "subject": subject, "detail": detail,
        })).collect::<Vec<_>>(),
        // What is known of each personal API token: never the token itself.
        "apiTokens": held.api_tokens.iter().map(|t| json!({
            "name": t.name, "prefix": t.prefix, "scope": t.scope.as_str(),
            "createdAt": at(t.created_at), "lastUsedAt": at_opt(t.last_used_at),
            "expiresAt": at_opt(t.expires_at), "revokedAt": at_opt(t.revoked_at),
        })).collect::<Vec<_>>(),
        // The hub calendar addresses one created: never the secret itself.
        "calendarAddresses": held.calendar_feeds.iter().map(|f| json!({
            "name": f.name, "prefix": f.prefix, "createdAt": at(f.created_at),
            "lastUsedAt": at_opt(f.last_used_at), "revokedAt": at_opt(f.revoked_at),
        })).collect::<Vec<_>>(),
        "emails": held.emails.iter().map(|e| json!({
            "kind": e.kind, "status": e.status, "messageId": e.message_id,
            "createdAt": at(e.created_at), "sentAt": at_opt(e.sent_at),
        })).collect::<Vec<_>>(),
    }))
}

/// The person's choices as they stand, and every event as a receipt.
fn consent_json(app: &App, held: &Holdings, email: &str) -> Value {
    let current: Vec<_> = held
        .states
        .iter()
        .map(|s| {
            json!({
                "purpose": s.purpose.name(),
                "platform": s.purpose.platform_slug(),
                "description": s.purpose.describe(),
                "status": s.status.as_str(),
                "policyVersion": s.policy_version,
                "instance": s.instance,
                "updatedAt": at(s.updated_at),
            })
        })
        .collect();
    let events: Vec<_> = held
        .events
        .iter()
        .map(|e| super::consent::receipt_json(app, e, &held.org_name, &held.privacy_contact, email))
        .collect();
    json!({ "current": current, "events": events })
}

/// How a person confirms erasing their account: their password, or, for
/// an account without one (made by single sign-on), their email address.
pub struct ErasureConfirmation {
    pub password: String,
    pub email: String,
}

/// Why an account was not erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureRefused {
    WrongPassword,
    WrongEmail,
    /// The person is the only active admin.
    LastAdmin,
}

impl ErasureRefused {
    pub fn message(self) -> &'static str {
        match self {
            ErasureRefused::WrongPassword => "That is not your password. Nothing was deleted.",
            ErasureRefused::WrongEmail => "That is not your email address. Nothing was deleted.",
            ErasureRefused::LastAdmin => {
                "You are the only active admin. Make someone else an admin before deleting your account."
            }
        }
    }
}

/// Erases the person's own account (see `store::accounts::erase_account`)
/// once confirmed: the password is checked like a login, throttled on
/// this browser's bucket when `device_nonce` names one.
pub async fn erase(
    app: &App,
    user: &User,
    device_nonce: Option<String>,
    confirmation: ErasureConfirmation,
) -> Result<std::result::Result<(), ErasureRefused>> {
    let refusal = if user.password_hash.is_some() {
        let right =
            accounts::verify_current_password(app, user, device_nonce, confirmation.password)
                .await?;
        (!right).then_some(ErasureRefused::WrongPassword)
    } else {
        let right = confirmation.email.trim().eq_ignore_ascii_case(&user.email);
        (!right).then_some(ErasureRefused::WrongEmail)
    };
    if let Some(refusal) = refusal {
        return Ok(Err(refusal));
    }
    let (user, now) = (user.clone(), app.clock.now_naive());
    let erased = app
        .db
        .run(move |conn| store::accounts::erase_account(conn, &user, now))
        .await?;
    Ok(if erased {
        Ok(())
    } else {
        Err(ErasureRefused::LastAdmin)
    })
}
