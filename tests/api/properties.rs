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
