//! Route enumeration: every route in the router's own table is checked for
//! CSRF, security headers, authentication and role separation.

use chorus::domain::roles::Role;
use chorus::store::users;
use chorus::web::{Access, route_table};

use crate::backend_test;
use crate::helpers::*;

/// Public routes, by design; anything else found public is a mistake.
const PUBLIC_PREFIXES: &[&str] = &[
    "/login",
    "/logout",
    "/setup/",
    "/invite/",
    "/healthz",
    "/static/",
    "/password/forgot",
    "/password/reset/",
    "/unsubscribe/",
    // Calendar apps send no cookies: the secret in the address decides.
    "/calendar/",
    // The API's description; it holds no data.
    "/api/v1/openapi.json",
    // Link-preview images, named by their SHA-256: shown in queues and,
    // later, in digests read in mail clients (no cookies there).
    "/previews/",
];

/// A concrete path for a route pattern: numbers for numeric ids, an unknown
/// UUID for receipts, a bogus token for one-time links.
fn example_path(path: &str, id: i64) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let mut depth = 0;
        let mut end = start;
        for (i, c) in rest[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let segment = &rest[start + 1..end];
        let value = if segment.contains("\\d") {
            id.to_string()
        } else if segment.contains("0-9a-f") {
            "00000000-0000-4000-8000-000000000000".to_string()
        } else if segment.starts_with("table") {
            "posts".to_string()
        } else if segment == "file" && out.ends_with("/icons/") {
            "linkedin.svg".to_string()
        } else if segment == "file" {
            "chorus.css".to_string()
        } else {
            "no-such-token".to_string()
        };
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn example_paths_fill_every_placeholder() {
    assert_eq!(
        example_path("/admin/people/{id:\\d+}/deactivate", 7),
        "/admin/people/7/deactivate"
    );
    assert_eq!(
        example_path("/me/receipts/{id:[0-9a-f-]+}.json", 7),
        "/me/receipts/00000000-0000-4000-8000-000000000000.json"
    );
    assert_eq!(example_path("/setup/{token}", 1), "/setup/no-such-token");
    for spec in route_table() {
        assert!(
            !example_path(spec.path, 1).contains(['{', '}']),
            "{}",
            spec.path
        );
    }
}

fn has_security_headers(response: &reqwest::Response) -> Result<(), String> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = header("content-security-policy");
    for directive in [
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ] {
        if !csp.contains(directive) {
            return Err(format!("CSP lacks {directive}: {csp:?}"));
        }
    }
    if csp.contains("unsafe-inline") || csp.contains("unsafe-eval") {
        return Err(format!("CSP allows unsafe scripts: {csp}"));
    }
    if header("x-content-type-options") != "nosniff" {
        return Err("no X-Content-Type-Options: nosniff".into());
    }
    if header("referrer-policy").is_empty() {
        return Err("no Referrer-Policy".into());
    }
    Ok(())
}

backend_test!(
    async fn only_login_setup_invitations_health_and_assets_are_public(app) {
        let _ = &app;
        for spec in route_table() {
            if spec.access == Access::Public {
                assert!(
                    PUBLIC_PREFIXES.iter().any(|p| spec.path.starts_with(p)),
                    "{} {} is public but not on the list of public routes",
                    spec.method,
                    spec.path
                );
            }
        }
    }
);

backend_test!(
    async fn every_post_route_refuses_a_missing_or_foreign_csrf_token(app) {
        app.login_as("all@example.com", "employee,comms,admin").await;
        let target = app.create_user("target@example.com", "Target", "employee").await;
        let other = app.create_user("other@example.com", "Other", "employee,comms,admin").await;
        let _ = other;
        let other_client = app.login_client("other@example.com").await;
        let foreign_token = app.csrf_token_with(&other_client, "/").await;
        let own_token = app.csrf_token_with(&app.client, "/").await;
        let mut checked = 0;
        // RFC 8058 one-click unsubscribe is the one POST without a token;
        // the JSON API takes no cookie, so CSRF cannot apply (see api_v1::).
        for spec in route_table()
            .into_iter()
            .filter(|s| s.method == "POST" && !chorus::web::auth::session::exempt_from_csrf(s.path))
            .filter(|s| !matches!(s.access, Access::Token(_)))
        {
            let path = example_path(spec.path, target);
            let url = app.url(&path);
            let missing = app.client.post(&url).form(&[("name", "Changed")]).send().await.unwrap();
            assert_eq!(missing.status(), 403, "POST {path} without a token");
            assert!(has_security_headers(&missing).is_ok(), "POST {path}: headers on the 403 page");
            let body = missing.text().await.unwrap();
            assert!(body.contains("could not be accepted"), "POST {path}: explains the refusal");

            let foreign = app
                .client
                .post(&url)
                .form(&[("csrf_token", foreign_token.as_str()), ("name", "Changed")])
                .send()
                .await
                .unwrap();
            assert_eq!(foreign.status(), 403, "POST {path} with another session's token");

            let cross_site = app
                .client
                .post(&url)
                .header("origin", "https://evil.example")
                .form(&[("csrf_token", own_token.as_str()), ("name", "Changed")])
                .send()
                .await
                .unwrap();
            assert_eq!(cross_site.status(), 403, "POST {path} from another origin");
            checked += 1;
        }
        assert!(checked >= 10, "the table lists the POST routes ({checked})");
        // Nothing the refused requests asked for happened.
        let person = app.db(move |conn| users::find(conn, target)).await.unwrap();
        assert!(person.active);
        assert_eq!(person.name, "Target");
        assert_eq!(app.get("/").await.status(), 200, "still logged in: logout was refused too");
    }
);

backend_test!(
    async fn every_page_carries_the_security_headers_and_no_store(app) {
        let id = app.login_as("all@example.com", "employee,comms,admin").await;
        for spec in route_table().into_iter().filter(|s| s.method == "GET") {
            let path = example_path(spec.path, id);
            let response = app.get(&path).await;
            assert!(
                response.status().as_u16() < 500,
                "GET {path}: {}",
                response.status()
            );
            if let Err(problem) = has_security_headers(&response) {
                panic!("GET {path}: {problem}");
            }
            let cache = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
            if path.starts_with("/static/") {
                assert!(cache.unwrap().contains("public"), "assets may be cached");
            } else {
                assert_eq!(cache.as_deref(), Some("no-store"), "GET {path}");
            }
        }
        let missing = app.get("/nowhere").await;
        assert!(has_security_headers(&missing).is_ok());
    }
);

backend_test!(
    async fn every_route_but_the_public_ones_requires_a_session(app) {
        let id = app.create_user("someone@example.com", "Someone", "employee").await;
        let anonymous = new_client();
        let token = app.csrf_token_with(&anonymous, "/login").await;
        for spec in route_table().into_iter().filter(|s| s.access != Access::Public) {
            let path = example_path(spec.path, id);
            if spec.access == Access::Operator {
                // Operator routes take a token, not a session; none is configured here.
                let response = anonymous.get(app.url(&path)).send().await.unwrap();
                assert_eq!(response.status(), 404, "{} {path}", spec.method);
                continue;
            }
            if let Access::Token(_) = spec.access {
                // API routes take a bearer token, not a session: 401 in JSON.
                let response = anonymous
                    .request(reqwest::Method::from_bytes(spec.method.as_str().as_bytes()).unwrap(), app.url(&path))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 401, "{} {path}", spec.method);
                let body = response.text().await.unwrap();
                assert!(body.contains("\"code\":\"unauthorized\""), "{} {path}: {body}", spec.method);
                continue;
            }
            let response = if spec.method == "GET" {
                anonymous.get(app.url(&path)).send().await.unwrap()
            } else {
                anonymous
                    .post(app.url(&path))
                    .form(&[("csrf_token", token.as_str())])
                    .send()
                    .await
                    .unwrap()
            };
            assert_eq!(response.status(), 303, "{} {path}", spec.method);
            assert!(location(&response).starts_with("/login"), "{} {path}", spec.method);
        }
    }
);

backend_test!(
    async fn each_role_is_refused_on_the_other_roles_routes(app) {
        let target = app.create_user("target@example.com", "Target", "employee").await;
        let mut clients = Vec::new();
        for role in Role::ALL {
            let email = format!("only-{}@example.com", role.as_str());
            app.create_user(&email, "Single Role", role.as_str()).await;
            clients.push((role, app.login_client(&email).await));
        }
        let mut refusals = 0;
        for spec in route_table() {
            let allowed: Vec<Role> = match spec.access {
                Access::Role(required) => vec![required],
                Access::AnyRole(roles) => roles.to_vec(),
                _ => continue,
            };
            let path = example_path(spec.path, target);
            for (role, client) in &clients {
                if allowed.contains(role) {
                    continue;
                }
                let response = if spec.method == "GET" {
                    client.get(app.url(&path)).send().await.unwrap()
                } else {
                    let token = app.csrf_token_with(client, "/").await;
                    client
                        .post(app.url(&path))
                        .form(&[("csrf_token", token.as_str()), ("name", "Changed")])
                        .send()
                        .await
                        .unwrap()
                };
                assert_eq!(response.status(), 403, "{} {path} as {role:?}", spec.method);
                refusals += 1;
            }
        }
        assert!(refusals > 0);
        let person = app.db(move |conn| users::find(conn, target)).await.unwrap();
        assert!(person.active && person.name == "Target", "refused requests changed nothing");
    }
);

backend_test!(
    async fn oversized_and_malformed_bodies_get_a_4xx_page_not_a_500(app) {
        app.login_as("admin@example.com", "admin").await;
        let token = app.csrf_token_with(&app.client, "/").await;
        let huge = "x".repeat(200 * 1024);
        let response = app
            .client
            .post(app.url("/admin/people/new"))
            .form(&[("csrf_token", token.as_str()), ("name", huge.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);
        assert!(response.text().await.unwrap().contains("Too much data"));

        // Missing fields: validation messages, not a crash.
        let response = app
            .client
            .post(app.url("/admin/people/new"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("Enter an email address"));

        // Invalid UTF-8 in a form field.
        let mut body = format!("csrf_token={token}&email=").into_bytes();
        body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
        let response = app
            .client
            .post(app.url("/admin/people/new"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());

        // A query string that does not parse.
        let response = app.get("/admin/people?page=many").await;
        assert_eq!(response.status(), 400);
    }
);
