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
