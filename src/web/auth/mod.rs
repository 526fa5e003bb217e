//! Accounts: logging in (password or single sign-on), first-run setup,
//! passwords, and the session that follows. Shared here: where to go next,
//! starting a session, and hashing passwords off the executor.

pub mod device_cookie;
pub mod login;
pub mod password;
pub mod session;
pub mod setup;
pub mod sso;

use actix_web::{HttpRequest, HttpResponse};

use crate::credentials;
use crate::store::{self};
use crate::web::AppState;
use crate::web::auth::session::session_cookie;
use crate::web::error::{AppError, WebResult};
use crate::web::page::see_other;

/// Same words for an unknown account, a wrong password and a deactivated
/// account, so the login form reveals nothing about who has an account.
pub(super) const LOGIN_REFUSED: &str = "That email and password do not match an active account.";

/// Only paths on this site, so a crafted link cannot send people elsewhere.
pub(crate) fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control());
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

pub(super) fn client_ip(req: &HttpRequest, state: &AppState) -> std::net::IpAddr {
    crate::web::client_address::client_ip(
        req,
        state.config.trust_forwarded_for,
        &state.trusted_proxies,
    )
}

/// Starts a new session (a fresh id, never one the browser offered) and
/// answers with a redirect that sets its cookie.
pub(crate) async fn start_session(
    state: &AppState,
    user_id: i64,
    location: &str,
) -> WebResult<HttpResponse> {
    start_session_signed_in_with(state, user_id, location, None).await
}

/// [`start_session`], keeping the ID token of a single sign-on with it.
pub(crate) async fn start_session_signed_in_with(
    state: &AppState,
    user_id: i64,
    location: &str,
    sso_id_token: Option<String>,
) -> WebResult<HttpResponse> {
    let session_id = credentials::random_token();
    let id_hash = credentials::token_hash(&session_id);
    let now = state.clock.now_naive();
    let expires_at = now + state.config.session_max();
    state
        .db
        .run(move |conn| {
            store::sessions::create(
                conn,
                &store::sessions::NewSession {
                    id_hash: &id_hash,
                    user_id,
                    now,
                    expires_at,
                },
            )?;
            match sso_id_token {
                Some(token) => store::sso::remember_id_token(conn, &id_hash, &token),
                None => Ok(()),
            }
        })
        .await?;
    let mut response = see_other(location);
    response
        .add_cookie(&session_cookie(state, session_id))
        .map_err(AppError::internal)?;
    Ok(response)
}

pub(super) async fn hash_password(password: String) -> WebResult<String> {
    Ok(crate::app::accounts::hash_password(password).await?)
}
