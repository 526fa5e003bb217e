//! Kill -9 at random moments: `chorus serve` is killed and restarted 20
//! times while it plans and delivers digests (to a real SMTP server on
//! loopback) and publishes scheduled posts. Afterwards every digest has been
//! delivered, no Message-ID twice beyond the messages in flight at a kill, no
//! post published twice, and the consent ledger verifies.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::domain::schedule::Caps;
use chorus::store::{self, consent, outbox, posts};
use rand::{Rng, SeedableRng};

use crate::backend_test;
use crate::helpers::*;
use crate::smtp_server::SmtpServer;

const PEOPLE: usize = 30;
const KILLS: usize = 20;

fn chorus(app: &TestApp, smtp: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chorus"));
    command
        .env("CHORUS_DATA_DIR", &app.config.data_dir)
        .env("CHORUS_BIND", "127.0.0.1:0")
        .env("CHORUS_BASE_URL", "https://chorus.example.com")
        .env("CHORUS_SMTP_URL", smtp)
        .env("CHORUS_MAIL_FROM", "Chorus <chorus@example.com>")
        .env("CHORUS_JOBS_INTERVAL_SECONDS", "1")
        .env("CHORUS_MAIL_LEASE_SECONDS", "2")
        .env("CHORUS_MAIL_RETRY_SECONDS", "1")
        .env("CHORUS_LOG", "error")
        .env_remove("CHORUS_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(db) = &app.database {
        command.env("CHORUS_DATABASE_URL", &db.url);
    }
    command
}

backend_test!(
    async fn killing_serve_twenty_times_loses_nothing_and_repeats_only_what_was_in_flight(app) {
        let server = SmtpServer::start().await;
        let hub = app.create_user("hub@example.com", "Hub", "comms,admin").await;
        let mut people = Vec::new();
        for i in 0..PEOPLE {
            people.push(app.create_user(&format!("p{i:02}@example.com"), "Person", "employee").await);
        }
        let now = app.clock.now_naive();
        let everyone = people.clone();
        let scheduled = app
            .db(move |conn| {
                store::policy::publish(conn, "Policy", false, hub, now)?;
                posts::set_caps(conn, Platform::X, Caps { per_day: 100, per_week: 500 })?;
                for person in &everyone {
                    for purpose in [Purpose::ShareSuggestions(Platform::X), Purpose::EmailDigest] {
                        consent::record_choice(conn, *person, purpose, Choice::Yes, None, "test", now)?;
                    }
                    store::users::set_digest_settings(conn, *person, &store::users::DigestSettings {
                        frequency: "daily".into(), weekday: 1, hour: 0, max_posts: 5, last_digest_at: None,
                    })?;
                }
                let mut scheduled = Vec::new();
                for n in 0..12 {
                    let id = posts::create_draft(conn, &posts::PostInput {
                        title: format!("Post {n}"), link: format!("https://example.com/{n}"), base_text: "News".into(),
                        captions: vec![(Platform::X, vec!["News".into()])], target_all: true, department_ids: vec![], expires_at: None,
                    }, hub, now)?;
                    // Half are out already (digests list them); half publish during the kills.
                    let at = if n < 6 { now } else { now + chrono::Duration::seconds(2 + n as i64) };
                    posts::schedule(conn, id, at, chrono_tz::UTC, hub, now)?;
                    if n >= 6 {
                        scheduled.push(id);
                    }
                }
                Ok(scheduled)
            })
            .await;

        let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
        for _ in 0..KILLS {
            let mut child = chorus(&app, &server.url()).arg("serve").spawn().unwrap();
            let alive = StdDuration::from_millis(rng.random_range(150..1200));
            actix_web::rt::time::sleep(alive).await;
            child.kill().unwrap(); // SIGKILL: no cleanup, no graceful shutdown
            child.wait().unwrap();
        }
        // One last process runs until everything due is done.
        let mut last = chorus(&app, &server.url()).arg("serve").spawn().unwrap();
        let mut done = false;
        for _ in 0..60 {
            actix_web::rt::time::sleep(StdDuration::from_millis(500)).await;
            let rows = app.db(|conn| {
                use chorus::db::schema::outbox::dsl::*;
                use diesel::prelude::*;
                Ok(outbox.select((kind, status)).load::<(String, String)>(conn)?)
            }).await;
            let digests = rows.iter().filter(|(k, _)| k == "digest").count();
            let published = app.db(|conn| posts::list(conn, Some(chorus::domain::post::PostStatus::Published), 100)).await.len();
            if digests == PEOPLE && rows.iter().all(|(_, s)| s == outbox::SENT) && published == 12 {
                done = true;
                break;
            }
        }
        last.kill().unwrap();
        last.wait().unwrap();
        assert!(done, "every due digest delivered and every post published");

        // Each person got their digest; a Message-ID arrives twice only when
        // its sender was killed mid-send: at most the emails one process has
        // in flight (CHORUS_MAIL_CONCURRENCY) per kill.
        let received = server.received();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for message in &received {
            let id = message.data.lines().find(|l| l.starts_with("Message-ID:")).unwrap_or_default().to_string();
            *by_id.entry(id).or_default() += 1;
        }
        let repeated: usize = by_id.values().map(|n| n - 1).sum();
        assert_eq!(by_id.len(), PEOPLE, "one digest per person");
        let in_flight = chorus::config::Config::defaults().mail_concurrency;
        assert!(repeated <= KILLS * in_flight, "{repeated} repeats for {KILLS} kills with {in_flight} in flight each");
        eprintln!("chaos: {KILLS} kills, {} messages received, {repeated} repeated in flight", received.len());

        for id in scheduled {
            let log = app.db(move |conn| store::audit::for_subject(conn, &format!("post:{id}"))).await;
            assert_eq!(log.iter().filter(|(a, _)| a == "post.published").count(), 1, "post {id} published once");
        }
        let verify = chorus(&app, &server.url()).args(["consent", "verify"]).output().unwrap();
        assert!(verify.status.success());
        let _ = people;
    }
);
