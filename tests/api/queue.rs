//! The employee queue: what it offers, sharing through each platform's own
//! dialog, personal caps (also under concurrency), dismissal, withdrawal notices.

use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::disclosure;
use chorus::domain::email::EmailAddress;
use chorus::domain::names::{DepartmentName, PersonName};
use chorus::domain::platforms::{InstanceHost, Platform, Share};
use chorus::domain::post::PostStatus;
use chorus::store::{self, consent, posts, queue};
use diesel::RunQueryDsl;

use crate::backend_test;
use crate::helpers::*;

const DISCLOSURE: &str = "I work at Acme.";

/// Names the organisation, enables platforms, publishes a policy and lifts the hub caps.
async fn organisation(app: &TestApp, platforms: &[Platform]) {
    let hub = app
        .create_user("hub@example.com", "Hub", "comms,admin")
        .await;
    assert_eq!(hub, 1, "posts below are written by the first user");
    app.ready_organisation(hub, platforms.to_vec()).await;
}

async fn agree(app: &TestApp, user_id: i64, platform: Platform, instance: Option<&str>) {
    app.agree(user_id, platform, instance).await;
}

/// The organisation with these platforms, and two employees, emp@ and
/// other@, who said yes to each of them: (emp's id, other's id).
async fn two_colleagues(app: &TestApp, platforms: &[Platform]) -> (i64, i64) {
    organisation(app, platforms).await;
    let me = app.create_user("emp@example.com", "Emp", "employee").await;
    let other = app
        .create_user("other@example.com", "Other", "employee")
        .await;
    for person in [me, other] {
        for platform in platforms {
            agree(app, person, *platform, None).await;
        }
    }
    (me, other)
}

struct PostSpec<'a> {
    platforms: &'a [Platform],
    caption: &'a str,
    departments: Vec<i64>,
    expires_in_hours: Option<i64>,
}

impl Default for PostSpec<'_> {
    fn default() -> Self {
        PostSpec {
            platforms: &[Platform::X],
            caption: "Our report is out",
            departments: Vec::new(),
            expires_in_hours: None,
        }
    }
}

/// Publishes a post now (through the same store calls the hub uses).
async fn publish(app: &TestApp, spec: PostSpec<'_>) -> i64 {
    let now = app.clock.now_naive();
    let input = posts::PostInput {
        title: "Internal title".into(),
        link: "https://example.com/news/report?a=1&b=2".into(),
        base_text: spec.caption.into(),
        captions: spec
            .platforms
            .iter()
            .map(|p| (*p, vec![spec.caption.to_string()]))
            .collect(),
        target_all: spec.departments.is_empty(),
        department_ids: spec.departments,
        expires_at: spec
            .expires_in_hours
            .map(|h| now + chrono::Duration::hours(h)),
    };
    app.publish_post(input, 1).await
}

async fn queue_ids(app: &TestApp, user_id: i64) -> Vec<i64> {
    let now = app.clock.now_naive();
    app.db(move |conn| {
        let platforms: Vec<Platform> = consent::consented_platforms(conn, user_id)?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        Ok(queue_by_sql(conn, user_id, &platforms, now)?
            .0
            .into_iter()
            .map(|i| i.post.id)
            .collect())
    })
    .await
}

async fn share(
    app: &TestApp,
    client: &reqwest::Client,
    post: i64,
    platform: &str,
    text: Option<&str>,
) -> reqwest::Response {
    let token = app.csrf_token_with(client, "/").await;
    let mut form = vec![("csrf_token", token.as_str())];
    if let Some(text) = text {
        form.push(("text", text));
    }
    client
        .post(app.url(&format!("/queue/{post}/share/{platform}")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The organisation's default caps on X (ceiling 10 a day, 30 a week).
async fn x_cap_policy(app: &TestApp, per_day: u32, per_week: u32) {
    use chorus::domain::share_caps::{CapPolicy, ShareCaps};
    let policy = CapPolicy {
        default: ShareCaps { per_day, per_week },
        ceiling: ShareCaps {
            per_day: 10,
            per_week: 30,
        },
    };
    app.db(move |conn| store::org::set_share_policy(conn, Platform::X, policy))
        .await;
}

/// The page as it reads, tags dropped: a share button reads "Share on X ·
/// 3 left today, 10 this week" (its "Share on" and the week's figure are
/// for screen readers; the colour and icon say it to the eye).
fn page_text(page: &str) -> String {
    let mut text = String::with_capacity(page.len());
    let mut in_tag = false;
    for c in page.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

async fn share_count(app: &TestApp, user_id: i64) -> usize {
    app.db(move |conn| store::shares::history(conn, user_id))
        .await
        .len()
}

backend_test!(
    async fn the_queue_holds_only_what_the_person_may_be_offered(app) {
        organisation(&app, &[Platform::X, Platform::LinkedIn]).await;
        let me = app.create_user_in("emp@example.com", "Emp", "employee", Some("Sales")).await;
        app.create_user_in("other@example.com", "Other", "employee", Some("Research")).await;
        let depts = app.db(store::departments::list).await;
        let sales = depts.iter().find(|d| d.name == "Sales").unwrap().id;
        let research = depts.iter().find(|d| d.name == "Research").unwrap().id;
        agree(&app, me, Platform::X, None).await;

        let for_all = publish(&app, PostSpec::default()).await;
        let linkedin_only = publish(&app, PostSpec { platforms: &[Platform::LinkedIn], ..Default::default() }).await;
        let for_research = publish(&app, PostSpec { departments: vec![research], ..Default::default() }).await;
        let for_sales = publish(&app, PostSpec { departments: vec![sales], ..Default::default() }).await;
        let expiring = publish(&app, PostSpec { expires_in_hours: Some(2), ..Default::default() }).await;
        let withdrawn = publish(&app, PostSpec::default()).await;
        app.db(move |conn| posts::withdraw(conn, withdrawn, "wrong", 1, chrono::Utc::now().naive_utc()).map(|_| ())).await;
        let draft = app.store_draft(small_post("d"), 1).await;

        let ids = queue_ids(&app, me).await;
        assert!(ids.contains(&for_all) && ids.contains(&for_sales) && ids.contains(&expiring));
        for hidden in [linkedin_only, for_research, withdrawn, draft] {
            assert!(!ids.contains(&hidden), "post {hidden} must not be offered");
        }
        assert_eq!(ids[0], expiring, "newest first");

        app.clock.advance(chrono::Duration::hours(3));
        assert!(!queue_ids(&app, me).await.contains(&expiring), "expired posts leave the queue");

        // Dismissal hides it, undo brings it back.
        let client = app.login_client("emp@example.com").await;
        let token = app.csrf_token_with(&client, "/queue").await;
        let response = client.post(app.url(&format!("/queue/{for_all}/dismiss"))).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
        assert_eq!(location(&response), format!("/queue?hidden={for_all}"));
        assert!(!queue_ids(&app, me).await.contains(&for_all));
        let page = app.get_with(&client, &format!("/queue?hidden={for_all}")).await.text().await.unwrap();
        assert!(page.contains("Hidden from your queue") && page.contains("Undo"));
        client.post(app.url(&format!("/queue/{for_all}/restore"))).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
        assert!(queue_ids(&app, me).await.contains(&for_all));
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(
            page.contains(&format!(r#"<a id="post-{for_all}-link" href="https://example.com/news/report?a=1&#38;b=2">example.com</a>"#)),
            "each post is headed by its link's host"
        );

        // Shared on every platform the person agreed to: it leaves the queue.
        assert_eq!(share(&app, &client, for_sales, "x", None).await.status(), 303);
        assert!(!queue_ids(&app, me).await.contains(&for_sales));

        // Withdrawing consent empties the queue at once.
        let now = app.clock.now_naive();
        app.db(move |conn| consent::record_choice(conn, me, Purpose::ShareSuggestions(Platform::X), Choice::No, None, "test", now).map(|_| ())).await;
        assert!(queue_ids(&app, me).await.is_empty());
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page.contains("have not said yes to any platform"));
    }
);

backend_test!(
    async fn dismiss_restore_and_share_of_a_post_not_offered_answer_as_for_an_unknown_post(app) {
        organisation(&app, &[Platform::X, Platform::LinkedIn]).await;
        let me = app.create_user_in("emp@example.com", "Emp", "employee", Some("Sales")).await;
        app.create_user_in("other@example.com", "Other", "employee", Some("Research")).await;
        let depts = app.db(store::departments::list).await;
        let research = depts.iter().find(|d| d.name == "Research").unwrap().id;
        agree(&app, me, Platform::X, None).await;
        let offered = publish(&app, PostSpec::default()).await;
        let linkedin_only = publish(&app, PostSpec { platforms: &[Platform::LinkedIn], ..Default::default() }).await;
        let for_research = publish(&app, PostSpec { departments: vec![research], ..Default::default() }).await;
        let expired = publish(&app, PostSpec { expires_in_hours: Some(1), ..Default::default() }).await;
        let withdrawn = publish(&app, PostSpec::default()).await;
        app.db(move |conn| posts::withdraw(conn, withdrawn, "wrong", 1, chrono::Utc::now().naive_utc()).map(|_| ())).await;
        let draft = app.store_draft(small_post("d"), 1).await;
        app.clock.advance(chrono::Duration::hours(2));
        let client = app.login_client("emp@example.com").await;
        let token = app.csrf_token_with(&client, "/queue").await;
        let post = |path: String| {
            let (client, token, url) = (client.clone(), token.clone(), app.url(&path));
            async move {
                let response = client.post(url).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let unknown = 999_999;
        for action in ["dismiss", "restore", "share/x", "share/linkedin"] {
            let expected = post(format!("/queue/{unknown}/{action}")).await;
            assert_eq!(expected.0, 404, "{action} of an unknown id");
            for id in [linkedin_only, for_research, expired, withdrawn, draft] {
                let answer = post(format!("/queue/{id}/{action}")).await;
                assert_eq!(answer, expected, "{action} of post {id}, not offered, answers as an unknown id");
            }
        }
        // LinkedIn, not said yes to, on the offered post: as for an unknown post.
        assert_eq!(post(format!("/queue/{offered}/share/linkedin")).await, post(format!("/queue/{unknown}/share/linkedin")).await);
        let (dismissals, shares) = app
            .db(move |conn| {
                use chorus::db::schema::{dismissals, shares};
                use diesel::prelude::*;
                let d: i64 = dismissals::table.filter(dismissals::user_id.eq(me)).count().get_result(conn)?;
                let s: i64 = shares::table.filter(shares::user_id.eq(me)).count().get_result(conn)?;
                Ok((d, s))
            })
            .await;
        assert_eq!((dismissals, shares), (0, 0), "no row stored for a post not offered");
        // The offered post: dismiss, restore and share work as before.
        assert_eq!(post(format!("/queue/{offered}/dismiss")).await.0, 303);
        assert_eq!(post(format!("/queue/{offered}/restore")).await.0, 303);
        assert_eq!(post(format!("/queue/{offered}/share/x")).await.0, 303);
        assert_eq!(share_count(&app, me).await, 1);
    }
);

backend_test!(
    async fn share_answers_303_to_each_platforms_own_dialog(app) {
        organisation(&app, &Platform::ALL).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        for p in Platform::ALL {
            agree(&app, me, p, (p == Platform::Mastodon).then_some("social.example.org")).await;
        }
        let caption = "Read our report & share #news 🎉";
        let post = publish(&app, PostSpec { platforms: &Platform::ALL, caption, ..Default::default() }).await;
        let client = app.login_client("emp@example.com").await;
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        for p in Platform::ALL {
            assert!(page_text(&page).contains(&format!("Share on {} ·", p.name())), "{}", p.name());
            assert!(page.contains(&format!("formaction=\"/queue/{post}/share/{}\"", p.slug())), "{}", p.name());
        }
        let text = disclosure::offered_text(caption, DISCLOSURE);
        // A dialog that takes only the link (LinkedIn's): the text to paste,
        // then the link, escaped, ready to copy.
        let escaped = text.replace('&', "&#38;");
        assert!(
            page.contains(&format!(
                "<pre tabindex=\"0\" id=\"copy-{post}-linkedin\">{escaped}\nhttps://example.com/news/report?a=1&#38;b=2\
                 &#38;utm_source=linkedin&#38;utm_medium=employee_advocacy&#38;utm_campaign=internal-title</pre>"
            )),
            "the text to paste, then the link: {page}"
        );
        let instance = InstanceHost::parse("social.example.org").unwrap();
        for p in Platform::ALL {
            let response = share(&app, &client, post, p.slug(), None).await;
            assert_eq!(response.status(), 303, "{}", p.name());
            // The link as shared there: the post's own parameters, then the default tags.
            let link = format!(
                "https://example.com/news/report?a=1&b=2&utm_source={}&utm_medium=employee_advocacy&utm_campaign=internal-title",
                p.slug()
            );
            let expected = p
                .share_url(&Share { text: &text, url: &link, title: &text, instance: Some(&instance) })
                .unwrap();
            assert_eq!(location(&response), expected, "{}", p.name());
        }
        assert!(location(&share(&app, &client, post, "mastodon", None).await).starts_with("https://social.example.org/share?text="));
        assert_eq!(share_count(&app, me).await, Platform::ALL.len());
    }
);

// The queue page writes ids, counts, platform names and the CSRF token
// without the escaper (they cannot hold markup); the caption and the link,
// which people typed, still go through it in every place they appear.
backend_test!(
    async fn markup_in_a_caption_comes_back_escaped_beside_the_plain_ids_and_token(app) {
        organisation(&app, &[Platform::LinkedIn, Platform::Mastodon]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::LinkedIn, None).await;
        agree(&app, me, Platform::Mastodon, Some("social.example.org")).await;
        let caption = "<script>alert('x')</script> \"quoted\" & more";
        let post = publish(&app, PostSpec { platforms: &[Platform::LinkedIn, Platform::Mastodon], caption, ..Default::default() }).await;
        let client = app.login_client("emp@example.com").await;
        let token = app.csrf_token_with(&client, "/queue").await;
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!page.contains("<script>alert"), "the caption's markup is escaped: {page}");
        let escaped = "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#34;quoted&#34; &#38; more";
        // The suggested text, once; Mastodon's dialog takes text: its box
        // under "Edit for Mastodon" starts from the same words (filled by
        // the script; left empty, it shares them as offered).
        assert!(page.contains(&format!("<p class=\"suggested\">{DISCLOSURE} {escaped}</p>")), "{page}");
        // "Copy text" adds the box's link: the card's, once, with the
        // platform's slug in place of {platform}.
        assert!(page.contains(&format!("aria-labelledby=\"post-{post}-link\" data-link=\"https://example.com/news/report?a=1&#38;b=2&#38;utm_source={{platform}}&#38;")), "{page}");
        assert!(page.contains(&format!("name=\"text_{post}_mastodon\">")), "{page}");
        assert!(page.contains("<summary>Edit for Mastodon</summary>") && page.contains("<summary>Text for LinkedIn</summary>"), "{page}");
        // LinkedIn's takes only the link: the text to paste, then the link.
        let tagged = "https://example.com/news/report?a=1&#38;b=2&#38;utm_source=linkedin\
                      &#38;utm_medium=employee_advocacy&#38;utm_campaign=internal-title";
        assert!(page.contains(&format!("tabindex=\"0\" id=\"copy-{post}-linkedin\">{DISCLOSURE} {escaped}\n{tagged}</pre>")), "{page}");
        assert!(page.contains(&format!("action=\"/queue/{post}/share/mastodon\"")), "{page}");
        assert!(page.contains(&format!("<label>Your text for Mastodon\n<textarea name=\"text_{post}_mastodon\">")), "{page}");
        let text = page_text(&page);
        assert!(text.contains("Share on LinkedIn · 3 left today") && text.contains("Share on Mastodon ·"), "{text}");
        assert!(text.contains("Share on Mastodon · 3 left today, 10 this week"), "{text}");
        let forms = page.matches("<form ").count();
        assert_eq!(page.matches(&format!("name=\"csrf_token\" value=\"{token}\"")).count(), forms, "every form carries the token");
    }
);

backend_test!(
    async fn sharing_the_same_post_twice_on_a_platform_counts_once(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        let post = publish(&app, PostSpec::default()).await;
        let client = app.login_client("emp@example.com").await;
        let first = share(&app, &client, post, "x", None).await;
        let second = share(&app, &client, post, "x", None).await;
        assert_eq!((first.status(), second.status()), (reqwest::StatusCode::SEE_OTHER, reqwest::StatusCode::SEE_OTHER));
        assert_eq!(location(&first), location(&second));
        assert_eq!(share_count(&app, me).await, 1);
    }
);

backend_test!(
    async fn personal_caps_stay_under_the_ceiling_and_roll_with_the_clock(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        let client = app.login_client("emp@example.com").await;
        let token = app.csrf_token_with(&client, "/me/preferences").await;
        let too_many = client
            .post(app.url("/me/preferences"))
            .form(&[("csrf_token", token.as_str()), ("day_x", "11"), ("week_x", "20"), ("timezone", "Europe/Berlin")])
            .send()
            .await
            .unwrap();
        assert_eq!(too_many.status(), 422);
        let body = too_many.text().await.unwrap();
        assert!(body.contains("At most 10 shares a day") && body.contains("value=\"11\""));
        let response = client
            .post(app.url("/me/preferences"))
            .form(&[("csrf_token", token.as_str()), ("day_x", "2"), ("week_x", "3"), ("timezone", "Europe/Berlin"),
                ("quiet_from", "22:00"), ("quiet_until", "07:00")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let prefs = app.db(move |conn| store::users::preferences(conn, me)).await;
        assert_eq!((prefs.timezone.as_deref(), prefs.quiet_from, prefs.quiet_until), (Some("Europe/Berlin"), Some(1320), Some(420)));

        let posts: Vec<i64> = {
            let mut ids = Vec::new();
            for _ in 0..4 {
                ids.push(publish(&app, PostSpec::default()).await);
            }
            ids
        };
        assert_eq!(share(&app, &client, posts[0], "x", None).await.status(), 303);
        app.clock.advance(chrono::Duration::hours(1));
        assert_eq!(share(&app, &client, posts[1], "x", None).await.status(), 303);
        let refused = share(&app, &client, posts[2], "x", None).await;
        assert_eq!(refused.status(), 429);
        let retry: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((23 * 3600 - 5..=23 * 3600 + 5).contains(&retry), "the first share leaves the window in 23 hours: {retry}");
        assert!(refused.text().await.unwrap().contains("Your next share there is possible"));
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(queue.contains("disabled") && queue.contains("Not now on X: next share possible"));
        assert!(page_text(&queue).contains("Share on X · 0 left today, 1 this week"), "{queue}");

        app.clock.advance(chrono::Duration::hours(23) + chrono::Duration::seconds(2));
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, posts[2], "x", None).await.status(), 303, "a day later, one more");
        // The week cap (3) now holds back the fourth.
        app.clock.advance(chrono::Duration::hours(25));
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, posts[3], "x", None).await.status(), 429);
        assert_eq!(share_count(&app, me).await, 3);
    }
);

backend_test!(
    async fn forty_simultaneous_shares_on_two_processes_respect_the_cap_exactly(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        x_cap_policy(&app, 5, 20).await;
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(publish(&app, PostSpec::default()).await);
        }
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_url = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        let client = app.login_client("emp@example.com").await;
        let token = app.csrf_token_with(&client, "/queue").await;
        let mut requests = Vec::new();
        for (n, id) in ids.into_iter().enumerate() {
            let base = if n % 2 == 0 { app.address.clone() } else { second_url.clone() };
            let (client, token) = (client.clone(), token.clone());
            requests.push(actix_web::rt::spawn(async move {
                let response = client
                    .post(format!("{base}/queue/{id}/share/x"))
                    .header("origin", base.clone())
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await
                    .unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }));
        }
        let mut statuses = Vec::new();
        for r in requests {
            let (status, body) = r.await.unwrap();
            // Concurrent writers on one SQLite file wait their turn: never a
            // 5xx, never SQLite's "database is locked" passed on to a person.
            assert!(status < 500, "a share answered {status}: {body}");
            assert!(!body.contains("database is locked"), "{body}");
            statuses.push(status);
        }
        assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 35, "{statuses:?}");
        assert_eq!(share_count(&app, me).await, 5);
    }
);

backend_test!(
    async fn thirty_people_sharing_and_skipping_at_once_on_two_servers_all_succeed(app) {
        const PEOPLE: usize = 30;
        organisation(&app, &[Platform::X]).await;
        let (shared, skipped) = (publish(&app, PostSpec::default()).await, publish(&app, PostSpec::default()).await);
        let mut people = Vec::new();
        for n in 0..PEOPLE {
            let email = format!("p{n:02}@example.com");
            let id = app.create_user(&email, "Person", "employee").await;
            agree(&app, id, Platform::X, None).await;
            let client = app.login_client(&email).await;
            let token = app.csrf_token_with(&client, "/queue").await;
            people.push((client, token));
        }
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_url = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        // Every person shares one post and skips another, all at the same
        // moment, half of them through each server: 60 write transactions
        // racing for one database.
        let mut requests = Vec::new();
        for (n, (client, token)) in people.into_iter().enumerate() {
            let base = if n % 2 == 0 { app.address.clone() } else { second_url.clone() };
            for path in [format!("/queue/{shared}/share/x"), format!("/queue/{skipped}/dismiss")] {
                let (client, token, base) = (client.clone(), token.clone(), base.clone());
                requests.push(actix_web::rt::spawn(async move {
                    let response = client
                        .post(format!("{base}{path}"))
                        .header("origin", base.clone())
                        .form(&[("csrf_token", token.as_str())])
                        .send()
                        .await
                        .unwrap();
                    (path, response.status().as_u16(), response.text().await.unwrap())
                }));
            }
        }
        for r in requests {
            let (path, status, body) = r.await.unwrap();
            assert_eq!(status, 303, "{path} answered {status}: {body}");
            assert!(!body.contains("database is locked"), "{path}: {body}");
        }
        let (shares, dismissals) = app
            .db(move |conn| {
                use chorus::db::schema::{dismissals, shares};
                use diesel::prelude::*;
                let s: i64 = shares::table.filter(shares::post_id.eq(shared)).count().get_result(conn)?;
                let d: i64 = dismissals::table.filter(dismissals::post_id.eq(skipped)).count().get_result(conn)?;
                Ok((s, d))
            })
            .await;
        assert_eq!((shares, dismissals), (PEOPLE as i64, PEOPLE as i64), "every share and every skip recorded once");
    }
);

backend_test!(
    async fn an_edited_text_keeps_the_disclosure_and_fits_the_platform(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        let post = publish(&app, PostSpec::default()).await;
        let client = app.login_client("emp@example.com").await;
        let response = share(&app, &client, post, "x", Some("My own words, no disclosure")).await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("Keep “I work at Acme.”") && body.contains("My own words, no disclosure"), "kept and explained");
        assert!(body.contains("<details open><summary>Edit for X</summary>"), "the refused text is shown open: {body}");
        let long = format!("{DISCLOSURE} {}", "word ".repeat(60));
        let response = share(&app, &client, post, "x", Some(&long)).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("of 280 characters"));
        assert_eq!(share_count(&app, me).await, 0, "nothing recorded for a refused edit");
        let mine = format!("{DISCLOSURE} This one is worth reading.");
        let response = share(&app, &client, post, "x", Some(&mine)).await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).contains("This%20one%20is%20worth%20reading."));
        let history = app.db(move |conn| store::shares::history(conn, me)).await;
        assert!(history[0].3, "recorded as edited");
    }
);

backend_test!(
    async fn a_withdrawn_post_leaves_the_queue_and_tells_those_who_shared_it(app) {
        organisation(&app, &[Platform::X, Platform::LinkedIn]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        agree(&app, me, Platform::LinkedIn, None).await;
        let post = publish(&app, PostSpec { platforms: &[Platform::X, Platform::LinkedIn], ..Default::default() }).await;
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, post, "x", None).await.status(), 303);
        assert!(queue_ids(&app, me).await.contains(&post), "still offered on LinkedIn");
        let now = app.clock.now_naive();
        app.db(move |conn| posts::withdraw(conn, post, "The figures were wrong.", 1, now).map(|_| ())).await;
        assert!(queue_ids(&app, me).await.is_empty(), "gone from the queue at once");
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page.contains("A post you shared was withdrawn") && page.contains("The figures were wrong.") && page.contains("shared on X"));
        assert_eq!(share(&app, &client, post, "linkedin", None).await.status(), 404, "no longer shareable");
        let token = app.csrf_token_with(&client, "/queue").await;
        client.post(app.url(&format!("/queue/notices/{post}/read"))).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!page.contains("A post you shared was withdrawn"));
        assert_eq!(app.db(move |conn| posts::find(conn, post)).await.unwrap().status, PostStatus::Withdrawn);
    }
);

/// An organisation on X with a crowd threshold of 2, one post, and `people`
/// employees who said yes to X, logged in.
async fn crowd_of(app: &TestApp, people: usize) -> (i64, Vec<reqwest::Client>) {
    organisation(app, &[Platform::X]).await;
    app.change_settings(|change| change.crowd_threshold = 2)
        .await;
    let post = publish(app, PostSpec::default()).await;
    let mut clients = Vec::new();
    for n in 0..people {
        let email = format!("emp{n}@example.com");
        let id = app.create_user(&email, "Emp", "employee").await;
        agree(app, id, Platform::X, None).await;
        clients.push(app.login_client(&email).await);
    }
    (post, clients)
}

backend_test!(
    async fn the_queue_never_counts_what_colleagues_did(app) {
        let (post, clients) = crowd_of(&app, 3).await;
        share(&app, &clients[0], post, "x", None).await;
        share(&app, &clients[1], post, "x", None).await;
        let page = app.get_with(&clients[2], "/queue").await.text().await.unwrap().to_lowercase();
        assert!(page.contains("popular on x right now") && page.contains("words of your own"), "the crowd hint appears");
        for pressure in ["have not shared", "haven't shared", "colleagues shared", "2 colleagues", "2 people", "streak", "points", "leaderboard", "rank"] {
            assert!(!page.contains(pressure), "no pressure wording: {pressure}");
        }
    }
);

backend_test!(
    async fn a_post_popular_on_several_platforms_says_so_once(app) {
        organisation(&app, &[Platform::X, Platform::LinkedIn]).await;
        app.change_settings(|change| change.crowd_threshold = 2).await;
        let post = publish(&app, PostSpec { platforms: &[Platform::LinkedIn, Platform::X], ..Default::default() }).await;
        let mut clients = Vec::new();
        for n in 0..3 {
            let email = format!("emp{n}@example.com");
            let id = app.create_user(&email, "Emp", "employee").await;
            agree(&app, id, Platform::LinkedIn, None).await;
            agree(&app, id, Platform::X, None).await;
            clients.push(app.login_client(&email).await);
        }
        for client in &clients[..2] {
            share(&app, client, post, "x", None).await;
            share(&app, client, post, "linkedin", None).await;
        }
        let page = app.get_with(&clients[2], "/queue").await.text().await.unwrap();
        let text = page_text(&page);
        assert!(
            text.contains("Popular on LinkedIn and X right now: a few words of your own make it yours."),
            "{text}"
        );
        assert_eq!(text.matches("Popular on").count(), 1, "one hint for the card: {text}");
    }
);

backend_test!(
    async fn the_crowd_hint_lasts_an_hour_from_the_shares_that_made_it_and_follows_the_threshold(app) {
        let (post, clients) = crowd_of(&app, 4).await;
        let hinted = |page: String| page.to_lowercase().contains("popular on x right now");
        share(&app, &clients[0], post, "x", None).await;
        assert!(!hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "one share is not a crowd");
        app.clock.advance(chrono::Duration::minutes(40));
        share(&app, &clients[1], post, "x", None).await;
        assert!(hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "two within the hour");
        // The older share leaves the hour 60 minutes after it was made; the
        // hint goes with it, although it was seen (and kept) before.
        app.clock.advance(chrono::Duration::minutes(19));
        assert!(hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "still within the hour");
        app.clock.advance(chrono::Duration::minutes(2));
        assert!(!hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "an hour on, one recent share is left");
        // Recorded by another server process (written straight to the
        // database): the pair this process found calm is asked about again.
        let now = app.clock.now_naive();
        app.db(move |conn| {
            let email = EmailAddress::parse("emp2@example.com").unwrap();
            let emp2 = store::users::find_by_email(conn, &email)?.expect("emp2").id;
            store::shares::record(conn, emp2, post, Platform::X, 0, false, now)
        })
        .await;
        assert!(hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "a new share makes two again");
        app.change_settings(|change| change.crowd_threshold = 3).await;
        assert!(!hinted(app.get_with(&clients[3], "/queue").await.text().await.unwrap()), "a higher threshold applies at once");
    }
);

backend_test!(
    async fn an_hourly_cap_per_post_spreads_identical_posts_out(app) {
        organisation(&app, &[Platform::X]).await;
        app.change_settings(|change| change.crowd_cap_per_hour = 1).await;
        let post = publish(&app, PostSpec::default()).await;
        let mut clients = Vec::new();
        for n in 0..2 {
            let email = format!("emp{n}@example.com");
            let id = app.create_user(&email, "Emp", "employee").await;
            agree(&app, id, Platform::X, None).await;
            clients.push(app.login_client(&email).await);
        }
        assert_eq!(share(&app, &clients[0], post, "x", None).await.status(), 303);
        let second = share(&app, &clients[1], post, "x", None).await;
        assert_eq!(second.status(), 429);
        assert!(second.headers().contains_key("retry-after"));
        assert!(second.text().await.unwrap().contains("spreads identical posts out"));
    }
);

/// A person's queue by the SQL rule, newest first, and its size: the
/// offered posts (`queue::offered_posts`), less those the person dismissed
/// and those they already shared on every platform of theirs the post is
/// for. The reference the queues cut from the kept posts are held to.
fn queue_by_sql(
    conn: &mut chorus::db::DbConnection,
    user_id: i64,
    consented: &[Platform],
    now: chrono::NaiveDateTime,
) -> Result<(Vec<queue::QueueItem>, i64), store::StoreError> {
    use chorus::db::schema::{dismissals, post_captions, posts as posts_table, shares};
    use diesel::dsl::{exists, not};
    use diesel::prelude::*;
    if consented.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let department = queue::department_of(conn, user_id)?;
    let slugs: Vec<&'static str> = consented.iter().map(|p| p.slug()).collect();
    let ids: Vec<i64> = queue::offered_posts(department, consented, now)
        .filter(not(exists(
            dismissals::table
                .filter(dismissals::post_id.eq(posts_table::id))
                .filter(dismissals::user_id.eq(user_id)),
        )))
        .filter(exists(
            post_captions::table
                .filter(post_captions::post_id.eq(posts_table::id))
                .filter(post_captions::platform.eq_any(slugs))
                .filter(not(exists(
                    shares::table
                        .filter(shares::user_id.eq(user_id))
                        .filter(shares::post_id.eq(posts_table::id))
                        .filter(shares::platform.eq(post_captions::platform)),
                ))),
        ))
        .order((posts_table::published_at.desc(), posts_table::id.desc()))
        .select(posts_table::id)
        .load(conn)?;
    let my_shares: Vec<(i64, String)> = shares::table
        .filter(shares::user_id.eq(user_id))
        .filter(shares::post_id.eq_any(&ids))
        .select((shares::post_id, shares::platform))
        .load(conn)?;
    let items: Vec<queue::QueueItem> = posts::find_many(conn, &ids)?
        .into_iter()
        .map(|post| queue::QueueItem {
            shared_on: my_shares
                .iter()
                .filter(|(id, _)| *id == post.id)
                .filter_map(|(_, slug)| Platform::from_slug(slug))
                .collect(),
            post: std::sync::Arc::new(post),
        })
        .collect();
    let total = items.len() as i64;
    Ok((items, total))
}

/// Every queue, cut from the published posts kept in memory, against the
/// SQL rule (`queue_by_sql`), for each person of a demo organisation.
fn queues_agree(
    conn: &mut chorus::db::DbConnection,
    live: &chorus::store::live_posts::LivePosts,
    now: chrono::NaiveDateTime,
    notices: &mut usize,
) -> Result<usize, store::StoreError> {
    use chorus::store::live_posts;
    let enabled = store::org::settings(conn)?.enabled_platforms();
    let ids: Vec<i64> = {
        use chorus::db::schema::users;
        use diesel::prelude::*;
        users::table
            .filter(users::is_employee.eq(true))
            .select(users::id)
            .load(conn)?
    };
    let mut offered = 0;
    for user in ids {
        let platforms: Vec<Platform> = consent::consented_platforms(conn, user)?
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| enabled.contains(p))
            .collect();
        let (by_sql, sql_total) = queue_by_sql(conn, user, &platforms, now)?;
        let (in_memory, total) = if platforms.is_empty() {
            (Vec::new(), 0)
        } else {
            let hub = live.current(conn)?;
            let marks = live_posts::marks(conn, user)?;
            let department = queue::department_of(conn, user)?;
            live_posts::page(
                &hub.published,
                department,
                &platforms,
                &marks,
                now,
                0,
                10_000,
            )
        };
        let view = |items: &[queue::QueueItem]| {
            items
                .iter()
                .map(|i| {
                    let mut on = i.shared_on.clone();
                    on.sort();
                    (i.post.id, on)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(view(&in_memory), view(&by_sql), "queue of person {user}");
        assert_eq!(total, sql_total, "queue size of person {user}");
        offered += in_memory.len();
        // Withdrawal notices, from the kept withdrawn posts and the
        // person's marks, equal the SQL rule (`queue::withdrawal_notices`).
        let notice_view = |notices: Vec<queue::WithdrawalNotice>| {
            notices
                .into_iter()
                .map(|mut n| {
                    n.platforms.sort();
                    (
                        n.post.id,
                        n.post.title,
                        n.post.link,
                        n.post.reason,
                        n.post.withdrawn_at,
                        n.platforms,
                    )
                })
                .collect::<Vec<_>>()
        };
        let hub = live.current(conn)?;
        let from_memory = hub
            .published
            .withdrawal_notices(&live_posts::marks(conn, user)?);
        *notices += from_memory.len();
        let mut by_sql = notice_view(queue::withdrawal_notices(conn, user)?);
        let from_memory = notice_view(from_memory);
        // The SQL orders by withdrawal time only; the same time ties by post.
        by_sql.sort_by_key(|n| std::cmp::Reverse((n.4, n.0)));
        assert_eq!(from_memory, by_sql, "withdrawal notices of person {user}");
    }
    Ok(offered)
}

backend_test!(
    async fn queues_cut_from_posts_in_memory_equal_the_sql_rule_and_follow_every_change(app) {
        let hash = chorus::credentials::hash_password(chorus::demo::DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = chorus::demo::DemoSize { employees: 60, posts: 40, weeks: 3, seed: 9, shares: None };
        app.db(move |conn| chorus::demo::generate(conn, size, &hash, now)).await;
        let live = std::sync::Arc::new(chorus::store::live_posts::LivePosts::default());
        let kept = live.clone();
        let (offered, notices) = app
            .db(move |conn| {
                let mut notices = 0;
                Ok((queues_agree(conn, &kept, now, &mut notices)?, notices))
            })
            .await;
        assert!(offered > 100, "queues hold posts: {offered}");
        assert!(notices > 0, "some people have withdrawal notices: {notices}");

        // Every kind of change reaches the kept posts: a withdrawal, an
        // expiry, a new audience, a caption removed, a dismissal and a share.
        let kept = live.clone();
        let after = app
            .db(move |conn| {
                use chorus::db::schema::{post_captions, post_departments, posts as p};
                use diesel::prelude::*;
                let published: Vec<i64> = p::table
                    .filter(p::status.eq(PostStatus::Published.as_str()))
                    .order(p::id.asc())
                    .select(p::id)
                    .load(conn)?;
                store::posts::withdraw(conn, published[0], "Out of date", 1, now)?;
                diesel::update(p::table.find(published[1]))
                    .set(p::expires_at.eq(Some(now - chrono::Duration::minutes(1))))
                    .execute(conn)?;
                diesel::update(p::table.find(published[2])).set(p::target_all.eq(false)).execute(conn)?;
                let department: i64 = chorus::db::schema::departments::table
                    .select(chorus::db::schema::departments::id)
                    .first(conn)?;
                diesel::insert_into(post_departments::table)
                    .values((post_departments::post_id.eq(published[2]), post_departments::department_id.eq(department)))
                    .execute(conn)?;
                diesel::delete(post_captions::table.filter(post_captions::post_id.eq(published[3])))
                    .execute(conn)?;
                let someone: i64 = chorus::db::schema::consent_state::table
                    .filter(chorus::db::schema::consent_state::status.eq("given"))
                    .filter(chorus::db::schema::consent_state::platform.eq("x"))
                    .select(chorus::db::schema::consent_state::user_id)
                    .first(conn)?;
                store::shares::dismiss(conn, someone, published[4], now)?;
                store::shares::record(conn, someone, published[5], Platform::X, 1, false, now)?;
                // Someone who shared the newly withdrawn post, and marks one
                // of their notices read.
                store::shares::record(conn, someone, published[0], Platform::X, 1, false, now)?;
                let mut before = 0;
                queues_agree(conn, &kept, now, &mut before)?;
                store::shares::read_withdrawal_notice(conn, someone, published[0], now)?;
                let mut notices = 0;
                let after = queues_agree(conn, &kept, now, &mut notices)?;
                assert_eq!(notices + 1, before, "a notice marked read is gone");
                Ok(after)
            })
            .await;
        assert!(after < offered, "the changes took posts out of queues ({after} < {offered})");
    }
);

backend_test!(
    async fn settings_and_share_caps_changed_by_another_process_reach_the_next_queue_view(app) {
        organisation(&app, &[Platform::X, Platform::Bluesky]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        agree(&app, me, Platform::Bluesky, None).await;
        publish(&app, PostSpec { platforms: &[Platform::X, Platform::Bluesky], ..PostSpec::default() }).await;
        x_cap_policy(&app, 4, 20).await;
        let client = app.login_client("emp@example.com").await;
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page_text(&queue).contains("Share on X · 4 left today, 20 this week"), "{queue}");
        assert!(queue.contains("Our report is out"), "{queue}");
        assert!(!queue.contains("Views are my own"), "no disclosure yet");

        // Written to the database from outside the server, as another
        // `chorus serve` would.
        x_cap_policy(&app, 2, 9).await;
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page_text(&queue).contains("Share on X · 2 left today, 9 this week"), "{queue}");

        app.change_settings(|change| {
            change.disclosure_required = true;
            change.disclosure_template = "Views are my own at {org}.".into();
        })
        .await;
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(queue.contains("Views are my own at Acme."), "{queue}");

        app.change_settings(|change| change.enabled_platforms = vec![Platform::X]).await;
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page_text(&queue).contains("Share on X ·"), "{queue}");
        assert!(!page_text(&queue).contains("Share on Bluesky"), "a platform turned off is offered no more: {queue}");
    }
);

#[derive(diesel::QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

backend_test!(
    async fn every_settings_column_but_the_write_lock_stamp_moves_the_queue_counter(app) {
        // The queue keeps the settings while this counter holds, so a
        // settings column the counter's trigger misses would go stale.
        let columns_sql = match app.backend() {
            Backend::Sqlite => "SELECT name FROM pragma_table_info('org_settings')",
            Backend::Postgres => "SELECT column_name::text AS name FROM information_schema.columns \
                                  WHERE table_schema = 'public' AND table_name = 'org_settings'",
        };
        let columns = app
            .db(move |conn| Ok(diesel::sql_query(columns_sql).load::<ColumnName>(conn)?))
            .await;
        assert!(columns.iter().any(|c| c.name == "disclosure_template"), "the columns were read");
        let generation = || app.db(store::live_posts::generation);
        for column in columns.iter().map(|c| c.name.clone()).filter(|c| c != "id") {
            let before = generation().await;
            let update = format!("UPDATE org_settings SET {column} = {column}");
            app.db(move |conn| Ok(diesel::sql_query(update).execute(conn)?)).await;
            let after = generation().await;
            if column == "updated_at" {
                // What SQLite's writers touch to take the write lock.
                assert_eq!(after, before, "updated_at alone leaves the queue's copy be");
            } else {
                assert!(after > before, "a change of org_settings.{column} must move queue_generation");
            }
        }
    }
);

backend_test!(
    async fn a_move_to_another_department_or_time_zone_shows_on_the_next_queue_view(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user_in("emp@example.com", "Emp", "employee", Some("Sales")).await;
        app.create_user_in("other@example.com", "Other", "employee", Some("Research")).await;
        let depts = app.db(store::departments::list).await;
        let research = depts.iter().find(|d| d.name == "Research").unwrap().id;
        agree(&app, me, Platform::X, None).await;
        x_cap_policy(&app, 1, 5).await;
        let first = publish(&app, PostSpec::default()).await;
        publish(&app, PostSpec::default()).await;
        let for_research = publish(&app, PostSpec { departments: vec![research], ..Default::default() }).await;
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, first, "x", None).await.status(), 303);
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!queue.contains(&format!("/queue/{for_research}/share/x")), "not for Sales");
        assert!(queue.contains("next share possible") && queue.contains("(UTC)"), "{queue}");

        // Changed elsewhere (another process, an admin): the same session sees it.
        let now = app.clock.now_naive();
        app.db(move |conn| {
            let person = store::users::find(conn, me)?.expect("the person");
            let change = store::users::ProfileChange {
                name: PersonName::parse(&person.name).unwrap(),
                roles: person.roles,
                department: DepartmentName::parse_optional("Research").unwrap(),
            };
            store::users::update_profile(conn, me, &change, 1, now)?;
            let preferences = store::users::Preferences {
                timezone: Some("Europe/Berlin".into()),
                ..store::users::preferences(conn, me)?
            };
            store::users::set_preferences(conn, me, &preferences, now)
        })
        .await;
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(queue.contains(&format!("/queue/{for_research}/share/x")), "now for them: {queue}");
        assert!(queue.contains("(Europe/Berlin)") && !queue.contains("(UTC)"), "{queue}");
    }
);

backend_test!(
    async fn a_persons_choices_are_the_platforms_they_said_yes_to_with_their_own_caps(app) {
        organisation(&app, &Platform::ALL).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        let other = app.create_user("other@example.com", "Other", "employee").await;
        agree(&app, me, Platform::X, None).await;
        agree(&app, me, Platform::Mastodon, Some("social.example")).await;
        agree(&app, me, Platform::Bluesky, None).await;
        agree(&app, other, Platform::LinkedIn, None).await;
        let now = app.clock.now_naive();
        let caps = |per_day, per_week| chorus::domain::share_caps::ShareCaps { per_day, per_week };
        app.db(move |conn| {
            consent::record_choice(conn, me, Purpose::ShareSuggestions(Platform::Bluesky), Choice::No, None, "test", now)?;
            consent::record_choice(conn, me, Purpose::EmailDigest, Choice::Yes, None, "test", now)?;
            store::shares::set_personal(conn, me, Platform::X, caps(2, 5))?;
            store::shares::set_personal(conn, me, Platform::Bluesky, caps(1, 1))?;
            store::shares::set_personal(conn, me, Platform::LinkedIn, caps(3, 3))?;
            store::shares::set_personal(conn, other, Platform::X, caps(9, 9))
        })
        .await;
        let choices = app.db(move |conn| consent::choices(conn, me)).await;
        let consented = app.db(move |conn| consent::consented_platforms(conn, me)).await;
        assert_eq!(
            choices,
            [
                consent::PlatformChoice { platform: Platform::X, instance: None, caps: Some(caps(2, 5)) },
                consent::PlatformChoice {
                    platform: Platform::Mastodon,
                    instance: Some("social.example".into()),
                    caps: None,
                },
            ],
            "withdrawn Bluesky, the digest, caps without consent and another person's caps stay out"
        );
        assert_eq!(
            choices.iter().map(|c| (c.platform, c.instance.clone())).collect::<Vec<_>>(),
            consented,
            "the same platforms as the consent store gives"
        );
    }
);

/// A queue page's reads on SQLite see one snapshot: a write that another
/// process commits between two of them is not half in the page.
#[actix_web::test]
async fn on_sqlite_a_pages_reads_see_one_snapshot_even_when_a_write_lands_between_them() {
    let app = spawn_app(Backend::Sqlite).await;
    let url = app.config.database_url();
    let count = |conn: &mut chorus::db::DbConnection| -> Result<usize, store::StoreError> {
        Ok(store::departments::list(conn)?.len())
    };
    let (before, after) = app
        .state
        .db
        .read_snapshot(move |conn| {
            let before = count(conn)?;
            let mut other = chorus::db::establish(&url).expect("a second connection");
            diesel::sql_query(
                "INSERT INTO departments (name, name_key, created_at) \
                 VALUES ('Late', 'late', CURRENT_TIMESTAMP)",
            )
            .execute(&mut other)?;
            Ok::<_, store::StoreError>((before, count(conn)?))
        })
        .await
        .expect("the reads run");
    assert_eq!(
        before, after,
        "the second read saw the write of the other connection"
    );
    let now = app.db(count).await;
    assert_eq!(now, before + 1, "the write itself landed");
}

// ---- the card, Undo and the Done list ------------------------------------------

/// Posts `path` with this client's CSRF token (or none) and answers the
/// status, the Location and the body.
async fn post_as(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    with_token: bool,
) -> (u16, String, String) {
    let token = app.csrf_token_with(client, "/").await;
    let form: Vec<(&str, &str)> = if with_token {
        vec![("csrf_token", token.as_str())]
    } else {
        Vec::new()
    };
    let response = client.post(app.url(path)).form(&form).send().await.unwrap();
    let (status, location) = (response.status().as_u16(), location(&response));
    (status, location, response.text().await.unwrap())
}

backend_test!(
    async fn undo_within_ten_minutes_gives_the_cap_back_and_the_card_offers_the_share_again(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        x_cap_policy(&app, 1, 5).await;
        let first = publish(&app, PostSpec::default()).await;
        let second = publish(&app, PostSpec::default()).await;
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, first, "x", None).await.status(), 303);
        assert_eq!(share(&app, &client, second, "x", None).await.status(), 429, "one a day");

        // Shared moments ago: the card stays in the queue, reading so, with Undo.
        app.clock.advance(chrono::Duration::minutes(9));
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        let card = &page[page.find(&format!("id=\"post-{first}\"")).expect("the card stays")..];
        let card = &card[..card.find("</article>").unwrap()];
        assert!(page_text(card).contains("Shared on X ✓ · Undo the share on X"), "{card}");
        assert!(card.contains(&format!("formaction=\"/queue/{first}/undo/x\"")), "{card}");
        assert!(!card.contains(&format!("/queue/{first}/share/x")), "no second share button: {card}");

        let (status, to, _) = post_as(&app, &client, &format!("/queue/{first}/undo/x"), true).await;
        assert_eq!((status, to.as_str()), (303, format!("/queue?undone=x#post-{first}").as_str()));
        assert_eq!(share_count(&app, me).await, 0, "the share is gone");
        let page = app.get_with(&client, &to).await.text().await.unwrap();
        assert!(page.contains("Undone: your share on X no longer counts toward your limits."), "{page}");
        assert!(page_text(&page).contains("Share on X · 1 left today"), "the cap is given back: {page}");
        assert!(page.contains(&format!("formaction=\"/queue/{first}/share/x\"")), "the card offers X again");
        assert_eq!(share(&app, &client, second, "x", None).await.status(), 303, "the freed share is usable");
        // Undone already: there is nothing left to undo.
        assert_eq!(post_as(&app, &client, &format!("/queue/{first}/undo/x"), true).await.0, 404);
        assert_eq!(share_count(&app, me).await, 1);
    }
);

backend_test!(
    async fn undo_is_refused_after_ten_minutes_for_others_shares_and_without_the_token(app) {
        let (me, _) = two_colleagues(&app, &[Platform::X]).await;
        let post = publish(&app, PostSpec::default()).await;
        let client = app.login_client("emp@example.com").await;
        let colleague = app.login_client("other@example.com").await;
        assert_eq!(share(&app, &client, post, "x", None).await.status(), 303);

        // Another person's share is not theirs to take back: as for no share.
        let theirs = post_as(&app, &colleague, &format!("/queue/{post}/undo/x"), true).await;
        let unknown = post_as(&app, &colleague, "/queue/999999/undo/x", true).await;
        assert_eq!((theirs.0, unknown.0), (404, 404));
        assert_eq!(theirs.2, unknown.2, "nothing tells a colleague's share apart from none");
        assert_eq!(post_as(&app, &client, &format!("/queue/{post}/undo/linkedin"), true).await.0, 404, "not shared there");
        assert_eq!(post_as(&app, &client, &format!("/queue/{post}/undo/myspace"), true).await.0, 404);
        // Without the CSRF token: refused, the share stays.
        assert_eq!(post_as(&app, &client, &format!("/queue/{post}/undo/x"), false).await.0, 403);
        assert_eq!(share_count(&app, me).await, 1);

        app.clock.advance(chrono::Duration::minutes(10));
        let (status, _, body) = post_as(&app, &client, &format!("/queue/{post}/undo/x"), true).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("Too late to undo"), "{body}");
        assert!(
            body.contains("Your share on X was recorded 10 minutes ago. A share can be undone only in the first 10 minutes, so this one stays counted toward your limits."),
            "{body}"
        );
        assert_eq!(share_count(&app, me).await, 1, "the share stays");
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!page.contains(&format!("/queue/{post}/undo/x")), "no Undo offered past the window");

        // The API's Undo follows the same rules.
        let post2 = publish(&app, PostSpec::default()).await;
        let token = app.api_token(me, TokenKind::Personal, Scope::ReadWrite).await;
        let api = |method: reqwest::Method, path: String| {
            let (url, token) = (app.url(&path), token.clone());
            async move {
                let response = new_client().request(method, url).bearer_auth(token).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        assert_eq!(api(reqwest::Method::POST, format!("/api/v1/queue/{post2}/share/x")).await.0, 200);
        let (_, listed) = api(reqwest::Method::GET, "/api/v1/queue".into()).await;
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        let offer = &listed["posts"].as_array().unwrap().iter().find(|p| p["id"] == post2).expect("kept in view")["offers"][0];
        assert_eq!(offer["shared"], true, "{offer}");
        assert!(offer["undo_until"].is_string() && offer["shared_at"].is_string(), "{offer}");
        assert_eq!(api(reqwest::Method::POST, format!("/api/v1/queue/{post2}/undo/x")).await.0, 204);
        assert_eq!(api(reqwest::Method::POST, format!("/api/v1/queue/{post2}/undo/x")).await.0, 404);
        let (status, body) = api(reqwest::Method::POST, format!("/api/v1/queue/{post}/undo/x")).await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("\"too_late\""), "{body}");
        assert_eq!(share_count(&app, me).await, 1);
    }
);

backend_test!(
    async fn the_done_list_shows_what_the_person_shared_where_and_when_and_what_they_skipped(app) {
        let _ = two_colleagues(&app, &[Platform::X, Platform::LinkedIn]).await;
        let both = publish(&app, PostSpec { platforms: &[Platform::X, Platform::LinkedIn], ..Default::default() }).await;
        let skipped = publish(&app, PostSpec::default()).await;
        let open = publish(&app, PostSpec::default()).await;
        let client = app.login_client("emp@example.com").await;
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(!page.contains("id=\"done-heading\""), "nothing done yet: no Done list");

        // Shared on X only: still open.
        let shared_at = app.clock.now_naive();
        assert_eq!(share(&app, &client, both, "x", None).await.status(), 303);
        app.clock.advance(chrono::Duration::minutes(20));
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(page.contains(&format!("id=\"post-{both}\"")), "LinkedIn is still open");
        assert!(page_text(&page).contains("Shared on X ✓"), "the card says what was shared");
        // Then on LinkedIn too, and the other post skipped.
        assert_eq!(share(&app, &client, both, "linkedin", None).await.status(), 303);
        let (status, _, _) = post_as(&app, &client, &format!("/queue/{skipped}/dismiss"), true).await;
        assert_eq!(status, 303);
        app.clock.advance(chrono::Duration::minutes(11));

        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        let done_at = page.find("id=\"done-heading\"").expect("a Done list");
        let (open_part, done) = page.split_at(done_at);
        assert!(open_part.contains(&format!("id=\"post-{open}\"")), "the open post stays above");
        for gone in [both, skipped] {
            assert!(!open_part.contains(&format!("id=\"post-{gone}\"")), "post {gone} left the open list");
        }
        let text = page_text(done);
        let when = |at: chrono::NaiveDateTime| at.format("%a %d %b, %H:%M").to_string();
        let linkedin_at = shared_at + chrono::Duration::minutes(20);
        assert!(text.contains(&format!("Shared on LinkedIn ✓ · {}", when(linkedin_at))), "{text}");
        assert!(text.contains(&format!("Shared on X ✓ · {}", when(shared_at))), "{text}");
        assert!(text.contains(&format!("Skipped · {} · Undo", when(linkedin_at))), "{text}");
        assert!(text.contains("times in UTC"), "{text}");
        assert!(text.find("LinkedIn ✓").unwrap() < text.find("X ✓").unwrap(), "latest first");
        assert!(!done.contains("/undo/"), "past the window: no Undo for the shares");
        assert!(done.contains(&format!("formaction=\"/queue/{skipped}/restore\"")), "a skip can always be undone");
        let forms = page.matches("<form ").count();
        let token = app.csrf_token_with(&client, "/queue").await;
        assert_eq!(page.matches(&format!("name=\"csrf_token\" value=\"{token}\"")).count(), forms, "every form carries the token");

        // Undo of the skip from the Done list brings the post back.
        let (status, to, _) = post_as(&app, &client, &format!("/queue/{skipped}/restore"), true).await;
        assert_eq!((status, to.as_str()), (303, "/queue"));
        let page = app.get_with(&client, "/queue").await.text().await.unwrap();
        let open_part = &page[..page.find("id=\"done-heading\"").unwrap()];
        assert!(open_part.contains(&format!("id=\"post-{skipped}\"")), "back in the queue");

        // The person's own: a colleague's queue and every page of the hub show none of it.
        let colleague = app.login_client("other@example.com").await;
        let theirs = app.get_with(&colleague, "/queue").await.text().await.unwrap();
        assert!(!theirs.contains("id=\"done-heading\"") && !theirs.contains("Shared on"), "{theirs}");
    }
);

backend_test!(
    async fn an_undo_and_shares_at_once_on_two_processes_never_exceed_the_cap(app) {
        organisation(&app, &[Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        agree(&app, me, Platform::X, None).await;
        x_cap_policy(&app, 1, 5).await;
        let shared = publish(&app, PostSpec::default()).await;
        let mut others = Vec::new();
        for _ in 0..12 {
            others.push(publish(&app, PostSpec::default()).await);
        }
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_url = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());
        let client = app.login_client("emp@example.com").await;
        assert_eq!(share(&app, &client, shared, "x", None).await.status(), 303);
        let token = app.csrf_token_with(&client, "/queue").await;
        let send = |base: String, path: String| {
            let (client, token) = (client.clone(), token.clone());
            actix_web::rt::spawn(async move {
                let response = client
                    .post(format!("{base}{path}"))
                    .header("origin", base.clone())
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await
                    .unwrap();
                response.status().as_u16()
            })
        };
        let mut shares = Vec::new();
        for (n, id) in others.iter().enumerate() {
            let base = if n % 2 == 0 { app.address.clone() } else { second_url.clone() };
            shares.push(send(base, format!("/queue/{id}/share/x")));
            if n == 5 {
                shares.push(send(second_url.clone(), format!("/queue/{shared}/undo/x")));
            }
        }
        let mut statuses = Vec::new();
        for s in shares {
            statuses.push(s.await.unwrap());
        }
        let undo = statuses.remove(6);
        assert!(undo == 303, "the Undo, within the window, goes through: {undo}");
        assert!(statuses.iter().all(|s| *s == 303 || *s == 429), "{statuses:?}");
        let recorded = statuses.iter().filter(|s| **s == 303).count();
        assert!(recorded <= 1, "one a day, however they interleave: {statuses:?}");
        assert_eq!(share_count(&app, me).await, recorded, "exactly the shares answered 303 remain");
    }
);
