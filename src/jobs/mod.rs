//! Background work that runs inside `chorus serve` (every few seconds) and
//! once per `chorus jobs run-once`. Every job is safe to run in several
//! processes at once: each step is a conditional update in its own transaction.

pub mod delivery;

use std::time::Duration;

use crate::clock::Clock;
use crate::db::{Db, DbConnection};
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
}

/// Runs the jobs every `interval` until the process ends: publishing and
/// expiry, digest planning, and email delivery. A failed round (database or
/// mail server down) is logged and retried at the next tick.
pub fn spawn(background: Background) {
    actix_web::rt::spawn(async move {
        let Background {
            db,
            clock,
            interval,
            mailer,
            delivery,
        } = background;
        let domain = crate::mail::domain_of(&delivery.mail_from);
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            let (round_clock, round_domain) = (clock.clone(), domain.clone());
            let planned = db
                .run(move |conn| {
                    let report = run_once(conn, &round_clock)?;
                    let now = round_clock.now_naive();
                    let planned = crate::store::digests::plan_all(conn, now, &round_domain)?;
                    Ok::<_, StoreError>((report, planned))
                })
                .await;
            match planned {
                Ok((report, planned)) if report != JobReport::default() || planned > 0 => {
                    tracing::info!(
                        published = report.published.len(),
                        expired = report.expired.len(),
                        digests_planned = planned,
                        "jobs ran"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "background jobs failed; retrying at the next tick")
                }
            }
            match delivery::deliver_once(&db, &mailer, &clock, &delivery).await {
                Ok(report) if report != delivery::DeliveryReport::default() => tracing::info!(
                    sent = report.sent,
                    retried = report.retried,
                    failed = report.failed,
                    cancelled = report.cancelled,
                    "email delivered"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "email delivery failed; retrying at the next tick")
                }
            }
        }
    });
}
