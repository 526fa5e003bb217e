//! Accounts: first-run setup, login, sessions, logout, passwords, throttling.

use chorus::store::{self, users};

use crate::backend_test;
use crate::helpers::*;

const ADMIN_PASSWORD: &str = "violet canyon whispers at dawn";

backend_test!(
    async fn the_setup_link_creates_the_first_admin_once(app) {
        let setup_url = app.setup_url.clone().expect("a fresh Chorus offers a setup link");
        let path = setup_url.strip_prefix(&app.address).unwrap().to_string();
        assert_eq!(app.get(&path).await.status(), 200);

        // A refused form keeps what was typed (never the password) and explains.
        let response = app
            .post_form(&path, &[("org_name", "Acme Widgets"), ("name", "Ada Admin"),
                ("email", "not-an-email"), ("password", "short")])
            .await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("value=\"Acme Widgets\""), "org name kept");
        assert!(body.contains("value=\"Ada Admin\""), "name kept");
        assert!(body.contains("value=\"not-an-email\""), "email kept");
        assert!(body.contains("name@example.com"), "email explained");
        assert!(body.contains("at least 15"), "password rule explained");
        assert!(!body.contains("short\""), "the password is never echoed");

        // The organisation's name may not be the password.
        let response = app
            .post_form(&path, &[("org_name", "Acme Widgets"), ("name", "Ada Admin"),
                ("email", "ada@example.com"), ("password", "acme widgets rule the world")])
            .await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("organisation"));

        let response = app
            .post_form(&path, &[("org_name", "Acme Widgets"), ("name", "Ada Admin"),
                ("email", "Ada@Example.com"), ("password", ADMIN_PASSWORD)])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/admin/people");
        let people = app.get_html("/admin/people").await;
        assert!(people.contains("ada@example.com"));

        // The link is spent: it cannot make a second admin.
        assert_eq!(app.get(&path).await.status(), 404);
        let other = new_client();
        let response = app
            .post_form_with(&other, &path, &[("org_name", "Evil"), ("name", "Mallory"),
                ("email", "mallory@example.com"), ("password", ADMIN_PASSWORD)])
            .await;
        assert_eq!(response.status(), 404);
        let org = app.db(store::org::settings).await;
        assert_eq!(org.org_name, "Acme Widgets");
    }
);

backend_test!(
    async fn no_setup_link_is_offered_once_an_admin_exists(app) {
        app.create_user("boss@example.com", "Boss", "admin").await;
        let config = app.config.clone();
        let again = chorus::startup::Application::build(config).await.unwrap();
        assert!(again.setup_url().is_none());
    }
);

backend_test!(
    async fn unknown_user_and_wrong_password_get_the_same_answer(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let unknown = app
            .post_form("/login", &[("email", "nobody@example.com"), ("password", PASSWORD)])
            .await;
        let wrong = app
            .post_form("/login", &[("email", "emp@example.com"), ("password", "not the right password at all")])
            .await;
        assert_eq!(unknown.status(), 422);
        assert_eq!(wrong.status(), 422);
        let unknown = unknown.text().await.unwrap();
        let wrong = wrong.text().await.unwrap();
        let message = "That email and password do not match an active account.";
        assert!(unknown.contains(message) && wrong.contains(message));
        assert!(wrong.contains("value=\"emp@example.com\""), "the email is kept");
    }
);

backend_test!(
    async fn login_issues_a_fresh_session_and_logout_ends_it(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        // A session id planted before login (fixation) is never adopted:
        // login always issues a fresh one.
        let planted = "planted-session-id-planted-session-id-1234";
        let page = new_client().get(app.url("/login")).send().await.unwrap();
        let pre = set_cookie_named(page.headers(), "chorus_pre").unwrap();
        let pre = pre.split(';').next().unwrap().to_string();
        let token = extract_csrf_token(&page.text().await.unwrap()).unwrap();
        let response = new_client()
            .post(app.url("/login"))
            .header("cookie", format!("{pre}; chorus_session={planted}"))
            .form(&[("csrf_token", token.as_str()), ("email", "emp@example.com"), ("password", PASSWORD),
                ("next", "/me/password")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/me/password");
        let cookie = set_cookie_named(response.headers(), "chorus_session").expect("session cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"));
        let session_id = cookie.split(';').next().unwrap().trim_start_matches("chorus_session=").to_string();
        assert_eq!(session_id.len(), 43, "256 random bits, base64url");
        assert_ne!(session_id, planted);
        let planted_only = new_client()
            .get(app.url("/"))
            .header("cookie", format!("chorus_session={planted}"))
            .send()
            .await
            .unwrap();
        assert_eq!(planted_only.status(), 303, "the planted id opens nothing");

        // Only a hash of the id is stored.
        let user_id = app
            .db(|conn| users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("emp@example.com").unwrap()))
            .await
            .unwrap()
            .id;
        assert_eq!(app.db(move |conn| store::sessions::count_for_user(conn, user_id)).await, 1);
        let stolen_db_value = chorus::credentials::token_hash(&session_id);
        let thief = new_client();
        let response = thief
            .get(app.url("/"))
            .header("cookie", format!("chorus_session={stolen_db_value}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "the stored hash is not a session id");

        let session_cookie = format!("chorus_session={session_id}");
        let start = new_client().get(app.url("/")).header("cookie", &session_cookie).send().await.unwrap();
        assert_eq!(start.status(), 200);
        let token = extract_csrf_token(&start.text().await.unwrap()).unwrap();
        let response = new_client()
            .post(app.url("/logout"))
            .header("cookie", &session_cookie)
            .form(&[("csrf_token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login");
        assert_eq!(app.db(move |conn| store::sessions::count_for_user(conn, user_id)).await, 0);

        // Replaying the old cookie after logout does not work.
        let replay = new_client()
            .get(app.url("/"))
            .header("cookie", format!("chorus_session={session_id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 303);
        assert!(location(&replay).starts_with("/login"));
    }
);

backend_test!(
    async fn sessions_end_after_the_idle_timeout_and_the_absolute_limit(app) {
        app.login_as("emp@example.com", "employee").await;
        assert_eq!(app.get("/").await.status(), 200);
        // Active use keeps the session alive within the idle timeout ...
        app.clock.advance(chrono::Duration::minutes(100));
        assert_eq!(app.get("/").await.status(), 200);
        app.clock.advance(chrono::Duration::minutes(100));
        assert_eq!(app.get("/").await.status(), 200);
        // ... but idleness past it ends the session.
        app.clock.advance(chrono::Duration::minutes(121));
        let response = app.get("/me/password").await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login?next=%2Fme%2Fpassword");

        // The absolute limit holds even for a busy session.
        app.client = app.login_client("emp@example.com").await;
        for _ in 0..12 {
            app.clock.advance(chrono::Duration::minutes(59));
            assert_eq!(app.get("/").await.status(), 200);
        }
        app.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(app.get("/").await.status(), 303, "12 hours after login the session ends");
    }
);

const WRONG: &str = "wrong wrong wrong wrong";

/// Tries to log `client` in as `email` with `password`; the status.
async fn try_login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.post_form_with(
        client,
        "/login",
        &[("email", email), ("password", password)],
    )
    .await
}

/// A browser that signed in to `email` once and signed out: it keeps only
/// its device cookie.
async fn known_browser(app: &TestApp, email: &str) -> reqwest::Client {
    let client = app.login_client(email).await;
    assert_eq!(
        app.post_form_with(&client, "/logout", &[]).await.status(),
        303
    );
    client
}

fn retry_after(response: &reqwest::Response) -> i64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

backend_test!(
    async fn repeated_failures_from_unknown_browsers_make_the_account_wait_a_few_minutes(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let free = chorus::domain::login_throttle::ACCOUNT.free;
        for attempt in 1..=free + 1 {
            let response = try_login(&app, &new_client(), "emp@example.com", WRONG).await;
            assert_eq!(response.status(), 422, "attempt {attempt}");
        }
        let response = try_login(&app, &new_client(), "emp@example.com", PASSWORD).await;
        assert_eq!(response.status(), 429);
        assert!((1..=60).contains(&retry_after(&response)), "{}", retry_after(&response));
        assert!(response.text().await.unwrap().contains("Too many failed attempts"));

        // An unknown account name is throttled just the same: no enumeration.
        for _ in 1..=free + 1 {
            try_login(&app, &new_client(), "ghost@example.com", WRONG).await;
        }
        assert_eq!(try_login(&app, &new_client(), "ghost@example.com", WRONG).await.status(), 429);

        app.clock.advance(chrono::Duration::seconds(61));
        let response = try_login(&app, &new_client(), "emp@example.com", PASSWORD).await;
        assert_eq!(response.status(), 303, "after the wait the right password works");
    }
);

backend_test!(
    async fn an_account_under_attack_signs_in_at_once_from_its_known_browser_and_soon_from_a_new_one(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let known = known_browser(&app, "emp@example.com").await;
        // Attackers elsewhere guess for hours, one request per wait.
        for _ in 0..60 {
            let response = try_login(&app, &new_client(), "emp@example.com", WRONG).await;
            assert!([422, 429].contains(&response.status().as_u16()));
            app.clock.advance(chrono::Duration::minutes(3));
        }
        for _ in 0..40 {
            try_login(&app, &new_client(), "emp@example.com", WRONG).await;
        }
        // The known browser is never held up.
        assert_eq!(try_login(&app, &known, "emp@example.com", PASSWORD).await.status(), 303);
        // A new browser waits at most a few minutes.
        let fresh = new_client();
        let response = try_login(&app, &fresh, "emp@example.com", PASSWORD).await;
        assert_eq!(response.status(), 429);
        let wait = retry_after(&response);
        assert!(wait <= 5 * 60, "a new browser waits {wait} s");
        app.clock.advance(chrono::Duration::seconds(wait + 1));
        assert_eq!(try_login(&app, &fresh, "emp@example.com", PASSWORD).await.status(), 303);
    }
);

backend_test!(
    async fn a_flood_of_failures_or_resets_from_one_address_never_blocks_a_known_browser(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let known = known_browser(&app, "emp@example.com").await;
        let limit = chorus::domain::login_throttle::MAX_FAILURES_PER_WINDOW;
        for n in 0..=limit {
            let email = format!("guess{n}@example.com");
            assert_eq!(try_login(&app, &new_client(), &email, WRONG).await.status(), 422);
        }
        // Untrusted attempts from the address now wait, whatever the account.
        let response = try_login(&app, &new_client(), "another@example.com", WRONG).await;
        assert_eq!(response.status(), 429);
        assert!(retry_after(&response) <= 5 * 60);
        // Resets from the same address pile up too.
        let anonymous = new_client();
        let mut refused = false;
        for n in 0..=limit + 1 {
            let email = format!("reset{n}@example.com");
            let response = app.post_form_with(&anonymous, "/password/forgot", &[("email", email.as_str())]).await;
            refused |= response.status() == 429;
        }
        assert!(refused, "one address cannot ask for unlimited resets");
        // The browser that signed in before still gets in at once.
        assert_eq!(try_login(&app, &known, "emp@example.com", PASSWORD).await.status(), 303);
    }
);

backend_test!(
    async fn reset_requests_never_block_logins(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let anonymous = new_client();
        let limit = chorus::domain::login_throttle::MAX_FAILURES_PER_WINDOW;
        let mut statuses = Vec::new();
        for n in 0..=limit + 1 {
            let email = if n % 2 == 0 { "emp@example.com".to_string() } else { format!("other{n}@example.com") };
            let response = app.post_form_with(&anonymous, "/password/forgot", &[("email", email.as_str())]).await;
            statuses.push(response.status().as_u16());
        }
        assert!(statuses.contains(&429), "resets have their limits: {statuses:?}");
        // A new browser, same address, same account: the password works.
        assert_eq!(try_login(&app, &new_client(), "emp@example.com", PASSWORD).await.status(), 303);
    }
);

backend_test!(
    async fn re_entered_passwords_are_throttled_like_a_login_and_nothing_is_erased(app) {
        let id = app.login_as("emp@example.com", "employee").await;
        let free = chorus::domain::login_throttle::DEVICE.free;
        let token = app.csrf_token_with(&app.client, "/me/delete").await;
        let delete = |password: &'static str| {
            app.client
                .post(app.url("/me/delete"))
                .form(&[("csrf_token", token.as_str()), ("password", password), ("confirm_email", "")])
                .send()
        };
        for attempt in 1..=free + 1 {
            assert_eq!(delete("not my password at all").await.unwrap().status(), 422, "attempt {attempt}");
        }
        let response = delete(PASSWORD).await.unwrap();
        assert_eq!(response.status(), 429, "even the right password waits");
        let wait = retry_after(&response);
        assert!((1..=60).contains(&wait));
        // Changing the password is the same check, on the same bucket.
        let response = app
            .client
            .post(app.url("/me/password"))
            .form(&[("csrf_token", token.as_str()), ("current_password", PASSWORD),
                ("new_password", "marble otter juggles seven lanterns")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert!(app.db(move |conn| users::find(conn, id)).await.is_some(), "not erased");

        // After the wait the right password is taken.
        app.clock.advance(chrono::Duration::seconds(wait + 1));
        assert_eq!(delete(PASSWORD).await.unwrap().status(), 303);
    }
);

backend_test!(
    async fn a_weaker_stored_hash_is_replaced_at_the_next_login(app) {
        let id = app.create_user("emp@example.com", "Emp", "employee").await;
        use argon2::password_hash::PasswordHasher;
        let weak = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
        let now = app.clock.now_naive();
        app.db(move |conn| users::set_password_hash(conn, id, &weak, now)).await;
        app.login_client("emp@example.com").await;
        let stored = app.db(move |conn| users::find(conn, id)).await.unwrap().password_hash.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
    }
);

backend_test!(
    async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(app) {
        app.login_as("emp@example.com", "employee").await;
        let other_device = app.login_client("emp@example.com").await;
        assert_eq!(app.get_with(&other_device, "/").await.status(), 200);

        let token = app.csrf_token_with(&app.client, "/me/password").await;
        let response = app
            .client
            .post(app.url("/me/password"))
            .form(&[("csrf_token", token.as_str()), ("current_password", "not my password at all"),
                ("new_password", "tiny")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("not your current password"));
        assert!(body.contains("at least 15"));

        let new_password = "marble otter juggles seven lanterns";
        let response = app
            .client
            .post(app.url("/me/password"))
            .form(&[("csrf_token", token.as_str()), ("current_password", PASSWORD),
                ("new_password", new_password)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/me/password?changed=1");
        assert!(app.get_html("/me/password?changed=1").await.contains("Your password was changed"));
        assert_eq!(app.get_with(&other_device, "/").await.status(), 303, "the other device is logged out");

        let fresh = new_client();
        let old = app
            .post_form_with(&fresh, "/login", &[("email", "emp@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(old.status(), 422);
        let new = app
            .post_form_with(&fresh, "/login", &[("email", "emp@example.com"), ("password", new_password)])
            .await;
        assert_eq!(new.status(), 303);
    }
);

backend_test!(
    async fn login_redirects_only_to_paths_on_this_site(app) {
        app.create_user("emp@example.com", "Emp", "employee").await;
        let response = app
            .post_form("/login", &[("email", "emp@example.com"), ("password", PASSWORD),
                ("next", "//evil.example/phish")])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/");
    }
);

/// With an https base URL, cookies are Secure with the __Host- prefix and HSTS is sent.
#[actix_web::test]
async fn https_deployments_get_host_prefixed_secure_cookies_and_hsts() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.base_url = Some("https://chorus.example.com".into());
    })
    .await;
    app.create_user("emp@example.com", "Emp", "employee").await;
    let page = new_client().get(app.url("/login")).send().await.unwrap();
    assert!(
        page.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    let pre = set_cookie_named(page.headers(), "__Host-chorus_pre").expect("pre-session cookie");
    assert!(
        pre.contains("Secure")
            && pre.contains("HttpOnly")
            && pre.contains("Path=/")
            && !pre.contains("Domain")
    );
    let pre_value = pre.split(';').next().unwrap().to_string();
    let token = extract_csrf_token(&page.text().await.unwrap()).unwrap();
    let response = new_client()
        .post(app.url("/login"))
        .header("cookie", pre_value)
        .header("origin", "https://chorus.example.com")
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "emp@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let session =
        set_cookie_named(response.headers(), "__Host-chorus_session").expect("session cookie");
    assert!(
        session.contains("Secure")
            && session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
    );
}

backend_test!(
    async fn an_unknown_account_costs_the_same_work_as_a_wrong_password(app) {
        // Timing is noisy, so compare medians with a wide margin: what matters
        // is that an unknown account also pays for a full argon2 verification.
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for n in 0..5 {
            let email = format!("user{n}@example.com");
            app.create_user(&email, "User", "employee").await;
            let ghost = format!("ghost{n}@example.com");
            for (who, times) in [(email.as_str(), &mut known), (ghost.as_str(), &mut unknown)] {
                let client = new_client();
                let token = app.csrf_token_with(&client, "/login").await;
                let started = std::time::Instant::now();
                let response = client
                    .post(app.url("/login"))
                    .form(&[("csrf_token", token.as_str()), ("email", who), ("password", "wrong wrong wrong wrong")])
                    .send()
                    .await
                    .unwrap();
                times.push(started.elapsed());
                assert_eq!(response.status(), 422);
            }
        }
        known.sort();
        unknown.sort();
        let (known, unknown) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
        assert!(
            unknown > known * 0.5 && unknown < known * 2.0,
            "median wrong password {known:.3}s vs unknown account {unknown:.3}s"
        );
    }
);

backend_test!(
    async fn famous_passphrases_and_breached_passwords_are_refused_as_new_passwords(app) {
        app.login_as("emp@example.com", "employee").await;
        let token = app.csrf_token_with(&app.client, "/me/password").await;
        for known in ["correct horse battery staple", "correcthorsebatterystaple", "1qaz2wsx3edc4rfv"] {
            let response = app
                .client
                .post(app.url("/me/password"))
                .form(&[("csrf_token", token.as_str()), ("current_password", PASSWORD), ("new_password", known)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 422, "{known}");
            let body = response.text().await.unwrap();
            assert!(body.contains("known from breaches") || body.contains("too common"), "{known}: {body}");
        }
        // The old password still works: nothing was changed.
        app.login_client("emp@example.com").await;
    }
);
