//! The raw facts behind the aggregate reports. Only the report builder in
//! src/domain/reports.rs sees these rows; no page ever shows them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{
    consent_state, departments, dismissals, post_departments, posts, report_generation, shares,
    users,
};
use crate::domain::consent::Status;
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::reports::{Facts, PostFact};

type PostRow = (
    i64,
    String,
    bool,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
);

/// A number that changes (in the same transaction) whenever anything the
/// reports count changes; kept by triggers (see the report_generation
/// migration), so no write path can forget it.
pub fn generation(conn: &mut DbConnection) -> StoreResult<i64> {
    let shards: Vec<i64> = report_generation::table
        .select(report_generation::changes)
        .load(conn)?;
    Ok(shards.into_iter().sum())
}

/// Everything the reports count, for posts published in [from, to).
pub fn facts(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Facts> {
    let employees: Vec<(i64, Option<i64>)> = users::table
        .filter(users::active.eq(true))
        .filter(users::is_employee.eq(true))
        .select((users::id, users::department_id))
        .load(conn)?;
    let departments: Vec<(i64, String)> = departments::table
        .order(departments::name_key.asc())
        .select((departments::id, departments::name))
        .load(conn)?;
    let opted_in: Vec<(i64, String)> = consent_state::table
        .filter(consent_state::purpose.eq("share_suggestions"))
        .filter(consent_state::status.eq(Status::Given.as_str()))
        .select((consent_state::user_id, consent_state::platform))
        .load(conn)?;
    let post_rows: Vec<PostRow> = posts::table
        .filter(posts::published_at.ge(from).and(posts::published_at.lt(to)))
        .filter(posts::status.ne(PostStatus::Draft.as_str()))
        .order(posts::published_at.asc())
        .select((
            posts::id,
            posts::title,
            posts::target_all,
            posts::published_at,
            posts::withdrawn_at,
            posts::expires_at,
            posts::status,
        ))
        .load(conn)?;
    let ids: Vec<i64> = post_rows.iter().map(|r| r.0).collect();
    let targets: Vec<(i64, i64)> = post_departments::table
        .filter(post_departments::post_id.eq_any(&ids))
        .select((post_departments::post_id, post_departments::department_id))
        .load(conn)?;
    // A million rows: converted one at a time as they stream in, so only
    // the compact form is ever held (on PostgreSQL, row by row, so libpq
    // does not buffer the whole result either).
    let query = shares::table
        .filter(shares::shared_at.ge(from).and(shares::shared_at.lt(to)))
        .select((
            shares::user_id,
            shares::post_id,
            shares::platform,
            shares::shared_at,
        ));
    let mut share_rows: Vec<(i64, i64, Platform, NaiveDateTime)> = Vec::new();
    let mut keep = |(u, p, slug, at): (i64, i64, String, NaiveDateTime)| {
        if let Some(platform) = Platform::from_slug(&slug) {
            share_rows.push((u, p, platform, at));
        }
    };
    type ShareRow = (i64, i64, String, NaiveDateTime);
    match conn {
        DbConnection::Postgresql(pg) => {
            for row in query.load_iter::<ShareRow, diesel::pg::PgRowByRowLoadingMode>(pg)? {
                keep(row?);
            }
        }
        DbConnection::Sqlite(sqlite) => {
            for row in
                query.load_iter::<ShareRow, diesel::connection::DefaultLoadingMode>(sqlite)?
            {
                keep(row?);
            }
        }
    }
    let dismissal_rows: Vec<(i64, i64)> = dismissals::table
        .filter(dismissals::post_id.eq_any(&ids))
        .select((dismissals::user_id, dismissals::post_id))
        .load(conn)?;
    Ok(Facts {
        employees,
        departments,
        opted_in: opted_in
            .into_iter()
            .filter_map(|(u, slug)| Platform::from_slug(&slug).map(|p| (u, p)))
            .collect(),
        posts: post_rows
            .into_iter()
            .map(
                |(id, title, target_all, published_at, withdrawn_at, expires_at, status)| {
                    PostFact {
                        id,
                        title,
                        departments: if target_all {
                            None
                        } else {
                            Some(
                                targets
                                    .iter()
                                    .filter(|(p, _)| *p == id)
                                    .map(|(_, d)| *d)
                                    .collect(),
                            )
                        },
                        published_at: published_at.unwrap_or(from),
                        ended_at: match PostStatus::parse(&status) {
                            Some(PostStatus::Withdrawn) => withdrawn_at,
                            Some(PostStatus::Expired) => expires_at,
                            _ => None,
                        },
                    }
                },
            )
            .collect(),
        shares: share_rows,
        dismissals: dismissal_rows,
    })
}
