//! Feeds into the hub: RSS 2.0 and Atom 1.0 feeds a test site serves on
//! loopback become hub drafts (never published by themselves), each item
//! once, read with conditional GETs no more often than every 15 minutes;
//! broken, huge, slow and refused feeds record their error and never stop
//! the others; two pollers on one database draft each item once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chorus::app::feeds::{PollReport, poll_due};
use chorus::config::Config;
use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::platforms::Platform;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

use crate::helpers::*;

/// Runs a test body on SQLite and on PostgreSQL, with a feed site on
/// loopback and a Chorus configured by `$adjust`.
macro_rules! feed_test {
    (async fn $name:ident($app:ident, $site:ident) $adjust:expr, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let $site = Site::start().await;
                let $app = spawn_app_with(Backend::Sqlite, $adjust).await;
                $body
            }

            #[actix_web::test]
            #[cfg_attr(
                not(chorus_pg_tests),
                ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                let $site = Site::start().await;
                let $app = spawn_app_with(Backend::Postgres, $adjust).await;
                $body
            }
        }
    };
}

/// Loopback only (the site), nothing else private; a short fetch deadline
/// for the slow feed.
fn loopback_allowed(config: &mut Config) {
    config.allow_private_fetch = "127.0.0.1".into();
    config.fetch_timeout_seconds = 2;
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }));
    let mut out = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// What the site serves and what it was asked.
#[derive(Default)]
struct SiteState {
    /// Requests per path.
    hits: Mutex<HashMap<String, usize>>,
    /// If-None-Match and If-Modified-Since of each request to /conditional.
    validators: Mutex<Vec<(Option<String>, Option<String>)>>,
    /// Items in /rss beyond the first two.
    more_items: AtomicUsize,
    /// The /flaky/… feeds turn bad.
    broken: AtomicBool,
}

const ETAG: &str = "\"v1\"";
const LAST_MODIFIED: &str = "Mon, 07 Dec 2026 08:00:00 GMT";

fn rss(items: usize, site: &str) -> String {
    let mut body = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Acme newsroom</title><link>https://news.example.com/</link>
<description>News from Acme</description>"#,
    );
    for n in 1..=items {
        body.push_str(&format!(
            r#"<item><title>Story {n}</title><link>https://news.example.com/story-{n}</link>
<guid isPermaLink="false">acme-story-{n}</guid><pubDate>0{n} Dec 2026 09:00:00 GMT</pubDate>
<description>&lt;p&gt;The &lt;b&gt;story&lt;/b&gt; number {n}.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description>
<enclosure url="{site}/card.png" type="image/png" length="1000"/></item>"#
        ));
    }
    // An item without a GUID: known by its link.
    body.push_str(
        r#"<item><title>Without a guid</title><link>https://news.example.com/no-guid</link>
<description>Plain words.</description></item>"#,
    );
    body.push_str("</channel></rss>");
    body
}

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Acme engineering blog</title><id>urn:acme:blog</id><updated>2026-12-02T10:00:00Z</updated>
<entry><title>How we build</title><id>urn:acme:blog:1</id><updated>2026-12-01T10:00:00Z</updated>
<link rel="alternate" href="https://blog.example.com/how-we-build"/>
<summary type="html">&lt;p&gt;Our tools &amp;amp; habits.&lt;/p&gt;</summary></entry>
<entry><title>Why we test</title><id>urn:acme:blog:2</id><updated>2026-12-02T10:00:00Z</updated>
<link href="https://blog.example.com/why-we-test"/><summary>Because it works.</summary></entry>
</feed>"#;

fn xml(kind: &str, body: String) -> HttpResponse {
    HttpResponse::Ok().content_type(kind).body(body)
}

fn huge() -> HttpResponse {
    // Three MB, streamed without a declared length: counted as it comes.
    let chunk = web::Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = std::iter::once(web::Bytes::from_static(b"<rss version=\"2.0\"><channel>"))
        .chain(std::iter::repeat_n(chunk, 48))
        .map(Ok::<_, actix_web::Error>);
    HttpResponse::Ok()
        .content_type("application/rss+xml")
        .streaming(futures_util::stream::iter(chunks))
}

async fn bad(kind: &str) -> HttpResponse {
    match kind {
        "malformed" => xml(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel><item><title>Cut".into(),
        ),
        "huge" => huge(),
        "slow" => {
            actix_web::rt::time::sleep(Duration::from_secs(30)).await;
            xml("application/rss+xml", rss(1, ""))
        }
        "gone" => HttpResponse::NotFound().finish(),
        // Cloud metadata: refused even though loopback is allowed.
        "private" => HttpResponse::Found()
            .insert_header(("location", "http://169.254.169.254/latest/meta-data/"))
            .finish(),
        _ => HttpResponse::NotFound().finish(),
    }
}

async fn site_page(request: HttpRequest, state: web::Data<SiteState>) -> HttpResponse {
    let path = request.path().to_string();
    *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let base = format!(
        "http://127.0.0.1:{}",
        request.app_config().local_addr().port()
    );
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if let Some(kind) = path.strip_prefix("/flaky/") {
        if state.broken.load(Ordering::SeqCst) {
            return bad(kind).await;
        }
        return xml("application/rss+xml", rss(1, &base));
    }
    match path.as_str() {
        "/rss" => xml(
            "application/rss+xml; charset=utf-8",
            rss(2 + state.more_items.load(Ordering::SeqCst), &base),
        ),
        "/atom" => xml("application/atom+xml", ATOM.to_string()),
        "/conditional" => {
            let (etag, since) = (header("if-none-match"), header("if-modified-since"));
            state.validators.lock().unwrap().push((etag.clone(), since));
            if etag.as_deref() == Some(ETAG) {
                return HttpResponse::NotModified().finish();
            }
            HttpResponse::Ok()
                .content_type("application/rss+xml")
                .insert_header(("etag", ETAG))
                .insert_header(("last-modified", LAST_MODIFIED))
                .body(rss(1, &base))
        }
        "/card.png" => HttpResponse::Ok()
            .content_type("image/png")
            .body(png(1200, 630)),
        "/page" => xml("text/html", "<html><body>Not a feed</body></html>".into()),
        other => match other.strip_prefix("/bad/") {
            Some(kind) => bad(kind).await,
            None => HttpResponse::NotFound().finish(),
        },
    }
}

/// A web site on loopback serving feeds, counting requests per path.
struct Site {
    base: String,
    state: Arc<SiteState>,
}

impl Site {
    async fn start() -> Site {
        let state = web::Data::new(SiteState::default());
        let shared = state.clone();
        let (base, _) = loopback_site("127.0.0.1", 2, move |site| {
            site.app_data(shared.clone())
                .default_service(web::to(site_page));
        });
        Site {
            base,
            state: state.into_inner(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// X enabled, a policy, and the comms person logged in on the returned
/// client; their id.
async fn hub(app: &TestApp) -> (reqwest::Client, i64) {
    let comms = app
        .create_user("comms@example.com", "Cora Comms", "comms")
        .await;
    app.ready_organisation(comms, vec![Platform::X]).await;
    (app.login_client("comms@example.com").await, comms)
}

/// Adds a feed through the hub page; the answer's status and page.
async fn add_feed(
    app: &TestApp,
    client: &reqwest::Client,
    url: &str,
    interval: &str,
) -> (u16, String) {
    let response = app
        .post_form_with(
            client,
            "/hub/feeds",
            &[("url", url), ("interval", interval)],
        )
        .await;
    let status = response.status().as_u16();
    (status, unescaped(&response.text().await.unwrap()))
}

fn unescaped(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// An API call with a JSON body (or none): the status and the JSON answer
/// (null when empty).
async fn api(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = new_client()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn api_get(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) = api(app, token, reqwest::Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The hub's posts over the API.
async fn api_posts(app: &TestApp, token: &str) -> Vec<Value> {
    let body = api_get(app, token, "/api/v1/posts").await;
    body["posts"].as_array().cloned().unwrap_or_default()
}

fn titles(posts: &[Value]) -> Vec<String> {
    let mut titles: Vec<String> = posts
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    titles
}

/// One round of the feed job, as `chorus serve` and `chorus jobs run-once` run it.
async fn poll(app: &TestApp) -> PollReport {
    poll_due(&app.state).await.expect("the round runs")
}

/// Moves the clock past the 15-minute floor.
fn quarter_hour_later(app: &TestApp) {
    app.clock.advance(chrono::Duration::minutes(15));
}

feed_test!(
    async fn rss_items_become_drafts_with_title_link_summary_and_image_from_the_feed(app, site)
    loopback_allowed, {
        let (client, comms) = hub(&app).await;
        let (status, page) = add_feed(&app, &client, &site.url("/rss"), "60").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Acme newsroom was added and read: 3 new drafts."), "{page}");

        let token = app.api_token(comms, TokenKind::Personal, Scope::Read).await;
        let posts = api_posts(&app, &token).await;
        assert_eq!(titles(&posts), ["Story 1", "Story 2", "Without a guid"]);
        let story = posts.iter().find(|p| p["title"] == "Story 2").unwrap();
        assert_eq!(story["status"], "draft");
        assert_eq!(story["link"], "https://news.example.com/story-2");
        assert_eq!(story["base_text"], "The story number 2.", "markup and scripts removed");
        assert_eq!(story["feed"]["title"], "Acme newsroom");
        assert_eq!(story["preview"]["title"], "Story 2");
        assert_eq!(story["preview"]["description"], "The story number 2.");
        let image = story["preview"]["image_url"].as_str().expect("the item's image is the card's");
        let served = app.get_with(&client, image).await;
        assert_eq!(served.status(), 200);
        assert!(site.hits("/card.png") >= 1);

        // The hub marks where the drafts came from.
        let list = unescaped(&app.get_with(&client, "/hub/posts").await.text().await.unwrap());
        assert!(list.contains("from feed Acme newsroom"), "{list}");
        let id = story["id"].as_i64().unwrap();
        let post = unescaped(&app.get_with(&client, &format!("/hub/posts/{id}")).await.text().await.unwrap());
        assert!(post.contains("From feed <strong>Acme newsroom</strong>"), "{post}");

        // Drafts stay drafts: the publishing job and more polls publish nothing.
        quarter_hour_later(&app);
        poll(&app).await;
        let clock = app.clock.clone();
        app.db(move |conn| chorus::jobs::run_once(conn, &clock)).await;
        let posts = api_posts(&app, &token).await;
        assert_eq!(posts.len(), 3);
        assert!(posts.iter().all(|p| p["status"] == "draft"), "{posts:?}");

        let feeds = unescaped(&app.get_with(&client, "/hub/feeds").await.text().await.unwrap());
        assert!(feeds.contains("Acme newsroom"), "{feeds}");
        assert!(feeds.contains("<td>3</td>"), "three drafts made: {feeds}");
    }
);

feed_test!(
    async fn atom_feeds_are_added_and_listed_through_the_api_with_their_drafts(app, site)
    loopback_allowed, {
        let (_client, comms) = hub(&app).await;
        let token = app.api_token(comms, TokenKind::Personal, Scope::ReadWrite).await;
        let (status, added) = api(&app, &token, reqwest::Method::POST, "/api/v1/feeds",
            Some(json!({"url": site.url("/atom"), "interval_minutes": 30}))).await;
        assert_eq!(status, 201, "{added}");
        assert_eq!(added["feed"]["title"], "Acme engineering blog");
        assert_eq!(added["feed"]["interval_minutes"], 30);
        assert_eq!(added["drafts_made_now"], 2);
        let feed_id = added["feed"]["id"].as_i64().unwrap();

        let posts = api_posts(&app, &token).await;
        assert_eq!(titles(&posts), ["How we build", "Why we test"]);
        let build = posts.iter().find(|p| p["title"] == "How we build").unwrap();
        assert_eq!(build["preview"]["description"], "Our tools & habits.");
        assert_eq!(build["feed"]["id"], feed_id);

        let list = api_get(&app, &token, "/api/v1/feeds").await;
        assert_eq!(list["feeds"][0]["url"], site.url("/atom"));
        assert_eq!(list["feeds"][0]["drafts_made"], 2);
        assert!(list["feeds"][0]["last_error"].is_null());

        // The same feed twice, a page that is not a feed, a too-short interval.
        for (body, field, said) in [
            (json!({"url": site.url("/atom")}), "url", "reads this feed already"),
            (json!({"url": site.url("/page")}), "url", "Not a valid RSS or Atom feed"),
            (json!({"url": site.url("/rss"), "interval_minutes": 5}), "interval_minutes", "15"),
        ] {
            let (status, refusal) =
                api(&app, &token, reqwest::Method::POST, "/api/v1/feeds", Some(body)).await;
            assert_eq!(status, 422, "{refusal}");
            let message = refusal["error"]["fields"][field].as_str().unwrap_or_default().to_string();
            assert!(message.contains(said), "{refusal}");
        }

        // Removed: not listed, not read again, its drafts kept and still marked.
        let (status, _) = api(&app, &token, reqwest::Method::DELETE,
            &format!("/api/v1/feeds/{feed_id}"), None).await;
        assert_eq!(status, 204);
        let list = api_get(&app, &token, "/api/v1/feeds").await;
        assert_eq!(list["feeds"], json!([]));
        quarter_hour_later(&app);
        quarter_hour_later(&app);
        assert_eq!(poll(&app).await.polled, 0);
        assert_eq!(site.hits("/atom"), 1, "read once, when added");
        let posts = api_posts(&app, &token).await;
        assert!(posts.iter().all(|p| p["feed"]["title"] == "Acme engineering blog"));
        let actions: Vec<String> = app.db(|conn| {
            use chorus::db::schema::audit_log;
            use diesel::prelude::*;
            Ok(audit_log::table.filter(audit_log::action.like("feed.%"))
                .order(audit_log::id).select(audit_log::action).load(conn)?)
        }).await;
        assert_eq!(actions, ["feed.added", "feed.removed"]);
    }
);

feed_test!(
    async fn an_item_seen_before_is_skipped_by_its_guid_or_its_link(app, site)
    loopback_allowed, {
        let (client, comms) = hub(&app).await;
        let (status, page) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200, "{page}");
        site.state.more_items.store(1, Ordering::SeqCst);
        quarter_hour_later(&app);
        let report = poll(&app).await;
        assert_eq!((report.polled, report.drafts), (1, 1), "only Story 3 is new");
        quarter_hour_later(&app);
        assert_eq!(poll(&app).await.drafts, 0, "nothing new the third time");
        let token = app.api_token(comms, TokenKind::Personal, Scope::Read).await;
        let posts = api_posts(&app, &token).await;
        assert_eq!(titles(&posts), ["Story 1", "Story 2", "Story 3", "Without a guid"]);
        assert_eq!(site.hits("/rss"), 3);
    }
);

feed_test!(
    async fn a_feed_is_not_read_again_within_fifteen_minutes(app, site)
    loopback_allowed, {
        let (client, _) = hub(&app).await;
        // Below the floor: refused on the same page, the input kept.
        let (status, page) = add_feed(&app, &client, &site.url("/rss"), "10").await;
        assert_eq!(status, 422);
        assert!(page.contains("Check the feed every 15 to 10080 minutes"), "{page}");
        assert!(page.contains(&format!("value=\"{}\"", site.url("/rss"))), "{page}");
        assert_eq!(site.hits("/rss"), 0, "nothing fetched for a refused form");

        let (status, _) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200);
        assert_eq!(poll(&app).await.polled, 0, "just read when added");
        app.clock.advance(chrono::Duration::minutes(14));
        assert_eq!(poll(&app).await.polled, 0, "14 minutes later");
        assert_eq!(site.hits("/rss"), 1);
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(poll(&app).await.polled, 1, "15 minutes later");
        assert_eq!(poll(&app).await.polled, 0, "and not again at once");
        assert_eq!(site.hits("/rss"), 2);
    }
);

feed_test!(
    async fn a_conditional_get_sends_the_validators_and_a_304_drafts_nothing(app, site)
    loopback_allowed, {
        let (client, _) = hub(&app).await;
        let (status, page) = add_feed(&app, &client, &site.url("/conditional"), "15").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("2 new drafts"), "{page}");
        quarter_hour_later(&app);
        let report = poll(&app).await;
        assert_eq!((report.polled, report.not_modified, report.drafts), (1, 1, 0));
        let sent = site.state.validators.lock().unwrap().clone();
        assert_eq!(sent[0], (None, None), "the first request asks unconditionally");
        assert_eq!(sent[1], (Some(ETAG.to_string()), Some(LAST_MODIFIED.to_string())));
        let drafts: i64 = app.db(|conn| {
            use chorus::db::schema::posts;
            use diesel::prelude::*;
            Ok(posts::table.count().get_result(conn)?)
        }).await;
        assert_eq!(drafts, 2, "no duplicates after the 304");
        let feeds = unescaped(&app.get_with(&client, "/hub/feeds").await.text().await.unwrap());
        assert!(!feeds.contains("feed-error"), "a 304 is no error: {feeds}");
    }
);

feed_test!(
    async fn broken_feeds_record_their_error_and_never_stop_the_others(app, site)
    loopback_allowed, {
        let (client, comms) = hub(&app).await;
        for kind in ["malformed", "huge", "slow", "gone", "private"] {
            let (status, page) = add_feed(&app, &client, &site.url(&format!("/flaky/{kind}")), "15").await;
            assert_eq!(status, 200, "{page}");
        }
        let (status, _) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200);
        site.state.broken.store(true, Ordering::SeqCst);
        site.state.more_items.store(1, Ordering::SeqCst);
        quarter_hour_later(&app);
        let report = poll(&app).await;
        assert_eq!((report.polled, report.failed, report.drafts), (6, 5, 1), "{report:?}");

        let token = app.api_token(comms, TokenKind::Personal, Scope::Read).await;
        let list = api_get(&app, &token, "/api/v1/feeds").await;
        let error_of = |path: &str| {
            list["feeds"].as_array().unwrap().iter()
                .find(|f| f["url"] == site.url(path))
                .map(|f| f["last_error"].as_str().unwrap_or_default().to_string())
                .unwrap()
        };
        assert_eq!(error_of("/flaky/malformed"), "Not a valid RSS or Atom feed.");
        assert_eq!(error_of("/flaky/huge"), "Larger than 2 MB.");
        assert_eq!(error_of("/flaky/slow"), "No answer within 2 seconds.");
        assert_eq!(error_of("/flaky/gone"), "The feed answered 404.");
        assert_eq!(
            error_of("/flaky/private"),
            "Refused: private address (169.254.169.254)."
        );
        assert_eq!(error_of("/rss"), "", "the good feed was read");
        let page = unescaped(&app.get_with(&client, "/hub/feeds").await.text().await.unwrap());
        assert!(page.contains("The feed answered 404."), "{page}");
        assert!(page.contains("Larger than 2 MB."), "{page}");

        // Added while broken: refused at once with the reason, input kept.
        for (path, said) in [
            ("/bad/malformed", "Not a valid RSS or Atom feed."),
            ("/bad/gone", "The feed answered 404."),
            ("/bad/private", "Refused: private address"),
        ] {
            let (status, page) = add_feed(&app, &client, &site.url(path), "45").await;
            assert_eq!(status, 422, "{path}");
            assert!(page.contains(said), "{path}: {page}");
            assert!(page.contains(&format!("value=\"{}\"", site.url(path))), "{page}");
            assert!(page.contains("value=\"45\""), "{page}");
        }
    }
);

feed_test!(
    async fn without_the_allowance_a_loopback_feed_is_refused_as_a_private_address(app, site)
    |_config: &mut Config| {}, {
        let (client, _) = hub(&app).await;
        let (status, page) = add_feed(&app, &client, &site.url("/rss"), "60").await;
        assert_eq!(status, 422);
        assert!(page.contains("Refused: private address (127.0.0.1)."), "{page}");
        assert_eq!(site.hits("/rss"), 0, "Chorus never connected to the site");
    }
);

feed_test!(
    async fn comms_pause_and_resume_a_feed_and_only_comms_see_the_feeds(app, site)
    loopback_allowed, {
        let (client, _) = hub(&app).await;
        let (status, _) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200);
        let id: i64 = app.db(|conn| {
            use chorus::db::schema::feeds;
            use diesel::prelude::*;
            Ok(feeds::table.select(feeds::id).first(conn)?)
        }).await;
        let paused = app.post_form_with(&client, &format!("/hub/feeds/{id}/pause"), &[]).await;
        assert_eq!(paused.status(), 303);
        quarter_hour_later(&app);
        assert_eq!(poll(&app).await.polled, 0, "a paused feed is not read");
        let page = unescaped(&app.get_with(&client, "/hub/feeds?done=paused").await.text().await.unwrap());
        assert!(page.contains("The feed is paused"), "{page}");
        assert!(page.contains(">paused<"), "{page}");
        let resumed = app.post_form_with(&client, &format!("/hub/feeds/{id}/resume"), &[]).await;
        assert_eq!(resumed.status(), 303);
        assert_eq!(poll(&app).await.polled, 1);

        app.create_user("emma@example.com", "Emma Employee", "employee").await;
        let employee = app.login_client("emma@example.com").await;
        let refused = app.get_with(&employee, "/hub/feeds").await;
        assert!(matches!(refused.status().as_u16(), 403 | 404), "{}", refused.status());
        let refused = app.post_form_with(&employee, &format!("/hub/feeds/{id}/remove"), &[]).await;
        assert!(matches!(refused.status().as_u16(), 403 | 404));
        let actions: Vec<String> = app.db(|conn| {
            use chorus::db::schema::audit_log;
            use diesel::prelude::*;
            Ok(audit_log::table.filter(audit_log::action.like("feed.%"))
                .order(audit_log::id).select(audit_log::action).load(conn)?)
        }).await;
        assert_eq!(actions, ["feed.added", "feed.paused", "feed.resumed"]);
    }
);

feed_test!(
    async fn two_pollers_on_one_database_read_a_feed_once_and_draft_each_item_once(app, site)
    loopback_allowed, {
        let (client, comms) = hub(&app).await;
        let (status, _) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200);
        site.state.more_items.store(3, Ordering::SeqCst);
        quarter_hour_later(&app);
        // A second Chorus on the same database, as a second `chorus serve`.
        let db = chorus::startup::open_database(&app.config).unwrap();
        let other = chorus::startup::command_app(app.config.clone(), db, app.clock.clone()).unwrap();
        let (first, second) = tokio::join!(poll_due(&app.state), poll_due(&other));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.polled + second.polled, 1, "{first:?} {second:?}");
        assert_eq!(first.drafts + second.drafts, 3);
        assert_eq!(site.hits("/rss"), 2, "read when added, then once");
        let token = app.api_token(comms, TokenKind::Personal, Scope::Read).await;
        let posts = api_posts(&app, &token).await;
        assert_eq!(
            titles(&posts),
            ["Story 1", "Story 2", "Story 3", "Story 4", "Story 5", "Without a guid"]
        );
    }
);

feed_test!(
    async fn chorus_jobs_run_once_reads_the_due_feeds(app, site)
    loopback_allowed, {
        let (client, _) = hub(&app).await;
        let (status, _) = add_feed(&app, &client, &site.url("/rss"), "15").await;
        assert_eq!(status, 200);
        site.state.more_items.store(1, Ordering::SeqCst);
        // Due by the wall clock the command reads.
        app.db(|conn| {
            use chorus::db::schema::feeds;
            use diesel::prelude::*;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
            diesel::update(feeds::table).set(feeds::next_poll_at.eq(past)).execute(conn)?;
            Ok(())
        })
        .await;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
        command
            .args(["jobs", "run-once"])
            .env_remove("CHORUS_DATABASE_URL")
            .env_remove("CHORUS_BASE_URL")
            .env("CHORUS_DATA_DIR", &app.config.data_dir)
            .env("CHORUS_ALLOW_PRIVATE_FETCH", "127.0.0.1")
            .env("CHORUS_LOG", "warn");
        if let Some(db) = &app.database {
            command.env("CHORUS_DATABASE_URL", &db.url);
        }
        // Off the test's own thread, so the site can answer meanwhile.
        let output = actix_web::rt::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(output.status.success(), "{said} {}", String::from_utf8_lossy(&output.stderr));
        assert!(said.contains("Feeds read: 1 (0 unchanged, 0 failed), 1 new draft(s)."), "{said}");
        assert_eq!(site.hits("/rss"), 2);
    }
);
