//! Admin → Email: the outbox by kind and status, failed messages with their
//! error and a retry button, and suppressed addresses. Never what a digest
//! said to whom.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::{AppError, WebResult};
use super::page::{PageContext, ok, see_other};
use super::session::SignedIn;
use crate::store::outbox::Kind;
use crate::store::{self, StoreError};

pub struct FailedView {
    pub id: i64,
    pub kind: String,
    /// Shown for invitations and resets only: who gets a digest is a
    /// person's own choice and not for admins to see.
    pub recipient: Option<String>,
    pub error: String,
    pub attempts: i32,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/email.html")]
struct EmailPage {
    page: PageContext,
    counts: Vec<(String, String, i64)>,
    failed: Vec<FailedView>,
    suppressed: Vec<(String, String, String)>,
    notice: Option<&'static str>,
    transport: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let (counts, failed, suppressed) = state
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                store::outbox::counts(conn)?,
                store::outbox::failed(conn, 100)?,
                store::outbox::suppressed(conn)?,
            ))
        })
        .await?;
    let transport = match state
        .config
        .smtp_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => format!(
            "SMTP ({})",
            url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default()
        ),
        None => format!(".eml files in {}", state.config.outbox_dir().display()),
    };
    ok(&EmailPage {
        page: PageContext::from(&signed_in),
        counts,
        failed: failed
            .into_iter()
            .map(
                |(id, kind, recipient, error, attempts, created)| FailedView {
                    id,
                    recipient: matches!(
                        Kind::parse(&kind),
                        Some(Kind::Invitation | Kind::PasswordReset)
                    )
                    .then_some(recipient),
                    kind,
                    error: error.unwrap_or_default(),
                    attempts,
                    created: created.format("%Y-%m-%d %H:%M UTC").to_string(),
                },
            )
            .collect(),
        suppressed: suppressed
            .into_iter()
            .map(|(email, reason, at)| (email, reason, at.format("%Y-%m-%d %H:%M UTC").to_string()))
            .collect(),
        notice: match query.done.as_str() {
            "retried" => Some(
                "The message is back in the queue and will be sent at the next delivery round.",
            ),
            "cleared" => Some("The address may receive email again."),
            _ => None,
        },
        transport,
    })
}

pub async fn retry(state: web::Data<AppState>, id: web::Path<i64>) -> WebResult<HttpResponse> {
    let (id, now) = (*id, state.clock.now_naive());
    let retried = state
        .db
        .run(move |conn| store::outbox::retry(conn, id, now))
        .await?;
    if !retried {
        return Err(AppError::not_found());
    }
    Ok(see_other("/admin/email?done=retried"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnsuppressForm {
    email: String,
}

pub async fn unsuppress(
    state: web::Data<AppState>,
    form: web::Form<UnsuppressForm>,
) -> WebResult<HttpResponse> {
    let email = form.into_inner().email.trim().to_lowercase();
    let cleared = state
        .db
        .run(move |conn| store::outbox::unsuppress(conn, &email))
        .await?;
    if !cleared {
        return Err(AppError::not_found());
    }
    Ok(see_other("/admin/email?done=cleared"))
}
