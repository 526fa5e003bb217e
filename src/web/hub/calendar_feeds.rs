//! Private calendar addresses of the hub's schedule: comms people create
//! one per calendar app under Hub → Calendar → "Subscribe", revoke it like
//! an API token, and their calendar app polls `GET /calendar/{secret}`.

use actix_web::{HttpResponse, http::header, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::app::calendar;
use crate::domain::api_access::parse_token_name;
use crate::store::{self, calendar_feeds::CalendarFeed};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok, refused, see_other};

pub struct FeedRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
    pub live: bool,
}

#[derive(Template)]
#[template(path = "hub/calendar_feeds.html")]
struct FeedsPage {
    page: PageContext,
    rows: Vec<FeedRow>,
    name: String,
    name_error: Option<String>,
    /// The address just created: shown this once.
    created: Option<String>,
    revoked: bool,
}

fn when(at: Option<NaiveDateTime>, none: &str) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| none.to_string())
}

fn row(feed: &CalendarFeed) -> FeedRow {
    FeedRow {
        id: feed.id,
        name: feed.name.clone(),
        prefix: feed.prefix.clone(),
        created: when(Some(feed.created_at), ""),
        last_used: when(feed.last_used_at, "never"),
        live: feed.revoked_at.is_none(),
    }
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    name: String,
    name_error: Option<String>,
    created: Option<String>,
    revoked: bool,
) -> WebResult<FeedsPage> {
    let owner = signed_in.user.id;
    let feeds = state
        .db
        .run(move |conn| store::calendar_feeds::of_user(conn, owner))
        .await?;
    Ok(FeedsPage {
        page: PageContext::from(signed_in),
        rows: feeds.iter().map(row).collect(),
        name,
        name_error,
        created,
        revoked,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    revoked: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    let revoked = query.revoked.is_some();
    ok(&page(&state, &signed_in, String::new(), None, None, revoked).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CreateForm {
    name: String,
}

pub async fn create(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<CreateForm>,
) -> WebResult<HttpResponse> {
    let typed = form.into_inner().name;
    let name = match parse_token_name(&typed) {
        Ok(name) => name,
        Err(e) => return refused(&page(&state, &signed_in, typed, Some(e.0), None, false).await?),
    };
    let (owner, now) = (signed_in.user.id, state.clock.now_naive());
    let (_, secret) = state
        .db
        .run(move |conn| store::calendar_feeds::create(conn, owner, &name, now))
        .await?;
    // Shown in this answer only: not after a redirect, never again.
    let address = format!("{}/calendar/{secret}", state.base_url);
    ok(&page(
        &state,
        &signed_in,
        String::new(),
        None,
        Some(address),
        false,
    )
    .await?)
}

pub async fn revoke(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let (feed, owner, now) = (*id, signed_in.user.id, state.clock.now_naive());
    let revoked = state
        .db
        .run(move |conn| store::calendar_feeds::revoke(conn, feed, owner, now))
        .await?;
    // Someone else's address, an unknown one, or one revoked before.
    if !revoked {
        return Err(AppError::not_found());
    }
    Ok(see_other("/hub/calendar/feeds?revoked=1"))
}

/// `GET /calendar/{secret}` (`.ics` may follow): the schedule as iCalendar.
/// The secret in the address is the only authorisation, as calendar apps
/// send no cookies; an unknown or revoked one is a plain 404.
pub async fn feed(
    state: web::Data<AppState>,
    secret: web::Path<String>,
) -> WebResult<HttpResponse> {
    let secret = secret.into_inner();
    let secret = secret.strip_suffix(".ics").unwrap_or(&secret).to_string();
    let body = calendar::feed(&state, secret).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/calendar; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(body))
}
