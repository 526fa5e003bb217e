//! The hub's calendar: a week of scheduled and published posts, with caps left.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::app::hub::context as hub_context;
use crate::domain::schedule;
use crate::store::{self, StoreError};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, ok};

pub struct CalendarCell {
    pub posts: Vec<(i64, String, &'static str)>,
    pub room: u32,
}

pub struct CalendarRow {
    pub platform: &'static str,
    pub cells: Vec<CalendarCell>,
}

#[derive(Template)]
#[template(path = "hub/calendar.html")]
struct CalendarPage {
    page: PageContext,
    days: Vec<String>,
    rows: Vec<CalendarRow>,
    previous: String,
    next: String,
    timezone: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WeekQuery {
    week: String,
}

pub async fn calendar(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<WeekQuery>,
) -> WebResult<HttpResponse> {
    let settings = hub_context(&state).await?.settings;
    let tz = settings.timezone();
    let today = schedule::local_day(state.clock.now_naive(), tz);
    let day = NaiveDate::parse_from_str(query.week.trim(), "%Y-%m-%d").unwrap_or(today);
    let monday = schedule::week_start(day);
    let (from, to) = schedule::week_bounds_utc(monday, tz);
    let enabled = settings.enabled_platforms();
    let (posts, caps, taken) = state
        .db
        .run(move |conn| {
            let posts = store::posts::in_period(conn, from, to)?;
            let caps = store::posts::caps(conn)?;
            let mut taken = Vec::new();
            for p in &enabled {
                taken.push((*p, store::posts::taken_times(conn, *p, from, to, 0)?));
            }
            Ok::<_, StoreError>((posts, caps, taken))
        })
        .await?;
    let days: Vec<NaiveDate> = (0..7).map(|n| monday + chrono::Duration::days(n)).collect();
    let rows = taken
        .iter()
        .map(|(platform, times)| CalendarRow {
            platform: platform.name(),
            cells: days
                .iter()
                .map(|d| CalendarCell {
                    posts: posts
                        .iter()
                        .filter(|p| p.platforms().contains(platform))
                        .filter(|p| {
                            p.publish_at
                                .is_some_and(|t| schedule::local_day(t, tz) == *d)
                        })
                        .map(|p| (p.id, p.title.clone(), p.status.as_str()))
                        .collect(),
                    room: schedule::room_on_day(times, *d, tz, caps[platform]),
                })
                .collect(),
        })
        .collect();
    ok(&CalendarPage {
        page: PageContext::from(&signed_in),
        days: days
            .iter()
            .map(|d| d.format("%a %d %b").to_string())
            .collect(),
        rows,
        previous: (monday - chrono::Duration::days(7)).to_string(),
        next: (monday + chrono::Duration::days(7)).to_string(),
        timezone: tz.name().to_string(),
    })
}
