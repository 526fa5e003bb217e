//! The raw facts behind the aggregate reports. Only the report builder in
//! src/domain/reports.rs sees these rows; no page ever shows them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{
    consent_state, departments, dismissals, post_departments, posts, report_changes, shares, users,
};
use crate::domain::consent::Status;
use crate::domain::disclosure_control::RecordKey;
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::reports::{Employee, Facts, PostFact};

/// The report change counters (see the report_changes migration): kept by
/// triggers in the same transaction as each change, so no write path can
/// forget them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Changes {
    /// People, departments, consent, posts and their audiences.
    org: i64,
    /// Shares added, in rows.
    shares_added: i64,
    /// Shares changed or removed.
    shares_changed: i64,
    dismissals: i64,
}

impl Changes {
    fn read(conn: &mut DbConnection) -> StoreResult<Changes> {
        let rows: Vec<(i32, i64)> = report_changes::table
            .select((report_changes::kind, report_changes::changes))
            .load(conn)?;
        let mut changes = Changes::default();
        for (kind, n) in rows {
            match kind {
                ORG => changes.org += n,
                SHARES_ADDED => changes.shares_added += n,
                SHARES_CHANGED => changes.shares_changed += n,
                _ => changes.dismissals += n,
            }
        }
        Ok(changes)
    }
}

// The kinds of report_changes (see its migration).
const ORG: i32 = 0;
pub(super) const SHARES_ADDED: i32 = 1;
const SHARES_CHANGED: i32 = 2;

/// A number that changes (in the same transaction) whenever anything the
/// reports count changes.
pub fn generation(conn: &mut DbConnection) -> StoreResult<i64> {
    let c = Changes::read(conn)?;
    Ok(c.org + c.shares_added + c.shares_changed + c.dismissals)
}

type ShareRow = (i64, i64, i64, String, NaiveDateTime);
type ShareFact = (i64, i64, Platform, NaiveDateTime);

/// Streams a query's share rows into `keep`, converting one at a time as
/// they come, so only the compact form is ever held (on PostgreSQL row by
/// row, so libpq does not buffer a million rows either).
macro_rules! stream_shares {
    ($conn:expr, $query:expr, $keep:expr) => {
        match $conn {
            DbConnection::Postgresql(pg) => {
                for row in $query.load_iter::<ShareRow, diesel::pg::PgRowByRowLoadingMode>(pg)? {
                    $keep(row?);
                }
            }
            DbConnection::Sqlite(sqlite) => {
                for row in
                    $query.load_iter::<ShareRow, diesel::connection::DefaultLoadingMode>(sqlite)?
                {
                    $keep(row?);
                }
            }
        }
    };
}

/// The shares recorded since `from` (all of them: the builder places them
/// in weeks), and the highest share id there is.
fn shares_since(
    conn: &mut DbConnection,
    from: NaiveDateTime,
) -> StoreResult<(Vec<ShareFact>, i64)> {
    let last_id: Option<i64> = shares::table.select(max(shares::id)).first(conn)?;
    let query = shares::table
        .filter(shares::shared_at.ge(from))
        .select(SHARE_COLUMNS);
    let mut out = Vec::new();
    stream_shares!(conn, query, |(_, u, p, slug, at): ShareRow| {
        if let Some(platform) = Platform::from_slug(&slug) {
            out.push((u, p, platform, at));
        }
    });
    Ok((out, last_id.unwrap_or(0)))
}

/// Every share with an id above `after`: (id, when, fact if its platform is known).
fn shares_after(conn: &mut DbConnection, after: i64) -> StoreResult<Vec<(i64, Option<ShareFact>)>> {
    let query = shares::table
        .filter(shares::id.gt(after))
        .select(SHARE_COLUMNS);
    let mut out = Vec::new();
    stream_shares!(conn, query, |(id, u, p, slug, at): ShareRow| {
        out.push((
            id,
            Platform::from_slug(&slug).map(|platform| (u, p, platform, at)),
        ));
    });
    Ok(out)
}

const SHARE_COLUMNS: (
    shares::id,
    shares::user_id,
    shares::post_id,
    shares::platform,
    shares::shared_at,
) = (
    shares::id,
    shares::user_id,
    shares::post_id,
    shares::platform,
    shares::shared_at,
);

/// Active employees, departments and who is opted in, per platform.
fn people(conn: &mut DbConnection) -> StoreResult<PeopleRows> {
    let employees: Vec<Employee> = users::table
        .filter(users::active.eq(true))
        .filter(users::is_employee.eq(true))
        .select((users::id, users::department_id, users::record_key))
        .load::<(i64, Option<i64>, i64)>(conn)?
        .into_iter()
        .map(|(id, department, key)| Employee {
            id,
            department,
            record_key: RecordKey::new(key),
        })
        .collect();
    let departments: Vec<(i64, String)> = departments::table
        .order(departments::name_key.asc())
        .select((departments::id, departments::name))
        .load(conn)?;
    let opted_in: Vec<(i64, String)> = consent_state::table
        .filter(consent_state::purpose.eq("share_suggestions"))
        .filter(consent_state::status.eq(Status::Given.as_str()))
        .select((consent_state::user_id, consent_state::platform))
        .load(conn)?;
    Ok(PeopleRows {
        employees,
        departments,
        opted_in: opted_in
            .into_iter()
            .filter_map(|(u, slug)| Platform::from_slug(&slug).map(|p| (u, p)))
            .collect(),
    })
}

/// The rows about people that the reports count.
struct PeopleRows {
    employees: Vec<Employee>,
    departments: Vec<(i64, String)>,
    opted_in: Vec<(i64, Platform)>,
}

type PostRow = (
    i64,
    String,
    bool,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
);

/// Posts published (not drafts) in [from, to), oldest first.
fn posts_between(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<PostFact>> {
    let post_rows: Vec<PostRow> = posts::table
        .filter(posts::published_at.ge(from).and(posts::published_at.lt(to)))
        .filter(posts::status.ne(PostStatus::Draft.as_str()))
        .order(posts::published_at.asc())
        .select(post_row_columns())
        .load(conn)?;
    post_facts(conn, post_rows, from)
}

/// Posts that were live (in people's queues) at some time in [from, to),
/// whenever they were published, oldest first.
fn posts_live_between(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Vec<PostFact>> {
    let post_rows: Vec<PostRow> = posts::table
        .filter(posts::published_at.lt(to))
        .filter(posts::status.ne(PostStatus::Draft.as_str()))
        .order(posts::published_at.asc())
        .select(post_row_columns())
        .load(conn)?;
    let mut live = post_facts(conn, post_rows, from)?;
    live.retain(|post| post.ended_at.is_none_or(|ended| ended >= from));
    Ok(live)
}

#[allow(clippy::type_complexity)]
fn post_row_columns() -> (
    posts::id,
    posts::title,
    posts::target_all,
    posts::published_at,
    posts::withdrawn_at,
    posts::expires_at,
    posts::status,
) {
    (
        posts::id,
        posts::title,
        posts::target_all,
        posts::published_at,
        posts::withdrawn_at,
        posts::expires_at,
        posts::status,
    )
}

/// The rows as facts, with each post's audience.
fn post_facts(
    conn: &mut DbConnection,
    post_rows: Vec<PostRow>,
    from: NaiveDateTime,
) -> StoreResult<Vec<PostFact>> {
    let ids: Vec<i64> = post_rows.iter().map(|r| r.0).collect();
    let mut targets: HashMap<i64, Vec<i64>> = HashMap::new();
    for (post, department) in post_departments::table
        .filter(post_departments::post_id.eq_any(&ids))
        .select((post_departments::post_id, post_departments::department_id))
        .load::<(i64, i64)>(conn)?
    {
        targets.entry(post).or_default().push(department);
    }
    Ok(post_rows
        .into_iter()
        .map(
            |(id, title, target_all, published_at, withdrawn_at, expires_at, status)| PostFact {
                id,
                title,
                departments: if target_all {
                    None
                } else {
                    Some(targets.remove(&id).unwrap_or_default())
                },
                published_at: published_at.unwrap_or(from),
                ended_at: match PostStatus::parse(&status) {
                    Some(PostStatus::Withdrawn) => withdrawn_at,
                    Some(PostStatus::Expired) => expires_at,
                    _ => None,
                },
            },
        )
        .collect())
}

fn dismissals_of(conn: &mut DbConnection, posts: &[PostFact]) -> StoreResult<Vec<(i64, i64)>> {
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    Ok(dismissals::table
        .filter(dismissals::post_id.eq_any(&ids))
        .select((dismissals::user_id, dismissals::post_id))
        .load(conn)?)
}

/// Runs reads in one snapshot of the database: what the change counters
/// say and what the rows hold agree.
fn in_snapshot<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    crate::db::write_transaction(conn, |conn| {
        if let DbConnection::Postgresql(_) = conn {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(conn)?;
        }
        work(conn)
    })
}

/// The facts last read, and the change counters they were read at.
struct Kept {
    from: NaiveDateTime,
    changes: Changes,
    last_share_id: i64,
    facts: Arc<Facts>,
}

/// The reports' facts, kept in memory between builds and brought up to date
/// from the change counters: a million shares are read once, and after
/// that only the shares added since (by id; the counter of rows added
/// proves that none was missed, or they are all read again). People and
/// consent are read again when they changed, dismissals when they or the
/// posts changed, posts (a few thousand rows) every time, as a scheduled
/// post goes live without any write.
#[derive(Default)]
pub struct FactsMemo {
    kept: Mutex<Option<Kept>>,
}

impl FactsMemo {
    /// Everything the reports count, for posts published in [from, to) and
    /// the shares recorded since `from`. Exactly what reading it all afresh
    /// would give.
    pub fn facts(
        &self,
        conn: &mut DbConnection,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> StoreResult<Arc<Facts>> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken out: after an error, everything is read again next time.
        let previous = kept.take().filter(|k| k.from == from);
        let fresh = in_snapshot(conn, |conn| refresh(conn, previous, from, to))?;
        let facts = fresh.facts.clone();
        *kept = Some(fresh);
        Ok(facts)
    }
}

fn refresh(
    conn: &mut DbConnection,
    previous: Option<Kept>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Kept> {
    let changes = Changes::read(conn)?;
    let posts = posts_between(conn, from, to)?;
    let offered = posts_live_between(conn, from, to)?;
    let Some(mut kept) = previous else {
        let people = people(conn)?;
        let dismissals = dismissals_of(conn, &posts)?;
        let (shares, last_share_id) = shares_since(conn, from)?;
        return Ok(Kept {
            from,
            changes,
            last_share_id,
            facts: Arc::new(Facts {
                employees: people.employees,
                departments: people.departments,
                opted_in: people.opted_in,
                posts,
                offered,
                shares,
                dismissals,
            }),
        });
    };
    let was = kept.changes;
    let facts = Arc::make_mut(&mut kept.facts);
    if changes.org != was.org {
        let people = people(conn)?;
        facts.employees = people.employees;
        facts.departments = people.departments;
        facts.opted_in = people.opted_in;
    }
    let same_posts = facts.posts.len() == posts.len()
        && facts.posts.iter().zip(&posts).all(|(a, b)| a.id == b.id);
    if changes.dismissals != was.dismissals || !same_posts {
        facts.dismissals = dismissals_of(conn, &posts)?;
    }
    facts.posts = posts;
    facts.offered = offered;
    if changes.shares_changed != was.shares_changed {
        (facts.shares, kept.last_share_id) = shares_since(conn, from)?;
    } else if changes.shares_added != was.shares_added {
        let added = shares_after(conn, kept.last_share_id)?;
        if added.len() as i64 == changes.shares_added - was.shares_added {
            kept.last_share_id = added
                .iter()
                .map(|(id, _)| *id)
                .max()
                .unwrap_or(kept.last_share_id);
            facts.shares.extend(
                added
                    .into_iter()
                    .filter_map(|(_, fact)| fact)
                    .filter(|f| f.3 >= from),
            );
        } else {
            // A share with a lower id committed late (PostgreSQL hands out
            // ids before commit): read them all.
            (facts.shares, kept.last_share_id) = shares_since(conn, from)?;
        }
    }
    kept.changes = changes;
    Ok(kept)
}
