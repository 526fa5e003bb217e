//! Stopping `chorus serve` without losing work: SIGTERM (or SIGINT) asks the
//! background jobs to stop at their next safe point and the HTTP server to
//! finish its in-flight requests, each within the configured grace period.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// Fires the shutdown; every [`Shutdown`] made from it sees it.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

/// A worker's view of the shutdown. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    requested: Option<watch::Receiver<bool>>,
    grace: Duration,
}

/// A trigger and the view of it; `grace` is how long work already started
/// may go on after the trigger fires.
pub fn channel(grace: Duration) -> (Trigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (
        Trigger(sender),
        Shutdown {
            requested: Some(receiver),
            grace,
        },
    )
}

impl Shutdown {
    /// For one-shot commands: never requested.
    pub fn never() -> Shutdown {
        Shutdown {
            requested: None,
            grace: Duration::ZERO,
        }
    }

    pub fn is_requested(&self) -> bool {
        self.requested.as_ref().is_some_and(|r| *r.borrow())
    }

    /// Resolves once shutdown is requested (never, if it cannot be).
    pub async fn requested(&self) {
        let Some(mut receiver) = self.requested.clone() else {
            return std::future::pending().await;
        };
        // An error means the trigger is gone: its owner stopped, so stop too.
        let _ = receiver.wait_for(|requested| *requested).await;
    }

    /// Runs `work` to the end, unless shutdown is requested and the work
    /// then takes longer than the grace period: None when it was abandoned.
    pub async fn finish_within_grace<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let work = std::pin::pin!(work);
        let mut work = work;
        tokio::select! {
            done = &mut work => return Some(done),
            _ = self.requested() => {}
        }
        tokio::time::timeout(self.grace, work).await.ok()
    }
}

/// Resolves at SIGTERM or SIGINT (Ctrl-C).
pub async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::warn!("cannot listen for SIGTERM; stopping only at Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn work_past_the_grace_period_is_abandoned_and_quick_work_finishes() {
        let (trigger, shutdown) = channel(Duration::from_millis(50));
        assert_eq!(shutdown.finish_within_grace(async { 7 }).await, Some(7));
        trigger.fire();
        assert!(shutdown.is_requested());
        let slow = tokio::time::sleep(Duration::from_secs(30));
        assert_eq!(shutdown.finish_within_grace(slow).await, None);
        let quick = tokio::time::sleep(Duration::from_millis(5));
        assert_eq!(shutdown.finish_within_grace(quick).await, Some(()));
        assert!(!Shutdown::never().is_requested());
    }
}
