//! Every queue is cut from the same published posts. Each process keeps
//! them (with captions and audiences) in memory while the queue_generation
//! counter holds; triggers bump that counter in the same transaction as any
//! change to posts, captions or audiences, so the copy is never stale. A
//! person's queue then costs two small queries of their own (dismissals and
//! shares) instead of a scan of every post, and the rule below gives the
//! same posts as `queue::page` (compared in tests/api/queue.rs).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::posts::{self, Post};
use super::queue::QueueItem;
use super::{DbConnection, StoreResult};
use crate::db::schema::{dismissals, queue_generation, shares};
use crate::domain::platforms::Platform;

#[derive(Default)]
pub struct LivePosts {
    kept: Mutex<Option<(i64, Arc<Vec<Post>>)>>,
}

impl LivePosts {
    /// The published posts, newest first, as of now.
    pub fn current(&self, conn: &mut DbConnection) -> StoreResult<Arc<Vec<Post>>> {
        let generation: i64 = queue_generation::table
            .find(1)
            .select(queue_generation::changes)
            .first(conn)?;
        if let Some((kept, posts)) = &*self.kept.lock().unwrap_or_else(PoisonError::into_inner)
            && *kept == generation
        {
            return Ok(posts.clone());
        }
        // Read after the counter: a change committed in between makes the
        // copy newer than its key, which only costs one more reload.
        let posts = Arc::new(posts::published(conn)?);
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((generation, posts.clone()));
        Ok(posts)
    }
}

impl LivePosts {
    /// One page of this person's queue (see [`page`]), and its size.
    pub fn queue_of(
        &self,
        conn: &mut DbConnection,
        user_id: i64,
        consented: &[Platform],
        now: NaiveDateTime,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<QueueItem>, i64)> {
        if consented.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let published = self.current(conn)?;
        let department = super::queue::department_of(conn, user_id)?;
        let marks = marks(conn, user_id)?;
        Ok(page(
            &published, department, consented, &marks, now, offset, limit,
        ))
    }
}

/// What a person did with their queue. Sorted, so that the test made for
/// each of the thousands of published posts is a binary search over the
/// person's few marks rather than a hash.
#[derive(Debug, Default)]
pub struct Marks {
    dismissed: Vec<i64>,
    shared: Vec<(i64, Platform)>,
}

impl Marks {
    pub fn new(mut dismissed: Vec<i64>, mut shared: Vec<(i64, Platform)>) -> Marks {
        dismissed.sort_unstable();
        dismissed.dedup();
        shared.sort_unstable();
        shared.dedup();
        Marks { dismissed, shared }
    }

    pub fn is_dismissed(&self, post_id: i64) -> bool {
        self.dismissed.binary_search(&post_id).is_ok()
    }

    pub fn is_shared(&self, post_id: i64, platform: Platform) -> bool {
        self.shared.binary_search(&(post_id, platform)).is_ok()
    }
}

pub fn marks(conn: &mut DbConnection, user_id: i64) -> StoreResult<Marks> {
    Ok(marks_and_share_times(conn, user_id)?.0)
}

/// The person's marks, and when they shared on which platform (what their
/// caps count), from the same two reads.
pub fn marks_and_share_times(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<(Marks, Vec<(Platform, NaiveDateTime)>)> {
    let dismissed = dismissals::table
        .filter(dismissals::user_id.eq(user_id))
        .select(dismissals::post_id)
        .load::<i64>(conn)?;
    let rows: Vec<(i64, Platform, NaiveDateTime)> = shares::table
        .filter(shares::user_id.eq(user_id))
        .select((shares::post_id, shares::platform, shares::shared_at))
        .load::<(i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .filter_map(|(post, slug, at)| Platform::from_slug(&slug).map(|p| (post, p, at)))
        .collect();
    let times = rows.iter().map(|&(_, p, at)| (p, at)).collect();
    let shared = rows.into_iter().map(|(post, p, _)| (post, p)).collect();
    Ok((Marks::new(dismissed, shared), times))
}

/// Whether a published post is offered to this person now: not expired,
/// for everyone or their department, not dismissed, and with a caption for
/// a platform they agreed to and have not shared it on yet.
fn offered(
    post: &Post,
    department: Option<i64>,
    consented: &[Platform],
    marks: &Marks,
    now: NaiveDateTime,
) -> bool {
    post.expires_at.is_none_or(|at| at > now)
        && (post.target_all || department.is_some_and(|d| post.department_ids.contains(&d)))
        && !marks.is_dismissed(post.id)
        && post.captions.iter().any(|(platform, _)| {
            consented.contains(platform) && !marks.is_shared(post.id, *platform)
        })
}

/// One page of the queue, newest first, and the number of posts in it.
pub fn page(
    published: &[Post],
    department: Option<i64>,
    consented: &[Platform],
    marks: &Marks,
    now: NaiveDateTime,
    offset: i64,
    limit: i64,
) -> (Vec<QueueItem>, i64) {
    let mut total = 0;
    let mut items = Vec::new();
    for post in published
        .iter()
        .filter(|post| offered(post, department, consented, marks, now))
    {
        if total >= offset && (items.len() as i64) < limit {
            items.push(QueueItem {
                shared_on: Platform::ALL
                    .iter()
                    .copied()
                    .filter(|p| marks.is_shared(post.id, *p))
                    .collect(),
                post: post.clone(),
            });
        }
        total += 1;
    }
    (items, total)
}
