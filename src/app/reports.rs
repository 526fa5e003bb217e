//! Participation reports, built from counts that single no one out: the
//! filters read and checked, the report built (or taken from the cache)
//! through `domain::reports`. The Reports page, its CSV files and the
//! API's reports all come from here.

pub mod cache;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{App, Error, Result};
use crate::domain::platforms::Platform;
use crate::domain::reports::{self, Filters, Reports, Table, Tally, Week};
use crate::domain::schedule;
use crate::store;
use cache::{Patience, ReportKey};

/// The filters as the page's form and the API send them.
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
    /// The figures are the last ones while the newest are being counted
    /// (a page's build only, see [`build_for_page`]).
    pub counting: bool,
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

/// The report as of now: for the CSV files and the API, exact.
pub async fn build(app: &App, query: &ReportQuery) -> Result<Built> {
    build_with(app, query, Patience::Exact).await
}

/// How long a page waits for the newest figures before it shows the last
/// ones, said to be counting (see [`cache`]).
pub const PAGE_PATIENCE: Duration = Duration::from_secs(1);

/// The report for a page: as of now, or the last figures with
/// [`Built::counting`] when counting the newest takes longer than
/// [`PAGE_PATIENCE`].
pub async fn build_for_page(app: &App, query: &ReportQuery) -> Result<Built> {
    build_with(app, query, Patience::AtMost(PAGE_PATIENCE)).await
}

async fn build_with(app: &App, query: &ReportQuery, patience: Patience) -> Result<Built> {
    let now = app.clock.now_naive();
    let weeks: u32 = match query.weeks.as_str() {
        "" => 12,
        text => text
            .parse()
            .ok()
            .filter(|w| PERIODS.contains(w))
            .ok_or_else(|| Error::Invalid("Choose a period of 4, 12 or 26 weeks.".into()))?,
    };
    let (settings, generation) = app
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
                    Error::Invalid("Choose one of the organisation's platforms.".into())
                })?,
        ],
    };
    let department = match query.department.as_str() {
        "" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|_| Error::Invalid("Choose a department from the list.".into()))?,
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
    let db = app.db.clone();
    let kept = app
        .report_cache
        .get_or_build(generation, key, patience, move || async move {
            let calendar = weeks_ending(now, tz, weeks);
            let (from, to) = (calendar[0].start, now + chrono::Duration::seconds(1));
            let filters = Filters {
                platforms,
                department,
            };
            // Counted on the blocking pool, in one snapshot of the database,
            // the rows about people streamed a range of people at a time:
            // memory stays flat however many people and shares there are.
            let built = db
                .run(move |conn| {
                    store::reports::in_period(conn, from, to, |conn, facts| {
                        if let Some(id) = department {
                            let members = store::reports::department_members(conn)?;
                            let members = |d| members.get(&Some(d)).copied().unwrap_or(0);
                            if !reports::reportable_departments(&facts.departments, members, k)
                                .iter()
                                .any(|(d, _)| *d == id)
                            {
                                return Ok(None);
                            }
                        }
                        let started = std::time::Instant::now();
                        let mut tally = Tally::new(facts, &filters, &calendar);
                        store::reports::stream_people(
                            conn,
                            from,
                            &facts.posts,
                            store::reports::PEOPLE_PER_RANGE,
                            &mut tally,
                        )?;
                        let built = tally.reports(k);
                        tracing::info!(
                            build_ms = started.elapsed().as_millis() as u64,
                            "report built"
                        );
                        Ok(Some(built))
                    })
                })
                .await?;
            let Some(built) = built else {
                return Err(Error::Invalid(format!(
                    "That department has fewer than {k} people, so it is not reported on its own."
                )));
            };
            Ok(built)
        })
        .await?;
    let reports = kept.reports;
    Ok(Built {
        recent_posts: reports.posts_as_of(now, Some(POSTS_ON_PAGE)),
        reports,
        counting: kept.counting,
        k,
        weeks,
        platform: query.platform.clone(),
        department: query.department.clone(),
        enabled,
    })
}
