//! Logging in and out with a password.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{
    LOGIN_REFUSED, client_ip, hash_password, safe_next, start_session, verify_password_off_executor,
};
use crate::credentials::Verified;
use crate::domain::email::EmailAddress;
use crate::domain::login_throttle::Bucket;
use crate::store::{self, StoreError, users};
use crate::web::AppState;
use crate::web::auth::session::{Visitor, removal_cookie};
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
    login: crate::web::auth::sso::LoginOptions,
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
    let options = crate::web::auth::sso::login_options(&state).await?;
    let password_login = options.password_login;
    let sso_name = options.sso_name.clone();
    let refuse =
        |status: StatusCode, error: String, retry_after: Option<i64>| -> WebResult<HttpResponse> {
            let mut response = render(
                status,
                &LoginPage {
                    page: PageContext::from(&visitor),
                    email: form.email.trim().to_string(),
                    next: next.clone(),
                    error: Some(error),
                    erased: false,
                    login: crate::web::auth::sso::LoginOptions {
                        sso_name: options.sso_name.clone(),
                        password_login: options.password_login,
                    },
                },
            )?;
            if let Some(seconds) = retry_after
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        };
    if !password_login {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Password login is turned off here. Sign in with {} instead.",
                sso_name.as_deref().unwrap_or("single sign-on")
            ),
            None,
        );
    }

    let ip = client_ip(&req, &state);
    // The account bucket is keyed by what was typed (normalised), existing
    // account or not.
    let key = EmailAddress::parse(&form.email)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| form.email.trim().to_lowercase());
    let now = state.clock.now_naive();
    let lookup_key = key.clone();
    let user = state
        .db
        .run(move |conn| match EmailAddress::parse(&lookup_key) {
            Ok(email) => users::find_by_email(conn, &email),
            Err(_) => Ok(None),
        })
        .await?;
    // A browser that signed in to this account before has its own bucket;
    // any other attempt counts against the account and the address.
    let device = user
        .as_ref()
        .and_then(|u| crate::web::auth::device_cookie::nonce_for(&state, &req, u.id));
    let throttle = match device {
        Some(nonce) => vec![Bucket::Device(nonce)],
        None => vec![Bucket::Account(key), Bucket::Address(ip)],
    };
    let check = throttle.clone();
    let locked = state
        .db
        .run(move |conn| store::login_throttle::first_locked(conn, &check, now))
        .await?;
    if let Some(until) = locked {
        let seconds = (until - now).num_seconds().max(1);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed attempts. Try again in {} minutes, or ask an administrator \
                 for a new password link.",
                (seconds + 59) / 60
            ),
            Some(seconds),
        );
    }

    let password = form.password.clone();
    let stored = user
        .as_ref()
        .filter(|u| u.active)
        .and_then(|u| u.password_hash.clone());
    let verified = verify_password_off_executor(password, stored).await?;

    let user = match (verified, user) {
        (Verified::No, _) | (_, None) => {
            let record = throttle.clone();
            state
                .db
                .run(move |conn| {
                    for bucket in &record {
                        store::login_throttle::record_failure(conn, bucket, now)?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await?;
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                LOGIN_REFUSED.to_string(),
                None,
            );
        }
        (verified, Some(user)) => {
            if verified == Verified::YesButRehash {
                let fresh = hash_password(form.password.clone()).await?;
                let user_id = user.id;
                state
                    .db
                    .run(move |conn| users::set_password_hash(conn, user_id, &fresh, now))
                    .await?;
            }
            user
        }
    };
    // Success clears the account's (or this browser's) bucket, never the
    // address's: that one counts only failures, and forgets them in time.
    let clear = throttle.clone();
    state
        .db
        .run(move |conn| {
            for bucket in &clear {
                if !matches!(bucket, Bucket::Address(_)) {
                    store::login_throttle::clear(conn, bucket)?;
                }
            }
            Ok::<_, StoreError>(())
        })
        .await?;
    if let Some(old) = visitor.session_hash.clone() {
        state
            .db
            .run(move |conn| store::sessions::delete(conn, &old))
            .await?;
    }
    let mut response = start_session(&state, user.id, &next).await?;
    response
        .add_cookie(&crate::web::auth::device_cookie::issue(&state, user.id))
        .map_err(AppError::internal)?;
    Ok(response)
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
