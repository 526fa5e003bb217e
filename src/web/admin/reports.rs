//! Reports (admins and comms; employees see the same under "What others can
//! see"): aggregates only, every cell through the disclosure-control path
//! (domain::disclosure_control), as tables, an SVG chart and CSV. Filters
//! are a fixed set, which keeps the figures an admin can ask for few.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::reports::{Built, PERIODS, ReportQuery, build, build_for_page};
use crate::domain::reports::Bar;
use crate::store::audit::{self, Actor};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok};

/// The weekly chart, laid out for an SVG without a viewBox: across in
/// percent of the page's width, down in pixels. Text is never scaled, so
/// it stays at the stylesheet's size on a phone and on a wide screen.
pub struct ChartView {
    pub bars: Vec<BarView>,
    /// The y-axis: each tick's height and value.
    pub ticks: Vec<(u32, u64)>,
    /// Whether the bars carry their numbers (room for them: up to 12 weeks).
    pub values_on_bars: bool,
}

/// A bar of the chart.
pub struct BarView {
    /// Left edge, width and centre, in percent of the chart's width.
    pub x: String,
    pub width: String,
    pub centre: String,
    pub y: u32,
    pub height: u32,
    /// The week's Monday as people write it ("7 Dec"), when shown under it.
    pub date: Option<String>,
    /// The week as the table names it ("2026-W49").
    pub week: String,
    /// None: hidden (fewer than k people).
    pub value: Option<u64>,
}

/// Top of the plot, its height and where the dates sit (pixels).
pub const PLOT_TOP: u32 = 12;
pub const PLOT_HEIGHT: u32 = 180;
pub const BASELINE: u32 = PLOT_TOP + PLOT_HEIGHT;
pub const CHART_HEIGHT: u32 = BASELINE + 34;

/// The smallest round top (a multiple of 4 of 1, 2 or 5 × 10^n) at or
/// above `max`, so the four ticks are whole numbers.
fn axis_top(max: u64) -> u64 {
    let mut unit = 1;
    loop {
        for step in [unit, 2 * unit, 5 * unit] {
            if step * 4 >= max {
                return step * 4;
            }
        }
        unit *= 10;
    }
}

/// "2026-W49" → "30 Nov" (the week's Monday); anything else as it is.
fn week_date(label: &str) -> String {
    label
        .split_once("-W")
        .and_then(|(year, week)| {
            chrono::NaiveDate::from_isoywd_opt(
                year.parse().ok()?,
                week.parse().ok()?,
                chrono::Weekday::Mon,
            )
        })
        .map(|monday| monday.format("%-d %b").to_string())
        .unwrap_or_else(|| label.to_string())
}

pub fn chart(bars: &[Bar]) -> ChartView {
    let top = axis_top(bars.iter().filter_map(|b| b.value).max().unwrap_or(0));
    let n = bars.len().max(1);
    // At most seven dates under the axis: they stay apart on a phone.
    let every = n.div_ceil(7);
    let slot = 100.0 / n as f64;
    let percent = |v: f64| format!("{v:.2}%");
    ChartView {
        bars: bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let height = b
                    .value
                    .map(|v| (v * PLOT_HEIGHT as u64 / top) as u32)
                    .unwrap_or(0);
                BarView {
                    x: percent(slot * i as f64 + slot * 0.15),
                    width: percent(slot * 0.7),
                    centre: percent(slot * (i as f64 + 0.5)),
                    y: BASELINE - height,
                    height,
                    date: (n - 1 - i)
                        .is_multiple_of(every)
                        .then(|| week_date(&b.label)),
                    week: b.label.clone(),
                    value: b.value,
                }
            })
            .collect(),
        ticks: (0..=4)
            .map(|t| (BASELINE - t * PLOT_HEIGHT / 4, top * t as u64 / 4))
            .collect(),
        values_on_bars: bars.len() <= 12,
    }
}

/// A headline figure: its value (None: hidden) and what it means.
pub struct Tile {
    pub label: String,
    pub value: Option<String>,
    pub detail: String,
}

/// The three figures at the top: people opted in, shares in the latest
/// half of the period against the half before, and posts published.
pub fn tiles(built: &Built) -> Vec<Tile> {
    let headline = &built.reports.headline;
    let k = built.k;
    let opted = headline.opted_in;
    let scope = match built.reports.platforms.rows.as_slice() {
        [one] => format!(" to {}", one[0]),
        _ => " to at least one platform".to_string(),
    };
    let trend = headline.share_trend();
    let half = match trend.weeks {
        1 => "week".to_string(),
        n => format!("{n} weeks"),
    };
    let change = if !trend.complete {
        "Weeks hidden to protect small groups are left out.".to_string()
    } else if trend.earlier == 0 {
        format!("None in the {half} before.")
    } else {
        let now = trend.recent as i64;
        let before = trend.earlier as i64;
        let percent = ((now - before) * 100 + before / 2).div_euclid(before);
        match percent {
            0 => format!("About the same as the {half} before ({before})."),
            p if p > 0 => format!("{p}% more than the {half} before ({before})."),
            p => format!("{}% fewer than the {half} before ({before}).", -p),
        }
    };
    vec![
        Tile {
            label: format!("People opted in{scope}"),
            value: opted.value().map(|v| v.to_string()),
            detail: match opted.value() {
                Some(_) => format!(
                    "{} of {} active people.",
                    opted.percent_of(headline.population),
                    headline.population
                ),
                None => format!("Hidden: fewer than {k} people are on one side."),
            },
        },
        Tile {
            label: format!("Shares in the last {half}"),
            value: trend.any_recent.then(|| trend.recent.to_string()),
            detail: change,
        },
        Tile {
            label: "Posts published".into(),
            value: Some(headline.posts_published.to_string()),
            detail: format!("In the last {} weeks.", built.weeks),
        },
    ]
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct ReportsPage {
    page: PageContext,
    built: Built,
    chart: ChartView,
    tiles: Vec<Tile>,
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
    let built = build_for_page(&state, &query).await?;
    ok(&ReportsPage {
        page: PageContext::from(&signed_in),
        chart: chart(&built.reports.chart),
        tiles: tiles(&built),
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
