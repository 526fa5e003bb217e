//! The caller's queue: posts offered to them, with the share-intent URL per
//! platform; share (caps and consent enforced as on the page), undo a share
//! made moments ago, and dismiss.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiCaller, ApiError, ApiResult, optional_json, utc};
use crate::app::queue::{self, MAX_PAGE, Shared, Situation, Undone};
use crate::domain::ids::{PostId, UserId};
use crate::domain::platforms::Platform;
use crate::domain::share_caps::UNDO_WINDOW;
use crate::web::AppState;

#[derive(Serialize, ToSchema)]
pub struct QueueResponse {
    /// Newest first.
    pub posts: Vec<QueuePost>,
    pub page: i64,
    pub pages: i64,
    pub total: i64,
}

/// What the queue page shows of a post, no more: the hub's internal title
/// stays with the hub.
#[derive(Serialize, ToSchema)]
pub struct QueuePost {
    pub id: i64,
    pub link: String,
    /// The link's preview, as the queue card shows it.
    pub preview: Option<CardPreview>,
    /// One offer per platform the caller said yes to and the post is for.
    pub offers: Vec<Offer>,
}

/// A link preview on a queue card: read from the page once by Chorus.
#[derive(Serialize, ToSchema)]
pub struct CardPreview {
    pub title: String,
    pub description: String,
    /// The image on Chorus's own origin (a path), if the preview has one.
    pub image_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Offer {
    /// Platform slug, e.g. `linkedin`, `x`, `mastodon`.
    pub platform: String,
    pub platform_name: String,
    /// The caption offered to the caller, with the disclosure.
    pub text: String,
    /// The post's link as shared on this platform: with the organisation's
    /// UTM tags when they are on (`utm_source` names the platform, never a
    /// person). The share dialog carries this link.
    pub link: String,
    /// The platform's own share dialog. Opening it does not record a share:
    /// `POST …/share/{platform}` does, within the caller's caps.
    pub share_url: String,
    /// Whether the platform's share dialog takes a pre-filled text.
    pub text_editable: bool,
    pub shared: bool,
    /// When the caller shared it on this platform, if in the last 7 days.
    pub shared_at: Option<DateTime<Utc>>,
    /// Until when `POST …/undo/{platform}` may take the share back.
    pub undo_until: Option<DateTime<Utc>>,
    pub remaining_today: u32,
    pub remaining_this_week: u32,
    /// Set when a cap stops sharing now: when it is possible again.
    pub next_share_at: Option<DateTime<Utc>>,
    /// True when the caller set their cap for the platform to 0.
    pub paused: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Page of 20 posts, from 1.
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/queue",
    operation_id = "queue_list",
    tag = "queue",
    params(QueueQuery),
    responses((status = 200, description = "The caller's queue", body = QueueResponse)),
    security(("bearer" = []))
)]
/// The caller's queue: published posts for the platforms they said yes to.
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiCaller,
    query: web::Query<QueueQuery>,
) -> ApiResult<HttpResponse> {
    let page_number = query.page.unwrap_or(1);
    if !(1..=MAX_PAGE).contains(&page_number) {
        return Err(ApiError::bad_request(format!(
            "page runs from 1 to {MAX_PAGE}."
        )));
    }
    let loaded = queue::load(&state, &caller.owner, page_number).await?;
    let posts = loaded
        .posts(UserId::new(caller.owner.id))
        .into_iter()
        .map(|shown| queue_post(shown, &loaded.situation))
        .collect::<ApiResult<_>>()?;
    Ok(HttpResponse::Ok().json(QueueResponse {
        posts,
        page: page_number,
        pages: loaded.pages(),
        total: loaded.total,
    }))
}

/// A post of the page as the API shows it, with each offer's share dialog.
fn queue_post(shown: queue::QueuePost<'_>, situation: &Situation) -> ApiResult<QueuePost> {
    let mut offers = Vec::new();
    for offer in shown.offers {
        let instance = situation.instance(offer.platform);
        let next = situation.standings[&offer.platform].next;
        offers.push(Offer {
            platform: offer.platform.slug().to_string(),
            platform_name: offer.platform.name().to_string(),
            share_url: queue::share_intent(offer.platform, &offer.text, &offer.link, instance)?,
            link: offer.link.to_string(),
            text: offer.text.to_string(),
            text_editable: offer.editable,
            shared: offer.shared,
            shared_at: offer.shared_at.map(utc),
            undo_until: offer
                .shared_at
                .filter(|_| offer.undo)
                .map(|at| utc(at + UNDO_WINDOW)),
            remaining_today: offer.remaining_day,
            remaining_this_week: offer.remaining_week,
            next_share_at: next.flatten().map(utc),
            paused: next == Some(None),
        });
    }
    Ok(QueuePost {
        id: shown.id,
        link: shown.link.to_string(),
        preview: shown.preview.map(|p| CardPreview {
            title: p.title.clone(),
            description: p.description.clone(),
            image_url: p.image.as_ref().map(|i| i.path()),
        }),
        offers,
    })
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ShareRequest {
    /// The caller's own wording, where the platform takes a pre-filled text;
    /// checked like the queue page checks it (disclosure kept, within the
    /// platform's limit). Leave out to share the offered text.
    pub text: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ShareResponse {
    pub post_id: i64,
    pub platform: String,
    /// Open this to share: the platform's own share dialog.
    pub share_url: String,
    /// True when this share had been recorded before (not counted twice).
    pub already_shared: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/share/{platform}",
    operation_id = "queue_share",
    tag = "queue",
    params(
        ("id" = i64, Path, description = "Post id", example = 1),
        ("platform" = String, Path, description = "Platform slug, e.g. linkedin", example = "x")
    ),
    request_body(content = Option<ShareRequest>, content_type = "application/json", description = "Optional; an empty body shares the offered text"),
    responses(
        (status = 200, description = "Recorded; open `share_url`", body = ShareResponse),
        (status = 404, description = "No such post offered to the caller on this platform: unknown, not published for them, or a platform they have not said yes to", body = super::error::ErrorBody),
        (status = 429, description = "Past the caller's cap (`Retry-After` says when it is possible again) or sharing paused", body = super::error::ErrorBody,
            headers(("Retry-After" = i64, description = "Seconds until the next share is possible"))),
    ),
    security(("bearer" = []))
)]
/// Records a share within the caller's caps and answers the share-intent URL.
pub async fn share(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(i64, String)>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (post_id, slug) = path.into_inner();
    let request: ShareRequest = optional_json(&req, &body)?;
    let platform = Platform::from_slug(&slug).ok_or_else(ApiError::not_found)?;
    let (user, post) = (UserId::new(caller.owner.id), PostId::new(post_id));
    let typed = request.text.unwrap_or_default();
    match queue::share(&state, user, post, platform, &typed).await? {
        Shared::Recorded { url, already } => Ok(HttpResponse::Ok().json(ShareResponse {
            post_id,
            platform: platform.slug().to_string(),
            share_url: url,
            already_shared: already,
        })),
        Shared::TextRefused { problem, .. } => Err(ApiError::field("text", problem)),
        Shared::Wait {
            message,
            retry_after_seconds: Some(seconds),
        } => Err(ApiError::too_many("cap_reached", message, Some(seconds))),
        Shared::Wait {
            message,
            retry_after_seconds: None,
        } => Err(ApiError::too_many("sharing_paused", message, None)),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/dismiss",
    operation_id = "queue_dismiss",
    tag = "queue",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    responses(
        (status = 204, description = "Not for me: the post leaves the caller's queue"),
        (status = 404, description = "No such post offered to the caller", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// "Not for me": hides a post from the caller's queue, as the page does.
pub async fn dismiss(
    state: web::Data<AppState>,
    caller: ApiCaller,
    post: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    queue::dismiss(&state, UserId::new(caller.owner.id), PostId::new(*post)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/undo/{platform}",
    operation_id = "queue_undo",
    tag = "queue",
    params(
        ("id" = i64, Path, description = "Post id", example = 1),
        ("platform" = String, Path, description = "Platform slug, e.g. linkedin", example = "x")
    ),
    responses(
        (status = 204, description = "The share is taken back: it no longer counts toward the caller's caps, nor in any report"),
        (status = 404, description = "The caller has no share of this post on this platform", body = super::error::ErrorBody),
        (status = 409, description = "Past the window (`undo_until` of the offer): the share stays", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Undo: takes back the caller's own share made in the last 10 minutes
/// (the dialog was closed without posting), as the queue page's Undo does.
pub async fn undo(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<(i64, String)>,
) -> ApiResult<HttpResponse> {
    let (post_id, slug) = path.into_inner();
    let platform = Platform::from_slug(&slug).ok_or_else(ApiError::not_found)?;
    let (user, post) = (UserId::new(caller.owner.id), PostId::new(post_id));
    match queue::undo(&state, user, post, platform).await? {
        Undone::Undone => Ok(HttpResponse::NoContent().finish()),
        Undone::TooLate { message } => Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "too_late",
            message,
        )),
    }
}
