//! Kill -9 at random moments: `chorus serve` is killed and restarted 20
//! times while it plans and delivers digests (to a real SMTP server on
//! loopback) and publishes scheduled posts. Afterwards every digest has been
//! delivered, each kill repeated at most one message per SMTP session (the
//! one it had sent but not yet marked sent), no post was published twice,
//! and the consent ledger verifies. Each published post is also announced
//! to a chat channel (a webhook receiver on loopback): every announcement
//! arrives, each kill repeating at most one per delivery slot.

use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::domain::schedule::Caps;
use chorus::store::{self, consent, outbox, posts};
use rand::{Rng, SeedableRng};

use crate::backend_test;
use crate::chat_receiver::Receiver;
use crate::helpers::*;
use crate::smtp_server::SmtpServer;

const PEOPLE: usize = 30;
const KILLS: usize = 20;
/// SMTP sessions each process keeps (CHORUS_MAIL_CONCURRENCY).
const SESSIONS: usize = 4;

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
        .env("CHORUS_MAIL_CONCURRENCY", SESSIONS.to_string())
        .env("CHORUS_LOG", "error")
        .env("CHORUS_ALLOW_PRIVATE_FETCH", "127.0.0.1")
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
        // A relay some way off: kills land while emails are in flight.
        server.set_delay(StdDuration::from_millis(50));
        let receiver = Receiver::start().await;
        // A chat tool some way off too: kills land while posts are in flight.
        receiver.set_latency(StdDuration::from_millis(50));
        let hub = app.create_user("hub@example.com", "Hub", "comms,admin").await;
        let sealed = app.state.chat_secrets.seal(&receiver.url("/hook"));
        let now = app.clock.now_naive();
        app.db(move |conn| {
            store::chat_channels::connect(conn, &store::chat_channels::NewChannel {
                kind: "webhook", name: "News", url_sealed: &sealed, url_hint: "127.0.0.1 …hook",
                target_all: true, department_ids: &[],
            }, hub, now)
        })
        .await
        .expect("the channel is connected");
        let mut people = Vec::new();
        for i in 0..PEOPLE {
            people.push(app.create_user(&format!("p{i:02}@example.com"), "Person", "employee").await);
        }
        let now = app.clock.now_naive();
        let everyone = people.clone();
        let scheduled = app
            .db(move |conn| {
                store::policy::publish(conn, "Policy", false, hub, now)?;
                chorus::store::hub_caps::set_caps(conn, Platform::X, Caps { per_day: 100, per_week: 500 })?;
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
        // How many messages the SMTP server had received when each process
        // was killed: what arrived in between came from that process.
        let mut received_by_kill = Vec::new();
        let mut announced_by_kill = Vec::new();
        for _ in 0..KILLS {
            let mut child = chorus(&app, &server.url()).arg("serve").spawn().unwrap();
            let alive = StdDuration::from_millis(rng.random_range(150..1200));
            actix_web::rt::time::sleep(alive).await;
            child.kill().unwrap(); // SIGKILL: no cleanup, no graceful shutdown
            child.wait().unwrap();
            // A message whose last line was on its way is taken meanwhile.
            actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
            received_by_kill.push(server.received().len());
            announced_by_kill.push(receiver.received().len());
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
            let announcements = rows.iter().filter(|(k, _)| k == outbox::ANNOUNCEMENT).count();
            if digests == PEOPLE && announcements == 12 && rows.iter().all(|(_, s)| s == outbox::SENT) && published == 12 {
                done = true;
                break;
            }
        }
        last.kill().unwrap();
        last.wait().unwrap();
        assert!(done, "every due digest delivered, every post published and announced");

        // Each person got their digest. A message arrives again only when
        // the process that sent it was killed before it marked it sent, and
        // each SMTP session waits for that mark before its next message: at
        // most one repeat per session per kill.
        let received = server.received();
        let ids: Vec<String> = received
            .iter()
            .map(|m| m.data.lines().find(|l| l.starts_with("Message-ID:")).unwrap_or_default().to_string())
            .collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), PEOPLE, "one digest per person");
        // A copy sent again later was not marked sent by the process that
        // sent this one: count those per process.
        let mut unmarked = vec![0_usize; KILLS + 1];
        for (n, id) in ids.iter().enumerate() {
            if ids[n + 1..].contains(id) {
                let process = received_by_kill.iter().take_while(|&&upto| upto <= n).count();
                unmarked[process] += 1;
            }
        }
        let repeated: usize = unmarked.iter().sum();
        assert_eq!(repeated, received.len() - PEOPLE);
        for (kill, count) in unmarked.iter().enumerate().take(KILLS) {
            assert!(*count <= SESSIONS, "kill {kill}: {count} messages sent again, with {SESSIONS} SMTP sessions ({unmarked:?})");
        }
        assert_eq!(unmarked[KILLS], 0, "the process left running repeats nothing");
        assert!(repeated <= KILLS * SESSIONS, "{repeated} repeats for {KILLS} kills with {SESSIONS} sessions each");
        eprintln!("chaos: {KILLS} kills, {} messages received, repeats per kill {unmarked:?}", received.len());

        // Every post was announced; a copy again only for a post that was
        // in flight when its process was killed: at most one per slot.
        let announced: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.body["title"].as_str().unwrap_or_default().to_string())
            .collect();
        let distinct: std::collections::HashSet<&String> = announced.iter().collect();
        assert_eq!(distinct.len(), 12, "every post announced");
        let mut unmarked = vec![0_usize; KILLS + 1];
        for (n, title) in announced.iter().enumerate() {
            if announced[n + 1..].contains(title) {
                let process = announced_by_kill.iter().take_while(|&&upto| upto <= n).count();
                unmarked[process] += 1;
            }
        }
        for (kill, count) in unmarked.iter().enumerate().take(KILLS) {
            assert!(
                *count <= chorus::jobs::announcements::SLOTS,
                "kill {kill}: {count} announcements posted again ({unmarked:?})"
            );
        }
        assert_eq!(unmarked[KILLS], 0, "the process left running repeats no announcement");
        eprintln!("chaos: {} announcements received, repeats per kill {unmarked:?}", announced.len());

        for id in scheduled {
            let log = app.db(move |conn| store::audit::for_subject(conn, &format!("post:{id}"))).await;
            assert_eq!(log.iter().filter(|(a, _)| a == "post.published").count(), 1, "post {id} published once");
        }
        let verify = chorus(&app, &server.url()).args(["consent", "verify"]).output().unwrap();
        assert!(verify.status.success());
        let _ = people;
    }
);
