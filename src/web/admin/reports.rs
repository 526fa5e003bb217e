//! Reports (admins and comms; employees see the same under "What others can
//! see"): aggregates only, every cell through the disclosure-control path
//! (domain::disclosure_control), as tables, an SVG chart and CSV. Filters
//! are a fixed set, which keeps the figures an admin can ask for few.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::domain::platforms::Platform;
use crate::domain::reports::{self, Bar, Filters, Reports, Table, Week};
use crate::domain::schedule;
use crate::store;
use crate::store::audit::{self, Actor};
use crate::web::AppState;
use crate::web::admin::report_cache::ReportKey;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ReportQuery {
    pub weeks: String,
    pub platform: String,
    pub department: String,
}

pub const PERIODS: [u32; 3] = [4, 12, 26];

/// Posts listed on the page; a busy hub publishes thousands in a period,
/// which no one reads in a page (and which made every view megabytes).
pub const POSTS_ON_PAGE: usize = 50;

/// The report and what it was built from.
pub struct Built {
    pub reports: Arc<Reports>,
    /// The most recent posts of the period, for the page (the CSV has all).
    pub recent_posts: Table,
    pub k: u32,
    pub weeks: u32,
    pub platform: String,
    pub department: String,
    pub enabled: Vec<Platform>,
}

/// The calendar of a report: `count` weeks ending with the current one.
pub fn weeks_ending(now: NaiveDateTime, tz: chrono_tz::Tz, count: u32) -> Vec<Week> {
    let this_monday = schedule::week_start(schedule::local_day(now, tz));
    (0..count as i64)
        .rev()
        .map(|back| {
            let monday = this_monday - chrono::Duration::weeks(back);
            let (start, end) = schedule::week_bounds_utc(monday, tz);
            let week = chrono::Datelike::iso_week(&monday);
            Week {
                label: format!("{}-W{:02}", week.year(), week.week()),
                start,
                end,
            }
        })
        .collect()
}

pub async fn build(state: &AppState, query: &ReportQuery) -> WebResult<Built> {
    let now = state.clock.now_naive();
    let weeks: u32 = match query.weeks.as_str() {
        "" => 12,
        text => text
            .parse()
            .ok()
            .filter(|w| PERIODS.contains(w))
            .ok_or_else(|| AppError::bad_request("Choose a period of 4, 12 or 26 weeks."))?,
    };
    let (settings, generation) = state
        .db
        .run(|conn| {
            Ok::<_, store::StoreError>((
                store::org::settings(conn)?,
                store::reports::generation(conn)?,
            ))
        })
        .await?;
    let (tz, k, enabled) = (
        settings.timezone(),
        settings.k(),
        settings.enabled_platforms(),
    );
    let platforms = match query.platform.as_str() {
        "" => enabled.clone(),
        slug => vec![
            Platform::from_slug(slug)
                .filter(|p| enabled.contains(p))
                .ok_or_else(|| {
                    AppError::bad_request("Choose one of the organisation's platforms.")
                })?,
        ],
    };
    let department = match query.department.as_str() {
        "" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| AppError::bad_request("Choose a department from the list."))?,
        ),
    };
    let key = ReportKey {
        weeks,
        platforms: platforms.clone(),
        department,
        k,
        timezone: settings.timezone_name().to_string(),
        week: weeks_ending(now, tz, 1)[0].start,
    };
    let reports = state
        .report_cache
        .get_or_build(generation, key, || async move {
            let calendar = weeks_ending(now, tz, weeks);
            let (from, to) = (calendar[0].start, now + chrono::Duration::seconds(1));
            let memo = state.report_facts.clone();
            let facts = state.db.run(move |conn| memo.facts(conn, from, to)).await?;
            if let Some(id) = department
                && !reports::reportable_departments(&facts, k)
                    .iter()
                    .any(|(d, _)| *d == id)
            {
                return Err(AppError::bad_request(format!(
                    "That department has fewer than {k} people, so it is not reported on its own."
                )));
            }
            let started = std::time::Instant::now();
            let built = reports::build(
                &facts,
                &Filters {
                    platforms,
                    department,
                },
                &calendar,
                k,
                now,
            );
            tracing::info!(
                shares = facts.shares.len(),
                build_ms = started.elapsed().as_millis() as u64,
                "report built"
            );
            Ok(built)
        })
        .await?;
    Ok(Built {
        recent_posts: reports.posts_as_of(now, Some(POSTS_ON_PAGE)),
        reports,
        k,
        weeks,
        platform: query.platform.clone(),
        department: query.department.clone(),
        enabled,
    })
}

/// A bar of the SVG chart, laid out.
pub struct BarView {
    pub x: u32,
    pub y: u32,
    pub height: u32,
    pub label: String,
    pub value: Option<u64>,
}

pub const CHART_HEIGHT: u32 = 160;

pub fn chart(bars: &[Bar]) -> Vec<BarView> {
    let max = bars
        .iter()
        .filter_map(|b| b.value)
        .max()
        .unwrap_or(0)
        .max(1);
    bars.iter()
        .enumerate()
        .map(|(i, b)| {
            let height = b
                .value
                .map(|v| (v * CHART_HEIGHT as u64 / max) as u32)
                .unwrap_or(0);
            BarView {
                x: 40 + i as u32 * 44,
                y: 10 + CHART_HEIGHT - height,
                height,
                label: b.label.clone(),
                value: b.value,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct ReportsPage {
    page: PageContext,
    built: Built,
    bars: Vec<BarView>,
    periods: [u32; 3],
    query_string: String,
}

fn query_string(query: &ReportQuery) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("weeks", &query.weeks)
        .append_pair("platform", &query.platform)
        .append_pair("department", &query.department)
        .finish()
}

pub async fn index(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<ReportQuery>,
) -> WebResult<HttpResponse> {
    let built = build(&state, &query).await?;
    ok(&ReportsPage {
        page: PageContext::from(&signed_in),
        bars: chart(&built.reports.chart),
        built,
        periods: PERIODS,
        query_string: query_string(&query),
    })
}

pub async fn csv(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    table: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> WebResult<HttpResponse> {
    let built = build(&state, &query).await?;
    let table_name = table.into_inner();
    let table = match table_name.as_str() {
        "posts" => &built.reports.posts_as_of(state.clock.now_naive(), None),
        "platforms" => &built.reports.platforms,
        "departments" => &built.reports.departments,
        "trend" => &built.reports.trend,
        _ => return Err(AppError::not_found()),
    };
    let body = table.to_csv();
    let (by, now) = (signed_in.user.id, state.clock.now_naive());
    let detail = format!("{table_name}.csv ({})", query_string(&query));
    state
        .db
        .run(move |conn| {
            audit::record(
                conn,
                Actor::Person(by),
                "report.exported",
                "reports",
                &detail,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"chorus-{table_name}.csv\""),
        ))
        .body(body))
}
