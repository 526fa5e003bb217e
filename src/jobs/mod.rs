//! Background work that runs inside `chorus serve` (every few seconds) and
//! once per `chorus jobs run-once`. Every job is safe to run in several
//! processes at once: each step is a conditional update in its own transaction.

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

/// Runs the jobs every `interval` until the process ends. A failed round
/// (database down) is logged and retried at the next tick.
pub fn spawn(db: Db, clock: Clock, interval: Duration) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            ticker.tick().await;
            let clock = clock.clone();
            match db.run(move |conn| run_once(conn, &clock)).await {
                Ok(report) if report != JobReport::default() => {
                    tracing::info!(
                        published = report.published.len(),
                        expired = report.expired.len(),
                        "jobs ran"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "background jobs failed; retrying at the next tick")
                }
            }
        }
    });
}
