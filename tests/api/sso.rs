//! Single sign-on end to end, against a real OpenID provider: panva's
//! `oidc-provider` from npm (tests/oidc/provider.mjs), run by Node.js on a
//! loopback port for each test, and a real Chorus configured for it. A
//! cookie-keeping client follows every redirect by hand, as a browser
//! would; the provider's login form is replaced by a scripted
//! `/interaction/<uid>/login?account=<id>` (see provider.mjs for the
//! accounts: alice, carol and ada verified, bob not).
//!
//! Listed as ignored unless CHORUS_TEST_OIDC was set at build time (after
//! `npm ci --prefix tests/oidc`); the tests without a provider always run.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chorus::store;
use tokio::io::AsyncBufReadExt;

use crate::backend_test;
use crate::helpers::*;

const CLIENT_ID: &str = "chorus-test";
const CLIENT_SECRET: &str = "a client secret only the test provider knows";
pub const PROVIDER_NAME: &str = "Test IdP";

/// The provider process; killed when dropped.
pub struct Provider {
    pub issuer: String,
    _child: tokio::process::Child,
}

impl Provider {
    pub async fn start() -> Provider {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test provider is not installed: run `npm ci --prefix tests/oidc`"
        );
        let mut child = tokio::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts (Node.js 20 or later is needed)");
        let stdout = child.stdout.take().expect("provider stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider starts within 30 s")
            .expect("provider stdout readable")
            .expect("the provider prints its issuer");
        let ready: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let issuer = ready["issuer"].as_str().expect("issuer").to_string();
        // Keep reading, so that a later line does not hit a closed pipe.
        actix_web::rt::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("provider: {line}");
            }
        });
        Provider {
            issuer,
            _child: child,
        }
    }
}

/// Chorus configured for the provider (department from the `department` claim).
pub async fn spawn_sso_app(backend: Backend, issuer: &str) -> TestApp {
    let issuer = issuer.to_string();
    spawn_app_with(backend, move |config| {
        config.oidc_issuer_url = Some(issuer);
        config.oidc_client_id = Some(CLIENT_ID.into());
        config.oidc_client_secret = Some(CLIENT_SECRET.into());
        config.oidc_provider_name = Some(PROVIDER_NAME.into());
        config.oidc_department_claim = Some("department".into());
        config.oidc_timeout_seconds = 5;
    })
    .await
}

/// Runs a test body once on SQLite and once on PostgreSQL, each with its
/// own provider; ignored (with the reason) without CHORUS_TEST_OIDC.
macro_rules! sso_test {
    (async fn $name:ident($app:ident, $idp:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            #[cfg_attr(
                not(chorus_oidc_tests),
                ignore = "SSO test skipped: set CHORUS_TEST_OIDC=1 (needs Node.js and `npm ci --prefix tests/oidc`)"
            )]
            async fn sqlite() {
                let $idp = Provider::start().await;
                #[allow(unused_mut)]
                let mut $app = spawn_sso_app(Backend::Sqlite, &$idp.issuer).await;
                $body
            }

            #[actix_web::test]
            #[cfg_attr(
                not(chorus_oidc_tests),
                ignore = "SSO test skipped: set CHORUS_TEST_OIDC=1 (needs Node.js and `npm ci --prefix tests/oidc`)"
            )]
            #[cfg_attr(
                all(chorus_oidc_tests, not(chorus_pg_tests)),
                ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                let $idp = Provider::start().await;
                #[allow(unused_mut)]
                let mut $app = spawn_sso_app(Backend::Postgres, &$idp.issuer).await;
                $body
            }
        }
    };
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .expect("a URL")
        .to_string()
}

/// Presses "Sign in with …" on Chorus's login page: the provider's
/// authorization URL Chorus redirects to.
pub async fn start_sign_in(app: &TestApp, client: &reqwest::Client) -> String {
    let login = app.get_with(client, "/login").await;
    let token = if login.status() == 200 {
        let login = login.text().await.unwrap();
        assert!(
            login.contains(&format!("Sign in with {PROVIDER_NAME}")),
            "the login page offers the provider: {login}"
        );
        extract_csrf_token(&login).expect("csrf token")
    } else {
        // Already logged in (the login page redirects): any page's token.
        app.csrf_token_with(client, "/queue").await
    };
    let response = client
        .post(app.url("/login/oidc"))
        .form(&[("csrf_token", token.as_str()), ("next", "/queue")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        303,
        "the start redirects to the provider"
    );
    let auth_url = location(&response);
    assert!(
        auth_url.contains("code_challenge_method=S256"),
        "PKCE: {auth_url}"
    );
    assert!(auth_url.contains("nonce="), "a nonce: {auth_url}");
    auth_url
}

/// Follows the provider's redirects from the authorization URL, signs in
/// as `account` there, and returns the callback URL the provider sends the
/// browser to (not yet visited).
pub async fn sign_in_at_provider(
    client: &reqwest::Client,
    auth_url: &str,
    account: &str,
    chorus: &str,
) -> String {
    let mut url = auth_url.to_string();
    let mut signed_in = false;
    for _ in 0..10 {
        let response = client.get(&url).send().await.expect("provider answers");
        assert_eq!(
            response.status().as_u16() / 100,
            3,
            "the provider redirects at {url}: {}",
            response.text().await.unwrap_or_default()
        );
        let next = absolute(&url, &location(&response));
        if next.starts_with(chorus) {
            return next;
        }
        url = if !signed_in
            && url::Url::parse(&next)
                .unwrap()
                .path()
                .starts_with("/interaction/")
        {
            signed_in = true;
            format!("{next}/{}", action_for(account))
        } else {
            next
        };
    }
    panic!("the provider never sent the browser back to Chorus");
}

fn action_for(account: &str) -> String {
    if account == "<cancel>" {
        "abort".into()
    } else {
        format!("login?account={account}")
    }
}

/// The whole sign-in as `account`, up to the provider's callback URL.
pub async fn callback_url_for(app: &TestApp, client: &reqwest::Client, account: &str) -> String {
    let auth_url = start_sign_in(app, client).await;
    sign_in_at_provider(client, &auth_url, account, &app.address).await
}

/// A full sign-in: the response of Chorus's callback.
async fn sign_in(app: &TestApp, client: &reqwest::Client, account: &str) -> reqwest::Response {
    let callback = callback_url_for(app, client, account).await;
    client
        .get(&callback)
        .send()
        .await
        .expect("callback answered")
}

/// Confirms "sign me out" on the provider's logout page; where it sends
/// the browser afterwards.
async fn end_provider_session(client: &reqwest::Client, logout_url: &str) -> String {
    let page = client.get(logout_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the provider asks to confirm");
    let html = page.text().await.unwrap();
    let attribute = |name: &str| {
        let marker = format!("{name}=\"");
        let start = html.find(&marker).map(|i| i + marker.len())?;
        html[start..]
            .find('"')
            .map(|end| html[start..start + end].to_string())
    };
    let action = attribute("action").expect("a logout form");
    let xsrf = html
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's xsrf token")
        .to_string();
    let response = client
        .post(absolute(logout_url, &action))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16() / 100,
        3,
        "the provider signs out"
    );
    absolute(logout_url, &location(&response))
}

async fn subject_of(app: &TestApp, email: &str) -> Option<String> {
    let email = email.to_string();
    app.db(move |conn| {
        use chorus::db::schema::users;
        use diesel::prelude::*;
        Ok(users::table
            .filter(users::email.eq(email))
            .select(users::oidc_subject)
            .first::<Option<String>>(conn)?)
    })
    .await
}

async fn find_user(app: &TestApp, email: &str) -> Option<store::users::User> {
    let email = chorus::domain::email::EmailAddress::parse(email).unwrap();
    app.db(move |conn| store::users::find_by_email(conn, &email))
        .await
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    app.db(|conn| {
        Ok(store::audit::page(conn, 0, 100)?
            .0
            .into_iter()
            .map(|e| format!("{} {}", e.action, e.detail))
            .collect())
    })
    .await
}

async fn set_sso_policy(app: &TestApp, create_accounts: bool, password_login: bool) {
    app.db(move |conn| {
        store::sso::set_policy(
            conn,
            store::sso::SsoPolicy {
                create_accounts,
                password_login,
            },
            store::audit::Actor::System,
            chrono::Utc::now().naive_utc(),
        )
    })
    .await
}

sso_test! {
    async fn signing_in_links_the_account_by_verified_email_lands_on_the_queue_and_logout_ends_it(app, idp) {
        let ada = app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let client = new_client();
        // A session from before (password login) must not survive SSO login.
        let response = app
            .post_form_with(&client, "/login", &[("email", "ada@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303);
        let before = set_cookie_named(response.headers(), "chorus_session").expect("session cookie");

        let response = sign_in(&app, &client, "ada").await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert_eq!(location(&response), "/queue");
        let after = set_cookie_named(response.headers(), "chorus_session").expect("a fresh session cookie");
        assert_ne!(before, after, "login issues a fresh session id");
        let queue = app.get_with(&client, "/queue").await;
        assert_eq!(queue.status(), 200, "signed in, the queue shows");
        assert_eq!(
            app.db(move |conn| store::sessions::count_for_user(conn, ada)).await,
            1,
            "the old session ended, the new one is the only one"
        );
        assert_eq!(subject_of(&app, "ada@example.com").await.as_deref(), Some("ada"));
        assert!(audit_actions(&app).await.iter().any(|a| a.starts_with("user.sso_linked")));

        // Logout ends the Chorus session.
        let token = extract_csrf_token(&app.get_with(&client, "/queue").await.text().await.unwrap()).unwrap();
        let response = client
            .post(app.url("/logout"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let queue = app.get_with(&client, "/queue").await;
        assert_eq!(queue.status(), 303, "logged out, the queue asks to log in");
        assert_eq!(app.db(move |conn| store::sessions::count_for_user(conn, ada)).await, 0);

        // ... and goes on to the provider's logout (RP-initiated logout),
        // which ends the provider's session and sends the browser back.
        let provider_logout = location(&response);
        assert!(provider_logout.starts_with(&format!("{}/session/end?", idp.issuer)), "{provider_logout}");
        assert!(provider_logout.contains("id_token_hint="), "{provider_logout}");
        let back = end_provider_session(&client, &provider_logout).await;
        assert_eq!(back, app.url("/login"));
        let auth_url = start_sign_in(&app, &client).await;
        let at_provider = client.get(&auth_url).send().await.unwrap();
        assert!(
            location(&at_provider).contains("/interaction/"),
            "signed out at the provider too: it asks who you are again"
        );

        // Linked now: the next sign-in finds the account by its subject.
        let again = new_client();
        let response = sign_in(&app, &again, "ada").await;
        assert_eq!(response.status(), 303);
        assert_eq!(app.get_with(&again, "/queue").await.status(), 200);
    }
}

sso_test! {
    async fn first_sign_in_creates_an_employee_with_the_department_claim_when_the_admin_allows_it(app, _idp) {
        app.login_as("boss@example.com", "admin").await;
        let response = app
            .post_form("/admin/settings/sso", &[("create_accounts", "on"), ("password_login", "on")])
            .await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert!(
            audit_actions(&app).await.iter().any(|a| a == "settings.sso accounts created at first SSO sign-in on"),
            "the setting change is audit-logged"
        );

        let client = new_client();
        let response = sign_in(&app, &client, "alice").await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert_eq!(location(&response), "/queue");
        assert_eq!(app.get_with(&client, "/queue").await.status(), 200);
        let alice = find_user(&app, "alice@example.com").await.expect("account created");
        assert_eq!(alice.name, "Alice Aalto");
        assert_eq!(alice.department.as_deref(), Some("Engineering"));
        assert!(alice.roles.employee && !alice.roles.comms && !alice.roles.admin, "employee only");
        assert_eq!(alice.password_hash, None, "no password");
        assert!(audit_actions(&app).await.iter().any(|a| a.starts_with("user.created_by_sso")));

        // Her data export names the link; without a password she erases her
        // account by typing her email address, and the link goes with it.
        let export = app.get_with(&client, "/me/data.json").await.text().await.unwrap();
        assert!(export.contains("\"singleSignOnSubject\": \"alice\""), "{export}");
        let token = app.csrf_token_with(&client, "/me/delete").await;
        let response = client
            .post(app.url("/me/delete"))
            .form(&[("csrf_token", token.as_str()), ("confirm_email", "someone@example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "the wrong address deletes nothing");
        let response = client
            .post(app.url("/me/delete"))
            .form(&[("csrf_token", token.as_str()), ("confirm_email", "Alice@Example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login?erased=1");
        assert!(find_user(&app, "alice@example.com").await.is_none(), "erased");
        let erased_subject = app
            .db(move |conn| store::sso::subject_of(conn, alice.id))
            .await;
        assert_eq!(erased_subject, None, "the erased tombstone keeps no subject");
    }
}

sso_test! {
    async fn first_sign_in_without_an_account_is_refused_when_account_creation_is_off(app, _idp) {
        let client = new_client();
        let response = sign_in(&app, &client, "carol").await;
        assert_eq!(response.status(), 403);
        let page = response.text().await.unwrap();
        assert!(page.contains("No Chorus account for you yet"), "{page}");
        assert!(page.contains("href=\"/login\""), "a way back: {page}");
        assert!(find_user(&app, "carol@example.com").await.is_none(), "no account created");
        assert_eq!(app.get_with(&client, "/queue").await.status(), 303, "not logged in");
    }
}

sso_test! {
    async fn an_unverified_email_is_refused_even_for_an_existing_account(app, _idp) {
        set_sso_policy(&app, true, true).await;
        app.create_user("bob@example.com", "Bob Builder", "employee").await;
        let client = new_client();
        let response = sign_in(&app, &client, "bob").await;
        assert_eq!(response.status(), 403);
        let page = response.text().await.unwrap();
        assert!(page.contains("Your email address is not verified"), "{page}");
        assert_eq!(subject_of(&app, "bob@example.com").await, None, "not linked");
        assert_eq!(app.get_with(&client, "/queue").await.status(), 303, "not logged in");
    }
}

sso_test! {
    async fn a_deactivated_account_is_refused(app, _idp) {
        let admin = app.create_user("boss@example.com", "Boss", "admin").await;
        let dora = app.create_user("dora@example.com", "Dora", "employee").await;
        let now = app.clock.now_naive();
        app.db(move |conn| store::users::set_active(conn, dora, false, admin, now)).await;
        let client = new_client();
        let response = sign_in(&app, &client, "dora").await;
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("Your account is deactivated"));
        assert_eq!(app.get_with(&client, "/queue").await.status(), 303);
    }
}

/// The callback URL with one query parameter replaced.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

sso_test! {
    async fn a_wrong_state_is_refused_and_the_real_one_still_signs_in(app, _idp) {
        app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let client = new_client();
        let callback = callback_url_for(&app, &client, "ada").await;
        let forged = with_param(&callback, "state", "forged-state");
        let response = client.get(&forged).send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert!(set_cookie_named(response.headers(), "chorus_session").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains("This sign-in cannot be completed"), "{page}");
        assert!(page.contains("href=\"/login\""), "a way back: {page}");
        assert_eq!(app.get_with(&client, "/queue").await.status(), 303, "not logged in");
    }
}

sso_test! {
    async fn a_callback_carried_to_another_browser_or_replayed_is_refused(app, _idp) {
        app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let victim = new_client();
        let callback = callback_url_for(&app, &victim, "ada").await;

        // Another browser (login CSRF, a leaked link): no sign-in of its own.
        let other = new_client();
        let response = other.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(app.get_with(&other, "/queue").await.status(), 303, "not logged in");

        // The browser that started it signs in, once.
        let response = victim.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 303, "the real browser signs in");
        let replay = victim.get(&callback).send().await.unwrap();
        assert_eq!(replay.status(), 400, "a replayed callback is refused");
        assert!(set_cookie_named(replay.headers(), "chorus_session").is_none());
    }
}

sso_test! {
    async fn an_id_token_carrying_another_nonce_is_refused(app, _idp) {
        app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let client = new_client();
        let auth_url = start_sign_in(&app, &client).await;
        // Tampered on its way to the provider: the ID token then carries a
        // nonce this sign-in never issued.
        let tampered = with_param(&auth_url, "nonce", "a-nonce-chorus-never-issued");
        let callback = sign_in_at_provider(&client, &tampered, "ada", &app.address).await;
        let response = client.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let page = response.text().await.unwrap();
        assert!(page.contains("does not belong to this sign-in"), "{page}");
        assert_eq!(app.get_with(&client, "/queue").await.status(), 303, "not logged in");
    }
}

sso_test! {
    async fn a_sign_in_cancelled_at_the_provider_gives_a_page_with_a_way_back(app, _idp) {
        let client = new_client();
        let callback = callback_url_for(&app, &client, "<cancel>").await;
        assert!(callback.contains("error=access_denied"), "{callback}");
        let response = client.get(&callback).send().await.unwrap();
        assert_eq!(response.status(), 401);
        let page = response.text().await.unwrap();
        assert!(page.contains("cancelled or refused at Test IdP"), "{page}");
        assert!(page.contains("href=\"/login\""), "{page}");
    }
}

sso_test! {
    async fn with_password_login_off_only_the_provider_signs_in_and_the_cli_turns_passwords_back_on(app, _idp) {
        app.login_as("admin@example.com", "admin").await;
        // Not yet signed in with SSO: the admin may not lock themselves out.
        let response = app.post_form("/admin/settings/sso", &[]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("Sign in with single sign-on once yourself"));

        let admin_client = new_client();
        assert_eq!(sign_in(&app, &admin_client, "admin").await.status(), 303);
        app.client = admin_client;
        let response = app.post_form("/admin/settings/sso", &[]).await;
        assert_eq!(response.status(), 303, "{:?}", response.text().await);
        assert!(audit_actions(&app).await.iter().any(|a| a == "settings.sso password login off"));

        let visitor = new_client();
        let login = app.get_with(&visitor, "/login").await.text().await.unwrap();
        assert!(login.contains("Sign in with Test IdP"), "{login}");
        assert!(!login.contains("action=\"/login\""), "no password form: {login}");
        assert!(!login.contains("/password/forgot"), "no reset link: {login}");
        let response = app
            .post_form_with(&visitor, "/login", &[("email", "admin@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 403);
        assert!(response.text().await.unwrap().contains("Password login is turned off here"));
        assert_eq!(app.get_with(&visitor, "/password/forgot").await.status(), 403);
        assert_eq!(app.get_with(&visitor, "/password/reset/some-token").await.status(), 403);
        // The provider still signs people in.
        assert_eq!(sign_in(&app, &visitor, "admin").await.status(), 303);

        // Break-glass: `chorus user password-login on` on the server.
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
        command
            .args(["user", "password-login", "on"])
            .env_remove("CHORUS_DATABASE_URL")
            .env("CHORUS_DATA_DIR", &app.config.data_dir)
            .env("CHORUS_LOG", "warn");
        if let Some(url) = &app.config.database_url {
            command.env("CHORUS_DATABASE_URL", url);
        }
        let output = command.output().expect("chorus runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let fresh = new_client();
        let response = app
            .post_form_with(&fresh, "/login", &[("email", "admin@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303, "password login works again");
        assert!(audit_actions(&app).await.iter().any(|a| a == "settings.sso password login on"));
    }
}

// ---- without a provider: these always run ---------------------------------

backend_test! {
    async fn an_unreachable_provider_leaves_password_login_working_and_says_so(app) {
        // A port nothing listens on: connection refused at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
        drop(closed);
        let app = spawn_sso_app(app.backend(), &issuer).await;
        app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let client = new_client();
        let login = app.get_with(&client, "/login").await.text().await.unwrap();
        assert!(login.contains("Sign in with Test IdP") && login.contains("action=\"/login\""));
        let token = extract_csrf_token(&login).unwrap();
        let started = std::time::Instant::now();
        let response = client
            .post(app.url("/login/oidc"))
            .form(&[("csrf_token", token.as_str()), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(6), "bounded by the timeout");
        assert_eq!(response.status(), 503);
        let page = response.text().await.unwrap();
        assert!(page.contains("Test IdP did not answer"), "{page}");
        assert!(page.contains("log in with your email and password"), "{page}");
        let response = app
            .post_form_with(&client, "/login", &[("email", "ada@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303, "password login still works");
    }
}

backend_test! {
    async fn without_sso_configured_there_is_no_button_and_passwords_cannot_be_turned_off(app) {
        let login = app.get_html("/login").await;
        assert!(!login.contains("Sign in with"), "{login}");
        app.login_as("boss@example.com", "admin").await;
        let page = app.get_html("/admin/settings/sso").await;
        assert!(page.contains("Single sign-on is not configured"), "{page}");
        let response = app.post_form("/admin/settings/sso", &[]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("only be turned off while single sign-on is configured"));
        assert_eq!(app.post_form_with(&new_client(), "/login/oidc", &[]).await.status(), 404);
        assert_eq!(app.get("/login/oidc/callback?code=x&state=y").await.status(), 404);
    }
}

sso_test! {
    async fn two_callbacks_at_once_sign_in_exactly_once(app, _idp) {
        app.create_user("ada@example.com", "Ada Lovelace", "employee").await;
        let client = new_client();
        let callback = callback_url_for(&app, &client, "ada").await;
        // The same callback twice at the same moment (a double click, a
        // replay racing the real one): the sign-in is taken once.
        let (first, second) = tokio::join!(
            client.get(&callback).send(),
            client.get(&callback).send()
        );
        let mut statuses = [first.unwrap().status().as_u16(), second.unwrap().status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [303, 400], "one sign-in, one refusal");
    }
}
