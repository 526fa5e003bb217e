//! The JSON API under /api/v1: token authentication (`Authorization:
//! Bearer`), no cookies and so no CSRF, one error shape, and the OpenAPI
//! document generated from the handlers. One module per area; handlers call
//! the same store/domain code (and the same web helpers) as the pages.

pub mod consent;
pub mod docs;
pub mod error;
pub mod feeds;
pub mod me;
pub mod posts;
pub mod queue;
pub mod reports;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::domain::api_access::{self, Need, Scope, TokenKind};
use crate::domain::roles::Roles;
use crate::store::{self, users::User};
pub use error::{ApiError, ApiResult};

/// Where the API lives.
pub const PREFIX: &str = "/api/";
/// The largest JSON body the API reads.
pub const JSON_LIMIT: usize = 64 * 1024;

pub fn is_api_path(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// The caller, as its token says (in request extensions).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token_id: i64,
    pub kind: TokenKind,
    pub scope: Scope,
    /// The person (personal token) or the admin who created the service token.
    pub owner: User,
    /// What the caller acts as (see `api_access::acting_roles`).
    pub roles: Roles,
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ApiCaller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<ApiCaller>()
                .cloned()
                .ok_or_else(ApiError::unauthorized),
        )
    }
}

fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    crate::credentials::bearer_token(value).map(str::to_string)
}

fn reads_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn caller_of(req: &ServiceRequest, need: Need) -> ApiResult<ApiCaller> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::unauthorized)?;
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    let now = state.clock.now_naive();
    let found = state
        .db
        .run(move |conn| store::api_tokens::authenticate(conn, &token, now))
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let roles = api_access::acting_roles(found.kind, found.owner.roles);
    if let Some(why) = api_access::refusal(found.kind, roles, need) {
        return Err(ApiError::forbidden(why));
    }
    if found.scope == Scope::Read && !reads_only(req.method()) {
        return Err(ApiError::insufficient_scope());
    }
    Ok(ApiCaller {
        token_id: found.token_id,
        kind: found.kind,
        scope: found.scope,
        owner: found.owner,
        roles,
    })
}

/// The check of `Access::Token` routes: a valid token whose holder meets the
/// route's need, and a read-write scope for anything but reading.
pub async fn authorize(
    need: Need,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    match caller_of(&req, need).await {
        Ok(caller) => {
            tracing::Span::current().record("user_id", caller.owner.id);
            req.extensions_mut().insert(caller);
            next.call(req).await.map(|res| res.map_into_boxed_body())
        }
        Err(error) => Ok(req.error_response(error)),
    }
}

/// Extractor settings for API resources: every refusal in the error shape.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|e, _| error::json_error(e).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|e, _| ApiError::bad_request(format!("Bad query parameters: {e}")).into())
}

/// A method the resource does not have.
pub async fn method_not_allowed() -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not available here; see /api/v1/openapi.json.",
    )
    .error_response()
}

/// An optional JSON body: empty means the defaults; anything else must be
/// JSON of the expected shape.
pub fn optional_json<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    body: &web::Bytes,
) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        });
    if !is_json {
        return Err(error::json_error(
            actix_web::error::JsonPayloadError::ContentType,
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The body is not the JSON expected here: {e}")))
}

/// Timestamps in the API: RFC 3339, UTC.
pub fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}
