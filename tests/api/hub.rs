//! The hub: posts, captions, caps, scheduling, publishing, withdrawal,
//! suggestions and the audit log.

use chorus::domain::post::PostStatus;
use chorus::store::{self, posts};
use chrono::Datelike;
use diesel::RunQueryDsl;

use crate::backend_test;
use crate::helpers::*;

/// Saves a draft with the fields of [`post_fields`]; its id.
pub(crate) async fn create_post(app: &TestApp, title: &str) -> i64 {
    let response = app
        .post_form("/hub/posts/new", &post_fields(title, &[]))
        .await;
    assert_eq!(response.status(), 303, "creating {title}");
    redirected_post_id(&response)
}

async fn schedule_with(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
    at: &str,
) -> reqwest::Response {
    let token = app
        .csrf_token_with(client, &format!("/hub/posts/{id}"))
        .await;
    client
        .post(app.url(&format!("/hub/posts/{id}/schedule")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("publish_at", at),
            ("timezone", "Europe/Berlin"),
        ])
        .send()
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, id: i64) -> PostStatus {
    app.db(move |conn| posts::find(conn, id))
        .await
        .unwrap()
        .status
}

/// A local date-time string `days` ahead of the app's clock, at `hour`.
fn local_at(app: &TestApp, days: i64, hour: u32) -> String {
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let local = app.clock.now().with_timezone(&tz).date_naive() + chrono::Duration::days(days);
    format!("{}T{hour:02}:00", local.format("%Y-%m-%d"))
}

async fn set_x_caps(app: &TestApp, per_day: u32, per_week: u32) {
    app.db(move |conn| {
        chorus::store::hub_caps::set_caps(
            conn,
            chorus::domain::platforms::Platform::X,
            chorus::domain::schedule::Caps { per_day, per_week },
        )
    })
    .await;
}

backend_test!(
    async fn an_over_long_caption_is_refused_with_its_count_and_all_input_kept(app) {
        comms(&mut app).await;
        let long = "Big news! ".repeat(30);
        let response = app
            .post_form("/hub/posts/new", &post_fields("Report", &[("caption_x_1", long.trim()), ("caption_x_2", "Short one")]))
            .await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("X variant 1:") && body.contains("of 280 characters"), "the count is shown");
        assert!(body.contains("counting the link and the disclosure"));
        assert!(body.contains("value=\"Report\"") && body.contains("Short one") && body.contains("Big news! Big news!"));
        assert!(body.contains("https://example.com/news/annual-report"));
        assert!(app.db(|conn| posts::list(conn, None, 10)).await.is_empty(), "nothing saved");
    }
);

backend_test!(
    async fn the_preview_shows_each_platforms_post_with_the_disclosure_and_a_link_card(app) {
        comms(&mut app).await;
        app.change_settings(|change| change.org_name = "Acme".into()).await;
        let response = app
            .post_form("/hub/posts/new", &post_fields("Report", &[("caption_x_1", "Read our report & share #news"), ("action", "preview")]))
            .await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.contains("I work at Acme. Read our report &#38; share #news"), "disclosure in the body: {body}");
        assert!(body.contains("class=\"social-post social-x\"") && body.contains("class=\"social-post social-linkedin\""), "a post per platform");
        assert!(body.contains("<span class=\"in-text-link\">example.com/news/annual-report…</span>"), "X carries the link in its text");
        assert!(body.contains("<span class=\"link-card-host\">example.com</span>"), "a link card with the host");
        assert!(!body.contains("twitter.com/intent") && !body.contains("share-offsite"), "no raw share-dialog addresses");
        let count = "I work at Acme. Read our report & share #news".chars().count() + 1 + 23;
        assert!(body.contains(&format!("{count} of 280")), "X count with link and disclosure");
    }
);

backend_test!(
    async fn a_post_is_scheduled_then_published_and_expired_by_the_job(app) {
        let me = comms(&mut app).await;
        let expiry = local_at(&app, 5, 10);
        let response = app.post_form("/hub/posts/new", &post_fields("Report", &[("expires_at", expiry.as_str())])).await;
        assert_eq!(response.status(), 303);
        let id: i64 = redirected_post_id(&response);
        assert_eq!(status_of(&app, id).await, PostStatus::Draft);
        let at = local_at(&app, 2, 10);
        let response = schedule_with(&app, &app.client, id, &at).await;
        assert_eq!(response.status(), 303);
        assert_eq!(status_of(&app, id).await, PostStatus::Scheduled);
        let page = app.get_html(&format!("/hub/posts/{id}?done=scheduled")).await;
        assert!(page.contains("Scheduled for"));

        let clock = app.clock.clone();
        let nothing = app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        assert!(nothing.published.is_empty(), "not before its time");
        app.clock.advance(chrono::Duration::days(3));
        let clock = app.clock.clone();
        let report = app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        assert_eq!(report.published, vec![id]);
        assert_eq!(status_of(&app, id).await, PostStatus::Published);
        let log = app.db(move |conn| store::audit::for_subject(conn, &format!("post:{id}"))).await;
        assert_eq!(log, vec![("post.scheduled".to_string(), format!("user:{me}")), ("post.published".to_string(), "system".to_string())]);

        // Published posts are no longer edited, only withdrawn.
        app.client = app.login_client("comms@example.com").await;
        let response = app.post_form(&format!("/hub/posts/{id}"), &post_fields("Changed", &[])).await;
        assert_eq!(response.status(), 400);

        app.clock.advance(chrono::Duration::days(3));
        let clock = app.clock.clone();
        let report = app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        assert_eq!(report.expired, vec![id]);
        assert_eq!(status_of(&app, id).await, PostStatus::Expired);
    }
);

backend_test!(
    async fn the_hub_cap_refuses_a_schedule_and_names_the_next_free_slot(app) {
        comms(&mut app).await;
        set_x_caps(&app, 1, 5).await;
        let first = create_post(&app, "First").await;
        let second = create_post(&app, "Second").await;
        assert_eq!(schedule_with(&app, &app.client, first, &local_at(&app, 2, 9)).await.status(), 303);
        let response = schedule_with(&app, &app.client, second, &local_at(&app, 2, 15)).await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("hub cap for X is reached"), "{body}");
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let next_day = app.clock.now().with_timezone(&tz).date_naive() + chrono::Duration::days(3);
        assert!(body.contains(&next_day.format("%d %b %Y, 15:00").to_string()), "the next free slot is named");
        assert!(body.contains(&format!("value=\"{}T15:00\"", next_day.format("%Y-%m-%d"))), "and offered in the form");
        assert_eq!(status_of(&app, second).await, PostStatus::Draft);
        assert_eq!(schedule_with(&app, &app.client, second, &local_at(&app, 3, 15)).await.status(), 303);
    }
);

backend_test!(
    async fn two_comms_users_on_two_processes_cannot_exceed_the_cap_together(app) {
        comms(&mut app).await;
        set_x_caps(&app, 1, 5).await;
        app.create_user("comms2@example.com", "Comms Two", "comms").await;
        let other = app.login_client("comms2@example.com").await;
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_url = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(create_post(&app, &format!("Post {n}")).await);
        }
        let at = local_at(&app, 2, 11);
        let token_one = app.csrf_token_with(&app.client, "/hub/posts").await;
        let token_two = app.csrf_token_with(&other, "/hub/posts").await;
        let mut requests = Vec::new();
        for (n, id) in ids.iter().enumerate() {
            let (client, base, token) = if n % 2 == 0 {
                (app.client.clone(), app.address.clone(), token_one.clone())
            } else {
                (other.clone(), second_url.clone(), token_two.clone())
            };
            let at = at.clone();
            let id = *id;
            requests.push(actix_web::rt::spawn(async move {
                client
                    .post(format!("{base}/hub/posts/{id}/schedule"))
                    .header("origin", base.clone())
                    .form(&[("csrf_token", token.as_str()), ("publish_at", at.as_str()), ("timezone", "Europe/Berlin")])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        let mut statuses = Vec::new();
        for r in requests {
            statuses.push(r.await.unwrap());
        }
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 5, "{statuses:?}");
        let scheduled = app.db(|conn| posts::list(conn, Some(PostStatus::Scheduled), 100)).await;
        assert_eq!(scheduled.len(), 1);
    }
);

backend_test!(
    async fn the_publishing_job_on_two_processes_publishes_each_post_once(app) {
        comms(&mut app).await;
        let mut ids = Vec::new();
        for (n, day) in [(0, 1), (1, 1), (2, 2), (3, 2), (4, 3)] {
            let id = create_post(&app, &format!("Post {n}")).await;
            assert_eq!(schedule_with(&app, &app.client, id, &local_at(&app, day, 8 + n)).await.status(), 303);
            ids.push(id);
        }
        app.clock.advance(chrono::Duration::days(5));
        let second = chorus::startup::open_database(&app.config).unwrap();
        let mut workers = Vec::new();
        for db in [app.state.db.clone(), second.clone(), app.state.db.clone(), second] {
            let clock = app.clock.clone();
            workers.push(std::thread::spawn(move || {
                db.run_sync(|conn| chorus::jobs::run_once(conn, &clock)).unwrap().published
            }));
        }
        let mut published: Vec<i64> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        published.sort();
        assert_eq!(published, ids, "every post published by exactly one worker");
        for id in ids {
            let log = app.db(move |conn| store::audit::for_subject(conn, &format!("post:{id}"))).await;
            assert_eq!(log.iter().filter(|(a, _)| a == "post.published").count(), 1);
            assert_eq!(status_of(&app, id).await, PostStatus::Published);
        }
    }
);

backend_test!(
    async fn a_withdrawal_needs_a_reason_and_takes_the_post_out_at_once(app) {
        comms(&mut app).await;
        let id = create_post(&app, "Oops").await;
        let token = app.csrf_token_with(&app.client, &format!("/hub/posts/{id}")).await;
        let response = app
            .client
            .post(app.url(&format!("/hub/posts/{id}/schedule")))
            .form(&[("csrf_token", token.as_str()), ("now", "1"), ("timezone", "Europe/Berlin")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(status_of(&app, id).await, PostStatus::Published);
        let response = app.post_form(&format!("/hub/posts/{id}/withdraw"), &[("reason", "  ")]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("Say why"));
        let response = app
            .post_form(&format!("/hub/posts/{id}/withdraw"), &[("reason", "The figures had an error.")])
            .await;
        assert_eq!(response.status(), 303);
        let post = app.db(move |conn| posts::find(conn, id)).await.unwrap();
        assert_eq!(post.status, PostStatus::Withdrawn);
        assert_eq!(post.withdrawal_reason.as_deref(), Some("The figures had an error."));
        assert!(app.db(|conn| posts::list(conn, Some(PostStatus::Published), 10)).await.is_empty());
        let log = app.db(move |conn| store::audit::for_subject(conn, &format!("post:{id}"))).await;
        assert!(log.iter().any(|(a, _)| a == "post.withdrawn"));
    }
);

backend_test!(
    async fn a_suggestion_becomes_a_draft_or_is_declined_with_a_note(app) {
        app.create_user("emp@example.com", "Erin Employee", "employee").await;
        let emp = app.login_client("emp@example.com").await;
        comms(&mut app).await;
        let token = app.csrf_token_with(&emp, "/suggest").await;
        let bad = emp
            .post(app.url("/suggest"))
            .form(&[("csrf_token", token.as_str()), ("link", "javascript:alert(1)"), ("note", "Look!")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        assert!(bad.text().await.unwrap().contains("value=\"javascript:alert(1)\""), "input kept");
        for (link, note) in [("https://example.com/great", "A great article about us"), ("https://example.com/meh", "Maybe this?")] {
            let response = emp
                .post(app.url("/suggest"))
                .form(&[("csrf_token", token.as_str()), ("link", link), ("note", note)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 303);
        }
        let hub = app.get_html("/hub/suggestions").await;
        assert!(hub.contains("Erin Employee") && hub.contains("A great article about us"));
        let ids = app.db(store::suggestions::for_hub).await;
        let (great, meh) = (ids[0].id, ids[1].id);
        let response = app.post_form(&format!("/hub/suggestions/{great}/accept"), &[]).await;
        assert_eq!(response.status(), 303);
        let draft_id: i64 = redirected_post_id(&response);
        let draft = app.db(move |conn| posts::find(conn, draft_id)).await.unwrap();
        assert_eq!((draft.status, draft.link.as_str()), (PostStatus::Draft, "https://example.com/great"));
        let response = app.post_form(&format!("/hub/suggestions/{meh}/decline"), &[("note", "")]).await;
        assert_eq!(response.status(), 422);
        let response = app
            .post_form(&format!("/hub/suggestions/{meh}/decline"), &[("note", "Not quite our topic, thanks!")])
            .await;
        assert_eq!(response.status(), 303);
        let mine = app.get_with(&emp, "/suggest").await.text().await.unwrap();
        assert!(mine.contains("accepted") && mine.contains("declined") && mine.contains("Not quite our topic, thanks!"));
        assert_eq!(app.post_form(&format!("/hub/suggestions/{meh}/accept"), &[]).await.status(), 400);
    }
);

backend_test!(
    async fn cap_and_disclosure_changes_are_audited_and_the_log_is_append_only(app) {
        app.login_as("admin@example.com", "admin").await;
        let mut fields: Vec<(String, String)> = vec![
            ("org_name".into(), "Acme".into()),
            ("platform".into(), "x".into()),
            ("consent_language".into(), "en".into()),
            ("jurisdiction".into(), "EU".into()),
            ("timezone".into(), "Europe/Berlin".into()),
            ("disclosure_template".into(), "#{org}Employee".into()),
            ("disclosure_required".into(), "on".into()),
        ];
        for p in chorus::domain::platforms::Platform::ALL {
            let (day, week) = if p == chorus::domain::platforms::Platform::X { ("3", "9") } else { ("2", "5") };
            fields.push((format!("per_day_{}", p.slug()), day.into()));
            fields.push((format!("per_week_{}", p.slug()), week.into()));
        }
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let response = app.post_form("/admin/settings", &borrowed).await;
        assert_eq!(response.status(), 303);
        let audit = app.get_html("/admin/audit").await;
        assert!(audit.contains("settings.hub_cap") && audit.contains("X: 3 a day, 9 a week"));
        assert!(audit.contains("settings.disclosure") && audit.contains("#{org}Employee"));
        assert!(!audit.contains("LinkedIn: 2 a day"), "unchanged caps are not logged");
        let settings = app.db(store::org::settings).await;
        assert_eq!(settings.disclosure().as_deref(), Some("#AcmeEmployee"));

        let update = app.state.db.run(|conn| diesel::sql_query("UPDATE audit_log SET detail = 'x'").execute(conn)).await;
        let delete = app.state.db.run(|conn| diesel::sql_query("DELETE FROM audit_log").execute(conn)).await;
        assert!(update.is_err() && delete.is_err());
    }
);

backend_test!(
    async fn hub_pages_show_nothing_about_who_shared_or_opted_in(app) {
        let erin = app.create_user("erin@example.com", "Erin Quietperson", "employee").await;
        comms(&mut app).await;
        let id = create_post(&app, "Report").await;
        let token = app.csrf_token_with(&app.client, &format!("/hub/posts/{id}")).await;
        app.client
            .post(app.url(&format!("/hub/posts/{id}/schedule")))
            .form(&[("csrf_token", token.as_str()), ("now", "1"), ("timezone", "Europe/Berlin")])
            .send()
            .await
            .unwrap();
        // Erin opts in and shares; nothing about it may reach the hub.
        let now = app.clock.now_naive();
        app.db(move |conn| {
            store::policy::publish(conn, "Policy", false, erin, now)?;
            store::consent::record_choice(
                conn,
                erin,
                chorus::domain::consent::Purpose::ShareSuggestions(chorus::domain::platforms::Platform::X),
                chorus::domain::consent::Choice::Yes,
                None,
                "test",
                now,
            )?;
            store::shares::record(conn, erin, id, chorus::domain::platforms::Platform::X, 1, false, now)?;
            Ok(())
        })
        .await;
        for path in ["/hub/posts".to_string(), format!("/hub/posts/{id}"), "/hub/calendar".into(), "/hub/suggestions".into()] {
            let body = app.get_html(&path).await;
            assert!(!body.contains("Erin") && !body.contains("erin@example.com"), "{path}");
        }
    }
);

backend_test!(
    async fn the_calendar_shows_the_week_with_the_room_left_each_day(app) {
        comms(&mut app).await;
        set_x_caps(&app, 2, 5).await;
        let id = create_post(&app, "Launch day").await;
        assert_eq!(schedule_with(&app, &app.client, id, &local_at(&app, 1, 10)).await.status(), 303);
        let tz: chrono_tz::Tz = "UTC".parse().unwrap();
        let day = app.clock.now().with_timezone(&tz).date_naive() + chrono::Duration::days(1);
        let page = app.get_html(&format!("/hub/calendar?week={}", day.format("%Y-%m-%d"))).await;
        assert!(page.contains("Week of "), "{page}");
        assert!(page.contains(&format!("class=\"chip chip-scheduled\" href=\"/hub/posts/{id}\"")), "{page}");
        assert!(page.contains("Launch day<span class=\"visually-hidden\">: scheduled, on LinkedIn, X"), "{page}");
        assert!(page.contains("X: 1 left"), "two a day, one taken");
        assert!(page.contains(&day.format("%a %-d %b").to_string()));
        // Days to come offer a new post for that date; the phone's agenda lists the post too.
        assert!(page.contains(&format!("href=\"/hub/posts/new?date={day}\"")), "{page}");
        let agenda = &page[page.find("class=\"agenda\"").unwrap()..];
        assert!(agenda.contains("Launch day") && agenda.contains("pill-scheduled"), "{agenda}");
    }
);

backend_test!(
    async fn the_calendar_opens_on_this_month_and_moves_by_month(app) {
        comms(&mut app).await;
        let id = create_post(&app, "Launch day").await;
        assert_eq!(schedule_with(&app, &app.client, id, &local_at(&app, 1, 10)).await.status(), 303);
        let today = app.clock.now().date_naive();
        let page = app.get_html("/hub/calendar").await;
        assert!(page.contains(&format!("<h1>{}</h1>", today.format("%B %Y"))), "{page}");
        assert!(page.contains("aria-current=\"date\""), "today is marked");
        if (today + chrono::Duration::days(1)).month() == today.month() {
            assert!(page.contains("Launch day"), "{page}");
        }
        assert!(!page.contains(" left</li>"), "the month view leaves the caps to the week view");
        let next_month = today.with_day(1).unwrap() + chrono::Months::new(1);
        assert!(page.contains(&format!("href=\"/hub/calendar?month={}\" rel=\"next\"", next_month.format("%Y-%m"))), "{page}");
        let later = app.get_html(&format!("/hub/calendar?month={}", next_month.format("%Y-%m"))).await;
        assert!(later.contains(&format!("<h1>{}</h1>", next_month.format("%B %Y"))));
        // Nonsense falls back to this month rather than failing.
        let odd = app.get_html("/hub/calendar?month=2026-13").await;
        assert!(odd.contains(&format!("<h1>{}</h1>", today.format("%B %Y"))));
    }
);

backend_test!(
    async fn a_post_started_from_a_calendar_day_suggests_that_day_when_scheduling(app) {
        comms(&mut app).await;
        let day = app.clock.now().date_naive() + chrono::Duration::days(10);
        let page = app.get_html(&format!("/hub/posts/new?date={day}")).await;
        assert!(page.contains(&format!("A post for {}", day.format("%A %-d %B %Y"))), "{page}");
        let planned = format!("{day}T09:00");
        assert!(page.contains(&format!("name=\"planned_at\" value=\"{planned}\"")), "{page}");

        let mut fields = post_fields("From the calendar", &[]);
        fields.push(("planned_at", &planned));
        let response = app.post_form("/hub/posts/new", &fields).await;
        assert_eq!(response.status(), 303);
        let to = location(&response);
        assert!(to.ends_with(&format!("?done=saved&at={planned}")), "{to}");
        let post = app.get_html(&to).await;
        assert!(post.contains(&format!("name=\"publish_at\" type=\"datetime-local\" value=\"{planned}\"")), "{post}");

        // A date that is not one is ignored: a plain new post.
        let odd = app.get_html("/hub/posts/new?date=someday").await;
        assert!(!odd.contains("planned_at") && !odd.contains("A post for"), "{odd}");
    }
);
