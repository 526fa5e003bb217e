//! Link tags (UTM): the organisation's setting and its checks, the link
//! each platform's share dialog carries, what the hub's post page shows
//! and counts, and what the API answers.

use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::platforms::{Platform, Share};
use chorus::store::{self, api_tokens, posts};
use serde_json::Value;

use crate::backend_test;
use crate::helpers::*;

const LINK: &str = "https://example.com/news/report?ref=home&utm_campaign=spring#top";

/// An organisation on X, LinkedIn and Bluesky with a policy and roomy hub
/// caps; its hub person (comms and admin) is the app's client.
async fn organisation(app: &mut TestApp) -> i64 {
    let hub = app.login_as("hub@example.com", "comms,admin").await;
    let platforms = vec![Platform::LinkedIn, Platform::X, Platform::Bluesky];
    app.ready_organisation(hub, platforms).await;
    hub
}

/// Publishes a post titled "Annual Report 2026" with [`LINK`] on LinkedIn,
/// X and Bluesky.
async fn publish(app: &TestApp, hub: i64) -> i64 {
    let input = posts::PostInput {
        link: LINK.into(),
        captions: [Platform::LinkedIn, Platform::X, Platform::Bluesky]
            .into_iter()
            .map(|p| (p, vec!["Our report is out".to_string()]))
            .collect(),
        ..small_post("Annual Report 2026")
    };
    app.publish_post(input, hub).await
}

/// An employee who said yes to every platform of the post, logged in.
async fn employee(app: &TestApp) -> reqwest::Client {
    let ann = app.create_user("ann@example.com", "Ann", "employee").await;
    for p in [Platform::LinkedIn, Platform::X, Platform::Bluesky] {
        app.agree(ann, p, None).await;
    }
    app.login_client("ann@example.com").await
}

async fn share_location(
    app: &TestApp,
    client: &reqwest::Client,
    post: i64,
    platform: Platform,
) -> String {
    let response = app
        .post_form_with(
            client,
            &format!("/queue/{post}/share/{}", platform.slug()),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303, "{}", platform.name());
    location(&response)
}

fn dialog(platform: Platform, text: &str, link: &str) -> String {
    platform
        .share_url(&Share {
            text,
            url: link,
            title: text,
            instance: None,
        })
        .unwrap()
}

/// The settings form with every required field, and the link tags as given.
async fn save_settings(app: &TestApp, tags_on: bool, template: &str) -> reqwest::Response {
    let mut fields = vec![
        ("org_name", "Acme"),
        ("platform", "x"),
        ("platform", "linkedin"),
        ("platform", "bluesky"),
        ("consent_language", "en"),
        ("jurisdiction", "EU"),
        ("timezone", "UTC"),
        ("disclosure_template", "I work at {org}."),
        ("disclosure_required", "on"),
        ("utm_template", template),
    ];
    if tags_on {
        fields.push(("utm_tags", "on"));
    }
    app.post_form("/admin/settings", &fields).await
}

backend_test!(
    async fn a_share_opens_the_dialog_with_the_tagged_link_keeping_its_parameters_and_fragment(app) {
        let hub = organisation(&mut app).await;
        let post = publish(&app, hub).await;
        let client = employee(&app).await;
        let text = "I work at Acme. Our report is out";
        // The link's own utm_campaign stays; the other tags follow its
        // parameters, before the fragment.
        let tagged = |p: Platform| {
            format!(
                "https://example.com/news/report?ref=home&utm_campaign=spring&utm_source={}&utm_medium=employee_advocacy#top",
                p.slug()
            )
        };
        assert_eq!(
            share_location(&app, &client, post, Platform::LinkedIn).await,
            dialog(Platform::LinkedIn, text, &tagged(Platform::LinkedIn))
        );
        assert_eq!(
            share_location(&app, &client, post, Platform::Bluesky).await,
            dialog(Platform::Bluesky, text, &tagged(Platform::Bluesky))
        );
        // The queue offers the same link to copy: the card's, once, with
        // the platform's slug where {platform} stands.
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        let pattern = tagged(Platform::X).replace("utm_source=x", "utm_source={platform}");
        assert!(page.contains(&format!("data-link=\"{}\"", pattern.replace('&', "&#38;"))), "{page}");
    }
);

backend_test!(
    async fn with_tags_off_the_post_is_shared_with_its_own_link(app) {
        let hub = organisation(&mut app).await;
        let post = publish(&app, hub).await;
        let client = employee(&app).await;
        assert_eq!(save_settings(&app, false, "").await.status(), 303);
        let settings = app.db(store::org::settings).await;
        assert!(!settings.utm_tags, "tagging is off");
        let text = "I work at Acme. Our report is out";
        assert_eq!(
            share_location(&app, &client, post, Platform::X).await,
            dialog(Platform::X, text, LINK)
        );
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!page.contains("utm_source"), "no tags anywhere on the queue");
    }
);

backend_test!(
    async fn admins_edit_the_tags_and_an_unknown_placeholder_is_refused_with_the_input_kept(app) {
        let hub = organisation(&mut app).await;
        let page = app.get_html("/admin/settings").await;
        assert!(
            page.contains("value=\"utm_source={platform}&#38;utm_medium=employee_advocacy&#38;utm_campaign={post_slug}\""),
            "on by default, with the default template: {page}"
        );
        let response = save_settings(&app, true, "utm_source={platform}&utm_content={author}").await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("{author} is not a placeholder. Use {platform} or {post_slug}."), "{body}");
        assert!(body.contains("value=\"utm_source={platform}&#38;utm_content={author}\""), "the input is kept");
        assert!(body.contains("aria-invalid=\"true\""));
        let settings = app.db(store::org::settings).await;
        assert!(settings.utm_template.contains("utm_medium=employee_advocacy"), "nothing saved");

        let response = save_settings(&app, true, "mtm_source={platform}&mtm_campaign=adv-{post_slug}").await;
        assert_eq!(response.status(), 303);
        let audit = app.get_html("/admin/audit").await;
        assert!(audit.contains("link tags"), "the change is audited: {audit}");
        let post = publish(&app, hub).await;
        let client = employee(&app).await;
        let location = share_location(&app, &client, post, Platform::LinkedIn).await;
        let tagged = "https://example.com/news/report?ref=home&utm_campaign=spring\
                      &mtm_source=linkedin&mtm_campaign=adv-annual-report-2026#top";
        assert_eq!(location, dialog(Platform::LinkedIn, "", tagged));
    }
);

backend_test!(
    async fn the_hub_post_page_shows_each_platforms_tagged_link_and_counts_it_as_the_platform_does(app) {
        organisation(&mut app).await;
        let caption = "Our annual report is out";
        let response = app
            .post_form(
                "/hub/posts/new",
                &[
                    ("title", "Annual Report 2026"),
                    ("link", "https://example.com/news/annual-report"),
                    ("base_text", caption),
                    ("use_x", "on"),
                    ("use_bluesky", "on"),
                    ("use_linkedin", "on"),
                    ("target", "all"),
                    ("timezone", "UTC"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let page = app.get_html(&location(&response)).await;
        let tagged = |p: Platform| {
            format!(
                "https://example.com/news/annual-report?utm_source={}&utm_medium=employee_advocacy&utm_campaign=annual-report-2026",
                p.slug()
            )
        };
        for p in [Platform::X, Platform::Bluesky, Platform::LinkedIn] {
            let shown = format!("Link as shared on {}: <a href=\"{}\"", p.name(), tagged(p).replace('&', "&#38;"));
            assert!(page.contains(&shown), "{shown}: {page}");
        }
        let offered = format!("I work at Acme. {caption}");
        // X weighs every link 23; Bluesky counts the tagged link in full;
        // LinkedIn takes the link as a card, not as text.
        let x = offered.chars().count() + 1 + 23;
        let bluesky = offered.chars().count() + 1 + tagged(Platform::Bluesky).chars().count();
        let linkedin = offered.chars().count();
        assert!(page.contains(&format!("Variant 1: {x} of 280 characters as X counts them")), "{page}");
        assert!(page.contains(&format!("Variant 1: {bluesky} of 300 characters as Bluesky counts them")));
        assert!(page.contains(&format!("Variant 1: {linkedin} of 3000 characters as LinkedIn counts them")));
        assert!(page.contains("shared links carry it in short as their campaign tag"), "the title hint says so");
    }
);

backend_test!(
    async fn a_caption_that_fits_bluesky_only_without_the_tags_is_refused_with_its_count(app) {
        organisation(&mut app).await;
        let link = "https://example.com/news/annual-report";
        let tagged_len = format!("{link}?utm_source=bluesky&utm_medium=employee_advocacy&utm_campaign=report").len();
        // Fits 300 graphemes with the bare link, not with the tagged one.
        let room = 300 - "I work at Acme. ".len() - 1 - link.len();
        let caption = "a".repeat(room);
        let response = app
            .post_form(
                "/hub/posts/new",
                &[
                    ("title", "Report"),
                    ("link", link),
                    ("base_text", &caption),
                    ("use_bluesky", "on"),
                    ("target", "all"),
                    ("timezone", "UTC"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        let count = 300 + tagged_len - link.len();
        assert!(body.contains(&format!("Bluesky variant 1: {count} of 300 characters")), "{body}");
    }
);

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let response = new_client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

backend_test!(
    async fn the_api_gives_each_platforms_tagged_link_and_openapi_documents_it(app) {
        let hub = organisation(&mut app).await;
        let post = publish(&app, hub).await;
        let now = app.clock.now_naive();
        let token = app
            .db(move |conn| {
                api_tokens::create(
                    conn,
                    &api_tokens::NewToken { kind: TokenKind::Personal, owner_id: hub, name: "t", scope: Scope::Read, expires_at: None },
                    now,
                )
                .map(|(_, token)| token)
            })
            .await;
        let body = api(&app, &token, &format!("/api/v1/posts/{post}")).await;
        let links: Vec<(String, String)> = body["shared_links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["platform"].as_str().unwrap().into(), l["link"].as_str().unwrap().into()))
            .collect();
        let expected: Vec<(String, String)> = ["linkedin", "x", "bluesky"]
            .into_iter()
            .map(|p| {
                let link = format!(
                    "https://example.com/news/report?ref=home&utm_campaign=spring&utm_source={p}&utm_medium=employee_advocacy#top"
                );
                (p.to_string(), link)
            })
            .collect();
        assert_eq!(links, expected, "{body}");
        assert_eq!(body["link"], LINK, "the post's own link is unchanged");
        let document = api(&app, &token, "/api/v1/openapi.json").await;
        let schemas = &document["components"]["schemas"];
        assert!(schemas["PostJson"]["properties"]["shared_links"].is_object(), "{schemas}");
        assert!(schemas["SharedLink"]["properties"]["link"].is_object());
        assert!(schemas["Offer"]["properties"]["link"].is_object());
    }
);
