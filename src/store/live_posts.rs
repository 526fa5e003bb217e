//! Every queue is cut from the same published posts, under the same
//! organisation settings and share caps. Each process keeps them (posts
//! with captions and audiences) in memory while the queue_generation
//! counter holds; triggers bump that counter in the same transaction as any
//! change to posts, captions, audiences, settings or share caps, so the
//! copy is never stale. A
//! person's queue then costs two small queries of their own (dismissals and
//! shares) instead of a scan of every post, and the rule below gives the
//! same posts as the SQL rule, `queue::offered_posts` less the person's
//! dismissals and shares (compared in tests/api/queue.rs). The kept
//! copy also knows which posts were withdrawn (so a person's withdrawal
//! notices are asked for only when they shared one), keeps each caption's
//! offered text once worked out, and keeps which posts reach each audience
//! (department and platforms), so a view walks its page and the person's
//! marks, not every post.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustc_hash::FxHashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::org::{self, OrgSettings};
use super::posts::{self, Post, WithdrawnPost};
use super::previews::Preview;
use super::queue::{QueueItem, WithdrawalNotice};
use super::{DbConnection, StoreResult};
use crate::db::schema::{dismissals, queue_generation, shares, withdrawal_notices_read};
use crate::domain::platforms::Platform;
use crate::domain::post::link_host;
use crate::domain::share_caps::CapPolicy;
use crate::domain::utm::LinkTags;

#[derive(Default)]
pub struct LivePosts {
    kept: Mutex<Option<Arc<Hub>>>,
    /// Held while the hub is read again: the views that miss the kept hub
    /// at once (all of them, after a publish) wait for one read instead of
    /// each reading every live post beside the others.
    reading: Mutex<()>,
    /// How many times this process has read the hub.
    reads: AtomicU64,
}

/// What every queue is cut from, as of one queue generation: the published
/// posts, the organisation's settings and its share caps.
pub struct Hub {
    pub generation: i64,
    pub settings: OrgSettings,
    /// The organisation's default and ceiling per platform.
    pub cap_policies: HashMap<Platform, CapPolicy>,
    /// How shared links are tagged under these settings.
    pub link_tags: LinkTags,
    pub published: Published,
}

/// The published posts.
pub struct Published {
    /// Newest first.
    posts: Vec<Arc<Post>>,
    /// What the queue rule reads of each post, in the same order, packed so
    /// that a queue view's walk over thousands of posts stays in the cache.
    entries: Vec<Entry>,
    /// Withdrawn posts, by ascending id: whoever shared one has a notice
    /// to see until they mark it read.
    withdrawn: Vec<WithdrawnPost>,
    /// Texts offered for captions, worked out once per caption while the
    /// posts and the disclosure hold. Read for every offer of every view,
    /// by all workers at once, and written only for a caption not seen
    /// yet: a read-write lock, so readers never wait for each other (with
    /// a mutex, two workers queued on it and slept in futexes).
    offered: RwLock<OfferedTexts>,
    /// Where each post is in `posts`, by id.
    positions: FxHashMap<i64, u32>,
    /// The host of each post's link, in the same order.
    hosts: Vec<Arc<str>>,
    /// Link previews, by post (those describing the post's link).
    previews: FxHashMap<i64, Preview>,
    /// The posts that reach each audience, worked out once per audience
    /// while they hold (see [`Reach`]).
    reaches: Mutex<FxHashMap<Viewer, Arc<Reach>>>,
    /// Each post's link as shared on a platform (tagged), and its pattern
    /// for any platform (None), worked out once per post and platform: a
    /// new tag setting is a new generation.
    links: RwLock<FxHashMap<LinkKey, Option<Arc<str>>>>,
}

/// A kept link: the post's id and the platform it is shared on (None: the
/// card's pattern for any platform).
type LinkKey = (i64, Option<Platform>);

/// The posts that reach an audience (a department, or none, and a set of
/// platforms agreed to) at the moments from `from` until `until`: those
/// for everyone or the department, with a caption on one of the platforms,
/// not expired. What a person marked is left to the queue view, so one
/// walk over the posts serves everyone in the audience, and a view costs
/// its page and the person's marks instead of a walk over every post.
struct Reach {
    /// Bit i: posts[i] reaches the audience.
    bits: Vec<u64>,
    from: NaiveDateTime,
    /// The first expiry among the posts counted, when one expires.
    until: Option<NaiveDateTime>,
}

impl Reach {
    fn holds_at(&self, now: NaiveDateTime) -> bool {
        self.from <= now && self.until.is_none_or(|until| now < until)
    }

    /// How many posts reach the audience.
    fn count(&self) -> i64 {
        self.bits
            .iter()
            .map(|word| i64::from(word.count_ones()))
            .sum()
    }

    fn has(&self, position: usize) -> bool {
        self.bits[position / 64] & (1 << (position % 64)) != 0
    }

    /// The positions of the posts counted, newest post first.
    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(word, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    word * 64 + bit
                })
            })
        })
    }
}

/// Whose queue it is, as far as which posts reach it: their department
/// (or none) and the platforms they agreed to.
type Viewer = (Option<i64>, PlatformSet);

/// More audiences than departments times platform choices in use; past it
/// the memo starts again rather than grow. Each takes a bit per post.
const REACHES: usize = 4_096;

#[derive(Default)]
struct OfferedTexts {
    disclosure: Option<String>,
    texts: FxHashMap<(i64, Platform, usize), Arc<str>>,
}

/// More than a busy organisation's first pages ever offer; past it the
/// memo starts again rather than grow.
const OFFERED_TEXTS: usize = 20_000;

struct Entry {
    id: i64,
    expires_at: Option<NaiveDateTime>,
    audience: Audience,
    /// The platforms the post has a caption for.
    platforms: PlatformSet,
}

/// Who a post is for, without a trip to the post for the usual cases.
enum Audience {
    Everyone,
    /// Departments whose ids are all below 64, as bits.
    Departments(u64),
    /// Other departments: the post's own list.
    Listed,
}

impl Audience {
    fn of(post: &Post) -> Audience {
        if post.target_all {
            Audience::Everyone
        } else if post.department_ids.iter().all(|d| (0..64).contains(d)) {
            Audience::Departments(post.department_ids.iter().fold(0, |set, d| set | 1 << d))
        } else {
            Audience::Listed
        }
    }

    fn includes(&self, department: Option<i64>, post: &Post) -> bool {
        match (self, department) {
            (Audience::Everyone, _) => true,
            (_, None) => false,
            (Audience::Departments(set), Some(d)) => (0..64).contains(&d) && set & (1 << d) != 0,
            (Audience::Listed, Some(d)) => post.department_ids.contains(&d),
        }
    }
}

/// A set of platforms as bits (there are eight).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct PlatformSet(u8);

impl PlatformSet {
    fn bit(platform: Platform) -> u8 {
        1 << (platform as u8)
    }

    fn of(platforms: impl IntoIterator<Item = Platform>) -> PlatformSet {
        PlatformSet(platforms.into_iter().fold(0, |set, p| set | Self::bit(p)))
    }

    fn contains(self, platform: Platform) -> bool {
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
    fn new(
        posts: Vec<Post>,
        withdrawn: Vec<WithdrawnPost>,
        previews: HashMap<i64, Preview>,
    ) -> Published {
        let entries = posts
            .iter()
            .map(|post| Entry {
                id: post.id,
                expires_at: post.expires_at,
                audience: Audience::of(post),
                platforms: PlatformSet::of(post.captions.platforms()),
            })
            .collect();
        Published {
            hosts: posts.iter().map(|p| link_host(&p.link).into()).collect(),
            positions: posts
                .iter()
                .enumerate()
                .map(|(position, post)| (post.id, position as u32))
                .collect(),
            posts: posts.into_iter().map(Arc::new).collect(),
            entries,
            withdrawn,
            offered: RwLock::default(),
            reaches: Mutex::default(),
            links: RwLock::default(),
            previews: previews.into_iter().collect(),
        }
    }

    /// A published post by its id.
    pub fn post(&self, post_id: i64) -> Option<&Arc<Post>> {
        let position = *self.positions.get(&post_id)? as usize;
        Some(&self.posts[position])
    }

    /// The post, if it is offered now to someone of this department on
    /// this platform: not expired, for everyone or the department, with a
    /// caption there (the SQL rule `queue::offered_posts`, for one post).
    pub fn offered(
        &self,
        post_id: i64,
        department: Option<i64>,
        platform: Platform,
        now: NaiveDateTime,
    ) -> Option<&Arc<Post>> {
        let position = *self.positions.get(&post_id)? as usize;
        let (entry, post) = (&self.entries[position], &self.posts[position]);
        (entry.expires_at.is_none_or(|at| at > now)
            && entry.platforms.contains(platform)
            && entry.audience.includes(department, post))
        .then_some(post)
    }

    /// The post's link preview, if it has one.
    pub fn preview_of(&self, post_id: i64) -> Option<&Preview> {
        self.previews.get(&post_id)
    }

    /// The posts that reach this audience now: kept, or worked out in one
    /// walk over the posts and kept until the first of them expires.
    fn reach(
        &self,
        department: Option<i64>,
        consented: PlatformSet,
        now: NaiveDateTime,
    ) -> Arc<Reach> {
        let key = (department, consented);
        if let Some(reach) = self
            .reaches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|reach| reach.holds_at(now))
        {
            return reach.clone();
        }
        let mut reach = Reach {
            bits: vec![0; self.entries.len().div_ceil(64)],
            from: now,
            until: None,
        };
        for (position, (entry, post)) in self.entries.iter().zip(&self.posts).enumerate() {
            if entry.platforms.and(consented).is_empty()
                || entry.expires_at.is_some_and(|at| at <= now)
                || !entry.audience.includes(department, post)
            {
                continue;
            }
            reach.bits[position / 64] |= 1 << (position % 64);
            if let Some(at) = entry.expires_at {
                reach.until = Some(reach.until.map_or(at, |until| until.min(at)));
            }
        }
        let reach = Arc::new(reach);
        let mut reaches = self.reaches.lock().unwrap_or_else(PoisonError::into_inner);
        if reaches.len() >= REACHES {
            reaches.clear();
        }
        reaches.insert(key, reach.clone());
        reach
    }

    /// The host of the post's link, as worked out when the posts were kept.
    pub fn host_of(&self, post: &Post) -> Arc<str> {
        match self.positions.get(&post.id) {
            Some(&position) if self.posts[position as usize].link == post.link => {
                self.hosts[position as usize].clone()
            }
            _ => link_host(&post.link).into(),
        }
    }

    /// The post's link as its share dialog on `platform` carries it.
    pub fn shared_link(&self, post: &Post, platform: Platform, tags: &LinkTags) -> Arc<str> {
        self.kept_link(post, Some(platform), || {
            Some(tags.link_for(&post.link, platform, &post.title))
        })
        .unwrap_or_else(|| post.link.as_str().into())
    }

    /// The post's link as shared on any platform, the platform's slug left
    /// as a placeholder ([`LinkTags::link_pattern`]).
    pub fn shared_link_pattern(&self, post: &Post, tags: &LinkTags) -> Option<Arc<str>> {
        self.kept_link(post, None, || tags.link_pattern(&post.link, &post.title))
    }

    /// A link worked out once per post and platform (None: the pattern)
    /// while the post's link and title hold (a pattern may be none).
    fn kept_link(
        &self,
        post: &Post,
        platform: Option<Platform>,
        make: impl FnOnce() -> Option<String>,
    ) -> Option<Arc<str>> {
        let key = (post.id, platform);
        let kept = self.positions.get(&post.id).is_some_and(|&position| {
            self.posts[position as usize].link == post.link
                && self.posts[position as usize].title == post.title
        });
        if kept
            && let Some(link) = self
                .links
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&key)
        {
            return link.clone();
        }
        let link: Option<Arc<str>> = make().map(Arc::from);
        if kept {
            let mut links = self.links.write().unwrap_or_else(PoisonError::into_inner);
            if links.len() >= OFFERED_TEXTS {
                links.clear();
            }
            links.insert(key, link.clone());
        }
        link
    }

    fn withdrawn_post(&self, post_id: i64) -> Option<&WithdrawnPost> {
        self.withdrawn
            .binary_search_by_key(&post_id, |w| w.id)
            .ok()
            .map(|at| &self.withdrawn[at])
    }

    /// The person's withdrawal notices: the posts they shared that have
    /// since been withdrawn and that they have not marked read, latest
    /// withdrawal first, each with the platforms they shared it on. From
    /// the kept posts and the person's marks: no statement of its own.
    pub fn withdrawal_notices(&self, marks: &Marks) -> Vec<WithdrawalNotice> {
        let mut notices: Vec<WithdrawalNotice> = Vec::new();
        for (post_id, platform) in &marks.shared {
            if marks.notices_read.binary_search(post_id).is_ok() {
                continue;
            }
            let Some(post) = self.withdrawn_post(*post_id) else {
                continue;
            };
            // `marks.shared` is sorted by post: a post's platforms are together.
            match notices.last_mut() {
                Some(notice) if notice.post.id == *post_id => notice.platforms.push(*platform),
                _ => notices.push(WithdrawalNotice {
                    post: post.clone(),
                    platforms: vec![*platform],
                }),
            }
        }
        notices.sort_by_key(|n| std::cmp::Reverse((n.post.withdrawn_at, n.post.id)));
        notices
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
            let memo = self.offered.read().unwrap_or_else(PoisonError::into_inner);
            if memo.disclosure.as_deref() == disclosure
                && let Some(text) = memo.texts.get(&key)
            {
                return text.clone();
            }
        }
        let text: Arc<str> = make().into();
        let mut memo = self.offered.write().unwrap_or_else(PoisonError::into_inner);
        if memo.disclosure.as_deref() != disclosure || memo.texts.len() >= OFFERED_TEXTS {
            memo.disclosure = disclosure.map(str::to_string);
            memo.texts.clear();
        }
        memo.texts.insert(key, text.clone());
        text
    }
}

/// The queue counter: it moves with every change to what [`Hub`] holds.
pub fn generation(conn: &mut DbConnection) -> StoreResult<i64> {
    let query = queue_generation::table
        .find(1)
        .select(queue_generation::changes);
    Ok(super::natively!(conn, |c| query.first(c))?)
}

impl LivePosts {
    /// The hub as of now: published posts (newest first), settings, caps.
    pub fn current(&self, conn: &mut DbConnection) -> StoreResult<Arc<Hub>> {
        let generation = generation(conn)?;
        self.as_of(conn, generation)
    }

    /// The kept hub if it is the one as of `generation`; `None` when it
    /// must be read again (with [`LivePosts::current`], off the executor:
    /// it reads every live post).
    pub fn kept_as_of(&self, generation: i64) -> Option<Arc<Hub>> {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|hub| hub.generation == generation)
            .cloned()
    }

    /// The hub as of `generation`, the queue counter the caller just read.
    ///
    /// One read at a time: a caller that finds another reading waits, then
    /// takes what it read when that is the generation it asked for. The
    /// last copy is let go before the read, so that (once the views still
    /// holding it are done) a process holds one copy of the posts, not two.
    pub fn as_of(&self, conn: &mut DbConnection, generation: i64) -> StoreResult<Arc<Hub>> {
        if let Some(hub) = self.kept_as_of(generation) {
            return Ok(hub);
        }
        let _reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = self.kept_as_of(generation) {
            return Ok(hub);
        }
        drop(
            self.kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        // Read after the counter: a change committed in between makes the
        // copy newer than its key, which only costs one more reload.
        let settings = org::settings(conn)?;
        let hub = Arc::new(Hub {
            generation,
            link_tags: settings.link_tags(),
            settings,
            cap_policies: super::org::share_policies(conn)?,
            published: Published::new(
                posts::published(conn)?,
                posts::withdrawn(conn)?,
                super::previews::published(conn)?,
            ),
        });
        self.reads.fetch_add(1, Ordering::Relaxed);
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = Some(hub.clone());
        Ok(hub)
    }
}

/// What the kept hub holds, and how often it was read, as `/metrics`
/// reports them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeptHub {
    /// Published posts kept.
    pub posts: usize,
    /// About how many bytes of memory they and what is worked out from
    /// them hold (see docs/architecture.md for the size per post).
    pub bytes: usize,
    /// How many times the process has read the hub since it started (once
    /// per change to posts, settings or caps that a view then needed).
    pub reads: u64,
}

impl LivePosts {
    /// The size of the kept hub (zero while none is kept: before the first
    /// view, and while a new one is read) and the reads so far. Counts the
    /// heap of each kept post (its texts and captions), the packed entries,
    /// hosts, positions and previews, and the memos of audiences, offered
    /// texts and tagged links, each at its table's capacity: an estimate
    /// within the allocator's rounding, never a figure about a person.
    pub fn kept_hub(&self) -> KeptHub {
        let reads = self.reads.load(Ordering::Relaxed);
        let Some(hub) = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return KeptHub {
                reads,
                ..KeptHub::default()
            };
        };
        KeptHub {
            posts: hub.published.posts.len(),
            bytes: hub.published.approximate_bytes(),
            reads,
        }
    }
}

/// Bytes a hash table of `capacity` entries of type `T` takes: the entries
/// and one control byte each (hashbrown's layout).
fn table_bytes<T>(capacity: usize) -> usize {
    capacity * (std::mem::size_of::<T>() + 1)
}

fn post_bytes(post: &Post) -> usize {
    // The Arc's two counts, then the post and what it points to.
    16 + std::mem::size_of::<Post>()
        + post.title.capacity()
        + post.link.capacity()
        + post.base_text.capacity()
        + post.withdrawal_reason.as_ref().map_or(0, String::capacity)
        + post.department_ids.capacity() * std::mem::size_of::<i64>()
        + post.captions.heap_bytes()
}

impl Published {
    fn approximate_bytes(&self) -> usize {
        let posts: usize = self
            .posts
            .iter()
            .map(|post| post_bytes(post))
            .sum::<usize>()
            + self.posts.capacity() * std::mem::size_of::<Arc<Post>>();
        let entries = self.entries.capacity() * std::mem::size_of::<Entry>();
        let withdrawn: usize = self.withdrawn.capacity() * std::mem::size_of::<WithdrawnPost>()
            + self
                .withdrawn
                .iter()
                .map(|w| w.title.capacity() + w.link.capacity() + w.reason.capacity())
                .sum::<usize>();
        let hosts: usize = self.hosts.capacity() * std::mem::size_of::<Arc<str>>()
            + self.hosts.iter().map(|host| 16 + host.len()).sum::<usize>();
        let positions = table_bytes::<(i64, u32)>(self.positions.capacity());
        let previews: usize = table_bytes::<(i64, Preview)>(self.previews.capacity())
            + self
                .previews
                .values()
                .map(|p| {
                    p.link.capacity()
                        + p.title.capacity()
                        + p.description.capacity()
                        + p.fetch_problem.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>();
        let reaches = {
            let reaches = self.reaches.lock().unwrap_or_else(PoisonError::into_inner);
            table_bytes::<(Viewer, Arc<Reach>)>(reaches.capacity())
                + reaches
                    .values()
                    .map(|reach| {
                        16 + std::mem::size_of::<Reach>()
                            + reach.bits.capacity() * std::mem::size_of::<u64>()
                    })
                    .sum::<usize>()
        };
        let offered = {
            let offered = self.offered.read().unwrap_or_else(PoisonError::into_inner);
            table_bytes::<((i64, Platform, usize), Arc<str>)>(offered.texts.capacity())
                + offered
                    .texts
                    .values()
                    .map(|text| 16 + text.len())
                    .sum::<usize>()
        };
        let links = {
            let links = self.links.read().unwrap_or_else(PoisonError::into_inner);
            table_bytes::<(LinkKey, Option<Arc<str>>)>(links.capacity())
                + links
                    .values()
                    .flatten()
                    .map(|link| 16 + link.len())
                    .sum::<usize>()
        };
        posts + entries + withdrawn + hosts + positions + previews + reaches + offered + links
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
        let hub = self.current(conn)?;
        let department = super::queue::department_of(conn, user_id)?;
        let marks = marks(conn, user_id)?;
        Ok(page(
            &hub.published,
            department,
            consented,
            &marks,
            now,
            offset,
            limit,
        ))
    }
}

/// What a person did with their queue. Sorted, so that the test made for
/// each of the thousands of published posts is a binary search over the
/// person's few marks rather than a hash.
/// A 4,096-bit filter in front of the searches says "no marks" for almost
/// every post at the cost of one bit test.
#[derive(Debug)]
pub struct Marks {
    dismissed: Vec<i64>,
    shared: Vec<(i64, Platform)>,
    /// Withdrawn posts whose notice the person marked read, ascending.
    notices_read: Vec<i64>,
    /// Posts the person shared so lately that the share may still be
    /// undone, ascending: they stay in the queue, reading "Shared ✓ · Undo",
    /// until the window closes (see [`Marks::keep_in_view`]).
    in_view: Vec<i64>,
    filter: Box<[u64; FILTER_WORDS]>,
}

const FILTER_WORDS: usize = 64;

fn filter_bit(post_id: i64) -> (usize, u64) {
    let bit = post_id.rem_euclid((FILTER_WORDS * 64) as i64) as usize;
    (bit / 64, 1 << (bit % 64))
}

impl Default for Marks {
    fn default() -> Marks {
        Marks::new(Vec::new(), Vec::new())
    }
}

impl Marks {
    pub fn new(mut dismissed: Vec<i64>, mut shared: Vec<(i64, Platform)>) -> Marks {
        dismissed.sort_unstable();
        dismissed.dedup();
        shared.sort_unstable();
        shared.dedup();
        let mut filter = Box::new([0; FILTER_WORDS]);
        for post_id in dismissed.iter().chain(shared.iter().map(|(id, _)| id)) {
            let (word, bit) = filter_bit(*post_id);
            filter[word] |= bit;
        }
        Marks {
            dismissed,
            shared,
            notices_read: Vec::new(),
            in_view: Vec::new(),
            filter,
        }
    }

    /// Keeps these posts in the queue even when shared on every platform
    /// the person could: shared moments ago, so their card offers Undo
    /// where it was. (A dismissed post still leaves.)
    pub fn keep_in_view(&mut self, mut posts: Vec<i64>) {
        posts.sort_unstable();
        posts.dedup();
        self.in_view = posts;
    }

    fn is_kept_in_view(&self, post_id: i64) -> bool {
        !self.in_view.is_empty() && self.in_view.binary_search(&post_id).is_ok()
    }

    /// Whether the person is done with a post of `published`: dismissed,
    /// or shared on every platform of theirs it is for (and not kept in
    /// view). None: not a published post.
    pub fn done_with(
        &self,
        published: &Published,
        consented: &[Platform],
        post_id: i64,
    ) -> Option<bool> {
        let position = *published.positions.get(&post_id)? as usize;
        let consented = PlatformSet::of(consented.iter().copied());
        Some(!self.keeps_open(&published.entries[position], consented))
    }

    /// The queue rule for a post that reaches the person: open unless
    /// dismissed, while a platform of theirs it is for is not shared yet
    /// or a share is recent enough to undo.
    fn keeps_open(&self, entry: &Entry, consented: PlatformSet) -> bool {
        let open = entry
            .platforms
            .and(consented)
            .without(self.shared_on(entry.id));
        !self.is_dismissed(entry.id) && (!open.is_empty() || self.is_kept_in_view(entry.id))
    }

    /// Every post the person dismissed or shared, each once.
    fn post_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = (self.dismissed.iter().copied())
            .chain(self.shared.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// False only when the person has neither dismissed nor shared the post.
    fn may_have(&self, post_id: i64) -> bool {
        let (word, bit) = filter_bit(post_id);
        self.filter[word] & bit != 0
    }

    pub fn is_dismissed(&self, post_id: i64) -> bool {
        self.dismissed.binary_search(&post_id).is_ok()
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
    // No share is that late, so none comes with its time. (Not
    // NaiveDateTime::MAX: SQLite compares times as text, and its text
    // starts with "+".)
    let no_times = chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    Ok(marks_and_share_times(conn, user_id, no_times)?.0)
}

/// The marks of many people (their shares and dismissals, what the queue
/// rule reads), in one statement: for work done for many people at once,
/// such as planning digests. A person with no marks is left out.
pub fn marks_of_many(
    conn: &mut DbConnection,
    user_ids: &[i64],
) -> StoreResult<FxHashMap<i64, Marks>> {
    use diesel::sql_types::{Nullable, Text};
    let shared = shares::table
        .filter(shares::user_id.eq_any(user_ids))
        .select((
            shares::user_id,
            shares::post_id,
            shares::platform.nullable(),
        ));
    let dismissed = dismissals::table
        .filter(dismissals::user_id.eq_any(user_ids))
        .select((
            dismissals::user_id,
            dismissals::post_id,
            None::<String>.into_sql::<Nullable<Text>>(),
        ));
    let query = shared.union_all(dismissed);
    let rows = super::natively!(conn, |c| query.load::<(i64, i64, Option<String>)>(c))?;
    // Per person: the posts dismissed, and those shared with where.
    type Dismissed = Vec<i64>;
    type Shared = Vec<(i64, Platform)>;
    let mut by_person: FxHashMap<i64, (Dismissed, Shared)> = FxHashMap::default();
    for (user_id, post_id, slug) in rows {
        let (dismissed, shared) = by_person.entry(user_id).or_default();
        match slug {
            // A platform this version does not know is left out.
            Some(slug) => shared.extend(Platform::from_slug(&slug).map(|p| (post_id, p))),
            None => dismissed.push(post_id),
        }
    }
    Ok(by_person
        .into_iter()
        .map(|(user_id, (dismissed, shared))| (user_id, Marks::new(dismissed, shared)))
        .collect())
}

/// What a row of [`marks_and_share_times`]'s read is.
const SHARE_ROW: i32 = 0;
const DISMISSAL_ROW: i32 = 1;
const NOTICE_READ_ROW: i32 = 2;

/// A share (with its platform) or a dismissal (without) since a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentMark {
    pub post_id: i64,
    pub platform: Option<Platform>,
    pub at: NaiveDateTime,
}

/// The person's marks, and what they shared and dismissed since `since`
/// (the shares are what their caps count; both are their "Done" list), in
/// one read: their shares, their dismissals, and the withdrawal notices
/// they marked read. Older marks come without their time: on SQLite every
/// time read is text to parse, and most of a person's shares are older
/// than the week their caps count.
pub fn marks_and_share_times(
    conn: &mut DbConnection,
    user_id: i64,
    since: NaiveDateTime,
) -> StoreResult<(Marks, Vec<RecentMark>)> {
    use diesel::dsl::case_when;
    use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
    let shared = shares::table.filter(shares::user_id.eq(user_id)).select((
        shares::post_id,
        shares::platform.nullable(),
        case_when(shares::shared_at.gt(since), shares::shared_at.nullable()),
        SHARE_ROW.into_sql::<Integer>(),
    ));
    let dismissed = dismissals::table
        .filter(dismissals::user_id.eq(user_id))
        .select((
            dismissals::post_id,
            None::<String>.into_sql::<Nullable<Text>>(),
            case_when(
                dismissals::dismissed_at.gt(since),
                dismissals::dismissed_at.nullable(),
            ),
            DISMISSAL_ROW.into_sql::<Integer>(),
        ));
    let read = withdrawal_notices_read::table
        .filter(withdrawal_notices_read::user_id.eq(user_id))
        .select((
            withdrawal_notices_read::post_id,
            None::<String>.into_sql::<Nullable<Text>>(),
            None::<NaiveDateTime>.into_sql::<Nullable<Timestamp>>(),
            NOTICE_READ_ROW.into_sql::<Integer>(),
        ));
    let query = shared.union_all(dismissed).union_all(read);
    let rows = super::natively!(conn, |c| query.load::<(
        i64,
        Option<String>,
        Option<NaiveDateTime>,
        i32
    )>(c))?;
    let mut dismissed = Vec::new();
    let mut shared = Vec::new();
    let mut notices_read = Vec::new();
    let mut times = Vec::new();
    for (post, slug, at, kind) in rows {
        match kind {
            SHARE_ROW => {
                // A platform this version does not know is left out.
                if let Some(platform) = slug.as_deref().and_then(Platform::from_slug) {
                    shared.push((post, platform));
                    times.extend(at.map(|at| RecentMark {
                        post_id: post,
                        platform: Some(platform),
                        at,
                    }));
                }
            }
            DISMISSAL_ROW => {
                dismissed.push(post);
                times.extend(at.map(|at| RecentMark {
                    post_id: post,
                    platform: None,
                    at,
                }));
            }
            _ => notices_read.push(post),
        }
    }
    let mut marks = Marks::new(dismissed, shared);
    notices_read.sort_unstable();
    marks.notices_read = notices_read;
    Ok((marks, times))
}

/// One page of the queue, newest first, and the number of posts in it.
///
/// A published post is offered to this person now when it has not expired,
/// is for everyone or their department, is not dismissed, and has a caption
/// for a platform they agreed to and have not shared it on yet (or one
/// they shared it on moments ago, kept in view by [`Marks::keep_in_view`]).
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
    let reach = published.reach(department, consented, now);
    // What the person marked, of a post that reaches them: None when the
    // mark takes it out of their queue, else the platforms shared on.
    let marked = |position: usize| {
        let entry = &published.entries[position];
        if !marks.may_have(entry.id) {
            return Some(PlatformSet::default());
        }
        marks
            .keeps_open(entry, consented)
            .then(|| marks.shared_on(entry.id))
    };
    let taken_out = marks
        .post_ids()
        .iter()
        .filter_map(|id| published.positions.get(id))
        .filter(|&&position| reach.has(position as usize) && marked(position as usize).is_none())
        .count() as i64;
    let items = reach
        .positions()
        .filter_map(|position| Some((position, marked(position)?)))
        .skip(usize::try_from(offset.max(0)).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|(position, shared_on)| QueueItem {
            shared_on: Platform::ALL
                .into_iter()
                .filter(|p| shared_on.contains(*p))
                .collect(),
            post: published.posts[position].clone(),
        })
        .collect();
    (items, reach.count() - taken_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::post::PostStatus;

    fn post(id: i64, departments: Option<Vec<i64>>, platforms: &[Platform]) -> Post {
        Post {
            id,
            title: format!("Post {id}"),
            link: "https://example.com/".into(),
            base_text: "Text".into(),
            status: PostStatus::Published,
            target_all: departments.is_none(),
            department_ids: departments.unwrap_or_default(),
            publish_at: None,
            expires_at: None,
            published_at: None,
            withdrawn_at: None,
            withdrawal_reason: None,
            captions: platforms
                .iter()
                .map(|p| (*p, vec!["Text".into()]))
                .collect(),
            created_by: None,
            edited_by: None,
            revision: 0,
            approved_by: None,
            approved_at: None,
        }
    }

    fn ids(
        published: &Published,
        department: Option<i64>,
        consented: &[Platform],
        marks: &Marks,
    ) -> Vec<i64> {
        let now = chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc();
        page(published, department, consented, marks, now, 0, 100)
            .0
            .iter()
            .map(|item| item.post.id)
            .collect()
    }

    #[test]
    fn department_posts_reach_their_departments_whatever_their_ids() {
        let published = Published::new(
            vec![
                post(1, None, &[Platform::X]),
                post(2, Some(vec![3, 63]), &[Platform::X]),
                post(3, Some(vec![64, 5_000_000]), &[Platform::X]),
                post(4, Some(vec![3, 200]), &[Platform::X]),
            ],
            Vec::new(),
            HashMap::new(),
        );
        let none = Marks::default();
        assert_eq!(ids(&published, None, &[Platform::X], &none), [1]);
        assert_eq!(ids(&published, Some(3), &[Platform::X], &none), [1, 2, 4]);
        assert_eq!(ids(&published, Some(63), &[Platform::X], &none), [1, 2]);
        assert_eq!(ids(&published, Some(64), &[Platform::X], &none), [1, 3]);
        assert_eq!(
            ids(&published, Some(5_000_000), &[Platform::X], &none),
            [1, 3]
        );
        assert_eq!(ids(&published, Some(200), &[Platform::X], &none), [1, 4]);
        assert_eq!(ids(&published, Some(7), &[Platform::X], &none), [1]);
    }

    #[test]
    fn marks_take_out_dismissed_posts_and_platforms_already_shared_even_when_ids_share_a_filter_bit()
     {
        // 5 and 5 + 4096 fall on the same bit of the marks' filter.
        let published = Published::new(
            vec![
                post(5, None, &[Platform::X, Platform::Bluesky]),
                post(4101, None, &[Platform::X]),
                post(8197, None, &[Platform::X]),
            ],
            Vec::new(),
            HashMap::new(),
        );
        let marks = Marks::new(vec![8197], vec![(5, Platform::X)]);
        assert!(marks.may_have(4101), "a shared filter bit");
        assert_eq!(ids(&published, None, &[Platform::X], &marks), [4101]);
        assert_eq!(
            ids(&published, None, &[Platform::X, Platform::Bluesky], &marks),
            [5, 4101]
        );
        let (items, _) = page(
            &published,
            None,
            &[Platform::Bluesky],
            &marks,
            chrono::NaiveDateTime::default(),
            0,
            10,
        );
        assert_eq!(items[0].shared_on, [Platform::X]);
    }

    #[test]
    fn a_kept_reach_drops_a_post_when_it_expires_and_serves_an_earlier_moment_afresh() {
        let at = |hour: i64| chrono::NaiveDateTime::default() + chrono::Duration::hours(hour);
        let mut expiring = post(2, None, &[Platform::X]);
        expiring.expires_at = Some(at(5));
        let published = Published::new(
            vec![
                post(3, Some(vec![1]), &[Platform::X]),
                expiring,
                post(1, None, &[Platform::X]),
            ],
            Vec::new(),
            HashMap::new(),
        );
        let none = Marks::default();
        let view = |department, now| {
            let (items, total) = page(&published, department, &[Platform::X], &none, now, 0, 10);
            (items.iter().map(|i| i.post.id).collect::<Vec<_>>(), total)
        };
        assert_eq!(view(None, at(4)), (vec![2, 1], 2));
        assert_eq!(view(Some(1), at(4)), (vec![3, 2, 1], 3), "another audience");
        assert_eq!(view(None, at(5)), (vec![1], 1), "expired at 5:00");
        assert_eq!(
            view(None, at(4)),
            (vec![2, 1], 2),
            "a view of an earlier moment"
        );
        // Counts and pages leave out what the person dismissed or shared.
        let marks = Marks::new(vec![1], vec![(3, Platform::X), (3, Platform::X)]);
        let (items, total) = page(&published, Some(1), &[Platform::X], &marks, at(4), 0, 10);
        assert_eq!(
            (items.iter().map(|i| i.post.id).collect::<Vec<_>>(), total),
            (vec![2], 1)
        );
        let (items, total) = page(&published, Some(1), &[Platform::X], &marks, at(4), 1, 10);
        assert!(items.is_empty() && total == 1, "past the last page");
    }
}
