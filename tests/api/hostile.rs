//! Hostile input: every POST route under malformed, oversized and wrong
//! bodies never answers 5xx; script payloads in every stored text come back
//! escaped.

use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::store::{self, consent, posts};
use chorus::web::route_table;
use rand::{Rng, SeedableRng};

use crate::backend_test;
#[allow(unused_imports)]
use crate::helpers::*;

const FIELDS: &[&str] = &[
    "name",
    "email",
    "title",
    "link",
    "base_text",
    "caption_x_1",
    "caption_linkedin_2",
    "use_x",
    "platform",
    "purpose",
    "choice",
    "instance",
    "text",
    "reason",
    "note",
    "password",
    "new_password",
    "current_password",
    "markdown",
    "change",
    "action",
    "department",
    "target",
    "publish_at",
    "timezone",
    "expires_at",
    "org_name",
    "role_admin",
    "per_day_x",
    "share_ceiling_day_x",
    "k_anonymity",
    "digest_frequency",
    "day_x",
    "email_digest",
];

fn random_value(rng: &mut rand::rngs::StdRng) -> String {
    match rng.random_range(0..8) {
        0 => String::new(),
        1 => "x".repeat(rng.random_range(1..5000)),
        2 => "<script>alert(1)</script>".into(),
        3 => "'; DROP TABLE users; --".into(),
        4 => "日本語 🎉 \u{202e} \u{0}".into(),
        5 => rng.random_range(-1_000_000_i64..1_000_000).to_string(),
        6 => "https://example.com/?a=1&b=<x>".into(),
        _ => (0..rng.random_range(1..40))
            .map(|_| rng.random_range(32_u8..127) as char)
            .collect(),
    }
}

fn example(path: &str, id: i64) -> String {
    path.replace("{id:\\d+}", &id.to_string())
        .replace("{token}", "no-such-token")
        .replace("{platform}", "x")
        .replace("{table:[a-z]+}", "posts")
}

backend_test!(
    async fn every_post_route_survives_malformed_bodies_without_a_5xx(app) {
        let me = app.login_as("all@example.com", "employee,comms,admin").await;
        let now = app.clock.now_naive();
        let post = app
            .db(move |conn| {
                store::policy::publish(conn, "Policy", false, me, now)?;
                consent::record_choice(conn, me, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "t", now)?;
                let id = posts::create_draft(conn, &posts::PostInput {
                    title: "t".into(), link: "https://example.com/t".into(), base_text: "t".into(),
                    captions: vec![(Platform::X, vec!["t".into()])], target_all: true, department_ids: vec![], expires_at: None,
                }, me, now)?;
                posts::schedule(conn, id, now, chrono_tz::UTC, me, now)?;
                Ok(id)
            })
            .await;
        let token = app.csrf_token_with(&app.client, "/").await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut tried = 0;
        for spec in route_table().into_iter().filter(|s| s.method == "POST") {
            // Logging out or erasing the account would end the session mid-run.
            if spec.path == "/logout" || spec.path == "/me/delete" {
                continue;
            }
            let path = example(spec.path, if spec.path.contains("people") { me } else { post });
            for round in 0..12 {
                let request = app.client.post(app.url(&path)).header("x-csrf-token", &token);
                let request = match round {
                    0 => request.header("content-type", "application/x-www-form-urlencoded").body(""),
                    1 => request.header("content-type", "application/json").body("{\"name\": [1, 2]}"),
                    2 => request.header("content-type", "application/x-www-form-urlencoded").body(vec![0xff, 0xfe, b'=', 0xfd]),
                    3 => request.header("content-type", "application/x-www-form-urlencoded").body(format!("name={}", "y".repeat(3 * 1024 * 1024))),
                    4 => request.header("content-type", "multipart/form-data; boundary=zz").body("--zz\r\nbroken"),
                    5 => request.header("content-type", "text/plain").body("just text"),
                    _ => {
                        let fields: Vec<(String, String)> = (0..rng.random_range(1..8))
                            .map(|_| (FIELDS[rng.random_range(0..FIELDS.len())].to_string(), random_value(&mut rng)))
                            .collect();
                        request.form(&fields)
                    }
                };
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                assert!(status < 500, "POST {path} round {round}: {status}");
                tried += 1;
            }
        }
        assert!(tried > 300, "{tried} requests");
        // Nothing half-written: the ledger still verifies and the app still serves.
        app.db(consent::verify_all).await.expect("consent chains intact");
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
);

const PAYLOAD: &str = "<script>alert(\"xss\")</script><img src=x onerror=alert(1)>";

fn assert_escaped(path: &str, body: &str) {
    assert!(
        !body.contains("<script>alert"),
        "{path} echoes a script tag"
    );
    assert!(
        !body.contains("<img src=x onerror"),
        "{path} echoes an img tag"
    );
}

backend_test!(
    async fn script_payloads_in_stored_text_come_back_escaped_everywhere(app) {
        let hub = app.login_as("hub@example.com", "employee,comms,admin").await;
        let victim = app.create_user_in("v@example.com", &format!("Eve {PAYLOAD}"), "employee", Some(&format!("Dept {PAYLOAD}"))).await;
        let now = app.clock.now_naive();
        let post = app
            .db(move |conn| {
                store::policy::publish(conn, &format!("# Policy\n\n{PAYLOAD}"), false, hub, now)?;
                for who in [hub, victim] {
                    consent::record_choice(conn, who, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "t", now)?;
                }
                let id = posts::create_draft(conn, &posts::PostInput {
                    title: format!("Title {PAYLOAD}"), link: "https://example.com/t".into(), base_text: format!("Base {PAYLOAD}"),
                    captions: vec![(Platform::X, vec![format!("Caption {PAYLOAD}")])], target_all: true, department_ids: vec![], expires_at: None,
                }, hub, now)?;
                posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
                store::shares::record(conn, hub, id, Platform::X, 1, false, now)?;
                store::suggestions::create(conn, victim, "https://example.com/s", &format!("Note {PAYLOAD}"), now)?;
                posts::withdraw(conn, id, &format!("Reason {PAYLOAD}"), hub, now)?;
                Ok(id)
            })
            .await;
        let receipt = app.db(move |conn| consent::events_for(conn, hub)).await.remove(0).event_uuid;
        let mut paths: Vec<String> = route_table()
            .into_iter()
            .filter(|s| s.method == "GET" && !s.path.contains("{token}") && !s.path.contains("{file}"))
            .map(|s| {
                example(s.path, if s.path.contains("people") { victim } else { post })
                    .replace("{id:[0-9a-f-]+}", &receipt)
            })
            .collect();
        paths.push("/policy/1".into());
        for path in paths {
            let response = app.get(&path).await;
            assert!(response.status().as_u16() < 500, "{path}");
            let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            let body = response.text().await.unwrap();
            if path.ends_with(".json") || path.ends_with(".csv") {
                // Data downloads keep the text as written; browsers never render
                // them as HTML (their own type, nosniff, an attachment).
                assert!(!content_type.starts_with("text/html"), "{path}: {content_type}");
            } else {
                assert_escaped(&path, &body);
            }
        }
        let people = app.get_html("/admin/people").await;
        assert!(people.contains("&#60;script&#62;") || people.contains("&lt;script&gt;"), "the name is shown, escaped");
    }
);
