//! The delivery worker: claims due outbox rows with a lease, renders and
//! sends them, and records the outcome. Temporary failures retry with
//! exponential backoff and jitter; permanent ones fail; "no such user"
//! (5.1.1) also suppresses the address until an admin clears it.

use chrono::{Duration, NaiveDateTime};
use diesel::Connection;
use futures_util::StreamExt;
use rand::Rng;

use crate::clock::Clock;
use crate::db::{Db, DbConnection, RunError};
use crate::mail::compose::{BatchReads, Composed, Composition, compose};
use crate::mail::transport::{FailureKind, Mailer, OutgoingEmail};
use crate::ops::shutdown::Shutdown;
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

impl DeliveryReport {
    /// Counts one email; an unsent one's id is handed back to the caller.
    fn count(&mut self, outcome: Outcome) -> Option<i64> {
        match outcome {
            Outcome::Sent { digest } => {
                self.sent += 1;
                self.digests_sent += usize::from(digest);
            }
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Cancelled => self.cancelled += 1,
            Outcome::Unsent(id) => return Some(id),
        }
        None
    }
}

/// A claimed row after its turn in the database before sending.
enum Prepared {
    /// Rendered and stored; ready to go.
    Send(Box<(outbox::OutboxRow, Composed)>),
    /// Already settled in the database (suppressed address, cancelled).
    Settled(Outcome),
}

/// One claimed email's outcome, what to write for it, and whom to tell
/// once it is written.
type Answer = Result<
    (
        Outcome,
        Option<Settle>,
        Option<tokio::sync::oneshot::Sender<()>>,
    ),
    RunError<StoreError>,
>;

/// What becomes of a claimed row: the relay's answer, or what rendering
/// found; written in batches.
enum Settle {
    Sent {
        id: i64,
        at: NaiveDateTime,
    },
    Retry {
        id: i64,
        message: String,
        next_at: NaiveDateTime,
    },
    Suppress {
        id: i64,
        recipient: String,
        message: String,
        at: NaiveDateTime,
    },
    Fail {
        id: i64,
        message: String,
    },
    /// Nothing to send any more (found while rendering), and why.
    Cancel {
        id: i64,
        reason: &'static str,
    },
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

/// Most outcomes written in one transaction.
const SETTLE_BATCH: usize = 256;

/// Batches being rendered at once. On PostgreSQL the second one's round
/// trips overlap the first's (about 1,950 emails/s with one, 2,300/s with
/// two, at 100,000 employees); SQLite's writers take turns anyway.
const PREPARING: usize = 2;

/// Batches of answers written at once (see [`deliver_until`]).
const SETTLE_WRITERS: usize = 3;

/// One round that stops early at shutdown: no new email is started, those
/// being sent get the grace period, and every claimed row not sent is
/// handed back at once (see [`outbox::release`]) instead of waiting for its
/// lease to expire.
///
/// The round is a pipeline. Claimed rows are rendered `concurrency` at a
/// time in one transaction each ([`PREPARING`] such batches at once), sent
/// with up to `concurrency` in flight, and the relay's answers are written
/// as they come, all that have arrived in one transaction (so an email
/// costs no commit of its own). A slot sends its next email only once the
/// answer to its last one is written: a crash leaves at most one email per
/// slot (per SMTP session) taken by the relay but not marked sent, which
/// is sent again after the lease.
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
        .write(move |conn| outbox::claim_due(conn, &worker, now, lease, batch))
        .await?;
    let concurrency = settings.concurrency.max(1);
    let chunks: Vec<Vec<outbox::OutboxRow>> = rows.chunks(concurrency).map(<[_]>::to_vec).collect();
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel::<Answer>();
    let sending = futures_util::stream::iter(chunks)
        .map(|chunk| prepare(db, settings, clock.now_naive(), chunk))
        .buffered(PREPARING)
        .flat_map(|prepared| {
            futures_util::stream::iter(match prepared {
                Ok(rows) => rows.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            })
        })
        .map(move |prepared| {
            let answers = answers.clone();
            async move {
                match prepared {
                    Ok(Prepared::Send(row)) => {
                        let (outcome, settle) = send(mailer, clock, settings, shutdown, *row).await;
                        let (written, recorded) = tokio::sync::oneshot::channel();
                        // The receiver lives until this stream ends.
                        let _ = answers.send(Ok((outcome, settle, Some(written))));
                        // This slot's next email waits until the relay's
                        // answer to this one is written (or failed to be).
                        let _ = recorded.await;
                    }
                    Ok(Prepared::Settled(outcome)) => {
                        let _ = answers.send(Ok((outcome, None, None)));
                    }
                    Err(e) => {
                        let _ = answers.send(Err(e));
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        // The stream owns the last sender: the recording below ends with it.
        .for_each(|()| futures_util::future::ready(()));
    let recording = async {
        let mut report = DeliveryReport::default();
        let mut unsent: Vec<i64> = Vec::new();
        let mut first_error = None;
        // Batches being written, each with the slots waiting for it. A
        // batch does not wait for the one before it to commit: on
        // PostgreSQL they commit side by side (on SQLite they take turns
        // at the write lock anyway).
        let mut writing = futures_util::stream::FuturesUnordered::new();
        let mut open = true;
        loop {
            tokio::select! {
                answer = answered.recv(), if open && writing.len() < SETTLE_WRITERS => {
                    let Some(answer) = answer else {
                        open = false;
                        continue;
                    };
                    let mut arrived = vec![answer];
                    while arrived.len() < SETTLE_BATCH {
                        match answered.try_recv() {
                            Ok(more) => arrived.push(more),
                            Err(_) => break,
                        }
                    }
                    let mut settles = Vec::new();
                    let mut waiting = Vec::new();
                    for answer in arrived {
                        match answer {
                            Ok((outcome, settle, written)) => {
                                if let Some(id) = report.count(outcome) {
                                    unsent.push(id);
                                }
                                settles.extend(settle);
                                waiting.extend(written);
                            }
                            Err(e) => {
                                first_error.get_or_insert(e);
                            }
                        }
                    }
                    // Every answer is written, even after an error
                    // elsewhere: an email the relay took must not be sent
                    // again.
                    writing.push(async move {
                        let written = if settles.is_empty() {
                            Ok(())
                        } else {
                            db.write(move |conn| settle_all(conn, &settles)).await
                        };
                        (written, waiting)
                    });
                }
                Some((written, waiting)) = writing.next(), if !writing.is_empty() => {
                    if let Err(e) = written {
                        first_error.get_or_insert(e);
                    }
                    for slot in waiting {
                        let _ = slot.send(());
                    }
                }
                else => break,
            }
        }
        (report, unsent, first_error)
    };
    let ((), (mut report, unsent, first_error)) =
        futures_util::future::join(sending, recording).await;
    if let Some(e) = first_error {
        return Err(e);
    }
    if !unsent.is_empty() {
        let (worker, now) = (settings.worker_id.clone(), clock.now_naive());
        report.released = db
            .write(move |conn| outbox::release(conn, &unsent, &worker, now))
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

/// Renders a chunk of claimed rows, then stores what was rendered and
/// settles the rows not to send (a suppressed address fails, a row past
/// its period is cancelled) in one short write transaction.
///
/// Reading and rendering take no write lock: rendering a chunk takes
/// milliseconds, and on SQLite every slot's recorded answer waits for the
/// write lock (see [`deliver_until`]).
async fn prepare(
    db: &Db,
    settings: &DeliverySettings,
    now: NaiveDateTime,
    chunk: Vec<outbox::OutboxRow>,
) -> Result<Vec<Prepared>, RunError<StoreError>> {
    let base_url = settings.base_url.clone();
    let (prepared, settled, tokens) = db
        .run(move |conn| {
            let (suppressed, reads) = conn.transaction(|conn| {
                let recipients: Vec<&str> = chunk.iter().map(|r| r.recipient.as_str()).collect();
                let suppressed = outbox::suppressed_among(conn, &recipients)?;
                Ok::<_, StoreError>((suppressed, BatchReads::read(conn, &chunk)?))
            })?;
            let mut prepared = Vec::with_capacity(chunk.len());
            let mut settled = Vec::new();
            let mut tokens = Vec::new();
            for row in chunk {
                if suppressed.contains(&row.recipient) {
                    settled.push(Settle::Fail {
                        id: row.id,
                        message: "the address is suppressed after a permanent failure".into(),
                    });
                    prepared.push(Prepared::Settled(Outcome::Failed));
                    continue;
                }
                match compose(&reads, &row, &base_url, now)? {
                    Composition::Cancel(reason) => {
                        settled.push(Settle::Cancel { id: row.id, reason });
                        prepared.push(Prepared::Settled(Outcome::Cancelled));
                    }
                    Composition::Send(composed) => {
                        tokens.extend(composed.unsubscribe_token.clone());
                        prepared.push(Prepared::Send(Box::new((row, composed))));
                    }
                }
            }
            Ok::<_, StoreError>((prepared, settled, tokens))
        })
        .await?;
    db.write(move |conn| {
        crate::db::write_transaction(conn, |conn| {
            write_settles(conn, &settled)?;
            let rendered: Vec<outbox::Rendered<'_>> = prepared
                .iter()
                .filter_map(|p| match p {
                    Prepared::Send(sending) => Some(&**sending),
                    Prepared::Settled(_) => None,
                })
                .map(|(row, composed)| outbox::Rendered {
                    id: row.id,
                    subject: &composed.subject,
                    text: &composed.text,
                    html: &composed.html,
                    headers: serde_json::json!({ "List-Unsubscribe": composed.list_unsubscribe })
                        .to_string(),
                })
                .collect();
            outbox::store_rendered(conn, &rendered)?;
            outbox::store_unsubscribe_tokens(conn, &tokens, now)?;
            Ok::<_, StoreError>(())
        })?;
        Ok(prepared)
    })
    .await
}

/// Sends one rendered email; what became of it and what to write.
async fn send(
    mailer: &Mailer,
    clock: &Clock,
    settings: &DeliverySettings,
    shutdown: &Shutdown,
    (row, composed): (outbox::OutboxRow, Composed),
) -> (Outcome, Option<Settle>) {
    if shutdown.is_requested() {
        return (Outcome::Unsent(row.id), None);
    }
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
        return (Outcome::Unsent(row.id), None);
    };
    let (id, attempts) = (row.id, row.attempts);
    let at: NaiveDateTime = clock.now_naive();
    match result {
        Ok(()) => (
            Outcome::Sent {
                digest: row.kind == outbox::Kind::Digest.as_str(),
            },
            Some(Settle::Sent { id, at }),
        ),
        // The transport logged the failure with the address taken out;
        // the server's raw reply may name the recipient, so not here.
        Err(f) if f.kind == FailureKind::Temporary && attempts < settings.max_attempts => {
            tracing::info!(outbox_id = id, attempts, "email delivery will be retried");
            let next_at = at + backoff(attempts, settings.retry_base, settings.retry_max);
            (
                Outcome::Retried,
                Some(Settle::Retry {
                    id,
                    message: f.message,
                    next_at,
                }),
            )
        }
        Err(f) => {
            tracing::warn!(outbox_id = id, attempts, "email delivery failed for good");
            let settle = if f.kind == FailureKind::NoSuchUser {
                Settle::Suppress {
                    id,
                    recipient: row.recipient,
                    message: f.message,
                    at,
                }
            } else {
                Settle::Fail {
                    id,
                    message: f.message,
                }
            };
            (Outcome::Failed, Some(settle))
        }
    }
}

/// Writes the relay's answers in one transaction (the emails sent in one
/// statement on PostgreSQL).
fn settle_all(conn: &mut DbConnection, settles: &[Settle]) -> Result<(), StoreError> {
    crate::db::write_transaction(conn, |conn| {
        // Each slot waits for this commit before its next email.
        outbox::commit_without_waiting_for_disk(conn)?;
        write_settles(conn, settles)
    })
}

/// Writes what became of each row, inside the caller's transaction.
fn write_settles(conn: &mut DbConnection, settles: &[Settle]) -> Result<(), StoreError> {
    let sent: Vec<(i64, NaiveDateTime)> = settles
        .iter()
        .filter_map(|settle| match settle {
            Settle::Sent { id, at } => Some((*id, *at)),
            _ => None,
        })
        .collect();
    outbox::mark_sent(conn, &sent)?;
    for settle in settles {
        match settle {
            Settle::Sent { .. } => {}
            Settle::Retry {
                id,
                message,
                next_at,
            } => outbox::mark_retry(conn, *id, message, *next_at)?,
            Settle::Suppress {
                id,
                recipient,
                message,
                at,
            } => {
                outbox::suppress(conn, recipient, message, *at)?;
                outbox::mark_failed(conn, *id, message)?
            }
            Settle::Fail { id, message } => outbox::mark_failed(conn, *id, message)?,
            Settle::Cancel { id, reason } => outbox::cancel(conn, *id, reason)?,
        }
    }
    Ok(())
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
