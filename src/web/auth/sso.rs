//! Signing in with the organisation's OpenID Connect provider: the start
//! (`POST /login/oidc`) and the provider's answer (`GET /login/oidc/callback`).

use actix_web::cookie::{Cookie, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::accounts::{self, ProviderAnswer, SsoRefused};
use crate::credentials;
use crate::sso::{Sso, SsoError};
use crate::store::sso as store_sso;
use crate::web::AppState;
use crate::web::auth::session::Visitor;
use crate::web::auth::{safe_next, start_session_signed_in_with};
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, render, see_other};

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
    let provider = configured(&state)?.settings.provider_name.clone();
    let Some(started) = accounts::start_sso(&state, safe_next(&form.next)).await? else {
        let or_password = if accounts::password_login_allowed(&state).await? {
            ", or log in with your email and password"
        } else {
            ""
        };
        return refusal(
            &state,
            &visitor,
            StatusCode::SERVICE_UNAVAILABLE,
            "Single sign-on is unavailable",
            format!("{provider} did not answer. Please try again in a few minutes{or_password}."),
        );
    };
    let mut response = see_other(&started.url);
    let max_age = time::Duration::minutes(accounts::SSO_SIGN_IN_MINUTES);
    response
        .add_cookie(&browser_cookie(&state, started.browser, max_age))
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

/// The provider's answer: finish the sign-in this browser started, then
/// start a fresh session for the person (`app::accounts::finish_sso`).
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: web::Query<CallbackQuery>,
) -> WebResult<HttpResponse> {
    let provider = configured(&state)?.settings.provider_name.clone();
    let query = query.into_inner();
    let answer = ProviderAnswer {
        browser_hash: req
            .cookie(browser_cookie_name(state.secure_cookies))
            .map(|c| credentials::token_hash(c.value()))
            .unwrap_or_default(),
        state: query.state,
        code: query.code,
        error: query.error,
    };
    let signed_in = match accounts::finish_sso(&state, answer).await? {
        Ok(signed_in) => signed_in,
        Err(why) => {
            let (title, message) = (why.title(), why.message(&provider));
            return refusal(&state, &visitor, refusal_status(&why), title, message);
        }
    };
    accounts::end_previous_session(&state, visitor.session_hash.clone()).await?;
    let (user_id, next, token) = (
        signed_in.user.id,
        signed_in.next_path,
        Some(signed_in.id_token),
    );
    let mut response = start_session_signed_in_with(&state, user_id, &next, token).await?;
    response
        .add_cookie(&browser_cookie(&state, String::new(), time::Duration::ZERO))
        .map_err(AppError::internal)?;
    Ok(response)
}

fn refusal_status(why: &SsoRefused) -> StatusCode {
    match why {
        SsoRefused::Provider(_) => StatusCode::UNAUTHORIZED,
        SsoRefused::NotStartedHere
        | SsoRefused::Unconfirmed(
            SsoError::WrongNonce | SsoError::InvalidToken(_) | SsoError::Exchange(_),
        ) => StatusCode::BAD_REQUEST,
        SsoRefused::Unconfirmed(SsoError::Unreachable(_) | SsoError::Configuration(_)) => {
            StatusCode::BAD_GATEWAY
        }
        SsoRefused::EmailNotVerified
        | SsoRefused::Deactivated
        | SsoRefused::NoAccount
        | SsoRefused::LinkedElsewhere => StatusCode::FORBIDDEN,
    }
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
    Ok(accounts::password_login_allowed(state).await?)
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
