//! `chorus demo`: a living organisation in one command.

use chorus::demo::{DEMO_PASSWORD, DemoSize, generate, has_people, settle};
use chorus::store::consent;
use diesel::RunQueryDsl;

use crate::backend_test;
use crate::helpers::*;

backend_test!(
    async fn demo_data_makes_a_working_organisation_and_is_deterministic(app) {
        let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = DemoSize { employees: 40, posts: 30, weeks: 4, seed: 11, shares: None };
        let report = app.db(move |conn| generate(conn, size, &hash, now)).await;
        assert_eq!((report.people, report.posts), (42, 30));
        assert!(report.shares > 0 && report.dismissals > 0 && report.consent_events > 0);
        assert!(app.db(has_people).await);
        app.db(settle).await;
        if app.backend() == Backend::Postgres {
            // Settled: the planner has statistics for the shares, and
            // VACUUM marked their pages all-visible (index-only scans).
            let (tuples, all_visible) = app
                .db(|conn| {
                    #[derive(diesel::QueryableByName)]
                    struct Stats {
                        #[diesel(sql_type = diesel::sql_types::Float)]
                        reltuples: f32,
                        #[diesel(sql_type = diesel::sql_types::Integer)]
                        relallvisible: i32,
                    }
                    let stats: Stats = diesel::sql_query(
                        "SELECT reltuples, relallvisible FROM pg_class WHERE relname = 'shares'",
                    )
                    .get_result(conn)?;
                    Ok((stats.reltuples, stats.relallvisible))
                })
                .await;
            assert!(tuples > 0.0 && all_visible > 0, "shares not settled: {tuples} rows, {all_visible} pages all-visible");
        }
        assert_eq!(app.db(consent::verify_all).await.unwrap(), report.consent_events);

        // Someone who opted in finds posts in their queue and can log in with the demo password.
        let employee = app
            .db(|conn| {
                use chorus::db::schema::consent_state::dsl::*;
                use diesel::prelude::*;
                Ok(consent_state
                    .filter(status.eq("given").and(purpose.eq("share_suggestions")))
                    .select(user_id)
                    .first::<i64>(conn)?)
            })
            .await;
        let email = app.db(move |conn| chorus::store::users::find(conn, employee)).await.unwrap().email;
        let client = new_client();
        let login = app
            .post_form_with(&client, "/login", &[("email", email.as_str()), ("password", DEMO_PASSWORD)])
            .await;
        assert_eq!(login.status(), 303);
        let queue = app.get_with(&client, "/queue").await.text().await.unwrap();
        assert!(queue.contains("Share on"), "the queue has posts");
        let admin = new_client();
        app.post_form_with(&admin, "/login", &[("email", "admin@demo.example"), ("password", DEMO_PASSWORD)]).await;
        let reports = app.get_with(&admin, "/admin/reports").await;
        assert_eq!(reports.status(), 200);

        // The same seed gives the same organisation.
        let other = spawn_app(Backend::Sqlite).await;
        let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
        let again = other.db(move |conn| generate(conn, size, &hash, now)).await;
        assert_eq!((again.shares, again.dismissals, again.consent_events), (report.shares, report.dismissals, report.consent_events));
    }
);

/// SQLite only: PostgreSQL takes 65,535 parameters, so the same chunks
/// matter there only past that many posts.
#[actix_web::test]
async fn a_hub_with_more_live_posts_than_one_statement_may_name_still_serves_queues() {
    // At a million employees the demo's hub has 50,000 live posts, more
    // than SQLite lets one statement name (32,766 parameters): the
    // queue answered 500 there until post ids went in chunks.
    let app = spawn_app(Backend::Sqlite).await;
    let hash = chorus::credentials::hash_password(DEMO_PASSWORD).unwrap();
    let now = app.clock.now_naive();
    let size = DemoSize {
        employees: 3,
        posts: 40_000,
        weeks: 1,
        seed: 5,
        shares: Some(10),
    };
    let report = app.db(move |conn| generate(conn, size, &hash, now)).await;
    let published = app.db(chorus::store::posts::published).await;
    assert!(published.len() > 32_766, "{} live posts", published.len());
    let captioned = published.iter().filter(|p| !p.captions.is_empty()).count();
    assert!(captioned > 32_766, "read with their captions: {captioned}");
    let ids: Vec<i64> = published.iter().map(|p| p.id).collect();
    let found = app
        .db(move |conn| chorus::store::posts::find_many(conn, &ids))
        .await;
    assert_eq!(found.len(), published.len());
    let client = new_client();
    let login = app
        .post_form_with(
            &client,
            "/login",
            &[("email", "comms@demo.example"), ("password", DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), 303);
    let queue = app.get_with(&client, "/queue").await;
    assert_eq!(queue.status(), 200, "{} posts", report.posts);
}

#[test]
fn the_demo_command_fills_an_empty_database_once_and_prints_the_logins() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
            .args(["demo", "--employees", "25", "--posts", "10"])
            .env_remove("CHORUS_DATABASE_URL")
            .env("CHORUS_DATA_DIR", dir.path())
            .env("CHORUS_LOG", "warn")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("admin@demo.example")
            && stdout.contains(DEMO_PASSWORD)
            && stdout.contains("27 people")
    );
    // Not on a terminal: a plain line as each stage ends, no bar drawing.
    for stage in [
        "people: 27 done in",
        "consent events:",
        "posts: 10 done in",
        "shares:",
    ] {
        assert!(stdout.contains(stage), "a line for {stage:?}:\n{stdout}");
    }
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains('\u{1b}'),
        "no bar drawn: {stderr:?}"
    );
    let second = run();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has people"));
}

/// `chorus serve --demo`, the demo command of the README: on an empty database
/// it fills the demo organisation, prints the logins and serves it; the
/// printed admin login works. On a database with people it adds nothing.
#[actix_web::test]
async fn serve_with_demo_fills_an_empty_database_and_serves_it_with_the_printed_logins() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let serve = || {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
            .args(["serve", "--demo"])
            .env_remove("CHORUS_DATABASE_URL")
            .env("CHORUS_DATA_DIR", dir.path())
            .env("CHORUS_BIND", format!("127.0.0.1:{port}"))
            .env("CHORUS_BASE_URL", format!("http://127.0.0.1:{port}"))
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "0")
            .env("CHORUS_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (child, format!("http://127.0.0.1:{port}"))
    };
    async fn ready(base: &str) {
        for _ in 0..600 {
            if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
                && r.status() == 200
            {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("chorus serve --demo did not come up within 60 s");
    }
    let stop = |mut child: std::process::Child| {
        child.kill().unwrap();
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    };

    let (child, base) = serve();
    ready(&base).await;
    let client = new_client();
    let login = client.get(format!("{base}/login")).send().await.unwrap();
    let page = login.text().await.unwrap();
    let marker = r#"name="csrf_token" value=""#;
    let start = page.find(marker).expect("a CSRF token") + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap()];
    let response = client
        .post(format!("{base}/login"))
        .header("Origin", &base)
        .form(&[
            ("email", "admin@demo.example"),
            ("password", DEMO_PASSWORD),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the printed admin login works");
    let reports = client
        .get(format!("{base}/admin/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(reports.status(), 200);
    let out = stop(child);
    assert!(
        out.contains("admin@demo.example") && out.contains(DEMO_PASSWORD),
        "the logins are printed: {out}"
    );

    let (child, base) = serve();
    ready(&base).await;
    let out = stop(child);
    assert!(
        out.contains("already has people: no demo data added"),
        "{out}"
    );
}
