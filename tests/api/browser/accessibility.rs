//! WCAG 2.1 AA in the real browser: axe-core audits every page for every
//! role, once on a desktop in the light scheme and once on a 320 px phone in
//! the dark scheme (where every page must also fit without sideways
//! scrolling), and a keyboard alone goes from login to a share.
//!
//! axe-core comes from npm: `npm ci --prefix tests/a11y` (see docs/accessibility.md).

use std::collections::BTreeSet;

use chorus::demo::{DEMO_PASSWORD, DemoSize};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::login_throttle::Bucket;
use chorus::domain::platforms::Platform;
use chorus::domain::share_caps::ShareCaps;
use chorus::store;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{Value, json};

use super::*;

/// The WCAG 2.1 A and AA rules of axe-core, and its best practices (unique
/// landmarks, heading order, one main, everything inside a landmark …).
const AXE_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/// GET routes that answer something other than a page, and why no audit.
const NOT_PAGES: &[(&str, &str)] = &[
    ("/healthz", "plain-text health check for load balancers"),
    ("/metrics", "Prometheus text for operators"),
    (
        "/static/{file}",
        "the stylesheet, script and icon themselves",
    ),
    (
        "/static/icons/{file}",
        "the platforms' icons on the queue's share buttons",
    ),
    (
        "/previews/{file}",
        "link-preview images, shown (with their alt text) on the audited queue and post pages",
    ),
    ("/me/data.json", "JSON download of one's own data"),
    (
        "/me/receipts/{id:[0-9a-f-]+}.json",
        "JSON download (Kantara Consent Receipt)",
    ),
    (
        "/admin/reports/{table:[a-z]+}.csv",
        "CSV download of a report table",
    ),
    (
        "/calendar/{secret}",
        "iCalendar (text/calendar) for calendar apps",
    ),
    (
        "/login/oidc/callback",
        "the identity provider's redirect back: answers a redirect, or a refusal \
         on the error layout audited as the 404 page (needs a provider; tests/api/sso.rs)",
    ),
];

/// Whole families of GET routes that answer no page.
const NOT_PAGE_PREFIXES: &[(&str, &str)] = &[("/api/", "the JSON API answers JSON, never a page")];

/// Pages audited without logging in (with the states they are audited in).
const ANONYMOUS_PAGES: &[&str] = &[
    "/login",
    "/password/forgot",
    "/setup/{token}",
    "/invite/{token}",
    "/password/reset/{token}",
    "/unsubscribe/{token}",
];

/// Pages every signed-in person has, audited for each role.
const SIGNED_IN_PAGES: &[&str] = &[
    "/",
    "/me/data",
    "/me/delete",
    "/me/password",
    "/me/visibility",
    "/policy",
    "/policy/{version:\\d+}",
    "/me/tokens",
];

const EMPLOYEE_PAGES: &[&str] = &[
    "/queue",
    "/me/consent",
    "/me/preferences",
    "/me/receipts/{id:[0-9a-f-]+}",
    "/suggest",
];

const COMMS_PAGES: &[&str] = &[
    "/hub/posts",
    "/hub/posts/new",
    "/hub/posts/{id:\\d+}",
    "/hub/calendar",
    "/hub/calendar/feeds",
    "/hub/suggestions",
    "/hub/approvals",
    "/hub/feeds",
    "/admin/reports",
];

const ADMIN_PAGES: &[&str] = &[
    "/admin/people",
    "/admin/people/new",
    "/admin/people/import",
    "/admin/people/{id:\\d+}",
    "/admin/settings",
    "/admin/policy",
    "/admin/reports",
    "/admin/audit",
    "/admin/email",
    "/admin/announcements",
    "/admin/settings/sso",
    "/admin/tokens",
];

#[test]
fn every_get_route_is_audited_or_an_explained_download() {
    let audited: BTreeSet<&str> = ANONYMOUS_PAGES
        .iter()
        .chain(SIGNED_IN_PAGES)
        .chain(EMPLOYEE_PAGES)
        .chain(COMMS_PAGES)
        .chain(ADMIN_PAGES)
        .copied()
        .collect();
    let excused: BTreeSet<&str> = NOT_PAGES.iter().map(|(path, _)| *path).collect();
    let get_routes: BTreeSet<&str> = chorus::web::route_table()
        .into_iter()
        .filter(|spec| spec.method == "GET")
        .map(|spec| spec.path)
        .collect();
    let in_excused_family = |path: &str| {
        NOT_PAGE_PREFIXES
            .iter()
            .any(|(prefix, _)| path.starts_with(prefix))
    };
    for path in &get_routes {
        assert!(
            audited.contains(path) || excused.contains(path) || in_excused_family(path),
            "GET {path} is neither audited by a role's walk in browser::accessibility \
             nor listed, with a reason, in NOT_PAGES or NOT_PAGE_PREFIXES"
        );
    }
    for path in audited.iter().chain(&excused) {
        assert!(
            get_routes.contains(path),
            "{path} is listed for the audit but is no GET route (renamed?)"
        );
    }
}

// ---- the audit of one page -----------------------------------------------------

fn axe_source() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/a11y/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `npm ci --prefix tests/a11y`",
            path.display()
        )
    })
}

/// Runs axe on the page shown and, on a phone, checks it fits. Collects
/// every problem, so one run lists them all.
struct Audit<'a> {
    browser: &'a Browser,
    app: &'a TestApp,
    look: Look,
    /// Whose walk this is, for the screenshots' names.
    role: &'static str,
    axe: String,
    /// Route patterns (or page states) audited so far.
    visited: BTreeSet<String>,
    problems: Vec<String>,
}

/// On a phone: what sticks out of the window, other than what scrolls in a
/// container of its own (a wide table in its scrolling region).
const MEASURE: &str = r#"
const root = document.documentElement;
const width = root.clientWidth;
function name(el) {
  return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '')
    + ' "' + (el.textContent || el.name || '').trim().slice(0, 40) + '"';
}
function inScroller(el) {
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    if ((o === 'auto' || o === 'scroll') && p.scrollWidth > p.clientWidth) return true;
  }
  return false;
}
const offscreen = [];
document.querySelectorAll('body *').forEach(function (el) {
  if (el.getClientRects().length === 0 || el.classList.contains('skip-link') || inScroller(el)) return;
  const r = el.getBoundingClientRect();
  const action = el.matches('main button, main a.button, main input:not([type=hidden]), main select, main textarea, header a, header button');
  const tooWide = r.right > width + 0.5 && !Array.prototype.some.call(el.children, function (c) { return c.getBoundingClientRect().right > width + 0.5; });
  if (action && (r.left < -0.5 || r.right > width + 0.5)) {
    offscreen.push('the control ' + name(el) + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' px');
  } else if (tooWide && offscreen.length < 8) {
    offscreen.push(name(el) + ' reaches ' + Math.round(r.right) + ' px');
  }
});
return {
  dark: matchMedia('(prefers-color-scheme: dark)').matches,
  lang: root.lang,
  innerWidth: window.innerWidth,
  scrollWidth: root.scrollWidth,
  clientWidth: width,
  offscreen: offscreen,
  hasAxe: typeof window.axe !== 'undefined'
};
"#;

const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
  .then(function (result) {
    done({
      passes: result.passes.length,
      violations: result.violations.map(function (v) {
        return v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 4).map(function (n) {
          return n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 300) + ']' : '');
        }).join(' | ');
      })
    });
  })
  .catch(function (e) { done({ passes: 0, violations: ['axe failed: ' + e] }); });
"#;

impl<'a> Audit<'a> {
    fn new(browser: &'a Browser, app: &'a TestApp, look: Look, role: &'static str) -> Audit<'a> {
        Audit {
            browser,
            app,
            look,
            role,
            axe: axe_source(),
            visited: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    /// Opens `path`, waits for its `<h1>` and audits it as `what` (the route
    /// pattern, or a state such as "404 page").
    async fn visit(&mut self, what: &str, path: &str, heading: &str) {
        self.browser
            .goto(&self.app.url(path))
            .await
            .unwrap_or_else(|e| panic!("GET {path} opens: {e}"));
        self.browser.expect_heading(heading).await;
        self.check(what).await;
    }

    /// Audits the page the browser shows now, as `what`.
    async fn check(&mut self, what: &str) {
        let url = self
            .browser
            .current_url()
            .await
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        let place = format!("{what} ({url}, {})", self.describe());
        self.visited.insert(what.to_string());
        if std::env::var_os("CHORUS_SCREENSHOTS").is_some() {
            self.save_screenshot(what).await;
        }
        let measured = self
            .browser
            .execute(MEASURE, vec![])
            .await
            .expect("measuring the page");
        if measured["dark"] != json!(self.look.dark) {
            self.problems.push(format!(
                "{place}: prefers-color-scheme: dark is {} in this browser",
                measured["dark"]
            ));
        }
        if measured["lang"] != json!("en") {
            self.problems
                .push(format!("{place}: <html lang> is {}", measured["lang"]));
        }
        if self.look.width <= 320 {
            assert_eq!(
                measured["innerWidth"],
                json!(self.look.width),
                "the window really is {} px wide",
                self.look.width
            );
            let scroll = measured["scrollWidth"].as_i64().unwrap_or(i64::MAX);
            let client = measured["clientWidth"].as_i64().unwrap_or(0);
            if scroll > client {
                self.problems.push(format!(
                    "{place}: scrolls sideways ({scroll} px of content in {client} px)"
                ));
            }
            if let Some(list) = measured["offscreen"].as_array() {
                for item in list {
                    self.problems.push(format!(
                        "{place}: sticks out: {}",
                        item.as_str().unwrap_or("")
                    ));
                }
            }
        }
        if measured["hasAxe"] != json!(true) {
            self.browser
                .execute(&format!("{}\nreturn true;", self.axe), vec![])
                .await
                .expect("axe-core loads into the page");
        }
        let result: Value = self
            .browser
            .execute_async(RUN_AXE, vec![json!(AXE_TAGS)])
            .await
            .expect("axe-core runs");
        assert!(
            result["passes"].as_u64().unwrap_or(0) > 0,
            "{place}: axe checked nothing: {result}"
        );
        for violation in result["violations"].as_array().into_iter().flatten() {
            self.problems
                .push(format!("{place}: {}", violation.as_str().unwrap_or("?")));
        }
    }

    /// Saves what the window shows as
    /// target/screenshots/{role}-{page}-{width}-{scheme}.png.
    async fn save_screenshot(&self, what: &str) {
        let png = self.browser.screenshot().await.expect("a screenshot");
        let page: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let scheme = if self.look.dark { "dark" } else { "light" };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        let name = format!(
            "{}-{}-{}-{scheme}.png",
            self.role,
            page.trim_matches('_'),
            self.look.width
        );
        std::fs::write(dir.join(name), png).expect("the screenshot is saved");
    }

    fn describe(&self) -> String {
        format!(
            "{} px, {}",
            self.look.width,
            if self.look.dark { "dark" } else { "light" }
        )
    }

    /// Fails with every problem found, and if a listed page was not audited.
    fn finish(self, expected: &[&[&str]]) {
        let mut problems = self.problems;
        for route in expected.iter().flat_map(|list| list.iter()) {
            if !self.visited.contains(*route) {
                problems.push(format!("{route} was not audited ({})", self.look.width));
            }
        }
        assert!(
            problems.is_empty(),
            "{} accessibility problems:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
}

/// Contrast of the report chart's bars and labels against the page (axe
/// does not judge SVG shapes): WCAG 1.4.11 asks 3:1 of graphics.
const CHART_CONTRAST: &str = r#"
function rgb(c) { return c.match(/[\d.]+/g).slice(0, 3).map(Number); }
function lum(c) {
  const v = rgb(c).map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function ratio(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
const page = getComputedStyle(document.documentElement).backgroundColor;
const bars = document.querySelectorAll('svg.chart .bar');
const label = document.querySelector('svg.chart text');
return {
  bars: bars.length,
  bar: bars.length ? ratio(getComputedStyle(bars[0]).fill, page) : 0,
  text: label ? ratio(getComputedStyle(label).fill, page) : 0,
  page: page
};
"#;

// ---- an organisation with something on every page ------------------------------

struct Organisation {
    policy_version: i64,
    grace: i64,
    post: i64,
    receipt: String,
    person: i64,
    invite_token: String,
    reset_token: String,
    unsubscribe_token: String,
}

const GRACE: &str = "grace@example.com";

/// The demo organisation (posts, consent, shares, reports with suppressed
/// cells), plus Grace: an employee who said yes to X and LinkedIn, has a post
/// waiting, already shared it on X (her cap there: one a day), made a
/// suggestion; plus an invitation, a reset link and an unsubscribe link.
async fn organisation(app: &TestApp) -> Organisation {
    let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
    let now = app.clock.now_naive();
    let size = DemoSize {
        employees: 30,
        posts: 12,
        weeks: 4,
        seed: 7,
        shares: None,
    };
    app.db(move |conn| chorus::demo::generate(conn, size, &hash, now))
        .await;
    let grace = app
        .create_user_in(GRACE, "Grace Hopper", "employee", Some("Research"))
        .await;
    let person = app
        .create_user_in("invited@example.com", "Ivy Invited", "employee", None)
        .await;
    let reset_person = app
        .create_user("reset@example.com", "Rosa Reset", "employee")
        .await;
    app.db(move |conn| {
        for platform in [Platform::X, Platform::LinkedIn] {
            store::consent::record_choice(
                conn,
                grace,
                Purpose::ShareSuggestions(platform),
                Choice::Yes,
                None,
                "test",
                now,
            )?;
        }
        let comms: i64 = {
            use chorus::db::schema::users::dsl::*;
            use diesel::prelude::*;
            users
                .filter(email.eq("comms@demo.example"))
                .select(id)
                .first(conn)?
        };
        let input = store::posts::PostInput {
            title: "Annual report".into(),
            link: "https://example.com/news/annual-report".into(),
            base_text: "Our annual report is out.".into(),
            captions: [Platform::X, Platform::LinkedIn]
                .into_iter()
                .map(|p| (p, vec!["Our annual report is out.".to_string()]))
                .collect(),
            target_all: true,
            department_ids: Vec::new(),
            expires_at: None,
        };
        let post = store::posts::create_draft(conn, &input, comms, now)?;
        // A link preview as read from the page, with its image.
        let card = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            1200,
            630,
            image::Rgb([30, 70, 140]),
        ));
        let mut png = Vec::new();
        card.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let preview = store::previews::PreviewWrite {
            post_id: post,
            link: input.link.clone(),
            text: Some(chorus::domain::link_preview::PreviewText {
                title: "Our annual report 2026".into(),
                description: "Numbers, people and plans for the year ahead.".into(),
            }),
            image: store::previews::ImageChange::Set(
                chorus::domain::preview_image::reencode(&png).unwrap(),
            ),
            fetch: Some(None),
        };
        store::previews::write(conn, &preview, now)?;
        let outcome = store::posts::schedule(conn, post, now, chrono_tz::UTC, comms, now)?;
        assert_eq!(outcome, store::posts::ScheduleOutcome::Published);
        store::shares::set_personal(
            conn,
            grace,
            Platform::X,
            ShareCaps {
                per_day: 1,
                per_week: 7,
            },
        )?;
        store::shares::record(conn, grace, post, Platform::X, 0, false, now)?;
        store::suggestions::create(
            conn,
            grace,
            "https://example.com/blog/open-source",
            "Our open-source work, worth a share?",
            now,
        )?;
        let receipt = store::consent::events_for(conn, grace)?
            .pop()
            .expect("Grace's consent events")
            .event_uuid;
        let policy_version = store::policy::current(conn)?
            .expect("the demo policy")
            .version;
        let invite_token = store::tokens::issue_password_link(conn, person, now)?;
        let reset_token = store::tokens::issue_password_link_for(
            conn,
            reset_person,
            now,
            chrono::Duration::hours(1),
        )?;
        let unsubscribe_token = store::outbox::issue_unsubscribe_token(conn, grace, now)?;
        Ok(Organisation {
            policy_version,
            grace,
            post,
            receipt,
            person,
            invite_token,
            reset_token,
            unsubscribe_token,
        })
    })
    .await
}

/// Both looks, one browser each, the same walk.
const LOOKS: [Look; 2] = [Look::DESKTOP, Look::DARK_PHONE];

/// With CHORUS_SCREENSHOTS set, the walks also save a screenshot of every
/// page in four more looks: 1280 and 375 px, light and dark.
fn looks() -> Vec<Look> {
    let mut looks = LOOKS.to_vec();
    if std::env::var_os("CHORUS_SCREENSHOTS").is_some() {
        for (width, dark) in [(1280, true), (375, false), (375, true)] {
            looks.push(Look { dark, width });
        }
    }
    looks
}

async fn signed_in_pages(audit: &mut Audit<'_>, org: &Organisation, welcome: &str) {
    audit.visit("/", "/", welcome).await;
    audit.visit("/me/data", "/me/data", "Your data").await;
    audit
        .visit("/me/delete", "/me/delete", "Delete your account")
        .await;
    audit
        .visit("/me/password", "/me/password", "Change your password")
        .await;
    audit
        .visit(
            "/me/visibility",
            "/me/visibility",
            "What others at Acme Demo can see",
        )
        .await;
    let current = format!("Social-media policy, version {}", org.policy_version);
    audit.visit("/policy", "/policy", &current).await;
    audit
        .visit(
            "/policy/{version:\\d+}",
            &format!("/policy/{}", org.policy_version),
            &format!("Social-media policy, version {}", org.policy_version),
        )
        .await;
    audit.visit("/me/tokens", "/me/tokens", "API tokens").await;
    audit.visit("404 page", "/nowhere", "Page not found").await;
}

// ---- the walks -------------------------------------------------------------------

/// Runs `walk` once per look, each time in a browser of its own, then fails
/// with every problem found, or if one of `pages` was not audited.
async fn in_each_look(
    app: &TestApp,
    role: &'static str,
    pages: &[&[&str]],
    walk: impl AsyncFn(&mut Audit<'_>),
) {
    for look in looks() {
        // Each look asks for a password link once; the screenshots' extra
        // looks would otherwise meet the requests' throttle.
        app.db(|conn| {
            let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
            store::login_throttle::clear(conn, &Bucket::ResetAddress(loopback))?;
            store::login_throttle::clear(conn, &Bucket::ResetAccount(GRACE.into()))
        })
        .await;
        let browser = Browser::start_with(Scripts::On, look).await;
        let mut audit = Audit::new(&browser, app, look, role);
        walk(&mut audit).await;
        audit.finish(pages);
        browser.close().await;
    }
}

/// Logs in with the browser's login form; lands on the start page.
async fn log_in(audit: &Audit<'_>, email: &str, password: &str, name: &str) {
    audit.browser.log_in(audit.app, email, password).await;
    audit
        .browser
        .expect_heading(&format!("Welcome, {name}"))
        .await;
}

/// Waits until the page shows `selector` (after a form was sent).
async fn wait_for(browser: &Browser, selector: &str) {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("the page shows {selector}: {e}"));
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn every_page_without_an_account_passes_wcag_aa_on_desktop_and_dark_phone() {
    let app = spawn_app(Backend::Sqlite).await;
    // The setup page exists only until the first admin: a Chorus of its own.
    let fresh = spawn_app(Backend::Sqlite).await;
    let setup = fresh
        .setup_url
        .clone()
        .expect("a fresh Chorus prints a setup link");
    let org = organisation(&app).await;
    in_each_look(&app, "visitor", &[ANONYMOUS_PAGES], async |audit| {
        let browser = audit.browser;
        audit.visit("/login", "/login", "Log in").await;
        browser
            .log_in(&app, GRACE, "not the right password at all")
            .await;
        wait_for(browser, "#login-error").await;
        audit.check("login with an error").await;
        audit
            .visit(
                "/password/forgot",
                "/password/forgot",
                "Forgot your password?",
            )
            .await;
        browser
            .field("Email address")
            .await
            .send_keys(GRACE)
            .await
            .expect("typing the email");
        browser.click_button("Send me a link").await;
        wait_for(browser, "main .notice").await;
        audit.check("forgot password, sent").await;
        browser.goto(&setup).await.expect("the setup link opens");
        browser.expect_heading("Set up Chorus").await;
        audit.check("/setup/{token}").await;
        let invite = format!("/invite/{}", org.invite_token);
        audit
            .visit("/invite/{token}", &invite, "Set your password")
            .await;
        let reset = format!("/password/reset/{}", org.reset_token);
        audit
            .visit("/password/reset/{token}", &reset, "Set your password")
            .await;
        let unsubscribe = format!("/unsubscribe/{}", org.unsubscribe_token);
        audit
            .visit("/unsubscribe/{token}", &unsubscribe, "Stop digest emails?")
            .await;
        audit.visit("404 page", "/nowhere", "Page not found").await;
        // A form whose CSRF token does not match: the 403 page.
        browser
            .goto(&app.url("/login"))
            .await
            .expect("/login opens");
        browser
            .execute(
                "const f = document.querySelector('main form'); \
                 f.querySelector('[name=csrf_token]').value = 'forged'; f.submit();",
                vec![],
            )
            .await
            .expect("sending the form");
        wait_for(browser, "main .error-page").await;
        audit.check("403 page").await;
    })
    .await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn every_employee_page_passes_wcag_aa_on_desktop_and_dark_phone() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = organisation(&app).await;
    app.create_user_in("new@example.com", "Nora New", "employee", None)
        .await;
    let pages: &[&[&str]] = &[EMPLOYEE_PAGES, SIGNED_IN_PAGES];
    in_each_look(&app, "employee", pages, async |audit| {
        let browser = audit.browser;
        // Someone who has not said yes to anything: the empty queue.
        log_in(audit, "new@example.com", PASSWORD, "Nora New").await;
        audit.visit("/queue", "/queue", "Your queue").await;
        audit
            .visit("/me/consent", "/me/consent", "Your sharing choices")
            .await;
        browser.click_button("Log out").await;
        browser.expect_heading("Log in").await;

        log_in(audit, GRACE, PASSWORD, "Grace Hopper").await;
        audit
            .visit("queue with posts", "/queue", "Your queue")
            .await;
        audit
            .visit("/me/consent", "/me/consent", "Your sharing choices")
            .await;
        audit
            .visit("/me/preferences", "/me/preferences", "Preferences")
            .await;
        let receipt = format!("/me/receipts/{}", org.receipt);
        audit
            .visit("/me/receipts/{id:[0-9a-f-]+}", &receipt, "Consent receipt")
            .await;
        audit
            .visit("/suggest", "/suggest", "Suggest a link to the hub")
            .await;
        signed_in_pages(audit, &org, "Welcome, Grace Hopper").await;
        // Past her cap on X: the 429 page. (Another post than the one she
        // shared, whose button is disabled: the form is sent as a page
        // left open since before would.)
        browser
            .goto(&app.url("/queue"))
            .await
            .expect("/queue opens");
        browser
            .execute(
                "const mine = arguments[0]; \
                 const button = [...document.querySelectorAll('button[formaction$=\"/share/x\"]')] \
                     .find(b => b.getAttribute('formaction') !== mine); \
                 button.disabled = false; button.formTarget = '_self'; \
                 button.form.requestSubmit(button);",
                vec![json!(format!("/queue/{}/share/x", org.post))],
            )
            .await
            .expect("sending the share form");
        browser.expect_heading("Not yet on X").await;
        audit.check("429 page").await;
        // Another role's page: the 403 page.
        audit
            .visit("403 page", "/admin/people", "Not allowed")
            .await;
    })
    .await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn every_comms_page_passes_wcag_aa_on_desktop_and_dark_phone() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = organisation(&app).await;
    let pages: &[&[&str]] = &[COMMS_PAGES, SIGNED_IN_PAGES];
    // Two feeds, one read well and one whose last check failed.
    let now = app.clock.now_naive();
    app.db(move |conn| {
        use chorus::db::schema::feeds;
        use diesel::prelude::*;
        for (n, error) in [(1, None), (2, Some("The feed answered 404."))] {
            diesel::insert_into(feeds::table)
                .values((
                    feeds::url.eq(format!("https://news.example.com/feed-{n}.xml")),
                    feeds::title.eq(format!("Acme newsroom {n}")),
                    feeds::interval_minutes.eq(60),
                    feeds::created_at.eq(now),
                    feeds::next_poll_at.eq(now + chrono::Duration::hours(1)),
                    feeds::last_tried_at.eq(Some(now)),
                    feeds::last_error.eq(error),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
    .await;
    in_each_look(&app, "comms", pages, async |audit| {
        let browser = audit.browser;
        log_in(audit, "comms@demo.example", DEMO_PASSWORD, "Casey Comms").await;
        audit.visit("/hub/posts", "/hub/posts", "Posts").await;
        audit
            .visit("/hub/posts/new", "/hub/posts/new", "Write a post")
            .await;
        // Past the browser's own checks (required fields) to Chorus's.
        browser
            .execute(
                "document.querySelector('form[action=\"/hub/posts/new\"]').noValidate = true;",
                vec![],
            )
            .await
            .expect("turning off the browser's form checks");
        browser.click_button("Save draft").await;
        wait_for(browser, ".error-summary").await;
        audit.check("new post with errors").await;
        let post = format!("/hub/posts/{}", org.post);
        audit
            .visit("/hub/posts/{id:\\d+}", &post, "Annual report")
            .await;
        // The organisation's time zone is UTC: the calendar opens on its month.
        let today = chrono::Utc::now().date_naive();
        audit
            .visit(
                "/hub/calendar",
                "/hub/calendar",
                &today.format("%B %Y").to_string(),
            )
            .await;
        let monday = chorus::domain::schedule::week_start(today);
        audit
            .visit(
                "calendar week view",
                &format!("/hub/calendar?week={today}"),
                &format!("Week of {}", monday.format("%-d %B %Y")),
            )
            .await;
        audit
            .visit(
                "/hub/calendar/feeds",
                "/hub/calendar/feeds",
                "Calendar subscription",
            )
            .await;
        audit
            .visit("/hub/suggestions", "/hub/suggestions", "Suggestions")
            .await;
        audit
            .visit(
                "/hub/approvals",
                "/hub/approvals",
                "Posts waiting for approval",
            )
            .await;
        audit.visit("/hub/feeds", "/hub/feeds", "Feeds").await;
        browser
            .execute(
                "document.querySelector('form[action=\"/hub/feeds\"]').noValidate = true;",
                vec![],
            )
            .await
            .expect("turning off the browser's form checks");
        browser.click_button("Add feed").await;
        wait_for(browser, ".error-summary").await;
        audit.check("feeds with an error").await;
        audit
            .visit("/admin/reports", "/admin/reports", "Reports")
            .await;
        signed_in_pages(audit, &org, "Welcome, Casey Comms").await;
    })
    .await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn every_admin_page_passes_wcag_aa_on_desktop_and_dark_phone() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = organisation(&app).await;
    // A connected chat channel, so its row and buttons are audited too.
    let sealed = app
        .state
        .chat_secrets
        .seal("https://hooks.slack.com/services/T0/B0/abcdWXYZ");
    let now = app.clock.now_naive();
    app.db(move |conn| {
        use diesel::prelude::*;
        let admin: i64 = chorus::db::schema::users::table
            .filter(chorus::db::schema::users::email.eq("admin@demo.example"))
            .select(chorus::db::schema::users::id)
            .first(conn)?;
        let channel = chorus::store::chat_channels::NewChannel {
            kind: "slack",
            name: "#announcements",
            url_sealed: &sealed,
            url_hint: "hooks.slack.com …WXYZ",
            target_all: true,
            department_ids: &[],
        };
        chorus::store::chat_channels::connect(conn, &channel, admin, now)
    })
    .await;
    let pages: &[&[&str]] = &[ADMIN_PAGES, SIGNED_IN_PAGES];
    in_each_look(&app, "admin", pages, async |audit| {
        let browser = audit.browser;
        log_in(audit, "admin@demo.example", DEMO_PASSWORD, "Alex Admin").await;
        audit
            .visit("/admin/people", "/admin/people", "People")
            .await;
        audit
            .visit("/admin/people/new", "/admin/people/new", "Add a person")
            .await;
        audit
            .visit(
                "/admin/people/import",
                "/admin/people/import",
                "Invite from a CSV file",
            )
            .await;
        let person = format!("/admin/people/{}", org.person);
        audit
            .visit("/admin/people/{id:\\d+}", &person, "Ivy Invited")
            .await;
        audit
            .visit("/admin/settings", "/admin/settings", "Settings")
            .await;
        audit
            .visit("/admin/policy", "/admin/policy", "Social-media policy")
            .await;
        audit
            .visit("/admin/reports", "/admin/reports", "Reports")
            .await;
        let suppressed = browser
            .find_all(Locator::Css("td.suppressed"))
            .await
            .expect("the report cells")
            .len();
        assert!(suppressed > 0, "the reports show suppressed cells");
        let chart = browser
            .execute(CHART_CONTRAST, vec![])
            .await
            .expect("the chart's colours");
        assert!(
            chart["bars"].as_u64().unwrap_or(0) > 0
                && chart["bar"].as_f64().unwrap_or(0.0) >= 3.0
                && chart["text"].as_f64().unwrap_or(0.0) >= 4.5,
            "the chart's bars (3:1) and numbers (4.5:1) stand out from the page ({}): {chart}",
            audit.describe()
        );
        audit
            .visit("/admin/audit", "/admin/audit", "Audit log")
            .await;
        audit.visit("/admin/email", "/admin/email", "Email").await;
        audit
            .visit(
                "/admin/announcements",
                "/admin/announcements",
                "Announcements",
            )
            .await;
        audit
            .visit(
                "/admin/settings/sso",
                "/admin/settings/sso",
                "Single sign-on",
            )
            .await;
        audit
            .visit("/admin/tokens", "/admin/tokens", "Integrations")
            .await;
        signed_in_pages(audit, &org, "Welcome, Alex Admin").await;
    })
    .await;
}

// ---- the keyboard alone ------------------------------------------------------------

async fn press(browser: &Browser, key: Key) {
    let key: char = key.into();
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    browser
        .perform_actions(actions)
        .await
        .expect("pressing a key");
}

async fn type_text(browser: &Browser, text: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for c in text.chars() {
        actions = actions
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
    }
    browser.perform_actions(actions).await.expect("typing");
}

/// What has the keyboard focus: its tag, id, class, text, and whether a
/// focus indicator (outline or box shadow) is drawn around it.
async fn focused(browser: &Browser) -> Value {
    browser
        .execute(
            "const el = document.activeElement; const s = getComputedStyle(el); \
             return { tag: el.tagName.toLowerCase(), id: el.id, class: el.className, \
                      text: (el.textContent || '').trim(), \
                      indicator: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none', \
                      visible: el.getBoundingClientRect().left >= 0 };",
            vec![],
        )
        .await
        .expect("the focused element")
}

/// Presses Tab until `wanted` says yes to the focused element (at most `limit` times).
async fn tab_until(
    browser: &Browser,
    what: &str,
    limit: usize,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..limit {
        press(browser, Key::Tab).await;
        let now = focused(browser).await;
        if wanted(&now) {
            assert_eq!(
                now["indicator"],
                json!(true),
                "{what} shows where the focus is: {now}"
            );
            return now;
        }
    }
    panic!("{limit} presses of Tab never reached {what}");
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn a_keyboard_alone_logs_in_opens_the_queue_and_shares() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = organisation(&app).await;
    let browser = Browser::start(Scripts::On).await;
    browser.goto(&app.url("/login")).await.unwrap();
    browser.expect_heading("Log in").await;

    // The first Tab reaches "Skip to content", shown while focused.
    press(&browser, Key::Tab).await;
    let first = focused(&browser).await;
    assert_eq!(
        first["class"],
        json!("skip-link"),
        "first tab stop: {first}"
    );
    assert_eq!(first["text"], json!("Skip to content"));
    assert_eq!(
        first["visible"],
        json!(true),
        "the skip link shows when focused"
    );
    assert_eq!(first["indicator"], json!(true), "and has a focus ring");
    press(&browser, Key::Enter).await;
    assert_eq!(
        focused(&browser).await["id"],
        json!("main"),
        "the skip link moves the focus to the page's content"
    );

    tab_until(&browser, "the email field", 5, |f| {
        f["id"] == json!("email")
    })
    .await;
    type_text(&browser, GRACE).await;
    tab_until(&browser, "the password field", 1, |f| {
        f["id"] == json!("password")
    })
    .await;
    type_text(&browser, PASSWORD).await;
    press(&browser, Key::Enter).await;
    browser.expect_heading("Welcome, Grace Hopper").await;

    tab_until(&browser, "the Queue link", 10, |f| {
        f["tag"] == json!("a") && f["text"] == json!("Queue")
    })
    .await;
    press(&browser, Key::Enter).await;
    browser.expect_heading("Your queue").await;

    // X is used up for today (see organisation()); LinkedIn is not. What
    // is left reads on the LinkedIn button of the post not shared yet.
    let left = || async {
        browser
            .execute(
                "const b = document.querySelector('button[formaction$=\"/share/linkedin\"]'); \
                 return b ? b.textContent : '';",
                vec![],
            )
            .await
            .expect("the LinkedIn button's text")
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let left_before = left().await;
    assert!(left_before.contains("3 left today"), "{left_before}");
    let before = app
        .db(move |conn| store::shares::history(conn, org.grace))
        .await
        .len();
    tab_until(&browser, "the Share on LinkedIn button", 80, |f| {
        f["tag"] == json!("button")
            && f["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Share on LinkedIn ·"))
    })
    .await;
    press(&browser, Key::Enter).await;
    // Chorus answers 303 to LinkedIn's share dialog, which this closed
    // network cannot reach; what matters is that Chorus recorded the share.
    let deadline = Instant::now() + PATIENCE;
    let mut after = before;
    while Instant::now() < deadline && after == before {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = app
            .db(move |conn| store::shares::history(conn, org.grace))
            .await
            .len();
    }
    assert_eq!(after, before + 1, "the share was recorded");
    browser.goto(&app.url("/queue")).await.unwrap();
    browser.expect_heading("Your queue").await;
    let left_after = left().await;
    assert!(
        left_after.contains("2 left today"),
        "the queue counts the share: {left_after}"
    );
    browser.close().await;
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn the_copy_button_copies_the_text_as_shown_with_the_link() {
    let app = spawn_app(Backend::Sqlite).await;
    let org = organisation(&app).await;
    // Grace's share on X taken back (Undo), so the post offers X's text
    // box again (a shared platform shows "Shared on X ✓" instead).
    let (grace, post, now) = (org.grace, org.post, app.clock.now_naive());
    let window = chorus::domain::share_caps::UNDO_WINDOW;
    app.db(move |conn| store::shares::undo(conn, grace, post, Platform::X, now, window))
        .await;
    let browser = Browser::start(Scripts::On).await;
    browser.log_in(&app, GRACE, PASSWORD).await;
    browser.goto(&app.url("/queue")).await.unwrap();
    browser.expect_heading("Your queue").await;
    // The page's clipboard is swapped for a recorder; chorus.js looks it up
    // at each click.
    let copied = browser
        .execute(
            r#"
            const copied = [];
            navigator.clipboard.writeText = (text) => { copied.push(text); return Promise.resolve(); };
            const post = arguments[0];
            const x = document.querySelector(`textarea[name="text_${post}_x"]`);
            x.value = "My own words about it.";
            for (const source of [x, document.getElementById(`copy-${post}-linkedin`)]) {
                const button = (source.closest("label") || source).nextElementSibling;
                if (!button || !button.matches("button.copy") || button.hidden)
                    return `no Copy text button under ${source.id}`;
                button.click();
            }
            return copied;
            "#,
            vec![json!(org.post)],
        )
        .await
        .expect("the script runs");
    assert_eq!(
        copied,
        json!([
            "My own words about it.\nhttps://example.com/news/annual-report\
             ?utm_source=x&utm_medium=employee_advocacy&utm_campaign=annual-report",
            "I work at Acme Demo. Our annual report is out.\nhttps://example.com/news/annual-report\
             ?utm_source=linkedin&utm_medium=employee_advocacy&utm_campaign=annual-report"
        ]),
        "X (editable): the text as changed, then the link as shared on X; LinkedIn (link only): \
         the suggested text with the disclosure, and the link as shared on LinkedIn"
    );
    browser.close().await;
}
