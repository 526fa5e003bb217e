//! Operational metrics for `GET /metrics`, kept with `prometheus-client` and
//! written in the Prometheus text exposition format (0.0.4): counters and a
//! histogram this process keeps, and gauges (pool, outbox) read at scrape
//! time. Labels come from small fixed sets (route patterns, methods, status
//! classes), never from raw paths or user input.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the request latency histogram.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// A background job, for `chorus_job_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    Publishing,
    DigestPlanning,
    Delivery,
    FeedPolling,
    /// Chat announcements (webhook POSTs).
    Announcements,
}

impl Job {
    const ALL: [Job; 5] = [
        Job::Publishing,
        Job::DigestPlanning,
        Job::Delivery,
        Job::FeedPolling,
        Job::Announcements,
    ];

    fn label(self) -> &'static str {
        match self {
            Job::Publishing => "publishing",
            Job::DigestPlanning => "digest_planning",
            Job::Delivery => "delivery",
            Job::FeedPolling => "feed_polling",
            Job::Announcements => "announcements",
        }
    }
}

/// What happened to an email a worker claimed, for `chorus_emails_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EmailOutcome {
    Sent,
    Retried,
    Failed,
    Cancelled,
    /// Claimed, then handed back unsent at shutdown.
    Released,
}

impl EmailOutcome {
    const ALL: [EmailOutcome; 5] = [
        EmailOutcome::Sent,
        EmailOutcome::Retried,
        EmailOutcome::Failed,
        EmailOutcome::Cancelled,
        EmailOutcome::Released,
    ];

    fn label(self) -> &'static str {
        match self {
            EmailOutcome::Sent => "sent",
            EmailOutcome::Retried => "retried",
            EmailOutcome::Failed => "failed",
            EmailOutcome::Cancelled => "cancelled",
            EmailOutcome::Released => "released",
        }
    }
}

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The counters of one process. Cheap to update from any thread: each
/// series has its own atomic or lock, none is shared by every request.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    job_runs: Family<JobLabels, Counter>,
    emails: Family<OutcomeLabels, Counter>,
    digests_sent: Counter,
}

/// Gauges read at scrape time.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Open and idle pool connections, and the pool's maximum.
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    /// Outbox rows by status; None when the database did not answer.
    pub outbox: Option<Vec<(String, i64)>>,
    /// The published posts this process keeps for the queue, and about
    /// how many bytes they and what is worked out from them hold.
    pub live_posts: usize,
    pub live_posts_bytes: usize,
    /// How many times this process has read the published posts again.
    pub live_posts_reads: u64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        // `register` adds the final full stop to each help text, and the
        // `_total` suffix to each counter's name.
        registry.register(
            "chorus_build",
            "The running version of Chorus",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "chorus_http_requests",
            "HTTP requests answered, by method, route pattern and status class",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "chorus_http_request_duration_seconds",
            "Time from request to response headers, by method, route pattern and status class",
            latency.clone(),
        );
        let emails = Family::<OutcomeLabels, Counter>::default();
        // Every series is listed from the start, at 0.
        for outcome in EmailOutcome::ALL {
            emails
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .inc_by(0);
        }
        registry.register(
            "chorus_emails",
            "Emails this process claimed from the outbox, by outcome",
            emails.clone(),
        );
        let digests_sent = Counter::default();
        registry.register(
            "chorus_digests_sent",
            "Digest emails this process handed to the mail server",
            digests_sent.clone(),
        );
        let job_runs = Family::<JobLabels, Counter>::default();
        for job in Job::ALL {
            for ok in [true, false] {
                job_runs.get_or_create(&JobLabels::of(job, ok)).inc_by(0);
            }
        }
        registry.register(
            "chorus_job_runs",
            "Rounds of the background jobs in this process, by job and outcome",
            job_runs.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            job_runs,
            emails,
            digests_sent,
        }
    }
}

impl JobLabels {
    fn of(job: Job, ok: bool) -> Self {
        JobLabels {
            job: job.label(),
            outcome: if ok { "ok" } else { "error" },
        }
    }
}

impl Metrics {
    /// Counts one answered request. `route` is the route pattern (None for
    /// an unknown path), so the number of series stays bounded.
    pub fn observe_request(
        &self,
        method: &actix_web::http::Method,
        route: Option<&str>,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            method: method_label(method),
            route: route.map_or_else(|| "unmatched".to_string(), route_label),
            status: status_class(status),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub fn job_ran(&self, job: Job, ok: bool) {
        self.job_runs.get_or_create(&JobLabels::of(job, ok)).inc();
    }

    pub fn emails(&self, outcome: EmailOutcome, count: usize) {
        if count > 0 {
            self.emails
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.label(),
                })
                .inc_by(count as u64);
        }
    }

    pub fn digests_sent(&self, count: usize) {
        self.digests_sent.inc_by(count as u64);
    }

    /// The whole exposition, counters of this process plus `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        // Writing into a String fails only if a label fails to encode, and
        // ours are plain strings.
        prometheus_text::encode(&mut out, &self.registry)
            .and_then(|()| prometheus_text::encode(&mut out, &snapshot.registry()))
            .expect("the exposition writes into a String");
        out
    }
}

impl Snapshot {
    /// The scrape-time gauges, in a registry of their own.
    fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        let gauge = |value: i64| {
            let gauge = Gauge::<i64>::default();
            gauge.set(value);
            gauge
        };
        registry.register(
            "chorus_db_pool_connections",
            "Open database connections of this process (idle and in use)",
            gauge(self.pool_connections.into()),
        );
        registry.register(
            "chorus_db_pool_idle_connections",
            "Idle database connections of this process",
            gauge(self.pool_idle.into()),
        );
        registry.register(
            "chorus_db_pool_max_connections",
            "Most database connections this process opens (CHORUS_DB_POOL_SIZE)",
            gauge(self.pool_max.into()),
        );
        registry.register(
            "chorus_database_up",
            "1 when the outbox query of this scrape answered, else 0",
            gauge(self.outbox.is_some().into()),
        );
        registry.register(
            "chorus_live_posts",
            "Published posts this process keeps in memory for the queue",
            gauge(i64::try_from(self.live_posts).unwrap_or(i64::MAX)),
        );
        registry.register(
            "chorus_live_posts_bytes",
            "About how many bytes the kept posts and what is worked out from them hold in this process",
            gauge(i64::try_from(self.live_posts_bytes).unwrap_or(i64::MAX)),
        );
        let reads = Counter::<u64>::default();
        reads.inc_by(self.live_posts_reads);
        registry.register(
            "chorus_live_posts_reads",
            "Times this process read the published posts again for the queue, after a change to them, the settings or the caps",
            reads,
        );
        if let Some(outbox) = &self.outbox {
            let by_status = Family::<StatusLabels, Gauge>::default();
            // Every status is listed, even when no email has it.
            for status in crate::store::outbox::STATUSES {
                by_status
                    .get_or_create(&StatusLabels {
                        status: status.to_string(),
                    })
                    .set(0);
            }
            for (status, count) in outbox {
                by_status
                    .get_or_create(&StatusLabels {
                        status: status.clone(),
                    })
                    .inc_by(*count);
            }
            registry.register(
                "chorus_outbox_messages",
                "Emails in the outbox by status (the whole database, not this process)",
                by_status,
            );
        }
        registry
    }
}

/// A route pattern without its regular expressions:
/// `/queue/{id:\d+}/share/{platform}` → `/queue/{id}/share/{platform}`.
pub fn route_label(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0;
    let mut skipping = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push(c);
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                    continue;
                }
            }
            ':' if depth == 1 => skipping = true,
            _ => {}
        }
        if !skipping {
            out.push(c);
        }
    }
    out
}

fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_drop_the_regular_expressions() {
        assert_eq!(
            route_label("/queue/{id:\\d+}/share/{platform}"),
            "/queue/{id}/share/{platform}"
        );
        assert_eq!(
            route_label("/me/receipts/{id:[0-9a-f-]+}.json"),
            "/me/receipts/{id}.json"
        );
        assert_eq!(route_label("/healthz"), "/healthz");
    }

    #[test]
    fn a_request_lands_in_its_bucket_and_every_larger_one() {
        let metrics = Metrics::default();
        metrics.observe_request(
            &actix_web::http::Method::GET,
            Some("/queue"),
            200,
            Duration::from_millis(30),
        );
        let text = metrics.render(&Snapshot::default());
        let labels = r#"method="GET",route="/queue",status="2xx""#;
        assert!(text.contains(&format!("chorus_http_requests_total{{{labels}}} 1\n")));
        assert!(text.contains(&format!(
            "chorus_http_request_duration_seconds_bucket{{{labels},le=\"0.025\"}} 0\n"
        )));
        assert!(text.contains(&format!(
            "chorus_http_request_duration_seconds_bucket{{{labels},le=\"0.05\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "chorus_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 1\n"
        )));
    }

    #[test]
    fn names_help_and_types_are_those_operators_query() {
        let metrics = Metrics::default();
        metrics.observe_request(
            &actix_web::http::Method::POST,
            Some("/login"),
            303,
            Duration::from_millis(3),
        );
        let text = metrics.render(&Snapshot {
            outbox: Some(vec![("pending".into(), 2)]),
            ..Snapshot::default()
        });
        for line in [
            "# HELP chorus_http_requests_total HTTP requests answered, by method, route pattern and status class.\n",
            "# TYPE chorus_http_requests_total counter\n",
            "# TYPE chorus_http_request_duration_seconds histogram\n",
            "# TYPE chorus_build_info gauge\n",
            "chorus_digests_sent_total 0\n",
            "chorus_job_runs_total{job=\"delivery\",outcome=\"error\"} 0\n",
            "chorus_emails_total{outcome=\"released\"} 0\n",
            "chorus_database_up 1\n",
            "chorus_outbox_messages{status=\"pending\"} 2\n",
            "chorus_outbox_messages{status=\"failed\"} 0\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert!(text.contains(&format!(
            "chorus_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn without_the_database_the_outbox_is_left_out() {
        let text = Metrics::default().render(&Snapshot::default());
        assert!(text.contains("chorus_database_up 0\n"));
        assert!(!text.contains("chorus_outbox_messages"));
    }
}
