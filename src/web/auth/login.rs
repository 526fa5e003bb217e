//! Logging in and out with a password.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{LOGIN_REFUSED, client_ip, safe_next, start_session};
use crate::app::accounts::{self, PasswordAttempt, PasswordLogin};
use crate::domain::ids::UserId;
use crate::web::AppState;
use crate::web::auth::session::{Visitor, removal_cookie};
use crate::web::auth::sso::LoginOptions;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, render, see_other};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
    erased: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    next: String,
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    page: PageContext,
    email: String,
    next: String,
    error: Option<String>,
    erased: bool,
    /// Single sign-on: the provider's button, and whether the password form shows.
    login: LoginOptions,
}

pub async fn login_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<NextQuery>,
) -> WebResult<HttpResponse> {
    let next = safe_next(&query.next);
    if visitor.user.is_some() {
        return Ok(see_other(&next));
    }
    ok(&LoginPage {
        page: PageContext::from(&visitor),
        email: String::new(),
        next,
        error: None,
        erased: query.erased.is_some(),
        login: crate::web::auth::sso::login_options(&state).await?,
    })
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<LoginForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let next = safe_next(&form.next);
    let login = crate::web::auth::sso::login_options(&state).await?;
    let refused = Refused {
        visitor: &visitor,
        email: form.email.trim().to_string(),
        next: &next,
        login: &login,
    };
    if !login.password_login {
        let provider = login.sso_name.as_deref().unwrap_or("single sign-on");
        let message =
            format!("Password login is turned off here. Sign in with {provider} instead.");
        return refused.page(StatusCode::FORBIDDEN, message, None);
    }
    let attempt = PasswordAttempt {
        ip: client_ip(&req, &state),
        email: form.email,
        password: form.password,
    };
    let device =
        |user: UserId| crate::web::auth::device_cookie::nonce_for(&state, &req, user.get());
    let user = match accounts::log_in_with_password(&state, attempt, device).await? {
        PasswordLogin::SignedIn(user) => user,
        not_signed_in => return refused.not_signed_in(not_signed_in),
    };
    accounts::end_previous_session(&state, visitor.session_hash.clone()).await?;
    let mut response = start_session(&state, user.id, &next).await?;
    response
        .add_cookie(&crate::web::auth::device_cookie::issue(&state, user.id))
        .map_err(AppError::internal)?;
    Ok(response)
}

/// The login page again, as typed, with why the login did not happen.
struct Refused<'a> {
    visitor: &'a Visitor,
    email: String,
    next: &'a str,
    login: &'a LoginOptions,
}

impl Refused<'_> {
    /// The page for a login refused or locked.
    fn not_signed_in(self, outcome: PasswordLogin) -> WebResult<HttpResponse> {
        match outcome {
            PasswordLogin::Locked { seconds } => {
                let message = format!(
                    "Too many failed attempts. Try again in {} minutes, or ask an administrator \
                     for a new password link.",
                    (seconds + 59) / 60
                );
                self.page(StatusCode::TOO_MANY_REQUESTS, message, Some(seconds))
            }
            _ => {
                let message = LOGIN_REFUSED.to_string();
                self.page(StatusCode::UNPROCESSABLE_ENTITY, message, None)
            }
        }
    }

    fn page(
        self,
        status: StatusCode,
        error: String,
        retry_after: Option<i64>,
    ) -> WebResult<HttpResponse> {
        let mut response = render(
            status,
            &LoginPage {
                page: PageContext::from(self.visitor),
                email: self.email,
                next: self.next.to_string(),
                error: Some(error),
                erased: false,
                login: LoginOptions {
                    sso_name: self.login.sso_name.clone(),
                    password_login: self.login.password_login,
                },
            },
        )?;
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        Ok(response)
    }
}

pub async fn logout(state: web::Data<AppState>, visitor: Visitor) -> WebResult<HttpResponse> {
    let mut location = "/login".to_string();
    if let Some(hash) = visitor.session_hash {
        // A single sign-on session goes on to the provider's logout.
        if let Some(provider_logout) = crate::web::auth::sso::end_session(&state, hash).await? {
            location = provider_logout;
        }
    }
    let mut response = see_other(&location);
    response
        .add_cookie(&removal_cookie(&state))
        .map_err(AppError::internal)?;
    Ok(response)
}
