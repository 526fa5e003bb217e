//! What a person's queue holds: published, unexpired posts for them (by
//! department) with a caption for a platform they agreed to, minus what they
//! dismissed or already shared everywhere they could.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::dsl::{exists, not};
use diesel::prelude::*;

use super::posts::{Post, WithdrawnPost, WithdrawnRow};
use super::{DbConnection, StoreResult};
use crate::db::schema::{
    post_captions, post_departments, posts as posts_table, queue_generation, report_changes,
    shares, users, withdrawal_notices_read,
};
use crate::domain::platforms::Platform;
use crate::domain::post::PostStatus;

/// The SQL backend of both, for boxed queries.
type Backend = <DbConnection as diesel::Connection>::Backend;

/// The posts offered to people of `department` on any of `platforms` at
/// `now`: published, not expired, for everyone or for the department, with
/// a caption for one of the platforms. This is the offered-posts rule's one
/// SQL statement. Queues are cut by the same rule from the posts kept in
/// memory (`live_posts::Published`); tests/api/queue.rs builds its
/// reference queues on this statement and holds the two to agree.
pub fn offered_posts<'a>(
    department: Option<i64>,
    platforms: &[Platform],
    now: NaiveDateTime,
) -> posts_table::BoxedQuery<'a, Backend> {
    let slugs: Vec<&'static str> = platforms.iter().map(|p| p.slug()).collect();
    posts_table::table
        .filter(posts_table::status.eq(PostStatus::Published.as_str()))
        .filter(
            posts_table::expires_at
                .is_null()
                .or(posts_table::expires_at.gt(now)),
        )
        .filter(
            posts_table::target_all.eq(true).or(exists(
                post_departments::table
                    .filter(post_departments::post_id.eq(posts_table::id))
                    .filter(post_departments::department_id.nullable().eq(department)),
            )),
        )
        .filter(exists(
            post_captions::table
                .filter(post_captions::post_id.eq(posts_table::id))
                .filter(post_captions::platform.eq_any(slugs)),
        ))
        .into_boxed()
}

pub fn department_of(conn: &mut DbConnection, user_id: i64) -> StoreResult<Option<i64>> {
    Ok(users::table
        .find(user_id)
        .select(users::department_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// The two change counters a queue view reads, in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// What the kept hub is keyed by (`live_posts::generation`).
    pub queue: i64,
    /// How many shares were ever added, by any process: it changes in the
    /// same transaction as every share added (the report changes' kind).
    pub shares_added: i64,
}

pub fn counters(conn: &mut DbConnection) -> StoreResult<Counters> {
    use diesel::sql_types::Integer;
    // The queue counter comes as kind -1, which no kind of report change uses.
    const QUEUE: i32 = -1;
    let query = queue_generation::table
        .filter(queue_generation::id.eq(1))
        .select((QUEUE.into_sql::<Integer>(), queue_generation::changes))
        .union_all(
            report_changes::table
                .filter(report_changes::kind.eq(super::reports::SHARES_ADDED))
                .select((report_changes::kind, report_changes::changes)),
        );
    let rows = super::natively!(conn, |c| query.load::<(i32, i64)>(c))?;
    let mut counters = Counters {
        queue: 0,
        shares_added: 0,
    };
    let mut queue_read = false;
    for (kind, changes) in rows {
        if kind == QUEUE {
            counters.queue = changes;
            queue_read = true;
        } else {
            counters.shares_added += changes;
        }
    }
    if !queue_read {
        return Err(diesel::result::Error::NotFound.into());
    }
    Ok(counters)
}

pub struct QueueItem {
    pub post: Arc<Post>,
    /// Platforms of this post the person already shared it on.
    pub shared_on: Vec<Platform>,
}

/// Whether the post is offered to this person right now on any of these
/// platforms (the ones they said yes to), dismissed and shared or not: the
/// posts whose "Not for me" and "Undo" the person may use.
pub fn offered_on_any(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    platforms: &[Platform],
    now: NaiveDateTime,
) -> StoreResult<bool> {
    if platforms.is_empty() {
        return Ok(false);
    }
    let department = department_of(conn, user_id)?;
    let found: i64 = offered_posts(department, platforms, now)
        .filter(posts_table::id.eq(post_id))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// A post the person shared that comms has since withdrawn, and the
/// platforms they shared it on.
pub struct WithdrawalNotice {
    pub post: WithdrawnPost,
    pub platforms: Vec<Platform>,
}

type NoticeRow = (WithdrawnRow, String);

/// Withdrawn posts the person shared and has not yet acknowledged, in SQL:
/// the rule the queue applies to the kept posts and the person's marks
/// (`live_posts::Published::withdrawal_notices`), kept as the reference the
/// tests hold it to.
pub fn withdrawal_notices(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<Vec<WithdrawalNotice>> {
    let query = shares::table
        .inner_join(posts_table::table)
        .filter(shares::user_id.eq(user_id))
        .filter(posts_table::status.eq(PostStatus::Withdrawn.as_str()))
        .filter(not(exists(
            withdrawal_notices_read::table
                .filter(withdrawal_notices_read::user_id.eq(user_id))
                .filter(withdrawal_notices_read::post_id.eq(posts_table::id)),
        )))
        .order(posts_table::withdrawn_at.desc())
        .select((
            (
                posts_table::id,
                posts_table::title,
                posts_table::link,
                posts_table::withdrawal_reason,
                posts_table::withdrawn_at,
            ),
            shares::platform,
        ));
    let rows: Vec<NoticeRow> = super::natively!(conn, |c| query.load(c))?;
    let mut notices: Vec<WithdrawalNotice> = Vec::new();
    for (post, slug) in rows {
        let platform = Platform::from_slug(&slug);
        match notices.iter_mut().find(|n| n.post.id == post.0) {
            Some(notice) => notice.platforms.extend(platform),
            None => notices.push(WithdrawalNotice {
                post: post.into(),
                platforms: platform.into_iter().collect(),
            }),
        }
    }
    Ok(notices)
}
