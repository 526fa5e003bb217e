//! The hub's composer: live counts from the server's own counting, the
//! text people paste into LinkedIn, variants behind "Add variant", and
//! the error summary at the top with links to the fields.

use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::platforms::Platform;
use chorus::store::posts;
use serde_json::Value;

use crate::backend_test;
use crate::helpers::*;

/// The counts the composer's script would get for these fields.
async fn counts(app: &TestApp, extra: &[(&str, &str)]) -> Vec<Value> {
    let response = app
        .post_form("/hub/posts/preview-counts", &post_fields("Launch", extra))
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).expect("JSON counts");
    answer["counts"]
        .as_array()
        .expect("a list of counts")
        .clone()
}

fn count_of<'a>(counts: &'a [Value], field: &str) -> &'a Value {
    counts
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no count for {field}: {counts:?}"))
}

fn number(count: &Value) -> i64 {
    count["count"].as_i64().expect("a count")
}

backend_test!(
    async fn live_counts_follow_each_platforms_own_rules_as_save_does(app) {
        comms(&mut app).await;
        let plain = counts(&app, &[("caption_x_1", "Go"), ("caption_linkedin_1", "Go")]).await;
        let link = "https://example.com/a/very/long/path/that/is/much/longer/than/twenty-three";
        let typed = format!("Go {link} 🚀");
        let rich = counts(&app, &[("caption_x_1", &typed), ("caption_linkedin_1", &typed)]).await;
        // X weighs any link 23 and an emoji 2; LinkedIn counts characters.
        let x = number(count_of(&rich, "caption_x_1")) - number(count_of(&plain, "caption_x_1"));
        assert_eq!(x, 1 + 23 + 1 + 2, "X: a space, a link of 23, a space, an emoji of 2");
        let linkedin = number(count_of(&rich, "caption_linkedin_1")) - number(count_of(&plain, "caption_linkedin_1"));
        assert_eq!(linkedin as usize, 1 + link.chars().count() + 2, "LinkedIn counts every character");
        let x_count = count_of(&rich, "caption_x_1");
        assert_eq!(x_count["limit"], 280);
        assert_eq!(x_count["fits"], true);
        let sentence = x_count["sentence"].as_str().unwrap();
        assert!(sentence.starts_with(&format!("Variant 1: {} of 280 characters as X counts them", number(x_count))), "{sentence}");

        // The same sentence the page shows on Preview, without script.
        let response = app
            .post_form("/hub/posts/new", &post_fields("Launch", &[("caption_x_1", &typed), ("caption_linkedin_1", &typed), ("action", "preview")]))
            .await;
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains(sentence), "Preview shows {sentence:?}");

        // Over the limit: counted, and said not to fit.
        let long = "a".repeat(300);
        let over = counts(&app, &[("caption_x_1", &long)]).await;
        assert_eq!(count_of(&over, "caption_x_1")["fits"], false);
        // An empty first caption is counted as the base text, in its field.
        let base = counts(&app, &[]).await;
        let expected = Platform::LinkedIn.count("Our annual report is out.");
        assert!(number(count_of(&base, "caption_linkedin_1")) as usize >= expected, "{base:?}");
        // A platform not offered is not counted.
        assert!(!counts(&app, &[("use_x", "")]).await.iter().any(|c| c["platform"] == "reddit"));
    }
);

backend_test!(
    async fn live_counts_need_the_csrf_token_a_form_and_the_comms_role(app) {
        comms(&mut app).await;
        let without_token = app
            .client
            .post(app.url("/hub/posts/preview-counts"))
            .form(&[("title", "Launch"), ("caption_x_1", "Go")])
            .send()
            .await
            .unwrap();
        assert_eq!(without_token.status(), 403, "no CSRF token");
        let token = app.csrf_token_with(&app.client, "/hub/posts/new").await;
        let not_a_form = app
            .client
            .post(app.url("/hub/posts/preview-counts"))
            .header("x-csrf-token", &token)
            .header("content-type", "application/json")
            .body(r#"{"caption_x_1":"Go"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(not_a_form.status(), 400, "JSON is not the composer's form");
        let huge = "a".repeat(2 * 1024 * 1024);
        let too_big = app.post_form("/hub/posts/preview-counts", &[("caption_x_1", huge.as_str())]).await;
        assert_eq!(too_big.status(), 413);

        let employee = app.create_user("emma@example.com", "Emma", "employee").await;
        let _ = employee;
        let emma = app.login_client("emma@example.com").await;
        let refused = app.post_form_with(&emma, "/hub/posts/preview-counts", &[("caption_x_1", "Go")]).await;
        assert_eq!(refused.status(), 403, "employees do not use the composer");
    }
);

backend_test!(
    async fn the_text_people_paste_into_linkedin_is_saved_shown_and_in_the_api(app) {
        let me = comms(&mut app).await;
        let new_form = app.get_html("/hub/posts/new").await;
        assert!(new_form.contains("<label for=\"caption_linkedin_1\">Text people paste into LinkedIn"), "{new_form}");
        let paste = "Proud of this report: have a look.";
        let response = app
            .post_form("/hub/posts/new", &post_fields("Report", &[("caption_linkedin_1", paste)]))
            .await;
        assert_eq!(response.status(), 303);
        let id: i64 = location(&response).trim_start_matches("/hub/posts/").split('?').next().unwrap().parse().unwrap();
        let post = app.db(move |conn| posts::find(conn, id)).await.unwrap();
        let linkedin = post
            .captions
            .has(Platform::LinkedIn)
            .then(|| post.captions.variants(Platform::LinkedIn).map(String::from).collect::<Vec<_>>());
        assert_eq!(linkedin, Some(vec![paste.to_string()]));
        let page = app.get_html(&format!("/hub/posts/{id}")).await;
        assert!(page.contains(&format!(">{paste}</textarea>")), "kept in its field");
        assert!(page.contains("class=\"social-post social-linkedin\""), "a LinkedIn-shaped preview");
        assert!(page.contains("Text they paste"), "the preview says it is pasted");

        let token = app.api_token(me, TokenKind::Personal, Scope::Read).await;
        let api = new_client()
            .get(app.url(&format!("/api/v1/posts/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let api: Value = serde_json::from_str(&api).unwrap();
        let platforms = api["platforms"].as_array().unwrap();
        let linkedin = platforms.iter().find(|p| p["platform"] == "linkedin").unwrap();
        assert_eq!(linkedin["variants"][0], paste, "{api}");
        let doc = new_client().get(app.url("/api/v1/openapi.json")).send().await.unwrap().text().await.unwrap();
        let doc: Value = serde_json::from_str(&doc).unwrap();
        let described = doc["components"]["schemas"]["PlatformCaptions"]["properties"]["variants"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(described.contains("paste"), "the API says LinkedIn's variants are pasted: {described}");
    }
);

backend_test!(
    async fn variants_two_and_three_wait_behind_add_variant(app) {
        comms(&mut app).await;
        let page = app.get_html("/hub/posts/new").await;
        assert!(page.contains("<details class=\"more-variants\"><summary>Add variant</summary>"), "folded on a new post");
        assert!(page.contains("id=\"caption_x_3\""), "the fields are there without script");
        let response = app
            .post_form("/hub/posts/new", &post_fields("Report", &[("caption_x_2", "A second take"), ("action", "preview")]))
            .await;
        let page = response.text().await.unwrap();
        assert!(page.contains("<details class=\"more-variants\" open><summary>Add variant</summary>"), "open when used");
    }
);

backend_test!(
    async fn errors_are_summarised_at_the_top_with_links_to_their_fields(app) {
        comms(&mut app).await;
        let long = "Big news! ".repeat(30);
        let response = app
            .post_form("/hub/posts/new", &post_fields("", &[("caption_x_3", long.trim()), ("link", "not a link")]))
            .await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        let summary_at = page.find("There is a problem").expect("the summary");
        let form_at = page.find("<form method=\"post\" action=\"/hub/posts/new\"").expect("the form");
        assert!(summary_at < form_at, "the summary comes before the form");
        assert!(page.contains("class=\"error-summary\" role=\"alert\" tabindex=\"-1\""), "announced and focusable");
        for field in ["title", "link", "caption_x_3"] {
            assert!(page.contains(&format!("<a href=\"#{field}\">")), "a link to #{field}");
            assert!(page.contains(&format!("id=\"{field}\"")), "#{field} exists");
        }
        assert!(
            page.contains("aria-describedby=\"caption_x_3-count caption_x_3-error\" aria-invalid=\"true\""),
            "the field points to its own error"
        );
        assert!(page.contains("id=\"caption_x_3-error\""));
        assert!(
            page.contains("X variant 3: ") && !page.contains("X variant 2:"),
            "the problem names the field it was written in, though variant 2 is empty: {page}"
        );
        assert!(page.contains("Big news! Big news!") && page.contains("value=\"not a link\""), "input kept");
        assert!(page.contains("<title>Error: "), "the title says so too");
    }
);
