//! The queue card in a real browser: the share loop (a popup with script,
//! a new tab without, the queue left in place), the text copied for a
//! dialog that takes only the link, Undo from the card, the Done list.

use chorus::domain::platforms::Platform;
use chorus::store::{self, posts};

use super::*;

const ANN: &str = "ann@example.com";
const CAPTION: &str = "Our report is out";

/// An organisation on LinkedIn and X, Ann who said yes to both, and two
/// posts for everyone (the newest first): (ann, older, newer).
async fn organisation(app: &TestApp) -> (i64, i64, i64) {
    let hub = app
        .create_user("hub@example.com", "Hub", "comms,admin")
        .await;
    app.ready_organisation(hub, vec![Platform::LinkedIn, Platform::X])
        .await;
    let ann = app.create_user(ANN, "Ann", "employee").await;
    for platform in [Platform::LinkedIn, Platform::X] {
        app.agree(ann, platform, None).await;
    }
    let mut ids = Vec::new();
    for n in 0..2 {
        let now = app.clock.now_naive() + chrono::Duration::seconds(n);
        let input = posts::PostInput {
            title: format!("Report {n}"),
            link: format!("https://example.com/news/report-{n}"),
            base_text: CAPTION.into(),
            captions: [Platform::LinkedIn, Platform::X]
                .into_iter()
                .map(|p| (p, vec![CAPTION.to_string()]))
                .collect(),
            target_all: true,
            department_ids: Vec::new(),
            expires_at: None,
        };
        ids.push(
            app.db(move |conn| {
                let id = posts::create_draft(conn, &input, hub, now)?;
                posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
                Ok(id)
            })
            .await,
        );
    }
    (ann, ids[0], ids[1])
}

async fn shares_of(app: &TestApp, person: i64) -> usize {
    app.db(move |conn| store::shares::history(conn, person))
        .await
        .len()
}

/// The text of the element `css` finds, once `wanted` says yes to it.
async fn text_once(browser: &Browser, css: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            seen = element.text().await.unwrap_or_default();
            if wanted(&seen) {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never read as wanted; it read {seen:?}");
}

async fn windows_once(browser: &Browser, count: usize) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if browser.windows().await.map(|w| w.len()).unwrap_or(0) == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never {count} windows");
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn share_opens_a_popup_copies_the_text_and_the_card_offers_undo_in_the_queue_left_in_place() {
    let app = spawn_app(Backend::Sqlite).await;
    let (ann, _, post) = organisation(&app).await;
    let browser = Browser::start(Scripts::On).await;
    browser.log_in(&app, ANN, PASSWORD).await;
    browser.goto(&app.url("/queue")).await.unwrap();
    browser.expect_heading("Your queue").await;
    let queue = browser.window().await.unwrap();
    // The page's clipboard is swapped for a recorder (headless Chromium
    // has no clipboard to read back); chorus.js looks it up at each click.
    browser
        .execute(
            "window.copied = []; \
             navigator.clipboard.writeText = (text) => { window.copied.push(text); return Promise.resolve(); };",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find(Locator::Css(&format!(
            "button[formaction=\"/queue/{post}/share/linkedin\"]"
        )))
        .await
        .expect("the LinkedIn button")
        .click()
        .await
        .unwrap();

    // The dialog opens in a window of its own; the queue stays as it was.
    windows_once(&browser, 2).await;
    assert_eq!(browser.window().await.unwrap(), queue);
    assert_eq!(browser.path().await, "/queue");
    browser.expect_heading("Your queue").await;
    let notice = text_once(&browser, "#share-status", |t| !t.is_empty()).await;
    assert_eq!(notice, "Text copied: paste it into LinkedIn.");
    let copied = browser
        .execute("return window.copied;", vec![])
        .await
        .unwrap();
    assert_eq!(
        copied,
        json!([format!(
            "I work at Acme. {CAPTION}\nhttps://example.com/news/report-1\
             ?utm_source=linkedin&utm_medium=employee_advocacy&utm_campaign=report-1"
        )]),
        "the suggested text with the disclosure, then the link as shared on LinkedIn"
    );

    // The card then reads what Chorus recorded, with Undo.
    let card = format!("#post-{post} .platforms");
    let shared = text_once(&browser, &card, |t| t.contains("Shared on LinkedIn ✓")).await;
    assert!(shared.contains("Undo"), "{shared}");
    assert_eq!(shares_of(&app, ann).await, 1);
    browser
        .find(Locator::Css(&format!(
            "button[formaction=\"/queue/{post}/undo/linkedin\"]"
        )))
        .await
        .expect("Undo on the card")
        .click()
        .await
        .unwrap();
    let undone = text_once(&browser, "main .notice", |t| t.starts_with("Undone")).await;
    assert_eq!(
        undone,
        "Undone: your share on LinkedIn no longer counts toward your limits."
    );
    assert_eq!(shares_of(&app, ann).await, 0, "the share is taken back");
    text_once(&browser, &card, |t| t.contains("LinkedIn")).await;
    let again = browser
        .execute(
            "return document.querySelector(arguments[0]).textContent;",
            vec![json!(format!(
                "button[formaction=\"/queue/{post}/share/linkedin\"]"
            ))],
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        json!("Share on LinkedIn · 3 left today, 10 this week"),
        "the card offers LinkedIn again, the cap given back"
    );
    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn without_scripts_share_opens_a_new_tab_and_the_text_to_paste_is_shown() {
    let app = spawn_app(Backend::Sqlite).await;
    let (ann, _, post) = organisation(&app).await;
    let browser = Browser::start(Scripts::Off).await;
    assert!(!browser.runs_page_scripts().await);
    browser.log_in(&app, ANN, PASSWORD).await;
    browser.goto(&app.url("/queue")).await.unwrap();
    browser.expect_heading("Your queue").await;
    // The text to paste into LinkedIn, under "Text for LinkedIn".
    browser
        .find(Locator::XPath(&format!(
            "//article[@id='post-{post}']//summary[normalize-space()='Text for LinkedIn']"
        )))
        .await
        .expect("Text for LinkedIn")
        .click()
        .await
        .unwrap();
    let text = text_once(&browser, &format!("#copy-{post}-linkedin"), |t| {
        !t.is_empty()
    })
    .await;
    assert!(
        text.starts_with(&format!(
            "I work at Acme. {CAPTION}\nhttps://example.com/news/report-1?utm_source=linkedin"
        )),
        "{text}"
    );
    let queue = browser.window().await.unwrap();
    browser
        .find(Locator::Css(&format!(
            "button[formaction=\"/queue/{post}/share/x\"]"
        )))
        .await
        .expect("the X button")
        .click()
        .await
        .unwrap();
    windows_once(&browser, 2).await;
    assert_eq!(browser.window().await.unwrap(), queue);
    assert_eq!(browser.path().await, "/queue", "the queue stays in its tab");
    let deadline = Instant::now() + PATIENCE;
    while shares_of(&app, ann).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shares_of(&app, ann).await, 1, "the share was recorded");
    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn the_done_list_collects_what_was_shared_and_skipped_and_undoes_a_skip() {
    let app = spawn_app(Backend::Sqlite).await;
    let (ann, older, newer) = organisation(&app).await;
    let now = app.clock.now_naive();
    app.db(move |conn| {
        for platform in [Platform::LinkedIn, Platform::X] {
            store::shares::record(conn, ann, newer, platform, 0, false, now)?;
        }
        Ok(())
    })
    .await;
    let browser = Browser::start(Scripts::Off).await;
    browser.log_in(&app, ANN, PASSWORD).await;
    browser.goto(&app.url("/queue")).await.unwrap();
    browser.expect_heading("Your queue").await;
    browser
        .find(Locator::Css(&format!(
            "button[formaction=\"/queue/{older}/dismiss\"]"
        )))
        .await
        .expect("Not for me")
        .click()
        .await
        .unwrap();
    text_once(&browser, "main .notice", |t| {
        t.starts_with("Hidden from your queue")
    })
    .await;
    // Past the Undo window of the shares: both posts are done.
    app.clock.advance(chrono::Duration::minutes(11));
    browser.goto(&app.url("/queue")).await.unwrap();
    let done = text_once(&browser, "section.done", |t| t.contains("Skipped")).await;
    let at = now.format("%a %d %b, %H:%M").to_string();
    assert!(
        done.contains(&format!("Shared on LinkedIn ✓ · {at}")),
        "{done}"
    );
    assert!(done.contains(&format!("Shared on X ✓ · {at}")), "{done}");
    assert!(
        done.contains("Report 1") || done.contains("example.com"),
        "{done}"
    );
    assert!(
        browser.find(Locator::Css("article.card")).await.is_err(),
        "no post left open"
    );
    browser
        .find(Locator::Css(&format!(
            "section.done button[formaction=\"/queue/{older}/restore\"]"
        )))
        .await
        .expect("Undo of the skip")
        .click()
        .await
        .unwrap();
    text_once(&browser, &format!("#post-{older} h2"), |t| !t.is_empty()).await;
    browser.close().await;
}
