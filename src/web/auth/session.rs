//! Who is asking: the session layer loads the server-side session named by
//! the cookie, gives every visitor a CSRF token, and refuses state-changing
//! requests without a valid token or from another origin.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;

use crate::credentials;
use crate::domain::roles::Role;
use crate::store::{self, users::User};
use crate::web::AppState;
use crate::web::error::{AppError, ErrorKind};

/// Form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Header that may carry it instead (scripts, API clients with a session).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Forms are small; a CSV upload is the largest thing a form sends.
pub const FORM_LIMIT: usize = 64 * 1024;
pub const MULTIPART_LIMIT: usize = 2 * 1024 * 1024;
/// A session is written back at most this often, not on every request.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// What the session layer learned about the visitor, in request extensions.
#[derive(Clone)]
pub struct Visitor {
    pub user: Option<User>,
    /// Hash of the session id, when logged in.
    pub session_hash: Option<String>,
    pub csrf_token: String,
    /// The path asked for, for the navigation's "you are here".
    pub path: String,
}

impl Visitor {
    pub fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }
}

pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-chorus_session"
    } else {
        "chorus_session"
    }
}

fn presession_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-chorus_pre"
    } else {
        "chorus_pre"
    }
}

pub(crate) fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    // The __Host- prefix requires Secure, Path=/ and no Domain (RFC 6265bis §4.1.3.2).
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish()
}

pub fn session_cookie(state: &AppState, session_id: String) -> Cookie<'static> {
    cookie(
        session_cookie_name(state.secure_cookies),
        session_id,
        state.secure_cookies,
    )
}

pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(
        session_cookie_name(state.secure_cookies),
        String::new(),
        state.secure_cookies,
    );
    c.set_max_age(time::Duration::ZERO);
    c
}

fn csrf_token_for(state: &AppState, basis: &str) -> String {
    credentials::mac(&state.secret_key, &["csrf", basis])
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// RFC 8058 one-click unsubscribe: mail clients POST without cookies or a
/// token; the unguessable token in the URL is the authorisation.
pub fn exempt_from_csrf(path: &str) -> bool {
    path.starts_with("/unsubscribe/")
}

/// Health, metrics, assets and calendar feeds (polled by calendar apps;
/// the secret address is their authorisation) need no session; the JSON API must not have
/// one: it is authenticated by its token alone, so a browser's cookie can
/// never act through it (and CSRF cannot apply).
fn skips_session(path: &str) -> bool {
    path == "/healthz"
        || path == "/metrics"
        || path.starts_with("/static/")
        || path.starts_with("/calendar/")
        || crate::web::api::is_api_path(path)
}

/// The middleware (registered with `from_fn`). Refusals become error pages
/// here, so that outer layers (security headers) still see a response.
pub async fn session_layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if skips_session(req.path()) {
        return next.call(req).await.map(|res| res.map_into_boxed_body());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .expect("AppState is registered");
    let prepared = match prepare(&mut req, &state).await {
        Ok(prepared) => prepared,
        Err(error) => return Ok(req.error_response(error)),
    };
    if let Some(user) = &prepared.visitor.user {
        // The user id is the one thing about a person the logs may carry.
        tracing::Span::current().record("user_id", user.id);
    }
    req.extensions_mut().insert(prepared.visitor);
    let mut res = next.call(req).await?.map_into_boxed_body();
    let secure = state.secure_cookies;
    if let Some(value) = prepared.new_presession {
        let _ =
            res.response_mut()
                .add_cookie(&cookie(presession_cookie_name(secure), value, secure));
    }
    if prepared.dead_session_cookie && !res.response().headers().contains_key(header::SET_COOKIE) {
        let _ = res.response_mut().add_cookie(&removal_cookie(&state));
    }
    Ok(res)
}

struct Prepared {
    visitor: Visitor,
    new_presession: Option<String>,
    dead_session_cookie: bool,
}

async fn prepare(req: &mut ServiceRequest, state: &AppState) -> Result<Prepared, AppError> {
    let secure = state.secure_cookies;

    // 1. A live session, if the cookie names one.
    let session_id = req
        .cookie(session_cookie_name(secure))
        .map(|c| c.value().to_string())
        .filter(|id| !id.is_empty());
    let mut live = None;
    if let Some(id) = session_id.clone() {
        let id_hash = credentials::token_hash(&id);
        let now = state.clock.now_naive();
        let idle = state.config.session_idle();
        let lookup_hash = id_hash.clone();
        let lookup = state
            .db
            .read(move |conn| store::sessions::find_live(conn, &lookup_hash, now, idle))
            .await?;
        // The writes, when due, on the blocking pool (they may wait for the
        // write lock).
        let write_hash = id_hash.clone();
        let user = match lookup {
            store::sessions::Lookup::Live(found) => {
                if (now - found.last_seen_at).num_seconds() >= TOUCH_EVERY_SECONDS {
                    state
                        .db
                        .write(move |conn| store::sessions::touch(conn, &write_hash, now))
                        .await?;
                }
                Some(found.user)
            }
            store::sessions::Lookup::Ended => {
                state
                    .db
                    .write(move |conn| store::sessions::delete(conn, &write_hash))
                    .await?;
                None
            }
            store::sessions::Lookup::Unknown => None,
        };
        if let Some(user) = user {
            live = Some((user, id_hash, id));
        }
    }

    // 2. The CSRF token: bound to the session, or to a pre-session cookie
    //    for visitors who are not logged in (login, setup, invitations).
    let mut new_presession = None;
    let basis = match &live {
        Some((_, _, id)) => id.clone(),
        None => match req.cookie(presession_cookie_name(secure)) {
            Some(c) if !c.value().is_empty() => c.value().to_string(),
            _ => {
                let fresh = credentials::random_token();
                new_presession = Some(fresh.clone());
                fresh
            }
        },
    };
    let csrf_token = csrf_token_for(state, &basis);

    // 3. State-changing requests need the token and a same-origin Origin.
    if !is_safe(req.method()) && !exempt_from_csrf(req.path()) {
        check_origin(req, state)?;
        let sent = read_csrf_token(req).await?;
        let valid = new_presession.is_none()
            && sent
                .as_deref()
                .is_some_and(|sent| credentials::same_secret(sent, &csrf_token));
        if !valid {
            return Err(AppError::new(ErrorKind::CsrfRejected));
        }
    }

    let dead_session_cookie = session_id.is_some() && live.is_none();
    Ok(Prepared {
        visitor: Visitor {
            session_hash: live.as_ref().map(|(_, hash, _)| hash.clone()),
            user: live.map(|(user, _, _)| user),
            csrf_token,
            path: req.path().to_string(),
        },
        new_presession,
        dead_session_cookie,
    })
}

/// A cross-site form post carries the attacker's Origin (or, failing that,
/// Referer); refuse it before looking at the body (OWASP CSRF cheat sheet).
fn check_origin(req: &ServiceRequest, state: &AppState) -> Result<(), AppError> {
    let headers = req.headers();
    let claimed = match headers.get(header::ORIGIN) {
        Some(origin) => origin.to_str().unwrap_or("null").to_string(),
        None => match headers.get(header::REFERER).and_then(|r| r.to_str().ok()) {
            Some(referer) => match url::Url::parse(referer) {
                Ok(url) => url.origin().ascii_serialization(),
                Err(_) => "null".to_string(),
            },
            // Neither header: not a browser form post; the token decides.
            None => return Ok(()),
        },
    };
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    if claimed.eq_ignore_ascii_case(&state.base_origin) || claimed.eq_ignore_ascii_case(&own) {
        Ok(())
    } else {
        Err(AppError::new(ErrorKind::CsrfRejected))
    }
}

/// Reads the body (within limits), finds the token, and puts the body back
/// for the handler.
async fn read_csrf_token(req: &mut ServiceRequest) -> Result<Option<String>, AppError> {
    if let Some(value) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return Ok(Some(value.to_string()));
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let multipart = content_type.starts_with("multipart/form-data");
    let urlencoded = content_type.starts_with("application/x-www-form-urlencoded");
    if !multipart && !urlencoded {
        return Ok(None);
    }
    let limit = if multipart {
        MULTIPART_LIMIT
    } else {
        FORM_LIMIT
    };
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limit
    {
        return Err(AppError::new(ErrorKind::PayloadTooLarge));
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| AppError::bad_request("The request body could not be read."))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::new(ErrorKind::PayloadTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let token = if multipart {
        multipart_field(&body, CSRF_FIELD)
    } else {
        url::form_urlencoded::parse(&body)
            .find(|(name, _)| name == CSRF_FIELD)
            .map(|(_, value)| value.into_owned())
    };
    req.set_payload(Payload::from(body));
    Ok(token)
}

/// The value of a small text field in a multipart/form-data body.
fn multipart_field(body: &[u8], name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let start = find(body, marker.as_bytes())?;
    let after_marker = &body[start + marker.len()..];
    let value_start = find(after_marker, b"\r\n\r\n")? + 4;
    let value = &after_marker[value_start..];
    let value_end = find(value, b"\r\n")?;
    String::from_utf8(value[..value_end].to_vec()).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The visitor as the session layer saw them (always present on pages).
impl FromRequest for Visitor {
    type Error = AppError;
    type Future = std::future::Ready<Result<Visitor, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Visitor>()
                .cloned()
                .ok_or_else(|| AppError::internal(MissingSessionLayer)),
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the session layer did not run for this route")]
struct MissingSessionLayer;

/// A logged-in person. Routes are authorised centrally (see `web::routes`);
/// this extractor is how a handler gets at the person.
pub struct SignedIn {
    pub user: User,
    pub session_hash: String,
    pub csrf_token: String,
    pub path: String,
}

impl SignedIn {
    /// The signed-in person's id.
    pub fn id(&self) -> crate::domain::ids::UserId {
        crate::domain::ids::UserId::new(self.user.id)
    }

    pub fn has(&self, role: Role) -> bool {
        self.user.roles.has(role)
    }
}

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<SignedIn, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let visitor = req.extensions().get::<Visitor>().cloned();
        std::future::ready(match visitor {
            Some(Visitor {
                user: Some(user),
                session_hash: Some(session_hash),
                csrf_token,
                path,
            }) => Ok(SignedIn {
                user,
                session_hash,
                csrf_token,
                path,
            }),
            _ => Err(AppError::forbidden()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_fields_are_found_by_name() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n\r\nx\r\n--b--\r\n";
        assert_eq!(
            multipart_field(body, "csrf_token").as_deref(),
            Some("abc123")
        );
        assert_eq!(multipart_field(body, "other"), None);
    }
}
