//! The hub's calendar: a month (the default) or a week of scheduled and
//! published posts as status-coloured chips, a link on each day to start
//! a post for that date, the room left under the hub caps in the week
//! view, and the same posts as an agenda list on a phone.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::Deserialize;

use crate::app::calendar::{self, Day};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, ok};

pub struct ChipView {
    pub id: i64,
    pub title: String,
    pub status: &'static str,
    pub time: String,
    pub platforms: String,
}

pub struct DayView {
    /// "7" in the month view, "Mon 7 Dec" in the week view.
    pub label: String,
    /// "Monday 7 December 2026", for the new-post link and the agenda.
    pub full: String,
    /// "2026-12-07".
    pub iso: String,
    /// Outside the month shown (its neighbours' days fill the grid).
    pub outside: bool,
    pub today: bool,
    pub past: bool,
    pub posts: Vec<ChipView>,
    /// Per platform: its name and how many more posts fit that day.
    pub room: Vec<(&'static str, u32)>,
}

#[derive(Template)]
#[template(path = "hub/calendar.html")]
struct CalendarPage {
    page: PageContext,
    month_view: bool,
    heading: String,
    previous: String,
    next: String,
    today: String,
    other_view: String,
    weeks: Vec<Vec<DayView>>,
    timezone: String,
}

/// `?week=2026-12-07` shows that week; `?month=2026-12` that month;
/// neither, this month.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CalendarQuery {
    week: String,
    month: String,
}

pub async fn calendar(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<CalendarQuery>,
) -> WebResult<HttpResponse> {
    let (today, tz) = calendar::today(&state).await?;
    let week = NaiveDate::parse_from_str(query.week.trim(), "%Y-%m-%d").ok();
    let view = match week {
        Some(day) => View::week(day),
        None => View::month(parse_month(&query.month).unwrap_or(today)),
    };
    let weeks = calendar::weeks(&state, view.first, view.weeks).await?;
    let mut days = weeks
        .days
        .into_iter()
        .map(|day| day_view(day, &view, today));
    let by_week = std::iter::from_fn(|| Some(days.by_ref().take(7).collect::<Vec<_>>()))
        .take_while(|week| !week.is_empty())
        .collect();
    ok(&CalendarPage {
        page: PageContext::from(&signed_in),
        month_view: view.month.is_some(),
        heading: view.heading(),
        previous: view.link(-1),
        next: view.link(1),
        today: if view.month.is_some() {
            "/hub/calendar".into()
        } else {
            format!("/hub/calendar?week={today}")
        },
        other_view: view.other(today),
        weeks: by_week,
        timezone: tz.name().to_string(),
    })
}

/// "2026-12" as the first of that month.
fn parse_month(typed: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", typed.trim()), "%Y-%m-%d").ok()
}

/// What the page shows: a month (its first day), or the week holding a day.
struct View {
    month: Option<NaiveDate>,
    /// The first Monday shown, and how many weeks.
    first: NaiveDate,
    weeks: u32,
}

impl View {
    fn month(day: NaiveDate) -> View {
        let first_of_month = day.with_day(1).unwrap_or(day);
        let last = first_of_month + Months::new(1) - Duration::days(1);
        let first = crate::domain::schedule::week_start(first_of_month);
        View {
            month: Some(first_of_month),
            first,
            weeks: ((last - first).num_days() / 7 + 1) as u32,
        }
    }

    fn week(day: NaiveDate) -> View {
        View {
            month: None,
            first: crate::domain::schedule::week_start(day),
            weeks: 1,
        }
    }

    fn heading(&self) -> String {
        match self.month {
            Some(month) => month.format("%B %Y").to_string(),
            None => format!("Week of {}", self.first.format("%-d %B %Y")),
        }
    }

    /// The view `steps` months or weeks away.
    fn link(&self, steps: i32) -> String {
        match self.month {
            Some(month) => {
                let moved = if steps < 0 {
                    month - Months::new(steps.unsigned_abs())
                } else {
                    month + Months::new(steps as u32)
                };
                format!("/hub/calendar?month={}", moved.format("%Y-%m"))
            }
            None => format!(
                "/hub/calendar?week={}",
                self.first + Duration::weeks(i64::from(steps))
            ),
        }
    }

    /// The other view, around the same time.
    fn other(&self, today: NaiveDate) -> String {
        match self.month {
            Some(month) if month.month() == today.month() && month.year() == today.year() => {
                format!("/hub/calendar?week={today}")
            }
            Some(month) => format!("/hub/calendar?week={month}"),
            None => format!("/hub/calendar?month={}", self.first.format("%Y-%m")),
        }
    }
}

fn day_view(day: Day, view: &View, today: NaiveDate) -> DayView {
    let outside = view.month.is_some_and(|m| day.date.month() != m.month());
    DayView {
        label: if view.month.is_some() {
            day.date.format("%-d").to_string()
        } else {
            day.date.format("%a %-d %b").to_string()
        },
        full: day.date.format("%A %-d %B %Y").to_string(),
        iso: day.date.to_string(),
        outside,
        today: day.date == today,
        past: day.date < today,
        posts: day
            .posts
            .into_iter()
            .map(|chip| ChipView {
                id: chip.id,
                title: chip.title,
                status: chip.status.as_str(),
                time: chip.time,
                platforms: chip
                    .platforms
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        room: day.room.into_iter().map(|(p, n)| (p.name(), n)).collect(),
    }
}
