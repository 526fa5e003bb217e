//! Who the token speaks for.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiCaller, ApiResult};
use crate::domain::api_access::TokenKind;
use crate::domain::roles::Role;

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// `personal` or `service`.
    pub token_kind: String,
    /// `read` or `read-write`.
    pub scope: String,
    /// For a service token: `reports` or `comms`; else null.
    pub service_role: Option<String>,
    /// The person a personal token speaks for; null for a service token.
    pub user: Option<MeUser>,
    /// The roles the caller acts with.
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MeUser {
    pub id: i64,
    pub name: String,
    pub email: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "me_show",
    tag = "me",
    responses((status = 200, description = "The caller", body = MeResponse)),
    security(("bearer" = []))
)]
/// Who the token speaks for and what it may do.
pub async fn show(caller: ApiCaller) -> ApiResult<HttpResponse> {
    let (user, service_role) = match caller.kind {
        TokenKind::Personal => (
            Some(MeUser {
                id: caller.owner.id,
                name: caller.owner.name.clone(),
                email: caller.owner.email.clone(),
            }),
            None,
        ),
        TokenKind::Service(role) => (None, Some(role.as_str().to_string())),
    };
    Ok(HttpResponse::Ok().json(MeResponse {
        token_kind: caller.kind.as_str().to_string(),
        scope: caller.scope.as_str().to_string(),
        service_role,
        user,
        roles: Role::ALL
            .into_iter()
            .filter(|r| caller.roles.has(*r))
            .map(|r| r.as_str().to_string())
            .collect(),
    }))
}
