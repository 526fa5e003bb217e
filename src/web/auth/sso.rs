//! Signing in with the organisation's OpenID Connect provider: the start
//! (`POST /login/oidc`) and the provider's answer (`GET /login/oidc/callback`).

use actix_web::cookie::{Cookie, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::credentials;
use crate::domain::email::EmailAddress;
use crate::sso::{Sso, SsoError};
use crate::store::sso::{self as store_sso, SignIn, VouchedFor};
use crate::store::{self, StoreError};
use crate::web::AppState;
use crate::web::auth::session::Visitor;
use crate::web::auth::{safe_next, start_session_signed_in_with};
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, render, see_other};

/// A sign-in must come back from the provider within this time.
const SIGN_IN_MINUTES: i64 = 10;

/// Names the browser that started a sign-in, so that a callback carried to
/// another browser (login CSRF, a stolen link) finds nothing.
fn browser_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-chorus_sso"
    } else {
        "chorus_sso"
    }
}

fn browser_cookie(state: &AppState, value: String, max_age: time::Duration) -> Cookie<'static> {
    let secure = state.secure_cookies;
    // SameSite=Lax like the session: the provider sends the browser back
    // with a top-level GET, which carries it.
    let mut cookie = crate::web::auth::session::cookie(browser_cookie_name(secure), value, secure);
    cookie.set_max_age(max_age);
    cookie
}

/// Why a sign-in with the provider did not log the person in: a page with
/// a way back to the login page, never a 500.
#[derive(Template)]
#[template(path = "auth/sso_refused.html")]
struct RefusedPage<'a> {
    page: PageContext,
    title: &'a str,
    message: String,
}

fn refusal(
    state: &AppState,
    visitor: &Visitor,
    status: StatusCode,
    title: &str,
    message: String,
) -> WebResult<HttpResponse> {
    let mut response = render(
        status,
        &RefusedPage {
            page: PageContext::from(visitor),
            title,
            message,
        },
    )?;
    // The sign-in is over either way; the browser cookie has no further use.
    response
        .add_cookie(&browser_cookie(state, String::new(), time::Duration::ZERO))
        .map_err(AppError::internal)?;
    Ok(response)
}

fn configured(state: &AppState) -> WebResult<&Sso> {
    state.sso.as_deref().ok_or_else(AppError::not_found)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    next: String,
}

/// Sends the browser to the provider with a fresh state, nonce and PKCE
/// challenge, all kept server-side until the callback takes them.
pub async fn start(
    state: web::Data<AppState>,
    visitor: Visitor,
    form: web::Form<StartForm>,
) -> WebResult<HttpResponse> {
    let sso = configured(&state)?;
    let authorization = match sso.authorize().await {
        Ok(authorization) => authorization,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on unavailable");
            let password_login = password_login_allowed(&state).await?;
            return refusal(
                &state,
                &visitor,
                StatusCode::SERVICE_UNAVAILABLE,
                "Single sign-on is unavailable",
                format!(
                    "{} did not answer. Please try again in a few minutes{}.",
                    sso.settings.provider_name,
                    if password_login {
                        ", or log in with your email and password"
                    } else {
                        ""
                    }
                ),
            );
        }
    };
    let browser = credentials::random_token();
    let browser_hash = credentials::token_hash(&browser);
    let state_hash = credentials::token_hash(&authorization.state);
    let next = safe_next(&form.next);
    let now = state.clock.now_naive();
    state
        .db
        .run(move |conn| {
            store_sso::begin(
                conn,
                &store_sso::NewLogin {
                    state_hash: &state_hash,
                    browser_hash: &browser_hash,
                    nonce: &authorization.nonce,
                    pkce_verifier: &authorization.pkce_verifier,
                    next_path: &next,
                    now,
                    expires_at: now + chrono::Duration::minutes(SIGN_IN_MINUTES),
                },
            )
        })
        .await?;
    let mut response = see_other(&authorization.url);
    response
        .add_cookie(&browser_cookie(
            &state,
            browser,
            time::Duration::minutes(SIGN_IN_MINUTES),
        ))
        .map_err(AppError::internal)?;
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: take the sign-in this browser started (once),
/// exchange the code, verify the ID token and its nonce, then find, link or
/// create the person and start a fresh session.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<CallbackQuery>,
) -> WebResult<HttpResponse> {
    let sso = configured(&state)?;
    let provider = sso.settings.provider_name.clone();
    let query = query.into_inner();
    let browser_hash = req
        .cookie(browser_cookie_name(state.secure_cookies))
        .map(|c| credentials::token_hash(c.value()))
        .unwrap_or_default();
    let state_hash = credentials::token_hash(query.state.as_deref().unwrap_or_default());
    let now = state.clock.now_naive();
    let pending = state
        .db
        .run(move |conn| store_sso::take(conn, &state_hash, &browser_hash, now))
        .await?;
    if let Some(error) = query.error {
        let message = if error == "access_denied" {
            format!("The sign-in was cancelled or refused at {provider}. Nothing was changed.")
        } else {
            format!(
                "{provider} could not complete the sign-in (it answered \u{201c}{}\u{201d}).",
                error.chars().take(64).collect::<String>()
            )
        };
        return refusal(
            &state,
            &visitor,
            StatusCode::UNAUTHORIZED,
            "Sign-in not completed",
            message,
        );
    }
    let (Some(code), Some(pending)) = (query.code, pending) else {
        return refusal(
            &state,
            &visitor,
            StatusCode::BAD_REQUEST,
            "This sign-in cannot be completed",
            "The answer from the sign-in page does not match a sign-in started in this browser: \
             it was already used, it has expired, or it was started elsewhere. Please start again."
                .into(),
        );
    };
    let identity = match sso
        .finish(&code, &pending.pkce_verifier, &pending.nonce)
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on refused");
            let (status, message) = match error {
                SsoError::WrongNonce | SsoError::InvalidToken(_) => (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "The answer from {provider} does not belong to this sign-in, so it was \
                         not accepted. Please start again."
                    ),
                ),
                SsoError::Exchange(_) => (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{provider} did not confirm this sign-in (the code was already used or \
                         has expired). Please start again."
                    ),
                ),
                SsoError::Unreachable(_) | SsoError::Configuration(_) => (
                    StatusCode::BAD_GATEWAY,
                    format!("{provider} did not answer. Please try again in a few minutes."),
                ),
            };
            return refusal(
                &state,
                &visitor,
                status,
                "This sign-in cannot be completed",
                message,
            );
        }
    };
    let email = identity
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok());
    let (Some(email), true) = (email, identity.email_verified) else {
        return refusal(
            &state,
            &visitor,
            StatusCode::FORBIDDEN,
            "Your email address is not verified",
            format!(
                "{provider} does not vouch for an email address of yours (it is missing or not \
                 verified), and Chorus matches people by verified email only. Verify your \
                 address with {provider} or ask your IT team, then try again."
            ),
        );
    };
    let id_token = identity.id_token;
    let vouched = VouchedFor {
        subject: identity.subject,
        email,
        name: identity.name,
        department: identity.department,
    };
    let outcome = state
        .db
        .run(move |conn| store_sso::sign_in(conn, &vouched, now))
        .await?;
    let user = match outcome {
        SignIn::Existing(user) => user,
        SignIn::Created(user) => {
            tracing::info!(user_id = user.id, "account created at first SSO sign-in");
            user
        }
        SignIn::Deactivated => {
            return refusal(
                &state,
                &visitor,
                StatusCode::FORBIDDEN,
                "Your account is deactivated",
                "Your Chorus account has been deactivated. Ask an administrator if you think \
                 this is a mistake."
                    .into(),
            );
        }
        SignIn::NoAccount => {
            return refusal(
                &state,
                &visitor,
                StatusCode::FORBIDDEN,
                "No Chorus account for you yet",
                "There is no Chorus account with your email address, and accounts are not \
                 created at first sign-in here. Ask an administrator to invite you."
                    .into(),
            );
        }
        SignIn::LinkedElsewhere => {
            return refusal(
                &state,
                &visitor,
                StatusCode::FORBIDDEN,
                "This account belongs to another sign-in",
                format!(
                    "The Chorus account with your email address is linked to a different \
                     {provider} identity. Ask an administrator."
                ),
            );
        }
    };
    if let Some(old) = visitor.session_hash.clone() {
        state
            .db
            .run(move |conn| store::sessions::delete(conn, &old))
            .await?;
    }
    let mut response =
        start_session_signed_in_with(&state, user.id, &pending.next_path, Some(id_token)).await?;
    response
        .add_cookie(&browser_cookie(&state, String::new(), time::Duration::ZERO))
        .map_err(AppError::internal)?;
    Ok(response)
}

/// Ends a session; for one signed in with SSO, where the browser goes next
/// so that the provider ends its session too (if it offers that).
pub async fn end_session(state: &AppState, session_hash: String) -> WebResult<Option<String>> {
    let id_token = state
        .db
        .run(move |conn| store_sso::end_session(conn, &session_hash))
        .await?;
    Ok(match (&state.sso, id_token) {
        (Some(sso), Some(token)) => {
            sso.logout_url(&token, &format!("{}/login", state.base_url))
                .await
        }
        _ => None,
    })
}

/// Whether people may log in with a password now (the admin's setting,
/// heeded only while SSO is configured).
pub async fn password_login_allowed(state: &AppState) -> WebResult<bool> {
    let sso_configured = state.sso.is_some();
    if !sso_configured {
        return Ok(true);
    }
    Ok(state
        .db
        .run(move |conn| {
            Ok::<_, StoreError>(store::org::settings(conn)?.password_login_allowed(sso_configured))
        })
        .await?)
}

/// The page for password routes (reset, links) while password login is off.
pub fn password_login_off(state: &AppState, visitor: &Visitor) -> WebResult<HttpResponse> {
    let provider = state
        .sso
        .as_ref()
        .map(|s| s.settings.provider_name.as_str())
        .unwrap_or("single sign-on");
    render(
        StatusCode::FORBIDDEN,
        &RefusedPage {
            page: PageContext::from(visitor),
            title: "Password login is turned off",
            message: format!(
                "This organisation signs people in with {provider} only, so passwords cannot be \
                 set or reset here. Use \u{201c}Sign in with {provider}\u{201d} on the login page."
            ),
        },
    )
}

/// What the login page offers: the provider's button and/or the password form.
pub struct LoginOptions {
    pub sso_name: Option<String>,
    pub password_login: bool,
}

pub async fn login_options(state: &AppState) -> WebResult<LoginOptions> {
    Ok(LoginOptions {
        sso_name: state.sso.as_ref().map(|s| s.settings.provider_name.clone()),
        password_login: password_login_allowed(state).await?,
    })
}
