//! Chat channels connected by an admin, and the announcement of a post to
//! them when it is published (queued in the outbox in the publishing
//! transaction). The webhook address is stored only sealed (see
//! `credentials::SecretBox`); this module never sees it in the clear.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreResult, outbox};
use crate::db::schema::{chat_channel_departments, chat_channels, departments, posts};

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: i64,
    /// `domain::chat::ChannelKind` as text.
    pub kind: String,
    pub name: String,
    pub url_sealed: String,
    /// Host and last four characters: what the page shows.
    pub url_hint: String,
    pub target_all: bool,
    pub department_ids: Vec<i64>,
    pub created_at: NaiveDateTime,
}

type ChannelRow = (i64, String, String, String, String, bool, NaiveDateTime);

macro_rules! channel_columns {
    () => {
        (
            chat_channels::id,
            chat_channels::kind,
            chat_channels::name,
            chat_channels::url_sealed,
            chat_channels::url_hint,
            chat_channels::target_all,
            chat_channels::created_at,
        )
    };
}

fn assemble(conn: &mut DbConnection, rows: Vec<ChannelRow>) -> StoreResult<Vec<Channel>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let audiences: Vec<(i64, i64)> = chat_channel_departments::table
        .filter(chat_channel_departments::channel_id.eq_any(&ids))
        .select((
            chat_channel_departments::channel_id,
            chat_channel_departments::department_id,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Channel {
            id: r.0,
            kind: r.1,
            name: r.2,
            url_sealed: r.3,
            url_hint: r.4,
            target_all: r.5,
            department_ids: audiences
                .iter()
                .filter(|(c, _)| *c == r.0)
                .map(|(_, d)| *d)
                .collect(),
            created_at: r.6,
        })
        .collect())
}

/// Every connected channel, oldest first.
pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<Channel>> {
    let rows = chat_channels::table
        .order(chat_channels::id.asc())
        .select(channel_columns!())
        .load(conn)?;
    assemble(conn, rows)
}

pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Channel>> {
    let rows = chat_channels::table
        .find(id)
        .select(channel_columns!())
        .load(conn)?;
    Ok(assemble(conn, rows)?.pop())
}

pub struct NewChannel<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub url_sealed: &'a str,
    pub url_hint: &'a str,
    pub target_all: bool,
    pub department_ids: &'a [i64],
}

/// Connects a channel, audited; None when a department named is unknown.
pub fn connect(
    conn: &mut DbConnection,
    new: &NewChannel<'_>,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    crate::db::write_transaction(conn, |conn| {
        let known: i64 = departments::table
            .filter(departments::id.eq_any(new.department_ids))
            .count()
            .get_result(conn)?;
        let mut wanted = new.department_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        if known != wanted.len() as i64 {
            return Ok(None);
        }
        let query = diesel::insert_into(chat_channels::table).values((
            chat_channels::kind.eq(new.kind),
            chat_channels::name.eq(new.name),
            chat_channels::url_sealed.eq(new.url_sealed),
            chat_channels::url_hint.eq(new.url_hint),
            chat_channels::target_all.eq(new.target_all),
            chat_channels::created_by.eq(Some(by)),
            chat_channels::created_at.eq(now),
        ));
        // RETURNING compiles only for one backend at a time.
        let id: i64 = match conn {
            DbConnection::Postgresql(c) => query.returning(chat_channels::id).get_result(c)?,
            DbConnection::Sqlite(c) => query.returning(chat_channels::id).get_result(c)?,
        };
        for department_id in &wanted {
            diesel::insert_into(chat_channel_departments::table)
                .values((
                    chat_channel_departments::channel_id.eq(id),
                    chat_channel_departments::department_id.eq(*department_id),
                ))
                .execute(conn)?;
        }
        let detail = format!("{} “{}” ({})", new.kind, new.name, new.url_hint);
        audit::record(
            conn,
            Actor::Person(by),
            "chat.connected",
            &format!("chat:{id}"),
            &detail,
            now,
        )?;
        Ok(Some(id))
    })
}

/// Disconnects a channel: its sealed address is deleted and its
/// announcements not sent yet are cancelled, in one transaction, audited.
/// False when there was no such channel.
pub fn disconnect(
    conn: &mut DbConnection,
    id: i64,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let Some(channel) = find(conn, id)? else {
            return Ok(false);
        };
        diesel::delete(
            chat_channel_departments::table.filter(chat_channel_departments::channel_id.eq(id)),
        )
        .execute(conn)?;
        diesel::delete(chat_channels::table.find(id)).execute(conn)?;
        outbox::cancel_announcements(conn, id)?;
        let detail = format!("{} “{}” ({})", channel.kind, channel.name, channel.url_hint);
        audit::record(
            conn,
            Actor::Person(by),
            "chat.disconnected",
            &format!("chat:{id}"),
            &detail,
            now,
        )?;
        Ok(true)
    })
}

/// Audits a test message and what came of it.
pub fn record_test(
    conn: &mut DbConnection,
    id: i64,
    outcome: &str,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<()> {
    audit::record(
        conn,
        Actor::Person(by),
        "chat.tested",
        &format!("chat:{id}"),
        outcome,
        now,
    )
}

/// Queues one announcement of a post just published to each channel whose
/// audience it is for: every channel when the post is for everyone, else
/// the channels for every post and those for one of its departments. Run
/// inside the publishing transaction, so a post is published with its
/// announcements or not at all.
pub fn announce_published(
    conn: &mut DbConnection,
    post_id: i64,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    let channels = list(conn)?;
    if channels.is_empty() {
        return Ok(0);
    }
    let Some((title, link, target_all)) = posts::table
        .find(post_id)
        .select((posts::title, posts::link, posts::target_all))
        .first::<(String, String, bool)>(conn)
        .optional()?
    else {
        return Ok(0);
    };
    let post_departments: Vec<i64> = if target_all {
        Vec::new()
    } else {
        use crate::db::schema::post_departments;
        post_departments::table
            .filter(post_departments::post_id.eq(post_id))
            .select(post_departments::department_id)
            .load(conn)?
    };
    let payload =
        serde_json::json!({ "post_id": post_id, "title": title, "link": link }).to_string();
    let mut queued = 0;
    for channel in channels {
        let hears = target_all
            || channel.target_all
            || channel
                .department_ids
                .iter()
                .any(|d| post_departments.contains(d));
        if hears && outbox::enqueue_announcement(conn, channel.id, post_id, &payload, now)? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What a queued announcement says (its outbox payload).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AnnouncementPayload {
    pub post_id: i64,
    pub title: String,
    pub link: String,
}
