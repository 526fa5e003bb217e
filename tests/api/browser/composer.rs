//! The hub's composer in a real browser: the counts beside each caption
//! follow the typing, counted by the server (POST /hub/posts/preview-counts)
//! with each platform's own rules; the script only places the answer.

use super::*;

/// The number in a caption's count ("Variant 1: 57 of 280 …"), once it
/// is `expected`; panics with what it showed after a while.
async fn count_becomes(browser: &Browser, field: &str, expected: usize) -> String {
    let started = Instant::now();
    let mut seen = String::new();
    while started.elapsed() < PATIENCE {
        seen = browser
            .find(Locator::Id(&format!("{field}-count")))
            .await
            .expect("the count beside the field")
            .text()
            .await
            .unwrap_or_default();
        let number = seen
            .strip_prefix("Variant 1: ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok());
        if number == Some(expected) {
            return seen;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the count of {field} never read {expected}; it reads {seen:?}");
}

fn number_in(sentence: &str) -> usize {
    sentence
        .strip_prefix("Variant 1: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {sentence:?}"))
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn typing_a_caption_updates_its_count_live_with_the_servers_counting() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("casey@example.com", "Casey Comms", "comms")
        .await;
    let browser = Browser::start(Scripts::On).await;
    browser.log_in(&app, "casey@example.com", PASSWORD).await;
    browser.goto(&app.url("/hub/posts/new")).await.unwrap();
    browser.expect_heading("Write a post").await;

    // The page asks for the counts once it has loaded.
    let started = Instant::now();
    let first = loop {
        let text = browser
            .find(Locator::Id("caption_x_1-count"))
            .await
            .expect("a count beside X's caption")
            .text()
            .await
            .unwrap_or_default();
        if !text.is_empty() {
            break number_in(&text);
        }
        assert!(started.elapsed() < PATIENCE, "no count came");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };

    let caption = browser
        .find(Locator::Id("caption_x_1"))
        .await
        .expect("X's first caption");
    caption.send_keys("Go").await.expect("typing");
    count_becomes(&browser, "caption_x_1", first + 3).await;

    // X weighs any link 23 (twitter-text), however long it is written.
    caption
        .send_keys(" https://example.com/a/very/long/path/that/is/much/longer/than/twenty-three")
        .await
        .expect("typing a link");
    count_becomes(&browser, "caption_x_1", first + 3 + 24).await;

    // And an emoji 2. ChromeDriver types only the Basic Multilingual
    // Plane, so the emoji arrives as a paste would: the value, then input.
    browser
        .execute(
            "const f = document.getElementById('caption_x_1'); f.value += ' \u{1F680}'; \
             f.dispatchEvent(new Event('input', { bubbles: true }));",
            vec![],
        )
        .await
        .expect("pasting an emoji");
    let live = count_becomes(&browser, "caption_x_1", first + 3 + 24 + 3).await;

    // Preview, which counts without any script, says the very same.
    browser.click_button("Preview").await;
    browser.expect_heading("Write a post").await;
    let page = browser.source().await.expect("the page");
    assert!(page.contains(&live), "Preview shows {live:?}");
    browser.close().await;
}
