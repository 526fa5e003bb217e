//! Accounts: first-run setup, logging in with a password (within the
//! login throttle) and with the organisation's OpenID Connect provider
//! (finding, linking or creating the person it vouches for), and hashing
//! passwords.

use std::net::IpAddr;

use super::{App, Error, Result};
use crate::credentials::{self, Verified};
use crate::domain::email::EmailAddress;
use crate::domain::ids::UserId;
use crate::domain::login_throttle::Bucket;
use crate::domain::password_policy::{self, PasswordContext};
use crate::domain::people::FirstRun;
use crate::sso::SsoError;
use crate::store::audit::Actor;
use crate::store::sso::{SignIn, SsoPolicy, VouchedFor};
use crate::store::users::User;
use crate::store::{self, StoreError};

/// The provider's answer to a sign-in, as the browser brought it back.
pub struct ProviderAnswer {
    /// The hash of the cookie naming the browser that started the sign-in.
    pub browser_hash: String,
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's error code (`access_denied` when the person cancelled).
    pub error: Option<String>,
}

/// Why a sign-in with the provider did not sign the person in.
pub enum SsoRefused {
    /// The provider answered with an error code.
    Provider(String),
    /// No sign-in started in this browser matches: used, expired, elsewhere.
    NotStartedHere,
    /// The provider's answer could not be confirmed.
    Unconfirmed(SsoError),
    EmailNotVerified,
    Deactivated,
    NoAccount,
    LinkedElsewhere,
}

impl SsoRefused {
    pub fn title(&self) -> &'static str {
        match self {
            SsoRefused::Provider(_) => "Sign-in not completed",
            SsoRefused::NotStartedHere | SsoRefused::Unconfirmed(_) => {
                "This sign-in cannot be completed"
            }
            SsoRefused::EmailNotVerified => "Your email address is not verified",
            SsoRefused::Deactivated => "Your account is deactivated",
            SsoRefused::NoAccount => "No Chorus account for you yet",
            SsoRefused::LinkedElsewhere => "This account belongs to another sign-in",
        }
    }

    /// What happened and what to do, naming the provider.
    pub fn message(&self, provider: &str) -> String {
        match self {
            SsoRefused::Provider(error) if error == "access_denied" => {
                format!("The sign-in was cancelled or refused at {provider}. Nothing was changed.")
            }
            SsoRefused::Provider(error) => format!(
                "{provider} could not complete the sign-in (it answered \u{201c}{}\u{201d}).",
                error.chars().take(64).collect::<String>()
            ),
            SsoRefused::NotStartedHere => {
                "The answer from the sign-in page does not match a sign-in started in this browser: \
                 it was already used, it has expired, or it was started elsewhere. Please start again."
                    .into()
            }
            SsoRefused::Unconfirmed(SsoError::WrongNonce | SsoError::InvalidToken(_)) => format!(
                "The answer from {provider} does not belong to this sign-in, so it was \
                 not accepted. Please start again."
            ),
            SsoRefused::Unconfirmed(SsoError::Exchange(_)) => format!(
                "{provider} did not confirm this sign-in (the code was already used or \
                 has expired). Please start again."
            ),
            SsoRefused::Unconfirmed(SsoError::Unreachable(_) | SsoError::Configuration(_)) => {
                format!("{provider} did not answer. Please try again in a few minutes.")
            }
            SsoRefused::EmailNotVerified => format!(
                "{provider} does not vouch for an email address of yours (it is missing or not \
                 verified), and Chorus matches people by verified email only. Verify your \
                 address with {provider} or ask your IT team, then try again."
            ),
            SsoRefused::Deactivated => {
                "Your Chorus account has been deactivated. Ask an administrator if you think \
                 this is a mistake."
                    .into()
            }
            SsoRefused::NoAccount => {
                "There is no Chorus account with your email address, and accounts are not \
                 created at first sign-in here. Ask an administrator to invite you."
                    .into()
            }
            SsoRefused::LinkedElsewhere => format!(
                "The Chorus account with your email address is linked to a different \
                 {provider} identity. Ask an administrator."
            ),
        }
    }
}

/// A person the provider vouched for, ready for a session.
pub struct SsoSignedIn {
    pub user: User,
    /// Where the sign-in was started from.
    pub next_path: String,
    /// The ID token, kept with the session for the provider's logout.
    pub id_token: String,
}

/// Finishes a sign-in: takes the one this browser started (once, even when
/// the provider answered with an error), exchanges the code, verifies the ID
/// token and its nonce, then finds, links or creates the person by their
/// verified email. NotFound when single sign-on is not configured.
pub async fn finish_sso(
    app: &App,
    answer: ProviderAnswer,
) -> Result<std::result::Result<SsoSignedIn, SsoRefused>> {
    let sso = app.sso.as_deref().ok_or(Error::NotFound)?;
    let state_hash = credentials::token_hash(answer.state.as_deref().unwrap_or_default());
    let (browser_hash, now) = (answer.browser_hash, app.clock.now_naive());
    let pending = app
        .db
        .run(move |conn| store::sso::take(conn, &state_hash, &browser_hash, now))
        .await?;
    if let Some(error) = answer.error {
        return Ok(Err(SsoRefused::Provider(error)));
    }
    let (Some(code), Some(pending)) = (answer.code, pending) else {
        return Ok(Err(SsoRefused::NotStartedHere));
    };
    let identity = match sso
        .finish(&code, &pending.pkce_verifier, &pending.nonce)
        .await
    {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on refused");
            return Ok(Err(SsoRefused::Unconfirmed(error)));
        }
    };
    let email = identity
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok());
    let (Some(email), true) = (email, identity.email_verified) else {
        return Ok(Err(SsoRefused::EmailNotVerified));
    };
    let vouched = VouchedFor {
        subject: identity.subject,
        email,
        name: identity.name,
        department: identity.department,
    };
    let outcome = app
        .db
        .run(move |conn| store::sso::sign_in(conn, &vouched, now))
        .await?;
    let user = match outcome {
        SignIn::Existing(user) => user,
        SignIn::Created(user) => {
            tracing::info!(user_id = user.id, "account created at first SSO sign-in");
            user
        }
        SignIn::Deactivated => return Ok(Err(SsoRefused::Deactivated)),
        SignIn::NoAccount => return Ok(Err(SsoRefused::NoAccount)),
        SignIn::LinkedElsewhere => return Ok(Err(SsoRefused::LinkedElsewhere)),
    };
    Ok(Ok(SsoSignedIn {
        user,
        next_path: pending.next_path,
        id_token: identity.id_token,
    }))
}

/// Ends a session the browser held before signing in again, so a sign-in
/// always starts a fresh one.
pub async fn end_previous_session(app: &App, session_hash: Option<String>) -> Result<()> {
    if let Some(old) = session_hash {
        app.db
            .run(move |conn| store::sessions::delete(conn, &old))
            .await?;
    }
    Ok(())
}

/// Hashes a password on the blocking pool (argon2 takes tens of
/// milliseconds).
pub async fn hash_password(password: String) -> Result<String> {
    actix_web::web::block(move || credentials::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(|e| Error::Internal(e.into()))
}

/// Checks a password against a stored hash on the blocking pool; with no
/// hash, the same work against a dummy one, so an unknown account costs
/// what a wrong password costs.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<Verified> {
    actix_web::web::block(move || match stored {
        Some(hash) => credentials::verify_password(&password, &hash),
        None => {
            credentials::verify_against_dummy(&password);
            Verified::No
        }
    })
    .await
    .map_err(|e| Error::Internal(e.into()))
}

/// A login with an email and a password.
pub struct PasswordAttempt {
    /// The email as typed.
    pub email: String,
    pub password: String,
    /// The client's address, which has its own throttle bucket.
    pub ip: IpAddr,
}

/// What became of a password login.
pub enum PasswordLogin {
    SignedIn(User),
    /// An unknown account, a wrong password or a deactivated account: one
    /// answer for all, so nothing tells them apart.
    Refused,
    /// Too many failed attempts: possible again in this many seconds.
    Locked {
        seconds: i64,
    },
}

/// Logs a person in with their password, within the login throttle: a
/// browser that signed in to the account before (`device_nonce` gives its
/// nonce for an account) has its own bucket; any other attempt counts
/// against the account and the address. A stale hash is renewed.
pub async fn log_in_with_password(
    app: &App,
    attempt: PasswordAttempt,
    device_nonce: impl FnOnce(UserId) -> Option<String>,
) -> Result<PasswordLogin> {
    // The account bucket is keyed by what was typed (normalised), existing
    // account or not.
    let key = EmailAddress::parse(&attempt.email)
        .map(|e| e.to_string())
        .unwrap_or_else(|_| attempt.email.trim().to_lowercase());
    let now = app.clock.now_naive();
    let lookup_key = key.clone();
    let user = app
        .db
        .run(move |conn| match EmailAddress::parse(&lookup_key) {
            Ok(email) => store::users::find_by_email(conn, &email),
            Err(_) => Ok(None),
        })
        .await?;
    let throttle = match user.as_ref().and_then(|u| device_nonce(UserId::new(u.id))) {
        Some(nonce) => vec![Bucket::Device(nonce)],
        None => vec![Bucket::Account(key), Bucket::Address(attempt.ip)],
    };
    let check = throttle.clone();
    let locked = app
        .db
        .run(move |conn| store::login_throttle::first_locked(conn, &check, now))
        .await?;
    if let Some(until) = locked {
        let seconds = (until - now).num_seconds().max(1);
        return Ok(PasswordLogin::Locked { seconds });
    }
    let stored = user
        .as_ref()
        .filter(|u| u.active)
        .and_then(|u| u.password_hash.clone());
    let verified = verify_password(attempt.password.clone(), stored).await?;
    let user = match (verified, user) {
        (Verified::No, _) | (_, None) => {
            app.db
                .run(move |conn| {
                    for bucket in &throttle {
                        store::login_throttle::record_failure(conn, bucket, now)?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await?;
            return Ok(PasswordLogin::Refused);
        }
        (verified, Some(user)) => {
            if verified == Verified::YesButRehash {
                let fresh = hash_password(attempt.password).await?;
                let user_id = user.id;
                app.db
                    .run(move |conn| store::users::set_password_hash(conn, user_id, &fresh, now))
                    .await?;
            }
            user
        }
    };
    // Success clears the account's (or this browser's) bucket, never the
    // address's: that one counts only failures, and forgets them in time.
    app.db
        .run(move |conn| {
            for bucket in &throttle {
                if !matches!(bucket, Bucket::Address(_)) {
                    store::login_throttle::clear(conn, bucket)?;
                }
            }
            Ok::<_, StoreError>(())
        })
        .await?;
    Ok(PasswordLogin::SignedIn(user))
}

/// Checks a password re-entered by a signed-in person (to change it, or to
/// delete the account), throttled like a login: on this browser's device
/// bucket when `device_nonce` names one, else on the account's. A waiting
/// bucket is TooManyRequests, even for the right password.
pub async fn verify_current_password(
    app: &App,
    user: &User,
    device_nonce: Option<String>,
    password: String,
) -> Result<bool> {
    let now = app.clock.now_naive();
    let bucket = match device_nonce {
        Some(nonce) => Bucket::Device(nonce),
        None => Bucket::Account(user.email.clone()),
    };
    let check = bucket.clone();
    let locked = app
        .db
        .run(move |conn| store::login_throttle::locked_until(conn, &check, now))
        .await?;
    if let Some(until) = locked {
        let seconds = (until - now).num_seconds().max(1);
        return Err(Error::TooManyRequests {
            retry_after_seconds: seconds,
            message: format!(
                "Too many wrong passwords. Try again in {} minutes.",
                (seconds + 59) / 60
            ),
        });
    }
    let verified = verify_password(password, user.password_hash.clone()).await?;
    if verified == Verified::No {
        app.db
            .run(move |conn| store::login_throttle::record_failure(conn, &bucket, now))
            .await?;
        return Ok(false);
    }
    Ok(true)
}

/// Why a new password was refused, field by field.
#[derive(Default)]
pub struct PasswordProblems {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// Changes a signed-in person's password: the current one checked (see
/// [`verify_current_password`]), the new one held to the password policy.
/// Every session of theirs ends; the caller starts a fresh one.
pub async fn change_password(
    app: &App,
    user: &User,
    device_nonce: Option<String>,
    current: String,
    new: String,
) -> Result<std::result::Result<(), PasswordProblems>> {
    let now = app.clock.now_naive();
    let org_name = app
        .db
        .run(|conn| store::org::settings(conn).map(|s| s.org_name))
        .await?;
    let mut problems = PasswordProblems::default();
    if !verify_current_password(app, user, device_nonce, current).await? {
        problems.current_password = Some("That is not your current password.".into());
    }
    let context = PasswordContext {
        email: &user.email,
        name: &user.name,
        org_name: &org_name,
    };
    problems.new_password = password_policy::check(&new, &context).err().map(|e| e.0);
    if problems.current_password.is_some() || problems.new_password.is_some() {
        return Ok(Err(problems));
    }
    let hash = hash_password(new).await?;
    let user = user.clone();
    app.db
        .run(move |conn| store::accounts::replace_password(conn, &user, &hash, now))
        .await?;
    Ok(Ok(()))
}

/// Sends a one-time link to set a new password, if the address has an
/// account (the caller answers the same either way). Requests have their
/// own buckets, per address and per account, so they never slow a login.
pub async fn request_password_reset(app: &App, email: EmailAddress, ip: IpAddr) -> Result<()> {
    let now = app.clock.now_naive();
    let buckets = vec![
        Bucket::ResetAddress(ip),
        Bucket::ResetAccount(email.to_string()),
    ];
    let locked = app
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
        return Err(Error::TooManyRequests {
            retry_after_seconds: (until - now).num_seconds().max(1),
            message: "Too many password reset requests. Please try again later.".into(),
        });
    }
    let (base_url, domain) = (app.base_url.clone(), app.mail_domain.clone());
    app.db
        .run(move |conn| {
            let mail = store::accounts::MailContext {
                base_url: &base_url,
                mail_domain: &domain,
            };
            store::accounts::request_password_reset(conn, &email, &mail, now)
        })
        .await?;
    Ok(())
}

/// Whether a first-run setup link still works: known, unused, unexpired,
/// and no active admin yet.
pub async fn setup_link_is_valid(app: &App, token: &str) -> Result<bool> {
    let hash = credentials::token_hash(token);
    let now = app.clock.now_naive();
    Ok(app
        .db
        .run(move |conn| {
            let valid = store::tokens::find_valid(conn, store::tokens::Purpose::Setup, &hash, now)?
                .is_some();
            Ok::<_, StoreError>(valid && !store::users::any_active_admin(conn)?)
        })
        .await?)
}

/// Names the organisation and creates its first admin (admin and
/// employee) with their password, from a setup link; every setup link
/// stops working. None when the link or the moment has passed (another
/// setup won the race).
pub async fn complete_setup(app: &App, token: &str, first: FirstRun) -> Result<Option<UserId>> {
    let password_hash = hash_password(first.password).await?;
    let token_hash = credentials::token_hash(token);
    let now = app.clock.now_naive();
    let first = store::accounts::FirstAdmin {
        org_name: first.org_name,
        admin: store::users::NewUser {
            email: first.email,
            name: first.name,
            roles: store::accounts::first_admin_roles(),
            department: None,
        },
        password_hash,
    };
    let created = app
        .db
        .run(move |conn| store::accounts::complete_setup(conn, &token_hash, first, now))
        .await?;
    if created.is_some() {
        tracing::info!("first admin account created; setup links retired");
    }
    Ok(created.map(UserId::new))
}

/// Whether people may log in with a password now (the admin's setting,
/// heeded only while single sign-on is configured).
pub async fn password_login_allowed(app: &App) -> Result<bool> {
    let sso_configured = app.sso.is_some();
    if !sso_configured {
        return Ok(true);
    }
    Ok(app
        .db
        .run(move |conn| {
            Ok::<_, StoreError>(store::org::settings(conn)?.password_login_allowed(sso_configured))
        })
        .await?)
}

/// A sign-in with the provider must come back within this time.
pub const SSO_SIGN_IN_MINUTES: i64 = 10;

/// A sign-in with the provider, started.
pub struct SsoStarted {
    /// The provider's page, where the browser goes.
    pub url: String,
    /// Names the browser that started the sign-in (kept in a cookie), so
    /// that an answer carried to another browser finds nothing.
    pub browser: String,
}

/// Starts a sign-in with the provider: a fresh state, nonce and PKCE
/// challenge, kept server-side until the answer takes them, and where to
/// go after (`next_path`, a path on this site). None when the provider
/// does not answer; NotFound when single sign-on is not configured.
pub async fn start_sso(app: &App, next_path: String) -> Result<Option<SsoStarted>> {
    let sso = app.sso.as_deref().ok_or(Error::NotFound)?;
    let authorization = match sso.authorize().await {
        Ok(authorization) => authorization,
        Err(error) => {
            tracing::warn!(error = %error, "single sign-on unavailable");
            return Ok(None);
        }
    };
    let browser = credentials::random_token();
    let browser_hash = credentials::token_hash(&browser);
    let state_hash = credentials::token_hash(&authorization.state);
    let now = app.clock.now_naive();
    app.db
        .run(move |conn| {
            store::sso::begin(
                conn,
                &store::sso::NewLogin {
                    state_hash: &state_hash,
                    browser_hash: &browser_hash,
                    nonce: &authorization.nonce,
                    pkce_verifier: &authorization.pkce_verifier,
                    next_path: &next_path,
                    now,
                    expires_at: now + chrono::Duration::minutes(SSO_SIGN_IN_MINUTES),
                },
            )
        })
        .await?;
    Ok(Some(SsoStarted {
        url: authorization.url,
        browser,
    }))
}

/// Sets how people may sign in: whether single sign-on creates accounts,
/// and whether passwords still work. Nobody may be locked out: passwords
/// go off only with single sign-on configured, and only by an admin who
/// has signed in with it. Refused with the reason otherwise.
pub async fn set_sso_policy(
    app: &App,
    policy: SsoPolicy,
    by: UserId,
) -> Result<std::result::Result<(), &'static str>> {
    let linked = app
        .db
        .run(move |conn| store::sso::is_linked(conn, by.get()))
        .await?;
    match (policy.password_login, app.sso.is_some(), linked) {
        (true, _, _) | (false, true, true) => {}
        (false, false, _) => {
            return Ok(Err(
                "Password login can only be turned off while single sign-on is configured \
                 (CHORUS_OIDC_ISSUER_URL).",
            ));
        }
        (false, true, false) => {
            return Ok(Err(
                "Sign in with single sign-on once yourself before you turn password login off, \
                 so that you can still log in afterwards.",
            ));
        }
    }
    let now = app.clock.now_naive();
    app.db
        .run(move |conn| store::sso::set_policy(conn, policy, Actor::Person(by.get()), now))
        .await?;
    Ok(Ok(()))
}
