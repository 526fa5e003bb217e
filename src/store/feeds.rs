//! Feeds into the hub: the feeds comms added, claiming a due one (one
//! process polls it at a time), what a poll found, and the items seen,
//! each drafted at most once (a unique key per feed and item).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreError, StoreResult, is_unique_violation};
use crate::db::schema::{feed_items, feeds};
use crate::domain::link_preview::PreviewText;
use crate::domain::post::PostInput;
use crate::outbound::Validators;

/// A feed as the hub lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = feeds)]
pub struct Feed {
    pub id: i64,
    pub url: String,
    pub title: String,
    pub interval_minutes: i32,
    pub paused: bool,
    pub created_at: NaiveDateTime,
    pub next_poll_at: NaiveDateTime,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_tried_at: Option<NaiveDateTime>,
    pub last_success_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub drafts_made: i64,
}

impl Feed {
    pub fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }
}

/// The feeds not removed, by title.
pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<Feed>> {
    Ok(feeds::table
        .filter(feeds::removed_at.is_null())
        .order((feeds::title, feeds::id))
        .select(Feed::as_select())
        .load(conn)?)
}

/// A feed not removed.
pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Feed>> {
    Ok(feeds::table
        .find(id)
        .filter(feeds::removed_at.is_null())
        .select(Feed::as_select())
        .first(conn)
        .optional()?)
}

/// A feed to add, read once already.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub url: String,
    pub title: String,
    pub interval_minutes: i32,
    pub validators: Validators,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added(i64),
    /// The hub reads this address already.
    AlreadyThere,
}

/// Adds a feed, first read at `now` (next poll one interval later). A
/// feed removed earlier comes back with the items it had shown, so they
/// are not drafted again.
pub fn add(
    conn: &mut DbConnection,
    feed: &NewFeed,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<AddOutcome> {
    let next = now + chrono::Duration::minutes(feed.interval_minutes.into());
    let outcome = crate::db::write_transaction(conn, |conn| {
        let existing: Option<(i64, Option<NaiveDateTime>)> = feeds::table
            .filter(feeds::url.eq(&feed.url))
            .select((feeds::id, feeds::removed_at))
            .first(conn)
            .optional()?;
        let values = (
            feeds::title.eq(&feed.title),
            feeds::interval_minutes.eq(feed.interval_minutes),
            feeds::paused.eq(false),
            feeds::added_by.eq(Some(by)),
            feeds::removed_at.eq(None::<NaiveDateTime>),
            feeds::next_poll_at.eq(next),
            feeds::etag.eq(&feed.validators.etag),
            feeds::last_modified.eq(&feed.validators.last_modified),
            feeds::last_tried_at.eq(Some(now)),
            feeds::last_success_at.eq(Some(now)),
            feeds::last_error.eq(None::<String>),
        );
        let id = match existing {
            Some((_, None)) => return Ok(AddOutcome::AlreadyThere),
            Some((id, Some(_))) => {
                diesel::update(feeds::table.find(id))
                    .set(values)
                    .execute(conn)?;
                id
            }
            None => {
                diesel::insert_into(feeds::table)
                    .values((values, feeds::url.eq(&feed.url), feeds::created_at.eq(now)))
                    .execute(conn)?;
                // MultiConnection has no RETURNING; the address is unique.
                feeds::table
                    .filter(feeds::url.eq(&feed.url))
                    .select(feeds::id)
                    .first(conn)?
            }
        };
        audit::record(
            conn,
            Actor::Person(by),
            "feed.added",
            &format!("feed:{id}"),
            &format!("{} ({})", feed.title, feed.url),
            now,
        )?;
        Ok::<_, StoreError>(AddOutcome::Added(id))
    });
    match outcome {
        // Added at the same moment by someone else.
        Err(StoreError::Query(e)) if is_unique_violation(&e) => Ok(AddOutcome::AlreadyThere),
        other => other,
    }
}

/// Pauses or resumes a feed; false when there is no such feed. A resumed
/// feed is polled at the next round (no sooner than its interval after
/// its last poll).
pub fn set_paused(
    conn: &mut DbConnection,
    id: i64,
    paused: bool,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let changed = diesel::update(
            feeds::table
                .find(id)
                .filter(feeds::removed_at.is_null())
                .filter(feeds::paused.ne(paused)),
        )
        .set(feeds::paused.eq(paused))
        .execute(conn)?;
        if changed == 1 {
            audit::record(
                conn,
                Actor::Person(by),
                if paused {
                    "feed.paused"
                } else {
                    "feed.resumed"
                },
                &format!("feed:{id}"),
                "",
                now,
            )?;
        }
        let exists = feeds::table
            .find(id)
            .filter(feeds::removed_at.is_null())
            .count()
            .get_result::<i64>(conn)?
            > 0;
        Ok(exists)
    })
}

/// Removes a feed: never polled again; its drafts stay, still marked.
pub fn remove(conn: &mut DbConnection, id: i64, by: i64, now: NaiveDateTime) -> StoreResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let title: Option<String> = feeds::table
            .find(id)
            .filter(feeds::removed_at.is_null())
            .select(feeds::title)
            .first(conn)
            .optional()?;
        let Some(title) = title else {
            return Ok(false);
        };
        diesel::update(feeds::table.find(id))
            .set(feeds::removed_at.eq(Some(now)))
            .execute(conn)?;
        audit::record(
            conn,
            Actor::Person(by),
            "feed.removed",
            &format!("feed:{id}"),
            &title,
            now,
        )?;
        Ok(true)
    })
}

/// Feeds due for a poll (live, not paused, their time come), oldest first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime) -> StoreResult<Vec<Feed>> {
    Ok(feeds::table
        .filter(feeds::removed_at.is_null())
        .filter(feeds::paused.eq(false))
        .filter(feeds::next_poll_at.le(now))
        .order(feeds::next_poll_at)
        .select(Feed::as_select())
        .load(conn)?)
}

/// Claims a due feed for one poll by moving its next poll one interval
/// on, only if it is still due: of several processes, exactly one sees
/// its update change the row (PostgreSQL re-checks the condition after a
/// concurrent update; SQLite writes one at a time). The claim is the
/// lease: nobody polls the feed again before the interval, however long
/// this poll takes or if this process dies.
pub fn claim(conn: &mut DbConnection, feed: &Feed, now: NaiveDateTime) -> StoreResult<bool> {
    let next = now + chrono::Duration::minutes(feed.interval_minutes.into());
    let claimed = diesel::update(
        feeds::table
            .find(feed.id)
            .filter(feeds::removed_at.is_null())
            .filter(feeds::paused.eq(false))
            .filter(feeds::next_poll_at.le(now)),
    )
    .set((
        feeds::next_poll_at.eq(next),
        feeds::last_tried_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// What a poll came to.
#[derive(Debug, Clone)]
pub enum PollRecord {
    /// Read (or not modified): the validators to send next time.
    Read {
        validators: Validators,
    },
    /// 304: nothing changed, the validators stay.
    NotModified,
    Failed {
        error: String,
    },
}

/// Records a poll's outcome on the feed.
pub fn record_poll(
    conn: &mut DbConnection,
    id: i64,
    record: &PollRecord,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let target = feeds::table.find(id);
    match record {
        PollRecord::Read { validators } => diesel::update(target)
            .set((
                feeds::etag.eq(&validators.etag),
                feeds::last_modified.eq(&validators.last_modified),
                feeds::last_success_at.eq(Some(now)),
                feeds::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        PollRecord::NotModified => diesel::update(target)
            .set((
                feeds::last_success_at.eq(Some(now)),
                feeds::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        PollRecord::Failed { error } => diesel::update(target)
            .set(feeds::last_error.eq(Some(error)))
            .execute(conn)?,
    };
    Ok(())
}

/// Of `keys`, those the feed has not shown before.
pub fn unseen(conn: &mut DbConnection, feed: i64, keys: &[String]) -> StoreResult<HashSet<String>> {
    let mut unseen: HashSet<String> = keys.iter().cloned().collect();
    for chunk in keys.chunks(500) {
        let seen: Vec<String> = feed_items::table
            .filter(feed_items::feed_id.eq(feed))
            .filter(feed_items::item_key.eq_any(chunk))
            .select(feed_items::item_key)
            .load(conn)?;
        for key in seen {
            unseen.remove(&key);
        }
    }
    Ok(unseen)
}

/// Marks items as seen without drafting them.
pub fn mark_seen(
    conn: &mut DbConnection,
    feed: i64,
    keys: &[String],
    now: NaiveDateTime,
) -> StoreResult<()> {
    for key in keys {
        super::insert_once(conn, |conn| {
            diesel::insert_into(feed_items::table)
                .values((
                    feed_items::feed_id.eq(feed),
                    feed_items::item_key.eq(key),
                    feed_items::seen_at.eq(now),
                ))
                .execute(conn)
        })?;
    }
    Ok(())
}

/// An item to draft.
#[derive(Debug, Clone)]
pub struct ItemDraft {
    pub key: String,
    pub post: PostInput,
    pub preview: PreviewText,
}

/// Drafts an item in one transaction with the record that the feed showed
/// it: the post (a draft, written by nobody), its preview text, and the
/// feed's count. `None` when the item was seen already (by this poll's
/// check, or by a concurrent one: the unique key refuses the second).
pub fn draft_item(
    conn: &mut DbConnection,
    feed: i64,
    item: &ItemDraft,
    now: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    let outcome = crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(feed_items::table)
            .values((
                feed_items::feed_id.eq(feed),
                feed_items::item_key.eq(&item.key),
                feed_items::seen_at.eq(now),
            ))
            .execute(conn)?;
        let post = super::posts::create_draft_by(conn, &item.post, None, now)?;
        diesel::update(
            feed_items::table
                .filter(feed_items::feed_id.eq(feed))
                .filter(feed_items::item_key.eq(&item.key)),
        )
        .set(feed_items::post_id.eq(Some(post)))
        .execute(conn)?;
        diesel::update(feeds::table.find(feed))
            .set(feeds::drafts_made.eq(feeds::drafts_made + 1))
            .execute(conn)?;
        super::previews::write(
            conn,
            &super::previews::PreviewWrite {
                post_id: post,
                link: item.post.link.clone(),
                text: Some(item.preview.clone()),
                image: super::previews::ImageChange::Keep,
                fetch: None,
            },
            now,
        )?;
        Ok::<_, StoreError>(Some(post))
    });
    match outcome {
        Err(StoreError::Query(e)) if is_unique_violation(&e) => Ok(None),
        other => other,
    }
}

/// Where a post came from, when a feed made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    pub feed_id: i64,
    pub title: String,
}

/// The feeds that made these posts, by post id.
pub fn sources(conn: &mut DbConnection, posts: &[i64]) -> StoreResult<HashMap<i64, FeedSource>> {
    let mut found = HashMap::new();
    for chunk in posts.chunks(500) {
        let rows: Vec<(Option<i64>, i64, String)> = feed_items::table
            .inner_join(feeds::table)
            .filter(feed_items::post_id.eq_any(chunk))
            .select((feed_items::post_id, feeds::id, feeds::title))
            .load(conn)?;
        for (post, feed_id, title) in rows {
            if let Some(post) = post {
                found.insert(post, FeedSource { feed_id, title });
            }
        }
    }
    Ok(found)
}
