//! The JSON API: tokens (created and shown once, hashed, scoped, revoked),
//! bearer-only authentication, the queue, caps and consent as on the pages,
//! the hub's posts, reports with the pages' suppression, one error shape and
//! the OpenAPI document.

use chorus::domain::api_access::{Scope, ServiceRole, TokenKind};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::{Platform, Share};
use chorus::domain::schedule::Caps;
use chorus::domain::share_caps::ShareCaps;
use chorus::store::{self, api_tokens, consent, posts, shares};
use chorus::web::{Access, route_table};
use serde_json::{Value, json};

use crate::backend_test;
use crate::helpers::*;

/// Names the organisation, enables X and LinkedIn, publishes a policy and
/// lifts the hub caps. The hub person is user 1.
async fn organisation(app: &TestApp) -> i64 {
    let hub = app
        .create_user("hub@example.com", "Hub", "comms,admin")
        .await;
    app.ready_organisation(hub, vec![Platform::LinkedIn, Platform::X])
        .await;
    hub
}

async fn agree(app: &TestApp, user_id: i64, platform: Platform) {
    app.agree(user_id, platform, None).await;
}

async fn publish(app: &TestApp, hub: i64, title: &str) -> i64 {
    app.publish_post(small_post(title), hub).await
}

async fn token(app: &TestApp, owner_id: i64, kind: TokenKind, scope: Scope) -> String {
    app.api_token(owner_id, kind, scope).await
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = new_client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    (status, headers, value)
}

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not the error shape: {body}"))
}

/// Creates a token on a tokens page and returns it as shown.
async fn create_on_page(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let response = app.post_form_with(client, path, fields).await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let marker = "id=\"new-token\" readonly value=\"";
    let token = body.find(marker).map(|start| {
        let rest = &body[start + marker.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    });
    (status, token.unwrap_or(body))
}

backend_test!(
    async fn a_personal_token_is_shown_once_and_only_its_hash_is_stored(app) {
        app.login_as("ann@example.com", "employee").await;
        let client = app.client.clone();
        let (status, token) = create_on_page(&app, &client, "/me/tokens", &[("name", "My script"), ("scope", "read"), ("expires", "30")]).await;
        assert_eq!(status, 200);
        assert!(token.starts_with("chorus_pat_") && token.len() > 40, "{token}");
        let later = app.get_html("/me/tokens").await;
        assert!(later.contains("My script") && !later.contains(&token), "listed, never shown again");
        assert!(later.contains(&token[..15]), "its prefix identifies it");
        let hashes = app.db(api_tokens::stored_hashes).await;
        assert_eq!(hashes, vec![chorus::credentials::token_hash(&token)], "only the hash is kept");
        let (status, _, me) = call(&app, "GET", "/api/v1/me", &token, None).await;
        assert_eq!(status, 200);
        assert_eq!(me["scope"], "read");
        assert_eq!(me["user"]["email"], "ann@example.com");
        let listed = app.get_html("/me/tokens").await;
        assert_eq!(listed.matches("UTC").count(), 3, "created, last used and expiry are shown: {listed}");
        let audit = app.db(|conn| store::audit::page(conn, 0, 10)).await.0;
        assert!(audit.iter().any(|e| e.action == "api_token.created"));
        let export = app.get_html("/me/data.json").await;
        assert!(export.contains("\"apiTokens\"") && export.contains("My script") && !export.contains(&token), "the export lists it, without the secret");

        // A refused form keeps the input and says why, on the same page.
        let response = app.post_form_with(&client, "/me/tokens", &[("name", "kept name"), ("scope", "admin"), ("expires", "31")]).await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("value=\"kept name\"") && body.contains("Choose read or read-write.") && body.contains("from the list"), "{body}");
        assert_eq!(app.db(api_tokens::stored_hashes).await.len(), 1, "nothing half-saved");
    }
);

backend_test!(
    async fn a_revoked_token_answers_401_at_once_and_others_cannot_revoke_it(app) {
        let ann = app.login_as("ann@example.com", "employee").await;
        let client = app.client.clone();
        let (_, token) = create_on_page(&app, &client, "/me/tokens", &[("name", "bot"), ("scope", "read-write"), ("expires", "never")]).await;
        assert_eq!(call(&app, "GET", "/api/v1/consent", &token, None).await.0, 200);
        let id = app.db(move |conn| api_tokens::personal_of(conn, ann)).await[0].id;
        app.create_user("bob@example.com", "Bob", "employee").await;
        let bob = app.login_client("bob@example.com").await;
        let response = app.post_form_with(&bob, &format!("/me/tokens/{id}/revoke"), &[]).await;
        assert_eq!(response.status(), 404, "not Bob's token");
        assert_eq!(call(&app, "GET", "/api/v1/consent", &token, None).await.0, 200);
        let response = app.post_form_with(&client, &format!("/me/tokens/{id}/revoke"), &[]).await;
        assert_eq!(response.status(), 303);
        let (status, headers, body) = call(&app, "GET", "/api/v1/consent", &token, None).await;
        assert_eq!(status, 401);
        assert_eq!(code(&body), "unauthorized");
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let audit = app.db(|conn| store::audit::page(conn, 0, 10)).await.0;
        assert!(audit.iter().any(|e| e.action == "api_token.revoked" && e.subject == format!("api_token:{id}")));
    }
);

backend_test!(
    async fn a_read_token_is_refused_every_write_with_403(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee,comms").await;
        agree(&app, ann, Platform::X).await;
        let post = publish(&app, hub, "Report").await;
        let read = token(&app, ann, TokenKind::Personal, Scope::Read).await;
        assert_eq!(call(&app, "GET", "/api/v1/queue", &read, None).await.0, 200);
        for (method, path) in [
            ("POST", format!("/api/v1/queue/{post}/share/x")),
            ("POST", format!("/api/v1/queue/{post}/dismiss")),
            ("POST", "/api/v1/posts".to_string()),
            ("POST", format!("/api/v1/posts/{post}/withdraw")),
        ] {
            let (status, _, body) = call(&app, method, &path, &read, Some(json!({}))).await;
            assert_eq!((status, code(&body)), (403, "insufficient_scope"), "{method} {path}");
        }
        let count = app.db(move |conn| shares::history(conn, ann)).await.len();
        assert_eq!(count, 0, "nothing was shared");
    }
);

backend_test!(
    async fn a_session_cookie_never_authenticates_the_api_and_a_deactivated_persons_token_stops(app) {
        let admin = app.create_user("admin@example.com", "Admin", "admin").await;
        let ann = app.login_as("ann@example.com", "employee").await;
        for path in ["/api/v1/queue", "/api/v1/consent", "/api/v1/me"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 401, "{path} with only a session cookie");
        }
        let response = app.client.post(app.url("/api/v1/queue/1/dismiss")).send().await.unwrap();
        assert_eq!(response.status(), 401, "no CSRF page, no cookie: the token decides");
        let live = token(&app, ann, TokenKind::Personal, Scope::ReadWrite).await;
        assert_eq!(call(&app, "GET", "/api/v1/queue", &live, None).await.0, 200);
        let now = app.clock.now_naive();
        app.db(move |conn| store::users::set_active(conn, ann, false, admin, now).map(|_| ())).await;
        assert_eq!(call(&app, "GET", "/api/v1/queue", &live, None).await.0, 401);
        // Unknown routes under /api answer the error shape too.
        let (status, _, body) = call(&app, "GET", "/api/v1/nothing-here", &live, None).await;
        assert_eq!((status, code(&body)), (404, "not_found"));
    }
);

backend_test!(
    async fn the_queue_lists_offers_with_each_platforms_share_intent_url(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        agree(&app, ann, Platform::X).await;
        let post = publish(&app, hub, "Report").await;
        let tok = token(&app, ann, TokenKind::Personal, Scope::Read).await;
        let (status, _, body) = call(&app, "GET", "/api/v1/queue", &tok, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["total"], 1);
        let item = &body["posts"][0];
        assert_eq!(item["id"], post);
        // What the queue page shows, no more: never the hub's internal title.
        let mut keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["id", "link", "offers", "preview"], "{item}");

        let offer = &item["offers"][0];
        assert_eq!(offer["platform"], "x");
        let text = offer["text"].as_str().unwrap();
        // The link as shared on X: with the organisation's default tags.
        let link = "https://example.com/Report?utm_source=x&utm_medium=employee_advocacy&utm_campaign=report";
        assert_eq!(offer["link"], link);
        let expected = Platform::X
            .share_url(&Share { text, url: link, title: text, instance: None })
            .unwrap();
        assert_eq!(offer["share_url"], expected);
        assert_eq!(offer["shared"], false);
        let (status, _, body) = call(&app, "GET", "/api/v1/queue?page=0", &tok, None).await;
        assert_eq!((status, code(&body)), (400, "bad_request"));
        publish(&app, hub, "Hub only plan").await;
        let (_, _, body) = call(&app, "GET", "/api/v1/queue", &tok, None).await;
        assert_eq!(body["total"], 2);
        assert!(!body.to_string().contains("Hub only plan"), "the internal title stays with the hub: {body}");
    }
);

backend_test!(
    async fn sharing_past_the_cap_is_429_with_retry_after_and_records_nothing_more(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        agree(&app, ann, Platform::X).await;
        app.db(move |conn| shares::set_personal(conn, ann, Platform::X, ShareCaps { per_day: 2, per_week: 10 })).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(publish(&app, hub, &format!("Post {n}")).await);
        }
        let tok = token(&app, ann, TokenKind::Personal, Scope::ReadWrite).await;
        for id in &ids[..2] {
            let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{id}/share/x"), &tok, None).await;
            assert_eq!(status, 200, "{body}");
            assert!(body["share_url"].as_str().unwrap().starts_with("https://"), "{body}");
            assert_eq!(body["already_shared"], false);
        }
        let (status, headers, body) = call(&app, "POST", &format!("/api/v1/queue/{}/share/x", ids[2]), &tok, None).await;
        assert_eq!((status, code(&body)), (429, "cap_reached"), "{body}");
        let retry: i64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 86_400, "{retry}");
        let recorded = app.db(move |conn| shares::history(conn, ann)).await.len();
        assert_eq!(recorded, 2, "zero shares past the cap");
        // Sharing one again is not counted twice.
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{}/share/x", ids[0]), &tok, None).await;
        assert!(status == 200 && body["already_shared"] == true || status == 429, "{status} {body}");
        assert_eq!(app.db(move |conn| shares::history(conn, ann)).await.len(), 2);
    }
);

backend_test!(
    async fn sharing_needs_consent_and_an_offered_post_and_wrong_bodies_get_the_error_shape(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        agree(&app, ann, Platform::X).await;
        let post = publish(&app, hub, "Report").await;
        let tok = token(&app, ann, TokenKind::Personal, Scope::ReadWrite).await;
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{post}/share/linkedin"), &tok, None).await;
        assert_eq!(status, 404, "not offered on a platform the post is not for: {body}");
        let (status, _, body) = call(&app, "POST", "/api/v1/queue/99999/share/x", &tok, None).await;
        assert_eq!((status, code(&body)), (404, "not_found"));
        let (status, _, _) = call(&app, "POST", &format!("/api/v1/queue/{post}/share/myspace"), &tok, None).await;
        assert_eq!(status, 404);
        // Bodies: not JSON, malformed JSON, unknown fields.
        let response = new_client().post(app.url(&format!("/api/v1/queue/{post}/share/x"))).bearer_auth(&tok)
            .header("content-type", "text/plain").body("text=hello").send().await.unwrap();
        assert_eq!(response.status(), 415);
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(code(&body), "unsupported_media_type");
        let response = new_client().post(app.url(&format!("/api/v1/queue/{post}/share/x"))).bearer_auth(&tok)
            .header("content-type", "application/json").body("{\"text\":").send().await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(code(&body), "bad_request");
        let recorded = app.db(move |conn| shares::history(conn, ann)).await.len();
        assert_eq!(recorded, 0);
        // Withdrawn consent: the queue is empty and sharing is refused.
        let now = app.clock.now_naive();
        app.db(move |conn| consent::record_choice(conn, ann, Purpose::ShareSuggestions(Platform::X), Choice::No, None, "test", now).map(|_| ())).await;
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{post}/share/x"), &tok, None).await;
        let (_, _, unknown) = call(&app, "POST", "/api/v1/queue/99999/share/x", &tok, None).await;
        assert_eq!((status, &body), (404, &unknown), "as for an unknown post, no distinguishable no_consent");
        assert_eq!(app.db(move |conn| shares::history(conn, ann)).await.len(), 0);
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{post}/dismiss"), &tok, None).await;
        assert_eq!((status, &body), (404, &unknown), "nor dismissed: no platform said yes to");
    }
);

backend_test!(
    async fn dismissing_takes_the_post_out_of_the_callers_queue(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        agree(&app, ann, Platform::X).await;
        let post = publish(&app, hub, "Report").await;
        let tok = token(&app, ann, TokenKind::Personal, Scope::ReadWrite).await;
        let (status, _, _) = call(&app, "POST", &format!("/api/v1/queue/{post}/dismiss"), &tok, None).await;
        assert_eq!(status, 204);
        let (_, _, body) = call(&app, "GET", "/api/v1/queue", &tok, None).await;
        assert_eq!(body["total"], 0, "{body}");
        let (status, _, unknown) = call(&app, "POST", "/api/v1/queue/99999/dismiss", &tok, None).await;
        assert_eq!(status, 404);
        // A draft's id answers as an unknown id, and stores nothing.
        let draft = app.store_draft(small_post("d"), hub).await;
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{draft}/dismiss"), &tok, None).await;
        assert_eq!((status, &body), (404, &unknown));
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/queue/{draft}/share/x"), &tok, None).await;
        assert_eq!((status, code(&body)), (404, "not_found"));
        assert_eq!(app.db(move |conn| shares::dismissed(conn, ann)).await.len(), 1, "only the offered post");
    }
);

backend_test!(
    async fn consent_state_and_events_are_the_callers_own(app) {
        organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        let bob = app.create_user("bob@example.com", "Bob", "employee").await;
        agree(&app, ann, Platform::X).await;
        agree(&app, bob, Platform::LinkedIn).await;
        let tok = token(&app, ann, TokenKind::Personal, Scope::Read).await;
        let (status, _, body) = call(&app, "GET", "/api/v1/consent", &tok, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["choices"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["choices"][0]["platform"], "x");
        assert_eq!(body["choices"][0]["status"], "given");
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["action"], "given");
        assert_eq!(body["policy_version"], 1);
    }
);

fn post_body(title: &str) -> Value {
    json!({
        "title": title,
        "link": "https://example.com/launch",
        "base_text": "We launched",
        "platforms": [{"platform": "x", "variants": ["We launched today"]}],
    })
}

backend_test!(
    async fn comms_writes_schedules_and_withdraws_posts_with_the_hubs_validation(app) {
        organisation(&app).await;
        let cora = app.create_user("cora@example.com", "Cora", "comms").await;
        let tok = token(&app, cora, TokenKind::Personal, Scope::ReadWrite).await;
        let bad = json!({"title": " ", "link": "ftp://x", "platforms": [{"platform": "myspace"}]});
        let (status, _, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(bad)).await;
        assert_eq!((status, code(&body)), (422, "validation_failed"), "{body}");
        for field in ["title", "link", "platforms"] {
            assert!(body["error"]["fields"][field].is_string(), "{field}: {body}");
        }
        let long = json!({"title": "Long", "link": "https://example.com/a", "platforms": [{"platform": "x", "variants": ["x".repeat(400)]}]});
        let (status, _, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(long)).await;
        assert_eq!(status, 422);
        assert!(body["error"]["fields"]["captions"].as_str().unwrap().contains("X"), "{body}");
        assert_eq!(app.db(|conn| posts::list(conn, None, 10)).await.len(), 0, "nothing saved");

        let (status, headers, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(post_body("Launch"))).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_i64().unwrap();
        assert_eq!(headers["location"], format!("/api/v1/posts/{id}").as_str());
        assert_eq!(body["status"], "draft");
        let (status, _, body) = call(&app, "PUT", &format!("/api/v1/posts/{id}"), &tok, Some(post_body("Launch day"))).await;
        assert_eq!((status, body["title"].as_str()), (200, Some("Launch day")));
        let (_, _, listed) = call(&app, "GET", "/api/v1/posts?status=draft", &tok, None).await;
        assert_eq!(listed["posts"][0]["id"], id);

        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/schedule"), &tok, Some(json!({"publish_at": "2001-01-01T00:00:00Z"}))).await;
        assert_eq!(status, 422, "in the past: {body}");
        assert!(body["error"]["fields"]["publish_at"].is_string());
        let at = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/schedule"), &tok, Some(json!({"publish_at": at}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("scheduled")), "{body}");
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/unschedule"), &tok, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("draft")));
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/schedule"), &tok, Some(json!({"now": true}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("published")), "{body}");
        let (status, _, body) = call(&app, "PUT", &format!("/api/v1/posts/{id}"), &tok, Some(post_body("Too late"))).await;
        assert_eq!((status, code(&body)), (409, "conflict"));
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/withdraw"), &tok, Some(json!({"reason": ""}))).await;
        assert_eq!(status, 422);
        assert!(body["error"]["fields"]["reason"].is_string());
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{id}/withdraw"), &tok, Some(json!({"reason": "Wrong figures"}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("withdrawn")), "{body}");
        let (status, _, _) = call(&app, "GET", "/api/v1/posts/99999", &tok, None).await;
        assert_eq!(status, 404);
    }
);

backend_test!(
    async fn scheduling_past_the_hub_cap_is_refused_naming_the_next_slot(app) {
        organisation(&app).await;
        app.db(|conn| chorus::store::hub_caps::set_caps(conn, Platform::X, Caps { per_day: 1, per_week: 7 })).await;
        let cora = app.create_user("cora@example.com", "Cora", "comms").await;
        let tok = token(&app, cora, TokenKind::Personal, Scope::ReadWrite).await;
        let mut ids = Vec::new();
        for title in ["One", "Two"] {
            let (_, _, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(post_body(title))).await;
            ids.push(body["id"].as_i64().unwrap());
        }
        let (status, _, _) = call(&app, "POST", &format!("/api/v1/posts/{}/schedule", ids[0]), &tok, Some(json!({"now": true}))).await;
        assert_eq!(status, 200);
        let (status, _, body) = call(&app, "POST", &format!("/api/v1/posts/{}/schedule", ids[1]), &tok, Some(json!({"now": true}))).await;
        assert_eq!((status, code(&body)), (422, "hub_cap_reached"), "{body}");
        assert!(body["error"]["fields"]["publish_at"].as_str().unwrap().contains("next free slot"), "{body}");
    }
);

backend_test!(
    async fn an_employee_cannot_touch_posts_and_service_tokens_do_only_their_role(app) {
        let hub = organisation(&app).await;
        let ann = app.create_user("ann@example.com", "Ann", "employee").await;
        let post = publish(&app, hub, "Report").await;
        let tok = token(&app, ann, TokenKind::Personal, Scope::ReadWrite).await;
        for (method, path, body) in [
            ("GET", "/api/v1/posts".to_string(), None),
            ("POST", "/api/v1/posts".to_string(), Some(post_body("Mine"))),
            ("GET", format!("/api/v1/posts/{post}"), None),
            ("POST", format!("/api/v1/posts/{post}/withdraw"), Some(json!({"reason": "no"}))),
            ("GET", "/api/v1/reports".to_string(), None),
        ] {
            let (status, _, answer) = call(&app, method, &path, &tok, body).await;
            assert_eq!((status, code(&answer)), (403, "forbidden"), "{method} {path}");
        }
        // An admin creates service tokens under Admin → Integrations.
        app.create_user("admin@example.com", "Admin", "admin").await;
        let admin = app.login_client("admin@example.com").await;
        let (status, reports) = create_on_page(&app, &admin, "/admin/tokens", &[("name", "Intranet"), ("scope", "read"), ("expires", "90"), ("role", "reports")]).await;
        assert_eq!(status, 200);
        assert!(reports.starts_with("chorus_svc_"), "{reports}");
        let employee = app.login_client("ann@example.com").await;
        assert_eq!(app.post_form_with(&employee, "/admin/tokens", &[("name", "x"), ("scope", "read"), ("expires", "90"), ("role", "comms")]).await.status(), 403);
        assert_eq!(call(&app, "GET", "/api/v1/reports", &reports, None).await.0, 200);
        for path in ["/api/v1/posts", "/api/v1/queue", "/api/v1/consent"] {
            assert_eq!(call(&app, "GET", path, &reports, None).await.0, 403, "{path}");
        }
        let comms = token(&app, hub, TokenKind::Service(ServiceRole::Comms), Scope::ReadWrite).await;
        assert_eq!(call(&app, "GET", "/api/v1/posts", &comms, None).await.0, 200);
        let (status, _, me) = call(&app, "GET", "/api/v1/me", &comms, None).await;
        assert_eq!((status, me["token_kind"].as_str(), me["user"].is_null()), (200, Some("service"), true));
        assert_eq!(call(&app, "GET", "/api/v1/queue", &comms, None).await.0, 403, "never a person's queue");
    }
);

backend_test!(
    async fn reports_over_the_api_suppress_exactly_as_the_page_and_its_csv(app) {
        let hub = app.create_user("hub@example.com", "Hub", "comms").await;
        let now = app.clock.now_naive();
        let mut people = Vec::new();
        for i in 0..12 {
            people.push(app.create_user_in(&format!("w{i:02}@example.com"), "Worker", "employee", Some("Sales")).await);
        }
        app.db(move |conn| {
            store::policy::publish(conn, "Policy", false, hub, now)?;
            chorus::store::hub_caps::set_caps(conn, Platform::X, Caps { per_day: 50, per_week: 100 })?;
            let post = posts::create_draft(conn, &posts::PostInput {
                title: "Quarterly report".into(), link: "https://example.com/q".into(), base_text: "Q".into(),
                captions: vec![(Platform::X, vec!["Q".into()])], target_all: true, department_ids: vec![], expires_at: None,
            }, hub, now)?;
            posts::schedule(conn, post, now, chrono_tz::UTC, hub, now)?;
            for person in people.iter().take(4) {
                consent::record_choice(conn, *person, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "test", now)?;
                shares::record(conn, *person, post, Platform::X, 1, false, now)?;
            }
            Ok(())
        })
        .await;
        let tok = token(&app, hub, TokenKind::Personal, Scope::Read).await;
        let (status, _, body) = call(&app, "GET", "/api/v1/reports", &tok, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["k"], 5);
        let comms = app.login_client("hub@example.com").await;
        let csv = app.get_with(&comms, "/admin/reports/posts.csv").await.text().await.unwrap();
        let csv_row: Vec<String> = csv.lines().nth(1).unwrap().split(',').map(str::to_string).collect();
        let api_row: Vec<String> = body["posts"]["rows"][0].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        assert_eq!(api_row, csv_row, "the API's cells are the page's");
        assert!(!api_row.contains(&"4".to_string()), "4 sharers with k = 5 stay hidden: {api_row:?}");
        let (status, _, body) = call(&app, "GET", "/api/v1/reports?weeks=5", &tok, None).await;
        assert_eq!((status, code(&body)), (400, "bad_request"));
    }
);

/// `{id:\d+}` in the route table is `{id}` in OpenAPI.
fn openapi_path(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let name = rest[start + 1..end].split(':').next().unwrap();
        out.push_str(&format!("{{{name}}}"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

backend_test!(
    async fn the_openapi_document_lists_every_api_route_of_the_route_table(app) {
        let response = app.get("/api/v1/openapi.json").await;
        assert_eq!(response.status(), 200);
        let doc: Value = serde_json::from_str(&response.text().await.unwrap()).expect("valid JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        let mut listed = 0;
        for spec in route_table() {
            if !spec.path.starts_with("/api/v1/") || spec.path.ends_with("openapi.json") {
                continue;
            }
            assert!(matches!(spec.access, Access::Token(_)), "{} is token-only", spec.path);
            let path = openapi_path(spec.path);
            let operation = &doc["paths"][&path][spec.method.as_str().to_lowercase()];
            assert!(operation.is_object(), "{} {path} is documented", spec.method);
            assert!(operation["security"][0]["bearer"].is_array(), "{path} names the bearer scheme");
            for status in ["200", "401", "403", "404"] {
                let documented = operation["responses"][status].is_object()
                    || (status == "200" && (operation["responses"]["201"].is_object() || operation["responses"]["204"].is_object()));
                assert!(documented, "{path} documents {status}");
            }
            listed += 1;
        }
        assert_eq!(listed, doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum::<usize>());
    }
);

backend_test!(
    async fn wrong_methods_huge_bodies_and_odd_paths_answer_the_error_shape_never_a_page(app) {
        let cora = app.create_user("cora@example.com", "Cora", "comms").await;
        let tok = token(&app, cora, TokenKind::Personal, Scope::ReadWrite).await;
        let (status, _, body) = call(&app, "DELETE", "/api/v1/posts", &tok, None).await;
        assert_eq!((status, code(&body)), (405, "method_not_allowed"));
        let huge = json!({"title": "x".repeat(100 * 1024), "link": "https://example.com", "platforms": []});
        let (status, _, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(huge)).await;
        assert_eq!((status, code(&body)), (413, "payload_too_large"));
        let (status, _, body) = call(&app, "GET", "/api/v1/posts/99999999999999999999999", &tok, None).await;
        assert_eq!((status, code(&body)), (404, "not_found"));
        let (status, _, body) = call(&app, "GET", "/api/v1/posts?status=bogus", &tok, None).await;
        assert_eq!((status, code(&body)), (400, "bad_request"));
        let (status, _, body) = call(&app, "POST", "/api/v1/posts", &tok, Some(json!({"title": 5}))).await;
        assert_eq!((status, code(&body)), (400, "bad_request"));
        let (status, _, body) = call(&app, "GET", "/api/v1/me", "chorus_pat_not-a-real-token", None).await;
        assert_eq!((status, code(&body)), (401, "unauthorized"));
    }
);
