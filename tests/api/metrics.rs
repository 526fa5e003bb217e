//! `GET /metrics`: who may read it, and that what it says is true and in
//! the Prometheus text exposition format.

use std::collections::BTreeMap;
use std::time::Duration;

use chorus::store::{self, outbox};

use crate::backend_test;
use crate::helpers::*;

const TOKEN: &str = "metrics-token-for-tests-0123456789";

/// One sample: name, labels, value.
#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the text exposition format 0.0.4 strictly: every line is a
/// `# HELP`/`# TYPE` comment or `name{label="value",…} value`, and every
/// sample belongs to a declared metric. Panics, naming the line, otherwise.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name, tail) = (parts.next(), parts.next(), parts.next());
            match (keyword, name, tail) {
                (Some("HELP"), Some(name), Some(_)) => assert!(valid_name(name), "{line}"),
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "{line}"
                    );
                    types.insert(name.to_string(), kind.to_string());
                }
                _ => panic!("unexpected comment line: {line}"),
            }
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line: {line:?}"
        );
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(valid_name(name), "bad metric name in {line}");
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(after) = rest.strip_prefix('{') {
            let (parsed, remainder) =
                parse_labels(after).unwrap_or_else(|| panic!("bad labels: {line}"));
            labels = parsed;
            rest = remainder;
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE line");
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `a="x",b="y\"z"}` → labels and what follows the closing brace.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let name = &s[..eq];
        if !valid_name(name) || name.contains(':') {
            return None;
        }
        s = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    _ => return None,
                },
                '\n' => return None,
                c => value.push(c),
            }
        };
        labels.insert(name.to_string(), value);
        s = &s[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// The value of the one sample with this name and (at least) these labels.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches several samples"
    );
    found.first().map(|s| s.value)
}

async fn scrape(app: &TestApp) -> Vec<Sample> {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    parse_exposition(&response.text().await.unwrap())
}

async fn with_token(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| c.metrics_token = Some(TOKEN.into())).await
}

mod token {
    use super::*;

    async fn check(app: TestApp) {
        let missing = new_client().get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(missing.status(), 401);
        assert!(
            missing.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "says which scheme it wants"
        );
        assert!(
            missing.headers().get("set-cookie").is_none(),
            "no session for scrapers"
        );
        for wrong in ["wrong", &TOKEN[..TOKEN.len() - 1], &format!("{TOKEN}x")] {
            let response = new_client()
                .get(app.url("/metrics"))
                .bearer_auth(wrong)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "token {wrong:?}");
        }
        let basic = new_client()
            .get(app.url("/metrics"))
            .basic_auth("prometheus", Some(TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(basic.status(), 401, "only a Bearer token is accepted");

        let right = new_client()
            .get(app.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), 200);
        let content_type = right.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        assert!(right.headers().get("set-cookie").is_none());
        let samples = parse_exposition(&right.text().await.unwrap());
        assert_eq!(value(&samples, "chorus_build_info", &[]), Some(1.0));
    }

    #[actix_web::test]
    async fn sqlite() {
        check(with_token(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(with_token(Backend::Postgres).await).await
    }
}

backend_test!(
    async fn without_a_configured_token_metrics_are_not_found(app) {
        let plain = new_client().get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(plain.status(), 404);
        let guessed = new_client()
            .get(app.url("/metrics"))
            .bearer_auth("")
            .send()
            .await
            .unwrap();
        assert_eq!(guessed.status(), 404, "an empty token unlocks nothing");
        app.login_as("admin@example.com", "admin").await;
        assert_eq!(app.get("/metrics").await.status(), 404, "not even for an admin");
    }
);

mod counters {
    use super::*;

    async fn check(app: TestApp) {
        let labels_login = [("method", "GET"), ("route", "/login"), ("status", "2xx")];
        let before = scrape(&app).await;
        let start = value(&before, "chorus_http_requests_total", &labels_login).unwrap_or(0.0);
        for _ in 0..3 {
            assert_eq!(app.get("/login").await.status(), 200);
        }
        let secret_path = "/unsubscribe/a-secret-token-in-the-path";
        assert_eq!(app.get(secret_path).await.status(), 404);
        assert_eq!(app.get("/no/such/page/42").await.status(), 404);
        let id = app.create_user("a@example.com", "A", "employee").await;
        let _ = id;
        let client = app.login_client("a@example.com").await;
        let receipt = client
            .get(app.url("/me/receipts/00000000-0000-4000-8000-000000000000"))
            .send()
            .await
            .unwrap();
        assert_eq!(receipt.status(), 404);

        let response = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        let after = parse_exposition(&text);
        assert_eq!(
            value(&after, "chorus_http_requests_total", &labels_login),
            Some(start + 3.0 + 1.0),
            "three GETs here and one inside login_client"
        );
        assert_eq!(
            value(
                &after,
                "chorus_http_request_duration_seconds_count",
                &labels_login
            ),
            Some(start + 4.0)
        );
        assert_eq!(
            value(
                &after,
                "chorus_http_request_duration_seconds_bucket",
                &[
                    ("route", "/login"),
                    ("method", "GET"),
                    ("status", "2xx"),
                    ("le", "+Inf")
                ]
            ),
            Some(start + 4.0)
        );
        // Routes are patterns, never raw paths: ids and tokens stay out.
        assert!(
            value(
                &after,
                "chorus_http_requests_total",
                &[("route", "/me/receipts/{id}"), ("status", "4xx")]
            )
            .is_some(),
            "{text}"
        );
        assert!(
            value(
                &after,
                "chorus_http_requests_total",
                &[("route", "unmatched")]
            )
            .is_some()
        );
        assert!(!text.contains("a-secret-token"), "no raw path in labels");
        assert!(!text.contains("/no/such/page"));
        assert!(!text.contains("00000000-0000"));
        let login_post = value(
            &after,
            "chorus_http_requests_total",
            &[("method", "POST"), ("route", "/login"), ("status", "3xx")],
        );
        assert_eq!(login_post, Some(1.0), "the login answered 303 once");
        // Histogram buckets only grow.
        let buckets: Vec<f64> = after
            .iter()
            .filter(|s| {
                s.name == "chorus_http_request_duration_seconds_bucket"
                    && s.labels.get("route").map(String::as_str) == Some("/login")
                    && s.labels.get("method").map(String::as_str) == Some("GET")
            })
            .map(|s| s.value)
            .collect();
        assert_eq!(
            buckets.len(),
            chorus::ops::metrics::LATENCY_BUCKETS.len() + 1
        );
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }

    #[actix_web::test]
    async fn sqlite() {
        check(with_token(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(with_token(Backend::Postgres).await).await
    }
}

mod outbox_depth {
    use super::*;

    async fn check(app: TestApp) {
        let now = app.clock.now_naive();
        app.db(move |conn| {
            for n in 0..3 {
                outbox::enqueue(
                    conn,
                    &outbox::NewMessage {
                        kind: outbox::Kind::Invitation,
                        user_id: None,
                        recipient: format!("person{n}@example.com"),
                        dedupe_key: format!("metrics-test-{n}"),
                        payload: "{}".into(),
                        send_before: None,
                        message_id: format!("<metrics-{n}@localhost>"),
                    },
                    now,
                )?;
            }
            Ok(())
        })
        .await;
        let samples = scrape(&app).await;
        let depth = |status| value(&samples, "chorus_outbox_messages", &[("status", status)]);
        assert_eq!(depth("pending"), Some(3.0));
        for status in ["sending", "sent", "failed", "cancelled"] {
            assert_eq!(
                depth(status),
                Some(0.0),
                "{status} is listed even when empty"
            );
        }
        assert_eq!(value(&samples, "chorus_database_up", &[]), Some(1.0));
        assert_eq!(
            value(&samples, "chorus_db_pool_max_connections", &[]),
            Some(4.0),
            "the test pool size"
        );
        let open = value(&samples, "chorus_db_pool_connections", &[]).unwrap();
        let idle = value(&samples, "chorus_db_pool_idle_connections", &[]).unwrap();
        assert!(
            (1.0..=4.0).contains(&open) && idle <= open,
            "{open} open, {idle} idle"
        );
    }

    #[actix_web::test]
    async fn sqlite() {
        check(with_token(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(with_token(Backend::Postgres).await).await
    }
}

mod kept_posts_are_gauged_with_the_memory_they_hold {
    use super::*;
    use chorus::domain::platforms::Platform;

    /// The gauges an operator reads to see what the queue's kept posts
    /// cost in memory: the count of posts, and bytes that grow with them.
    async fn check(mut app: TestApp) {
        app.roomy_hub_caps().await;
        let me = app.login_as("emp@example.com", "employee").await;
        app.agree(me, Platform::X, None).await;
        for n in 0..3 {
            app.publish_post(small_post(&format!("first {n}")), 1).await;
        }
        let queue = app.client.get(app.url("/queue")).send().await.unwrap();
        assert_eq!(queue.status(), 200);
        let samples = scrape(&app).await;
        assert_eq!(value(&samples, "chorus_live_posts", &[]), Some(3.0));
        let three = value(&samples, "chorus_live_posts_bytes", &[]).unwrap();
        assert!(three > 0.0, "three kept posts hold memory");

        for n in 0..30 {
            app.publish_post(small_post(&format!("more {n}")), 1).await;
        }
        app.client.get(app.url("/queue")).send().await.unwrap();
        let samples = scrape(&app).await;
        assert_eq!(value(&samples, "chorus_live_posts", &[]), Some(33.0));
        let more = value(&samples, "chorus_live_posts_bytes", &[]).unwrap();
        assert!(more > three, "{more} bytes for 33 posts, {three} for 3");
    }

    #[actix_web::test]
    async fn sqlite() {
        check(with_token(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(with_token(Backend::Postgres).await).await
    }
}

mod views_that_miss_the_kept_posts_at_once_read_them_once {
    use super::*;
    use chorus::domain::platforms::Platform;
    use diesel::Connection;

    const VIEWS: usize = 24;

    /// Everyone's queue after a publish: each view finds the kept posts
    /// stale at once, yet the process reads them once and the others wait
    /// for that read (a process holds one copy of the posts, never one per
    /// view). What an operator sees: one read per change, on /metrics.
    async fn check(mut app: TestApp) {
        app.roomy_hub_caps().await;
        let me = app.login_as("emp@example.com", "employee").await;
        app.agree(me, Platform::X, None).await;
        // Enough posts that reading them takes long enough for the other
        // views to miss them while the first one reads (each read for
        // itself before: two or more reads here).
        let now = app.clock.now_naive();
        app.db(move |conn| {
            conn.transaction(|conn| {
                for n in 0..300 {
                    let input = small_post(&format!("post {n}"));
                    let id = store::posts::create_draft(conn, &input, me, now)?;
                    store::posts::schedule(conn, id, now, chrono_tz::UTC, me, now)?;
                }
                Ok(())
            })
        })
        .await;
        let reads = |samples: &[Sample]| value(samples, "chorus_live_posts_reads_total", &[]);
        assert_eq!(reads(&scrape(&app).await), Some(0.0), "no view yet");

        let views_at_once = || async {
            let views = (0..VIEWS).map(|_| app.client.get(app.url("/queue")).send());
            for view in futures_util::future::join_all(views).await {
                assert_eq!(view.unwrap().status(), 200);
            }
        };
        views_at_once().await;
        let samples = scrape(&app).await;
        assert_eq!(reads(&samples), Some(1.0), "{VIEWS} first views, one read");
        assert_eq!(value(&samples, "chorus_live_posts", &[]), Some(300.0));

        app.publish_post(small_post("news"), me).await;
        views_at_once().await;
        let samples = scrape(&app).await;
        assert_eq!(reads(&samples), Some(2.0), "one more read after a publish");
        assert_eq!(value(&samples, "chorus_live_posts", &[]), Some(301.0));
    }

    #[actix_web::test]
    async fn sqlite() {
        check(with_token(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(with_token(Backend::Postgres).await).await
    }
}

mod jobs {
    use super::*;

    async fn check(app: TestApp) {
        crate::email::digest_ready(&app).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let samples = scrape(&app).await;
            let digests = value(&samples, "chorus_digests_sent_total", &[]).unwrap();
            let runs = |job| {
                value(
                    &samples,
                    "chorus_job_runs_total",
                    &[("job", job), ("outcome", "ok")],
                )
                .unwrap()
            };
            if digests == 1.0 {
                assert!(runs("publishing") >= 1.0);
                assert!(runs("digest_planning") >= 1.0);
                // Planned from the posts the process keeps for queues (no
                // copy of the rounds' own beside them), read again only
                // after a change: more rounds, no more reads.
                assert_eq!(value(&samples, "chorus_live_posts", &[]), Some(1.0));
                let reads = value(&samples, "chorus_live_posts_reads_total", &[]);
                actix_web::rt::time::sleep(Duration::from_millis(2_500)).await;
                let later = scrape(&app).await;
                let planning = |samples: &[Sample]| {
                    value(
                        samples,
                        "chorus_job_runs_total",
                        &[("job", "digest_planning"), ("outcome", "ok")],
                    )
                    .unwrap()
                };
                assert!(planning(&later) > planning(&samples), "more rounds ran");
                assert_eq!(value(&later, "chorus_live_posts_reads_total", &[]), reads);
                assert!(runs("delivery") >= 1.0);
                assert_eq!(
                    value(&samples, "chorus_emails_total", &[("outcome", "sent")]),
                    Some(1.0)
                );
                assert_eq!(
                    value(&samples, "chorus_outbox_messages", &[("status", "sent")]),
                    Some(1.0)
                );
                assert_eq!(
                    value(
                        &samples,
                        "chorus_job_runs_total",
                        &[("job", "delivery"), ("outcome", "error")]
                    ),
                    Some(0.0)
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no digest sent within 20 s"
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn app_with_jobs(backend: Backend) -> TestApp {
        spawn_app_with(backend, |c| {
            c.metrics_token = Some(TOKEN.into());
            c.jobs_interval_seconds = 1;
        })
        .await
    }

    #[actix_web::test]
    async fn sqlite() {
        check(app_with_jobs(Backend::Sqlite).await).await
    }

    #[actix_web::test]
    #[cfg_attr(
        not(chorus_pg_tests),
        ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
    )]
    async fn postgres() {
        check(app_with_jobs(Backend::Postgres).await).await
    }
}

#[actix_web::test]
async fn a_separate_metrics_address_serves_metrics_without_a_token() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.metrics_address = Some("127.0.0.1:0".into());
    })
    .await;
    let port = app.metrics_port.expect("a metrics listener");
    assert_ne!(port, 0);
    let client = new_client();
    let response = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let samples = parse_exposition(&response.text().await.unwrap());
    assert_eq!(value(&samples, "chorus_database_up", &[]), Some(1.0));
    let other = client
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        404,
        "the metrics address serves nothing else"
    );
    assert_eq!(
        app.get("/metrics").await.status(),
        404,
        "without a token, not on the main address"
    );
}

#[test]
fn the_parser_refuses_what_prometheus_would_refuse() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"a\\\"b\"} 3\n";
    let samples = parse_exposition(ok);
    assert_eq!(samples[0].labels["x"], "a\"b");
    for bad in [
        "a_total 1\n",                                 // no TYPE
        "# TYPE a_total counter\na_total{x=a} 1\n",    // unquoted
        "# TYPE a_total counter\na_total{x=\"a\"}1\n", // no space
        "# TYPE a_total counter\na_total one\n",       // not a number
        "# TYPE a_total counter\n9a 1\n",              // bad name
    ] {
        let result = std::panic::catch_unwind(|| parse_exposition(bad));
        assert!(result.is_err(), "accepted {bad:?}");
    }
}
