//! Feeds into the hub, in the background: every round, each due feed that
//! this process can claim is read and its new items drafted
//! (`app::feeds::poll_due`). Runs beside the other jobs, so a slow feed
//! never holds up publishing or email.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::ops::metrics::{Job, Metrics};
use crate::ops::shutdown::Shutdown;

/// Polls due feeds every `interval` until shutdown. A round that fails
/// (the database away) is logged and tried again at the next tick; one
/// feed's failure is recorded on the feed and never ends the round.
pub fn spawn<S>(
    state: Arc<S>,
    interval: Duration,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> actix_web::rt::task::JoinHandle<()>
where
    S: AsRef<App> + 'static,
{
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.requested() => break,
            }
            let app: &App = (*state).as_ref();
            let round = tokio::select! {
                round = crate::app::feeds::poll_due(app) => round,
                _ = shutdown.requested() => break,
            };
            metrics.job_ran(Job::FeedPolling, round.is_ok());
            match round {
                Ok(report) if report.polled > 0 => tracing::info!(
                    polled = report.polled,
                    not_modified = report.not_modified,
                    failed = report.failed,
                    drafts = report.drafts,
                    "feeds polled"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "feed polling failed; retrying at the next tick")
                }
            }
        }
        tracing::info!("feed polling stopped");
    })
}
