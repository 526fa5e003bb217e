//! Chat announcements: an admin connects Slack, Microsoft Teams, Mattermost
//! or a JSON webhook; each published post goes to every channel of its
//! audience once, through the outbox, against a real receiver on loopback
//! that answers as the test scripts it (429 with Retry-After, 5xx, a
//! timeout, a refusal). The webhook address stays a secret throughout.

use std::time::Duration as StdDuration;

use chorus::config::Config;
use chorus::domain::platforms::Platform;
use chorus::jobs::announcements::{AnnouncementReport, ChatDelivery, deliver_once};
use chorus::store::{self, outbox, posts};

use crate::chat_receiver::{Answer, Receiver};
use crate::helpers::*;

/// Runs a test body on SQLite and on PostgreSQL, with a receiver on
/// loopback and a Chorus allowed to post to loopback (and adjusted by
/// `$adjust`), an admin signed in on `app.client`.
macro_rules! chat_test {
    (async fn $name:ident($app:ident, $receiver:ident, $admin:ident) $adjust:expr, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let ($app, $receiver, $admin) = setup(Backend::Sqlite, $adjust).await;
                $body
            }

            #[actix_web::test]
            #[cfg_attr(
                not(chorus_pg_tests),
                ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                let ($app, $receiver, $admin) = setup(Backend::Postgres, $adjust).await;
                $body
            }
        }
    };
}

/// Loopback only: the receiver, and nothing else private.
fn loopback_allowed(config: &mut Config) {
    config.allow_private_fetch = "127.0.0.1".into();
}

async fn setup(backend: Backend, adjust: fn(&mut Config)) -> (TestApp, Receiver, i64) {
    let receiver = Receiver::start().await;
    let mut app = spawn_app_with(backend, |config| {
        loopback_allowed(config);
        adjust(config);
    })
    .await;
    let admin = app.login_as("admin@example.com", "admin,comms").await;
    app.ready_organisation(admin, vec![Platform::X]).await;
    (app, receiver, admin)
}

/// The delivery worker of this app (as `chorus serve` runs it), one round.
async fn deliver(app: &TestApp) -> AnnouncementReport {
    deliver_batch(app, 200).await
}

/// One round that claims at most `batch` messages.
async fn deliver_batch(app: &TestApp, batch: i64) -> AnnouncementReport {
    let mut settings = chorus::startup::delivery_settings(&app.config, &app.address);
    settings.batch = batch;
    deliver_once(&app.state.db, &chat(app), &app.clock, &settings)
        .await
        .unwrap()
}

fn chat(app: &TestApp) -> ChatDelivery {
    ChatDelivery {
        sender: app.state.webhooks.clone(),
        secrets: app.state.chat_secrets.clone(),
    }
}

/// Connects a channel through the admin page.
async fn connect(app: &TestApp, kind: &str, name: &str, url: &str) {
    let response = app
        .post_form(
            "/admin/announcements",
            &[
                ("kind", kind),
                ("name", name),
                ("url", url),
                ("audience", "all"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{name} is connected");
}

/// Publishes a post now (as comms scheduling it for now does), for
/// everyone or for some departments.
async fn publish(app: &TestApp, by: i64, title: &str, departments: Vec<i64>) -> i64 {
    let now = app.clock.now_naive();
    let title = title.to_string();
    app.db(move |conn| {
        let id = posts::create_draft(
            conn,
            &posts::PostInput {
                title,
                link: "https://example.com/news/office".into(),
                base_text: "Our news".into(),
                captions: vec![(Platform::X, vec!["Our news".into()])],
                target_all: departments.is_empty(),
                department_ids: departments,
                expires_at: None,
            },
            by,
            now,
        )?;
        let outcome = posts::schedule(conn, id, now, chrono_tz::UTC, by, now)?;
        assert_eq!(outcome, posts::ScheduleOutcome::Published);
        Ok(id)
    })
    .await
}

/// The announcement rows' statuses, oldest first.
async fn statuses(app: &TestApp) -> Vec<String> {
    app.db(|conn| {
        use chorus::db::schema::outbox as o;
        use diesel::prelude::*;
        Ok(o::table
            .filter(o::kind.eq(outbox::ANNOUNCEMENT))
            .order(o::id.asc())
            .select(o::status)
            .load::<String>(conn)?)
    })
    .await
}

fn text_of(received: &crate::chat_receiver::Received) -> String {
    received.body.to_string()
}

chat_test!(
    async fn each_chat_tool_gets_the_message_it_expects(app, receiver, admin) |_| {}, {
        connect(&app, "slack", "#news on Slack", &receiver.url("/slack")).await;
        connect(&app, "teams", "News in Teams", &receiver.url("/teams")).await;
        connect(&app, "mattermost", "~news", &receiver.url("/mattermost")).await;
        connect(&app, "webhook", "Intranet", &receiver.url("/generic")).await;
        publish(&app, admin, "Our new office in Leeds", vec![]).await;
        let report = deliver(&app).await;
        assert_eq!(report.sent, 4, "{report:?}");
        let queue = app.url("/queue");

        let slack = &receiver.at("/slack")[0].body;
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("Our new office in Leeds") && text.contains(&queue), "{text}");
        assert_eq!(slack["blocks"][1]["elements"][0]["url"], queue);

        let teams = &receiver.at("/teams")[0].body;
        assert_eq!(teams["@type"], "MessageCard");
        assert!(teams["title"].as_str().unwrap().contains("Our new office in Leeds"));
        assert_eq!(teams["potentialAction"][0]["targets"][0]["uri"], queue);
        let card = &teams["attachments"][0];
        assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["content"]["type"], "AdaptiveCard");

        let mattermost = &receiver.at("/mattermost")[0].body;
        assert!(mattermost["text"].as_str().unwrap().contains(&queue));

        let generic = &receiver.at("/generic")[0].body;
        assert_eq!(generic["event"], "post.published");
        assert_eq!(generic["title"], "Our new office in Leeds");
        assert_eq!(generic["url"], "https://example.com/news/office");
        assert_eq!(generic["queue_url"], queue);

        // About the post only: no one is named or counted.
        for received in receiver.received() {
            let body = text_of(&received);
            assert!(!body.contains("admin@example.com") && !body.contains("Test Person"), "{body}");
        }
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("#news on Slack") && page.contains("Microsoft Teams"));
    }
);

chat_test!(
    async fn publishing_sends_exactly_one_message_per_channel_of_its_audience(app, receiver, admin) |_| {}, {
        let now = app.clock.now_naive();
        let (sales, engineering) = app
            .db(move |conn| {
                let department = |name: &str| chorus::domain::names::DepartmentName::parse_optional(name).unwrap().unwrap();
                let system = store::audit::Actor::System;
                Ok((
                    store::departments::find_or_create(conn, &department("Sales"), system, now)?,
                    store::departments::find_or_create(conn, &department("Engineering"), system, now)?,
                ))
            })
            .await;
        connect(&app, "slack", "#everyone", &receiver.url("/all")).await;
        connect(&app, "mattermost", "~all", &receiver.url("/all-too")).await;
        let sales_field = sales.to_string();
        let response = app
            .post_form(
                "/admin/announcements",
                &[("kind", "webhook"), ("name", "Sales room"), ("url", &receiver.url("/sales")), ("audience", "departments"), ("departments", &sales_field)],
            )
            .await;
        assert_eq!(response.status(), 303);

        publish(&app, admin, "For engineers", vec![engineering]).await;
        publish(&app, admin, "For sales", vec![sales]).await;
        publish(&app, admin, "For everyone", vec![]).await;
        // More rounds and another publishing run change nothing.
        for _ in 0..3 {
            deliver(&app).await;
            let clock = app.clock.clone();
            app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        }
        let titles = |path: &str| -> Vec<String> {
            let mut t: Vec<String> = receiver.at(path).iter().map(|r| r.body["title"].as_str().map(str::to_string).unwrap_or_else(|| r.body["text"].as_str().unwrap().to_string())).collect();
            t.sort();
            t
        };
        assert_eq!(receiver.at("/all").len(), 3, "one message per post");
        assert_eq!(receiver.at("/all-too").len(), 3);
        assert_eq!(titles("/sales"), vec!["For everyone".to_string(), "For sales".to_string()]);
        assert_eq!(statuses(&app).await, vec![outbox::SENT; 8]);
    }
);

chat_test!(
    async fn a_busy_receiver_is_tried_again_after_the_wait_it_asked_for(app, receiver, admin) |_| {}, {
        connect(&app, "slack", "#news", &receiver.url("/busy")).await;
        receiver.script([Answer::status(429).retry_after("120").body("rate_limited")]);
        publish(&app, admin, "Busy day", vec![]).await;
        assert_eq!(deliver(&app).await.retried, 1);
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("answered with HTTP status 429"), "the reason is shown");
        assert!(page.contains("will be tried again"));

        // Sooner than asked (though later than the first backoff): not yet.
        app.clock.advance(chrono::Duration::seconds(60));
        assert_eq!(deliver(&app).await, AnnouncementReport::default());
        assert_eq!(receiver.received().len(), 1);
        app.clock.advance(chrono::Duration::seconds(61));
        assert_eq!(deliver(&app).await.sent, 1);
        assert_eq!(receiver.received().len(), 2);
        assert_eq!(statuses(&app).await, vec![outbox::SENT]);
    }
);

chat_test!(
    async fn server_errors_are_retried_until_the_message_arrives(app, receiver, admin) |_| {}, {
        connect(&app, "teams", "News", &receiver.url("/flaky")).await;
        receiver.script([Answer::status(500), Answer::status(503)]);
        publish(&app, admin, "Flaky", vec![]).await;
        assert_eq!(deliver(&app).await.retried, 1);
        app.clock.advance(chrono::Duration::minutes(5));
        assert_eq!(deliver(&app).await.retried, 1);
        app.clock.advance(chrono::Duration::minutes(5));
        assert_eq!(deliver(&app).await.sent, 1);
        let got: Vec<u16> = receiver.received().iter().map(|r| r.status).collect();
        assert_eq!(got, vec![500, 503, 200]);
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("<td>1</td>"), "one sent");
    }
);

chat_test!(
    async fn a_receiver_that_does_not_answer_in_time_is_tried_again(app, receiver, admin) |config| config.fetch_timeout_seconds = 1, {
        connect(&app, "mattermost", "~news", &receiver.url("/slow")).await;
        receiver.script([Answer::status(200).after(StdDuration::from_secs(3))]);
        publish(&app, admin, "Slow", vec![]).await;
        assert_eq!(deliver(&app).await.retried, 1);
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("did not answer in time"), "the reason is shown");
        app.clock.advance(chrono::Duration::minutes(5));
        assert_eq!(deliver(&app).await.sent, 1);
        assert_eq!(statuses(&app).await, vec![outbox::SENT]);
    }
);

chat_test!(
    async fn a_refusal_fails_for_good_with_its_reason_on_the_admin_page(app, receiver, admin) |_| {}, {
        connect(&app, "slack", "#gone", &receiver.url("/gone")).await;
        receiver.script([Answer::status(404).body("no_service")]);
        publish(&app, admin, "Nobody home", vec![]).await;
        assert_eq!(deliver(&app).await.failed, 1);
        app.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(deliver(&app).await, AnnouncementReport::default(), "not tried again");
        assert_eq!(receiver.received().len(), 1);
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("answered with HTTP status 404: no_service"), "{page}");
        // Not an email: Admin → Email does not list it.
        let email = app.get_html("/admin/email").await;
        assert!(!email.contains("no_service"));
    }
);

chat_test!(
    async fn the_webhook_address_is_never_stored_in_the_clear_nor_shown(app, receiver, admin) |_| {}, {
        let secret = "/services/T0001/B0002/SuperSecretToken9876";
        connect(&app, "slack", "#news", &receiver.url(secret)).await;
        receiver.script([Answer::status(500).body(
            "error at /services/T0001/B0002/SuperSecretToken9876",
        ), Answer::status(403).body("invalid_token")]);
        publish(&app, admin, "Secret keeping", vec![]).await;
        deliver(&app).await;
        app.clock.advance(chrono::Duration::minutes(5));
        deliver(&app).await;
        assert_eq!(receiver.at(secret).len(), 2, "the address works");

        // The database: every text column of the tables it touches.
        let stored = app
            .db(|conn| {
                use chorus::db::schema::{audit_log, chat_channels, outbox};
                use diesel::prelude::*;
                let mut all: Vec<String> = chat_channels::table
                    .select((chat_channels::name, chat_channels::url_sealed, chat_channels::url_hint))
                    .load::<(String, String, String)>(conn)?
                    .into_iter()
                    .flat_map(|(a, b, c)| [a, b, c])
                    .collect();
                all.extend(audit_log::table.select(audit_log::detail).load::<String>(conn)?);
                for (payload, error) in outbox::table
                    .select((outbox::payload, outbox::last_error))
                    .load::<(String, Option<String>)>(conn)?
                {
                    all.push(payload);
                    all.extend(error);
                }
                Ok(all)
            })
            .await;
        for value in &stored {
            assert!(!value.contains("SuperSecretToken"), "stored in the clear: {value}");
        }
        // The pages: only host and the last four characters.
        for path in ["/admin/announcements", "/admin/audit", "/admin/email"] {
            let page = app.get_html(path).await;
            assert!(!page.contains("SuperSecretToken"), "{path} shows the address");
        }
        let page = app.get_html("/admin/announcements").await;
        assert!(page.contains("127.0.0.1 …9876"), "the hint is shown");
        assert!(page.contains("invalid_token"), "the reason is shown");
    }
);

chat_test!(
    async fn the_test_message_button_reports_delivery_and_failure(app, receiver, _admin) |_| {}, {
        connect(&app, "slack", "#works", &receiver.url("/works")).await;
        connect(&app, "webhook", "Broken", &receiver.url("/broken")).await;
        connect(&app, "mattermost", "Private", "http://10.1.2.3/hooks/abc").await;
        let ids: Vec<i64> = app
            .db(|conn| Ok(store::chat_channels::list(conn)?.into_iter().map(|c| c.id).collect()))
            .await;

        let page = app.post_form(&format!("/admin/announcements/{}/test", ids[0]), &[]).await;
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("The test message was delivered to “#works”"), "{page}");
        let test = &receiver.at("/works")[0].body;
        assert!(test["text"].as_str().unwrap().contains("Chorus is connected"));

        receiver.script([Answer::status(410).body("gone")]);
        let page = app.post_form(&format!("/admin/announcements/{}/test", ids[1]), &[]).await.text().await.unwrap();
        assert!(page.contains("role=\"alert\""), "a failure is shown as one");
        assert!(page.contains("The test message was not delivered: 127.0.0.1 answered with HTTP status 410: gone"), "{page}");

        let page = app.post_form(&format!("/admin/announcements/{}/test", ids[2]), &[]).await.text().await.unwrap();
        assert!(page.contains("private or local network"), "{page}");
        assert!(!page.contains("/hooks/abc"));

        let subject = format!("chat:{}", ids[1]);
        let log = app
            .db(move |conn| {
                use chorus::db::schema::audit_log as a;
                use diesel::prelude::*;
                Ok(a::table.filter(a::subject.eq(subject)).order(a::id.asc()).select((a::action, a::detail)).load::<(String, String)>(conn)?)
            })
            .await;
        assert_eq!(log[0].0, "chat.connected");
        assert!(log[0].1.contains("127.0.0.1 …oken"), "{log:?}");
        assert!(log.iter().any(|(action, detail)| action == "chat.tested" && detail.contains("410")), "{log:?}");
        // Nothing went through the outbox.
        assert!(statuses(&app).await.is_empty());
    }
);

chat_test!(
    async fn disconnecting_a_channel_cancels_what_it_has_not_been_sent(app, receiver, admin) |_| {}, {
        connect(&app, "slack", "#old", &receiver.url("/old")).await;
        publish(&app, admin, "Queued", vec![]).await;
        let id = app.db(|conn| Ok(store::chat_channels::list(conn)?[0].id)).await;
        let response = app.post_form(&format!("/admin/announcements/{id}/disconnect"), &[]).await;
        assert_eq!(response.status(), 303);
        let page = app.get_html("/admin/announcements?done=disconnected").await;
        assert!(page.contains("The channel is disconnected") && !page.contains("#old"));
        assert_eq!(deliver(&app).await, AnnouncementReport::default());
        assert!(receiver.received().is_empty());
        assert_eq!(statuses(&app).await, vec![outbox::CANCELLED]);
        let log = app.db(move |conn| store::audit::for_subject(conn, &format!("chat:{id}"))).await;
        assert!(log.iter().any(|(action, _)| action == "chat.disconnected"));
        // Once gone, it cannot be disconnected again.
        let again = app.post_form(&format!("/admin/announcements/{id}/disconnect"), &[]).await;
        assert_eq!(again.status(), 404);
    }
);

chat_test!(
    async fn a_channel_form_with_mistakes_is_refused_with_the_input_kept(app, _receiver, _admin) |_| {}, {
        let response = app
            .post_form(
                "/admin/announcements",
                &[("kind", "teams"), ("name", "Team news"), ("url", "hooks.example.com/abc"), ("audience", "departments")],
            )
            .await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains("Paste the whole webhook address"));
        assert!(page.contains("Choose at least one department"));
        assert!(page.contains("value=\"Team news\""), "the name is kept");
        let unknown_kind = app
            .post_form("/admin/announcements", &[("kind", "irc"), ("name", "x"), ("url", "https://a.example/x"), ("audience", "all")])
            .await;
        assert_eq!(unknown_kind.status(), 422);
        let employee = app.create_user("emp@example.com", "Emp", "employee").await;
        let _ = employee;
        let client = app.login_client("emp@example.com").await;
        let page = app.get_with(&client, "/admin/announcements").await;
        assert!(matches!(page.status().as_u16(), 403 | 404), "admins only");
    }
);

chat_test!(
    async fn two_servers_on_one_database_post_each_message_once(app, receiver, admin) |_| {}, {
        connect(&app, "slack", "#one", &receiver.url("/one")).await;
        connect(&app, "webhook", "two", &receiver.url("/two")).await;
        receiver.set_latency(StdDuration::from_millis(20));
        for n in 0..10 {
            publish(&app, admin, &format!("Post {n}"), vec![]).await;
        }
        let (data_dir, database_url) = (app.config.data_dir.clone(), app.config.database_url.clone());
        let other = spawn_app_with(app.backend(), move |config| {
            loopback_allowed(config);
            config.data_dir = data_dir;
            config.database_url = database_url;
        })
        .await;
        let (mut a, mut b) = (0, 0);
        loop {
            let (x, y) = futures_util::future::join(deliver_batch(&app, 3), deliver_batch(&other, 3)).await;
            a += x.sent;
            b += y.sent;
            if x.claimed() + y.claimed() == 0 {
                break;
            }
        }
        assert_eq!(a + b, 20);
        let mut seen: Vec<String> = receiver.received().iter().map(|r| format!("{} {}", r.path, text_of(r))).collect();
        assert_eq!(seen.len(), 20, "each message posted once");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20, "no message posted twice");
        assert_eq!(statuses(&app).await, vec![outbox::SENT; 20]);
    }
);

chat_test!(
    async fn the_webhook_address_is_not_in_the_log_lines(app, receiver, admin) |_| {}, {
        let secret = "/services/T0001/B0002/LogSecretToken4321";
        connect(&app, "slack", "#news", &receiver.url(secret)).await;
        receiver.script([Answer::status(503), Answer::status(404).body("no_service")]);
        publish(&app, admin, "Logged", vec![]).await;
        // `chorus serve` itself, logging everything down to debug.
        let log_path = app.config.data_dir.join("serve.log");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
        command
            .arg("serve")
            .env("CHORUS_DATA_DIR", &app.config.data_dir)
            .env("CHORUS_BIND", "127.0.0.1:0")
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "1")
            .env("CHORUS_MAIL_RETRY_SECONDS", "1")
            .env("CHORUS_ALLOW_PRIVATE_FETCH", "127.0.0.1")
            .env("CHORUS_LOG", "debug")
            .env_remove("CHORUS_DATABASE_URL")
            .env_remove("CHORUS_SMTP_URL")
            .stdout(std::fs::File::create(&log_path).unwrap())
            .stderr(std::fs::File::create(app.config.data_dir.join("serve.err")).unwrap());
        if let Some(db) = &app.database {
            command.env("CHORUS_DATABASE_URL", &db.url);
        }
        let mut child = command.spawn().unwrap();
        for _ in 0..100 {
            if statuses(&app).await == vec![outbox::FAILED.to_string()] {
                break;
            }
            actix_web::rt::time::sleep(StdDuration::from_millis(100)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(statuses(&app).await, vec![outbox::FAILED], "retried, then refused");
        let log = std::fs::read_to_string(&log_path).unwrap()
            + &std::fs::read_to_string(app.config.data_dir.join("serve.err")).unwrap();
        assert!(log.contains("chat announcement will be retried"), "{log}");
        assert!(log.contains("chat announcement failed for good"), "{log}");
        assert!(!log.contains("LogSecretToken"), "the address is in the log");
        assert!(!log.contains("/services/T0001"), "the address is in the log");
    }
);
