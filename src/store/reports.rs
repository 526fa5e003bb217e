//! The raw facts behind the aggregate reports. Only the report builder in
//! src/domain/reports.rs sees these rows; no page ever shows them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{
    consent_state, departments, dismissals, post_departments, posts, report_changes, shares, users,
};
use crate::domain::consent::Status;
use crate::domain::disclosure_control::RecordKey;
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::reports::{Employee, Facts, PersonShare, PostFact};

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

type ShareRow = (i64, i64, String, NaiveDateTime);

/// Streams a query's rows into `keep` one at a time as they come (on
/// PostgreSQL row by row, so libpq does not buffer a million rows either).
macro_rules! stream_rows {
    ($conn:expr, $query:expr, $row:ty, $keep:expr) => {
        match $conn {
            DbConnection::Postgresql(pg) => {
                for row in $query.load_iter::<$row, diesel::pg::PgRowByRowLoadingMode>(pg)? {
                    $keep(row?);
                }
            }
            DbConnection::Sqlite(sqlite) => {
                for row in
                    $query.load_iter::<$row, diesel::connection::DefaultLoadingMode>(sqlite)?
                {
                    $keep(row?);
                }
            }
        }
    };
}

/// Every share recorded since `from`, handed over one person at a time
/// (all of a person's shares in one call), in the order of the index on
/// shares by person: nothing but one person's rows is held.
pub fn shares_by_person(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    mut each: impl FnMut(i64, &[PersonShare]),
) -> StoreResult<()> {
    let query = shares::table
        .filter(shares::shared_at.ge(from))
        .order(shares::user_id.asc())
        .select((
            shares::user_id,
            shares::post_id,
            shares::platform,
            shares::shared_at,
        ));
    let mut person: Option<i64> = None;
    let mut theirs: Vec<PersonShare> = Vec::new();
    stream_rows!(conn, query, ShareRow, |(u, p, slug, at): ShareRow| {
        if person != Some(u) {
            if let Some(done) = person {
                each(done, &theirs);
            }
            person = Some(u);
            theirs.clear();
        }
        if let Some(platform) = Platform::from_slug(&slug) {
            theirs.push((p, platform, at));
        }
    });
    if let Some(done) = person {
        each(done, &theirs);
    }
    Ok(())
}

/// The most ids one statement lists (`IN (…)`), well under the bind
/// parameters a statement may carry: 32,766 on SQLite, 65,535 on
/// PostgreSQL. A period of a very busy hub can hold more posts than that.
const MAX_LISTED_IDS: usize = 10_000;

/// The dismissals of `posts`, handed over one person at a time (all of a
/// person's in one call), in the order of the dismissals' primary key.
pub fn dismissals_by_person(
    conn: &mut DbConnection,
    posts: &[PostFact],
    mut each: impl FnMut(i64, &[i64]),
) -> StoreResult<()> {
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let mut person: Option<i64> = None;
    let mut theirs: Vec<i64> = Vec::new();
    let mut take = |(u, p): (i64, i64)| {
        if person != Some(u) {
            if let Some(done) = person {
                each(done, &theirs);
            }
            person = Some(u);
            theirs.clear();
        }
        theirs.push(p);
    };
    let in_person_order = dismissals::table
        .order((dismissals::user_id.asc(), dismissals::post_id.asc()))
        .select((dismissals::user_id, dismissals::post_id));
    if ids.len() <= MAX_LISTED_IDS {
        let query = in_person_order.filter(dismissals::post_id.eq_any(&ids));
        stream_rows!(conn, query, (i64, i64), take);
    } else {
        // Too many posts to list in one statement: every dismissal, in the
        // same order, keeping those of these posts.
        let wanted: HashSet<i64> = ids.into_iter().collect();
        stream_rows!(conn, in_person_order, (i64, i64), |row: (i64, i64)| {
            if wanted.contains(&row.1) {
                take(row)
            }
        });
    }
    if let Some(done) = person {
        each(done, &theirs);
    }
    Ok(())
}

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
    for listed in ids.chunks(MAX_LISTED_IDS) {
        for (post, department) in post_departments::table
            .filter(post_departments::post_id.eq_any(listed))
            .select((post_departments::post_id, post_departments::department_id))
            .load::<(i64, i64)>(conn)?
        {
            targets.entry(post).or_default().push(department);
        }
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
    facts: Arc<Facts>,
}

/// The facts about people and posts behind the reports, kept in memory
/// between builds and brought up to date from the change counters: people
/// and consent are read again when they changed, posts (a few thousand
/// rows) every time, as a scheduled post goes live without any write.
/// Shares and dismissals are not kept: each build streams them, a person
/// at a time, so memory does not grow with them.
#[derive(Default)]
pub struct FactsMemo {
    kept: Mutex<Option<Kept>>,
}

impl FactsMemo {
    /// Everything the reports count about people and posts, for posts
    /// published in [from, to), exactly what reading it all afresh would
    /// give (its `shares` and `dismissals` left empty); then `count` runs
    /// in the same snapshot of the database, to stream those.
    pub fn read<T>(
        &self,
        conn: &mut DbConnection,
        from: NaiveDateTime,
        to: NaiveDateTime,
        count: impl FnOnce(&mut DbConnection, &Facts) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken out: after an error, everything is read again next time.
        let previous = kept.take().filter(|k| k.from == from);
        let (fresh, counted) = in_snapshot(conn, |conn| {
            let fresh = refresh(conn, previous, from, to)?;
            let counted = count(conn, &fresh.facts)?;
            Ok((fresh, counted))
        })?;
        *kept = Some(fresh);
        Ok(counted)
    }

    /// Everything the reports count, shares and dismissals included, all
    /// held at once: to check the kept facts against a fresh read. The
    /// reports stream the shares and dismissals instead.
    pub fn facts(
        &self,
        conn: &mut DbConnection,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> StoreResult<Arc<Facts>> {
        self.read(conn, from, to, |conn, facts| {
            let mut all = facts.clone();
            shares_by_person(conn, from, |user, theirs| {
                all.shares.extend(
                    theirs
                        .iter()
                        .map(|(p, platform, at)| (user, *p, *platform, *at)),
                );
            })?;
            dismissals_by_person(conn, &facts.posts, |user, posts| {
                all.dismissals.extend(posts.iter().map(|p| (user, *p)));
            })?;
            Ok(Arc::new(all))
        })
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
        return Ok(Kept {
            from,
            changes,
            facts: Arc::new(Facts {
                employees: people.employees,
                departments: people.departments,
                opted_in: people.opted_in,
                posts,
                offered,
                shares: Vec::new(),
                dismissals: Vec::new(),
            }),
        });
    };
    let facts = Arc::make_mut(&mut kept.facts);
    if changes.org != kept.changes.org {
        let people = people(conn)?;
        facts.employees = people.employees;
        facts.departments = people.departments;
        facts.opted_in = people.opted_in;
    }
    facts.posts = posts;
    facts.offered = offered;
    kept.changes = changes;
    Ok(kept)
}
