//! `/hub/feeds`: the RSS and Atom feeds whose new items become drafts,
//! each with when it was last read and what went wrong; adding one reads
//! it at once, so a wrong address is said on the same page.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::app::feeds::{self, FeedForm, FeedRefusal};
use crate::domain::feed::{DEFAULT_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES};
use crate::store::feeds::Feed;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, ok, refused, see_other};

pub struct FeedRow {
    pub id: i64,
    pub title: String,
    pub url: String,
    pub interval: i32,
    pub paused: bool,
    pub last_tried: String,
    pub last_success: String,
    pub last_error: Option<String>,
    pub drafts: i64,
}

#[derive(Template)]
#[template(path = "hub/feeds.html")]
struct FeedsPage {
    page: PageContext,
    rows: Vec<FeedRow>,
    url: String,
    interval: String,
    errors: FeedRefusal,
    min_interval: i32,
    /// What the last action did, for the notice.
    done: Option<String>,
}

fn when(at: Option<NaiveDateTime>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".to_string())
}

fn row(feed: Feed) -> FeedRow {
    FeedRow {
        id: feed.id,
        title: feed.title,
        url: feed.url,
        interval: feed.interval_minutes,
        paused: feed.paused,
        last_tried: when(feed.last_tried_at),
        last_success: when(feed.last_success_at),
        last_error: feed.last_error,
        drafts: feed.drafts_made,
    }
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    form: FeedForm,
    errors: FeedRefusal,
    done: Option<String>,
) -> WebResult<FeedsPage> {
    let rows = feeds::list(state).await?.into_iter().map(row).collect();
    Ok(FeedsPage {
        page: PageContext::from(signed_in),
        rows,
        url: form.url,
        interval: form.interval,
        errors,
        min_interval: MIN_INTERVAL_MINUTES,
        done,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    done: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ShowQuery>,
) -> WebResult<HttpResponse> {
    let done = match query.done.as_deref() {
        Some("paused") => Some("The feed is paused: it is not read until you resume it.".into()),
        Some("resumed") => Some("The feed is read again from its next check on.".into()),
        Some("removed") => Some("The feed was removed. The drafts it made stay.".into()),
        _ => None,
    };
    let form = FeedForm {
        url: String::new(),
        interval: DEFAULT_INTERVAL_MINUTES.to_string(),
    };
    ok(&page(&state, &signed_in, form, FeedRefusal::default(), done).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AddForm {
    url: String,
    interval: String,
}

pub async fn add(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<AddForm>,
) -> WebResult<HttpResponse> {
    let form = FeedForm {
        url: form.url.clone(),
        interval: form.interval.clone(),
    };
    match feeds::add(&state, &form, signed_in.id()).await? {
        Err(errors) => refused(&page(&state, &signed_in, form, errors, None).await?),
        Ok(added) => {
            let done = format!(
                "{} was added and read: {} new draft{}.",
                added.feed.title,
                added.drafts,
                if added.drafts == 1 { "" } else { "s" }
            );
            let blank = FeedForm {
                url: String::new(),
                interval: DEFAULT_INTERVAL_MINUTES.to_string(),
            };
            ok(&page(
                &state,
                &signed_in,
                blank,
                FeedRefusal::default(),
                Some(done),
            )
            .await?)
        }
    }
}

pub async fn pause(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    feeds::set_paused(&state, *id, true, signed_in.id()).await?;
    Ok(see_other("/hub/feeds?done=paused"))
}

pub async fn resume(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    feeds::set_paused(&state, *id, false, signed_in.id()).await?;
    Ok(see_other("/hub/feeds?done=resumed"))
}

pub async fn remove(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    feeds::remove(&state, *id, signed_in.id()).await?;
    Ok(see_other("/hub/feeds?done=removed"))
}
