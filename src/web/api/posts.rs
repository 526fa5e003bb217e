//! The hub over the API (comms): post CRUD and scheduling, parsed as the
//! hub pages' drafts are and scheduled within the same hub caps
//! (`app::hub`).
//! Posts are never deleted: withdrawing takes one out of every queue.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiCaller, ApiError, ApiResult, utc};
use crate::app::hub::{self as hub, Approval, Change, HubContext, Scheduled};
use crate::app::{feeds, previews};
use crate::domain::ids::{PostId, UserId};
use crate::domain::link_preview::{self, PreviewText};
use crate::domain::platforms::Platform;
use crate::domain::post::{
    MAX_VARIANTS, PostDraft, PostErrors, PostInput, PostStatus, parse_withdrawal_reason,
};
use crate::domain::utm::LinkTags;
use crate::store::feeds::FeedSource;
use crate::store::posts::Post;
use crate::store::previews::Preview;
use crate::web::AppState;

#[derive(Serialize, ToSchema)]
pub struct PostJson {
    pub id: i64,
    pub title: String,
    pub link: String,
    pub base_text: String,
    /// `draft`, `submitted` (waiting for approval), `approved`,
    /// `scheduled`, `published`, `expired` or `withdrawn`.
    pub status: String,
    /// Moves on with every edit; approve a revision you have seen.
    pub revision: i32,
    /// When someone who did not write it approved it (this revision).
    pub approved_at: Option<DateTime<Utc>>,
    /// Empty: offered to everyone.
    pub department_ids: Vec<i64>,
    pub platforms: Vec<PlatformCaptions>,
    pub publish_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub withdrawal_reason: Option<String>,
    /// The link as each platform's share dialog carries it: with the
    /// organisation's UTM tags when they are on, else the link itself.
    pub shared_links: Vec<SharedLink>,
    /// The link's preview as queue cards show it; absent until the link
    /// was read or a preview written.
    pub preview: Option<PreviewJson>,
    /// The feed whose item made this draft; absent for posts written in
    /// the hub.
    pub feed: Option<FeedSourceJson>,
}

/// Where a draft came from: a feed of the hub (see `/api/v1/feeds`).
#[derive(Serialize, ToSchema)]
pub struct FeedSourceJson {
    pub id: i64,
    pub title: String,
}

fn feed_source_json(source: &FeedSource) -> FeedSourceJson {
    FeedSourceJson {
        id: source.feed_id,
        title: source.title.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct SharedLink {
    /// Platform slug, e.g. `linkedin`.
    pub platform: String,
    #[schema(
        example = "https://example.com/launch?utm_source=linkedin&utm_medium=employee_advocacy&utm_campaign=launch"
    )]
    pub link: String,
}

/// A link preview: read once from the link when a post gets it (Open
/// Graph, Twitter card, `<title>`), or written by comms.
#[derive(Serialize, ToSchema)]
pub struct PreviewJson {
    pub title: String,
    pub description: String,
    /// The re-encoded image on Chorus's own origin (a path), if any.
    pub image_url: Option<String>,
    /// When the link was last read.
    pub fetched_at: Option<DateTime<Utc>>,
    /// Why the last reading failed, e.g. a timeout or a refused address.
    pub fetch_problem: Option<String>,
}

/// The preview text to keep instead of the page's own.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// At most 200 characters.
    #[serde(default)]
    pub title: String,
    /// At most 500 characters.
    #[serde(default)]
    pub description: String,
}

fn preview_json(preview: &Preview) -> PreviewJson {
    PreviewJson {
        title: preview.title.clone(),
        description: preview.description.clone(),
        image_url: preview.image.as_ref().map(|i| i.path()),
        fetched_at: preview.fetched_at.map(utc),
        fetch_problem: preview.fetch_problem.clone(),
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct PlatformCaptions {
    /// Platform slug, e.g. `linkedin`; one of the organisation's platforms.
    pub platform: String,
    /// Caption variants (at most 3); none, or an empty first one, means the
    /// base text. Each is checked against the platform's limit with the link
    /// and the disclosure, as the hub page checks it. For `linkedin`,
    /// `facebook` and `xing`, whose share dialogs take only the link, these
    /// are the texts people are shown to copy and paste (the composer's
    /// "Text people paste into LinkedIn").
    #[serde(default)]
    pub variants: Vec<String>,
}

fn post_json(post: &Post, tags: &LinkTags, preview: Option<&Preview>) -> PostJson {
    PostJson {
        id: post.id,
        title: post.title.clone(),
        link: post.link.clone(),
        base_text: post.base_text.clone(),
        status: post.status.as_str().to_string(),
        revision: post.revision,
        approved_at: post.approved_at.map(utc),
        department_ids: if post.target_all {
            Vec::new()
        } else {
            post.department_ids.clone()
        },
        platforms: post
            .captions
            .by_platform()
            .map(|(p, v)| PlatformCaptions {
                platform: p.slug().to_string(),
                variants: v.into_iter().map(String::from).collect(),
            })
            .collect(),
        publish_at: post.publish_at.map(utc),
        expires_at: post.expires_at.map(utc),
        published_at: post.published_at.map(utc),
        withdrawn_at: post.withdrawn_at.map(utc),
        withdrawal_reason: post.withdrawal_reason.clone(),
        shared_links: post
            .platforms()
            .into_iter()
            .map(|p| SharedLink {
                platform: p.slug().to_string(),
                link: tags.link_for(&post.link, p, &post.title),
            })
            .collect(),
        preview: preview.filter(|p| p.link == post.link).map(preview_json),
        feed: None,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Launch",
    "link": "https://example.com/launch",
    "base_text": "We launched today",
    "platforms": [{"platform": "x", "variants": ["We launched today"]}]
}))]
pub struct PostRequest {
    /// Internal title, for the hub.
    pub title: String,
    /// The link to share (http or https).
    pub link: String,
    #[serde(default)]
    pub base_text: String,
    /// The platforms the post is for, each with its caption variants.
    pub platforms: Vec<PlatformCaptions>,
    /// Department ids to offer it to; empty or absent: everyone.
    #[serde(default)]
    pub department_ids: Vec<i64>,
    /// RFC 3339, e.g. `2026-12-01T09:30:00Z`; absent: never expires.
    pub expires_at: Option<String>,
    /// Preview text to show instead of the page's. Absent: a new link is
    /// read for its title, description and image (once, when it is saved),
    /// and the kept text stays otherwise.
    pub preview: Option<PreviewRequest>,
}

/// The preview text sent, checked.
fn preview_text(request: &PostRequest) -> ApiResult<Option<PreviewText>> {
    request
        .preview
        .as_ref()
        .map(|p| link_preview::parse_text(&p.title, &p.description))
        .transpose()
        .map_err(|refusal| ApiError::field("preview", refusal.0))
}

/// RFC 3339 with an offset, as UTC.
fn parse_time(input: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(input.trim())
        .ok()
        .map(|t| t.naive_utc())
}

fn error_fields(errors: PostErrors) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut put = |name: &str, message: Option<String>| {
        if let Some(message) = message {
            fields.insert(name.to_string(), message);
        }
    };
    put("title", errors.title);
    put("link", errors.link);
    put("base_text", errors.base_text);
    put("platforms", errors.platforms);
    put("department_ids", errors.target);
    put("expires_at", errors.expires_at);
    put("timezone", errors.timezone);
    if !errors.captions.is_empty() {
        let messages: Vec<String> = errors.captions.into_iter().map(|c| c.message).collect();
        fields.insert("captions".into(), messages.join(" "));
    }
    fields
}

/// The request as the hub form would have sent it, then the hub's validation.
fn validated_input(request: &PostRequest, context: &HubContext) -> ApiResult<PostInput> {
    let enabled = context.settings.enabled_platforms();
    let mut fields = BTreeMap::new();
    let chosen = requested_captions(request, &enabled, &mut fields);
    let expires_at = requested_expiry(request, &mut fields);
    let form = PostDraft {
        title: request.title.clone(),
        link: request.link.clone(),
        base_text: request.base_text.clone(),
        target_all: request.department_ids.is_empty(),
        department_ids: request.department_ids.clone(),
        expires_at,
        timezone: "UTC".into(),
        platforms: enabled
            .iter()
            .map(|p| {
                let written = chosen.iter().find(|(q, _)| q == p).map(|(_, v)| v.clone());
                let used = written.is_some();
                let mut variants = written.unwrap_or_default();
                variants.resize(MAX_VARIANTS, String::new());
                (*p, used, variants)
            })
            .collect(),
    };
    let parsed = context.parse(&form);
    let mut all = error_fields(parsed.errors);
    all.extend(fields);
    match parsed.input {
        Some(input) if all.is_empty() => Ok(input),
        _ => Err(ApiError::validation(all)),
    }
}

/// The captions asked for, per enabled platform; what is wrong goes to `fields`.
fn requested_captions(
    request: &PostRequest,
    enabled: &[Platform],
    fields: &mut BTreeMap<String, String>,
) -> Vec<(Platform, Vec<String>)> {
    let mut chosen: Vec<(Platform, Vec<String>)> = Vec::new();
    for entry in &request.platforms {
        let problem = match Platform::from_slug(&entry.platform).filter(|p| enabled.contains(p)) {
            None => format!(
                "{:?} is not one of the organisation's platforms.",
                entry.platform
            ),
            Some(p) if chosen.iter().any(|(q, _)| *q == p) => {
                format!("{} is listed twice.", p.name())
            }
            Some(p) if entry.variants.len() > MAX_VARIANTS => {
                format!("{}: at most {MAX_VARIANTS} caption variants.", p.name())
            }
            Some(p) => {
                chosen.push((p, entry.variants.clone()));
                continue;
            }
        };
        fields.insert("platforms".to_string(), problem);
    }
    chosen
}

/// The expiry as the draft form takes it; a bad time goes to `fields`.
fn requested_expiry(request: &PostRequest, fields: &mut BTreeMap<String, String>) -> String {
    match request.expires_at.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(text) => match parse_time(text) {
            Some(at) => at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            None => {
                fields.insert(
                    "expires_at".to_string(),
                    "Give the expiry as an RFC 3339 time, e.g. 2026-12-01T09:30:00Z.".into(),
                );
                String::new()
            }
        },
    }
}

async fn reload(state: &AppState, id: i64) -> ApiResult<PostJson> {
    let post = hub::post(state, PostId::new(id)).await?;
    let tags = hub::context(state).await?.settings.link_tags();
    let preview = previews::of_post(state, PostId::new(id)).await?;
    let sources = feeds::sources(state, vec![id]).await?;
    let mut json = post_json(&post, &tags, preview.as_ref());
    json.feed = sources.get(&id).map(feed_source_json);
    Ok(json)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `draft`, `submitted`, `approved`, `scheduled`, `published`,
    /// `expired` or `withdrawn`; all by default.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PostList {
    /// Newest publish time first, at most 200.
    pub posts: Vec<PostJson>,
}

#[utoipa::path(
    get,
    path = "/api/v1/posts",
    operation_id = "posts_list",
    tag = "posts",
    params(ListParams),
    responses((status = 200, description = "Posts of the hub", body = PostList)),
    security(("bearer" = []))
)]
/// The hub's posts, optionally of one status.
pub async fn list(
    state: web::Data<AppState>,
    _caller: ApiCaller,
    params: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(PostStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "status is one of draft, submitted, approved, scheduled, published, expired, withdrawn.",
            )
        })?),
    };
    let (posts, settings) = hub::list(&state, status).await?;
    let tags = settings.link_tags();
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let previews = previews::of_posts(&state, ids.clone()).await?;
    let sources = feeds::sources(&state, ids).await?;
    Ok(HttpResponse::Ok().json(PostList {
        posts: posts
            .iter()
            .map(|p| {
                let mut json = post_json(p, &tags, previews.get(&p.id));
                json.feed = sources.get(&p.id).map(feed_source_json);
                json
            })
            .collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/posts/{id}",
    operation_id = "posts_show",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    responses((status = 200, description = "The post", body = PostJson)),
    security(("bearer" = []))
)]
/// One post.
pub async fn show(
    state: web::Data<AppState>,
    _caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(reload(&state, *id).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/posts",
    operation_id = "posts_create",
    tag = "posts",
    request_body = PostRequest,
    responses((status = 201, description = "Saved as a draft", body = PostJson,
        headers(("Location" = String, description = "The new post")))),
    security(("bearer" = []))
)]
/// Writes a new post, saved as a draft (schedule it to publish).
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiCaller,
    request: web::Json<PostRequest>,
) -> ApiResult<HttpResponse> {
    let context = hub::context(&state).await?;
    let input = validated_input(&request, &context)?;
    let typed = preview_text(&request)?;
    let link = input.link.clone();
    let id = hub::create(&state, input, UserId::new(caller.owner.id)).await?;
    previews::after_save(&state, id, &link, typed, false).await?;
    let post = reload(&state, id.get()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/posts/{id}")))
        .json(post))
}

/// The post as it is now, or 409 when its status did not allow the change.
async fn changed(
    state: &AppState,
    change: Change,
    id: i64,
    refusal: &str,
) -> ApiResult<HttpResponse> {
    match change {
        Change::Done => Ok(HttpResponse::Ok().json(reload(state, id).await?)),
        Change::WrongStatus => Err(ApiError::conflict(refusal.to_string())),
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/posts/{id}",
    operation_id = "posts_update",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    request_body = PostRequest,
    responses(
        (status = 200, description = "Saved", body = PostJson),
        (status = 409, description = "Published, expired or withdrawn: no longer editable", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Replaces a post not yet published. While posts need approval, an
/// approved or scheduled post goes back to `submitted`.
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
    request: web::Json<PostRequest>,
) -> ApiResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    if !post.status.is_editable() {
        return Err(ApiError::conflict(
            "This post has been published, has expired or was withdrawn; it can no longer be edited.",
        ));
    }
    let context = hub::context(&state).await?;
    let input = validated_input(&request, &context)?;
    let typed = preview_text(&request)?;
    let link = input.link.clone();
    let by = UserId::new(caller.owner.id);
    let change = hub::update(&state, PostId::new(post.id), input, by).await?;
    if change == Change::Done {
        previews::after_save(&state, PostId::new(post.id), &link, typed, false).await?;
    }
    changed(
        &state,
        change,
        post.id,
        "This post can no longer be edited.",
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"now": true}))]
pub struct ScheduleRequest {
    /// RFC 3339; leave out with `now: true` to publish at once.
    pub publish_at: Option<String>,
    #[serde(default)]
    pub now: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/schedule",
    operation_id = "posts_schedule",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    request_body = ScheduleRequest,
    responses(
        (status = 200, description = "Scheduled, or published when the time is now", body = PostJson),
        (status = 409, description = "No longer schedulable, or (`approval_required`) posts need approval and this one has none", body = super::error::ErrorBody),
        (status = 422, description = "A time in the past, after the expiry, or past a hub cap (the message names the next free slot)", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Schedules a post within the hub caps (or publishes it now).
pub async fn schedule(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
    request: web::Json<ScheduleRequest>,
) -> ApiResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let tz = hub::context(&state).await?.settings.timezone();
    let at = requested_time(&request)?;
    match hub::schedule(&state, &post, at, UserId::new(caller.owner.id)).await? {
        Scheduled::Scheduled | Scheduled::Published => {
            Ok(HttpResponse::Ok().json(reload(&state, post.id).await?))
        }
        refused => Err(schedule_refusal(refused, tz)),
    }
}

/// When to publish: None for now.
fn requested_time(request: &ScheduleRequest) -> ApiResult<Option<NaiveDateTime>> {
    match (request.now, request.publish_at.as_deref()) {
        (true, _) => Ok(None),
        (false, Some(text)) => Ok(Some(parse_time(text).ok_or_else(|| {
            ApiError::field(
                "publish_at",
                "Give the time as RFC 3339, e.g. 2026-12-01T09:30:00Z, or send now: true.",
            )
        })?)),
        (false, None) => Err(ApiError::field(
            "publish_at",
            "Enter the time to publish, or send now: true.",
        )),
    }
}

/// The API's answer to a schedule that did not happen.
fn schedule_refusal(refused: Scheduled, tz: chrono_tz::Tz) -> ApiError {
    match refused {
        Scheduled::TimeRefused(message) => ApiError::field("publish_at", message),
        Scheduled::CapReached {
            platform,
            next_slot,
        } => {
            let mut error =
                ApiError::field("publish_at", hub::cap_message(platform, next_slot, tz));
            error.code = "hub_cap_reached";
            error
        }
        Scheduled::NoPlatforms => ApiError::field(
            "platforms",
            "Choose at least one platform before scheduling.",
        ),
        Scheduled::NeedsApproval => {
            let mut error = ApiError::conflict(hub::NEEDS_APPROVAL);
            error.code = "approval_required";
            error
        }
        Scheduled::WrongStatus | Scheduled::Scheduled | Scheduled::Published => {
            ApiError::conflict("This post can no longer be scheduled.")
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/unschedule",
    operation_id = "posts_unschedule",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    responses(
        (status = 200, description = "Back to draft", body = PostJson),
        (status = 409, description = "Not scheduled", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Takes a scheduled post back to draft.
pub async fn unschedule(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let by = UserId::new(caller.owner.id);
    let change = hub::unschedule(&state, PostId::new(*id), by).await?;
    changed(
        &state,
        change,
        *id,
        "Only a scheduled post can go back to draft.",
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The figures were wrong."}))]
pub struct WithdrawRequest {
    /// Shown to those who already shared it; 1–500 characters.
    pub reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/withdraw",
    operation_id = "posts_withdraw",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "Withdrawn from every queue; those who shared it are told", body = PostJson),
        (status = 409, description = "Not scheduled or published", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Withdraws a scheduled or published post from every queue and unsent digest.
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
    request: web::Json<WithdrawRequest>,
) -> ApiResult<HttpResponse> {
    let post = hub::post(&state, PostId::new(*id)).await?;
    let reason = parse_withdrawal_reason(&request.reason)
        .map_err(|refusal| ApiError::field("reason", refusal.0))?;
    let by = UserId::new(caller.owner.id);
    let change = hub::withdraw(&state, PostId::new(post.id), reason, by).await?;
    let refusal = "Only a scheduled or published post can be withdrawn.";
    changed(&state, change, post.id, refusal).await
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/submit",
    operation_id = "posts_submit",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    responses(
        (status = 200, description = "Submitted for approval; every other comms person and admin is emailed", body = PostJson),
        (status = 409, description = "Not a draft", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Submits a draft for approval (while posts need approval).
pub async fn submit(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let by = UserId::new(caller.owner.id);
    let change = hub::submit(&state, PostId::new(*id), by).await?;
    changed(
        &state,
        change,
        *id,
        "Only a draft can be submitted for approval.",
    )
    .await
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(example = json!({"revision": 2}))]
pub struct ApproveRequest {
    /// The revision you reviewed; refused with 409 when the post was
    /// edited since. Leave out to approve the post as it is.
    pub revision: Option<i32>,
}

#[utoipa::path(
    post,
    path = "/api/v1/posts/{id}/approve",
    operation_id = "posts_approve",
    tag = "posts",
    params(("id" = i64, Path, description = "Post id", example = 1)),
    request_body(content = ApproveRequest, description = "Optional"),
    responses(
        (status = 200, description = "Approved: it may be scheduled", body = PostJson),
        (status = 403, description = "(`own_post`) The caller wrote or edited the post: someone else approves it", body = super::error::ErrorBody),
        (status = 409, description = "Not waiting for approval (approved already, or a draft), or (`post_changed`) edited since the revision given", body = super::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
/// Approves a submitted post: never by the one who wrote or edited it.
pub async fn approve(
    state: web::Data<AppState>,
    caller: ApiCaller,
    id: web::Path<i64>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let request: ApproveRequest = super::optional_json(&req, &body)?;
    let by = UserId::new(caller.owner.id);
    match hub::approve(&state, PostId::new(*id), by, request.revision).await? {
        Approval::Approved => Ok(HttpResponse::Ok().json(reload(&state, *id).await?)),
        Approval::OwnPost(message) => {
            let mut error = ApiError::forbidden(message);
            error.code = "own_post";
            Err(error)
        }
        Approval::Changed => {
            let mut error =
                ApiError::conflict("The post was edited since that revision. Review it again.");
            error.code = "post_changed";
            Err(error)
        }
        Approval::NotSubmitted => Err(ApiError::conflict("This post is not waiting for approval.")),
    }
}
