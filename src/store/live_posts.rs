//! Every queue is cut from the same published posts. Each process keeps
//! them (with captions and audiences) in memory while the queue_generation
//! counter holds; triggers bump that counter in the same transaction as any
//! change to posts, captions or audiences, so the copy is never stale. A
//! person's queue then costs two small queries of their own (dismissals and
//! shares) instead of a scan of every post, and the rule below gives the
//! same posts as `queue::page` (compared in tests/api/queue.rs).

use std::collections::HashMap;
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
    kept: Mutex<Option<Arc<Published>>>,
}

/// The published posts as of one queue generation.
pub struct Published {
    pub generation: i64,
    /// Newest first.
    posts: Vec<Arc<Post>>,
    /// What the queue rule reads of each post, in the same order, packed so
    /// that a queue view's walk over thousands of posts stays in the cache.
    entries: Vec<Entry>,
    /// Texts offered for captions, worked out once per caption while the
    /// posts and the disclosure hold.
    offered: Mutex<OfferedTexts>,
}

#[derive(Default)]
struct OfferedTexts {
    disclosure: Option<String>,
    texts: HashMap<(i64, Platform, usize), Arc<str>>,
}

/// More than a busy organisation's first pages ever offer; past it the
/// memo starts again rather than grow.
const OFFERED_TEXTS: usize = 20_000;

struct Entry {
    id: i64,
    expires_at: Option<NaiveDateTime>,
    target_all: bool,
    /// The platforms the post has a caption for.
    platforms: PlatformSet,
}

/// A set of platforms as bits (there are eight).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlatformSet(u8);

impl PlatformSet {
    fn bit(platform: Platform) -> u8 {
        1 << (platform as u8)
    }

    pub fn of(platforms: impl IntoIterator<Item = Platform>) -> PlatformSet {
        PlatformSet(platforms.into_iter().fold(0, |set, p| set | Self::bit(p)))
    }

    pub fn contains(self, platform: Platform) -> bool {
        self.0 & Self::bit(platform) != 0
    }

    fn and(self, other: PlatformSet) -> PlatformSet {
        PlatformSet(self.0 & other.0)
    }

    fn without(self, other: PlatformSet) -> PlatformSet {
        PlatformSet(self.0 & !other.0)
    }

    fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl Published {
    fn new(generation: i64, posts: Vec<Post>) -> Published {
        let entries = posts
            .iter()
            .map(|post| Entry {
                id: post.id,
                expires_at: post.expires_at,
                target_all: post.target_all,
                platforms: PlatformSet::of(post.captions.iter().map(|(p, _)| *p)),
            })
            .collect();
        Published {
            generation,
            posts: posts.into_iter().map(Arc::new).collect(),
            entries,
            offered: Mutex::default(),
        }
    }

    pub fn posts(&self) -> &[Arc<Post>] {
        &self.posts
    }

    /// The text offered for caption `variant` of a post on a platform under
    /// this disclosure: `make` works it out the first time, then it is kept
    /// (the posts of a generation do not change; a new disclosure starts
    /// the memo again).
    pub fn offered_text(
        &self,
        (post_id, platform, variant): (i64, Platform, usize),
        disclosure: Option<&str>,
        make: impl FnOnce() -> String,
    ) -> Arc<str> {
        let key = (post_id, platform, variant);
        {
            let memo = self.offered.lock().unwrap_or_else(PoisonError::into_inner);
            if memo.disclosure.as_deref() == disclosure
                && let Some(text) = memo.texts.get(&key)
            {
                return text.clone();
            }
        }
        let text: Arc<str> = make().into();
        let mut memo = self.offered.lock().unwrap_or_else(PoisonError::into_inner);
        if memo.disclosure.as_deref() != disclosure || memo.texts.len() >= OFFERED_TEXTS {
            memo.disclosure = disclosure.map(str::to_string);
            memo.texts.clear();
        }
        memo.texts.insert(key, text.clone());
        text
    }
}

impl LivePosts {
    /// The published posts, newest first, as of now.
    pub fn current(&self, conn: &mut DbConnection) -> StoreResult<Arc<Published>> {
        let generation: i64 = queue_generation::table
            .find(1)
            .select(queue_generation::changes)
            .first(conn)?;
        if let Some(published) = &*self.kept.lock().unwrap_or_else(PoisonError::into_inner)
            && published.generation == generation
        {
            return Ok(published.clone());
        }
        // Read after the counter: a change committed in between makes the
        // copy newer than its key, which only costs one more reload.
        let published = Arc::new(Published::new(generation, posts::published(conn)?));
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(published.clone());
        Ok(published)
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

    /// The platforms the person shared a post on.
    fn shared_on(&self, post_id: i64) -> PlatformSet {
        let start = self.shared.partition_point(|(post, _)| *post < post_id);
        PlatformSet::of(
            self.shared[start..]
                .iter()
                .take_while(|(post, _)| *post == post_id)
                .map(|(_, platform)| *platform),
        )
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

/// One page of the queue, newest first, and the number of posts in it.
///
/// A published post is offered to this person now when it has not expired,
/// is for everyone or their department, is not dismissed, and has a caption
/// for a platform they agreed to and have not shared it on yet.
pub fn page(
    published: &Published,
    department: Option<i64>,
    consented: &[Platform],
    marks: &Marks,
    now: NaiveDateTime,
    offset: i64,
    limit: i64,
) -> (Vec<QueueItem>, i64) {
    let consented = PlatformSet::of(consented.iter().copied());
    let mut total = 0;
    let mut items = Vec::new();
    for (entry, post) in published.entries.iter().zip(&published.posts) {
        let open = entry.platforms.and(consented);
        if open.is_empty()
            || entry.expires_at.is_some_and(|at| at <= now)
            || !(entry.target_all || department.is_some_and(|d| post.department_ids.contains(&d)))
            || marks.is_dismissed(entry.id)
        {
            continue;
        }
        let shared_on = marks.shared_on(entry.id);
        if open.without(shared_on).is_empty() {
            continue;
        }
        if total >= offset && (items.len() as i64) < limit {
            items.push(QueueItem {
                shared_on: Platform::ALL
                    .into_iter()
                    .filter(|p| shared_on.contains(*p))
                    .collect(),
                post: post.clone(),
            });
        }
        total += 1;
    }
    (items, total)
}
