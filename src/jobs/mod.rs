//! Background work that runs inside `chorus serve` (every few seconds) and
//! once per `chorus jobs run-once`. Every job is safe to run in several
//! processes at once: each step is a conditional update in its own transaction.

pub mod announcements;
pub mod delivery;
pub mod feeds;

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{Db, DbConnection};
use crate::ops::metrics::{EmailOutcome, Job, Metrics};
use crate::ops::shutdown::Shutdown;
use crate::store::live_posts::LivePosts;
use crate::store::{StoreError, posts};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct JobReport {
    pub published: Vec<i64>,
    pub expired: Vec<i64>,
}

/// One round of every job.
pub fn run_once(conn: &mut DbConnection, clock: &Clock) -> Result<JobReport, StoreError> {
    let now = clock.now_naive();
    Ok(JobReport {
        published: posts::publish_due(conn, now)?,
        expired: posts::expire_due(conn, now)?,
    })
}

/// Everything the background loop needs.
pub struct Background {
    pub db: Db,
    pub clock: Clock,
    pub interval: Duration,
    pub mailer: std::sync::Arc<crate::mail::transport::Mailer>,
    pub delivery: delivery::DeliverySettings,
    /// Chat announcements: the webhook client and the addresses' key.
    pub chat: announcements::ChatDelivery,
    pub metrics: std::sync::Arc<Metrics>,
    pub shutdown: Shutdown,
    /// The published posts the process keeps for queues: digests are
    /// planned from them.
    pub live_posts: std::sync::Arc<LivePosts>,
}

/// Runs the jobs every `interval` until shutdown: publishing and expiry,
/// digest planning, email delivery and chat announcements. A failed round (database or mail
/// server down) is logged and retried at the next tick. At shutdown the loop
/// stops between steps (a step is one transaction, or one email within the
/// grace period) and hands back the email it claimed but did not send; the
/// returned handle resolves then.
pub fn spawn(background: Background) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let Background {
            db,
            clock,
            interval,
            mailer,
            delivery,
            chat,
            metrics,
            shutdown,
            live_posts,
        } = background;
        let domain = crate::mail::domain_of(&delivery.mail_from);
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.requested() => break,
            }
            let round_clock = clock.clone();
            let report = db.run(move |conn| run_once(conn, &round_clock)).await;
            metrics.job_ran(Job::Publishing, report.is_ok());
            match report {
                Ok(report) if report != JobReport::default() => tracing::info!(
                    published = report.published.len(),
                    expired = report.expired.len(),
                    "scheduled posts published or expired"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "publishing failed; retrying at the next tick")
                }
            }
            if shutdown.is_requested() {
                break;
            }
            let (round_clock, round_domain) = (clock.clone(), domain.clone());
            // The posts are read where queues read them (`Db::run_kept`),
            // so that a round finds them current.
            let live = live_posts.clone();
            let planned = match db.run_kept(move |conn| live.current(conn).map(drop)).await {
                Ok(()) => {
                    let live = live_posts.clone();
                    db.run(move |conn| {
                        let now = round_clock.now_naive();
                        crate::store::digests::plan_all_from(conn, &live, now, &round_domain)
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            metrics.job_ran(Job::DigestPlanning, planned.is_ok());
            match planned {
                Ok(planned) if planned > 0 => {
                    tracing::info!(digests_planned = planned, "digests planned")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "digest planning failed; retrying at the next tick")
                }
            }
            if shutdown.is_requested() {
                break;
            }
            let delivered =
                delivery::deliver_until(&db, &mailer, &clock, &delivery, &shutdown).await;
            metrics.job_ran(Job::Delivery, delivered.is_ok());
            match delivered {
                Ok(report) => {
                    metrics.emails(EmailOutcome::Sent, report.sent);
                    metrics.emails(EmailOutcome::Retried, report.retried);
                    metrics.emails(EmailOutcome::Failed, report.failed);
                    metrics.emails(EmailOutcome::Cancelled, report.cancelled);
                    metrics.emails(EmailOutcome::Released, report.released);
                    metrics.digests_sent(report.digests_sent);
                    if report.sent + report.retried + report.failed + report.cancelled > 0 {
                        tracing::info!(
                            sent = report.sent,
                            retried = report.retried,
                            failed = report.failed,
                            cancelled = report.cancelled,
                            "email delivered"
                        )
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "email delivery failed; retrying at the next tick")
                }
            }
            if shutdown.is_requested() {
                break;
            }
            let announced =
                announcements::deliver_until(&db, &chat, &clock, &delivery, &shutdown).await;
            metrics.job_ran(Job::Announcements, announced.is_ok());
            match announced {
                Ok(report) if report.claimed() > 0 => tracing::info!(
                    sent = report.sent,
                    retried = report.retried,
                    failed = report.failed,
                    cancelled = report.cancelled,
                    "chat announcements delivered"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "chat announcement delivery failed; retrying at the next tick"
                ),
            }
        }
        tracing::info!("background jobs stopped");
    })
}
