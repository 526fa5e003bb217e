use crate::backend_test;
use crate::helpers::*;

backend_test!(
    async fn healthz_answers_200_when_the_database_answers(app) {
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains("database reachable"));
    }
);

backend_test!(
    async fn unknown_addresses_get_a_404_page_with_security_headers(app) {
        let response = app.get("/no/such/page").await;
        assert_eq!(response.status(), 404);
        assert!(response.headers().contains_key("content-security-policy"));
        let body = response.text().await.unwrap();
        assert!(body.contains("Page not found"), "{body}");
    }
);

/// The database going away must show as 503, not as a hang or a 500.
#[actix_web::test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
async fn healthz_answers_503_when_postgres_is_gone() {
    let app = spawn_app(Backend::Postgres).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let name = app.database.as_ref().unwrap().name.clone();
    {
        use diesel::{Connection, RunQueryDsl};
        let mut admin = diesel::PgConnection::establish(&postgres_url()).unwrap();
        diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .unwrap();
    }
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("not reachable"));
    // Pages answer 503 with a page too, not a 500.
    let page = app.get("/login").await;
    assert_eq!(page.status(), 200, "the login page needs no database");
    let client = new_client();
    let response = client
        .get(app.url("/"))
        .header("cookie", "chorus_session=whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("briefly unavailable")
    );
}

backend_test!(
    async fn pages_link_a_fingerprinted_stylesheet_that_is_cached_for_a_year(app) {
        let page = app.get_html("/login").await;
        let start = page.find("href=\"/static/chorus-").expect("a fingerprinted stylesheet") + 6;
        let href = &page[start..start + page[start..].find('"').unwrap()];
        let response = app.get(href).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
        assert!(response.text().await.unwrap().contains(".site-header"));
        assert_eq!(app.get("/static/chorus-0000000000.css").await.status(), 404);
    }
);

/// PostgreSQL going away under a running server: pages answer 503 (not a
/// hang, not a 500) and service resumes by itself when the database is back.
#[actix_web::test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
async fn a_postgres_outage_gives_503_and_service_resumes_by_itself() {
    use diesel::{Connection, RunQueryDsl};
    let mut app = spawn_app(Backend::Postgres).await;
    app.login_as("emp@example.com", "employee").await;
    assert_eq!(app.get("/me/data").await.status(), 200);
    let name = app.database.as_ref().unwrap().name.clone();
    let admin_sql = |sql: String| {
        let mut admin = diesel::PgConnection::establish(&postgres_url()).unwrap();
        diesel::sql_query(sql).execute(&mut admin).unwrap();
    };
    admin_sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    admin_sql(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    let started = std::time::Instant::now();
    let during = app.get("/me/data").await;
    assert_eq!(during.status(), 503);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "answered, did not hang"
    );
    assert!(during.headers().contains_key("retry-after"));
    assert!(during.text().await.unwrap().contains("briefly unavailable"));
    assert_eq!(app.get("/healthz").await.status(), 503);

    admin_sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    let mut recovered = false;
    for _ in 0..20 {
        if app.get("/me/data").await.status() == 200 {
            recovered = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(recovered, "service resumes without a restart");
}
