//! A real Chorus per test: its own SQLite file in a temp dir, or its own
//! PostgreSQL database cloned from a migrated template, served on port 0 and
//! driven over HTTP by a cookie-keeping client with redirects off.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use actix_web::web::Data;
use chorus::clock::Clock;
use chorus::config::Config;
use chorus::credentials;
use chorus::db::DbConnection;
use chorus::domain::email::EmailAddress;
use chorus::domain::names::PersonName;
use chorus::domain::roles::Roles;
use chorus::startup::Application;
use chorus::store::{self, accounts, users};
use chorus::web::AppState;
use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::header::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const PG_ENV: &str = "CHORUS_TEST_POSTGRES_URL";
/// A post for X titled `title`, linking to example.com, for everyone.
pub fn small_post(title: &str) -> store::posts::PostInput {
    use chorus::domain::platforms::Platform;
    const TEXT: &str = "Our report is out";
    store::posts::PostInput {
        title: title.into(),
        link: format!("https://example.com/{}", title.replace(' ', "-")),
        base_text: TEXT.into(),
        captions: vec![(Platform::X, vec![TEXT.into()])],
        target_all: true,
        department_ids: vec![],
        expires_at: None,
    }
}

/// A password every test user gets; strong enough for the policy.
pub const PASSWORD: &str = "amber falcon drifts over quiet harbour";

/// Runs a test body once on SQLite and once on PostgreSQL. The PostgreSQL
/// run is "ignored" (with the reason in the test output) unless
/// CHORUS_TEST_POSTGRES_URL was set when the tests were built.
#[macro_export]
macro_rules! backend_test {
    (async fn $name:ident($app:ident) $body:block) => {
        $crate::backend_test!(async fn $name($app) configured_by |_| {}, $body);
    };
    // The same, with the Chorus of each run configured by `$adjust`.
    (async fn $name:ident($app:ident) configured_by $adjust:expr, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                #[allow(unused_mut)]
                let mut $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $adjust).await;
                $body
            }

            #[actix_web::test]
            #[cfg_attr(
                not(chorus_pg_tests),
                ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
            )]
            async fn postgres() {
                #[allow(unused_mut)]
                let mut $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $adjust).await;
                $body
            }
        }
    };
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: Data<AppState>,
    pub clock: Clock,
    pub setup_url: Option<String>,
    pub config: Config,
    /// The separate metrics address's port, when the config asks for one.
    pub metrics_port: Option<u16>,
    _data_dir: tempfile::TempDir,
    pub database: Option<PgDatabase>,
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // The server closes idle connections after 5 s (actix-web's
        // keep-alive). A client that keeps them longer can send a request on
        // a connection the server is closing at that moment, and a POST is
        // not retried: on a loaded machine that failed a test now and then
        // with "IncompleteMessage". Browsers drop idle connections sooner.
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client builds")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create()),
    };
    let mut config = Config::defaults();
    config.data_dir = data_dir.path().to_path_buf();
    config.database_url = database.as_ref().map(|d| d.url.clone());
    config.bind = "127.0.0.1:0".into();
    config.base_url = None;
    config.smtp_url = None;
    config.secret_key = None;
    // One key for every app of the test process: the consent ledger's key
    // is process-wide, as in a server. `chorus` run on the data dir reads it.
    std::fs::write(
        data_dir.path().join(chorus::ops::secret_key::FILE_NAME),
        "test-secret-key-0123456789-abcdefghijklmnop",
    )
    .expect("secret key written");
    config.db_pool_size = 4;
    config.workers = Some(1);
    config.jobs_interval_seconds = 0;
    // Posts in tests link to example.com: on a machine with a network,
    // reading their previews must not slow every save (the preview tests
    // serve their pages on loopback and set their own limits).
    config.fetch_timeout_seconds = 3;
    adjust(&mut config);
    let clock = Clock::system();
    let app = Application::build_with_clock(config.clone(), clock.clone())
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let setup_url = app.setup_url().map(str::to_string);
    let metrics_port = app.metrics_port();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: new_client(),
        state,
        clock,
        setup_url,
        config,
        metrics_port,
        _data_dir: data_dir,
        database,
    }
}

impl TestApp {
    pub fn backend(&self) -> Backend {
        if self.database.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("GET is answered")
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.expect("body")
    }

    /// The CSRF token a page gives this client (bound to its session or pre-session).
    pub async fn csrf_token_with(&self, client: &reqwest::Client, path: &str) -> String {
        let body = self
            .get_with(client, path)
            .await
            .text()
            .await
            .expect("body");
        extract_csrf_token(&body).unwrap_or_else(|| panic!("no csrf token on {path}: {body}"))
    }

    /// Posts a form with this client's valid CSRF token (taken from `token_page`).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_with(&self.client, path, fields).await
    }

    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token_page =
            if path == "/login" || path.starts_with("/setup/") || path.starts_with("/invite/") {
                path
            } else {
                "/"
            };
        let body = self
            .get_with(client, token_page)
            .await
            .text()
            .await
            .expect("body");
        let token = match extract_csrf_token(&body) {
            Some(token) => token,
            None => self.csrf_token_with(client, "/login").await,
        };
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", &token)];
        all.extend_from_slice(fields);
        client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("POST is answered")
    }

    /// Creates an active user with [`PASSWORD`] directly in the database.
    pub async fn create_user(&self, email: &str, name: &str, roles: &str) -> i64 {
        self.create_user_in(email, name, roles, None).await
    }

    pub async fn create_user_in(
        &self,
        email: &str,
        name: &str,
        roles: &str,
        department: Option<&str>,
    ) -> i64 {
        let new_user = users::NewUser {
            email: EmailAddress::parse(email).unwrap(),
            name: PersonName::parse(name).unwrap(),
            roles: Roles::parse_list(roles).unwrap(),
            department: department.map(|d| {
                chorus::domain::names::DepartmentName::parse_optional(d)
                    .unwrap()
                    .unwrap()
            }),
        };
        let hash = credentials::hash_password(PASSWORD).unwrap();
        let now = self.clock.now_naive();
        self.db(move |conn| {
            let accounts::InviteOutcome::Invited(user, _) = accounts::invite(conn, &new_user, now)?
            else {
                panic!("email taken");
            };
            users::set_password_hash(conn, user.id, &hash, now)?;
            Ok(user.id)
        })
        .await
    }

    /// Runs store code against this app's database.
    pub async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, store::StoreError> + Send + 'static,
    ) -> T {
        match self.state.db.run(work).await {
            Ok(value) => value,
            Err(e) => panic!("test database work failed: {e}"),
        }
    }

    /// Changes the organisation's settings through the store, as the
    /// settings page saves them, keeping every field `edit` leaves alone.
    pub async fn change_settings(
        &self,
        edit: impl FnOnce(&mut store::org::SettingsChange) + Send + 'static,
    ) {
        let now = self.clock.now_naive();
        self.db(move |conn| {
            let mut change = store::org::settings(conn)?.as_change();
            edit(&mut change);
            store::org::update_settings(conn, &change, now)
        })
        .await
    }

    /// Hub caps of 100 a day and 700 a week on every platform, so tests
    /// schedule and publish freely.
    pub async fn roomy_hub_caps(&self) {
        self.db(|conn| {
            for platform in chorus::domain::platforms::Platform::ALL {
                let caps = chorus::domain::schedule::Caps {
                    per_day: 100,
                    per_week: 700,
                };
                store::hub_caps::set_caps(conn, platform, caps)?;
            }
            Ok(())
        })
        .await
    }

    /// An organisation ready to publish: named Acme, on `platforms`, with a
    /// policy published by `by` and roomy hub caps.
    pub async fn ready_organisation(
        &self,
        by: i64,
        platforms: Vec<chorus::domain::platforms::Platform>,
    ) {
        self.change_settings(move |change| {
            change.org_name = "Acme".into();
            change.enabled_platforms = platforms;
        })
        .await;
        let now = self.clock.now_naive();
        self.db(move |conn| {
            store::policy::publish(conn, "# Policy\n\nShare what you like.", false, by, now)?;
            Ok(())
        })
        .await;
        self.roomy_hub_caps().await;
    }

    /// Stores `input` as a draft by `author`, through the hub's store call.
    pub async fn store_draft(&self, input: store::posts::PostInput, author: i64) -> i64 {
        let now = self.clock.now_naive();
        self.db(move |conn| store::posts::create_draft(conn, &input, author, now))
            .await
    }

    /// Stores `input` by `author` and publishes it now, as the hub does.
    pub async fn publish_post(&self, input: store::posts::PostInput, author: i64) -> i64 {
        let now = self.clock.now_naive();
        self.db(move |conn| {
            let id = store::posts::create_draft(conn, &input, author, now)?;
            let outcome = store::posts::schedule(conn, id, now, chrono_tz::UTC, author, now)?;
            assert_eq!(outcome, store::posts::ScheduleOutcome::Published);
            Ok(id)
        })
        .await
    }

    /// `user` says yes to share suggestions on `platform` (on a Mastodon
    /// `instance`, if given).
    pub async fn agree(
        &self,
        user: i64,
        platform: chorus::domain::platforms::Platform,
        instance: Option<&str>,
    ) {
        let now = self.clock.now_naive();
        let instance = instance.map(str::to_string);
        self.db(move |conn| {
            store::consent::record_choice(
                conn,
                user,
                chorus::domain::consent::Purpose::ShareSuggestions(platform),
                chorus::domain::consent::Choice::Yes,
                instance.as_deref(),
                "test",
                now,
            )?;
            Ok(())
        })
        .await
    }

    /// A new API token of `owner` (without expiry); the secret shown once.
    pub async fn api_token(
        &self,
        owner_id: i64,
        kind: chorus::domain::api_access::TokenKind,
        scope: chorus::domain::api_access::Scope,
    ) -> String {
        let now = self.clock.now_naive();
        self.db(move |conn| {
            let new = store::api_tokens::NewToken {
                kind,
                owner_id,
                name: "test",
                scope,
                expires_at: None,
            };
            store::api_tokens::create(conn, &new, now).map(|(_, token)| token)
        })
        .await
    }

    /// Logs in with a fresh client and returns it.
    pub async fn login_client(&self, email: &str) -> reqwest::Client {
        let client = new_client();
        let response = self
            .post_form_with(
                &client,
                "/login",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(response.status(), 303, "login of {email} must succeed");
        client
    }

    /// Creates a user and logs this app's own client in as them.
    pub async fn login_as(&mut self, email: &str, roles: &str) -> i64 {
        let id = self.create_user(email, "Test Person", roles).await;
        self.client = self.login_client(email).await;
        id
    }
}

/// Sends `request` and reads the answer's body as text.
pub async fn body_text(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

pub fn extract_csrf_token(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_string())
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The id of the post a hub form redirected to (`/hub/posts/{id}?…`).
pub fn redirected_post_id(response: &reqwest::Response) -> i64 {
    location(response)
        .trim_start_matches("/hub/posts/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .expect("a redirect to a post")
}

pub fn set_cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

// ---- PostgreSQL: one database per test, cloned from a migrated template ----

pub fn postgres_url() -> String {
    std::env::var(PG_ENV).unwrap_or_else(|_| {
        panic!("{PG_ENV} is not set; PostgreSQL tests need it (e.g. postgres://postgres@127.0.0.1:5432/test)")
    })
}

/// The URL of another database on the same server.
pub fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&postgres_url()).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&postgres_url()).expect("the PostgreSQL test server answers")
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    datname: String,
}

fn database_exists(conn: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .load::<DatabaseName>(conn)
        .map(|rows| !rows.is_empty())
        .unwrap_or(false)
}

/// A name that changes whenever a PostgreSQL migration changes.
fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut entries: Vec<_> = walk(&root);
    entries.sort();
    for path in entries {
        // Relative paths: every checkout of the same migrations shares one template.
        path.strip_prefix(&root)
            .unwrap_or(&path)
            .to_string_lossy()
            .hash(&mut hasher);
        std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
    }
    format!("chorus_tmpl_{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

static CREATE_LOCK: Mutex<()> = Mutex::new(());
static TEMPLATE: OnceLock<String> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn ensure_template() -> String {
    TEMPLATE
        .get_or_init(|| {
            let name = template_name();
            let mut admin = admin_connection();
            // Several test processes may start at once: one builds, others wait.
            diesel::sql_query("SELECT pg_advisory_lock(727274)")
                .execute(&mut admin)
                .unwrap();
            drop_stale_test_databases(&mut admin);
            if !database_exists(&mut admin, &name) {
                let building = format!("{name}_wip");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .execute(&mut admin)
                    .unwrap();
                diesel::sql_query(format!("CREATE DATABASE {building}"))
                    .execute(&mut admin)
                    .unwrap();
                {
                    let mut conn =
                        chorus::db::establish(&database_url(&building)).expect("template connects");
                    chorus::db::run_migrations(&mut conn).expect("template migrates");
                }
                diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(&mut admin)
                    .unwrap();
            }
            diesel::sql_query("SELECT pg_advisory_unlock(727274)")
                .execute(&mut admin)
                .unwrap();
            name
        })
        .clone()
}

/// Test databases left by a run that was killed (its process is gone):
/// only `chorus_t_{pid}_{n}`, never a template and never a live run's.
fn drop_stale_test_databases(admin: &mut PgConnection) {
    // `_` is a wildcard in LIKE; the names are checked exactly below.
    let names = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'chorus%'")
        .load::<DatabaseName>(admin)
        .unwrap_or_default();
    for DatabaseName { datname } in names {
        let parts: Vec<&str> = datname.split('_').collect();
        let pid = match parts.as_slice() {
            ["chorus", "t", pid, n] if n.parse::<u32>().is_ok() => pid.parse::<u32>().ok(),
            _ => None,
        };
        let Some(pid) = pid else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"))
                .execute(admin);
        }
    }
}

/// A database of its own for one test, dropped when the test ends.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let template = ensure_template();
        let name = format!(
            "chorus_t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut admin = admin_connection();
        let mut attempt = 0;
        loop {
            // Cloning fails while another clone of the same template runs.
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .execute(&mut admin)
            {
                Ok(_) => break,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("retrying CREATE DATABASE {name}: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(100 * attempt));
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        PgDatabase {
            url: database_url(&name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&postgres_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// A comms user (this app's client) and the form fields of a valid post.
pub async fn comms(app: &mut TestApp) -> i64 {
    app.login_as("comms@example.com", "comms").await
}

pub fn post_fields<'a>(title: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    // Extra fields come first: the server reads the first value of a name.
    let mut fields = extra.to_vec();
    fields.extend([
        ("title", title),
        ("link", "https://example.com/news/annual-report"),
        ("base_text", "Our annual report is out."),
        ("use_x", "on"),
        ("use_linkedin", "on"),
        ("target", "all"),
        ("timezone", "Europe/Berlin"),
        ("action", "save"),
    ]);
    fields
}

/// Starts a small web server on a free port of `address` (a test's own
/// site or receiver on loopback), its routes set by `configure`, and
/// returns its base URL (`http://address:port`) and its handle.
pub fn loopback_site<F>(
    address: &str,
    workers: usize,
    configure: F,
) -> (String, actix_web::dev::ServerHandle)
where
    F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = std::net::TcpListener::bind((address, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(workers)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://{address}:{port}"), handle)
}
