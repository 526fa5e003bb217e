//! Email through the outbox, against a real SMTP server on loopback.

use std::time::Duration as StdDuration;

use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::jobs::delivery::{DeliveryReport, deliver_once};
use chorus::mail::transport::Mailer;
use chorus::store::{self, consent, outbox, posts};

use crate::backend_test;
use crate::helpers::*;
use crate::smtp_server::{Mode, SmtpServer};

pub async fn deliver(app: &TestApp, server: &SmtpServer) -> DeliveryReport {
    let mailer = Mailer::smtp(&server.url()).unwrap();
    let settings = chorus::startup::delivery_settings(&app.config, &app.address);
    deliver_once(&app.state.db, &mailer, &app.clock, &settings)
        .await
        .unwrap()
}

/// An organisation with a policy, one post on X, and an employee who wants
/// daily digests at midnight (so one is due at once).
pub async fn digest_ready(app: &TestApp) -> (i64, i64) {
    let hub = app
        .create_user("hub@example.com", "Hub", "comms,admin")
        .await;
    app.change_settings(|change| change.org_name = "Acme".into())
        .await;
    let now = app.clock.now_naive();
    app.db(move |conn| store::policy::publish(conn, "Policy", false, hub, now))
        .await;
    let me = wants_digests(app, "emp@example.com", "Emp Loyee").await;
    let post = app
        .db(move |conn| {
            let id = posts::create_draft(
                conn,
                &posts::PostInput {
                    title: "t".into(),
                    link: "https://example.com/news".into(),
                    base_text: "Our news <b>today</b>".into(),
                    captions: vec![(Platform::X, vec!["Our news".into()])],
                    target_all: true,
                    department_ids: vec![],
                    expires_at: None,
                },
                hub,
                now,
            )?;
            posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
            Ok(id)
        })
        .await;
    (me, post)
}

/// An employee who said yes to X and to daily digests at midnight (after
/// digest_ready has published the policy).
async fn wants_digests(app: &TestApp, email: &str, name: &str) -> i64 {
    let id = app.create_user(email, name, "employee").await;
    let now = app.clock.now_naive();
    app.db(move |conn| {
        for purpose in [Purpose::ShareSuggestions(Platform::X), Purpose::EmailDigest] {
            consent::record_choice(conn, id, purpose, Choice::Yes, None, "test", now)?;
        }
        store::users::set_digest_settings(
            conn,
            id,
            &store::users::DigestSettings {
                frequency: "daily".into(),
                weekday: 1,
                hour: 0,
                max_posts: 5,
                last_digest_at: None,
            },
        )
    })
    .await;
    id
}

async fn plan(app: &TestApp) -> usize {
    let now = app.clock.now_naive();
    app.db(move |conn| store::digests::plan_all(conn, now, "localhost"))
        .await
}

async fn rows(app: &TestApp) -> Vec<outbox::OutboxRow> {
    app.db(|conn| {
        let ids: Vec<i64> = {
            use chorus::db::schema::outbox::dsl::*;
            use diesel::prelude::*;
            outbox.select(id).order(id.asc()).load(conn)?
        };
        let mut found = Vec::new();
        for id in ids {
            found.extend(outbox::find(conn, id)?);
        }
        Ok(found)
    })
    .await
}

fn unsubscribe_path(raw: &str) -> String {
    let start = raw.find("/unsubscribe/").expect("an unsubscribe link");
    raw[start..]
        .split(['>', '\r', '\n', ' ', '"'])
        .next()
        .unwrap()
        .to_string()
}

backend_test!(
    async fn a_digest_has_text_then_html_a_fixed_message_id_and_one_click_unsubscribe(app) {
        let server = SmtpServer::start().await;
        let (me, _) = digest_ready(&app).await;
        assert_eq!(plan(&app).await, 1);
        let report = deliver(&app, &server).await;
        assert_eq!(report.sent, 1, "{report:?}");
        let received = server.wait_for(1, StdDuration::from_secs(5)).await;
        assert_eq!(received[0].to, vec!["emp@example.com".to_string()]);
        let raw = &received[0].data;
        let row = rows(&app).await.remove(0);
        assert_eq!(row.status, outbox::SENT);
        assert!(
            row.sent_at.is_some_and(|at| row.created_at <= at && at <= app.clock.now_naive()),
            "sent when the relay took it: {row:?}"
        );
        // The row keeps what was sent (written for the batch in one
        // statement on PostgreSQL).
        let row_id = row.id;
        let (subject, html, headers): (String, String, String) = app
            .db(move |conn| {
                use chorus::db::schema::outbox::dsl::*;
                use diesel::prelude::*;
                Ok(outbox.find(row_id).select((subject, body_html, headers)).first(conn)?)
            })
            .await;
        assert!(!subject.is_empty() && raw.contains(&format!("Subject: {subject}")), "{subject}\n{raw}");
        assert!(html.contains("/unsubscribe/") && html.contains("example.com/news"), "{html}");
        assert!(headers.contains("List-Unsubscribe"), "{headers}");
        assert!(raw.contains(&format!("Message-ID: <{}>", row.message_id)), "{raw}");
        assert!(raw.contains("Date: "));
        assert!(raw.contains("multipart/alternative"));
        let (text_at, html_at) = (raw.find("text/plain").unwrap(), raw.find("text/html").unwrap());
        assert!(text_at < html_at, "plain text first");
        assert!(raw.contains(&format!("List-Unsubscribe: <{}/unsubscribe/", app.address)), "{raw}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("example.com/news") && raw.contains(&format!("{}/queue", app.address)));
        assert!(raw.contains("&lt;b&gt;today") || raw.contains("&#60;b&#62;today"), "HTML part escapes post text");
        // Nothing new since: no second email, even in a later period.
        app.clock.advance(chrono::Duration::days(1));
        assert_eq!(plan(&app).await, 0);
        let _ = me;
    }
);

backend_test!(
    async fn no_digest_is_planned_without_new_posts_or_without_consent(app) {
        let (me, post) = digest_ready(&app).await;
        let now = app.clock.now_naive();
        app.db(move |conn| posts::withdraw(conn, post, "gone", 1, now).map(|_| ())).await;
        assert_eq!(plan(&app).await, 0, "no post, no email");
        let (_, _) = (me, ());
        let now = app.clock.now_naive();
        let hub = 1;
        app.db(move |conn| {
            let id = posts::create_draft(conn, &posts::PostInput {
                title: "t".into(), link: "https://example.com/2".into(), base_text: "Two".into(),
                captions: vec![(Platform::X, vec!["Two".into()])], target_all: true, department_ids: vec![], expires_at: None,
            }, hub, now)?;
            posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
            consent::record_choice(conn, me, Purpose::EmailDigest, Choice::No, None, "test", now)?;
            Ok(())
        })
        .await;
        assert_eq!(plan(&app).await, 0, "no consent, no email");
    }
);

backend_test!(
    async fn two_planners_at_once_make_one_digest(app) {
        digest_ready(&app).await;
        let second = chorus::startup::open_database(&app.config).unwrap();
        let now = app.clock.now_naive();
        let mut planners = Vec::new();
        for db in [app.state.db.clone(), second.clone(), app.state.db.clone(), second] {
            planners.push(std::thread::spawn(move || {
                db.run_sync(|conn| store::digests::plan_all(conn, now, "localhost")).unwrap()
            }));
        }
        let planned: usize = planners.into_iter().map(|p| p.join().unwrap()).sum();
        assert_eq!(planned, 1);
        assert_eq!(rows(&app).await.len(), 1);
    }
);

backend_test!(
    async fn planners_on_two_processes_and_unsubscribes_at_once_leave_one_digest_per_person_who_stayed(app) {
        // More people than one planning batch takes, so batches of two
        // planners overlap.
        const PEOPLE: usize = 300;
        let (first, _) = digest_ready(&app).await;
        let mut people = vec![first];
        for n in 1..PEOPLE {
            people.push(wants_digests(&app, &format!("p{n:03}@example.com"), "Person").await);
        }
        let now = app.clock.now_naive();
        // Every third person unsubscribes while the digests are planned.
        let leaving: Vec<i64> = people.iter().copied().step_by(3).collect();
        let tokens = {
            let leaving = leaving.clone();
            app.db(move |conn| {
                leaving.iter().map(|id| outbox::issue_unsubscribe_token(conn, *id, now)).collect::<Result<Vec<_>, _>>()
            })
            .await
        };
        let second = chorus::startup::open_database(&app.config).unwrap();
        let mut planners = Vec::new();
        for db in [app.state.db.clone(), second.clone(), app.state.db.clone()] {
            planners.push(std::thread::spawn(move || {
                db.run_sync(|conn| store::digests::plan_all(conn, now, "localhost")).unwrap()
            }));
        }
        let unsubscriber = std::thread::spawn(move || {
            for token in tokens {
                second.run_sync(|conn| store::digests::unsubscribe(conn, &token, now)).unwrap().expect("a known token");
            }
        });
        unsubscriber.join().unwrap();
        let planned: usize = planners.into_iter().map(|p| p.join().unwrap()).sum();
        let digests: Vec<_> = rows(&app).await.into_iter().filter(|r| r.kind == "digest").collect();
        assert_eq!(planned, digests.len(), "each digest is counted by the planner that added it");
        for person in &people {
            let theirs: Vec<_> = digests.iter().filter(|r| r.user_id == Some(*person)).collect();
            assert!(theirs.len() <= 1, "one digest per person and period: {theirs:?}");
            if leaving.contains(person) {
                assert!(theirs.iter().all(|r| r.status != outbox::PENDING), "an unsubscribe leaves no digest to send: {theirs:?}");
            } else {
                assert_eq!(theirs.len(), 1, "person {person} stayed and gets their digest");
            }
        }
    }
);

async fn invite_many(app: &TestApp, n: usize) {
    let base = app.address.clone();
    let now = app.clock.now_naive();
    app.db(move |conn| {
        for i in 0..n {
            let user = store::users::NewUser {
                email: chorus::domain::email::EmailAddress::parse(&format!(
                    "person{i}@example.com"
                ))
                .unwrap(),
                name: chorus::domain::names::PersonName::parse(&format!("Person {i}")).unwrap(),
                roles: chorus::domain::roles::Roles::parse_list("employee").unwrap(),
                department: None,
            };
            let mail = store::accounts::MailContext {
                base_url: &base,
                mail_domain: "localhost",
            };
            store::accounts::invite_by_email(conn, &user, &mail, store::audit::Actor::System, now)?;
        }
        Ok(())
    })
    .await;
}

backend_test!(
    async fn two_delivery_workers_send_each_message_exactly_once(app) {
        let server = SmtpServer::start().await;
        invite_many(&app, 12).await;
        let second = chorus::startup::open_database(&app.config).unwrap();
        let mut workers = Vec::new();
        for db in [app.state.db.clone(), second] {
            let (url, clock) = (server.url(), app.clock.clone());
            let mut settings = chorus::startup::delivery_settings(&app.config, &app.address);
            settings.batch = 3;
            workers.push(std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let mailer = Mailer::smtp(&url).unwrap();
                    let mut sent = 0;
                    for _ in 0..10 {
                        sent += deliver_once(&db, &mailer, &clock, &settings).await.unwrap().sent;
                    }
                    sent
                })
            }));
        }
        let sent: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(sent, 12);
        let received = server.wait_for(12, StdDuration::from_secs(5)).await;
        assert_eq!(received.len(), 12);
        let mut ids: Vec<String> = received
            .iter()
            .map(|r| r.data.lines().find(|l| l.starts_with("Message-ID:")).unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12, "no message twice");
        assert!(rows(&app).await.iter().all(|r| r.status == outbox::SENT));
    }
);

backend_test!(
    async fn while_smtp_is_down_mail_waits_with_backoff_and_is_sent_once_when_it_returns(app) {
        let server = SmtpServer::start().await;
        invite_many(&app, 3).await;
        server.set_mode(Mode::Down);
        let report = deliver(&app, &server).await;
        assert_eq!(report.retried, 3, "{report:?}");
        let waiting = rows(&app).await;
        let now = app.clock.now_naive();
        for row in &waiting {
            assert_eq!((row.status.as_str(), row.attempts), (outbox::PENDING, 1));
        }
        let next = app.db(|conn| {
            use chorus::db::schema::outbox::dsl::*;
            use diesel::prelude::*;
            Ok(outbox.select(next_attempt_at).load::<chrono::NaiveDateTime>(conn)?)
        }).await;
        assert!(next.iter().all(|t| *t > now + chrono::Duration::seconds(20)), "backoff: not retried at once");
        assert_eq!(deliver(&app, &server).await, DeliveryReport::default(), "nothing due yet");

        server.set_mode(Mode::Accept);
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(deliver(&app, &server).await.sent, 3);
        assert_eq!(server.wait_for(3, StdDuration::from_secs(5)).await.len(), 3);
        app.clock.advance(chrono::Duration::hours(1));
        assert_eq!(deliver(&app, &server).await, DeliveryReport::default());
        assert_eq!(server.received().len(), 3, "none twice");
    }
);

/// The attribute values named `name` in a page, unescaped.
fn form_values(page: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    page.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &page[at + marker.len()..];
            rest[..rest.find('"').unwrap()]
                .replace("&#60;", "<")
                .replace("&lt;", "<")
                .replace("&#62;", ">")
                .replace("&gt;", ">")
                .replace("&#34;", "\"")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&#38;", "&")
                .replace("&amp;", "&")
        })
        .collect()
}

/// The part of a page from one heading to the next.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page
        .find(&format!(">{heading}</h2>"))
        .unwrap_or_else(|| panic!("a {heading} section"));
    let rest = &page[start..];
    &rest[..rest[1..].find("<h2").map_or(rest.len(), |end| end + 1)]
}

backend_test!(
    async fn a_permanent_failure_fails_and_no_such_user_suppresses_the_address(app) {
        let server = SmtpServer::start().await;
        invite_many(&app, 1).await;
        server.set_mode(Mode::PermanentFailure);
        assert_eq!(deliver(&app, &server).await.failed, 1);
        let row = rows(&app).await.remove(0);
        assert_eq!(row.status, outbox::FAILED);

        app.login_as("admin@example.com", "admin").await;
        let page = app.get_html("/admin/email").await;
        let failed = section(&page, "Failed");
        assert!(failed.contains("554") && failed.contains("Transaction failed"), "the failure with its reason");
        assert!(!page.contains("person0@example.com"), "but not whose it was");
        let reasons = form_values(&page, "reason");
        assert_eq!(reasons.len(), 1, "one group");
        let response = app.post_form("/admin/email/retry", &[("reason", &reasons[0])]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(app.post_form("/admin/email/retry", &[("reason", &reasons[0])]).await.status(), 404,
            "nothing failed with that reason any more");
        server.set_mode(Mode::NoSuchUser);
        assert_eq!(deliver(&app, &server).await.failed, 1);
        assert!(app.db(|conn| outbox::is_suppressed(conn, "person0@example.com")).await);
        let page = app.get_html("/admin/email").await;
        let suppressed = section(&page, "Suppressed addresses");
        assert!(suppressed.contains("person0@example.com"), "the address to fix, with the reason");
        assert!(suppressed.contains("&#60;address hidden&#62;") || suppressed.contains("&lt;address hidden&gt;"));
        // Suppressed: even with the server accepting again, nothing goes out.
        server.set_mode(Mode::Accept);
        let reasons = form_values(&page, "reason");
        assert!(reasons[0].contains("<address hidden>: Recipient address rejected"), "{reasons:?}");
        app.post_form("/admin/email/retry", &[("reason", &reasons[0])]).await;
        deliver(&app, &server).await;
        assert!(server.received().is_empty());
        let response = app.post_form("/admin/email/unsuppress", &[("email", "person0@example.com")]).await;
        assert_eq!(response.status(), 303);
        let page = app.get_html("/admin/email").await;
        app.post_form("/admin/email/retry", &[("reason", &form_values(&page, "reason")[0])]).await;
        assert_eq!(deliver(&app, &server).await.sent, 1);
    }
);

backend_test!(
    async fn admin_email_ties_no_address_to_a_kind_or_a_time_and_hides_counts_below_k(app) {
        let server = SmtpServer::start().await;
        invite_many(&app, 6).await;
        assert_eq!(deliver(&app, &server).await.sent, 6);
        // One person shared a post that is then withdrawn; their mailbox is gone.
        let (me, post) = digest_ready(&app).await;
        let now = app.clock.now_naive();
        app.db(move |conn| store::shares::record(conn, me, post, Platform::X, 1, false, now).map(|_| ())).await;
        app.db(move |conn| posts::withdraw_and_notify(conn, post, "Wrong figures.", 1, now, "localhost").map(|_| ())).await;
        server.set_mode(Mode::NoSuchUser);
        assert_eq!(deliver(&app, &server).await.failed, 1);
        let kept = app.db(outbox::suppressed).await;
        assert!(kept[0].1.contains("<emp@example.com>"), "the relay quoted the address: {kept:?}");

        app.login_as("admin@example.com", "admin").await;
        let page = app.get_html("/admin/email").await;
        // Counts: six invitations sent are shown; one withdrawal notice is not.
        let counts = section(&page, "Outbox");
        let row = |kind: &str| {
            let start = counts.find(&format!(">{kind}</th>")).unwrap();
            counts[start..start + counts[start..].find("</tr>").unwrap()].to_string()
        };
        assert!(row("Invitations").contains("<td>6</td>"), "{counts}");
        let notices = row("Withdrawal notices");
        assert_eq!(notices.matches("<td>fewer than 5</td>").count(), 5, "{notices}");
        assert!(!counts.contains("<td>1</td>"), "no count below k: {counts}");
        assert!(!counts.contains("@"), "no address among the counts");
        // Failures: the reason without the address, no kind, no time.
        let failed = section(&page, "Failed");
        assert!(failed.contains("address hidden") && failed.contains("Recipient address rejected"), "{failed}");
        assert!(!failed.contains("emp@example.com") && !failed.contains("@"), "{failed}");
        for kind in ["withdrawal", "Withdrawal", "digest", "Digest", "invitation", "Invitation"] {
            assert!(!failed.contains(kind), "no kind next to a failure: {failed}");
        }
        // Suppressed: the address and the reason, nothing else.
        let suppressed = section(&page, "Suppressed addresses");
        assert!(suppressed.contains("emp@example.com"));
        assert_eq!(suppressed.matches("emp@example.com").count(), 2, "in its cell and its clear form only");
        for said in ["withdrawal", "Withdrawal", "digest", "Digest", "shared", "Wrong figures"] {
            assert!(!suppressed.contains(said), "no kind or post next to an address: {suppressed}");
        }
        let day = now.format("%Y-%m-%d").to_string();
        assert!(!page.contains(&day) && !page.contains("UTC"), "no time anywhere on the page");
    }
);

backend_test!(
    async fn a_digest_is_not_sent_after_the_person_withdrew_consent(app) {
        let server = SmtpServer::start().await;
        let (me, _) = digest_ready(&app).await;
        assert_eq!(plan(&app).await, 1);
        let now = app.clock.now_naive();
        app.db(move |conn| consent::record_choice(conn, me, Purpose::EmailDigest, Choice::No, None, "test", now).map(|_| ())).await;
        let report = deliver(&app, &server).await;
        assert_eq!(report.cancelled, 1, "{report:?}");
        assert!(server.received().is_empty());
        assert_eq!(rows(&app).await[0].status, outbox::CANCELLED);
    }
);

backend_test!(
    async fn a_digest_not_sent_within_its_period_is_cancelled(app) {
        let server = SmtpServer::start().await;
        digest_ready(&app).await;
        assert_eq!(plan(&app).await, 1);
        app.clock.advance(chrono::Duration::days(1));
        assert_eq!(deliver(&app, &server).await.cancelled, 1);
        assert!(server.received().is_empty());
    }
);

backend_test!(
    async fn one_click_unsubscribe_needs_no_cookie_and_get_changes_nothing(app) {
        let server = SmtpServer::start().await;
        let (me, _) = digest_ready(&app).await;
        plan(&app).await;
        deliver(&app, &server).await;
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        let path = unsubscribe_path(&raw);

        let scanner = new_client();
        let page = scanner.get(app.url(&path)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Stop digest emails?"));
        assert!(app.db(move |conn| consent::allows(conn, me, Purpose::EmailDigest)).await, "GET changed nothing");

        // A second digest waiting to be sent is cancelled by the unsubscribe.
        app.db(move |conn| {
            outbox::enqueue(conn, &outbox::NewMessage {
                kind: outbox::Kind::Digest, user_id: Some(me), recipient: "emp@example.com".into(),
                dedupe_key: "digest:test".into(), payload: "{\"posts\":[]}".into(), send_before: None,
                message_id: "pending@localhost".into(),
            }, chrono::Utc::now().naive_utc()).map(|_| ())
        })
        .await;
        // As a mail client does it (RFC 8058): no cookie, no token, a form body.
        let mail_client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for _ in 0..2 {
            let response = mail_client
                .post(app.url(&path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "idempotent, no redirect");
            assert!(response.text().await.unwrap().contains("You are unsubscribed"));
        }
        assert!(!app.db(move |conn| consent::allows(conn, me, Purpose::EmailDigest)).await);
        let events = app.db(move |conn| consent::events_for(conn, me)).await;
        let last = events.last().unwrap();
        assert_eq!(last.action, "withdrawn");
        assert!(last.collection_method.contains("one-click"));
        assert_eq!(events.iter().filter(|e| e.action == "withdrawn").count(), 1);
        assert!(rows(&app).await.iter().any(|r| r.message_id == "pending@localhost" && r.status == outbox::CANCELLED));
        assert_eq!(mail_client.post(app.url("/unsubscribe/not-a-token")).send().await.unwrap().status(), 404);
    }
);

backend_test!(
    async fn an_invitation_email_carries_a_link_that_works_once(app) {
        let server = SmtpServer::start().await;
        app.login_as("admin@example.com", "admin").await;
        let response = app
            .post_form("/admin/people/new", &[("email", "new@example.com"), ("name", "New Person"), ("role_employee", "on")])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(deliver(&app, &server).await.sent, 1);
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        assert!(raw.contains("invites you to Chorus"));
        let link = crate::smtp_server::emailed_link(&raw, "/invite/");
        let path = link.strip_prefix(&app.address).unwrap().to_string();
        let newcomer = new_client();
        assert_eq!(app.post_form_with(&newcomer, &path, &[("password", PASSWORD)]).await.status(), 303);
        assert_eq!(app.get_with(&new_client(), &path).await.status(), 404, "used once");
    }
);

backend_test!(
    async fn a_password_reset_answers_the_same_for_everyone_and_ends_sessions(app) {
        let server = SmtpServer::start().await;
        app.create_user("emp@example.com", "Emp", "employee").await;
        let old_session = app.login_client("emp@example.com").await;
        let anonymous = new_client();
        let unknown = app.post_form_with(&anonymous, "/password/forgot", &[("email", "nobody@example.com")]).await;
        let known = app.post_form_with(&anonymous, "/password/forgot", &[("email", "emp@example.com")]).await;
        assert_eq!((unknown.status(), known.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
        let (unknown, known) = (unknown.text().await.unwrap(), known.text().await.unwrap());
        assert_eq!(unknown.replace("nobody@example.com", "X"), known.replace("emp@example.com", "X"), "same answer");
        assert_eq!(deliver(&app, &server).await.sent, 1, "only the real account gets an email");
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        let path = crate::smtp_server::emailed_link(&raw, "/password/reset/").strip_prefix(&app.address).unwrap().to_string();
        let new_password = "granite meadow whistles softly";
        assert_eq!(app.post_form_with(&new_client(), &path, &[("password", new_password)]).await.status(), 303);
        assert_eq!(app.get_with(&old_session, "/").await.status(), 303, "old sessions end");
        assert_eq!(app.get_with(&new_client(), &path).await.status(), 404, "the link works once");
        app.clock.advance(chrono::Duration::hours(2));
        let again = app.post_form_with(&new_client(), "/password/forgot", &[("email", "emp@example.com")]).await;
        assert_eq!(again.status(), 200);
    }
);

backend_test!(
    async fn people_who_shared_a_withdrawn_post_are_told_by_email(app) {
        let server = SmtpServer::start().await;
        let (me, post) = digest_ready(&app).await;
        let now = app.clock.now_naive();
        app.db(move |conn| store::shares::record(conn, me, post, Platform::X, 1, false, now).map(|_| ())).await;
        app.db(move |conn| posts::withdraw_and_notify(conn, post, "The figures were wrong.", 1, now, "localhost").map(|_| ())).await;
        let report = deliver(&app, &server).await;
        assert_eq!(report.sent, 1, "{report:?}");
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        assert!(raw.contains("A post you shared was withdrawn") && raw.contains("The figures were wrong."));
    }
);

backend_test!(
    async fn a_message_whose_worker_died_is_sent_again_after_its_lease_with_the_same_message_id(app) {
        let server = SmtpServer::start().await;
        invite_many(&app, 1).await;
        // A worker claims the row and dies before sending.
        let now = app.clock.now_naive();
        let claimed = app
            .db(move |conn| outbox::claim_due(conn, "dead-worker", now, chrono::Duration::minutes(2), 10))
            .await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(deliver(&app, &server).await, DeliveryReport::default(), "leased: nobody else takes it");
        app.clock.advance(chrono::Duration::minutes(3));
        assert_eq!(deliver(&app, &server).await.sent, 1);
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        assert!(raw.contains(&format!("Message-ID: <{}>", claimed[0].message_id)));
    }
);

backend_test!(
    async fn digest_preferences_are_set_on_the_preferences_page(app) {
        app.login_as("emp@example.com", "employee").await;
        let page = app.get_html("/me/preferences").await;
        assert!(page.contains("Email digests") && page.contains("said yes to email digests"));
        let token = app.csrf_token_with(&app.client, "/me/preferences").await;
        let bad = app
            .client
            .post(app.url("/me/preferences"))
            .form(&[("csrf_token", token.as_str()), ("timezone", "Europe/Berlin"), ("digest_frequency", "weekly"),
                ("digest_weekday", "3"), ("digest_hour", "9"), ("digest_max_posts", "50")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        assert!(bad.text().await.unwrap().contains("between 1 and 20 posts"));
        let ok = app
            .client
            .post(app.url("/me/preferences"))
            .form(&[("csrf_token", token.as_str()), ("timezone", "Europe/Berlin"), ("digest_frequency", "weekly"),
                ("digest_weekday", "3"), ("digest_hour", "9"), ("digest_max_posts", "7")])
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 303);
        let id = app
            .db(|conn| store::users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("emp@example.com").unwrap()))
            .await
            .unwrap()
            .id;
        let settings = app.db(move |conn| store::users::digest_settings(conn, id)).await;
        assert_eq!((settings.frequency.as_str(), settings.weekday, settings.hour, settings.max_posts), ("weekly", 3, 9, 7));
    }
);

backend_test!(
    async fn a_post_withdrawn_after_planning_is_dropped_from_the_unsent_digest(app) {
        let server = SmtpServer::start().await;
        let (_, post) = digest_ready(&app).await;
        assert_eq!(plan(&app).await, 1);
        let now = app.clock.now_naive();
        app.db(move |conn| posts::withdraw(conn, post, "Wrong figures", 1, now).map(|_| ())).await;
        let report = deliver(&app, &server).await;
        assert_eq!(report.cancelled, 1, "its only post was withdrawn: {report:?}");
        assert!(server.received().is_empty());
    }
);

fn test_email(n: usize) -> chorus::mail::transport::OutgoingEmail {
    chorus::mail::transport::OutgoingEmail {
        from: "Chorus <chorus@example.com>".to_owned(),
        to: format!("person{n}@example.org"),
        subject: format!("Message {n}"),
        text: format!("Message number {n}.\n"),
        html: None,
        message_id: format!("test-{n}@example.com"),
        date: chrono::Utc::now(),
        list_unsubscribe: None,
    }
}

#[actix_web::test]
async fn emails_one_after_another_go_over_one_kept_smtp_session() {
    let server = SmtpServer::start().await;
    let mailer = Mailer::smtp(&server.url()).unwrap();
    for n in 0..20 {
        mailer.send(&test_email(n)).await.expect("sent");
    }
    let received = server.wait_for(20, StdDuration::from_secs(5)).await;
    assert_eq!(received.len(), 20);
    assert_eq!(
        server.sessions_opened(),
        1,
        "twenty emails in a row should reuse one session, not reconnect each time"
    );
}

#[actix_web::test]
async fn a_kept_session_the_relay_dropped_is_replaced_without_failing_the_email() {
    let server = SmtpServer::start().await;
    let mailer = Mailer::smtp(&server.url()).unwrap();
    mailer.send(&test_email(1)).await.expect("first sent");
    // As a relay does with a session idle for too long.
    server.hang_up_open_sessions();
    mailer
        .send(&test_email(2))
        .await
        .expect("the second email goes over a new session");
    assert_eq!(server.wait_for(2, StdDuration::from_secs(5)).await.len(), 2);
    assert_eq!(server.sessions_opened(), 2);
}

#[actix_web::test]
async fn a_relay_without_starttls_gets_nothing_when_tls_is_required() {
    let server = SmtpServer::start().await;
    // smtp:// without tls=none means STARTTLS is required; the test relay
    // offers none.
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{}", server.port())).unwrap();
    let failure = mailer
        .send(&test_email(1))
        .await
        .expect_err("must not fall back to plaintext");
    assert_eq!(
        failure.kind,
        chorus::mail::transport::FailureKind::Temporary,
        "{failure}"
    );
    assert!(failure.message.contains("STARTTLS"), "{}", failure.message);
    assert!(server.received().is_empty());
}

backend_test!(
    async fn a_batch_of_digests_is_read_together_yet_each_person_gets_their_own_and_their_checks(app) {
        let server = SmtpServer::start().await;
        let (first, _) = digest_ready(&app).await;
        let mut people = vec![(first, "emp@example.com".to_string(), "Emp Loyee".to_string())];
        for i in 0..5 {
            let (email, name) = (format!("reader{i}@example.com"), format!("Reader Number{i}"));
            people.push((wants_digests(&app, &email, &name).await, email, name));
        }
        assert_eq!(plan(&app).await, 6);
        // After planning: one withdraws consent, one leaves, one address bounced for good.
        let (withdrew, left, bounced) = (people[1].0, people[2].0, people[3].2.clone());
        let bounced_email = people[3].1.clone();
        let admin = app.create_user("boss@example.com", "Boss", "admin").await;
        let now = app.clock.now_naive();
        app.db(move |conn| {
            consent::record_choice(conn, withdrew, Purpose::EmailDigest, Choice::No, None, "test", now)?;
            store::users::set_active(conn, left, false, admin, now)?;
            outbox::suppress(conn, &bounced_email, "550 no such user", now)
        })
        .await;

        let report = deliver(&app, &server).await;
        assert_eq!((report.sent, report.cancelled, report.failed), (3, 2, 1), "{report:?}");
        let received = server.wait_for(3, StdDuration::from_secs(5)).await;
        let mut delivered: Vec<(String, String)> = received
            .iter()
            .map(|m| {
                let name = people
                    .iter()
                    .find(|(_, _, name)| m.data.contains(&format!("Hello {name},")))
                    .map(|(_, _, name)| name.clone())
                    .expect("the digest greets one of the people by name");
                (m.to.join(","), name)
            })
            .collect();
        delivered.sort();
        let mut expected: Vec<(String, String)> = [0, 4, 5]
            .iter()
            .map(|&i| (people[i].1.clone(), people[i].2.clone()))
            .collect();
        expected.sort();
        assert_eq!(delivered, expected, "each digest went to its own person, and only theirs");
        assert!(received.iter().all(|m| m.data.contains("Our news") && m.data.contains("Acme")));
        assert!(!received.iter().any(|m| m.data.contains(&bounced)));
    }
);

/// Statements one delivery round runs for this many due digests.
async fn delivery_cost(app: &TestApp, people: usize) -> u64 {
    let server = SmtpServer::start().await;
    digest_ready(app).await;
    for i in 1..people {
        wants_digests(app, &format!("r{i}@example.com"), &format!("R Number{i}")).await;
    }
    assert_eq!(plan(app).await, people);
    let before = app.state.db.queries_started();
    assert_eq!(deliver(app, &server).await.sent, people);
    app.state.db.queries_started() - before
}

backend_test!(
    async fn delivering_more_digests_costs_no_more_reads_per_email(app) {
        // The batch reads what composing needs at once and stores its
        // unsubscribe tokens in one insert, so each extra email adds only
        // its own writes: its rendered text and its "sent" (in a
        // transaction of its own at worst, when the relay's answers arrive
        // one by one: 3 statements; on PostgreSQL a batch's rendered texts
        // and its "sent" are one statement each). Reading the address's suppression, the
        // person, their consent, the settings and the posts for each email,
        // and a token insert each, as before, cost 7 more.
        let few = delivery_cost(&app, 4).await;
        let many = delivery_cost(&spawn_app(app.backend()).await, 16).await;
        let per_extra_email = (many - few) as f64 / 12.0;
        eprintln!("delivery statements: {few} for 4 digests, {many} for 16");
        assert!(per_extra_email <= 4.0, "{per_extra_email} statements per extra email");
    }
);

/// A 1200×630 PNG, as a page's Open Graph image would be.
pub fn card_png() -> Vec<u8> {
    let picture = image::RgbImage::from_fn(1200, 630, |x, y| {
        image::Rgb([(x / 5) as u8, (y / 3) as u8, 160])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut png, image::ImageFormat::Png).unwrap();
    png.into_inner()
}

/// Gives `post` a link preview with a title, a description and an image,
/// as comms would after the page was read.
pub async fn give_preview(app: &TestApp, post: i64) {
    use chorus::domain::link_preview::PreviewText;
    use chorus::store::previews::{ImageChange, PreviewWrite};
    let image = chorus::domain::preview_image::reencode(&card_png()).unwrap();
    let now = app.clock.now_naive();
    app.db(move |conn| {
        let link = posts::find(conn, post)?.expect("the post").link;
        let write = PreviewWrite {
            post_id: post,
            link,
            text: Some(PreviewText {
                title: "Our annual report 2026".into(),
                description: "Growth in every region, and what comes next.".into(),
            }),
            image: ImageChange::Set(image),
            fetch: None,
        };
        store::previews::write(conn, &write, now).map(|_| ())
    })
    .await;
}

backend_test!(
    async fn a_digest_shows_each_post_as_a_card_with_its_image_and_a_button_to_it_in_the_queue(app) {
        let server = SmtpServer::start().await;
        let (_, post) = digest_ready(&app).await;
        give_preview(&app, post).await;
        app.change_settings(|change| {
            change.brand_colour = chorus::domain::brand::BrandColour::parse("#ffcc00").unwrap()
        })
        .await;
        assert_eq!(plan(&app).await, 1);
        assert_eq!(deliver(&app, &server).await.sent, 1);
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        let parts = crate::smtp_server::mime_parts(&raw);
        let part = |kind: &str| parts.iter().find(|(k, _)| k.starts_with(kind)).map(|p| p.1.clone()).unwrap();
        let (text, html) = (part("text/plain"), part("text/html"));

        // The card: the preview's image from Chorus's own origin, its title
        // and description, the suggested text, and a button to the post in
        // the queue.
        let image_at = html.find("<img src=\"").expect("the card's image") + "<img src=\"".len();
        let image_url = html[image_at..].split('"').next().unwrap();
        assert!(image_url.starts_with(&format!("{}/previews/", app.address)), "{image_url}");
        let image = new_client().get(image_url).send().await.unwrap();
        assert_eq!(image.status(), 200, "the image is served by Chorus to anyone with the address");
        assert!(image.headers()["content-type"].to_str().unwrap().starts_with("image/"));
        for shown in ["Our annual report 2026", "Growth in every region, and what comes next.", "example.com"] {
            assert!(html.contains(shown), "the card shows {shown:?}:\n{html}");
            assert!(text.contains(shown), "the text part shows {shown:?}:\n{text}");
        }
        assert!(html.contains("Our news &#60;b&#62;today") || html.contains("Our news &lt;b&gt;today"), "{html}");
        let in_queue = format!("{}/queue#post-{post}", app.address);
        assert!(html.contains(&format!("href=\"{in_queue}\"")) && html.contains("Open in your queue"), "{html}");
        assert!(text.contains(&in_queue), "{text}");
        // The organisation's name on its colour, with text that reads on it.
        assert!(html.contains("background:#ffcc00; color:#000000;"), "{html}");
        assert!(html.contains(">Acme</td>"), "{html}");
        // The one-click unsubscribe stays in both parts.
        assert!(html.contains("/unsubscribe/") && text.contains("/unsubscribe/"));
    }
);

backend_test!(
    async fn an_invitation_comes_in_the_organisations_frame_with_a_button(app) {
        let server = SmtpServer::start().await;
        app.login_as("admin@example.com", "admin").await;
        app.change_settings(|change| {
            change.org_name = "Acme".into();
            change.brand_colour = chorus::domain::brand::BrandColour::parse("#0b3d2e").unwrap();
        })
        .await;
        let invited = app
            .post_form("/admin/people/new", &[("email", "new@example.com"), ("name", "Newt"), ("role_employee", "on")])
            .await;
        assert_eq!(invited.status(), 200);
        deliver(&app, &server).await;
        let raw = server.wait_for(1, StdDuration::from_secs(5)).await.remove(0).data;
        let parts = crate::smtp_server::mime_parts(&raw);
        let html = &parts.iter().find(|(k, _)| k.starts_with("text/html")).unwrap().1;
        assert!(html.contains("background:#0b3d2e; color:#ffffff;") && html.contains(">Acme</td>"), "{html}");
        assert!(html.contains(">Set your password</a>") && html.contains("/invite/"), "{html}");
        let text = &parts.iter().find(|(k, _)| k.starts_with("text/plain")).unwrap().1;
        assert!(text.contains("Set your password here") && text.contains("/invite/"), "{text}");
    }
);

backend_test!(
    async fn the_email_colour_is_set_in_settings_and_a_bad_one_is_refused_and_kept(app) {
        let admin = app.login_as("admin@example.com", "admin").await;
        let fields = |colour: &'static str| {
            vec![
                ("org_name", "Acme"),
                ("platform", "x"),
                ("consent_language", "en"),
                ("jurisdiction", "EU"),
                ("timezone", "UTC"),
                ("disclosure_template", "I work at {org}."),
                ("brand_colour", colour),
            ]
        };
        let page = app.get_html("/admin/settings").await;
        assert!(page.contains("type=\"color\" value=\"#1f4e79\""), "the default colour: {page}");

        let refused = app.post_form("/admin/settings", &fields("orange\"><b>")).await;
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        assert!(body.contains("Enter a colour as # and six hexadecimal digits"), "{body}");
        assert!(body.contains("type=\"text\" value=\"orange&#34;&#62;&#60;b&#62;\""), "kept and escaped: {body}");
        assert_eq!(app.db(store::org::settings).await.brand_colour().as_str(), "#1f4e79", "nothing saved");

        let saved = app.post_form("/admin/settings", &fields("#FFCC00")).await;
        assert_eq!(saved.status(), 303);
        assert_eq!(app.db(store::org::settings).await.brand_colour().as_str(), "#ffcc00");
        assert!(app.get_html("/admin/settings").await.contains("type=\"color\" value=\"#ffcc00\""));
        let audit = app.get_html("/admin/audit").await;
        assert!(audit.contains("email colour #ffcc00"), "{audit}");
        let _ = admin;
    }
);
