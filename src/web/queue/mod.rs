//! The employee's queue: posts they may choose to share, through each
//! platform's own share dialog, within the caps they chose. No pressure:
//! nothing here counts what colleagues did.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::disclosure;
use crate::domain::platforms::{InstanceHost, Platform, Share};
use crate::domain::post::{offered_text, parse_text, variant_for};
use crate::domain::schedule;
use crate::domain::share_caps::{next_allowed, remaining};
use crate::store::consent::PlatformChoice;
use crate::store::live_posts::{self, Hub};
use crate::store::posts::Post;
use crate::store::queue::{QueueItem, WithdrawalNotice};
use crate::store::shares::ShareOutcome;
use crate::store::users::User;
use crate::store::{self, StoreError};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::markup::filters;
use crate::web::page::{PageContext, ok, render, see_other};

pub(crate) const PAGE_SIZE: i64 = 20;
/// Past this a page number is nonsense (and its offset would overflow).
pub(crate) const MAX_PAGE: i64 = 100_000;

/// One platform on which a post is offered to the person. It borrows from
/// the loaded page (`'a`): a page of offers is built and rendered on every
/// view, so nothing here is copied that the page already holds.
pub struct Offer<'a> {
    pub platform: Platform,
    /// The offered caption (kept with the published posts), or the text
    /// the person typed when it was refused.
    pub text: Arc<str>,
    pub editable: bool,
    pub shared: bool,
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
    pub offers: Vec<Offer<'a>>,
}

pub struct NoticeView {
    pub post_id: i64,
    pub link: String,
    pub reason: String,
    pub when: String,
    pub platforms: String,
}

/// Whitespace around the template's tags is minimized: the blank lines and
/// indentation left by `{% if %}` and `{% for %}` lines were about 7 % of a
/// page of 20 posts (60 KB), sent on every view. A run with a newline keeps
/// one (so `<pre>` keeps its line break).
#[derive(Template)]
#[template(path = "queue/index.html", whitespace = "minimize")]
struct QueuePage<'a> {
    page: PageContext,
    posts: Vec<QueuePost<'a>>,
    notices: Vec<NoticeView>,
    consented_any: bool,
    page_number: i64,
    pages: i64,
    hidden: Option<i64>,
}

#[derive(Template)]
#[template(path = "queue/wait.html")]
struct WaitPage {
    page: PageContext,
    platform: &'static str,
    message: String,
}

/// Everything the queue needs about the person and the organisation.
pub(crate) struct Situation {
    pub(crate) consented: Vec<(Platform, Option<String>)>,
    /// The caps that apply to the person, per consented platform.
    pub(crate) caps: HashMap<Platform, crate::domain::share_caps::ShareCaps>,
    pub(crate) recent: HashMap<Platform, Vec<NaiveDateTime>>,
    pub(crate) disclosure: Option<String>,
    pub(crate) tz: Tz,
    pub(crate) crowd_threshold: i64,
    pub(crate) department: Option<i64>,
    /// Per consented platform.
    pub(crate) standings: HashMap<Platform, Standing>,
}

fn situation(
    conn: &mut crate::db::DbConnection,
    hub: &Hub,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Situation, StoreError> {
    let recent = store::shares::recent(conn, user_id, now)?;
    let place = store::users::timezone_and_department(conn, user_id)?;
    situation_with(conn, hub, user_id, place, recent, now)
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
) -> Result<Situation, StoreError> {
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
pub(crate) struct Standing {
    remaining_day: u32,
    remaining_week: u32,
    /// None: a share is possible now; Some(None): paused (a cap of 0);
    /// Some(Some(at)): possible again at `at`.
    pub(crate) next: Option<Option<NaiveDateTime>>,
    wait: Option<String>,
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
            Some(at) => format!("next share possible {}", display(at, situation.tz)),
            None => "paused: you set your cap to 0".to_string(),
        }),
    }
}

fn display(at: NaiveDateTime, tz: Tz) -> String {
    format!(
        "{} ({})",
        schedule::utc_to_local(at, tz).format("%a %d %b, %H:%M"),
        tz.name()
    )
}

/// Which caption variant this person gets for a post on a platform, and
/// its text (the post's base text when the platform has none).
fn caption_of(post: &Post, platform: Platform, user_id: i64) -> (usize, &str) {
    let variants = post
        .captions
        .iter()
        .find(|(p, _)| *p == platform)
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[]);
    let index = variant_for(user_id, post.id, variants.len());
    let caption = variants.get(index).unwrap_or(&post.base_text);
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

pub(crate) fn queue_post<'a>(
    item: &'a QueueItem,
    situation: &'a Situation,
    hub: &Hub,
    user_id: i64,
    crowded: &[(i64, Platform)],
) -> QueuePost<'a> {
    let post = &item.post;
    let offers = situation
        .consented
        .iter()
        .filter(|(p, _)| post.platforms().contains(p))
        .map(|(platform, _)| {
            let disclosure = situation.disclosure.as_deref();
            let (variant, caption) = caption_of(post, *platform, user_id);
            let text =
                hub.published
                    .offered_text((post.id, *platform, variant), disclosure, || {
                        offered_text(caption, disclosure)
                    });
            let standing = &situation.standings[platform];
            Offer {
                platform: *platform,
                editable: platform.accepts_prefilled_text(),
                shared: item.shared_on.contains(platform),
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
        offers,
    }
}

pub(crate) struct Loaded {
    pub(crate) situation: Situation,
    pub(crate) hub: Arc<Hub>,
    pub(crate) items: Vec<QueueItem>,
    pub(crate) total: i64,
    pub(crate) notices: Vec<WithdrawalNotice>,
    pub(crate) crowded: Vec<(i64, Platform)>,
}

/// One page of the person's queue. `user` is as read with their session
/// or token, this request: their time zone and department come from there.
pub(crate) async fn load(state: &AppState, user: &User, page_number: i64) -> WebResult<Loaded> {
    let now = state.clock.now_naive();
    let user_id = user.id;
    let place = (user.timezone.clone(), user.department_id);
    let live = state.live_posts.clone();
    let crowd = state.crowd_memo.clone();
    // Reads only: on SQLite they run without a hand-off (see `Db::read`),
    // in one read transaction; after a hub change that includes reloading
    // the kept posts, once.
    Ok(state
        .db
        .read_snapshot(move |conn| {
            // One read of the person's shares gives both what the queue
            // leaves out and what their caps count.
            let (marks, share_times) = live_posts::marks_and_share_times(
                conn,
                user_id,
                now - crate::domain::share_caps::WEEK,
            )?;
            let recent = store::shares::recent_among(share_times, now);
            let counters = store::queue::counters(conn)?;
            let hub = live.as_of(conn, counters.queue)?;
            let situation = situation_with(conn, &hub, user_id, place, recent, now)?;
            let platforms: Vec<Platform> = situation.consented.iter().map(|(p, _)| *p).collect();
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
            Ok::<_, StoreError>(Loaded {
                // From the kept withdrawn posts and the person's marks.
                notices: hub.published.withdrawal_notices(&marks),
                situation,
                hub,
                items,
                total,
                crowded,
            })
        })
        .await?)
}

fn queue_page<'a>(
    signed_in: &SignedIn,
    loaded: &'a Loaded,
    page_number: i64,
    hidden: Option<i64>,
) -> QueuePage<'a> {
    let tz = loaded.situation.tz;
    QueuePage {
        page: PageContext::from(signed_in),
        posts: loaded
            .items
            .iter()
            .map(|item| {
                queue_post(
                    item,
                    &loaded.situation,
                    &loaded.hub,
                    signed_in.user.id,
                    &loaded.crowded,
                )
            })
            .collect(),
        notices: loaded
            .notices
            .iter()
            .map(|n| NoticeView {
                post_id: n.post.id,
                link: n.post.link.clone(),
                reason: n.post.reason.clone(),
                when: display(n.post.withdrawn_at, tz),
                platforms: n
                    .platforms
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        consented_any: !loaded.situation.consented.is_empty(),
        page_number,
        pages: ((loaded.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        hidden,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueQuery {
    page: i64,
    hidden: Option<i64>,
}

pub async fn index(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<QueueQuery>,
) -> WebResult<HttpResponse> {
    let page_number = query.page.clamp(1, MAX_PAGE);
    let loaded = load(&state, &signed_in.user, page_number).await?;
    ok(&queue_page(&signed_in, &loaded, page_number, query.hidden))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ShareForm {
    text: String,
}

/// What became of a share attempt; the page and the API answer from it.
pub(crate) enum ShareAttempt {
    /// Recorded (or recorded before): the platform's share-intent URL.
    Shared { url: String, already: bool },
    /// The person's edited text was refused; nothing was recorded.
    TextRefused {
        problem: String,
        post: Box<Post>,
        situation: Box<Situation>,
    },
    /// Past a cap: why, and when sharing is possible again (None: paused at 0).
    Wait {
        message: String,
        retry_at: Option<NaiveDateTime>,
    },
}

/// The platform's own share dialog for a text and a link.
pub(crate) fn share_intent(
    platform: Platform,
    text: &str,
    link: &str,
    instance: Option<&str>,
) -> WebResult<String> {
    let host = instance.and_then(|i| InstanceHost::parse(i).ok());
    platform
        .share_url(&Share {
            text,
            url: link,
            title: text,
            instance: host.as_ref(),
        })
        .map_err(|e| AppError::bad_request(e.0))
}

/// Shares a post on a platform exactly as the queue does: only a post offered
/// to the person, only on a platform they said yes to, an edited text checked
/// for the disclosure and the platform's limit, and the person's caps checked
/// and the share recorded in one transaction (`store::shares::record`).
pub(crate) async fn attempt_share(
    state: &AppState,
    user_id: i64,
    post_id: i64,
    platform: Platform,
    typed: &str,
) -> WebResult<ShareAttempt> {
    let now = state.clock.now_naive();
    let live = state.live_posts.clone();
    let (post, situation) = state
        .db
        .run(move |conn| {
            let hub = live.current(conn)?;
            Ok::<_, StoreError>((
                store::queue::offered(conn, user_id, post_id, platform, now)?,
                situation(conn, &hub, user_id, now)?,
            ))
        })
        .await?;
    // A post that is not offered to this person, on a platform they said
    // yes to, answers as if it did not exist: nothing tells them apart.
    let post = post.ok_or_else(AppError::not_found)?;
    let Some((_, instance)) = situation.consented.iter().find(|(p, _)| *p == platform) else {
        return Err(AppError::not_found());
    };
    let instance = instance.clone();
    let (variant, offered) =
        offered_caption(&post, platform, user_id, situation.disclosure.as_deref());
    let typed = parse_text(typed, "Your text").unwrap_or_else(|_| offered.clone());
    let edited = platform.accepts_prefilled_text() && !typed.is_empty() && typed != offered;
    let text = if edited { typed } else { offered };
    if edited {
        let problem = match &situation.disclosure {
            Some(d) => disclosure::check_edited(&text, d, true).err().map(|e| e.0),
            None => None,
        }
        .or_else(|| {
            let count = platform.count_with_link(&text, &post.link);
            (count > platform.text_limit()).then(|| {
                format!(
                    "{count} of {} characters as {} counts them, with the link. Shorten it by {}.",
                    platform.text_limit(),
                    platform.name(),
                    count - platform.text_limit()
                )
            })
        });
        if let Some(problem) = problem {
            return Ok(ShareAttempt::TextRefused {
                problem,
                post: Box::new(post),
                situation: Box::new(situation),
            });
        }
    }
    let outcome = state
        .db
        .write(move |conn| {
            store::shares::record(conn, user_id, post_id, platform, variant, edited, now)
        })
        .await?;
    Ok(match outcome {
        ShareOutcome::Recorded | ShareOutcome::AlreadyShared => ShareAttempt::Shared {
            url: share_intent(platform, &text, &post.link, instance.as_deref())?,
            already: outcome == ShareOutcome::AlreadyShared,
        },
        ShareOutcome::CapReached(Some(at)) => ShareAttempt::Wait {
            message: format!(
                "You have reached the limit you chose for {}. Your next share there is possible {}.",
                platform.name(),
                display(at, situation.tz)
            ),
            retry_at: Some(at),
        },
        ShareOutcome::CapReached(None) => ShareAttempt::Wait {
            message: format!(
                "Sharing on {} is paused: you set your limit to 0 under Preferences.",
                platform.name()
            ),
            retry_at: None,
        },
        ShareOutcome::CrowdCapReached(at) => ShareAttempt::Wait {
            message: format!(
                "Many colleagues shared this on {} in the last hour, and your organisation spreads identical posts out. It can be shared again {}.",
                platform.name(),
                display(at, situation.tz)
            ),
            retry_at: Some(at),
        },
        ShareOutcome::NoConsent => return Err(AppError::not_found()),
    })
}

/// Seconds until `at`, at least 1, for Retry-After.
pub(crate) fn retry_after_seconds(at: NaiveDateTime, now: NaiveDateTime) -> i64 {
    (at - now).num_seconds().max(1)
}

pub async fn share(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    path: web::Path<(i64, String)>,
    form: web::Form<ShareForm>,
) -> WebResult<HttpResponse> {
    let (post_id, slug) = path.into_inner();
    let platform = Platform::from_slug(&slug).ok_or_else(AppError::not_found)?;
    let user_id = signed_in.user.id;
    let now = state.clock.now_naive();
    match attempt_share(&state, user_id, post_id, platform, &form.text).await? {
        ShareAttempt::Shared { url, .. } => Ok(see_other(&url)),
        ShareAttempt::TextRefused {
            problem,
            post,
            situation,
        } => {
            // Show the queue again, this post first, with the text as typed.
            let mut loaded = load(&state, &signed_in.user, 1).await?;
            loaded.items.retain(|i| i.post.id != post.id);
            let refused = QueueItem {
                post: Arc::new(*post),
                shared_on: Vec::new(),
            };
            let mut page = queue_page(&signed_in, &loaded, 1, None);
            let mut this = queue_post(&refused, &situation, &loaded.hub, user_id, &[]);
            if let Some(offer) = this.offers.iter_mut().find(|o| o.platform == platform) {
                offer.text = form.text.as_str().into();
                offer.error = Some(problem);
            }
            page.posts.insert(0, this);
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        ShareAttempt::Wait { message, retry_at } => {
            let mut response = render(
                StatusCode::TOO_MANY_REQUESTS,
                &WaitPage {
                    page: PageContext::from(&signed_in),
                    platform: platform.name(),
                    message,
                },
            )?;
            if let Some(at) = retry_at
                && let Ok(value) = HeaderValue::from_str(&retry_after_seconds(at, now).to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Ok(response)
        }
    }
}

/// A post id that names no post answers 404.
pub(crate) async fn ensure_post_exists(state: &AppState, post_id: i64) -> WebResult<()> {
    let exists = state
        .db
        .run(move |conn| store::posts::find(conn, post_id).map(|p| p.is_some()))
        .await?;
    if exists {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

/// A post not offered to the person (a draft, another department's, a
/// withdrawn or expired one, none of its platforms said yes to) answers 404
/// as an unknown id does, so dismiss and restore reveal nothing of it.
pub(crate) async fn ensure_offered(state: &AppState, user_id: i64, post_id: i64) -> WebResult<()> {
    let now = state.clock.now_naive();
    let live = state.live_posts.clone();
    let offered = state
        .db
        .run(move |conn| {
            let enabled = live.current(conn)?.settings.enabled_platforms();
            let platforms: Vec<Platform> = store::consent::consented_platforms(conn, user_id)?
                .into_iter()
                .map(|(p, _)| p)
                .filter(|p| enabled.contains(p))
                .collect();
            store::queue::offered_on_any(conn, user_id, post_id, &platforms, now)
        })
        .await?;
    if offered {
        Ok(())
    } else {
        Err(AppError::not_found())
    }
}

pub async fn dismiss(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let (user_id, post_id, now) = (signed_in.user.id, *post, state.clock.now_naive());
    ensure_offered(&state, user_id, post_id).await?;
    state
        .db
        .run(move |conn| store::shares::dismiss(conn, user_id, post_id, now))
        .await?;
    Ok(see_other(&format!("/queue?hidden={post_id}")))
}

pub async fn restore(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let (user_id, post_id) = (signed_in.user.id, *post);
    ensure_offered(&state, user_id, post_id).await?;
    state
        .db
        .run(move |conn| store::shares::restore(conn, user_id, post_id))
        .await?;
    Ok(see_other("/queue"))
}

pub async fn read_notice(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    post: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let (user_id, post_id, now) = (signed_in.user.id, *post, state.clock.now_naive());
    ensure_post_exists(&state, post_id).await?;
    state
        .db
        .run(move |conn| store::shares::read_withdrawal_notice(conn, user_id, post_id, now))
        .await?;
    Ok(see_other("/queue"))
}
