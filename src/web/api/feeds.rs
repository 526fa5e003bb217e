//! Feeds into the hub over the API (comms): list, add (read once, as on
//! the hub page, so a wrong address is refused with the reason), pause,
//! resume and remove. The drafts a feed makes are in `/api/v1/posts`,
//! each with its `feed`.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiCaller, ApiError, ApiResult, utc};
use crate::app::feeds::{self, FeedForm};
use crate::domain::ids::UserId;
use crate::store::feeds::Feed;
use crate::web::AppState;

#[derive(Serialize, ToSchema)]
pub struct FeedJson {
    pub id: i64,
    /// The feed's own title, as read when it was added.
    pub title: String,
    pub url: String,
    /// Minutes between two checks, at least 15.
    pub interval_minutes: i32,
    /// A paused feed is not read until resumed.
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    /// When it is checked next (if not paused).
    pub next_check_at: DateTime<Utc>,
    /// When Chorus last tried to read it.
    pub last_tried_at: Option<DateTime<Utc>>,
    /// When it was last read (or answered "not modified").
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last try failed, e.g. "The feed answered 404."; absent
    /// after a good reading.
    pub last_error: Option<String>,
    /// Drafts made from its items so far.
    pub drafts_made: i64,
}

fn feed_json(feed: &Feed) -> FeedJson {
    FeedJson {
        id: feed.id,
        title: feed.title.clone(),
        url: feed.url.clone(),
        interval_minutes: feed.interval_minutes,
        paused: feed.paused,
        created_at: utc(feed.created_at),
        next_check_at: utc(feed.next_poll_at),
        last_tried_at: feed.last_tried_at.map(utc),
        last_success_at: feed.last_success_at.map(utc),
        last_error: feed.last_error.clone(),
        drafts_made: feed.drafts_made,
    }
}

#[derive(Serialize, ToSchema)]
pub struct FeedList {
    pub feeds: Vec<FeedJson>,
}

#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    operation_id = "feeds_list",
    tag = "feeds",
    responses((status = 200, description = "The hub's feeds, by title", body = FeedList)),
    security(("bearer" = []))
)]
/// The RSS and Atom feeds whose new items become drafts.
pub async fn list(state: web::Data<AppState>, _caller: ApiCaller) -> ApiResult<HttpResponse> {
    let feeds = feeds::list(&state).await?;
    Ok(HttpResponse::Ok().json(FeedList {
        feeds: feeds.iter().map(feed_json).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://example.com/news/feed.xml", "interval_minutes": 60}))]
pub struct FeedRequest {
    /// The feed's address (http or https), RSS 2.0 or Atom 1.0.
    pub url: String,
    /// Minutes between checks, 15 to 10080; absent: 60.
    pub interval_minutes: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AddedFeed {
    pub feed: FeedJson,
    /// Drafts made from the first reading (its newest items, at most 10).
    pub drafts_made_now: usize,
}

#[utoipa::path(
    post,
    path = "/api/v1/feeds",
    operation_id = "feeds_add",
    tag = "feeds",
    request_body = FeedRequest,
    responses((status = 201, description = "Added and read once; its newest items are drafts",
        body = AddedFeed, headers(("Location" = String, description = "The new feed")))),
    security(("bearer" = []))
)]
/// Adds a feed. It is read at once: an address that cannot be read or is
/// not a feed is refused (422, the reason in `fields.url`).
pub async fn add(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: web::Json<FeedRequest>,
) -> ApiResult<HttpResponse> {
    let form = FeedForm {
        url: request.url.clone(),
        interval: request
            .interval_minutes
            .map(|m| m.to_string())
            .unwrap_or_default(),
    };
    match feeds::add(&state, &form, UserId::new(caller.owner.id)).await? {
        Ok(added) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/feeds/{}", added.feed.id)))
            .json(AddedFeed {
                feed: feed_json(&added.feed),
                drafts_made_now: added.drafts,
            })),
        Err(refusal) => {
            let mut fields = BTreeMap::new();
            if let Some(problem) = refusal.url {
                fields.insert("url".to_string(), problem);
            }
            if let Some(problem) = refusal.interval {
                fields.insert("interval_minutes".to_string(), problem);
            }
            Err(ApiError::validation(fields))
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/feeds/{id}",
    operation_id = "feeds_show",
    tag = "feeds",
    params(("id" = i64, Path, description = "Feed id", example = 1)),
    responses((status = 200, description = "The feed", body = FeedJson)),
    security(("bearer" = []))
)]
/// One feed, with its last error.
pub async fn show(
    state: web::Data<AppState>,
    _caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(feed_json(&feeds::find(&state, *id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/feeds/{id}/pause",
    operation_id = "feeds_pause",
    tag = "feeds",
    params(("id" = i64, Path, description = "Feed id", example = 1)),
    responses((status = 200, description = "Paused (or already paused)", body = FeedJson)),
    security(("bearer" = []))
)]
/// Stops reading a feed until it is resumed.
pub async fn pause(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    feeds::set_paused(&state, *id, true, UserId::new(caller.owner.id)).await?;
    Ok(HttpResponse::Ok().json(feed_json(&feeds::find(&state, *id).await?)))
}

#[utoipa::path(
    post,
    path = "/api/v1/feeds/{id}/resume",
    operation_id = "feeds_resume",
    tag = "feeds",
    params(("id" = i64, Path, description = "Feed id", example = 1)),
    responses((status = 200, description = "Read again from its next check on", body = FeedJson)),
    security(("bearer" = []))
)]
/// Reads a paused feed again.
pub async fn resume(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    feeds::set_paused(&state, *id, false, UserId::new(caller.owner.id)).await?;
    Ok(HttpResponse::Ok().json(feed_json(&feeds::find(&state, *id).await?)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/feeds/{id}",
    operation_id = "feeds_remove",
    tag = "feeds",
    params(("id" = i64, Path, description = "Feed id", example = 1)),
    responses((status = 204, description = "Removed; the drafts it made stay")),
    security(("bearer" = []))
)]
/// Removes a feed: it is not read again. Its drafts stay, still marked
/// with it.
pub async fn remove(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    feeds::remove(&state, *id, UserId::new(caller.owner.id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
