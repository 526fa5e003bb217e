//! Reports (admins and comms; employees see the same under "What others can
//! see"): aggregates only, every cell through the disclosure-control path
//! (domain::disclosure_control), as tables, an SVG chart and CSV. Filters
//! are a fixed set, which keeps the figures an admin can ask for few.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::reports::{Built, PERIODS, ReportQuery, build};
use crate::domain::reports::Bar;
use crate::store::audit::{self, Actor};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, ok};

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
