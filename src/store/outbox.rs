//! The outbox: every outgoing email is a row here first. Workers claim due
//! rows with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: an
//! IMMEDIATE transaction), so two workers never send the same row, and a
//! row whose worker died is claimed again when its lease expires.
//!
//! Chat announcements (webhook POSTs) are rows here too, of kind
//! [`ANNOUNCEMENT`], with the same claims, leases and retries; each
//! [`Lane`] claims only its own rows, so a slow chat tool never holds up
//! email and the email pipeline never sees a webhook.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::{DbConnection, StoreResult, is_unique_violation};
use crate::db::schema::{outbox, suppressed_addresses, unsubscribe_tokens};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invitation,
    PasswordReset,
    /// A set-password link an admin asked for; it also tells the person so.
    AdminPasswordLink,
    Digest,
    WithdrawalNotice,
    /// A post waits for approval by someone who did not write it.
    ApprovalRequest,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Invitation => "invitation",
            Kind::PasswordReset => "password_reset",
            Kind::AdminPasswordLink => "admin_password_link",
            Kind::Digest => "digest",
            Kind::WithdrawalNotice => "withdrawal_notice",
            Kind::ApprovalRequest => "approval_request",
        }
    }

    /// Every kind, in the order Admin → Email lists them.
    pub const ALL: [Kind; 6] = [
        Kind::Invitation,
        Kind::PasswordReset,
        Kind::AdminPasswordLink,
        Kind::Digest,
        Kind::WithdrawalNotice,
        Kind::ApprovalRequest,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Invitation => "Invitations",
            Kind::PasswordReset => "Password resets",
            Kind::AdminPasswordLink => "Password links from an admin",
            Kind::Digest => "Digests",
            Kind::WithdrawalNotice => "Withdrawal notices",
            Kind::ApprovalRequest => "Approval requests",
        }
    }
}

/// The kind of a chat announcement's row (not an email: see [`Lane`]).
pub const ANNOUNCEMENT: &str = "announcement";

/// Which rows a worker claims: email (every [`Kind`]) or chat
/// announcements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Email,
    Chat,
}

impl Lane {
    fn is_chat(self) -> bool {
        self == Lane::Chat
    }
}

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";
/// Every status a row can have.
pub const STATUSES: [&str; 5] = [PENDING, SENDING, SENT, FAILED, CANCELLED];

pub struct NewMessage {
    pub kind: Kind,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub dedupe_key: String,
    /// JSON: what to render at send time.
    pub payload: String,
    pub send_before: Option<NaiveDateTime>,
    pub message_id: String,
}

/// Adds a message; false when one with the same dedupe key exists already.
pub fn enqueue(
    conn: &mut DbConnection,
    message: &NewMessage,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    Ok(!enqueue_many(conn, std::slice::from_ref(message), now)?.is_empty())
}

/// Adds many messages in one statement; the dedupe keys of those added.
/// A message whose dedupe key exists already is left out, as [`enqueue`]
/// leaves it, and waits for a concurrent insert of the same key to end.
pub fn enqueue_many(
    conn: &mut DbConnection,
    messages: &[NewMessage],
    now: NaiveDateTime,
) -> StoreResult<Vec<String>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<_> = messages
        .iter()
        .map(|message| {
            (
                outbox::kind.eq(message.kind.as_str()),
                outbox::user_id.eq(message.user_id),
                outbox::recipient.eq(&message.recipient),
                outbox::dedupe_key.eq(&message.dedupe_key),
                outbox::payload.eq(&message.payload),
                outbox::subject.eq(""),
                outbox::body_text.eq(""),
                outbox::body_html.eq(""),
                outbox::headers.eq("{}"),
                outbox::message_id.eq(&message.message_id),
                outbox::status.eq(PENDING),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::send_before.eq(message.send_before),
                outbox::created_at.eq(now),
            )
        })
        .collect();
    // A many-row insert compiles only for one backend at a time.
    Ok(super::natively!(conn, |c| diesel::insert_into(
        outbox::table
    )
    .values(&rows)
    .on_conflict(outbox::dedupe_key)
    .do_nothing()
    .returning(outbox::dedupe_key)
    .get_results(c))?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub payload: String,
    pub message_id: String,
    pub attempts: i32,
    pub send_before: Option<NaiveDateTime>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

macro_rules! due_ids {
    ($now:expr, $limit:expr, $lane:expr) => {
        outbox::table
            .filter(outbox::kind.eq(ANNOUNCEMENT).eq($lane.is_chat()))
            .filter(
                outbox::status
                    .eq(PENDING)
                    .and(outbox::next_attempt_at.le($now))
                    .or(outbox::status
                        .eq(SENDING)
                        .and(outbox::lease_expires_at.le($now))),
            )
            .order(outbox::id.asc())
            .limit($limit)
            .select(outbox::id)
    };
}

macro_rules! take_leases {
    ($conn:expr, $ids:expr, $worker:expr, $now:expr, $until:expr) => {{
        let mut claimed = Vec::new();
        for id in $ids {
            // Conditional: a row someone else claimed meanwhile is skipped.
            let updated = diesel::update(
                outbox::table.find(id).filter(
                    outbox::status
                        .eq(PENDING)
                        .and(outbox::next_attempt_at.le($now))
                        .or(outbox::status
                            .eq(SENDING)
                            .and(outbox::lease_expires_at.le($now))),
                ),
            )
            .set((
                outbox::status.eq(SENDING),
                outbox::lease_owner.eq(Some($worker)),
                outbox::lease_expires_at.eq(Some($until)),
                outbox::attempts.eq(outbox::attempts + 1),
            ))
            .execute($conn)?;
            if updated == 1 {
                claimed.push(id);
            }
        }
        Ok::<Vec<i64>, diesel::result::Error>(claimed)
    }};
}

/// Claims up to `limit` due emails for `worker` until `now + lease`.
pub fn claim_due(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> StoreResult<Vec<OutboxRow>> {
    claim_due_in(conn, Lane::Email, worker, now, lease, limit)
}

/// Claims up to `limit` due rows of `lane` for `worker` until `now + lease`.
pub fn claim_due_in(
    conn: &mut DbConnection,
    lane: Lane,
    worker: &str,
    now: NaiveDateTime,
    lease: Duration,
    limit: i64,
) -> StoreResult<Vec<OutboxRow>> {
    let until = now + lease;
    let claimed = match conn {
        DbConnection::Postgresql(pg) => pg.transaction(|c| {
            let ids: Vec<i64> = due_ids!(now, limit, lane)
                .for_update()
                .skip_locked()
                .load(c)?;
            take_leases!(c, ids, worker, now, until)
        })?,
        DbConnection::Sqlite(sqlite) => sqlite.immediate_transaction(|c| {
            let ids: Vec<i64> = due_ids!(now, limit, lane).load(c)?;
            take_leases!(c, ids, worker, now, until)
        })?,
    };
    Ok(outbox::table
        .filter(outbox::id.eq_any(&claimed))
        .order(outbox::id.asc())
        .select(OutboxRow::as_select())
        .load(conn)?)
}

/// Hands rows back unsent (a worker stopping at shutdown): due again at
/// once rather than when the lease expires, and the claim's attempt does not
/// count. Only rows `worker` still holds are touched.
pub fn release(
    conn: &mut DbConnection,
    ids: &[i64],
    worker: &str,
    now: NaiveDateTime,
) -> StoreResult<usize> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(SENDING))
            .filter(outbox::lease_owner.eq(worker)),
    )
    .set((
        outbox::status.eq(PENDING),
        outbox::next_attempt_at.eq(now),
        outbox::lease_owner.eq(None::<String>),
        outbox::lease_expires_at.eq(None::<NaiveDateTime>),
        outbox::attempts.eq(outbox::attempts - 1),
    ))
    .execute(conn)?)
}

/// What was rendered for one claimed row.
pub struct Rendered<'a> {
    pub id: i64,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// The headers kept with the row, as JSON.
    pub headers: String,
}

/// Keeps what was rendered, so each row shows what was (or will be) sent.
/// On PostgreSQL one statement for them all (the rows come from arrays):
/// a statement per email was a round trip per email, and delivery there
/// waited on them. SQLite has no round trips to save: a statement each.
pub fn store_rendered(conn: &mut DbConnection, rows: &[Rendered<'_>]) -> StoreResult<()> {
    use diesel::sql_types::{Array, BigInt, Text};
    if rows.is_empty() {
        return Ok(());
    }
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query(
            "UPDATE outbox SET subject = v.subject, body_text = v.body_text, \
             body_html = v.body_html, headers = v.headers \
             FROM unnest($1, $2, $3, $4, $5) AS v(id, subject, body_text, body_html, headers) \
             WHERE outbox.id = v.id",
        )
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.subject).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.text).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.html).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.headers.as_str()).collect::<Vec<_>>())
        .execute(pg)?;
        return Ok(());
    }
    for row in rows {
        diesel::update(outbox::table.find(row.id))
            .set((
                outbox::subject.eq(row.subject),
                outbox::body_text.eq(row.text),
                outbox::body_html.eq(row.html),
                outbox::headers.eq(&row.headers),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks rows sent, each with the moment the relay took it: on PostgreSQL
/// in one statement (see [`store_rendered`]), on SQLite one each.
pub fn mark_sent(conn: &mut DbConnection, sent: &[(i64, NaiveDateTime)]) -> StoreResult<()> {
    use diesel::sql_types::{Array, BigInt, Timestamp};
    if sent.is_empty() {
        return Ok(());
    }
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query(
            "UPDATE outbox SET status = $1, sent_at = v.at, lease_owner = NULL, \
             lease_expires_at = NULL, last_error = NULL \
             FROM unnest($2, $3) AS v(id, at) WHERE outbox.id = v.id",
        )
        .bind::<diesel::sql_types::Text, _>(SENT)
        .bind::<Array<BigInt>, _>(sent.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind::<Array<Timestamp>, _>(sent.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .execute(pg)?;
        return Ok(());
    }
    for (id, at) in sent {
        diesel::update(outbox::table.find(*id))
            .set((
                outbox::status.eq(SENT),
                outbox::sent_at.eq(Some(*at)),
                outbox::lease_owner.eq(None::<String>),
                outbox::lease_expires_at.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn mark_retry(
    conn: &mut DbConnection,
    id: i64,
    error: &str,
    next_attempt_at: NaiveDateTime,
) -> StoreResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(PENDING),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::lease_owner.eq(None::<String>),
            outbox::lease_expires_at.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Lets the current transaction's commit return before PostgreSQL has
/// flushed it to disk (`synchronous_commit` off, for this transaction
/// only). For the relay's answers only: the commit is still atomic and
/// seen by every other connection at once, so a crash of Chorus loses
/// nothing; a crash of PostgreSQL itself may forget the last fraction of
/// a second of answers (three times `wal_writer_delay`), and those emails
/// are sent again, never lost. SQLite in WAL mode with `synchronous =
/// NORMAL` commits this way already.
pub fn commit_without_waiting_for_disk(conn: &mut DbConnection) -> StoreResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        diesel::sql_query("SET LOCAL synchronous_commit TO OFF").execute(pg)?;
    }
    Ok(())
}

pub fn mark_failed(conn: &mut DbConnection, id: i64, error: &str) -> StoreResult<()> {
    finish(conn, id, FAILED, error)
}

pub fn cancel(conn: &mut DbConnection, id: i64, reason: &str) -> StoreResult<()> {
    finish(conn, id, CANCELLED, reason)
}

fn finish(conn: &mut DbConnection, id: i64, status: &str, note: &str) -> StoreResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status),
            outbox::lease_owner.eq(None::<String>),
            outbox::lease_expires_at.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(note)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Cancels a person's digests that are not sent yet (after unsubscribing).
pub fn cancel_pending_digests(conn: &mut DbConnection, user_id: i64) -> StoreResult<usize> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::user_id.eq(user_id))
            .filter(outbox::kind.eq(Kind::Digest.as_str()))
            .filter(outbox::status.eq(PENDING)),
    )
    .set((
        outbox::status.eq(CANCELLED),
        outbox::last_error.eq(Some("unsubscribed")),
    ))
    .execute(conn)?)
}

/// Counts by kind and status, for Admin → Email.
pub fn counts(conn: &mut DbConnection) -> StoreResult<Vec<(String, String, i64)>> {
    Ok(outbox::table
        .group_by((outbox::kind, outbox::status))
        .select((outbox::kind, outbox::status, diesel::dsl::count_star()))
        .order((outbox::kind, outbox::status))
        .load(conn)?)
}

/// Rows by status, for the metrics scrape (one grouped query).
pub fn depth_by_status(conn: &mut DbConnection) -> StoreResult<Vec<(String, i64)>> {
    Ok(outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// A failed row as Admin → Email needs it: id, recipient (only to hide it
/// in the error), last error, attempts. Neither kind nor time: next to an
/// address they would tell who was sent which kind of email, and when.
pub type FailedRow = (i64, String, Option<String>, i32);

/// Failed emails, newest first, at most `limit`.
pub fn failed(conn: &mut DbConnection, limit: i64) -> StoreResult<Vec<FailedRow>> {
    Ok(outbox::table
        .filter(outbox::status.eq(FAILED))
        .filter(outbox::kind.ne(ANNOUNCEMENT))
        .order(outbox::id.desc())
        .limit(limit)
        .select((
            outbox::id,
            outbox::recipient,
            outbox::last_error,
            outbox::attempts,
        ))
        .load(conn)?)
}

/// Puts failed rows back in the queue; how many of them were still failed.
pub fn retry(conn: &mut DbConnection, ids: &[i64], now: NaiveDateTime) -> StoreResult<usize> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::status.eq(FAILED)),
    )
    .set((
        outbox::status.eq(PENDING),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now),
    ))
    .execute(conn)?)
}

// ---- chat announcements ----------------------------------------------------------

/// The recipient of a channel's announcements.
pub fn chat_recipient(channel_id: i64) -> String {
    format!("chat:{channel_id}")
}

/// The channel an announcement's row goes to.
pub fn chat_channel_of(recipient: &str) -> Option<i64> {
    recipient.strip_prefix("chat:")?.parse().ok()
}

/// Queues one announcement of `post_id` to a channel; false when that
/// channel has one of that post already (a post is announced once).
pub fn enqueue_announcement(
    conn: &mut DbConnection,
    channel_id: i64,
    post_id: i64,
    payload: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let inserted = crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(outbox::table)
            .values((
                outbox::kind.eq(ANNOUNCEMENT),
                outbox::user_id.eq(None::<i64>),
                outbox::recipient.eq(chat_recipient(channel_id)),
                outbox::dedupe_key.eq(format!("announcement:{channel_id}:{post_id}")),
                outbox::payload.eq(payload),
                outbox::subject.eq(""),
                outbox::body_text.eq(""),
                outbox::body_html.eq(""),
                outbox::headers.eq("{}"),
                // Unique, as every row's: the dedupe key's words.
                outbox::message_id.eq(format!("announcement-{channel_id}-{post_id}")),
                outbox::status.eq(PENDING),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::send_before.eq(None::<NaiveDateTime>),
                outbox::created_at.eq(now),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Cancels a channel's announcements not sent yet (it was disconnected).
pub fn cancel_announcements(conn: &mut DbConnection, channel_id: i64) -> StoreResult<usize> {
    Ok(diesel::update(
        outbox::table
            .filter(outbox::kind.eq(ANNOUNCEMENT))
            .filter(outbox::recipient.eq(chat_recipient(channel_id)))
            .filter(outbox::status.eq(PENDING)),
    )
    .set((
        outbox::status.eq(CANCELLED),
        outbox::last_error.eq(Some("the channel was disconnected")),
    ))
    .execute(conn)?)
}

/// Announcements by channel recipient and status, for the admin page.
pub fn announcement_counts(conn: &mut DbConnection) -> StoreResult<Vec<(String, String, i64)>> {
    Ok(outbox::table
        .filter(outbox::kind.eq(ANNOUNCEMENT))
        .group_by((outbox::recipient, outbox::status))
        .select((outbox::recipient, outbox::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// The newest error of each channel's announcements that are waiting to
/// be tried again or failed for good: (recipient, status, error, attempts).
pub fn announcement_errors(
    conn: &mut DbConnection,
) -> StoreResult<Vec<(String, String, String, i32)>> {
    let rows: Vec<(String, String, Option<String>, i32)> = outbox::table
        .filter(outbox::kind.eq(ANNOUNCEMENT))
        .filter(outbox::status.eq_any([PENDING, FAILED]))
        .filter(outbox::last_error.is_not_null())
        .order(outbox::id.desc())
        .limit(1000)
        .select((
            outbox::recipient,
            outbox::status,
            outbox::last_error,
            outbox::attempts,
        ))
        .load(conn)?;
    let mut newest: Vec<(String, String, String, i32)> = Vec::new();
    for (recipient, status, error, attempts) in rows {
        if !newest.iter().any(|(r, ..)| *r == recipient) {
            newest.push((recipient, status, error.unwrap_or_default(), attempts));
        }
    }
    Ok(newest)
}

pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<OutboxRow>> {
    Ok(outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()?)
}

/// Everything in the outbox for one person (their data export), newest first.
pub fn of_user(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<OutboxRow>> {
    Ok(outbox::table
        .filter(outbox::user_id.eq(user_id))
        .order(outbox::id.desc())
        .select(OutboxRow::as_select())
        .load(conn)?)
}

// ---- suppression ----------------------------------------------------------------

pub fn is_suppressed(conn: &mut DbConnection, email: &str) -> StoreResult<bool> {
    Ok(!suppressed_among(conn, &[email])?.is_empty())
}

/// Which of these addresses are suppressed, in one statement.
pub fn suppressed_among(
    conn: &mut DbConnection,
    emails: &[&str],
) -> StoreResult<std::collections::HashSet<String>> {
    Ok(suppressed_addresses::table
        .filter(suppressed_addresses::email.eq_any(emails))
        .select(suppressed_addresses::email)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

pub fn suppress(
    conn: &mut DbConnection,
    email: &str,
    reason: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    super::insert_once(conn, |conn| {
        diesel::insert_into(suppressed_addresses::table)
            .values((
                suppressed_addresses::email.eq(email),
                suppressed_addresses::reason.eq(reason),
                suppressed_addresses::created_at.eq(now),
            ))
            .execute(conn)
    })
}

pub fn unsuppress(conn: &mut DbConnection, email: &str) -> StoreResult<bool> {
    Ok(diesel::delete(suppressed_addresses::table.find(email)).execute(conn)? == 1)
}

/// Suppressed addresses and why, by address: no time, which could be
/// matched to the moment one kind of email went out.
pub fn suppressed(conn: &mut DbConnection) -> StoreResult<Vec<(String, String)>> {
    Ok(suppressed_addresses::table
        .order(suppressed_addresses::email.asc())
        .select((suppressed_addresses::email, suppressed_addresses::reason))
        .load(conn)?)
}

// ---- unsubscribe tokens ---------------------------------------------------------------

/// A fresh random unsubscribe token for a person (stored only as a hash).
pub fn issue_unsubscribe_token(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> StoreResult<String> {
    let token = crate::credentials::random_token();
    store_unsubscribe_tokens(conn, &[(token.clone(), user_id)], now)?;
    Ok(token)
}

/// Stores tokens made elsewhere, each with whose it is, in one statement.
pub fn store_unsubscribe_tokens(
    conn: &mut DbConnection,
    tokens: &[(String, i64)],
    now: NaiveDateTime,
) -> StoreResult<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = tokens
        .iter()
        .map(|(token, user_id)| {
            (
                unsubscribe_tokens::token_hash.eq(crate::credentials::token_hash(token)),
                unsubscribe_tokens::user_id.eq(*user_id),
                unsubscribe_tokens::created_at.eq(now),
            )
        })
        .collect();
    // A many-row insert compiles only for one backend at a time.
    super::natively!(conn, |c| diesel::insert_into(unsubscribe_tokens::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

pub fn unsubscribe_token_owner(conn: &mut DbConnection, token: &str) -> StoreResult<Option<i64>> {
    Ok(unsubscribe_tokens::table
        .find(crate::credentials::token_hash(token))
        .select(unsubscribe_tokens::user_id)
        .first(conn)
        .optional()?)
}
