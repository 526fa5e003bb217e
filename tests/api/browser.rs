//! A real browser (Debian's chromium + chromium-driver over WebDriver).
//!
//! Each test starts a real Chorus on SQLite, its own chromedriver on a free
//! loopback port and a headless Chromium with a fresh profile, then does what
//! a person does: types into fields found by their labels, clicks buttons
//! and links, and reads what the page shows. The tests are listed as ignored
//! unless CHORUS_TEST_BROWSER was set when they were built.

use std::net::TcpListener;
use std::ops::Deref;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what a step expects.
const PATIENCE: Duration = Duration::from_secs(15);

/// What the login form says for a wrong password (src/web/auth.rs).
const LOGIN_REFUSED: &str = "That email and password do not match an active account.";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scripts {
    On,
    Off,
}

// ---- chromedriver and Chromium ---------------------------------------------

/// A chromedriver process (and, through it, Chromium) in a process group of
/// its own, and the temp dir holding the browser profile and the driver log.
/// Dropping it, panic or not, ends the whole group and removes the dir.
struct Driver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install Debian's chromium and chromium-driver"
            );
        }
        // A port taken between asking and binding makes chromedriver exit:
        // then try another.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir for the browser");
            let port = free_port();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.path().join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Chromium inherits the group, so one signal ends both.
                .process_group(0)
                .spawn()
                .expect("chromedriver starts");
            let mut driver = Driver { child, port, dir };
            if driver.wait_until_ready().await {
                return driver;
            }
            eprintln!("chromedriver on port {port} did not get ready");
            driver.print_log_tail();
        }
        panic!("chromedriver did not start (three tries)");
    }

    /// Polls `/status` until chromedriver says it is ready, or it exits.
    async fn wait_until_ready(&mut self) -> bool {
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(response) = http.get(&url).send().await {
                let body = response.text().await.unwrap_or_default();
                let status: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if status["value"]["ready"] == json!(true) {
                    // Still ours? (Not another driver on a reused port.)
                    return matches!(self.child.try_wait(), Ok(None));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM to the group (chromedriver and every Chromium process), wait
    /// until they are gone, SIGKILL whatever is left after a few seconds.
    fn stop(&mut self) {
        let group = self.child.id();
        signal_group(group, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let _ = self.child.try_wait(); // reap chromedriver itself
            if !group_alive(group) {
                break;
            }
            if Instant::now() > deadline {
                signal_group(group, "KILL");
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // chromedriver has exited by now; this only reaps it.
        let _ = self.child.wait();
    }

    fn print_log_tail(&self) {
        let log =
            std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("---- last lines of the chromedriver log ----");
        for line in &lines[lines.len().saturating_sub(30)..] {
            eprintln!("{}", line.chars().take(300).collect::<String>());
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_log_tail();
        }
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `kill -SIGNAL -GROUP` through the shell's builtin (std has no killpg).
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -{signal} -{group}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether a live (not zombie) process is left in the process group.
fn group_alive(group: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            return false;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parens.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == group.to_string()
    })
}

/// How the browser shows pages: the colour scheme it asks for and the width
/// of its window (CSS pixels).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Look {
    dark: bool,
    width: u32,
}

impl Look {
    const DESKTOP: Look = Look {
        dark: false,
        width: 1280,
    };
    /// A dark colour scheme on the narrowest phone WCAG 1.4.10 (Reflow) names.
    const DARK_PHONE: Look = Look {
        dark: true,
        width: 320,
    };
}

/// A WebDriver session on a headless Chromium of its own.
struct Browser {
    client: Client,
    _driver: Driver,
}

impl Browser {
    async fn start(scripts: Scripts) -> Browser {
        Browser::start_with(scripts, Look::DESKTOP).await
    }

    async fn start_with(scripts: Scripts, look: Look) -> Browser {
        let driver = Driver::start().await;
        let profile = driver.dir.path().join("profile");
        let mut options = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                // Small /dev/shm in containers crashes tabs; /tmp is fine.
                "--disable-dev-shm-usage",
                format!("--window-size={},900", look.width),
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if look.width < 500 {
            // Headless Chromium's windows are at least 500 px wide; below
            // that the viewport is emulated, as DevTools' device mode does.
            // Not as "mobile": a phone browser zooms out a page that is too
            // wide, which would hide the sideways scrolling tested for.
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": look.width, "height": 640, "pixelRatio": 1.0, "mobile": false, "touch": false },
            });
        }
        if look.dark {
            // What the operating system's dark setting does: the page's
            // `prefers-color-scheme: dark` matches (Blink's enum: 0 = dark).
            if let Some(args) = options["args"].as_array_mut() {
                args.push(json!("--blink-settings=preferredColorScheme=0"));
                args.push(json!("--force-dark-mode"));
            }
        }
        if scripts == Scripts::Off {
            // The same switch as "Don't allow sites to use JavaScript".
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // axe-core takes a few seconds on the longest pages.
            "timeouts": { "pageLoad": 20_000, "script": 60_000, "implicit": 0 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // Plain HTTP to chromedriver on loopback: no TLS needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .expect("chromedriver opens a Chromium session");
        Browser {
            client,
            _driver: driver,
        }
    }

    /// Quits Chromium through WebDriver; the driver guard then ends chromedriver.
    async fn close(self) {
        let Browser { client, _driver } = self;
        client.close().await.expect("the browser session closes");
    }

    /// Whether this browser runs page scripts. The probe is a `data:` page
    /// with no Content-Security-Policy (Chorus pages forbid inline scripts
    /// anyway): its inline script rewrites the paragraph unless JavaScript
    /// is off. (WebDriver's own script command would not tell: chromedriver
    /// runs it through DevTools even with JavaScript off.)
    async fn runs_page_scripts(&self) -> bool {
        let probe = "data:text/html,<title>probe</title><p id=probe>scripts%20are%20off</p>\
                     <script>document.getElementById('probe').textContent='scripts%20ran'</script>";
        self.goto(probe).await.expect("the probe page opens");
        let text = self
            .find(Locator::Css("#probe"))
            .await
            .expect("the probe paragraph")
            .text()
            .await
            .expect("its text");
        match text.trim() {
            "scripts ran" => true,
            "scripts are off" => false,
            other => panic!("the script probe shows {other:?}"),
        }
    }

    async fn path(&self) -> String {
        self.current_url()
            .await
            .expect("the current URL")
            .path()
            .to_string()
    }

    /// The text of the page's `<h1>`, once it is `expected` (or panics
    /// with what the page shows instead).
    async fn expect_heading(&self, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = String::new();
        while Instant::now() < deadline {
            if let Ok(h1) = self.find(Locator::Css("h1")).await {
                seen = h1.text().await.unwrap_or_default();
                if seen.trim() == expected {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = self
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|e| format!("(unknown: {e})"));
        panic!("expected the heading {expected:?}, the page at {url} shows {seen:?}");
    }

    /// The input a visible `<label>` with this text points to.
    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//input[@id=(//label[normalize-space()='{label}']/@for)]");
        self.find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no field labelled {label:?}: {e}"))
    }

    /// Clicks the first of the elements `xpath` finds that is shown (the
    /// navigation is in the page twice: in the header and in the phone menu;
    /// on a phone the menu is opened first).
    async fn click(&self, what: &str, xpath: &str) {
        let found = self
            .find_all(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("no {what} on the page: {e}"));
        for element in &found {
            if element.is_displayed().await.unwrap_or(false) {
                return element
                    .click()
                    .await
                    .unwrap_or_else(|e| panic!("clicking {what} fails: {e}"));
            }
        }
        if let Ok(menu) = self
            .find(Locator::Css("details.menu:not([open]) > summary"))
            .await
            && menu.is_displayed().await.unwrap_or(false)
        {
            menu.click().await.expect("the phone menu opens");
            return Box::pin(self.click(what, xpath)).await;
        }
        panic!(
            "no {what} is shown on the page ({} found hidden)",
            found.len()
        );
    }

    async fn click_button(&self, text: &str) {
        self.click(
            &format!("button {text:?}"),
            &format!("//button[normalize-space()='{text}']"),
        )
        .await;
    }

    /// Opens the login page, types the email and password, clicks "Log in"
    /// and waits for the page the form answers with (the start page, or
    /// the form again with its error), so that the next step never races
    /// the login's own navigation.
    async fn log_in(&self, app: &TestApp, email: &str, password: &str) {
        self.goto(&app.url("/login"))
            .await
            .expect("the login page opens");
        self.expect_heading("Log in").await;
        self.field("Email address")
            .await
            .send_keys(email)
            .await
            .expect("typing the email");
        let password_field = self.field("Password").await;
        password_field
            .send_keys(password)
            .await
            .expect("typing the password");
        self.click_button("Log in").await;
        // The field belongs to the page that was submitted: once the
        // browser has swapped that page for the answer, it is gone.
        let deadline = Instant::now() + PATIENCE;
        while password_field.is_displayed().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "the login form was never answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

// ---- the tests ---------------------------------------------------------------

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn an_admin_logs_in_opens_people_and_logs_out() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("ada@example.com", "Ada Lovelace", "admin")
        .await;
    app.create_user("grace@example.com", "Grace Hopper", "employee")
        .await;
    let browser = Browser::start(Scripts::On).await;
    assert!(
        browser.runs_page_scripts().await,
        "a default browser runs page scripts (the probe's control case)"
    );

    browser.log_in(&app, "ada@example.com", PASSWORD).await;
    browser.expect_heading("Welcome, Ada Lovelace").await;
    assert_eq!(browser.path().await, "/", "login lands on the start page");

    browser
        .click(
            "the Admin link in the main navigation",
            "//nav[@aria-label='Main']//a[normalize-space()='Admin']",
        )
        .await;
    browser.expect_heading("People").await;
    browser
        .click(
            "the Settings tab of the administration pages",
            "//nav[@aria-label='Administration']//a[normalize-space()='Settings']",
        )
        .await;
    assert_eq!(browser.path().await, "/admin/settings");
    browser
        .click(
            "the People tab of the administration pages",
            "//nav[@aria-label='Administration']//a[normalize-space()='People']",
        )
        .await;
    browser.expect_heading("People").await;
    assert_eq!(browser.path().await, "/admin/people");
    for (email, name) in [
        ("ada@example.com", "Ada Lovelace"),
        ("grace@example.com", "Grace Hopper"),
    ] {
        let row = browser
            .find(Locator::XPath(&format!(
                "//table//tr[td[normalize-space()='{email}']]"
            )))
            .await
            .unwrap_or_else(|_| panic!("the People table lists {email}"));
        let text = row.text().await.expect("row text");
        assert!(
            text.contains(name),
            "the row of {email} names {name}: {text:?}"
        );
        assert!(text.contains("Active"), "{email} shows as active: {text:?}");
    }

    browser.click_button("Log out").await;
    browser.expect_heading("Log in").await;
    assert_eq!(
        browser.path().await,
        "/login",
        "logging out shows the login page"
    );
    // The session is really over: the start page asks to log in again.
    browser
        .goto(&app.url("/"))
        .await
        .expect("the start page opens");
    browser.expect_heading("Log in").await;
    assert_eq!(browser.path().await, "/login");

    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn on_a_phone_the_menu_opens_without_scripts_and_marks_the_page_you_are_on() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("grace@example.com", "Grace Hopper", "employee")
        .await;
    let phone = Look {
        dark: false,
        width: 375,
    };
    let browser = Browser::start_with(Scripts::Off, phone).await;
    browser.log_in(&app, "grace@example.com", PASSWORD).await;
    browser.expect_heading("Welcome, Grace Hopper").await;
    let choices = "//details//nav[@aria-label='Main']//a[normalize-space()='Sharing choices']";
    let header = "//div[@class='header-items']//a[normalize-space()='Sharing choices']";
    let wide = browser
        .find(Locator::XPath(header))
        .await
        .expect("the header's links");
    assert!(
        !wide.is_displayed().await.expect("visibility"),
        "on a phone the header does not hold the links"
    );
    let link = browser
        .find(Locator::XPath(choices))
        .await
        .expect("the navigation is on the page");
    assert!(
        !link.is_displayed().await.expect("visibility"),
        "on a phone the links wait behind the menu button"
    );
    let menu = browser
        .find(Locator::XPath("//summary[normalize-space()='Menu']"))
        .await
        .expect("a Menu button");
    let (_, _, width, height) = menu.rectangle().await.expect("the button's size");
    assert!(
        width >= 44.0 && height >= 44.0,
        "the Menu button is a 44 px tap target: {width}×{height}"
    );
    menu.click().await.expect("the menu opens without scripts");
    let link = browser.find(Locator::XPath(choices)).await.expect("link");
    assert!(
        link.is_displayed().await.expect("visibility"),
        "the menu shows its links"
    );
    let (_, _, _, height) = link.rectangle().await.expect("the link's size");
    assert!(height >= 44.0, "each link is a 44 px tap target: {height}");
    link.click().await.expect("the link opens");
    browser.expect_heading("Your sharing choices").await;
    let current = browser
        .find(Locator::XPath(
            "//nav[@aria-label='Main']//a[@aria-current='page']",
        ))
        .await
        .expect("the page you are on is marked");
    assert_eq!(
        current.attr("href").await.expect("href").as_deref(),
        Some("/me/consent")
    );
    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn the_login_form_works_with_javascript_off() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("grace@example.com", "Grace Hopper", "employee")
        .await;
    let browser = Browser::start(Scripts::Off).await;
    assert!(
        !browser.runs_page_scripts().await,
        "JavaScript must really be off in this browser"
    );

    browser.log_in(&app, "grace@example.com", PASSWORD).await;
    browser.expect_heading("Welcome, Grace Hopper").await;
    assert_eq!(browser.path().await, "/", "login lands on the start page");
    let who = browser
        .find(Locator::Css("header .who"))
        .await
        .expect("the header names who is logged in")
        .text()
        .await
        .expect("its text");
    assert_eq!(who.trim(), "Grace Hopper");

    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn a_wrong_password_shows_the_error_and_keeps_the_email() {
    let app = spawn_app(Backend::Sqlite).await;
    app.create_user("ada@example.com", "Ada Lovelace", "admin")
        .await;
    let browser = Browser::start(Scripts::On).await;

    browser
        .log_in(&app, "ada@example.com", "not the right password at all")
        .await;
    let error = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#login-error"))
        .await
        .expect("the login page shows an error");
    assert_eq!(
        error.text().await.expect("error text").trim(),
        LOGIN_REFUSED
    );
    browser.expect_heading("Log in").await;
    assert_eq!(browser.path().await, "/login", "still on the login page");
    let email = browser.field("Email address").await;
    assert_eq!(
        email.prop("value").await.expect("email value").as_deref(),
        Some("ada@example.com"),
        "the email is kept"
    );
    let password = browser.field("Password").await;
    assert_eq!(
        password
            .prop("value")
            .await
            .expect("password value")
            .as_deref(),
        Some(""),
        "the wrong password is not sent back"
    );

    // Typing the right password into the same form then works.
    password
        .send_keys(PASSWORD)
        .await
        .expect("typing the password");
    browser.click_button("Log in").await;
    browser.expect_heading("Welcome, Ada Lovelace").await;

    browser.close().await;
}
mod accessibility;
mod composer;
mod emails;
mod queue;
