//! Contention: two servers on one database, one of them also planning and
//! delivering digests (to a real SMTP server that answers like a distant
//! relay) and publishing scheduled posts, while people use every kind of
//! state-changing request at once: sign-in and out, password links, the
//! queue, consent, preferences, suggestions, the hub, admin pages, the API
//! and one-click unsubscribe from the digests as they arrive.
//!
//! No request may answer 5xx, and the log of the server running the jobs
//! may not show SQLite's "database is locked" nor PostgreSQL's deadlock or
//! serialization failures. Every kind of request must also have succeeded
//! at least once, so that the test cannot pass by sending nothing valid.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration as StdDuration;

use chorus::demo::{DEMO_PASSWORD, DemoSize, generate};
use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::domain::post::PostStatus;
use chorus::store::{self, api_tokens, consent, outbox, posts};
use serde_json::json;

use crate::backend_test;
use crate::helpers::*;
use crate::smtp_server::SmtpServer;

const EMPLOYEES: usize = 60;
/// Rounds of its requests each person makes.
const ROUNDS: usize = 5;
/// People signed in at once, half on each server.
const PEOPLE: usize = 6;
/// Digests unsubscribed from, one click each, as they arrive.
const UNSUBSCRIBES: usize = 12;

/// What came back, by kind of request.
#[derive(Default)]
struct Tally {
    succeeded: Mutex<BTreeMap<&'static str, usize>>,
    failed: Mutex<Vec<String>>,
}

impl Tally {
    fn note(&self, kind: &'static str, status: u16) {
        if status >= 500 {
            self.failed
                .lock()
                .unwrap()
                .push(format!("{kind}: {status}"));
        } else if status < 400 {
            *self.succeeded.lock().unwrap().entry(kind).or_default() += 1;
        } else {
            self.succeeded.lock().unwrap().entry(kind).or_default();
        }
    }
}

/// One signed-in (or not yet) browser on one server.
struct Browser<'a> {
    base: String,
    client: reqwest::Client,
    tally: &'a Tally,
}

impl<'a> Browser<'a> {
    fn new(base: &str, tally: &'a Tally) -> Browser<'a> {
        Browser {
            base: base.to_string(),
            client: new_client(),
            tally,
        }
    }

    async fn token(&self, page: &str) -> String {
        let body = body_text(self.client.get(format!("{}{page}", self.base))).await;
        extract_csrf_token(&body).unwrap_or_default()
    }

    /// Posts a form with a CSRF token from `page`; the response's status
    /// and Location.
    async fn post(
        &self,
        kind: &'static str,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let token = self.token(page).await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", self.base.clone())
            .form(&all)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        self.tally.note(kind, status);
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, location)
    }

    async fn api(
        &self,
        kind: &'static str,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        self.tally.note(kind, response.status().as_u16());
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default()
    }

    async fn login(&self, email: &str) {
        self.post(
            "login",
            "/login",
            "/login",
            &[("email", email), ("password", DEMO_PASSWORD)],
        )
        .await;
    }
}

async fn employee(base: &str, tally: &Tally, email: String, posts: &[i64], n: usize) {
    let me = Browser::new(base, tally);
    me.login(&email).await;
    for round in 0..ROUNDS {
        let shared = posts[(n + round) % posts.len()];
        let skipped = posts[(n + round + 1) % posts.len()];
        me.post("share", "/queue", &format!("/queue/{shared}/share/x"), &[])
            .await;
        me.post(
            "dismiss",
            "/queue",
            &format!("/queue/{skipped}/dismiss"),
            &[],
        )
        .await;
        me.post(
            "restore",
            "/queue",
            &format!("/queue/{skipped}/restore"),
            &[],
        )
        .await;
        for choice in ["no", "yes"] {
            me.post(
                "consent",
                "/me/consent",
                "/me/consent",
                &[
                    ("purpose", "share_suggestions"),
                    ("platform", "x"),
                    ("choice", choice),
                    ("instance", ""),
                ],
            )
            .await;
        }
        me.post(
            "preferences",
            "/me/preferences",
            "/me/preferences",
            &[
                (
                    "timezone",
                    if round % 2 == 0 {
                        "Europe/Berlin"
                    } else {
                        "UTC"
                    },
                ),
                ("quiet_from", ""),
                ("quiet_until", ""),
            ],
        )
        .await;
        let link = format!("https://example.com/suggested/{n}/{round}");
        me.post(
            "suggest",
            "/suggest",
            "/suggest",
            &[("link", &link), ("note", "Worth sharing, I think")],
        )
        .await;
        let stranger = Browser::new(base, tally);
        stranger
            .post(
                "password forgot",
                "/password/forgot",
                "/password/forgot",
                &[("email", &email)],
            )
            .await;
        if round % 2 == 1 {
            me.post("logout", "/", "/logout", &[]).await;
            me.login(&email).await;
        }
    }
}

fn post_fields(title: &str) -> Vec<(&str, &str)> {
    vec![
        ("title", title),
        ("link", "https://example.com/news/contention"),
        ("base_text", "Our report is out."),
        ("use_x", "on"),
        ("caption_x_1", "Our report is out"),
        ("target", "all"),
        ("timezone", "UTC"),
        ("action", "save"),
    ]
}

async fn comms(base: &str, tally: &Tally, api_token: &str) {
    let me = Browser::new(base, tally);
    me.login("comms@demo.example").await;
    for round in 0..ROUNDS {
        let title = format!("Contention {round} on {base}");
        let (_, location) = me
            .post(
                "hub create",
                "/hub/posts/new",
                "/hub/posts/new",
                &post_fields(&title),
            )
            .await;
        let id: String = location
            .trim_start_matches("/hub/posts/")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let page = format!("/hub/posts/{id}");
        me.post(
            "hub edit",
            &page,
            &page,
            &post_fields(&format!("{title}, edited")),
        )
        .await;
        me.post(
            "hub publish",
            &page,
            &format!("{page}/schedule"),
            &[("now", "on"), ("timezone", "UTC")],
        )
        .await;
        me.post(
            "hub withdraw",
            &page,
            &format!("{page}/withdraw"),
            &[("reason", "The figures changed")],
        )
        .await;
        let suggestions = body_text(me.client.get(format!("{base}/hub/suggestions"))).await;
        if let Some(at) = suggestions.find("/accept\"") {
            let start = suggestions[..at].rfind("/hub/suggestions/").unwrap();
            let path = suggestions[start..at + "/accept".len()].to_string();
            me.post("suggestion accept", "/hub/suggestions", &path, &[])
                .await;
        }

        let created = me.api("api create", api_token, "/api/v1/posts", json!({
            "title": format!("API {round} on {base}"), "link": "https://example.com/api",
            "base_text": "From the API", "platforms": [{"platform": "x", "variants": ["From the API"]}],
        })).await;
        if let Some(id) = created["id"].as_i64() {
            me.api(
                "api publish",
                api_token,
                &format!("/api/v1/posts/{id}/schedule"),
                json!({"now": true}),
            )
            .await;
            me.api(
                "api withdraw",
                api_token,
                &format!("/api/v1/posts/{id}/withdraw"),
                json!({"reason": "Superseded"}),
            )
            .await;
        }
    }
}

async fn admin(base: &str, tally: &Tally, people: &[(i64, String)], tag: usize) {
    let me = Browser::new(base, tally);
    me.login("admin@demo.example").await;
    for round in 0..ROUNDS {
        let email = format!("new-{tag}-{round}@demo.example");
        me.post(
            "admin people create",
            "/admin/people/new",
            "/admin/people/new",
            &[
                ("email", &email),
                ("name", "New Person"),
                ("department", "Sales"),
                ("role_employee", "on"),
            ],
        )
        .await;
        let (id, email) = &people[round % people.len()];
        let page = format!("/admin/people/{id}");
        let name = format!("Renamed {round}");
        me.post(
            "admin people update",
            &page,
            &page,
            &[
                ("email", email),
                ("name", &name),
                ("department", "Research"),
                ("role_employee", "on"),
            ],
        )
        .await;
        let mut fields: Vec<(String, String)> = vec![
            ("org_name".into(), "Demo Org".into()),
            ("platform".into(), "x".into()),
            ("platform".into(), "linkedin".into()),
            ("consent_language".into(), "en".into()),
            ("jurisdiction".into(), "EU".into()),
            ("timezone".into(), "UTC".into()),
            ("disclosure_template".into(), "#{org}Employee".into()),
        ];
        for p in Platform::ALL {
            fields.push((format!("per_day_{}", p.slug()), "50".into()));
            fields.push((format!("per_week_{}", p.slug()), (200 + round).to_string()));
        }
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        me.post(
            "admin settings",
            "/admin/settings",
            "/admin/settings",
            &borrowed,
        )
        .await;
        me.post(
            "admin token",
            "/me/tokens",
            "/me/tokens",
            &[
                ("name", &format!("t{round}")),
                ("scope", "read"),
                ("expires", "30"),
            ],
        )
        .await;
    }
}

/// Unsubscribes from the first digests to arrive, one click each, as a
/// mail client does (no cookie, no CSRF token), on both servers in turn.
async fn unsubscriber(bases: [&str; 2], tally: &Tally, server: &SmtpServer) {
    let client = new_client();
    let mut done = 0;
    for _ in 0..600 {
        let received = server.received();
        let links: Vec<String> = received
            .iter()
            .filter_map(|m| {
                m.data.find("/unsubscribe/").map(|at| {
                    m.data[at..]
                        .split(['>', '\r', '\n', ' ', '"'])
                        .next()
                        .unwrap()
                        .to_string()
                })
            })
            .collect();
        while done < links.len().min(UNSUBSCRIBES) {
            let response = client
                .post(format!("{}{}", bases[done % 2], links[done]))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            tally.note("unsubscribe", response.status().as_u16());
            done += 1;
        }
        if done == UNSUBSCRIBES {
            return;
        }
        actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

backend_test!(
    async fn every_kind_of_write_at_once_with_delivery_and_publishing_never_fails(app) {
        let server = SmtpServer::start().await;
        // A relay some way off: delivery takes a while, its answers are
        // written one after another while the requests go on.
        server.set_delay(StdDuration::from_millis(40));
        let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = DemoSize { employees: EMPLOYEES, posts: 12, weeks: 2, seed: 5, shares: None };
        let (published, people, api_token) = app
            .db(move |conn| {
                generate(conn, size, &hash, now)?;
                use chorus::db::schema::users;
                use diesel::prelude::*;
                let people: Vec<(i64, String)> = users::table
                    .filter(users::email.like("employee%"))
                    .order(users::id)
                    .select((users::id, users::email))
                    .load(conn)?;
                let comms: i64 = users::table.filter(users::email.eq("comms@demo.example")).select(users::id).first(conn)?;
                for (person, _) in &people {
                    for purpose in [Purpose::ShareSuggestions(Platform::X), Purpose::EmailDigest] {
                        consent::record_choice(conn, *person, purpose, Choice::Yes, None, "test", now)?;
                    }
                    store::users::set_digest_settings(conn, *person, &store::users::DigestSettings {
                        frequency: "daily".into(), weekday: 1, hour: 0, max_posts: 5, last_digest_at: None,
                    })?;
                }
                // Published by the jobs while the requests go on.
                for n in 0..6 {
                    let id = posts::create_draft(conn, &posts::PostInput {
                        title: format!("Scheduled {n}"), link: format!("https://example.com/s/{n}"), base_text: "News".into(),
                        captions: vec![(Platform::X, vec!["News".into()])], target_all: true, department_ids: vec![], expires_at: None,
                    }, comms, now)?;
                    posts::schedule(conn, id, now + chrono::Duration::seconds(2 + n), chrono_tz::UTC, comms, now)?;
                }
                let published: Vec<i64> = posts::list(conn, Some(PostStatus::Published), 100)?.iter().map(|p| p.id).collect();
                let (_, api_token) = api_tokens::create(conn, &api_tokens::NewToken {
                    kind: TokenKind::Personal, owner_id: comms, name: "contention", scope: Scope::ReadWrite, expires_at: None,
                }, now)?;
                Ok((published, people, api_token))
            })
            .await;
        assert!(published.len() >= 3, "the demo publishes posts");

        // The second server runs the jobs; its log is kept.
        let port = free_port();
        let jobs_base = format!("http://127.0.0.1:{port}");
        let log_path = app.config.data_dir.join("jobs-server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_chorus"));
        command
            .arg("serve")
            .env("CHORUS_DATA_DIR", &app.config.data_dir)
            .env("CHORUS_BIND", format!("127.0.0.1:{port}"))
            .env("CHORUS_BASE_URL", &jobs_base)
            .env("CHORUS_SMTP_URL", server.url())
            .env("CHORUS_MAIL_FROM", "Chorus <chorus@example.com>")
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "1")
            .env("CHORUS_MAIL_CONCURRENCY", "2")
            .env("CHORUS_LOG", "warn")
            .env_remove("CHORUS_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        if let Some(db) = &app.database {
            command.env("CHORUS_DATABASE_URL", &db.url);
        }
        let mut jobs = command.spawn().unwrap();
        let probe = new_client();
        for _ in 0..200 {
            if probe.get(format!("{jobs_base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
        }

        let tally = Tally::default();
        let bases = [app.address.as_str(), jobs_base.as_str()];
        let mut work: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = Vec::new();
        for n in 0..PEOPLE {
            work.push(Box::pin(employee(bases[n % 2], &tally, people[n].1.clone(), &published, n)));
        }
        for (n, base) in bases.into_iter().enumerate() {
            work.push(Box::pin(comms(base, &tally, &api_token)));
            work.push(Box::pin(admin(base, &tally, &people[PEOPLE + n * ROUNDS..], n)));
        }
        work.push(Box::pin(unsubscriber(bases, &tally, &server)));
        futures_util::future::join_all(work).await;

        // The jobs finish what is due: every email sent, every post out.
        let mut settled = false;
        for _ in 0..120 {
            let statuses = app.db(|conn| {
                use chorus::db::schema::outbox::dsl::*;
                use diesel::prelude::*;
                Ok(outbox.select(status).load::<String>(conn)?)
            }).await;
            let scheduled = app.db(|conn| posts::list(conn, Some(PostStatus::Scheduled), 100)).await.len();
            if scheduled == 0 && statuses.iter().all(|s| s != outbox::PENDING && s != outbox::SENDING) {
                settled = true;
                break;
            }
            actix_web::rt::time::sleep(StdDuration::from_millis(250)).await;
        }
        jobs.kill().unwrap();
        jobs.wait().unwrap();
        let log = std::fs::read_to_string(&log_path).unwrap();

        let failed = tally.failed.lock().unwrap().clone();
        assert!(failed.is_empty(), "requests answered 5xx: {failed:?}\n{log}");
        for bad in ["database is locked", "deadlock detected", "could not serialize"] {
            assert!(!log.contains(bad), "the jobs server logged {bad:?}:\n{log}");
        }
        assert!(settled, "every email due was sent and every scheduled post published:\n{log}");
        let succeeded = tally.succeeded.lock().unwrap().clone();
        let never: Vec<_> = succeeded.iter().filter(|(_, n)| **n == 0).map(|(kind, _)| *kind).collect();
        assert!(never.is_empty(), "never succeeded: {never:?} ({succeeded:?})");
        assert_eq!(succeeded.len(), 22, "every kind of request was made: {succeeded:?}");
        let digests = server.received().iter().filter(|m| m.data.contains("/unsubscribe/")).count();
        assert!(digests >= EMPLOYEES - UNSUBSCRIBES, "{digests} digests delivered");
    }
);
