//! Aggregate reports, built (and cached) by the very code of the Reports
//! page: every cell through the same disclosure-control path.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiCaller, ApiResult};
use crate::app::reports::{self, ReportQuery};
use crate::domain::reports::Table;
use crate::web::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// 4, 12 (default) or 26.
    pub weeks: Option<u32>,
    /// One of the organisation's platforms (slug); all by default.
    pub platform: Option<String>,
    /// A department id with at least k people; the whole organisation by default.
    pub department: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportTable {
    pub columns: Vec<String>,
    /// Cells as on the Reports page and in its CSV; a suppressed cell is
    /// shown as it is there, never as a number.
    pub rows: Vec<Vec<String>>,
}

impl From<&Table> for ReportTable {
    fn from(table: &Table) -> ReportTable {
        ReportTable {
            columns: table.columns.clone(),
            rows: table.rows.clone(),
        }
    }
}

const DISCLOSURE_NOTE: &str = "Every figure is shifted by a small random amount (most often none, at most 2 nine times in ten; the same figure always gets the same shift) so that no one can be singled out; totals may not add up exactly. Figures of fewer than k people, or leaving fewer than k out, read \"suppressed\".";

#[derive(Serialize, ToSchema)]
pub struct ReportsResponse {
    /// Smallest group shown (org setting).
    pub k: u32,
    /// How the figures are protected, in plain words: each is shifted by a
    /// small random amount (the same each time), so totals may not add up.
    pub disclosure: String,
    pub weeks: u32,
    /// Shares per post and platform, for every post of the period.
    pub posts: ReportTable,
    /// Opt-in rates per platform.
    pub platforms: ReportTable,
    /// Per department of at least k people.
    pub departments: ReportTable,
    /// Week by week.
    pub trend: ReportTable,
    /// Departments that may be asked for (`department`).
    pub reportable_departments: Vec<ReportDepartment>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportDepartment {
    pub id: i64,
    pub name: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/reports",
    operation_id = "reports_show",
    tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "Aggregates, shifted by their cell keys and suppressed in small groups", body = ReportsResponse)),
    security(("bearer" = []))
)]
/// Aggregate reports through the disclosure-control path, as on the Reports page.
pub async fn show(
    state: web::Data<AppState>,
    _caller: ApiCaller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    let query = ReportQuery {
        weeks: params.weeks.map(|w| w.to_string()).unwrap_or_default(),
        platform: params.platform.clone().unwrap_or_default(),
        department: params.department.map(|d| d.to_string()).unwrap_or_default(),
    };
    let built = reports::build(&state, &query).await?;
    let reports = &built.reports;
    Ok(HttpResponse::Ok().json(ReportsResponse {
        k: built.k,
        disclosure: DISCLOSURE_NOTE.to_string(),
        weeks: built.weeks,
        posts: (&reports.posts_as_of(state.clock.now_naive(), None)).into(),
        platforms: (&reports.platforms).into(),
        departments: (&reports.departments).into(),
        trend: (&reports.trend).into(),
        reportable_departments: reports
            .reportable_departments
            .iter()
            .map(|(id, name)| ReportDepartment {
                id: *id,
                name: name.clone(),
            })
            .collect(),
    }))
}
