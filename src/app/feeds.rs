//! Feeds into the hub: comms add RSS or Atom feeds (read once on adding,
//! so a wrong address is said at once), and the background job polls each
//! due feed with a conditional GET through `src/outbound/`. New items
//! become drafts, never published by themselves. A feed that fails
//! records why, in words for comms, and the others go on.

use futures_util::StreamExt;

use super::{App, Result};
use crate::domain::feed::{
    self, FIRST_READING_DRAFTS, FeedDocument, FeedItem, MAX_BYTES, READING_DRAFTS,
};
use crate::domain::ids::UserId;
use crate::domain::link_preview::PreviewText;
use crate::domain::post::PostInput;
use crate::outbound::{Conditional, FetchError, Validators, Want, size_words};
use crate::store::feeds::{self as store_feeds, AddOutcome, Feed, ItemDraft, NewFeed, PollRecord};
use crate::store::previews::{self, ImageChange, PreviewWrite};

/// Feeds are read whatever type their server says (many say text/html or
/// nothing); the parser decides.
const FEED: Want = Want {
    what: "feed",
    expected: "a feed",
    accept: "application/rss+xml, application/atom+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1",
    types: &[""],
    max_bytes: MAX_BYTES,
};

/// Feeds polled at once by one process.
const POLLS_AT_ONCE: usize = 4;

/// The hub's feeds.
pub async fn list(app: &App) -> Result<Vec<Feed>> {
    Ok(app.db.run(store_feeds::list).await?)
}

/// One feed.
pub async fn find(app: &App, id: i64) -> Result<Feed> {
    app.db
        .run(move |conn| store_feeds::find(conn, id))
        .await?
        .ok_or(super::Error::NotFound)
}

/// A feed as typed in the form or sent to the API.
#[derive(Debug, Clone, Default)]
pub struct FeedForm {
    pub url: String,
    /// Minutes between polls; empty: the default.
    pub interval: String,
}

/// Why a feed was not added, field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedRefusal {
    pub url: Option<String>,
    pub interval: Option<String>,
}

/// A feed added, and what its first reading drafted.
#[derive(Debug, Clone)]
pub struct Added {
    pub feed: Feed,
    pub drafts: usize,
}

/// Adds a feed after reading it once: an address that is not a feed, or
/// that cannot be read, is refused with the reason and nothing is saved.
/// The newest items of the first reading become drafts (at most
/// [`FIRST_READING_DRAFTS`]); older ones are marked as seen.
pub async fn add(
    app: &App,
    form: &FeedForm,
    by: UserId,
) -> Result<std::result::Result<Added, FeedRefusal>> {
    let url = feed::parse_url(&form.url);
    let interval = feed::parse_interval(&form.interval);
    let (url, interval_minutes) = match (url, interval) {
        (Ok(url), Ok(interval)) => (url, interval),
        (url, interval) => {
            return Ok(Err(FeedRefusal {
                url: url.err().map(|e| e.0),
                interval: interval.err().map(|e| e.0),
            }));
        }
    };
    let already = url.clone();
    let listed = app
        .db
        .run(store_feeds::list)
        .await?
        .into_iter()
        .any(|f| f.url == already);
    if listed {
        return Ok(Err(already_there()));
    }
    let (document, validators) = match read(app, &url, &Validators::default()).await {
        Ok(Some(read)) => read,
        Ok(None) => {
            return Ok(Err(url_refusal(
                "The feed answered 304 to a first request.",
            )));
        }
        Err(problem) => return Ok(Err(url_refusal(&problem))),
    };
    let new = NewFeed {
        url,
        title: document.title.clone(),
        interval_minutes,
        validators,
    };
    let now = app.clock.now_naive();
    let id = match app
        .db
        .run(move |conn| store_feeds::add(conn, &new, by.get(), now))
        .await?
    {
        AddOutcome::Added(id) => id,
        AddOutcome::AlreadyThere => return Ok(Err(already_there())),
    };
    let drafts = draft_new_items(app, id, document, FIRST_READING_DRAFTS).await?;
    let feed = find(app, id).await?;
    Ok(Ok(Added { feed, drafts }))
}

fn url_refusal(problem: &str) -> FeedRefusal {
    FeedRefusal {
        url: Some(problem.to_string()),
        interval: None,
    }
}

fn already_there() -> FeedRefusal {
    url_refusal("The hub reads this feed already.")
}

/// Pauses (`true`) or resumes a feed.
pub async fn set_paused(app: &App, id: i64, paused: bool, by: UserId) -> Result<()> {
    let now = app.clock.now_naive();
    let found = app
        .db
        .run(move |conn| store_feeds::set_paused(conn, id, paused, by.get(), now))
        .await?;
    found.then_some(()).ok_or(super::Error::NotFound)
}

/// Removes a feed; the drafts it made stay.
pub async fn remove(app: &App, id: i64, by: UserId) -> Result<()> {
    let now = app.clock.now_naive();
    let removed = app
        .db
        .run(move |conn| store_feeds::remove(conn, id, by.get(), now))
        .await?;
    removed.then_some(()).ok_or(super::Error::NotFound)
}

/// A fetch's failure in the words the hub shows.
pub fn problem(error: &FetchError) -> String {
    match error {
        FetchError::BadUrl => "Not an http:// or https:// address.".into(),
        FetchError::Refused { host, address } if host == address => {
            format!("Refused: private address ({address}).")
        }
        FetchError::Refused { host, address } => {
            format!("Refused: private address ({host} is at {address}).")
        }
        FetchError::Timeout { seconds, .. } => format!("No answer within {seconds} seconds."),
        FetchError::TooLarge { .. } => format!("Larger than {}.", size_words(MAX_BYTES)),
        FetchError::Status { status, .. } => format!("The feed answered {status}."),
        FetchError::WrongType { found, .. } => format!("The address gives {found}, not a feed."),
        FetchError::TooManyRedirects => "Redirects too many times.".into(),
        FetchError::Unreachable { host, reason } => {
            format!("{host} could not be reached ({reason}).")
        }
    }
}

/// Fetches and parses a feed: `None` when the server says it has not
/// changed since `validators`.
async fn read(
    app: &App,
    url: &str,
    validators: &Validators,
) -> std::result::Result<Option<(FeedDocument, Validators)>, String> {
    let fetched = match app.fetcher.get_if_changed(url, FEED, validators).await {
        Ok(Conditional::Changed(fetched)) => *fetched,
        Ok(Conditional::NotModified) => return Ok(None),
        Err(error) => return Err(problem(&error)),
    };
    let validators = fetched.validators.clone();
    let document = tokio::task::spawn_blocking(move || feed::read(&fetched.body, &fetched.url))
        .await
        .map_err(|_| "The feed could not be read.".to_string())?
        .map_err(|not_a_feed| not_a_feed.to_string())?;
    Ok(Some((document, validators)))
}

/// What one round of polling did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// Feeds this process claimed and polled.
    pub polled: usize,
    /// Of those, the ones that answered 304.
    pub not_modified: usize,
    /// Of those, the ones that failed (their error recorded).
    pub failed: usize,
    pub drafts: usize,
}

/// Polls every due feed this process can claim; another process's claim
/// is left alone. A feed's failure is recorded on it and never stops the
/// others; only a database that cannot be reached ends the round early.
pub async fn poll_due(app: &App) -> Result<PollReport> {
    let now = app.clock.now_naive();
    let due = app.db.run(move |conn| store_feeds::due(conn, now)).await?;
    let outcomes: Vec<Result<Option<Polled>>> = futures_util::stream::iter(due)
        .map(|feed| poll_claimed(app, feed))
        .buffer_unordered(POLLS_AT_ONCE)
        .collect()
        .await;
    let mut report = PollReport::default();
    for outcome in outcomes {
        match outcome? {
            None => {}
            Some(polled) => {
                report.polled += 1;
                match polled {
                    Polled::NotModified => report.not_modified += 1,
                    Polled::Failed => report.failed += 1,
                    Polled::Read(drafts) => report.drafts += drafts,
                }
            }
        }
    }
    Ok(report)
}

enum Polled {
    Read(usize),
    NotModified,
    Failed,
}

/// Claims the feed, then polls it; `None` when another process had it.
async fn poll_claimed(app: &App, feed: Feed) -> Result<Option<Polled>> {
    let now = app.clock.now_naive();
    let candidate = feed.clone();
    let claimed = app
        .db
        .run(move |conn| store_feeds::claim(conn, &candidate, now))
        .await?;
    if !claimed {
        return Ok(None);
    }
    let (record, polled) = match read(app, &feed.url, &feed.validators()).await {
        Ok(Some((document, validators))) => {
            let drafts = draft_new_items(app, feed.id, document, READING_DRAFTS).await?;
            (PollRecord::Read { validators }, Polled::Read(drafts))
        }
        Ok(None) => (PollRecord::NotModified, Polled::NotModified),
        Err(error) => {
            tracing::warn!(feed = feed.id, error = %error, "a feed could not be read");
            (PollRecord::Failed { error }, Polled::Failed)
        }
    };
    let (id, at) = (feed.id, app.clock.now_naive());
    app.db
        .run(move |conn| store_feeds::record_poll(conn, id, &record, at))
        .await?;
    Ok(Some(polled))
}

/// Drafts the newest items the feed has not shown before (at most
/// `limit`), and marks the older ones as seen; the number drafted.
async fn draft_new_items(
    app: &App,
    feed_id: i64,
    document: FeedDocument,
    limit: usize,
) -> Result<usize> {
    let keys: Vec<String> = document.items.iter().map(|i| i.key.clone()).collect();
    let unseen = app
        .db
        .run(move |conn| store_feeds::unseen(conn, feed_id, &keys))
        .await?;
    let new: Vec<FeedItem> = document
        .items
        .into_iter()
        .filter(|item| unseen.contains(&item.key))
        .collect();
    let (to_draft, too_old) = new.split_at(new.len().min(limit));
    if !too_old.is_empty() {
        let keys: Vec<String> = too_old.iter().map(|i| i.key.clone()).collect();
        let now = app.clock.now_naive();
        app.db
            .run(move |conn| store_feeds::mark_seen(conn, feed_id, &keys, now))
            .await?;
    }
    let mut drafted = 0;
    // Oldest first, so that the newest item is the newest draft.
    for item in to_draft.iter().rev() {
        if draft(app, feed_id, item).await? {
            drafted += 1;
        }
    }
    Ok(drafted)
}

/// One item as a draft, with its image when it names one; false when
/// another poll drafted it first.
async fn draft(app: &App, feed_id: i64, item: &FeedItem) -> Result<bool> {
    let draft = ItemDraft {
        key: item.key.clone(),
        post: PostInput {
            title: item.title.clone(),
            link: item.link.clone(),
            base_text: item.base_text(),
            captions: Vec::new(),
            target_all: true,
            department_ids: Vec::new(),
            expires_at: None,
        },
        preview: PreviewText {
            title: item.title.chars().take(200).collect(),
            description: item.summary.clone(),
        },
    };
    let now = app.clock.now_naive();
    let Some(post) = app
        .db
        .run(move |conn| store_feeds::draft_item(conn, feed_id, &draft, now))
        .await?
    else {
        return Ok(false);
    };
    if let Some(image) = &item.image {
        let (image, problem) = match super::previews::read_image(app, image.as_str()).await {
            Ok(image) => (ImageChange::Set(image), None),
            Err(problem) => (
                ImageChange::Keep,
                Some(format!("The item's image could not be used: {problem}.")),
            ),
        };
        let write = PreviewWrite {
            post_id: post,
            link: item.link.clone(),
            text: None,
            image,
            fetch: Some(problem),
        };
        let now = app.clock.now_naive();
        app.db
            .run(move |conn| previews::write(conn, &write, now))
            .await?;
    }
    Ok(true)
}

/// The feeds that made these posts, by post id.
pub async fn sources(
    app: &App,
    posts: Vec<i64>,
) -> Result<std::collections::HashMap<i64, crate::store::feeds::FeedSource>> {
    Ok(app
        .db
        .run(move |conn| store_feeds::sources(conn, &posts))
        .await?)
}
