//! The delivery worker: claims due outbox rows with a lease, renders and
//! sends them, and records the outcome. Temporary failures retry with
//! exponential backoff and jitter; permanent ones fail; "no such user"
//! (5.1.1) also suppresses the address until an admin clears it.

use chrono::{Duration, NaiveDateTime};
use futures_util::StreamExt;
use rand::Rng;

use crate::clock::Clock;
use crate::db::{Db, RunError};
use crate::mail::compose::{Composition, compose};
use crate::mail::transport::{FailureKind, Mailer, OutgoingEmail};
use crate::shutdown::Shutdown;
use crate::store::{StoreError, outbox};

/// How delivery behaves; every number has a default that runs.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub worker_id: String,
    pub mail_from: String,
    pub base_url: String,
    pub lease: Duration,
    pub batch: i64,
    /// Emails in flight at once.
    pub concurrency: usize,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub max_attempts: i32,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: usize,
    /// Of `sent`, how many were digests.
    pub digests_sent: usize,
    /// Claimed, then handed back unsent because the process is stopping.
    pub released: usize,
}

/// The wait before attempt `attempts + 1`: base · 2^(attempts−1), at most
/// `max`, with ±20 % jitter so that many retries do not arrive together.
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exponent = (attempts - 1).clamp(0, 20) as u32;
    let raw = base
        .num_milliseconds()
        .saturating_mul(1_i64 << exponent)
        .min(max.num_milliseconds());
    let jitter = rand::rng().random_range(-0.2..=0.2);
    Duration::milliseconds(((raw as f64) * (1.0 + jitter)) as i64)
}

/// What became of one claimed email.
enum Outcome {
    Sent {
        digest: bool,
    },
    Retried,
    Failed,
    Cancelled,
    /// Not sent because the process is stopping: handed back.
    Unsent(i64),
}

/// One round: claim a batch, send up to `concurrency` at a time, record
/// each result.
pub async fn deliver_once(
    db: &Db,
    mailer: &Mailer,
    clock: &Clock,
    settings: &DeliverySettings,
) -> Result<DeliveryReport, RunError<StoreError>> {
    deliver_until(db, mailer, clock, settings, &Shutdown::never()).await
}

/// One round that stops early at shutdown: no new email is started, those
/// being sent get the grace period, and every claimed row not sent is
/// handed back at once (see [`outbox::release`]) instead of waiting for its
/// lease to expire.
pub async fn deliver_until(
    db: &Db,
    mailer: &Mailer,
    clock: &Clock,
    settings: &DeliverySettings,
    shutdown: &Shutdown,
) -> Result<DeliveryReport, RunError<StoreError>> {
    let now = clock.now_naive();
    let (worker, lease, batch) = (settings.worker_id.clone(), settings.lease, settings.batch);
    let rows = db
        .run(move |conn| outbox::claim_due(conn, &worker, now, lease, batch))
        .await?;
    let outcomes: Vec<_> = futures_util::stream::iter(rows)
        .map(|row| deliver_one(db, mailer, clock, settings, shutdown, row))
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    let mut report = DeliveryReport::default();
    let mut unsent: Vec<i64> = Vec::new();
    for outcome in outcomes {
        match outcome? {
            Outcome::Sent { digest } => {
                report.sent += 1;
                report.digests_sent += usize::from(digest);
            }
            Outcome::Retried => report.retried += 1,
            Outcome::Failed => report.failed += 1,
            Outcome::Cancelled => report.cancelled += 1,
            Outcome::Unsent(id) => unsent.push(id),
        }
    }
    if !unsent.is_empty() {
        let (worker, now) = (settings.worker_id.clone(), clock.now_naive());
        report.released = db
            .run(move |conn| outbox::release(conn, &unsent, &worker, now))
            .await?;
        tracing::info!(
            released = report.released,
            "stopping: claimed email handed back unsent"
        );
    }
    Ok(report)
}

/// Rounds until nothing is due (what `chorus mail deliver --once` runs).
/// Temporary failures wait for their retry time, so this ends.
pub async fn deliver_all_due(
    db: &Db,
    mailer: &Mailer,
    clock: &Clock,
    settings: &DeliverySettings,
) -> Result<DeliveryReport, RunError<StoreError>> {
    let mut total = DeliveryReport::default();
    loop {
        let round = deliver_once(db, mailer, clock, settings).await?;
        let claimed = round.sent + round.retried + round.failed + round.cancelled;
        total.sent += round.sent;
        total.retried += round.retried;
        total.failed += round.failed;
        total.cancelled += round.cancelled;
        total.digests_sent += round.digests_sent;
        if claimed == 0 {
            return Ok(total);
        }
    }
}

async fn deliver_one(
    db: &Db,
    mailer: &Mailer,
    clock: &Clock,
    settings: &DeliverySettings,
    shutdown: &Shutdown,
    row: outbox::OutboxRow,
) -> Result<Outcome, RunError<StoreError>> {
    if shutdown.is_requested() {
        return Ok(Outcome::Unsent(row.id));
    }
    let now = clock.now_naive();
    let base_url = settings.base_url.clone();
    let claimed = row.clone();
    let composition = db
        .run(move |conn| {
            if outbox::is_suppressed(conn, &claimed.recipient)? {
                outbox::mark_failed(
                    conn,
                    claimed.id,
                    "the address is suppressed after a permanent failure",
                )?;
                return Ok(None);
            }
            let composition = compose(conn, &claimed, &base_url, now)?;
            match &composition {
                Composition::Cancel(reason) => outbox::cancel(conn, claimed.id, reason)?,
                Composition::Send(c) => {
                    let headers =
                        serde_json::json!({ "List-Unsubscribe": c.list_unsubscribe }).to_string();
                    outbox::store_rendered(
                        conn, claimed.id, &c.subject, &c.text, &c.html, &headers,
                    )?
                }
            }
            Ok::<_, StoreError>(Some(composition))
        })
        .await?;
    let composed = match composition {
        None => return Ok(Outcome::Failed),
        Some(Composition::Cancel(_)) => return Ok(Outcome::Cancelled),
        Some(Composition::Send(composed)) => composed,
    };
    let email = OutgoingEmail {
        from: settings.mail_from.clone(),
        to: row.recipient.clone(),
        subject: composed.subject,
        text: composed.text,
        html: Some(composed.html),
        message_id: row.message_id.clone(),
        date: clock.now(),
        list_unsubscribe: composed.list_unsubscribe,
    };
    let Some(result) = shutdown.finish_within_grace(mailer.send(&email)).await else {
        // Abandoned mid-send: the relay may or may not have taken it (a
        // message in flight); either way it is due again.
        return Ok(Outcome::Unsent(row.id));
    };
    let (id, attempts, recipient) = (row.id, row.attempts, row.recipient.clone());
    let done_at: NaiveDateTime = clock.now_naive();
    let next_at = done_at + backoff(attempts, settings.retry_base, settings.retry_max);
    let max_attempts = settings.max_attempts;
    let outcome = result
        .as_ref()
        .map_err(|f| (f.kind.clone(), f.message.clone()))
        .err();
    db.run(move |conn| match outcome {
        None => outbox::mark_sent(conn, id, done_at),
        Some((FailureKind::Temporary, message)) if attempts < max_attempts => {
            outbox::mark_retry(conn, id, &message, next_at)
        }
        Some((FailureKind::NoSuchUser, message)) => {
            outbox::suppress(conn, &recipient, &message, done_at)?;
            outbox::mark_failed(conn, id, &message)
        }
        Some((_, message)) => outbox::mark_failed(conn, id, &message),
    })
    .await?;
    Ok(match result {
        Ok(()) => Outcome::Sent {
            digest: row.kind == outbox::Kind::Digest.as_str(),
        },
        // The transport logged the failure with the address taken out;
        // the server's raw reply may name the recipient, so not here.
        Err(f) if f.kind == FailureKind::Temporary && attempts < max_attempts => {
            tracing::info!(outbox_id = id, attempts, "email delivery will be retried");
            Outcome::Retried
        }
        Err(_) => {
            tracing::warn!(outbox_id = id, attempts, "email delivery failed for good");
            Outcome::Failed
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter() {
        let base = Duration::seconds(30);
        let max = Duration::hours(6);
        for (attempts, expected) in [(1, 30), (2, 60), (3, 120), (4, 240)] {
            let wait = backoff(attempts, base, max).num_milliseconds() as f64 / 1000.0;
            let expected = expected as f64;
            assert!(
                wait >= expected * 0.79 && wait <= expected * 1.21,
                "attempt {attempts}: {wait}s"
            );
        }
        assert!(
            backoff(30, base, max)
                <= Duration::milliseconds((max.num_milliseconds() as f64 * 1.21) as i64)
        );
    }
}
