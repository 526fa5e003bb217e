//! Passwords: setting one from a one-time link, changing one, and forgotten ones.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{client_ip, hash_password, start_session};
use crate::app::accounts as app_accounts;
use crate::credentials;
use crate::domain::email::EmailAddress;
use crate::domain::password_policy::{self, PasswordContext};
use crate::store::tokens::Purpose;
use crate::store::{self, StoreError, accounts, users};
use crate::web::AppState;
use crate::web::auth::session::{SignedIn, Visitor};
use crate::web::error::{AppError, ErrorKind, WebResult};
use crate::web::page::{PageContext, ok, refused};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
}

#[derive(Template)]
#[template(path = "auth/set_password.html")]
struct SetPasswordPage {
    page: PageContext,
    name: String,
    email: String,
    error: Option<String>,
}

async fn link_holder(state: &AppState, token: &str) -> WebResult<(users::User, String)> {
    let hash = credentials::token_hash(token);
    let now = state.clock.now_naive();
    let lookup = hash.clone();
    let (user, org_name) = state
        .db
        .run(move |conn| {
            let user = match store::tokens::find_valid(conn, Purpose::SetPassword, &lookup, now)? {
                Some(Some(user_id)) => users::find(conn, user_id)?,
                _ => None,
            };
            Ok::<_, StoreError>((user, store::org::settings(conn)?.org_name))
        })
        .await?;
    match user {
        Some(user) if user.active => Ok((user, org_name)),
        _ => Err(AppError::new(ErrorKind::LinkExpired)),
    }
}

pub async fn set_password_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    if !crate::web::auth::sso::password_login_allowed(&state).await? {
        return crate::web::auth::sso::password_login_off(&state, &visitor);
    }
    let (user, _) = link_holder(&state, &token).await?;
    ok(&SetPasswordPage {
        page: PageContext::from(&visitor),
        name: user.name,
        email: user.email,
        error: None,
    })
}

pub async fn set_password(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
    form: web::Form<PasswordForm>,
) -> WebResult<HttpResponse> {
    if !crate::web::auth::sso::password_login_allowed(&state).await? {
        return crate::web::auth::sso::password_login_off(&state, &visitor);
    }
    let (user, org_name) = link_holder(&state, &token).await?;
    let context = PasswordContext {
        email: &user.email,
        name: &user.name,
        org_name: &org_name,
    };
    if let Err(problem) = password_policy::check(&form.password, &context) {
        return refused(&SetPasswordPage {
            page: PageContext::from(&visitor),
            name: user.name,
            email: user.email,
            error: Some(problem.0),
        });
    }
    let hash = hash_password(form.into_inner().password).await?;
    let token_hash = credentials::token_hash(&token);
    let now = state.clock.now_naive();
    let user_id = user.id;
    let done = state
        .db
        .run(move |conn| accounts::set_password_with_link(conn, &token_hash, &user, &hash, now))
        .await?;
    if !done {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    start_session(&state, user_id, "/").await
}

// ---- changing one's password ---------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChangePasswordForm {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChangedQuery {
    changed: Option<String>,
}

#[derive(Default)]
struct ChangePasswordErrors {
    current_password: Option<String>,
    new_password: Option<String>,
}

#[derive(Template)]
#[template(path = "me/password.html")]
struct ChangePasswordPage {
    page: PageContext,
    email: String,
    changed: bool,
    errors: ChangePasswordErrors,
}

pub async fn change_password_form(
    signed_in: SignedIn,
    query: web::Query<ChangedQuery>,
) -> WebResult<HttpResponse> {
    ok(&ChangePasswordPage {
        page: PageContext::from(&signed_in),
        email: signed_in.user.email.clone(),
        changed: query.changed.is_some(),
        errors: ChangePasswordErrors::default(),
    })
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<ChangePasswordForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let user = &signed_in.user;
    let device = crate::web::auth::device_cookie::nonce_for(&state, &req, user.id);
    let (current, new) = (form.current_password, form.new_password);
    match app_accounts::change_password(&state, user, device, current, new).await? {
        // Every session, this one included, ends; a fresh one continues here.
        Ok(()) => start_session(&state, user.id, "/me/password?changed=1").await,
        Err(problems) => refused(&ChangePasswordPage {
            page: PageContext::from(&signed_in),
            email: user.email.clone(),
            changed: false,
            errors: ChangePasswordErrors {
                current_password: problems.current_password,
                new_password: problems.new_password,
            },
        }),
    }
}

// ---- forgotten passwords -------------------------------------------------

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    page: PageContext,
    email: String,
    error: Option<String>,
    sent: bool,
}

pub async fn forgot_form(state: web::Data<AppState>, visitor: Visitor) -> WebResult<HttpResponse> {
    if !crate::web::auth::sso::password_login_allowed(&state).await? {
        return crate::web::auth::sso::password_login_off(&state, &visitor);
    }
    ok(&ForgotPage {
        page: PageContext::from(&visitor),
        email: String::new(),
        error: None,
        sent: false,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    email: String,
}

/// The same answer whether or not the address has an account.
pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<ForgotForm>,
) -> WebResult<HttpResponse> {
    if !crate::web::auth::sso::password_login_allowed(&state).await? {
        return crate::web::auth::sso::password_login_off(&state, &visitor);
    }
    let form = form.into_inner();
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => email,
        Err(problem) => {
            return refused(&ForgotPage {
                page: PageContext::from(&visitor),
                email: form.email,
                error: Some(problem.0),
                sent: false,
            });
        }
    };
    app_accounts::request_password_reset(&state, email.clone(), client_ip(&req, &state)).await?;
    ok(&ForgotPage {
        page: PageContext::from(&visitor),
        email: email.to_string(),
        error: None,
        sent: true,
    })
}
