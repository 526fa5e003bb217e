//! Approval, a two-person rule: while the organisation asks for it, a post
//! goes draft → submitted → approved → scheduled or published; the one who
//! wrote or edited it never approves it; an edit asks for approval again;
//! approvers are told in the app and by email; every step is audited.

use chorus::db::schema::{audit_log, outbox};
use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::post::PostStatus;
use chorus::store::{self, posts};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::backend_test;
use crate::helpers::*;

/// Ann and Bob (comms) and Ada (admin only); the app's client is Ann, who
/// writes. Ada turns approval on through the settings page.
struct People {
    ann: i64,
    bob: reqwest::Client,
    ada: reqwest::Client,
    bob_id: i64,
    ada_id: i64,
}

async fn organisation(app: &mut TestApp) -> People {
    let ann = app.login_as("ann@example.com", "comms").await;
    let bob_id = app.create_user("bob@example.com", "Bob", "comms").await;
    let ada_id = app.create_user("ada@example.com", "Ada", "admin").await;
    app.roomy_hub_caps().await;
    let ada = app.login_client("ada@example.com").await;
    let response = app
        .post_form_with(
            &ada,
            "/admin/settings",
            &[
                ("org_name", "Acme"),
                ("platform", "x"),
                ("platform", "linkedin"),
                ("consent_language", "en"),
                ("jurisdiction", "EU"),
                ("timezone", "UTC"),
                ("disclosure_template", "I work at {org}."),
                ("disclosure_required", "on"),
                ("approval_choice", "1"),
                ("posts_need_approval", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "approval turned on");
    assert!(app.db(store::org::settings).await.posts_need_approval);
    People {
        ann,
        bob: app.login_client("bob@example.com").await,
        ada,
        bob_id,
        ada_id,
    }
}

fn fields<'a>(title: &'a str, text: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("title", title),
        ("link", "https://example.com/news/annual-report"),
        ("base_text", text),
        ("use_x", "on"),
        ("target", "all"),
        ("timezone", "UTC"),
        ("action", "save"),
    ]
}

/// Ann writes a draft; its id.
async fn write(app: &TestApp, title: &str) -> i64 {
    let response = app
        .post_form("/hub/posts/new", &fields(title, "Our report is out."))
        .await;
    assert_eq!(response.status(), 303);
    redirected_post_id(&response)
}

async fn submit(app: &TestApp, id: i64) {
    let response = app.post_form(&format!("/hub/posts/{id}/submit"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!("/hub/posts/{id}?done=submitted")
    );
}

async fn approve(app: &TestApp, client: &reqwest::Client, id: i64) -> reqwest::Response {
    let revision = post(app, id).await.revision.to_string();
    app.post_form_with(
        client,
        &format!("/hub/posts/{id}/approve"),
        &[("revision", &revision)],
    )
    .await
}

async fn post(app: &TestApp, id: i64) -> posts::Post {
    app.db(move |conn| posts::find(conn, id)).await.unwrap()
}

async fn publish_now(app: &TestApp, id: i64) -> reqwest::Response {
    app.post_form(
        &format!("/hub/posts/{id}/schedule"),
        &[("now", "1"), ("timezone", "UTC")],
    )
    .await
}

/// The audit actions recorded for a post, oldest first.
async fn audited(app: &TestApp, id: i64) -> Vec<String> {
    let subject = format!("post:{id}");
    app.db(move |conn| {
        Ok(audit_log::table
            .filter(audit_log::subject.eq(subject))
            .order(audit_log::id)
            .select(audit_log::action)
            .load::<String>(conn)?)
    })
    .await
}

/// Who was emailed an approval request, in order.
async fn asked(app: &TestApp) -> Vec<String> {
    app.db(|conn| {
        Ok(outbox::table
            .filter(outbox::kind.eq("approval_request"))
            .order(outbox::id)
            .select(outbox::recipient)
            .load::<String>(conn)?)
    })
    .await
}

backend_test!(
    async fn the_author_cannot_approve_and_another_comms_person_or_an_admin_can(app) {
        let people = organisation(&mut app).await;
        let id = write(&app, "Annual report").await;
        submit(&app, id).await;
        assert_eq!(post(&app, id).await.status, PostStatus::Submitted);
        assert_eq!(asked(&app).await, ["bob@example.com", "ada@example.com"], "everyone but the author is emailed");

        // The author is refused, clearly, and nothing moves.
        let response = approve(&app, &app.client, id).await;
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("You wrote or edited this post"));
        assert_eq!(post(&app, id).await.status, PostStatus::Submitted);

        // In-app notices: for the others, not for the author.
        assert!(!app.get_html("/").await.contains("for your approval"));
        let bobs_home = app.get_with(&people.bob, "/").await.text().await.unwrap();
        assert!(bobs_home.contains("1 post waits for your approval"), "{bobs_home}");
        let review = app.get_with(&people.ada, "/hub/approvals").await.text().await.unwrap();
        assert!(review.contains("Annual report") && review.contains("Our report is out."), "{review}");

        // An admin who did not write it approves.
        let response = approve(&app, &people.ada, id).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/hub/approvals?done=approved");
        let approved = post(&app, id).await;
        assert_eq!(approved.status, PostStatus::Approved);
        assert_eq!(approved.approved_by, Some(people.ada_id));
        assert_eq!(audited(&app, id).await, ["post.submitted", "post.approved"]);
        let bobs_home = app.get_with(&people.bob, "/").await.text().await.unwrap();
        assert!(!bobs_home.contains("for your approval"), "nothing waits any more");
        let audit_page = app.get_with(&people.ada, "/admin/audit").await.text().await.unwrap();
        assert!(audit_page.contains("posts need approval"), "the setting change is audited");
    }
);

backend_test!(
    async fn an_edit_after_approval_sends_the_post_back_to_submitted_and_asks_again(app) {
        let people = organisation(&mut app).await;
        let id = write(&app, "Annual report").await;
        submit(&app, id).await;
        assert_eq!(approve(&app, &people.bob, id).await.status(), 303);
        assert_eq!(publish_now(&app, id).await.status(), 303);
        // Scheduled for later instead, then edited: approval again.
        let id = write(&app, "Second post").await;
        submit(&app, id).await;
        assert_eq!(approve(&app, &people.bob, id).await.status(), 303);
        let response = app
            .post_form(&format!("/hub/posts/{id}/schedule"), &[("publish_at", "2099-01-01T09:00"), ("timezone", "UTC")])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(post(&app, id).await.status, PostStatus::Scheduled);
        let before = post(&app, id).await.revision;
        let response = app.post_form(&format!("/hub/posts/{id}"), &fields("Second post", "Now with a typo fixed.")).await;
        assert_eq!(response.status(), 303);
        let edited = post(&app, id).await;
        assert_eq!(edited.status, PostStatus::Submitted, "an edit after approval needs approval again");
        assert_eq!((edited.approved_by, edited.approved_at), (None, None));
        assert_eq!(edited.revision, before + 1);
        assert_eq!(
            audited(&app, id).await,
            ["post.submitted", "post.approved", "post.scheduled", "post.resubmitted"]
        );
        let requests = asked(&app).await;
        assert_eq!(requests.iter().filter(|r| *r == "bob@example.com").count(), 3, "asked again after the edit: {requests:?}");

        // An approval of what was seen before the edit is refused.
        let stale = app
            .post_form_with(&people.bob, &format!("/hub/posts/{id}/approve"), &[("revision", &before.to_string())])
            .await;
        assert_eq!(stale.status(), 409);
        assert!(stale.text().await.unwrap().contains("edited since you opened it"));
        assert_eq!(post(&app, id).await.status, PostStatus::Submitted);
        assert_eq!(approve(&app, &people.bob, id).await.status(), 303);
        assert_eq!(post(&app, id).await.approved_by, Some(people.bob_id));
    }
);

backend_test!(
    async fn scheduling_and_publishing_are_refused_until_the_post_is_approved(app) {
        let people = organisation(&mut app).await;
        let id = write(&app, "Annual report").await;
        let page = app.get_html(&format!("/hub/posts/{id}")).await;
        assert!(page.contains("Submit for approval") && !page.contains("Publish now"), "{page}");
        for _ in 0..2 {
            let response = publish_now(&app, id).await;
            assert_eq!(response.status(), 422);
            assert!(response.text().await.unwrap().contains("needs approval before it is scheduled or published"));
            assert_ne!(post(&app, id).await.status, PostStatus::Published);
            submit_once(&app, id).await;
        }
        let later = app
            .post_form(&format!("/hub/posts/{id}/schedule"), &[("publish_at", "2099-01-01T09:00"), ("timezone", "UTC")])
            .await;
        assert_eq!(later.status(), 422, "scheduling for later is refused too");
        assert_eq!(post(&app, id).await.status, PostStatus::Submitted);
        assert_eq!(approve(&app, &people.bob, id).await.status(), 303);
        assert_eq!(publish_now(&app, id).await.status(), 303);
        assert_eq!(post(&app, id).await.status, PostStatus::Published);
    }
);

/// Submits a draft; a submitted post stays as it is.
async fn submit_once(app: &TestApp, id: i64) {
    if post(app, id).await.status == PostStatus::Draft {
        submit(app, id).await;
    }
}

backend_test!(
    async fn approvers_are_emailed_a_link_to_review_and_a_decided_request_is_not_sent(app) {
        let people = organisation(&mut app).await;
        let first = write(&app, "Annual report").await;
        submit(&app, first).await;
        let second = write(&app, "Spring launch").await;
        submit(&app, second).await;
        // Decided before the emails go: those about it are not sent.
        assert_eq!(approve(&app, &people.bob, second).await.status(), 303);
        let server = crate::smtp_server::SmtpServer::start().await;
        crate::email::deliver(&app, &server).await;
        let received = server.received();
        let mut to: Vec<String> = received.iter().flat_map(|r| r.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["ada@example.com", "bob@example.com"], "only the request still waiting: {received:?}");
        for message in &received {
            assert!(message.data.contains("Subject: A post waits for your approval: Annual report"), "{}", message.data);
            assert!(message.data.contains("/hub/approvals"), "a link to review it");
        }
    }
);

backend_test!(
    async fn two_approvers_on_two_processes_at_once_give_one_approval(app) {
        let people = organisation(&mut app).await;
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_url = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        for round in 0..5 {
            let id = write(&app, &format!("Post {round}")).await;
            submit(&app, id).await;
            // Bob here, Ada on another process on the same database.
            let revision = post(&app, id).await.revision.to_string();
            let ada_token = app.csrf_token_with(&people.ada, "/").await;
            let ada_request = people
                .ada
                .post(format!("{second_url}/hub/posts/{id}/approve"))
                .header("origin", second_url.clone())
                .form(&[("csrf_token", ada_token.as_str()), ("revision", revision.as_str())])
                .send();
            let (bob, ada) = tokio::join!(approve(&app, &people.bob, id), ada_request);
            let ada = ada.unwrap();
            let mut statuses = [bob.status().as_u16(), ada.status().as_u16()];
            statuses.sort();
            assert_eq!(statuses, [303, 409], "round {round}: one approves, the other is told");
            let approvals = audited(&app, id).await.iter().filter(|a| *a == "post.approved").count();
            assert_eq!(approvals, 1, "round {round}: one approval recorded");
            let approved = post(&app, id).await;
            assert_eq!(approved.status, PostStatus::Approved);
            assert!([Some(people.bob_id), Some(people.ada_id)].contains(&approved.approved_by));
        }
    }
);

async fn call(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = new_client().post(app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn token(app: &TestApp, owner_id: i64) -> String {
    app.api_token(owner_id, TokenKind::Personal, Scope::ReadWrite)
        .await
}

backend_test!(
    async fn the_api_submits_and_approves_and_refuses_the_authors_own_approval(app) {
        let people = organisation(&mut app).await;
        let (ann, bob) = (token(&app, people.ann).await, token(&app, people.bob_id).await);
        let (status, body) = call(
            &app,
            "/api/v1/posts",
            &ann,
            Some(json!({"title": "Launch", "link": "https://example.com/launch", "base_text": "We launched", "platforms": [{"platform": "x"}]})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().unwrap();
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/schedule"), &ann, Some(json!({"now": true}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("approval_required")), "{body}");
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/submit"), &ann, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("submitted")), "{body}");
        let revision = body["revision"].as_i64().unwrap();
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &ann, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("own_post")), "{body}");
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &bob, Some(json!({"revision": revision + 1}))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("post_changed")), "{body}");
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &bob, Some(json!({"revision": revision}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
        assert!(body["approved_at"].is_string(), "{body}");
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &bob, None).await;
        assert_eq!(status, 409, "approved once: {body}");
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/schedule"), &ann, Some(json!({"now": true}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("published")), "{body}");
        let document = new_client().get(app.url("/api/v1/openapi.json")).send().await.unwrap().text().await.unwrap();
        assert!(document.contains("/api/v1/posts/{id}/submit") && document.contains("/api/v1/posts/{id}/approve"));
    }
);

backend_test!(
    async fn an_admin_approves_through_the_api_and_a_service_token_never_does(app) {
        let people = organisation(&mut app).await;
        let ann = token(&app, people.ann).await;
        let (status, body) = call(
            &app,
            "/api/v1/posts",
            &ann,
            Some(json!({"title": "Launch", "link": "https://example.com/launch", "base_text": "We launched", "platforms": [{"platform": "x"}]})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().unwrap();
        let (status, _) = call(&app, &format!("/api/v1/posts/{id}/submit"), &ann, None).await;
        assert_eq!(status, 200);
        // A comms service token acts for no one: it cannot be the second person.
        let service = app
            .api_token(people.ada_id, TokenKind::Service(chorus::domain::api_access::ServiceRole::Comms), Scope::ReadWrite)
            .await;
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &service, None).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.to_string().contains("personal token"), "{body}");
        // Ada is an admin, not comms: as on the approvals page, she may approve.
        let ada = token(&app, people.ada_id).await;
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &ada, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    }
);

backend_test!(
    async fn a_post_scheduled_before_approval_was_turned_on_waits_for_approval(app) {
        let comms = app.login_as("ann@example.com", "comms").await;
        app.roomy_hub_caps().await;
        let now = app.clock.now_naive();
        let id = app.store_draft(small_post("Scheduled early"), comms).await;
        app.db(move |conn| {
            let outcome = posts::schedule(conn, id, now + chrono::Duration::hours(1), chrono_tz::UTC, comms, now)?;
            assert_eq!(outcome, posts::ScheduleOutcome::Scheduled);
            Ok(())
        })
        .await;
        app.change_settings(|change| change.posts_need_approval = true).await;
        app.clock.advance(chrono::Duration::hours(2));
        let clock = app.clock.clone();
        let report = app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        assert!(report.published.is_empty(), "held, not published: {report:?}");
        let post = app.db(move |conn| posts::find(conn, id)).await.unwrap();
        assert_eq!(post.status, PostStatus::Scheduled);
        // Two hours on, Ann signs in again and reads why it waits.
        let ann = app.login_client("ann@example.com").await;
        let page = app.get_with(&ann, &format!("/hub/posts/{id}")).await.text().await.unwrap();
        assert!(page.contains("<strong>held</strong>: approval was turned on after it was scheduled"), "{page}");
        // With approval off again, its time has come and it goes out.
        app.change_settings(|change| change.posts_need_approval = false).await;
        let clock = app.clock.clone();
        let report = app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        assert_eq!(report.published, vec![id]);
    }
);

backend_test!(
    async fn whoever_submits_a_draft_no_one_wrote_cannot_approve_it(app) {
        let people = organisation(&mut app).await;
        let now = app.clock.now_naive();
        // As a feed's item becomes a draft: no author.
        let id = app
            .db(move |conn| posts::create_draft_by(conn, &small_post("From the newsroom"), None, now))
            .await;
        let response = app.post_form(&format!("/hub/posts/{id}/submit"), &[]).await;
        assert_eq!(response.status(), 303);
        let ann = token(&app, people.ann).await;
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &ann, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("own_post")), "{body}");
        let bob = token(&app, people.bob_id).await;
        let (status, body) = call(&app, &format!("/api/v1/posts/{id}/approve"), &bob, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    }
);
