//! The hub's private calendar address (RFC 5545): what it lists, what it
//! never holds, and how it stops.

use chorus::store;
use diesel::prelude::*;

use crate::backend_test;
use crate::helpers::*;
use crate::hub::create_post;

/// Schedules a post two days ahead at 09:00 Berlin time.
async fn schedule(app: &TestApp, id: i64) {
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let day = app.clock.now().with_timezone(&tz).date_naive() + chrono::Duration::days(2);
    let at = format!("{}T09:00", day.format("%Y-%m-%d"));
    let response = app
        .post_form(
            &format!("/hub/posts/{id}/schedule"),
            &[("publish_at", at.as_str()), ("timezone", "Europe/Berlin")],
        )
        .await;
    assert_eq!(response.status(), 303, "scheduling {id}");
}

/// Creates an address on the page and returns it (shown once).
async fn create_address(app: &TestApp, name: &str) -> String {
    let response = app
        .post_form("/hub/calendar/feeds", &[("name", name)])
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let marker = "id=\"new-address\" readonly value=\"";
    let start = body.find(marker).expect("the new address is shown") + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

/// What a calendar app gets: no cookies, only the address.
async fn fetch(address: &str) -> reqwest::Response {
    new_client().get(address).send().await.unwrap()
}

backend_test!(
    async fn a_calendar_address_lists_the_schedule_and_nothing_about_employees(app) {
        app.login_as("casey@example.com", "comms").await;
        app.create_user("erin@example.com", "Erin Employee", "employee").await;
        let scheduled = create_post(&app, "Annual report").await;
        schedule(&app, scheduled).await;
        create_post(&app, "Unfinished draft").await;

        let calendar = app.get_html("/hub/calendar").await;
        assert!(calendar.contains("href=\"/hub/calendar/feeds\""), "the calendar offers a subscription");
        let address = create_address(&app, "Work phone").await;
        assert!(address.starts_with(&app.url("/calendar/chorus_cal_")), "{address}");

        for url in [address.clone(), format!("{address}.ics")] {
            let response = fetch(&url).await;
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
            let ics = response.text().await.unwrap();
            assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("VERSION:2.0"), "{ics}");
            assert!(ics.contains("SUMMARY:Annual report"), "the scheduled post is an event: {ics}");
            assert!(ics.contains(&format!("/hub/posts/{scheduled}")), "linking to the post in the hub");
            assert!(ics.contains("T070000Z") || ics.contains("T080000Z"), "at its publish time in UTC: {ics}");
            assert!(!ics.contains("Unfinished draft"), "drafts are not in the schedule");
            for personal in ["Erin", "erin@", "Casey", "casey@"] {
                assert!(!ics.contains(personal), "no person is named: {personal} in {ics}");
            }
        }

        let later = app.get_html("/hub/calendar/feeds").await;
        let secret = address.rsplit('/').next().unwrap();
        assert!(later.contains("Work phone") && !later.contains(secret), "listed, never shown again");
        let hashes: Vec<String> = app
            .db(|conn| {
                use chorus::db::schema::calendar_feeds::dsl::*;
                calendar_feeds.select(token_hash).load::<String>(conn).map_err(store::StoreError::from)
            })
            .await;
        assert_eq!(hashes, vec![chorus::credentials::token_hash(secret)], "only the hash is kept");
        let audit = app.db(|conn| store::audit::page(conn, 0, 10)).await.0;
        assert!(audit.iter().any(|e| e.action == "calendar_feed.created"));
        let export = app.get_html("/me/data.json").await;
        assert!(export.contains("\"calendarAddresses\"") && export.contains("Work phone") && !export.contains(secret), "the export lists it, without the secret");

        // A refused name keeps the input and says why; nothing is created.
        let response = app.post_form("/hub/calendar/feeds", &[("name", "   ")]).await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("field-error"), "{body}");
        assert_eq!(later.matches("aria-label=\"Revoke").count(), 1);
        assert_eq!(app.get_html("/hub/calendar/feeds").await.matches("aria-label=\"Revoke").count(), 1, "nothing half-saved");
    }
);

backend_test!(
    async fn a_calendar_address_stops_when_revoked_or_when_its_owner_leaves_comms(app) {
        let casey = app.login_as("casey@example.com", "comms").await;
        let kept = create_address(&app, "Laptop").await;
        let revoked = create_address(&app, "Old phone").await;
        let feeds = app.db(move |conn| store::calendar_feeds::of_user(conn, casey)).await;
        let old = feeds.iter().find(|f| f.name == "Old phone").unwrap().id;

        // Another comms person can neither see nor revoke it.
        app.create_user("dana@example.com", "Dana", "comms").await;
        let dana = app.login_client("dana@example.com").await;
        assert!(!app.get_with(&dana, "/hub/calendar/feeds").await.text().await.unwrap().contains("Old phone"));
        let response = app.post_form_with(&dana, &format!("/hub/calendar/feeds/{old}/revoke"), &[]).await;
        assert_eq!(response.status(), 404);
        assert_eq!(fetch(&revoked).await.status(), 200);

        let response = app.post_form(&format!("/hub/calendar/feeds/{old}/revoke"), &[]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/hub/calendar/feeds?revoked=1");
        assert_eq!(fetch(&revoked).await.status(), 404, "revoked: at once");
        assert_eq!(fetch(&kept).await.status(), 200, "the other one still works");
        assert_eq!(fetch(&app.url("/calendar/chorus_cal_guess")).await.status(), 404);

        // An employee has no calendar addresses to make.
        app.create_user("erin@example.com", "Erin", "employee").await;
        let erin = app.login_client("erin@example.com").await;
        assert_eq!(app.get_with(&erin, "/hub/calendar/feeds").await.status(), 403);

        // Leaving the comms team closes every address of theirs.
        let now = app.clock.now_naive();
        let changed = app
            .db(move |conn| {
                let person = store::users::find(conn, casey)?.expect("casey");
                let change = store::users::ProfileChange {
                    name: chorus::domain::names::PersonName::parse(&person.name).unwrap(),
                    roles: chorus::domain::roles::Roles { comms: false, employee: true, ..person.roles },
                    department: None,
                };
                store::users::update_profile(conn, casey, &change, 1, now)
            })
            .await;
        assert_eq!(changed, store::users::ChangeOutcome::Done);
        assert_eq!(fetch(&kept).await.status(), 404);
    }
);
