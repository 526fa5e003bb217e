//! The SQL cost of the busiest pages does not grow with the data: the
//! queue and the reports run the same number of queries for a small
//! organisation and for one ten times its size (no query per post, per
//! person or per share).

use chorus::demo::{DEMO_PASSWORD, DemoSize, generate};

use crate::backend_test;
use crate::helpers::*;

/// Queries one GET costs, for a client already logged in.
async fn queries_for(app: &TestApp, client: &reqwest::Client, path: &str) -> u64 {
    let before = app.state.db.queries_started();
    let response = app.get_with(client, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap();
    app.state.db.queries_started() - before
}

async fn logged_in(app: &TestApp, email: &str) -> reqwest::Client {
    let client = new_client();
    let login = app
        .post_form_with(
            &client,
            "/login",
            &[("email", email), ("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), 303, "{email} logs in");
    client
}

/// (queue, reports built, reports again) for a demo organisation of this size.
async fn page_costs(app: &TestApp, employees: usize, posts: usize) -> (u64, u64, u64) {
    let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
    let now = app.clock.now_naive();
    let size = DemoSize {
        employees,
        posts,
        weeks: 4,
        seed: 5,
        shares: None,
    };
    let report = app.db(move |conn| generate(conn, size, &hash, now)).await;
    assert!(report.shares > employees, "shares: {}", report.shares);
    let sharer = app
        .db(|conn| {
            use chorus::db::schema::{consent_state, users};
            use diesel::prelude::*;
            Ok(consent_state::table
                .inner_join(users::table.on(users::id.eq(consent_state::user_id)))
                .filter(consent_state::status.eq("given"))
                .filter(consent_state::purpose.eq("share_suggestions"))
                .select(users::email)
                .first::<String>(conn)?)
        })
        .await;
    let employee = logged_in(app, &sharer).await;
    let queue = queries_for(app, &employee, "/queue").await;
    let page = app
        .get_with(&employee, "/queue")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Share on"), "the queue lists posts");
    let admin = logged_in(app, "admin@demo.example").await;
    let built = queries_for(app, &admin, "/admin/reports?weeks=4").await;
    let again = queries_for(app, &admin, "/admin/reports?weeks=4").await;
    (queue, built, again)
}

backend_test!(
    async fn the_queue_and_the_reports_cost_the_same_queries_at_ten_times_the_size(app) {
        let small = page_costs(&app, 30, 12).await;
        let large = page_costs(&spawn_app(app.backend()).await, 300, 120).await;
        assert_eq!(small, large, "(queue, reports, reports cached): small vs ten times larger");
        let (queue, built, again) = large;
        eprintln!("queries: queue {queue}, reports {built} (built) and {again} (cached)");
        assert!(queue <= 20, "the queue runs {queue} queries");
        assert!(built <= 25, "the reports run {built} queries");
        assert!(again < built, "a second look at unchanged data reuses the report ({again} vs {built})");
    }
);
