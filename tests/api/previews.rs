//! Link previews: read once on the server from pages and images a test
//! site serves on loopback, kept re-encoded, served from Chorus's own
//! origin, edited by comms, and refused (with the reason, the post kept)
//! for huge or slow pages, broken images and private addresses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chorus::config::Config;
use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::platforms::Platform;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

use crate::helpers::*;

/// Runs a test body on SQLite and on PostgreSQL, with a test site on
/// loopback and a Chorus configured by `$adjust`.
macro_rules! preview_test {
    (async fn $name:ident($app:ident, $site:ident) $adjust:expr, $body:block) => {
        $crate::backend_test!(async fn $name($app) configured_by $adjust, {
            let $site = Site::start().await;
            $body
        });
    };
}

/// Loopback only: what the tests' site needs, and nothing else private.
fn loopback_allowed(config: &mut Config) {
    config.allow_private_fetch = "127.0.0.1".into();
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

fn html(body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body.to_string())
}

const GOOD_PAGE: &str = r#"<!doctype html><html><head>
<title>Acme | Annual report</title>
<meta property="og:title" content="Our annual report 2026">
<meta property="og:description" content="Numbers, people &amp; plans for the year ahead.">
<meta property="og:image" content="/card.png">
<meta name="twitter:title" content="Not this one">
</head><body><h1>Report</h1></body></html>"#;

async fn site_page(request: HttpRequest, hits: web::Data<AtomicUsize>) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    match request.path() {
        "/good" => html(GOOD_PAGE),
        "/card.png" => HttpResponse::Ok()
            .content_type("image/png")
            .body(png(2400, 1200)),
        "/plain" => {
            html("<html><head><title>  Plain\n page   title </title></head><body>Hi</body></html>")
        }
        "/huge" => {
            // Two MB, streamed without a declared length: counted as it comes.
            let chunk = web::Bytes::from(vec![b'a'; 64 * 1024]);
            let chunks =
                std::iter::once(web::Bytes::from_static(b"<html><title>Huge</title><body>"))
                    .chain(std::iter::repeat_n(chunk, 32))
                    .map(Ok::<_, actix_web::Error>);
            HttpResponse::Ok()
                .content_type("text/html")
                .streaming(futures_util::stream::iter(chunks))
        }
        "/slow" => {
            actix_web::rt::time::sleep(Duration::from_secs(30)).await;
            html(GOOD_PAGE)
        }
        "/to-localhost" => {
            let port = request.app_config().local_addr().port();
            HttpResponse::Found()
                .insert_header(("location", format!("http://localhost:{port}/good")))
                .finish()
        }
        "/to-metadata" => HttpResponse::Found()
            .insert_header(("location", "http://169.254.169.254/latest/meta-data/"))
            .finish(),
        "/broken-image" => html(
            r#"<meta property="og:title" content="A page with a broken image">
<meta property="og:description" content="The words are fine.">
<meta property="og:image" content="/broken.jpg">"#,
        ),
        "/big-image" => html(
            r#"<meta property="og:title" content="A page with a huge image">
<meta property="og:image" content="/big.jpg">"#,
        ),
        "/big.jpg" => {
            // Six MB, streamed without a declared length.
            let chunk = web::Bytes::from(vec![0u8; 256 * 1024]);
            let chunks = std::iter::repeat_n(chunk, 24).map(Ok::<_, actix_web::Error>);
            HttpResponse::Ok()
                .content_type("image/jpeg")
                .streaming(futures_util::stream::iter(chunks))
        }
        "/loop" => HttpResponse::Found()
            .insert_header(("location", "/loop"))
            .finish(),
        "/broken.jpg" => HttpResponse::Ok()
            .content_type("image/jpeg")
            .body(&b"\xff\xd8\xff\xe0 this is not really a JPEG"[..]),
        _ => HttpResponse::NotFound().finish(),
    }
}

/// A web site on loopback that counts the requests it gets.
struct Site {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl Site {
    async fn start() -> Site {
        Site::start_on("127.0.0.1").await
    }

    async fn start_on(address: &str) -> Site {
        let hits = web::Data::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let (base, _) = loopback_site(address, 1, move |site| {
            site.app_data(counted.clone())
                .default_service(web::to(site_page));
        });
        Site {
            base,
            hits: hits.into_inner(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// X enabled, a policy, roomy hub caps, and the comms person logged in
/// on the returned client.
async fn hub(app: &TestApp) -> reqwest::Client {
    let comms = app
        .create_user("comms@example.com", "Cora Comms", "comms")
        .await;
    app.ready_organisation(comms, vec![Platform::X]).await;
    app.login_client("comms@example.com").await
}

/// Saves a new post for `link` through the composer, with the preview
/// fields given; the post's id.
async fn compose(
    app: &TestApp,
    client: &reqwest::Client,
    link: &str,
    extra: &[(&str, &str)],
) -> i64 {
    let mut fields: Vec<(&str, &str)> = extra.to_vec();
    fields.extend([
        ("title", "Report"),
        ("link", link),
        ("base_text", "Our annual report is out."),
        ("use_x", "on"),
        ("target", "all"),
        ("timezone", "UTC"),
        ("action", "save"),
    ]);
    let response = app.post_form_with(client, "/hub/posts/new", &fields).await;
    assert_eq!(response.status(), 303, "the post is saved, preview or not");
    redirected_post_id(&response)
}

async fn post_page(app: &TestApp, client: &reqwest::Client, id: i64) -> String {
    let response = app.get_with(client, &format!("/hub/posts/{id}")).await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Text as written in a page, with askama's escapes undone.
fn unescaped(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The text between `start` and the next `end` after it.
fn between<'a>(page: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = page.find(start)? + start.len();
    let to = page[from..].find(end)? + from;
    Some(&page[from..to])
}

fn preview_title(page: &str) -> String {
    between(page, "name=\"preview_title\"", ">")
        .and_then(|tag| between(tag, "value=\"", "\""))
        .map(unescaped)
        .unwrap_or_else(|| panic!("no preview title field: {page}"))
}

fn preview_description(page: &str) -> String {
    between(page, "name=\"preview_description\"", "</textarea>")
        .and_then(|rest| rest.split_once('>'))
        .map(|(_, text)| unescaped(text))
        .unwrap_or_else(|| panic!("no preview description field: {page}"))
}

/// The same-origin address of the preview image a page shows, if any.
fn image_src(page: &str) -> Option<String> {
    between(page, "src=\"/previews/", "\"").map(|name| format!("/previews/{name}"))
}

fn problem(page: &str) -> String {
    between(page, "id=\"preview-problem\">", "</p>")
        .map(unescaped)
        .unwrap_or_else(|| panic!("no fetch problem shown: {page}"))
}

preview_test!(
    async fn a_pages_open_graph_tags_give_the_title_description_and_a_reencoded_image(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/good"), &[]).await;
        let page = post_page(&app, &client, id).await;
        assert_eq!(preview_title(&page), "Our annual report 2026");
        assert_eq!(
            preview_description(&page),
            "Numbers, people & plans for the year ahead."
        );
        let src = image_src(&page).expect("the page's image is shown");
        assert!(src.ends_with(".jpg"), "{src}");
        assert!(!page.contains("src=\"http"), "no image from another origin");

        let image = new_client().get(app.url(&src)).send().await.unwrap();
        assert_eq!(image.status(), 200);
        assert_eq!(image.headers()["content-type"], "image/jpeg");
        assert_eq!(
            image.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let bytes = image.bytes().await.unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (1200, 600),
            "scaled to 1200 pixels wide"
        );
        assert_eq!(site.hits(), 2, "the page and its image, each read once");

        // Saving again with the same link reads nothing again and keeps
        // the text comms changed.
        let token = app.csrf_token_with(&client, &format!("/hub/posts/{id}")).await;
        let response = client
            .post(app.url(&format!("/hub/posts/{id}")))
            .form(&[
                ("csrf_token", token.as_str()),
                ("title", "Report"),
                ("link", &site.url("/good")),
                ("base_text", "Our annual report is out."),
                ("use_x", "on"),
                ("target", "all"),
                ("timezone", "UTC"),
                ("preview_title", "The report, in our words"),
                ("preview_description", "Numbers, people & plans for the year ahead."),
                ("action", "save"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let page = post_page(&app, &client, id).await;
        assert_eq!(preview_title(&page), "The report, in our words");
        assert_eq!(image_src(&page).as_deref(), Some(src.as_str()));
        assert_eq!(site.hits(), 2, "the link was not read again");
    }
);

preview_test!(
    async fn a_page_without_tags_gives_its_title_element_and_no_image(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/plain"), &[]).await;
        let page = post_page(&app, &client, id).await;
        assert_eq!(preview_title(&page), "Plain page title");
        assert_eq!(preview_description(&page), "");
        assert_eq!(image_src(&page), None);
        assert!(!page.contains("id=\"preview-problem\""), "no problem: {page}");
    }
);

preview_test!(
    async fn a_page_over_one_megabyte_is_refused_and_the_post_kept(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/huge"), &[("preview_title", "Typed by comms")]).await;
        let page = post_page(&app, &client, id).await;
        let said = problem(&page);
        assert!(said.contains("larger than 1 MB"), "{said}");
        assert_eq!(preview_title(&page), "Typed by comms", "the typed text stays");
        assert!(page.contains(&site.url("/huge")), "the post keeps its link");
    }
);

preview_test!(
    async fn a_page_that_does_not_answer_in_time_is_given_up_and_the_typed_text_kept(app, site)
    |config: &mut Config| {
        loopback_allowed(config);
        config.fetch_timeout_seconds = 1;
    }, {
        let client = hub(&app).await;
        let fields = [
            ("preview_title", "Written while the page was slow"),
            ("preview_description", "Still here"),
        ];
        let id = compose(&app, &client, &site.url("/slow"), &fields).await;
        let page = post_page(&app, &client, id).await;
        let said = problem(&page);
        assert!(said.contains("did not answer in time"), "{said}");
        assert_eq!(preview_title(&page), "Written while the page was slow");
        assert_eq!(preview_description(&page), "Still here");
    }
);

preview_test!(
    async fn a_redirect_to_a_private_address_is_refused_after_the_first_hop(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/to-metadata"), &[]).await;
        let page = post_page(&app, &client, id).await;
        let said = problem(&page);
        assert!(said.contains("169.254.169.254"), "{said}");
        assert!(said.contains("private or local network"), "{said}");
        assert_eq!(site.hits(), 1, "only the redirecting page was read");
    }
);

preview_test!(
    async fn without_the_allowance_a_loopback_address_is_never_contacted(app, site)
    |_config: &mut Config| {}, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/good"), &[]).await;
        let page = post_page(&app, &client, id).await;
        let said = problem(&page);
        assert!(said.contains("private or local network (127.0.0.1)"), "{said}");
        let id = compose(&app, &client, &site.url("/good").replace("127.0.0.1", "127.1"), &[]).await;
        let page = post_page(&app, &client, id).await;
        assert!(problem(&page).contains("(127.0.0.1)"), "another spelling of it");
        assert_eq!(site.hits(), 0, "Chorus never connected to the site");
    }
);

#[actix_web::test]
async fn a_name_is_checked_after_dns_resolution_even_behind_a_redirect() {
    // The site is on 127.0.0.2, the one private address allowed; it
    // redirects to `localhost`, which DNS resolves to 127.0.0.1.
    let site = Site::start_on("127.0.0.2").await;
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.allow_private_fetch = "127.0.0.2".into();
    })
    .await;
    let client = hub(&app).await;
    let id = compose(&app, &client, &site.url("/to-localhost"), &[]).await;
    let page = post_page(&app, &client, id).await;
    let said = problem(&page);
    assert!(
        said.contains("localhost is at an address in a private or local network (127.0.0.1)"),
        "{said}"
    );
    assert_eq!(site.hits(), 1, "only the redirecting page was read");
}

preview_test!(
    async fn a_missing_page_and_a_link_to_something_else_than_html_say_so(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/gone"), &[]).await;
        let said = problem(&post_page(&app, &client, id).await);
        assert!(said.contains("answered with HTTP status 404"), "{said}");
        let id = compose(&app, &client, &site.url("/card.png"), &[]).await;
        let said = problem(&post_page(&app, &client, id).await);
        assert!(said.contains("gives image/png, not an HTML page"), "{said}");
    }
);

preview_test!(
    async fn an_image_over_five_megabytes_and_a_redirect_loop_are_refused_with_the_reason(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/big-image"), &[]).await;
        let page = post_page(&app, &client, id).await;
        assert_eq!(preview_title(&page), "A page with a huge image");
        let said = problem(&page);
        assert!(said.contains("the image is larger than 5 MB"), "{said}");
        let id = compose(&app, &client, &site.url("/loop"), &[]).await;
        let said = problem(&post_page(&app, &client, id).await);
        assert!(said.contains("redirects more than 5 times"), "{said}");
    }
);

preview_test!(
    async fn a_broken_image_keeps_the_pages_text_and_says_why(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/broken-image"), &[]).await;
        let page = post_page(&app, &client, id).await;
        assert_eq!(preview_title(&page), "A page with a broken image");
        assert_eq!(preview_description(&page), "The words are fine.");
        assert_eq!(image_src(&page), None);
        let said = problem(&page);
        assert!(said.contains("its image could not be used"), "{said}");
        assert!(said.contains("could not be read"), "{said}");
    }
);

/// A multipart upload of `bytes` as the preview image of post `id`.
async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let token = app
        .csrf_token_with(client, &format!("/hub/posts/{id}"))
        .await;
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", token)
        .part(
            "image",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
        );
    client
        .post(app.url(&format!("/hub/posts/{id}/preview/image")))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

preview_test!(
    async fn comms_upload_their_own_image_and_other_files_are_refused_with_the_reason(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/plain"), &[]).await;
        let response = upload(&app, &client, id, "notes.txt", b"just some text".to_vec()).await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains("not an image Chorus can read"), "{page}");
        assert_eq!(preview_title(&page), "Plain page title", "the page is shown again");

        let response = upload(&app, &client, id, "team.png", png(300, 200)).await;
        assert_eq!(response.status(), 303);
        let page = post_page(&app, &client, id).await;
        let src = image_src(&page).expect("the uploaded image is shown");
        let served = new_client().get(app.url(&src)).send().await.unwrap();
        assert_eq!(served.headers()["content-type"], "image/jpeg", "re-encoded");
        let decoded = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (300, 200));
    }
);

async fn agree(app: &TestApp, user_id: i64, platform: Platform) {
    app.agree(user_id, platform, None).await;
}

preview_test!(
    async fn the_queue_card_shows_the_preview_with_its_image_from_chorus_only(app, site)
    loopback_allowed, {
        let client = hub(&app).await;
        let id = compose(&app, &client, &site.url("/good"), &[]).await;
        let token = app.csrf_token_with(&client, &format!("/hub/posts/{id}")).await;
        let response = client
            .post(app.url(&format!("/hub/posts/{id}/schedule")))
            .form(&[("csrf_token", token.as_str()), ("now", "1"), ("timezone", "UTC")])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&response), format!("/hub/posts/{id}?done=published"));
        let src = image_src(&post_page(&app, &client, id).await).unwrap();

        let erin = app.create_user("erin@example.com", "Erin", "employee").await;
        agree(&app, erin, Platform::X).await;
        let employee = app.login_client("erin@example.com").await;
        let queue = app.get_with(&employee, "/queue").await.text().await.unwrap();
        assert!(queue.contains("Our annual report 2026"), "{queue}");
        assert!(unescaped(&queue).contains("Numbers, people & plans for the year ahead."));
        assert!(queue.contains(&format!("src=\"{src}\"")), "{queue}");
        let sources: Vec<&str> = queue.split("src=\"").skip(1).collect();
        assert!(!sources.is_empty());
        for source in sources {
            assert!(source.starts_with('/'), "same-origin only: {source}");
        }
        let image = app.get_with(&employee, &src).await;
        assert!(image.headers()["cache-control"].to_str().unwrap().contains("immutable"));

        let token = app
            .api_token(erin, TokenKind::Personal, Scope::Read)
            .await;
        let listed = body_text(new_client().get(app.url("/api/v1/queue")).bearer_auth(token)).await;
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let card = &listed["posts"][0]["preview"];
        assert_eq!(card["title"], "Our annual report 2026", "{listed}");
        assert_eq!(card["image_url"], src.as_str());
    }
);

preview_test!(
    async fn the_api_reads_the_link_of_a_new_post_and_keeps_preview_text_sent(app, site)
    loopback_allowed, {
        hub(&app).await;
        let cora = app.create_user("cora@example.com", "Cora", "comms").await;
        let token = app
            .api_token(cora, TokenKind::Personal, Scope::ReadWrite)
            .await;
        let call = |method: reqwest::Method, path: String, body: Value| {
            let request = new_client()
                .request(method, app.url(&path))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_string());
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                (status, serde_json::from_str::<Value>(&text).unwrap())
            }
        };
        let body = json!({
            "title": "Report",
            "link": site.url("/good"),
            "platforms": [{"platform": "x", "variants": ["Our report"]}],
        });
        let (status, post) = call(reqwest::Method::POST, "/api/v1/posts".into(), body).await;
        assert_eq!(status, 201, "{post}");
        assert_eq!(post["preview"]["title"], "Our annual report 2026");
        let image_url = post["preview"]["image_url"].as_str().unwrap();
        assert!(image_url.starts_with("/previews/"), "{image_url}");
        let id = post["id"].as_i64().unwrap();

        let long = json!({
            "title": "Report",
            "link": site.url("/good"),
            "platforms": [{"platform": "x"}],
            "preview": {"title": "x".repeat(201)},
        });
        let (status, refused) = call(reqwest::Method::PUT, format!("/api/v1/posts/{id}"), long).await;
        assert_eq!(status, 422, "{refused}");
        assert!(refused["error"]["fields"]["preview"].is_string(), "{refused}");

        let edited = json!({
            "title": "Report",
            "link": site.url("/good"),
            "platforms": [{"platform": "x"}],
            "preview": {"title": "Ours", "description": "Our words"},
        });
        let (status, post) = call(reqwest::Method::PUT, format!("/api/v1/posts/{id}"), edited).await;
        assert_eq!(status, 200, "{post}");
        assert_eq!(post["preview"]["title"], "Ours");
        assert_eq!(post["preview"]["image_url"], image_url, "the image stays");
        assert_eq!(site.hits(), 2, "read once");
    }
);
