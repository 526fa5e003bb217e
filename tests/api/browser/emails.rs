//! Every kind of email, as Chorus sends it, opened in Chromium at a
//! desktop mail client's width and at a phone's: the frame fits a phone
//! without sideways scrolling and the digest's images load from Chorus.
//! With CHORUS_SCREENSHOTS set it also saves each one as
//! target/screenshots/email-{kind}-{width}-light.png.

use chorus::domain::brand::BrandColour;
use chorus::domain::platforms::Platform;
use chorus::jobs::delivery::deliver_once;
use chorus::mail::transport::Mailer;
use chorus::store::{self, posts};

use super::*;
use crate::smtp_server::mime_parts;

/// Sends one email of each kind and returns each one's HTML part, named.
async fn one_email_of_each_kind(app: &mut TestApp) -> Vec<(&'static str, String)> {
    let admin = app.login_as("ada@example.com", "admin,comms").await;
    app.change_settings(|change| {
        change.org_name = "Acme Corporation".into();
        change.brand_colour = BrandColour::parse("#0b5d3b").unwrap();
    })
    .await;
    app.create_user("bob@example.com", "Bob Approver", "comms")
        .await;
    let now = app.clock.now_naive();
    app.db(move |conn| store::policy::publish(conn, "Policy", false, admin, now))
        .await;
    app.roomy_hub_caps().await;
    let me = app
        .create_user("emp@example.com", "Emma Employee", "employee")
        .await;
    app.agree(me, Platform::X, None).await;
    app.agree(me, Platform::LinkedIn, None).await;
    app.db(move |conn| {
        store::consent::record_choice(
            conn,
            me,
            chorus::domain::consent::Purpose::EmailDigest,
            chorus::domain::consent::Choice::Yes,
            None,
            "test",
            now,
        )?;
        store::users::set_digest_settings(
            conn,
            me,
            &store::users::DigestSettings {
                frequency: "daily".into(),
                weekday: 1,
                hour: 0,
                max_posts: 5,
                last_digest_at: None,
            },
        )
    })
    .await;
    let report = app
        .publish_post(
            posts::PostInput {
                link: "https://example.com/news/annual-report-2026".into(),
                base_text: "Our annual report is out: growth in every region.".into(),
                ..small_post("Annual report")
            },
            admin,
        )
        .await;
    crate::email::give_preview(app, report).await;
    let other = app.publish_post(small_post("Careers fair"), admin).await;
    app.db(move |conn| store::digests::plan_all(conn, now, "localhost"))
        .await;
    // An invitation, a reset, a password link from an admin.
    let invited = app
        .post_form(
            "/admin/people/new",
            &[
                ("email", "new@example.com"),
                ("name", "Newt Newcomer"),
                ("role_employee", "on"),
            ],
        )
        .await;
    assert_eq!(invited.status(), 200);
    let reset = app
        .post_form_with(
            &new_client(),
            "/password/forgot",
            &[("email", "emp@example.com")],
        )
        .await;
    assert_eq!(reset.status(), 200);
    let link = app
        .post_form(&format!("/admin/people/{me}/password-link"), &[])
        .await;
    assert_eq!(link.status(), 200);
    let mailer_and_sent = Mailer::memory();
    let (mailer, sent) = (&mailer_and_sent.0, &mailer_and_sent.1);
    let settings = chorus::startup::delivery_settings(&app.config, &app.address);
    deliver_once(&app.state.db, mailer, &app.clock, &settings)
        .await
        .unwrap();
    // A post she shared is withdrawn; another waits for approval.
    app.change_settings(|change| change.posts_need_approval = true)
        .await;
    app.db(move |conn| {
        store::shares::record(conn, me, other, Platform::X, 1, false, now)?;
        posts::withdraw_and_notify(
            conn,
            other,
            "The date moved to May.",
            admin,
            now,
            "localhost",
        )?;
        let draft = posts::create_draft(conn, &small_post("Spring newsletter"), admin, now)?;
        posts::submit(conn, draft, admin, now, "localhost")?;
        Ok(())
    })
    .await;
    deliver_once(&app.state.db, mailer, &app.clock, &settings)
        .await
        .unwrap();

    let markers = [
        ("digest", "you may want to share"),
        ("invitation", "invites you to Chorus"),
        ("password-reset", "Reset your Chorus password"),
        ("admin-password-link", "An administrator asked"),
        ("withdrawal-notice", "was withdrawn"),
        ("approval-request", "waits for your approval"),
    ];
    let messages: Vec<String> = sent.lock().unwrap().iter().map(|m| m.raw.clone()).collect();
    markers
        .into_iter()
        .map(|(kind, subject)| {
            let raw = messages
                .iter()
                .find(|m| {
                    m.lines()
                        .any(|l| l.starts_with("Subject:") && l.contains(subject))
                })
                .unwrap_or_else(|| panic!("an email about {subject:?}"));
            let html = mime_parts(raw)
                .into_iter()
                .find(|(k, _)| k.starts_with("text/html"))
                .expect("an HTML part")
                .1;
            (kind, html)
        })
        .collect()
}

const MEASURE_EMAIL: &str = r#"
const images = Array.from(document.images);
return {
  scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
  images: images.length,
  loaded: images.filter(i => i.complete && i.naturalWidth > 0).length,
  buttons: Array.from(document.querySelectorAll('a')).filter(a => a.getBoundingClientRect().height >= 40).length,
};
"#;

#[actix_web::test]
#[cfg_attr(
    not(chorus_browser_tests),
    ignore = "browser test skipped: set CHORUS_TEST_BROWSER=1 (needs chromium and chromium-driver)"
)]
async fn every_email_fits_a_phone_and_its_images_load_from_chorus() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let emails = one_email_of_each_kind(&mut app).await;
    let dir = tempfile::tempdir().unwrap();
    let screenshots = std::env::var_os("CHORUS_SCREENSHOTS").is_some();
    for width in [1280, 375] {
        let browser = Browser::start_with(Scripts::On, Look { dark: false, width }).await;
        for (kind, html) in &emails {
            let file = dir.path().join(format!("{kind}.html"));
            std::fs::write(&file, html).unwrap();
            browser
                .goto(&format!("file://{}", file.display()))
                .await
                .unwrap();
            // Images come from Chorus over loopback: give them a moment.
            let mut measured = serde_json::Value::Null;
            for _ in 0..50 {
                measured = browser.execute(MEASURE_EMAIL, vec![]).await.unwrap();
                if measured["loaded"] == measured["images"] {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(
                measured["loaded"], measured["images"],
                "{kind} at {width} px: every image loads from Chorus: {measured}"
            );
            assert!(
                measured["scrollWidth"].as_i64() <= measured["clientWidth"].as_i64(),
                "{kind} at {width} px scrolls sideways: {measured}"
            );
            if *kind == "digest" {
                assert_eq!(measured["images"], 1, "the report's card has its image");
            }
            if *kind != "withdrawal-notice" {
                assert!(
                    measured["buttons"].as_i64() >= Some(1),
                    "{kind} at {width} px has a button of at least 40 px: {measured}"
                );
            }
            if screenshots {
                // On the desktop, the whole email however tall; on the
                // phone (an emulated screen) its first screenful.
                if width >= 500 {
                    let height = browser
                        .execute("return document.documentElement.scrollHeight;", vec![])
                        .await
                        .unwrap()
                        .as_u64()
                        .unwrap_or(900);
                    browser
                        .set_window_size(width, height as u32 + 140)
                        .await
                        .unwrap();
                }
                let png = browser.screenshot().await.unwrap();
                let out =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
                std::fs::create_dir_all(&out).unwrap();
                std::fs::write(out.join(format!("email-{kind}-{width}-light.png")), png).unwrap();
            }
        }
        browser.close().await;
    }
}
