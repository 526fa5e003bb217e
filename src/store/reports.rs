//! The raw facts behind the aggregate reports. Only the report builder in
//! src/domain/reports.rs sees these rows; no page ever shows them. Posts
//! and departments are read whole (a few thousand rows); the rows about
//! people are streamed a range of people at a time ([`stream_people`]), so
//! a build holds one range, not the organisation.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{
    consent_state, departments, dismissals, posts, report_changes, shares, users,
};
use crate::domain::consent::Status;
use crate::domain::disclosure_control::RecordKey;
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;
use crate::domain::reports::{Employee, Facts, PersonRows, PersonShare, PostFact};

// The kinds of report_changes (see its migration): people, departments,
// consent, posts and their audiences (0); shares added, in rows (1);
// shares changed or removed (2); dismissals (3). Kept by triggers in the
// same transaction as each change, so no write path can forget them.
pub(super) const SHARES_ADDED: i32 = 1;

/// A number that changes (in the same transaction) whenever anything the
/// reports count changes.
pub fn generation(conn: &mut DbConnection) -> StoreResult<i64> {
    let changes: Vec<i64> = report_changes::table
        .select(report_changes::changes)
        .load(conn)?;
    Ok(changes.into_iter().sum())
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

/// People whose ids are in (after, last]: one range of [`stream_people`].
#[derive(Debug, Clone, Copy)]
struct IdRange {
    after: i64,
    last: i64,
}

impl IdRange {
    const EVERYONE: IdRange = IdRange {
        after: i64::MIN,
        last: i64::MAX,
    };
}

/// Active employees in one range of [`stream_people`]: a few hundred
/// kilobytes of their rows at a time.
pub const PEOPLE_PER_RANGE: i64 = 10_000;

/// Every row the reports count about people, streamed into `rows` a range
/// of active employees (at most `per_range`) at a time in the order of
/// their ids: the range's employees and consents, then each one's shares
/// since `from`, then each one's dismissals of `posts` (see
/// [`PersonRows`]). One range is held at a time, so memory does not grow
/// with the people or their rows. Run it in one snapshot ([`in_period`]).
pub fn stream_people(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    posts: &[PostFact],
    per_range: i64,
    rows: &mut impl PersonRows,
) -> StoreResult<()> {
    let listed = ListedPosts::new(posts);
    let mut after = i64::MIN;
    loop {
        let employees = employees_after(conn, after, per_range)?;
        let Some(last) = employees.last().map(|e| e.id) else {
            return Ok(());
        };
        let range = IdRange { after, last };
        rows.people(&employees, &opted_in(conn, range)?);
        shares_by_person(conn, from, range, |user, theirs| {
            rows.shares_of(user, theirs)
        })?;
        dismissals_of(conn, &listed, range, |user, theirs| {
            rows.dismissals_of(user, theirs)
        })?;
        after = last;
    }
}

/// The next active employees by id after `after`, at most `limit`.
fn employees_after(conn: &mut DbConnection, after: i64, limit: i64) -> StoreResult<Vec<Employee>> {
    Ok(users::table
        .filter(users::active.eq(true))
        .filter(users::is_employee.eq(true))
        .filter(users::id.gt(after))
        .order(users::id.asc())
        .limit(limit.max(1))
        .select((users::id, users::department_id, users::record_key))
        .load::<(i64, Option<i64>, i64)>(conn)?
        .into_iter()
        .map(|(id, department, key)| Employee {
            id,
            department,
            record_key: RecordKey::new(key),
        })
        .collect())
}

/// Who in the range is opted in now, per platform.
fn opted_in(conn: &mut DbConnection, range: IdRange) -> StoreResult<Vec<(i64, Platform)>> {
    // The status is checked here, not in the statement: with it there,
    // SQLite reads the range through the index by status (every consent
    // given, in each range) instead of the primary key by person.
    let query = consent_state::table
        .filter(consent_state::user_id.gt(range.after))
        .filter(consent_state::user_id.le(range.last))
        .filter(consent_state::purpose.eq("share_suggestions"))
        .select((
            consent_state::user_id,
            consent_state::platform,
            consent_state::status,
        ));
    let given = Status::Given.as_str();
    let mut opted = Vec::new();
    stream_rows!(conn, query, (i64, String, String), |(
        user,
        slug,
        status,
    ): (
        i64,
        String,
        String
    )| {
        if status == given
            && let Some(platform) = Platform::from_slug(&slug)
        {
            opted.push((user, platform));
        }
    });
    Ok(opted)
}

/// Every share in the range recorded since `from`, handed over one person
/// at a time (all of a person's shares in one call), in the order of the
/// index on shares by person: nothing but one person's rows is held.
fn shares_by_person(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    range: IdRange,
    mut each: impl FnMut(i64, &[PersonShare]),
) -> StoreResult<()> {
    let query = shares::table
        .filter(shares::user_id.gt(range.after))
        .filter(shares::user_id.le(range.last))
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

/// The posts whose dismissals are counted: listed in the statement when
/// few enough, else kept from all of a range's dismissals.
enum ListedPosts {
    Listed(Vec<i64>),
    Kept(HashSet<i64>),
}

impl ListedPosts {
    fn new(posts: &[PostFact]) -> ListedPosts {
        let ids = posts.iter().map(|p| p.id);
        if posts.len() <= super::IDS_PER_STATEMENT {
            ListedPosts::Listed(ids.collect())
        } else {
            ListedPosts::Kept(ids.collect())
        }
    }
}

/// The dismissals of `posts` by anyone, handed over one person at a time
/// (all of a person's in one call), in the order of the dismissals'
/// primary key.
pub fn dismissals_by_person(
    conn: &mut DbConnection,
    posts: &[PostFact],
    each: impl FnMut(i64, &[i64]),
) -> StoreResult<()> {
    dismissals_of(conn, &ListedPosts::new(posts), IdRange::EVERYONE, each)
}

/// [`dismissals_by_person`] for the people of a range.
fn dismissals_of(
    conn: &mut DbConnection,
    posts: &ListedPosts,
    range: IdRange,
    mut each: impl FnMut(i64, &[i64]),
) -> StoreResult<()> {
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
        .filter(dismissals::user_id.gt(range.after))
        .filter(dismissals::user_id.le(range.last))
        .order((dismissals::user_id.asc(), dismissals::post_id.asc()))
        .select((dismissals::user_id, dismissals::post_id));
    match posts {
        ListedPosts::Listed(ids) => {
            let query = in_person_order.filter(dismissals::post_id.eq_any(ids));
            stream_rows!(conn, query, (i64, i64), take);
        }
        ListedPosts::Kept(wanted) => {
            stream_rows!(conn, in_person_order, (i64, i64), |row: (i64, i64)| {
                if wanted.contains(&row.1) {
                    take(row)
                }
            });
        }
    }
    if let Some(done) = person {
        each(done, &theirs);
    }
    Ok(())
}

/// Active employees per department (None: no department): who is large
/// enough to be reported on its own, without reading everyone.
pub fn department_members(conn: &mut DbConnection) -> StoreResult<HashMap<Option<i64>, u64>> {
    let rows: Vec<(Option<i64>, i64)> = users::table
        .filter(users::active.eq(true))
        .filter(users::is_employee.eq(true))
        .group_by(users::department_id)
        .select((users::department_id, count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(department, members)| (department, members.max(0) as u64))
        .collect())
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

/// The posts of the period, oldest first: those published (not drafts)
/// in [from, to), and those live (in people's queues) at some time in it,
/// whenever published. The live ones are kept without their titles, which
/// only the posts table shows: a busy hub's period holds tens of thousands,
/// so their rows are made facts one at a time as they come.
fn posts_of_period(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<(Vec<PostFact>, Vec<PostFact>)> {
    let withdrawn = PostStatus::Withdrawn.as_str();
    let expired = PostStatus::Expired.as_str();
    let of_period = || {
        // Posts that ended before the period are neither published nor
        // live in it: left in the database, so years of history are not
        // read. (Never NULL: the IS NOT NULL tests make each side false,
        // not NULL, for a post without the date.)
        let ended_before = (posts::status.eq(withdrawn))
            .and(posts::withdrawn_at.is_not_null())
            .and(posts::withdrawn_at.lt(from))
            .or(posts::status
                .eq(expired)
                .and(posts::expires_at.is_not_null())
                .and(posts::expires_at.lt(from)));
        posts::table
            .filter(posts::published_at.lt(to))
            .filter(posts::status.ne(PostStatus::Draft.as_str()))
            .filter(diesel::dsl::not(ended_before.assume_not_null()))
    };
    let ids: Vec<i64> = of_period().select(posts::id).load(conn)?;
    let mut targets = super::posts::departments_of(conn, &ids)?;
    let (mut published, mut live) = (Vec::new(), Vec::new());
    let query = of_period()
        .order((posts::published_at.asc(), posts::id.asc()))
        .select(post_row_columns());
    stream_rows!(conn, query, PostRow, |row: PostRow| {
        let mut post = post_fact(row, &mut targets, from);
        if post.published_at >= from {
            published.push(post.clone());
        }
        if post.ended_at.is_none_or(|ended| ended >= from) {
            post.title = String::new();
            live.push(post);
        }
    });
    published.shrink_to_fit();
    live.shrink_to_fit();
    Ok((published, live))
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

/// A post's row as a fact, with its audience (taken from `targets`).
fn post_fact(
    (id, title, target_all, published_at, withdrawn_at, expires_at, status): PostRow,
    targets: &mut HashMap<i64, Vec<i64>>,
    from: NaiveDateTime,
) -> PostFact {
    PostFact {
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
    }
}

/// The facts about the posts and departments of the period [from, to)
/// (the rows about people left empty: stream them with [`stream_people`]),
/// then `count` run with them in the same snapshot of the database, so
/// what the report generation says and what the rows hold agree.
pub fn in_period<T>(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    count: impl FnOnce(&mut DbConnection, &Facts) -> StoreResult<T>,
) -> StoreResult<T> {
    crate::db::read_snapshot(conn, |conn| {
        let departments: Vec<(i64, String)> = departments::table
            .order(departments::name_key.asc())
            .select((departments::id, departments::name))
            .load(conn)?;
        let (posts, offered) = posts_of_period(conn, from, to)?;
        let facts = Facts {
            employees: Vec::new(),
            departments,
            opted_in: Vec::new(),
            posts,
            offered,
            shares: Vec::new(),
            dismissals: Vec::new(),
        };
        count(conn, &facts)
    })
}

/// Everything the reports count, the rows about people included, all held
/// at once: for tests and checks against what the server streams.
pub fn all_facts(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> StoreResult<Facts> {
    in_period(conn, from, to, |conn, facts| {
        let mut all = facts.clone();
        stream_people(conn, from, &facts.posts, PEOPLE_PER_RANGE, &mut all)?;
        Ok(all)
    })
}
