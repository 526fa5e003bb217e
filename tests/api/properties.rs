//! Property tests: validators, share-URL builders and length counters never
//! panic on any input, and whatever they accept round-trips.

use chorus::domain::disclosure;
use chorus::domain::email::EmailAddress;
use chorus::domain::names::PersonName;
use chorus::domain::password_policy::{PasswordContext, check};
use chorus::domain::platforms::{InstanceHost, Platform, Share};
use chorus::domain::post::parse_link;
use proptest::prelude::*;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "[a-zA-Z0-9 .@_+-]{0,40}",
        "\\PC{0,300}",
        Just("日本語のテキスト 🎉👩\u{200d}💻 #tag & more".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn email_addresses_never_panic_and_accepted_ones_round_trip(input in any_text()) {
        if let Ok(email) = EmailAddress::parse(&input) {
            prop_assert_eq!(EmailAddress::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(email.as_str(), email.as_str().trim().to_lowercase());
        }
    }

    #[test]
    fn names_never_panic_and_accepted_ones_round_trip(input in any_text()) {
        if let Ok(name) = PersonName::parse(&input) {
            prop_assert_eq!(PersonName::parse(name.as_str()).unwrap(), name);
        }
    }

    #[test]
    fn the_password_policy_never_panics(input in any_text()) {
        let _ = check(&input, &PasswordContext { email: "ada@example.com", name: "Ada", org_name: "Acme" });
    }

    #[test]
    fn links_never_panic_and_accepted_ones_round_trip(input in any_text()) {
        if let Ok(link) = parse_link(&input) {
            prop_assert_eq!(parse_link(&link).unwrap(), link.clone());
            prop_assert!(link.starts_with("http://") || link.starts_with("https://"));
        }
    }

    #[test]
    fn instance_hosts_never_panic_and_accepted_ones_round_trip(input in any_text()) {
        if let Ok(host) = InstanceHost::parse(&input) {
            prop_assert_eq!(InstanceHost::parse(host.as_str()).unwrap(), host);
        }
    }

    #[test]
    fn counters_and_share_urls_never_panic_and_carry_the_text(text in any_text(), path in "[a-z0-9/]{0,20}") {
        let link = format!("https://example.com/{path}");
        let instance = InstanceHost::parse("social.example.org").unwrap();
        for platform in Platform::ALL {
            let _ = platform.count(&text);
            let _ = platform.count_with_link(&text, &link);
            let url = platform
                .share_url(&Share { text: &text, url: &link, title: &text, instance: Some(&instance) })
                .unwrap();
            let parsed = url::Url::parse(&url).unwrap();
            prop_assert_eq!(parsed.scheme(), "https");
            // The text (or title) comes back exactly when the dialog takes one.
            let values: Vec<String> = parsed.query_pairs().map(|(_, v)| v.into_owned()).collect();
            if platform.accepts_prefilled_text() && !text.trim().is_empty() {
                prop_assert!(values.iter().any(|v| v.contains(text.trim_end())), "{} lost the text", platform.name());
            }
        }
    }

    #[test]
    fn the_disclosure_is_offered_once_and_always_passes_the_check(caption in any_text()) {
        let disclosure_text = "I work at Acme.";
        let offered = disclosure::offered_text(&caption, disclosure_text);
        prop_assert_eq!(disclosure::offered_text(&offered, disclosure_text), offered.clone());
        prop_assert!(disclosure::check_edited(&offered, disclosure_text, true).is_ok());
    }
}

// ---- every route, arbitrary query strings and form values --------------------

/// Cases per route and caller: enough to reach the numeric parameters with
/// huge, negative and malformed values, small enough to run in seconds.
const ROUTE_CASES: usize = 6;

fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("4294967296".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        "-?[0-9]{1,25}",
        any_text(),
    ]
}

fn any_fields() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("page".to_string()),
        Just("q".to_string()),
        Just("action".to_string()),
        Just("weeks".to_string()),
        Just("k".to_string()),
        Just("department".to_string()),
        Just("platform".to_string()),
        Just("status".to_string()),
        Just("week".to_string()),
        Just("next".to_string()),
        Just("id".to_string()),
        Just("limit".to_string()),
        Just("email".to_string()),
        Just("name".to_string()),
        Just("roles".to_string()),
        Just("version".to_string()),
        "[a-z_]{1,12}",
    ];
    proptest::collection::vec((name, any_value()), 0..5)
}

/// A concrete path for a route pattern: every `{param}` gets a plausible value.
fn concrete(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len() - 1);
        let name = rest[start + 1..end].split(':').next().unwrap_or("");
        out.push_str(match name {
            "platform" => "linkedin",
            "table" => "people",
            "file" => "app.css",
            "id" if rest[end + 1..].starts_with(".json") || pattern.contains("receipts") => {
                "00000000-0000-0000-0000-000000000000"
            }
            "id" | "version" => "1",
            _ => "abc",
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn no_route_answers_5xx(
    app: &crate::helpers::TestApp,
    client: &reqwest::Client,
    token: &str,
    who: &str,
) {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for spec in chorus::web::route_table() {
        // Signing out would end the admin's session for the routes after it.
        if spec.path == "/logout" {
            continue;
        }
        let path = concrete(spec.path);
        for _ in 0..ROUTE_CASES {
            let fields = any_fields().new_tree(&mut runner).unwrap().current();
            let query = serde_urlencoded::to_string(&fields).unwrap();
            let url = app.url(&format!("{path}?{query}"));
            let response = if spec.method == actix_web::http::Method::GET {
                client.get(&url).send().await.expect("GET is answered")
            } else {
                let mut form = vec![("csrf_token".to_string(), token.to_string())];
                form.extend(fields.iter().cloned());
                client
                    .request(
                        reqwest::Method::from_bytes(spec.method.as_str().as_bytes()).unwrap(),
                        app.url(&path),
                    )
                    .form(&form)
                    .send()
                    .await
                    .expect("request is answered")
            };
            let status = response.status();
            assert!(
                !status.is_server_error(),
                "{} {url} as {who} with {fields:?} answered {status}",
                spec.method
            );
        }
    }
}

crate::backend_test!(
    async fn no_route_answers_5xx_to_arbitrary_queries_and_forms(app) {
        let anonymous = crate::helpers::new_client();
        let token = app.csrf_token_with(&anonymous, "/login").await;
        no_route_answers_5xx(&app, &anonymous, &token, "anonymous").await;
        app.login_as("fuzz-admin@example.com", "employee,comms,admin").await;
        let token = app.csrf_token_with(&app.client, "/").await;
        no_route_answers_5xx(&app, &app.client, &token, "admin").await;
    }
);

crate::backend_test!(
    async fn huge_page_numbers_answer_an_empty_page(app) {
        app.login_as("pager@example.com", "employee,comms,admin").await;
        for path in [
            "/admin/people?page=9223372036854775807",
            "/admin/audit?page=9223372036854775807",
            "/admin/people?page=-9223372036854775808",
            "/queue?page=9223372036854775807",
        ] {
            assert_eq!(app.get(path).await.status(), 200, "{path}");
        }
    }
);
