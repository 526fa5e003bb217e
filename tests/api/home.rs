//! The start page: each role sees its state (what waits, what is left),
//! and nothing about what colleagues chose or shared.

use chorus::domain::platforms::Platform;
use chorus::domain::schedule::Caps;
use chorus::store::{self, posts};

use crate::backend_test;
use crate::helpers::*;

/// A post scheduled `hours` from now, through the hub's store calls.
async fn schedule_in(app: &TestApp, title: &str, hours: i64, by: i64) -> i64 {
    let now = app.clock.now_naive();
    let id = app.store_draft(small_post(title), by).await;
    app.db(move |conn| {
        let at = now + chrono::Duration::hours(hours);
        let outcome = posts::schedule(conn, id, at, chrono_tz::UTC, by, now)?;
        assert_eq!(outcome, posts::ScheduleOutcome::Scheduled);
        Ok(id)
    })
    .await
}

/// The text of the tile whose label reads `label`.
fn tile<'a>(page: &'a str, label: &str) -> &'a str {
    let at = page
        .find(label)
        .unwrap_or_else(|| panic!("a tile {label:?}:\n{page}"));
    let start = page[..at].rfind("<a class=\"tile").unwrap();
    let end = at + page[at..].find("</a>").unwrap();
    &page[start..end]
}

backend_test!(
    async fn an_employee_sees_the_posts_waiting_and_the_shares_left_today(app) {
        let hub = app.create_user("hub@example.com", "Hub", "comms,admin").await;
        app.ready_organisation(hub, vec![Platform::X]).await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        let client = app.login_client("emp@example.com").await;

        let page = app.get_with(&client, "/").await.text().await.unwrap();
        assert!(tile(&page, "You have not said yes to any platform").contains("href=\"/me/consent\""), "{page}");

        app.agree(me, Platform::X, None).await;
        let first = app.publish_post(small_post("Annual report"), hub).await;
        app.publish_post(small_post("Careers fair"), hub).await;
        let page = app.get_with(&client, "/").await.text().await.unwrap();
        let waiting = tile(&page, "posts wait in your queue");
        assert!(waiting.contains(">2<") && waiting.contains("href=\"/queue\""), "{waiting}");
        let before = tile(&page, "Shares left today").to_string();

        // Shared a quarter of an hour ago: past the ten minutes in which
        // the queue keeps it in view with Undo.
        let shared_at = app.clock.now_naive() - chrono::Duration::minutes(15);
        app.db(move |conn| store::shares::record(conn, me, first, Platform::X, 1, false, shared_at).map(|_| ()))
            .await;
        let page = app.get_with(&client, "/").await.text().await.unwrap();
        assert!(tile(&page, "post waits in your queue").contains(">1<"), "{page}");
        let after = tile(&page, "Shares left today");
        let left = |tile: &str| -> u32 {
            let at = tile.find("<span>X</span> <strong>").expect("X's shares left") + "<span>X</span> <strong>".len();
            tile[at..].split('<').next().unwrap().parse().unwrap()
        };
        assert_eq!(left(after) + 1, left(&before), "one share fewer left:\n{before}\n{after}");
    }
);

backend_test!(
    async fn comms_see_suggestions_waiting_the_next_posts_and_the_caps_left_this_week(app) {
        let comms = app.login_as("casey@example.com", "comms").await;
        app.ready_organisation(comms, vec![Platform::X]).await;
        app.db(|conn| chorus::store::hub_caps::set_caps(conn, Platform::X, Caps { per_day: 3, per_week: 9 })).await;
        let erin = app.create_user("erin@example.com", "Erin Employee", "employee").await;
        let now = app.clock.now_naive();
        app.db(move |conn| store::suggestions::create(conn, erin, "https://example.com/idea", "A note", now))
            .await;
        let later = schedule_in(&app, "Later post", 30, comms).await;
        let sooner = schedule_in(&app, "Sooner post", 2, comms).await;

        let page = app.get_html("/").await;
        assert!(tile(&page, "suggestion waits for review").contains(">1<"), "{page}");
        let next = tile(&page, "Going out next");
        let (s, l) = (next.find("Sooner post").unwrap(), next.find("Later post").unwrap());
        assert!(s < l, "soonest first: {next}");
        // Two scheduled this week at most (the later one may fall into the next week).
        let room = tile(&page, "Hub caps left this week");
        assert!(room.contains("<strong>7</strong>") || room.contains("<strong>8</strong>"), "{room}");
        assert!(!page.contains("Erin") && !page.contains("erin@example.com"), "the start page names no employee");
        let _ = (later, sooner);
    }
);

backend_test!(
    async fn admins_see_the_policy_state_unused_invitations_and_failed_email(app) {
        let admin = app.login_as("ada@example.com", "admin").await;
        let page = app.get_html("/").await;
        let policy = tile(&page, "Social-media policy");
        assert!(policy.contains("None published yet") && policy.contains("tile-warning"), "{policy}");

        let invited = app
            .post_form("/admin/people/new", &[("email", "new@example.com"), ("name", "Newt"), ("role_employee", "on")])
            .await;
        assert_eq!(invited.status(), 200);
        let now = app.clock.now_naive();
        app.db(move |conn| store::policy::publish(conn, "# Policy", false, admin, now)).await;
        let page = app.get_html("/").await;
        assert!(tile(&page, "Social-media policy").contains("Version 1, published"), "{page}");
        assert!(tile(&page, "invitation not yet used").contains(">1<"), "{page}");
        let email = tile(&page, "emails failed");
        assert!(email.contains(">0<") && !email.contains("tile-warning"), "{email}");
        // Once Newt has signed in, the invitation is used.
        let address = chorus::domain::email::EmailAddress::parse("new@example.com").unwrap();
        let newt = app.db(move |conn| store::users::find_by_email(conn, &address)).await.unwrap();
        app.db(move |conn| store::users::set_password_hash(conn, newt.id, "x", now)).await;
        let page = app.get_html("/").await;
        assert!(tile(&page, "invitations not yet used").contains(">0<"), "{page}");
    }
);
