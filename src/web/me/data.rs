//! Me → My data: everything Chorus holds about the person, readable and as
//! one JSON download, and erasing one's own account.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::my_data::{self, ErasureConfirmation};
use crate::web::AppState;
use crate::web::auth::device_cookie;
use crate::web::auth::session::{SignedIn, removal_cookie};
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, see_other};

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
    let held = my_data::holdings(&state, signed_in.id()).await?;
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
    let document = my_data::export(&state, &signed_in.user).await?;
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
    let user = &signed_in.user;
    let device = device_cookie::nonce_for(&state, &req, user.id);
    let confirmation = ErasureConfirmation {
        password: form.password,
        email: form.confirm_email,
    };
    if let Err(refusal) = my_data::erase(&state, user, device, confirmation).await? {
        return refused(&DeletePage {
            page: PageContext::from(&signed_in),
            email: user.email.clone(),
            has_password: user.password_hash.is_some(),
            error: Some(refusal.message().to_string()),
        });
    }
    let mut response = see_other("/login?erased=1");
    response
        .add_cookie(&removal_cookie(&state))
        .map_err(AppError::internal)?;
    Ok(response)
}
