//! The hub's calendar: a week of scheduled and published posts, with caps left.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::app::calendar;
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
    let day = NaiveDate::parse_from_str(query.week.trim(), "%Y-%m-%d").ok();
    let week = calendar::week(&state, day).await?;
    let days: Vec<NaiveDate> = week.days().collect();
    ok(&CalendarPage {
        page: PageContext::from(&signed_in),
        days: days
            .iter()
            .map(|d| d.format("%a %d %b").to_string())
            .collect(),
        rows: week
            .rows
            .into_iter()
            .map(|(platform, days)| CalendarRow {
                platform,
                cells: days
                    .into_iter()
                    .map(|day| CalendarCell {
                        posts: day.posts,
                        room: day.room,
                    })
                    .collect(),
            })
            .collect(),
        previous: (week.monday - chrono::Duration::days(7)).to_string(),
        next: (week.monday + chrono::Duration::days(7)).to_string(),
        timezone: week.timezone.name().to_string(),
    })
}
