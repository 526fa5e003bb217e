//! Operational metrics in the Prometheus text exposition format (0.0.4):
//! counters and histograms this process keeps in memory, and gauges (pool,
//! outbox) read at scrape time. Labels come from small fixed sets (route
//! patterns, methods, status classes), never from raw paths or user input.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    method: &'static str,
    route: String,
    status: &'static str,
}

#[derive(Debug, Default, Clone)]
struct Latency {
    count: u64,
    sum_seconds: f64,
    /// Not cumulative: `buckets[i]` counts requests in (bound[i-1], bound[i]].
    buckets: [u64; LATENCY_BUCKETS.len()],
}

/// A background job, for `chorus_job_runs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    Publishing,
    DigestPlanning,
    Delivery,
}

impl Job {
    fn label(self) -> &'static str {
        match self {
            Job::Publishing => "publishing",
            Job::DigestPlanning => "digest_planning",
            Job::Delivery => "delivery",
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

/// The counters of one process. Cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestKey, Latency>>,
    job_runs: Mutex<BTreeMap<(Job, bool), u64>>,
    emails: Mutex<BTreeMap<EmailOutcome, u64>>,
    digests_sent: AtomicU64,
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
        let key = RequestKey {
            method: method_label(method),
            route: route.map_or_else(|| "unmatched".to_string(), route_label),
            status: status_class(status),
        };
        let seconds = elapsed.as_secs_f64();
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let latency = requests.entry(key).or_default();
        latency.count += 1;
        latency.sum_seconds += seconds;
        if let Some(i) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            latency.buckets[i] += 1;
        }
    }

    pub fn job_ran(&self, job: Job, ok: bool) {
        *self
            .job_runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((job, ok))
            .or_default() += 1;
    }

    pub fn emails(&self, outcome: EmailOutcome, count: usize) {
        if count > 0 {
            *self
                .emails
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(outcome)
                .or_default() += count as u64;
        }
    }

    pub fn digests_sent(&self, count: usize) {
        self.digests_sent.fetch_add(count as u64, Ordering::Relaxed);
    }

    /// The whole exposition, counters of this process plus `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "chorus_build_info",
            "gauge",
            "The running version of Chorus.",
        );
        sample(
            &mut out,
            "chorus_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );

        let requests = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        header(
            &mut out,
            "chorus_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route pattern and status class.",
        );
        for (key, latency) in &requests {
            sample(
                &mut out,
                "chorus_http_requests_total",
                &key.labels(),
                latency.count,
            );
        }
        header(
            &mut out,
            "chorus_http_request_duration_seconds",
            "histogram",
            "Time from request to response headers, by method, route pattern and status class.",
        );
        for (key, latency) in &requests {
            let labels = key.labels();
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(latency.buckets) {
                cumulative += count;
                let le = bound.to_string();
                let mut with_le = labels.to_vec();
                with_le.push(("le", le.as_str()));
                sample(
                    &mut out,
                    "chorus_http_request_duration_seconds_bucket",
                    &with_le,
                    cumulative,
                );
            }
            let mut with_le = labels.to_vec();
            with_le.push(("le", "+Inf"));
            sample(
                &mut out,
                "chorus_http_request_duration_seconds_bucket",
                &with_le,
                latency.count,
            );
            sample(
                &mut out,
                "chorus_http_request_duration_seconds_sum",
                &labels,
                latency.sum_seconds,
            );
            sample(
                &mut out,
                "chorus_http_request_duration_seconds_count",
                &labels,
                latency.count,
            );
        }

        header(
            &mut out,
            "chorus_db_pool_connections",
            "gauge",
            "Open database connections of this process (idle and in use).",
        );
        sample(
            &mut out,
            "chorus_db_pool_connections",
            &[],
            snapshot.pool_connections,
        );
        header(
            &mut out,
            "chorus_db_pool_idle_connections",
            "gauge",
            "Idle database connections of this process.",
        );
        sample(
            &mut out,
            "chorus_db_pool_idle_connections",
            &[],
            snapshot.pool_idle,
        );
        header(
            &mut out,
            "chorus_db_pool_max_connections",
            "gauge",
            "Most database connections this process opens (CHORUS_DB_POOL_SIZE).",
        );
        sample(
            &mut out,
            "chorus_db_pool_max_connections",
            &[],
            snapshot.pool_max,
        );

        header(
            &mut out,
            "chorus_database_up",
            "gauge",
            "1 when the outbox query of this scrape answered, else 0.",
        );
        sample(
            &mut out,
            "chorus_database_up",
            &[],
            u8::from(snapshot.outbox.is_some()),
        );
        if let Some(outbox) = &snapshot.outbox {
            header(
                &mut out,
                "chorus_outbox_messages",
                "gauge",
                "Emails in the outbox by status (the whole database, not this process).",
            );
            let mut by_status: BTreeMap<&str, i64> = crate::store::outbox::STATUSES
                .iter()
                .map(|status| (*status, 0))
                .collect();
            for (status, count) in outbox {
                *by_status.entry(status.as_str()).or_default() += count;
            }
            for (status, count) in by_status {
                sample(
                    &mut out,
                    "chorus_outbox_messages",
                    &[("status", status)],
                    count,
                );
            }
        }

        header(
            &mut out,
            "chorus_emails_total",
            "counter",
            "Emails this process claimed from the outbox, by outcome.",
        );
        let emails = self
            .emails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for outcome in EmailOutcome::ALL {
            sample(
                &mut out,
                "chorus_emails_total",
                &[("outcome", outcome.label())],
                emails.get(&outcome).copied().unwrap_or(0),
            );
        }
        header(
            &mut out,
            "chorus_digests_sent_total",
            "counter",
            "Digest emails this process handed to the mail server.",
        );
        sample(
            &mut out,
            "chorus_digests_sent_total",
            &[],
            self.digests_sent.load(Ordering::Relaxed),
        );

        header(
            &mut out,
            "chorus_job_runs_total",
            "counter",
            "Rounds of the background jobs in this process, by job and outcome.",
        );
        let runs = self
            .job_runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for job in [Job::Publishing, Job::DigestPlanning, Job::Delivery] {
            for ok in [true, false] {
                sample(
                    &mut out,
                    "chorus_job_runs_total",
                    &[
                        ("job", job.label()),
                        ("outcome", if ok { "ok" } else { "error" }),
                    ],
                    runs.get(&(job, ok)).copied().unwrap_or(0),
                );
            }
        }
        out
    }
}

impl RequestKey {
    fn labels(&self) -> [(&'static str, &str); 3] {
        [
            ("method", self.method),
            ("route", self.route.as_str()),
            ("status", self.status),
        ]
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

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and line feed (format 0.0.4).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }
}
