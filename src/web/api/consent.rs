//! The caller's own consent: current choices and every event of the ledger.
//! Read only: a yes is given on the Sharing choices page, where the policy
//! it is given under is in front of the person.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiCaller, ApiResult, utc};
use crate::app::consent;
use crate::domain::ids::UserId;
use crate::web::AppState;

#[derive(Serialize, ToSchema)]
pub struct ConsentResponse {
    /// The current social-media policy version, if one is published.
    pub policy_version: Option<i64>,
    /// Current state per purpose the caller ever chose for.
    pub choices: Vec<ConsentChoice>,
    /// The append-only ledger, oldest first.
    pub events: Vec<ConsentEventJson>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentChoice {
    /// `share_suggestions` or `email_digest`.
    pub purpose: String,
    /// Platform slug for `share_suggestions`, else null.
    pub platform: Option<String>,
    /// `given`, `refused`, `withdrawn` or `needs_reconsent`.
    pub status: String,
    pub policy_version: i64,
    /// The caller's own instance (Mastodon), if any.
    pub instance: Option<String>,
    pub since: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentEventJson {
    /// Also the id of its receipt: /me/receipts/{id}.json
    pub id: String,
    pub at: DateTime<Utc>,
    pub purpose: String,
    pub platform: Option<String>,
    /// `given`, `regiven`, `refused`, `withdrawn` or `invalidated`.
    pub action: String,
    /// `subject` (the person) or `system`.
    pub actor: String,
    pub policy_version: i64,
    pub policy_sha256: String,
    pub collection_method: String,
}

fn platform(slug: &str) -> Option<String> {
    (!slug.is_empty()).then(|| slug.to_string())
}

#[utoipa::path(
    get,
    path = "/api/v1/consent",
    operation_id = "consent_show",
    tag = "consent",
    responses((status = 200, description = "The caller's consent state and events", body = ConsentResponse)),
    security(("bearer" = []))
)]
/// The caller's consent choices and their full history.
pub async fn show(state: web::Data<AppState>, caller: ApiCaller) -> ApiResult<HttpResponse> {
    let (policy_version, states, events) =
        consent::ledger(&state, UserId::new(caller.owner.id)).await?;
    Ok(HttpResponse::Ok().json(ConsentResponse {
        policy_version,
        choices: states
            .into_iter()
            .map(|s| ConsentChoice {
                purpose: s.purpose.name().to_string(),
                platform: platform(s.purpose.platform_slug()),
                status: s.status.as_str().to_string(),
                policy_version: s.policy_version,
                instance: s.instance,
                since: utc(s.updated_at),
            })
            .collect(),
        events: events
            .into_iter()
            .map(|e| ConsentEventJson {
                id: e.event_uuid,
                at: utc(e.created_at),
                platform: platform(&e.platform),
                purpose: e.purpose,
                action: e.action,
                actor: e.actor,
                policy_version: e.policy_version,
                policy_sha256: e.policy_sha256,
                collection_method: e.collection_method,
            })
            .collect(),
    }))
}
