//! Accounts: log in and out, first-run setup, setting a password from a
//! one-time link, and changing one's password.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::{AppError, ErrorKind, WebResult};
use super::page::{PageContext, ok, refused, render, see_other};
use super::session::{SignedIn, Visitor, removal_cookie, session_cookie};
use crate::credentials::{self, Verified};
use crate::domain::email::EmailAddress;
use crate::domain::login_throttle::Bucket;
use crate::domain::names::PersonName;
use crate::domain::password_policy::{self, PasswordContext};
use crate::store::tokens::Purpose;
use crate::store::{self, StoreError, accounts, users};

/// Same words for an unknown account, a wrong password and a deactivated
/// account, so the login form reveals nothing about who has an account.
const LOGIN_REFUSED: &str = "That email and password do not match an active account.";

/// Only paths on this site, so a crafted link cannot send people elsewhere.
pub(super) fn safe_next(next: &str) -> String {
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

fn client_ip(req: &HttpRequest, state: &AppState) -> std::net::IpAddr {
    super::client_address::client_ip(
        req,
        state.config.trust_forwarded_for,
        &state.trusted_proxies,
    )
}

/// Starts a new session (a fresh id, never one the browser offered) and
/// answers with a redirect that sets its cookie.
pub(super) async fn start_session(
    state: &AppState,
    user_id: i64,
    location: &str,
) -> WebResult<HttpResponse> {
    start_session_signed_in_with(state, user_id, location, None).await
}

/// [`start_session`], keeping the ID token of a single sign-on with it.
pub(super) async fn start_session_signed_in_with(
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

async fn hash_password(password: String) -> WebResult<String> {
    web::block(move || credentials::hash_password(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)
}

// ---- login and logout ----------------------------------------------------

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
    login: super::sso::LoginOptions,
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
        login: super::sso::login_options(&state).await?,
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
    let options = super::sso::login_options(&state).await?;
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
                    login: super::sso::LoginOptions {
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
        .and_then(|u| super::device_cookie::nonce_for(&state, &req, u.id));
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
        .add_cookie(&super::device_cookie::issue(&state, user.id))
        .map_err(AppError::internal)?;
    Ok(response)
}

pub async fn logout(state: web::Data<AppState>, visitor: Visitor) -> WebResult<HttpResponse> {
    let mut location = "/login".to_string();
    if let Some(hash) = visitor.session_hash {
        // A single sign-on session goes on to the provider's logout.
        if let Some(provider_logout) = super::sso::end_session(&state, hash).await? {
            location = provider_logout;
        }
    }
    let mut response = see_other(&location);
    response
        .add_cookie(&removal_cookie(&state))
        .map_err(AppError::internal)?;
    Ok(response)
}

// ---- first-run setup -----------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetupForm {
    org_name: String,
    name: String,
    email: String,
    password: String,
}

#[derive(Default)]
struct SetupErrors {
    org_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

impl SetupErrors {
    fn any(&self) -> bool {
        self.org_name.is_some()
            || self.name.is_some()
            || self.email.is_some()
            || self.password.is_some()
    }
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: PageContext,
    org_name: String,
    name: String,
    email: String,
    errors: SetupErrors,
}

async fn setup_link_is_valid(state: &AppState, token: &str) -> WebResult<bool> {
    let hash = credentials::token_hash(token);
    let now = state.clock.now_naive();
    Ok(state
        .db
        .run(move |conn| {
            let valid = store::tokens::find_valid(conn, Purpose::Setup, &hash, now)?.is_some();
            Ok::<_, StoreError>(valid && !users::any_active_admin(conn)?)
        })
        .await?)
}

pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    if !setup_link_is_valid(&state, &token).await? {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    ok(&SetupPage {
        page: PageContext::from(&visitor),
        org_name: String::new(),
        name: String::new(),
        email: String::new(),
        errors: SetupErrors::default(),
    })
}

pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    if !setup_link_is_valid(&state, &token).await? {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    let mut errors = SetupErrors::default();
    let org_name = PersonName::parse(&form.org_name)
        .map_err(|_| "Enter your organisation's name (at most 100 characters).".to_string());
    let name = PersonName::parse(&form.name).map_err(|e| e.0);
    let email = EmailAddress::parse(&form.email).map_err(|e| e.0);
    errors.org_name = org_name.as_ref().err().cloned();
    errors.name = name.as_ref().err().cloned();
    errors.email = email.as_ref().err().cloned();
    let context = PasswordContext {
        email: form.email.trim(),
        name: form.name.trim(),
        org_name: form.org_name.trim(),
    };
    errors.password = password_policy::check(&form.password, &context)
        .err()
        .map(|e| e.0);
    let (Ok(org_name), Ok(name), Ok(email), false) = (org_name, name, email, errors.any()) else {
        return refused(&SetupPage {
            page: PageContext::from(&visitor),
            org_name: form.org_name,
            name: form.name,
            email: form.email,
            errors,
        });
    };
    let hash = hash_password(form.password).await?;
    let token_hash = credentials::token_hash(&token);
    let now = state.clock.now_naive();
    let first = accounts::FirstAdmin {
        org_name,
        admin: users::NewUser {
            email,
            name,
            roles: accounts::first_admin_roles(),
            department: None,
        },
        password_hash: hash,
    };
    let created = state
        .db
        .run(move |conn| accounts::complete_setup(conn, &token_hash, first, now))
        .await?;
    match created {
        Some(user_id) => {
            tracing::info!("first admin account created; setup links retired");
            start_session(&state, user_id, "/admin/people").await
        }
        None => Err(AppError::new(ErrorKind::LinkExpired)),
    }
}

// ---- setting a password from a one-time link -----------------------------

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
    if !super::sso::password_login_allowed(&state).await? {
        return super::sso::password_login_off(&state, &visitor);
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
    if !super::sso::password_login_allowed(&state).await? {
        return super::sso::password_login_off(&state, &visitor);
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
    let user = signed_in.user.clone();
    let now = state.clock.now_naive();
    let org_name = state
        .db
        .run(|conn| store::org::settings(conn).map(|s| s.org_name))
        .await?;
    let mut errors = ChangePasswordErrors::default();
    if !verify_current_password(&state, &req, &user, form.current_password.clone()).await? {
        errors.current_password = Some("That is not your current password.".into());
    }
    let context = PasswordContext {
        email: &user.email,
        name: &user.name,
        org_name: &org_name,
    };
    errors.new_password = password_policy::check(&form.new_password, &context)
        .err()
        .map(|e| e.0);
    if errors.current_password.is_some() || errors.new_password.is_some() {
        return refused(&ChangePasswordPage {
            page: PageContext::from(&signed_in),
            email: user.email,
            changed: false,
            errors,
        });
    }
    let hash = hash_password(form.new_password).await?;
    let user_id = user.id;
    state
        .db
        .run(move |conn| accounts::replace_password(conn, &user, &hash, now))
        .await?;
    // Every session, this one included, ends; a fresh one continues here.
    start_session(&state, user_id, "/me/password?changed=1").await
}

/// Checks a password re-entered by a signed-in person (to change it, or to
/// delete the account), throttled like a login: on this browser's device
/// bucket when it carries a valid device cookie, else on the account's. A
/// waiting bucket answers 429 with Retry-After, even for the right password.
pub(super) async fn verify_current_password(
    state: &AppState,
    req: &HttpRequest,
    user: &users::User,
    password: String,
) -> WebResult<bool> {
    let now = state.clock.now_naive();
    let bucket = match super::device_cookie::nonce_for(state, req, user.id) {
        Some(nonce) => Bucket::Device(nonce),
        None => Bucket::Account(user.email.clone()),
    };
    let check = bucket.clone();
    let locked = state
        .db
        .run(move |conn| store::login_throttle::locked_until(conn, &check, now))
        .await?;
    if let Some(until) = locked {
        let seconds = (until - now).num_seconds().max(1);
        return Err(AppError::new(ErrorKind::TooManyRequests {
            retry_after_seconds: seconds,
            message: format!(
                "Too many wrong passwords. Try again in {} minutes.",
                (seconds + 59) / 60
            ),
        }));
    }
    let stored = user.password_hash.clone();
    let verified = verify_password_off_executor(password, stored).await?;
    if verified == Verified::No {
        state
            .db
            .run(move |conn| store::login_throttle::record_failure(conn, &bucket, now))
            .await?;
        return Ok(false);
    }
    Ok(true)
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
    if !super::sso::password_login_allowed(&state).await? {
        return super::sso::password_login_off(&state, &visitor);
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
    if !super::sso::password_login_allowed(&state).await? {
        return super::sso::password_login_off(&state, &visitor);
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
    // Reset requests have their own buckets: they never slow down a login.
    let ip = client_ip(&req, &state);
    let now = state.clock.now_naive();
    let buckets = vec![
        Bucket::ResetAddress(ip),
        Bucket::ResetAccount(email.to_string()),
    ];
    let locked = state
        .db
        .run(move |conn| {
            // A request that starts a wait is refused too; one made while
            // waiting is not counted, so the wait ends when it says.
            if let Some(until) = store::login_throttle::first_locked(conn, &buckets, now)? {
                return Ok::<_, StoreError>(Some(until));
            }
            for bucket in &buckets {
                store::login_throttle::record_failure(conn, bucket, now)?;
            }
            store::login_throttle::first_locked(conn, &buckets, now)
        })
        .await?;
    if let Some(until) = locked {
        return Err(AppError::new(ErrorKind::TooManyRequests {
            retry_after_seconds: (until - now).num_seconds().max(1),
            message: "Too many password reset requests. Please try again later.".into(),
        }));
    }
    let (base_url, domain) = (state.base_url.clone(), state.mail_domain.clone());
    let address = email.clone();
    state
        .db
        .run(move |conn| {
            let mail = accounts::MailContext {
                base_url: &base_url,
                mail_domain: &domain,
            };
            accounts::request_password_reset(conn, &address, &mail, now)
        })
        .await?;
    ok(&ForgotPage {
        page: PageContext::from(&visitor),
        email: email.to_string(),
        error: None,
        sent: true,
    })
}

/// Checks a password against a stored hash on the blocking pool (argon2
/// takes tens of milliseconds); with no hash, the same work against a dummy
/// one, so an unknown account costs what a wrong password costs.
async fn verify_password_off_executor(
    password: String,
    stored: Option<String>,
) -> WebResult<Verified> {
    web::block(move || match stored {
        Some(hash) => credentials::verify_password(&password, &hash),
        None => {
            credentials::verify_against_dummy(&password);
            Verified::No
        }
    })
    .await
    .map_err(AppError::internal)
}
