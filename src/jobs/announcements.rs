//! Chat announcement delivery: claims due announcement rows of the outbox
//! (the same leases as email, so several `chorus serve` processes never
//! POST the same row at once), opens the channel's sealed webhook address,
//! POSTs the message its kind expects and records the outcome at once.
//!
//! A receiver that is busy (429, 503 with Retry-After) is tried again after
//! the wait it asked for; no answer or a server error after exponential
//! backoff; any other answer fails for good with its reason shown to the
//! admin. Each outcome is written before the slot posts its next message,
//! so a crash repeats at most the messages in flight (one per slot).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use futures_util::StreamExt;

use super::delivery::{DeliverySettings, backoff};
use crate::clock::Clock;
use crate::credentials::SecretBox;
use crate::db::{Db, RunError};
use crate::domain::chat::{Announcement, ChannelKind};
use crate::ops::shutdown::Shutdown;
use crate::outbound::webhook::WebhookSender;
use crate::store::chat_channels::{AnnouncementPayload, Channel};
use crate::store::{StoreError, chat_channels, outbox};

/// Messages being posted at once (one per slot).
pub const SLOTS: usize = 4;

/// What posting needs: the client and the key that opens the addresses.
pub struct ChatDelivery {
    pub sender: Arc<WebhookSender>,
    pub secrets: Arc<SecretBox>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct AnnouncementReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Claimed, then handed back unsent because the process is stopping.
    pub released: usize,
}

impl AnnouncementReport {
    pub fn claimed(&self) -> usize {
        self.sent + self.retried + self.failed + self.cancelled
    }
}

/// What became of one claimed row.
enum Outcome {
    Sent,
    Retried,
    Failed,
    Cancelled,
    Unsent(i64),
}

/// One round: claim due announcements, post them, record each outcome.
pub async fn deliver_once(
    db: &Db,
    chat: &ChatDelivery,
    clock: &Clock,
    settings: &DeliverySettings,
) -> Result<AnnouncementReport, RunError<StoreError>> {
    deliver_until(db, chat, clock, settings, &Shutdown::never()).await
}

/// One round that stops early at shutdown: nothing new is posted, those
/// being posted get the grace period, and claimed rows not posted are
/// handed back at once.
pub async fn deliver_until(
    db: &Db,
    chat: &ChatDelivery,
    clock: &Clock,
    settings: &DeliverySettings,
    shutdown: &Shutdown,
) -> Result<AnnouncementReport, RunError<StoreError>> {
    let now = clock.now_naive();
    let (worker, lease, batch) = (settings.worker_id.clone(), settings.lease, settings.batch);
    let (rows, channels) = db
        .write(move |conn| {
            let rows = outbox::claim_due_in(conn, outbox::Lane::Chat, &worker, now, lease, batch)?;
            let channels = if rows.is_empty() {
                Vec::new()
            } else {
                chat_channels::list(conn)?
            };
            Ok::<_, StoreError>((rows, channels))
        })
        .await?;
    if rows.is_empty() {
        return Ok(AnnouncementReport::default());
    }
    let channels: HashMap<i64, Channel> = channels.into_iter().map(|c| (c.id, c)).collect();
    let channels = &channels;
    let outcomes: Vec<Result<Outcome, RunError<StoreError>>> = futures_util::stream::iter(rows)
        .map(|row| deliver_one(db, chat, clock, settings, shutdown, channels, row))
        .buffer_unordered(SLOTS)
        .collect()
        .await;
    let mut report = AnnouncementReport::default();
    let mut unsent = Vec::new();
    let mut first_error = None;
    for outcome in outcomes {
        match outcome {
            Ok(Outcome::Sent) => report.sent += 1,
            Ok(Outcome::Retried) => report.retried += 1,
            Ok(Outcome::Failed) => report.failed += 1,
            Ok(Outcome::Cancelled) => report.cancelled += 1,
            Ok(Outcome::Unsent(id)) => unsent.push(id),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if !unsent.is_empty() {
        let (worker, now) = (settings.worker_id.clone(), clock.now_naive());
        report.released = db
            .write(move |conn| outbox::release(conn, &unsent, &worker, now))
            .await?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Rounds until nothing is due now (retries wait for their time).
pub async fn deliver_all_due(
    db: &Db,
    chat: &ChatDelivery,
    clock: &Clock,
    settings: &DeliverySettings,
) -> Result<AnnouncementReport, RunError<StoreError>> {
    let mut total = AnnouncementReport::default();
    loop {
        let round = deliver_once(db, chat, clock, settings).await?;
        total.sent += round.sent;
        total.retried += round.retried;
        total.failed += round.failed;
        total.cancelled += round.cancelled;
        if round.claimed() == 0 {
            return Ok(total);
        }
    }
}

/// The message of one row to the channel's kind, or why there is none.
fn message(
    chat: &ChatDelivery,
    settings: &DeliverySettings,
    channel: Option<&Channel>,
    payload: &str,
) -> Result<(url::Url, serde_json::Value), Settled> {
    let Some(channel) = channel else {
        return Err(Settled::Cancel("the channel was disconnected"));
    };
    let url = chat
        .secrets
        .open(&channel.url_sealed)
        .and_then(|url| url::Url::parse(&url).ok())
        .ok_or(Settled::Fail(
            "the webhook address cannot be read with this server's secret key (was \
             CHORUS_SECRET_KEY changed?): connect the channel again"
                .into(),
        ))?;
    let kind = ChannelKind::parse(&channel.kind).ok_or(Settled::Fail(format!(
        "unknown kind of channel: {}",
        channel.kind
    )))?;
    let payload: AnnouncementPayload = serde_json::from_str(payload)
        .map_err(|_| Settled::Fail("the queued announcement cannot be read".into()))?;
    let announcement = Announcement {
        title: payload.title,
        link: payload.link,
        queue_url: format!("{}/queue", settings.base_url),
    };
    Ok((url, announcement.payload(kind)))
}

/// A row settled without posting.
enum Settled {
    Cancel(&'static str),
    Fail(String),
}

async fn deliver_one(
    db: &Db,
    chat: &ChatDelivery,
    clock: &Clock,
    settings: &DeliverySettings,
    shutdown: &Shutdown,
    channels: &HashMap<i64, Channel>,
    row: outbox::OutboxRow,
) -> Result<Outcome, RunError<StoreError>> {
    let id = row.id;
    if shutdown.is_requested() {
        return Ok(Outcome::Unsent(id));
    }
    let channel = outbox::chat_channel_of(&row.recipient).and_then(|c| channels.get(&c));
    let (url, body) = match message(chat, settings, channel, &row.payload) {
        Ok(message) => message,
        Err(Settled::Cancel(reason)) => {
            db.write(move |conn| outbox::cancel(conn, id, reason))
                .await?;
            return Ok(Outcome::Cancelled);
        }
        Err(Settled::Fail(reason)) => {
            tracing::warn!(outbox_id = id, reason = %reason, "chat announcement failed for good");
            db.write(move |conn| outbox::mark_failed(conn, id, &reason))
                .await?;
            return Ok(Outcome::Failed);
        }
    };
    let Some(result) = shutdown
        .finish_within_grace(chat.sender.post_json(&url, &body))
        .await
    else {
        // Abandoned mid-post: the receiver may or may not have it.
        return Ok(Outcome::Unsent(id));
    };
    let at = clock.now_naive();
    let attempts = row.attempts;
    let channel_id = channel.map_or(0, |c| c.id);
    match result {
        Ok(_) => {
            db.write(move |conn| outbox::mark_sent(conn, &[(id, at)]))
                .await?;
            Ok(Outcome::Sent)
        }
        Err(e) if e.is_temporary() && attempts < settings.max_attempts => {
            let wait = retry_wait(e.retry_after(), attempts, settings);
            // The error names the host only, never the address.
            tracing::info!(outbox_id = id, channel = channel_id, attempts, error = %e,
                "chat announcement will be retried");
            let (message, next_at): (String, NaiveDateTime) = (e.to_string(), at + wait);
            db.write(move |conn| outbox::mark_retry(conn, id, &message, next_at))
                .await?;
            Ok(Outcome::Retried)
        }
        Err(e) => {
            tracing::warn!(outbox_id = id, channel = channel_id, attempts, error = %e,
                "chat announcement failed for good");
            let message = if e.is_temporary() {
                format!("{e} (gave up after {attempts} attempts)")
            } else {
                e.to_string()
            };
            db.write(move |conn| outbox::mark_failed(conn, id, &message))
                .await?;
            Ok(Outcome::Failed)
        }
    }
}

/// The wait before the next attempt: what the receiver asked for
/// (Retry-After), else exponential backoff; never more than the maximum.
fn retry_wait(
    asked: Option<std::time::Duration>,
    attempts: i32,
    settings: &DeliverySettings,
) -> Duration {
    match asked.and_then(|d| Duration::from_std(d).ok()) {
        Some(asked) => asked.max(Duration::seconds(1)).min(settings.retry_max),
        None => backoff(attempts, settings.retry_base, settings.retry_max),
    }
}
