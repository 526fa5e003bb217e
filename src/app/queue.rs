//! The employee's queue: the page of posts they may choose to share, through
//! each platform's own share dialog within the caps they chose, sharing,
//! dismissing and restoring, and notices of withdrawn posts. No pressure:
//! nothing here counts what colleagues did.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::{App, Error, Result};
use crate::domain::disclosure;
use crate::domain::ids::{PostId, UserId};
use crate::domain::platforms::{InstanceHost, Platform, Share};
use crate::domain::post::{offered_text, parse_text, variant_for};
use crate::domain::schedule;
use crate::domain::share_caps::{ShareCaps, UNDO_WINDOW, WEEK, next_allowed, remaining};
use crate::store::DbConnection;
use crate::store::consent::PlatformChoice;
use crate::store::live_posts::{self, Hub, RecentMark};
use crate::store::posts::Post;
use crate::store::previews::Preview;
use crate::store::queue::{QueueItem, WithdrawalNotice};
use crate::store::shares::{ShareFacts, ShareOutcome, UndoOutcome};
use crate::store::users::User;
use crate::store::{self, StoreError};

pub const PAGE_SIZE: i64 = 20;
/// The "Done" list shows at most this many posts, latest first; the rest
/// of a person's history is in their data export.
pub const DONE_SHOWN: usize = 10;
/// Past this a page number is nonsense (and its offset would overflow).
pub const MAX_PAGE: i64 = 100_000;

/// One platform on which a post is offered to the person. It borrows from
/// the loaded page (`'a`): a page of offers is built and rendered on every
/// view, so nothing here is copied that the page already holds.
pub struct Offer<'a> {
    pub platform: Platform,
    /// The post's link as shared on this platform (with the organisation's
    /// tags): what the share dialog carries and the copied text ends with.
    pub link: Arc<str>,
    /// The offered caption (kept with the published posts), or the text
    /// the person typed when it was refused.
    pub text: Arc<str>,
    pub editable: bool,
    pub shared: bool,
    /// When the person shared it here, if within the week.
    pub shared_at: Option<NaiveDateTime>,
    /// The share may still be undone ([`UNDO_WINDOW`]).
    pub undo: bool,
    pub remaining_day: u32,
    pub remaining_week: u32,
    /// When sharing is possible again, if not now ("paused" when the person chose 0).
    pub wait: Option<&'a str>,
    pub crowded: bool,
    pub error: Option<String>,
}

pub struct QueuePost<'a> {
    pub id: i64,
    pub link: &'a str,
    pub host: Arc<str>,
    /// The link's preview (title, description, same-origin image), if any.
    pub preview: Option<&'a Preview>,
    /// The link as shared on any platform, `{platform}` standing for the
    /// platform's slug: what "Copy text" adds after an edited text. Sent
    /// once per card rather than once per text box (see
    /// [`crate::domain::utm::LinkTags::link_pattern`]); None when no box
    /// needs it, or the link holds the placeholder itself (then each box
    /// carries its own link).
    pub link_pattern: Option<Arc<str>>,
    pub offers: Vec<Offer<'a>>,
}

impl QueuePost<'_> {
    /// The text the card suggests: the first platform's (most posts offer
    /// the same words everywhere; "Edit for …" shows each platform's own).
    pub fn suggested(&self) -> Option<&str> {
        self.offers.first().map(|o| &*o.text)
    }

    /// The platforms on which the post is popular right now (the hint to
    /// add a few words of one's own), in the offers' order.
    pub fn crowded(&self) -> Vec<Platform> {
        self.offers
            .iter()
            .filter(|o| o.crowded)
            .map(|o| o.platform)
            .collect()
    }

    /// Where the card's form goes when no button names another place.
    pub fn first_platform(&self) -> Option<Platform> {
        self.offers.first().map(|o| o.platform)
    }
}

/// Everything the queue needs about the person and the organisation.
pub struct Situation {
    pub consented: Vec<(Platform, Option<String>)>,
    /// The caps that apply to the person, per consented platform.
    pub caps: HashMap<Platform, ShareCaps>,
    pub recent: HashMap<Platform, Vec<NaiveDateTime>>,
    pub disclosure: Option<String>,
    pub tz: Tz,
    pub crowd_threshold: i64,
    pub department: Option<i64>,
    /// Per consented platform.
    pub standings: HashMap<Platform, Standing>,
    /// When the person shared which post where, within the week.
    pub shared_at: HashMap<(i64, Platform), NaiveDateTime>,
    pub now: NaiveDateTime,
}

impl Situation {
    /// The Mastodon-like instance the person named for a platform, if any.
    pub fn instance(&self, platform: Platform) -> Option<&str> {
        self.consented
            .iter()
            .find(|(p, _)| *p == platform)
            .and_then(|(_, i)| i.as_deref())
    }
}

/// The situation, for a caller that already has the person's time zone and
/// department (`place`) and their recent shares.
fn situation_with(
    conn: &mut crate::db::DbConnection,
    hub: &Hub,
    user_id: i64,
    (timezone, department): (Option<String>, Option<i64>),
    recent: HashMap<Platform, Vec<NaiveDateTime>>,
    now: NaiveDateTime,
) -> std::result::Result<Situation, StoreError> {
    let settings = &hub.settings;
    let enabled = settings.enabled_platforms();
    let choices: Vec<PlatformChoice> = store::consent::choices(conn, user_id)?
        .into_iter()
        .filter(|c| enabled.contains(&c.platform))
        .collect();
    let mut situation = Situation {
        caps: choices
            .iter()
            .map(|c| {
                let policy = hub.cap_policies[&c.platform];
                (c.platform, policy.effective(c.caps))
            })
            .collect(),
        consented: choices
            .into_iter()
            .map(|c| (c.platform, c.instance))
            .collect(),
        recent,
        disclosure: settings.disclosure(),
        tz: timezone
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| settings.timezone()),
        crowd_threshold: settings.crowd_threshold as i64,
        department,
        standings: HashMap::new(),
        shared_at: HashMap::new(),
        now,
    };
    situation.standings = situation
        .consented
        .iter()
        .map(|(platform, _)| (*platform, standing(&situation, *platform, now)))
        .collect();
    Ok(situation)
}

/// What the person's caps leave them on a platform now: the same for every
/// post, so worked out once a page.
pub struct Standing {
    remaining_day: u32,
    remaining_week: u32,
    /// None: a share is possible now; Some(None): paused (a cap of 0);
    /// Some(Some(at)): possible again at `at`.
    pub next: Option<Option<NaiveDateTime>>,
    wait: Option<String>,
}

impl Standing {
    /// Shares left today and this week (rolling 24 hours and 7 days).
    pub fn remaining(&self) -> (u32, u32) {
        (self.remaining_day, self.remaining_week)
    }
}

fn standing(situation: &Situation, platform: Platform, now: NaiveDateTime) -> Standing {
    let recent = situation
        .recent
        .get(&platform)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let caps = situation.caps[&platform];
    let (remaining_day, remaining_week) = remaining(caps, recent, now);
    let next = next_allowed(caps, recent, now);
    Standing {
        remaining_day,
        remaining_week,
        next,
        wait: next.map(|next| match next {
            Some(at) => format!("next share possible {}", local_time(at, situation.tz)),
            None => "paused: you set your cap to 0".to_string(),
        }),
    }
}

/// A moment as the person reads it: in their time zone, which is named.
pub fn local_time(at: NaiveDateTime, tz: Tz) -> String {
    format!(
        "{} ({})",
        schedule::utc_to_local(at, tz).format("%a %d %b, %H:%M"),
        tz.name()
    )
}

/// A moment of the person's own, short: in their time zone, named once
/// on the page rather than each time.
pub fn short_time(at: NaiveDateTime, tz: Tz) -> String {
    schedule::utc_to_local(at, tz)
        .format("%a %d %b, %H:%M")
        .to_string()
}

/// Which caption variant this person gets for a post on a platform, and
/// its text (the post's base text when the platform has none).
fn caption_of(post: &Post, platform: Platform, user_id: i64) -> (usize, &str) {
    let index = variant_for(user_id, post.id, post.captions.count(platform));
    let caption = post
        .captions
        .variants(platform)
        .nth(index)
        .unwrap_or(&post.base_text);
    (index, caption)
}

/// The caption this person is offered for a post on a platform (numbered
/// from 1), with the disclosure in place.
fn offered_caption(
    post: &Post,
    platform: Platform,
    user_id: i64,
    disclosure: Option<&str>,
) -> (usize, String) {
    let (index, caption) = caption_of(post, platform, user_id);
    (index + 1, offered_text(caption, disclosure))
}

/// A post of the queue with its offers, one per platform the person said
/// yes to and the post is for.
pub fn queue_post<'a>(
    item: &'a QueueItem,
    situation: &'a Situation,
    hub: &'a Hub,
    user: UserId,
    crowded: &[(i64, Platform)],
) -> QueuePost<'a> {
    let post = &item.post;
    let offers: Vec<Offer> = situation
        .consented
        .iter()
        .filter(|(p, _)| post.platforms().contains(p))
        .map(|(platform, _)| {
            let disclosure = situation.disclosure.as_deref();
            let (variant, caption) = caption_of(post, *platform, user.get());
            let text =
                hub.published
                    .offered_text((post.id, *platform, variant), disclosure, || {
                        offered_text(caption, disclosure)
                    });
            let standing = &situation.standings[platform];
            let shared_at = situation.shared_at.get(&(post.id, *platform)).copied();
            Offer {
                platform: *platform,
                link: hub.published.shared_link(post, *platform, &hub.link_tags),
                editable: platform.accepts_prefilled_text(),
                shared: item.shared_on.contains(platform),
                shared_at,
                undo: shared_at.is_some_and(|at| at + UNDO_WINDOW > situation.now),
                remaining_day: standing.remaining_day,
                remaining_week: standing.remaining_week,
                wait: standing.wait.as_deref(),
                crowded: crowded.contains(&(post.id, *platform)),
                error: None,
                text,
            }
        })
        .collect();
    QueuePost {
        id: post.id,
        host: hub.published.host_of(post),
        link: &post.link,
        preview: hub
            .published
            .preview_of(post.id)
            .filter(|p| p.link == post.link),
        link_pattern: offers
            .iter()
            .any(|o| o.editable && !o.shared)
            .then(|| hub.published.shared_link_pattern(post, &hub.link_tags))
            .flatten(),
        offers,
    }
}

/// One page of a person's queue, as read in one snapshot.
pub struct Loaded {
    pub situation: Situation,
    pub hub: Arc<Hub>,
    pub items: Vec<QueueItem>,
    pub total: i64,
    pub notices: Vec<WithdrawalNotice>,
    pub crowded: Vec<(i64, Platform)>,
    /// What the person shared and dismissed in the last week.
    pub recent: Vec<RecentMark>,
    /// Of those, the posts the person is done with (out of the queue).
    done: Vec<i64>,
}

/// A post the person is done with: shared everywhere they could, or
/// dismissed, in the last week. Shown only to them.
pub struct DonePost<'a> {
    pub id: i64,
    pub link: &'a str,
    /// The preview's title, or the link's host.
    pub title: Arc<str>,
    /// Platform, when, and whether Undo is still allowed; latest first.
    pub shares: Vec<(Platform, NaiveDateTime, bool)>,
    /// When the person said "Not for me".
    pub skipped: Option<NaiveDateTime>,
}

impl Loaded {
    /// How many pages the queue fills (at least one, empty or not).
    pub fn pages(&self) -> i64 {
        ((self.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
    }

    /// The posts the person is done with, latest first, at most
    /// [`DONE_SHOWN`].
    pub fn done(&self) -> Vec<DonePost<'_>> {
        let now = self.situation.now;
        self.done
            .iter()
            .filter_map(|id| {
                let post = self.hub.published.post(*id)?;
                let mut shares: Vec<(Platform, NaiveDateTime, bool)> = self
                    .recent
                    .iter()
                    .filter(|m| m.post_id == *id)
                    .filter_map(|m| Some((m.platform?, m.at, m.at + UNDO_WINDOW > now)))
                    .collect();
                shares.sort_by_key(|(p, at, _)| (std::cmp::Reverse(*at), *p));
                let skipped = self
                    .recent
                    .iter()
                    .find(|m| m.post_id == *id && m.platform.is_none())
                    .map(|m| m.at);
                let title = self
                    .hub
                    .published
                    .preview_of(*id)
                    .filter(|p| p.link == post.link && !p.title.is_empty())
                    .map(|p| Arc::from(p.title.as_str()))
                    .unwrap_or_else(|| self.hub.published.host_of(post));
                Some(DonePost {
                    id: *id,
                    link: &post.link,
                    title,
                    shares,
                    skipped,
                })
            })
            .collect()
    }

    /// The page's posts with their offers, for the person it was loaded for.
    pub fn posts(&self, user: UserId) -> Vec<QueuePost<'_>> {
        self.items
            .iter()
            .map(|item| queue_post(item, &self.situation, &self.hub, user, &self.crowded))
            .collect()
    }
}

/// One page of the person's queue. `user` is as read with their session
/// or token, this request: their time zone and department come from there.
///
/// The page's reads are short and indexed: on SQLite they run without a
/// hand-off (see `Db::read`), in one read transaction. Reloading the kept
/// posts after a hub change reads every live post, so that runs off the
/// executor first, never inline, on the thread kept for it
/// ([`crate::db::Db::run_kept`]).
pub async fn load(app: &App, user: &User, page_number: i64) -> Result<Loaded> {
    let request = PageRequest {
        user_id: user.id,
        place: (user.timezone.clone(), user.department_id),
        now: app.clock.now_naive(),
        page_number,
    };
    for _ in 0..2 {
        let (live, crowd, request) = (
            app.live_posts.clone(),
            app.crowd_memo.clone(),
            request.clone(),
        );
        let page = app
            .db
            .read_snapshot(move |conn| {
                let counters = store::queue::counters(conn)?;
                let Some(hub) = live.kept_as_of(counters.queue) else {
                    return Ok(None);
                };
                page_of(conn, hub, &crowd, counters, request).map(Some)
            })
            .await?;
        if let Some(page) = page {
            return Ok(page);
        }
        let live = app.live_posts.clone();
        app.db.run_kept(move |conn| live.current(conn)).await?;
    }
    // The hub changed again meanwhile: all of it where the posts are read.
    let (live, crowd) = (app.live_posts.clone(), app.crowd_memo.clone());
    Ok(app
        .db
        .run_kept(move |conn| {
            let counters = store::queue::counters(conn)?;
            let hub = live.as_of(conn, counters.queue)?;
            page_of(conn, hub, &crowd, counters, request)
        })
        .await?)
}

/// Runs `work` on the blocking pool with the hub as of now. When the kept
/// hub is stale, it is read first where the posts are read
/// ([`crate::db::Db::run_kept`]), as for a queue view.
async fn with_hub<T, F>(app: &App, work: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection, Arc<Hub>) -> std::result::Result<T, StoreError>
        + Clone
        + Send
        + 'static,
    T: Send + 'static,
{
    for _ in 0..2 {
        let (live, work) = (app.live_posts.clone(), work.clone());
        let done = app
            .db
            .run(
                move |conn| match live.kept_as_of(live_posts::generation(conn)?) {
                    Some(hub) => work(conn, hub).map(Some),
                    None => Ok(None),
                },
            )
            .await?;
        if let Some(done) = done {
            return Ok(done);
        }
        let live = app.live_posts.clone();
        app.db.run_kept(move |conn| live.current(conn)).await?;
    }
    // The hub changed again meanwhile: all of it where the posts are read.
    let live = app.live_posts.clone();
    Ok(app
        .db
        .run_kept(move |conn| {
            let hub = live.current(conn)?;
            work(conn, hub)
        })
        .await?)
}

/// Whose page, which one, and when.
#[derive(Clone)]
struct PageRequest {
    user_id: i64,
    /// The person's time zone and department.
    place: (Option<String>, Option<i64>),
    now: NaiveDateTime,
    page_number: i64,
}

/// One page of the queue from the hub as of `counters`.
fn page_of(
    conn: &mut DbConnection,
    hub: Arc<Hub>,
    crowd: &store::shares::CrowdMemo,
    counters: store::queue::Counters,
    request: PageRequest,
) -> std::result::Result<Loaded, StoreError> {
    let PageRequest {
        user_id,
        place,
        now,
        page_number,
    } = request;
    // One read of the person's shares gives what the queue leaves out,
    // what their caps count and what they did this week.
    let (mut marks, recent_marks) = live_posts::marks_and_share_times(conn, user_id, now - WEEK)?;
    // Shared moments ago: the card stays where it was, with Undo.
    marks.keep_in_view(
        recent_marks
            .iter()
            .filter(|m| m.platform.is_some() && m.at + UNDO_WINDOW > now)
            .map(|m| m.post_id)
            .collect(),
    );
    let shares = recent_marks
        .iter()
        .filter_map(|m| Some((m.platform?, m.at)));
    let recent = store::shares::recent_among(shares, now);
    let mut situation = situation_with(conn, &hub, user_id, place, recent, now)?;
    situation.shared_at = recent_marks
        .iter()
        .filter_map(|m| Some(((m.post_id, m.platform?), m.at)))
        .collect();
    let platforms: Vec<Platform> = situation.consented.iter().map(|(p, _)| *p).collect();
    let done = done_posts(&hub, &platforms, &marks, &recent_marks);
    // No consent, no caption offered: the page is empty by the rule.
    let (items, total) = live_posts::page(
        &hub.published,
        situation.department,
        &platforms,
        &marks,
        now,
        (page_number - 1) * PAGE_SIZE,
        PAGE_SIZE,
    );
    let offered: Vec<(i64, Platform)> = items
        .iter()
        .flat_map(|item| {
            platforms
                .iter()
                .filter(|p| item.post.platforms().contains(p))
                .map(|p| (item.post.id, *p))
        })
        .collect();
    let crowded = crowd.crowded(
        conn,
        &offered,
        now,
        situation.crowd_threshold,
        counters.shares_added,
    )?;
    Ok(Loaded {
        // From the kept withdrawn posts and the person's marks.
        notices: hub.published.withdrawal_notices(&marks),
        situation,
        hub,
        items,
        total,
        crowded,
        recent: recent_marks,
        done,
    })
}

/// Of the posts the person shared or dismissed this week, those they are
/// done with, latest first, at most [`DONE_SHOWN`].
fn done_posts(
    hub: &Hub,
    platforms: &[Platform],
    marks: &live_posts::Marks,
    recent: &[RecentMark],
) -> Vec<i64> {
    let mut latest: Vec<(NaiveDateTime, i64)> = recent.iter().map(|m| (m.at, m.post_id)).collect();
    latest.sort_unstable_by(|a, b| b.cmp(a));
    let mut done: Vec<i64> = Vec::new();
    for (_, post_id) in latest {
        if done.len() == DONE_SHOWN {
            break;
        }
        if !done.contains(&post_id)
            && marks.done_with(&hub.published, platforms, post_id) == Some(true)
        {
            done.push(post_id);
        }
    }
    done
}

/// What a share read, for its checks and its answer.
struct SeenShare {
    /// The person's row as read (see `store::shares::Seen`).
    seen: store::shares::Seen,
    /// They shared the post on the platform before.
    already: bool,
    /// The organisation's hourly cap on the post there, and its shares.
    crowd: (i32, Vec<NaiveDateTime>),
    post: Post,
    situation: Situation,
    tags: crate::domain::utm::LinkTags,
}

/// What became of a share; the page and the API answer from it.
pub enum Shared {
    /// Recorded (or recorded before): the platform's share-intent URL.
    Recorded { url: String, already: bool },
    /// The person's edited text was refused; nothing was recorded.
    TextRefused {
        problem: String,
        post: Box<Post>,
        situation: Box<Situation>,
    },
    /// Past a cap: why, and in how many seconds sharing is possible again
    /// (None: paused, the person chose a cap of 0).
    Wait {
        message: String,
        retry_after_seconds: Option<i64>,
    },
}

/// The platform's own share dialog for a text and a link.
pub fn share_intent(
    platform: Platform,
    text: &str,
    link: &str,
    instance: Option<&str>,
) -> Result<String> {
    let host = instance.and_then(|i| InstanceHost::parse(i).ok());
    platform
        .share_url(&Share {
            text,
            url: link,
            title: text,
            instance: host.as_ref(),
        })
        .map_err(|e| Error::Invalid(e.0))
}

/// Why an edited text may not be shared: the disclosure removed, or past
/// the platform's limit with the link.
fn refusal(text: &str, link: &str, platform: Platform, disclosure: Option<&str>) -> Option<String> {
    disclosure
        .and_then(|d| disclosure::check_edited(text, d, true).err().map(|e| e.0))
        .or_else(|| {
            let count = platform.count_with_link(text, link);
            (count > platform.text_limit()).then(|| {
                format!(
                    "{count} of {} characters as {} counts them, with the link. Shorten it by {}.",
                    platform.text_limit(),
                    platform.name(),
                    count - platform.text_limit()
                )
            })
        })
}

/// Shares a post on a platform: only a post offered to the person, only on
/// a platform they said yes to, an edited text checked for the disclosure
/// and the platform's limit, and the person's caps checked and the share
/// recorded in one transaction (`store::shares::record_as_seen`). A share
/// refused on what was read (past a cap) writes nothing.
pub async fn share(
    app: &App,
    user: UserId,
    post: PostId,
    platform: Platform,
    typed: &str,
) -> Result<Shared> {
    let (user_id, post_id) = (user.get(), post.get());
    let now = app.clock.now_naive();
    let seen = with_hub(app, move |conn, hub| {
        let Some(sharer) = store::shares::sharer(conn, user_id, post_id, now)? else {
            return Ok(None);
        };
        let store::shares::Sharer {
            seen,
            timezone,
            department,
            recent,
            shared_post_on,
        } = sharer;
        let Some(post) = hub.published.offered(post_id, department, platform, now) else {
            return Ok(None);
        };
        let post = Post::clone(post);
        let situation = situation_with(conn, &hub, user_id, (timezone, department), recent, now)?;
        let crowd = store::shares::crowd(
            conn,
            hub.settings.crowd_cap_per_hour,
            post_id,
            platform,
            now,
        )?;
        Ok::<_, StoreError>(Some(SeenShare {
            seen,
            already: shared_post_on.contains(&platform),
            crowd,
            post,
            situation,
            tags: hub.link_tags.clone(),
        }))
    })
    .await?;
    // A post that is not offered to this person, on a platform they said
    // yes to, answers as if it did not exist: nothing tells them apart.
    let SeenShare {
        seen,
        already,
        crowd,
        post,
        situation,
        tags,
    } = seen.ok_or(Error::NotFound)?;
    if !situation.consented.iter().any(|(p, _)| *p == platform) {
        return Err(Error::NotFound);
    }
    let instance = situation.instance(platform).map(str::to_string);
    let link = tags.link_for(&post.link, platform, &post.title);
    let (variant, offered) =
        offered_caption(&post, platform, user_id, situation.disclosure.as_deref());
    let typed = parse_text(typed, "Your text").unwrap_or_else(|_| offered.clone());
    let edited = platform.accepts_prefilled_text() && !typed.is_empty() && typed != offered;
    let text = if edited { typed } else { offered };
    if edited
        && let Some(problem) = refusal(&text, &link, platform, situation.disclosure.as_deref())
    {
        return Ok(Shared::TextRefused {
            problem,
            post: Box::new(post),
            situation: Box::new(situation),
        });
    }
    // Refused on what was read (past a cap, shared before): nothing to
    // write. Otherwise recorded if the person is still as read, or checked
    // again under their lock (`store::shares::record_as_seen`).
    let facts = ShareFacts {
        consented: true,
        already,
        caps: situation.caps[&platform],
        recent: situation.recent.get(&platform).cloned().unwrap_or_default(),
        crowd,
    };
    let outcome = match facts.refusal(now) {
        Some(refused) => refused,
        None => {
            app.db
                .write(move |conn| {
                    store::shares::record_as_seen(
                        conn, &seen, user_id, post_id, platform, variant, edited, now,
                    )
                })
                .await?
        }
    };
    let wait = |message: String, at: Option<NaiveDateTime>| Shared::Wait {
        message,
        retry_after_seconds: at.map(|at| (at - now).num_seconds().max(1)),
    };
    Ok(match outcome {
        ShareOutcome::Recorded | ShareOutcome::AlreadyShared => Shared::Recorded {
            url: share_intent(platform, &text, &link, instance.as_deref())?,
            already: outcome == ShareOutcome::AlreadyShared,
        },
        ShareOutcome::CapReached(Some(at)) => wait(
            format!(
                "You have reached the limit you chose for {}. Your next share there is possible {}.",
                platform.name(),
                local_time(at, situation.tz)
            ),
            Some(at),
        ),
        ShareOutcome::CapReached(None) => wait(
            format!(
                "Sharing on {} is paused: you set your limit to 0 under Preferences.",
                platform.name()
            ),
            None,
        ),
        ShareOutcome::CrowdCapReached(at) => wait(
            format!(
                "Many colleagues shared this on {} in the last hour, and your organisation spreads identical posts out. It can be shared again {}.",
                platform.name(),
                local_time(at, situation.tz)
            ),
            Some(at),
        ),
        ShareOutcome::NoConsent => return Err(Error::NotFound),
    })
}

/// What became of an Undo; the page and the API answer from it.
pub enum Undone {
    /// The share is gone and its cap given back.
    Undone,
    /// Past the window: the share stays, and why.
    TooLate { message: String },
}

/// Undo: takes back the person's own share of a post on a platform, made
/// less than [`UNDO_WINDOW`] ago (they closed the dialog without posting).
/// The share no longer counts toward their caps or in any report. A post
/// they have no share of there answers NotFound, whoever else shared it.
pub async fn undo(app: &App, user: UserId, post: PostId, platform: Platform) -> Result<Undone> {
    let (user_id, post_id, now) = (user.get(), post.get(), app.clock.now_naive());
    let outcome = app
        .db
        .write(move |conn| store::shares::undo(conn, user_id, post_id, platform, now, UNDO_WINDOW))
        .await?;
    match outcome {
        UndoOutcome::Undone => Ok(Undone::Undone),
        UndoOutcome::NotShared => Err(Error::NotFound),
        UndoOutcome::TooLate(at) => Ok(Undone::TooLate {
            message: format!(
                "Your share on {} was recorded {} ago. A share can be undone only in the first {} minutes, so this one stays counted toward your limits.",
                platform.name(),
                minutes_ago(now - at),
                UNDO_WINDOW.num_minutes()
            ),
        }),
    }
}

/// "25 minutes", "3 hours", "2 days": how long ago, roughly.
fn minutes_ago(ago: chrono::Duration) -> String {
    let (n, unit) = match ago.num_minutes() {
        m if m < 120 => (m, "minute"),
        m if m < 48 * 60 => (m / 60, "hour"),
        m => (m / (24 * 60), "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A post not offered to the person (a draft, another department's, a
/// withdrawn or expired one, none of its platforms said yes to) answers
/// NotFound as an unknown id does, so dismiss and restore reveal nothing.
async fn ensure_offered(app: &App, user_id: i64, post_id: i64) -> Result<()> {
    let now = app.clock.now_naive();
    let offered = with_hub(app, move |conn, hub| {
        let enabled = hub.settings.enabled_platforms();
        let platforms: Vec<Platform> = store::consent::consented_platforms(conn, user_id)?
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| enabled.contains(p))
            .collect();
        store::queue::offered_on_any(conn, user_id, post_id, &platforms, now)
    })
    .await?;
    offered.then_some(()).ok_or(Error::NotFound)
}

/// "Not for me": the post leaves the person's queue.
pub async fn dismiss(app: &App, user: UserId, post: PostId) -> Result<()> {
    let (user_id, post_id, now) = (user.get(), post.get(), app.clock.now_naive());
    ensure_offered(app, user_id, post_id).await?;
    app.db
        .run(move |conn| store::shares::dismiss(conn, user_id, post_id, now))
        .await?;
    Ok(())
}

/// "Undo": a dismissed post comes back to the person's queue.
pub async fn restore(app: &App, user: UserId, post: PostId) -> Result<()> {
    let (user_id, post_id) = (user.get(), post.get());
    ensure_offered(app, user_id, post_id).await?;
    app.db
        .run(move |conn| store::shares::restore(conn, user_id, post_id))
        .await?;
    Ok(())
}

/// The person has read the notice that a post they shared was withdrawn.
/// A post id that names no post is NotFound.
pub async fn read_notice(app: &App, user: UserId, post: PostId) -> Result<()> {
    let (user_id, post_id, now) = (user.get(), post.get(), app.clock.now_naive());
    let exists = app
        .db
        .run(move |conn| store::posts::find(conn, post_id).map(|p| p.is_some()))
        .await?;
    if !exists {
        return Err(Error::NotFound);
    }
    app.db
        .run(move |conn| store::shares::read_withdrawal_notice(conn, user_id, post_id, now))
        .await?;
    Ok(())
}
