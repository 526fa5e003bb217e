//! Me → My data: everything Chorus holds about the person, readable and as
//! one JSON download, and erasing one's own account.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::app::consent::receipt_json;
use crate::domain::consent::ConsentEvent;
use crate::store::consent::ConsentState;
use crate::store::{self, StoreError, accounts};
use crate::web::AppState;
use crate::web::auth::session::{SignedIn, removal_cookie};
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, see_other};

struct Holdings {
    org_name: String,
    privacy_contact: String,
    states: Vec<ConsentState>,
    events: Vec<ConsentEvent>,
    sessions: i64,
    shares: Vec<(i64, String, chrono::NaiveDateTime, bool)>,
    dismissals: Vec<(i64, chrono::NaiveDateTime)>,
    suggestions: Vec<store::suggestions::Suggestion>,
    emails: Vec<store::outbox::OutboxRow>,
    own_actions: Vec<(chrono::NaiveDateTime, String, String, String)>,
    api_tokens: Vec<store::api_tokens::ApiToken>,
    calendar_feeds: Vec<store::calendar_feeds::CalendarFeed>,
}

async fn holdings(state: &AppState, user_id: i64) -> WebResult<Holdings> {
    Ok(state
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
            })
        })
        .await?)
}

pub struct StateLine {
    pub what: String,
    pub status: &'static str,
    pub instance: Option<String>,
}

#[derive(Template)]
#[template(path = "me/data.html")]
struct DataPage {
    page: PageContext,
    email: String,
    name: String,
    department: String,
    roles: String,
    sessions: i64,
    states: Vec<StateLine>,
    event_count: usize,
    share_count: usize,
    dismissal_count: usize,
    suggestion_count: usize,
}

pub async fn show(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let held = holdings(&state, signed_in.user.id).await?;
    let user = &signed_in.user;
    ok(&DataPage {
        page: PageContext::from(&signed_in),
        email: user.email.clone(),
        name: user.name.clone(),
        department: user.department.clone().unwrap_or_else(|| "—".into()),
        roles: user.roles.describe(),
        sessions: held.sessions,
        states: held
            .states
            .iter()
            .map(|s| StateLine {
                what: s.purpose.describe(),
                status: s.status.as_str(),
                instance: s.instance.clone(),
            })
            .collect(),
        event_count: held.events.len(),
        share_count: held.shares.len(),
        dismissal_count: held.dismissals.len(),
        suggestion_count: held.suggestions.len(),
    })
}

pub async fn download(state: web::Data<AppState>, signed_in: SignedIn) -> WebResult<HttpResponse> {
    let held = holdings(&state, signed_in.user.id).await?;
    let user = &signed_in.user;
    let user_id = user.id;
    let sso_subject = state
        .db
        .run(move |conn| crate::store::sso::subject_of(conn, user_id))
        .await?;
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
                "updatedAt": s.updated_at.and_utc().to_rfc3339(),
            })
        })
        .collect();
    let events: Vec<_> = held
        .events
        .iter()
        .map(|e| {
            receipt_json(
                &state,
                e,
                &held.org_name,
                &held.privacy_contact,
                &user.email,
            )
        })
        .collect();
    let document = json!({
        "exportedAt": state.clock.now().to_rfc3339(),
        "organisation": held.org_name,
        "profile": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "department": user.department,
            "roles": user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "active": user.active,
            "openSessions": held.sessions,
            "singleSignOnSubject": sso_subject,
        },
        "consent": {
            "current": current,
            "events": events,
        },
        "shares": held.shares.iter().map(|(post, platform, at, edited)| json!({
            "post": post, "platform": platform, "sharedAt": at.and_utc().to_rfc3339(), "editedText": edited,
        })).collect::<Vec<_>>(),
        "dismissals": held.dismissals.iter().map(|(post, at)| json!({
            "post": post, "dismissedAt": at.and_utc().to_rfc3339(),
        })).collect::<Vec<_>>(),
        "suggestions": held.suggestions.iter().map(|s| json!({
            "link": s.link, "note": s.note, "status": s.status.as_str(), "response": s.response_note,
            "createdAt": s.created_at.and_utc().to_rfc3339(),
        })).collect::<Vec<_>>(),
        "auditLogOfYourOwnActions": held.own_actions.iter().map(|(at, action, subject, detail)| json!({
            "at": at.and_utc().to_rfc3339(), "action": action, "subject": subject, "detail": detail,
        })).collect::<Vec<_>>(),
        // What is known of each personal API token: never the token itself.
        "apiTokens": held.api_tokens.iter().map(|t| json!({
            "name": t.name, "prefix": t.prefix, "scope": t.scope.as_str(),
            "createdAt": t.created_at.and_utc().to_rfc3339(),
            "lastUsedAt": t.last_used_at.map(|x| x.and_utc().to_rfc3339()),
            "expiresAt": t.expires_at.map(|x| x.and_utc().to_rfc3339()),
            "revokedAt": t.revoked_at.map(|x| x.and_utc().to_rfc3339()),
        })).collect::<Vec<_>>(),
        // The hub calendar addresses one created: never the secret itself.
        "calendarAddresses": held.calendar_feeds.iter().map(|f| json!({
            "name": f.name, "prefix": f.prefix,
            "createdAt": f.created_at.and_utc().to_rfc3339(),
            "lastUsedAt": f.last_used_at.map(|x| x.and_utc().to_rfc3339()),
            "revokedAt": f.revoked_at.map(|x| x.and_utc().to_rfc3339()),
        })).collect::<Vec<_>>(),
        "emails": held.emails.iter().map(|e| json!({
            "kind": e.kind, "status": e.status, "messageId": e.message_id,
            "createdAt": e.created_at.and_utc().to_rfc3339(),
            "sentAt": e.sent_at.map(|t| t.and_utc().to_rfc3339()),
        })).collect::<Vec<_>>(),
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"chorus-my-data.json\"",
        ))
        .body(serde_json::to_string_pretty(&document).map_err(AppError::internal)?))
}

// ---- erasing one's own account -----------------------------------------------------

#[derive(Template)]
#[template(path = "me/delete.html")]
struct DeletePage {
    page: PageContext,
    email: String,
    /// Accounts made by single sign-on have no password: they confirm by
    /// typing their email address instead.
    has_password: bool,
    error: Option<String>,
}

pub async fn delete_form(signed_in: SignedIn) -> WebResult<HttpResponse> {
    ok(&DeletePage {
        page: PageContext::from(&signed_in),
        email: signed_in.user.email.clone(),
        has_password: signed_in.user.password_hash.is_some(),
        error: None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    password: String,
    confirm_email: String,
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<DeleteForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let password = form.password;
    let stored = signed_in.user.password_hash.clone();
    let has_password = stored.is_some();
    let typed_email = form
        .confirm_email
        .trim()
        .eq_ignore_ascii_case(&signed_in.user.email);
    let verified = match stored {
        Some(_) => {
            crate::web::auth::password::verify_current_password(
                &state,
                &req,
                &signed_in.user,
                password,
            )
            .await?
        }
        None => typed_email,
    };
    let refuse = |message: &str| {
        refused(&DeletePage {
            page: PageContext::from(&signed_in),
            email: signed_in.user.email.clone(),
            has_password,
            error: Some(message.to_string()),
        })
    };
    if !verified {
        return refuse(if has_password {
            "That is not your password. Nothing was deleted."
        } else {
            "That is not your email address. Nothing was deleted."
        });
    }
    let user = signed_in.user.clone();
    let now = state.clock.now_naive();
    let erased = state
        .db
        .run(move |conn| accounts::erase_account(conn, &user, now))
        .await?;
    if !erased {
        return refuse(
            "You are the only active admin. Make someone else an admin before deleting your account.",
        );
    }
    let mut response = see_other("/login?erased=1");
    response
        .add_cookie(&removal_cookie(&state))
        .map_err(AppError::internal)?;
    Ok(response)
}
