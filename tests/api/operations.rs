//! Operating `chorus serve` as a real process: JSON logs with request ids,
//! and a graceful stop at SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chorus::db::schema::outbox;
use diesel::prelude::*;

use crate::backend_test;
use crate::helpers::*;

/// A running `chorus serve`, killed if a test ends without stopping it.
struct Served {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Served {
    fn start(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> Served {
        Served::start_with_umask(data_dir, database_url, env, None)
    }

    /// `chorus serve`, under this umask when given (through `sh`, which
    /// then becomes `chorus`: the same process).
    fn start_with_umask(
        data_dir: &std::path::Path,
        database_url: Option<&str>,
        env: &[(&str, &str)],
        umask: Option<&str>,
    ) -> Served {
        let chorus = env!("CARGO_BIN_EXE_chorus");
        let mut command = match umask {
            Some(mask) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("umask {mask} && exec \"$0\" serve"))
                    .arg(chorus);
                sh
            }
            None => {
                let mut direct = Command::new(chorus);
                direct.arg("serve");
                direct
            }
        };
        command
            .env_remove("CHORUS_SECRET_KEY")
            .env_remove("CHORUS_DATABASE_URL")
            .env_remove("CHORUS_BASE_URL")
            .env_remove("CHORUS_SMTP_URL")
            .env_remove("CHORUS_METRICS_TOKEN")
            .env_remove("CHORUS_METRICS_ADDRESS")
            .env("CHORUS_DATA_DIR", data_dir)
            .env("CHORUS_BIND", "127.0.0.1:0")
            .env("CHORUS_WORKERS", "1")
            .env("CHORUS_LOG", "info")
            .env("CHORUS_LOG_FORMAT", "text")
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = database_url {
            command.env("CHORUS_DATABASE_URL", url);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("chorus serve starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Chorus is listening on http://127.0.0.1:")
                {
                    let _ = port_tx.send(address.trim().parse::<u16>().unwrap());
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chorus serve prints its address");
        Served {
            child,
            port,
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr().iter().any(|l| l.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}: {:#?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `bound`.
    fn exit_within(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {bound:?} after SIGTERM: {:#?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[actix_web::test]
async fn json_logs_carry_each_requests_id_and_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), None, &[("CHORUS_LOG_FORMAT", "json")]);
    let client = new_client();

    let chosen = client
        .get(served.url("/login"))
        .header("X-Request-Id", "trace-4711.a_b-c")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), 200);
    assert_eq!(chosen.headers()["x-request-id"], "trace-4711.a_b-c");
    let body = chosen.text().await.unwrap();
    let token = extract_csrf_token(&body).expect("a login form");

    let unsafe_id = "x".repeat(100);
    let generated = client
        .get(served.url("/nowhere"))
        .header("X-Request-Id", unsafe_id.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(generated.status(), 404);
    let generated_id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(generated_id, unsafe_id, "an unsafe id is replaced");
    assert!(
        generated_id.len() >= 16 && generated_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{generated_id}"
    );

    // Personal data and secrets that must not reach the log.
    let email = "private.person@example.com";
    let login = client
        .post(served.url("/login?next=%2Fqueue"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        login.status().is_client_error() || login.status() == 200,
        "{}",
        login.status()
    );
    let login_id = login.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let invite = client
        .get(served.url("/invite/one-time-secret-token?ref=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(invite.status(), 404);

    served.wait_for_log(&login_id, Duration::from_secs(5));
    served.wait_for_log(&generated_id, Duration::from_secs(5));
    served.sigterm();
    assert!(served.exit_within(Duration::from_secs(15)).success());

    let lines = served.stderr();
    let mut parsed = Vec::new();
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            value["timestamp"].is_string() && value["level"].is_string(),
            "{line}"
        );
        parsed.push(value);
    }
    let of_request = |id: &str| -> Vec<&serde_json::Value> {
        parsed
            .iter()
            .filter(|v| v["span"]["request_id"] == id)
            .collect()
    };
    let chosen_lines = of_request("trace-4711.a_b-c");
    assert!(
        chosen_lines
            .iter()
            .any(|v| v["fields"]["message"] == "request"
                && v["fields"]["path"] == "/login"
                && v["fields"]["status"] == 200),
        "{lines:#?}"
    );
    let generated_lines = of_request(&generated_id);
    assert!(
        generated_lines.iter().any(|v| v["fields"]["status"] == 404),
        "{lines:#?}"
    );
    assert!(!of_request(&login_id).is_empty());
    let all = lines.join("\n");
    for secret in [
        email,
        "private.person",
        PASSWORD,
        token.as_str(),
        "one-time-secret-token",
        "ref=abc",
        "next=",
        "chorus_pre",
    ] {
        assert!(!all.contains(secret), "{secret:?} is in the log:\n{all}");
    }
    assert!(parsed.iter().any(|v| v["fields"]["message"] == "stopped"));
}

/// Starts `POST /password/forgot` (valid token and cookie) and sends half
/// of its body: a request in flight. Returns the stream and the rest.
async fn request_in_flight(served: &Served) -> (TcpStream, String) {
    // The form's CSRF token and the pre-session cookie it is bound to.
    let page = new_client()
        .get(served.url("/password/forgot"))
        .send()
        .await
        .unwrap();
    let cookie = set_cookie_named(page.headers(), "chorus_pre")
        .expect("a pre-session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = extract_csrf_token(&page.text().await.unwrap()).unwrap();
    let body = format!("csrf_token={token}&email=someone%40example.com");
    let (first, rest) = body.split_at(body.len() / 2);
    // Headers complete, body not: the request is being served. (A
    // connection that has not sent a whole request head yet is closed.)
    let mut stream = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let head = format!(
        "POST /password/forgot HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{first}",
        served.port,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    (stream, rest.to_string())
}

#[actix_web::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(
        dir.path(),
        None,
        &[
            ("CHORUS_JOBS_INTERVAL_SECONDS", "1"),
            ("CHORUS_SHUTDOWN_SECONDS", "10"),
        ],
    );
    let (mut stream, rest) = request_in_flight(&served).await;
    let signalled = Instant::now();
    served.sigterm();
    served.wait_for_log("shutting down", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("someone@example.com"),
        "the page answers the form"
    );

    let status = served.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{:#?}", served.stderr());
    assert!(signalled.elapsed() < Duration::from_secs(10));
    let log = served.stderr().join("\n");
    assert!(log.contains("background jobs stopped"), "{log}");
    // No new connections once stopping began.
    assert!(TcpStream::connect(("127.0.0.1", served.port)).is_err());
}

#[actix_web::test]
async fn a_second_sigterm_stops_at_once_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), None, &[("CHORUS_SHUTDOWN_SECONDS", "60")]);
    let (_stream, _rest) = request_in_flight(&served).await;
    served.sigterm();
    served.wait_for_log("shutting down", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "waits for the request"
    );
    served.sigterm();
    let status = served.exit_within(Duration::from_secs(5));
    assert_eq!(status.code(), Some(1));
    served.wait_for_log("second signal", Duration::from_secs(1));
}

/// An SMTP "server" that accepts connections and never says a word.
fn stalling_smtp_server() -> (u16, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
            let _ = accepted_tx.send(());
        }
    });
    (port, accepted)
}

#[derive(Queryable, Debug)]
struct Lease {
    status: String,
    lease_owner: Option<String>,
    lease_expires_at: Option<chrono::NaiveDateTime>,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
}

backend_test!(
    async fn sigterm_hands_back_an_email_claimed_but_not_sent(app) {
        let now = app.clock.now_naive();
        let new_user = chorus::store::users::NewUser {
            email: chorus::domain::email::EmailAddress::parse("invitee@example.com").unwrap(),
            name: chorus::domain::names::PersonName::parse("Invitee").unwrap(),
            roles: chorus::domain::roles::Roles::parse_list("employee").unwrap(),
            department: None,
        };
        app.db(move |conn| {
            let mail = chorus::store::accounts::MailContext {
                base_url: "http://127.0.0.1",
                mail_domain: "localhost",
            };
            chorus::store::accounts::invite_by_email(
                conn,
                &new_user,
                &mail,
                chorus::store::audit::Actor::System,
                now,
            )
            .map(|_| ())
        })
        .await;
        let lease = || async {
            app.db(|conn| {
                Ok(outbox::table
                    .select((
                        outbox::status,
                        outbox::lease_owner,
                        outbox::lease_expires_at,
                        outbox::attempts,
                        outbox::next_attempt_at,
                    ))
                    .first::<Lease>(conn)?)
            })
            .await
        };
        assert_eq!(lease().await.status, "pending");

        let (smtp_port, accepted) = stalling_smtp_server();
        let smtp_url = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
        let url = app.database.as_ref().map(|d| d.url.clone());
        let mut served = Served::start(
            &app.config.data_dir,
            url.as_deref(),
            &[
                ("CHORUS_SMTP_URL", smtp_url.as_str()),
                ("CHORUS_JOBS_INTERVAL_SECONDS", "1"),
                ("CHORUS_SHUTDOWN_SECONDS", "1"),
                ("CHORUS_MAIL_LEASE_SECONDS", "3600"),
            ],
        );
        accepted
            .recv_timeout(Duration::from_secs(20))
            .expect("the worker connects to the SMTP server");
        let claimed = lease().await;
        assert_eq!(claimed.status, "sending", "{claimed:?}");
        assert!(claimed.lease_owner.is_some());
        assert_eq!(claimed.attempts, 1);

        served.sigterm();
        let status = served.exit_within(Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{:#?}", served.stderr());

        let released = lease().await;
        assert_eq!(released.status, "pending", "{released:?}");
        assert_eq!(released.lease_owner, None);
        assert_eq!(released.lease_expires_at, None);
        assert_eq!(released.attempts, 0, "an abandoned send is not an attempt");
        assert!(
            released.next_attempt_at <= chrono::Utc::now().naive_utc(),
            "due again at once, not in an hour: {released:?}"
        );
        let log = served.stderr().join("\n");
        assert!(log.contains("handed back unsent"), "{log}");
        assert!(!log.contains("invitee@example.com"), "no address in the log: {log}");
    }
);

/// Posts the forgotten-password form as if a proxy had forwarded it for
/// `forwarded_for`; the form counts against the client address's throttle.
async fn forgot_via_proxy(
    app: &TestApp,
    client: &reqwest::Client,
    token: &str,
    forwarded_for: &str,
) -> u16 {
    // A different account each time: only the address's limit is at play.
    let email = format!(
        "someone-{}@example.com",
        forwarded_for.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    client
        .post(app.url("/password/forgot"))
        .header("X-Forwarded-For", forwarded_for)
        .form(&[("csrf_token", token), ("email", email.as_str())])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_throttle() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.trust_forwarded_for = true).await;
    let client = new_client();
    let token = app.csrf_token_with(&client, "/password/forgot").await;
    let limit = chorus::domain::login_throttle::MAX_FAILURES_PER_WINDOW;
    // The proxy (127.0.0.1, trusted by default) appends the address it saw;
    // what the client wrote itself, on the left, does not count.
    for n in 0..limit {
        let spoofed = format!("192.0.2.{n}, 203.0.113.9");
        assert_eq!(forgot_via_proxy(&app, &client, &token, &spoofed).await, 200);
    }
    assert_eq!(
        forgot_via_proxy(&app, &client, &token, "192.0.2.200, 203.0.113.9").await,
        429
    );
    assert_eq!(
        forgot_via_proxy(&app, &client, &token, "203.0.113.9, 203.0.113.10").await,
        200,
        "another client behind the proxy is not held up"
    );
}

#[actix_web::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.trust_forwarded_for = true;
        c.trusted_proxies = "10.0.0.1".into();
    })
    .await;
    let client = new_client();
    let token = app.csrf_token_with(&client, "/password/forgot").await;
    let limit = chorus::domain::login_throttle::MAX_FAILURES_PER_WINDOW;
    for n in 0..limit {
        // A fresh address each time would dodge the throttle if believed.
        let claimed = format!("198.51.100.{n}");
        assert_eq!(forgot_via_proxy(&app, &client, &token, &claimed).await, 200);
    }
    assert_eq!(
        forgot_via_proxy(&app, &client, &token, "198.51.100.250").await,
        429
    );
}

backend_test!(
    async fn logs_and_metrics_name_routes_by_pattern_and_participation_lines_carry_no_user_id(app) {
        use chorus::domain::consent::{Choice, Purpose};
        use chorus::domain::platforms::Platform;
        use chorus::store;

        const METRICS_TOKEN: &str = "metrics-token-for-log-tests-0123456789";
        let hub = app.create_user("hub@example.com", "Hub", "comms,admin").await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        let now = app.clock.now_naive();
        let post = app
            .db(move |conn| {
                diesel::sql_query("UPDATE org_settings SET org_name = 'Acme', enabled_platforms = 'linkedin,x'")
                    .execute(conn)?;
                store::policy::publish(conn, "# Policy", false, hub, now)?;
                store::consent::record_choice(conn, me, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "test", now)?;
                let input = store::posts::PostInput {
                    title: "Internal".into(),
                    link: "https://example.com/news".into(),
                    base_text: "Our news".into(),
                    captions: vec![(Platform::X, vec!["Our news".into()])],
                    target_all: true,
                    department_ids: vec![],
                    expires_at: None,
                };
                let id = store::posts::create_draft(conn, &input, hub, now)?;
                store::posts::schedule(conn, id, now, chrono_tz::UTC, hub, now)?;
                Ok(id)
            })
            .await;
        let url = app.database.as_ref().map(|d| d.url.clone());
        let mut served = Served::start(
            &app.config.data_dir,
            url.as_deref(),
            &[("CHORUS_LOG_FORMAT", "json"), ("CHORUS_METRICS_TOKEN", METRICS_TOKEN)],
        );
        let client = new_client();
        let page = client.get(served.url("/login")).send().await.unwrap().text().await.unwrap();
        let token = extract_csrf_token(&page).unwrap();
        let login = client
            .post(served.url("/login"))
            .form(&[("csrf_token", token.as_str()), ("email", "emp@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let page = client.get(served.url("/queue")).send().await.unwrap().text().await.unwrap();
        let csrf = extract_csrf_token(&page).unwrap();
        let form = [("csrf_token", csrf.as_str())];
        let mut participation_ids = Vec::new();
        let mut remember = |response: &reqwest::Response| {
            participation_ids.push(response.headers()["x-request-id"].to_str().unwrap().to_string());
        };
        for path in [
            format!("/queue/{post}/share/x"),
            format!("/queue/{post}/dismiss"),
            format!("/queue/{post}/restore"),
            format!("/queue/notices/{post}/read"),
        ] {
            let response = client.post(served.url(&path)).form(&form).send().await.unwrap();
            assert!(response.status().as_u16() < 500, "{path}: {}", response.status());
            remember(&response);
        }
        let consent = Purpose::ShareSuggestions(Platform::LinkedIn);
        let response = client
            .post(served.url("/me/consent"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("purpose", consent.name()),
                ("platform", consent.platform_slug()),
                ("choice", "yes"),
                ("instance", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "consent saved");
        remember(&response);
        for path in ["/me/consent", "/me/preferences", "/queue"] {
            let response = client.get(served.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            remember(&response);
        }
        let response = client.post(served.url("/me/preferences")).form(&form).send().await.unwrap();
        remember(&response);
        let response = client.get(served.url("/unsubscribe/some-one-time-token")).send().await.unwrap();
        remember(&response);
        // A page that is not participation keeps the user id on its line.
        let other = client.get(served.url("/me/visibility")).send().await.unwrap();
        assert_eq!(other.status(), 200);
        let other_id = other.headers()["x-request-id"].to_str().unwrap().to_string();
        let metrics = body_text(client.get(served.url("/metrics")).bearer_auth(METRICS_TOKEN)).await;
        served.wait_for_log(&other_id, Duration::from_secs(5));
        for id in &participation_ids {
            served.wait_for_log(id, Duration::from_secs(5));
        }
        served.sigterm();
        assert!(served.exit_within(Duration::from_secs(15)).success());

        let lines = served.stderr();
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        for id in &participation_ids {
            let of_request: Vec<_> = parsed.iter().filter(|v| v["span"]["request_id"] == id.as_str()).collect();
            assert!(!of_request.is_empty(), "{id}: {lines:#?}");
            for line in of_request {
                assert!(line["span"].get("user_id").is_none(), "a participation line names a user: {line}");
            }
        }
        let other_line = parsed
            .iter()
            .find(|v| v["span"]["request_id"] == other_id.as_str() && v["fields"]["message"] == "request")
            .unwrap();
        assert_eq!(other_line["span"]["user_id"], me, "{other_line}");
        let all = lines.join("\n");
        assert!(all.contains("/queue/{id}/share/{platform}"), "{all}");
        for text in [&all, &metrics] {
            for concrete in [
                format!("/queue/{post}/"),
                format!("/queue/notices/{post}"),
                "/share/x".to_string(),
                "some-one-time-token".to_string(),
            ] {
                assert!(!text.contains(&concrete), "{concrete:?} in:\n{text}");
            }
        }
        assert!(metrics.contains(r#"route="/queue/{id}/share/{platform}""#), "{metrics}");
        assert!(metrics.contains(r#"route="/queue/{id}/dismiss""#), "{metrics}");
    }
);

backend_test!(
    async fn a_fresh_install_keeps_its_files_to_its_own_user_whatever_the_umask(app) {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("new").join("data");
        let chorus = env!("CARGO_BIN_EXE_chorus");
        let pg_url = app.database.as_ref().map(|d| d.url.clone());
        let url = pg_url
            .clone()
            .unwrap_or_else(|| data_dir.join("chorus.db").to_string_lossy().into_owned());
        let migrated = Command::new("sh")
            .arg("-c")
            .arg("umask 022 && exec \"$0\" migrate")
            .arg(chorus)
            .env_remove("CHORUS_SECRET_KEY")
            .env("CHORUS_DATA_DIR", &data_dir)
            .env("CHORUS_DATABASE_URL", &url)
            .env("CHORUS_LOG", "warn")
            .output()
            .unwrap();
        assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
        // An invitation waits in the outbox: the server writes it as an .eml.
        let mut conn = chorus::db::establish(&url).unwrap();
        let new_user = chorus::store::users::NewUser {
            email: chorus::domain::email::EmailAddress::parse("invitee@example.com").unwrap(),
            name: chorus::domain::names::PersonName::parse("Invitee").unwrap(),
            roles: chorus::domain::roles::Roles::parse_list("employee").unwrap(),
            department: None,
        };
        let mail = chorus::store::accounts::MailContext {
            base_url: "http://127.0.0.1",
            mail_domain: "localhost",
        };
        chorus::store::accounts::invite_by_email(
            &mut conn,
            &new_user,
            &mail,
            chorus::store::audit::Actor::System,
            app.clock.now_naive(),
        )
        .unwrap();
        drop(conn);
        let served = Served::start_with_umask(
            &data_dir,
            pg_url.as_deref(),
            &[("CHORUS_JOBS_INTERVAL_SECONDS", "1")],
            Some("022"),
        );
        let outbox = data_dir.join("outbox");
        let deadline = Instant::now() + Duration::from_secs(20);
        let eml = loop {
            let found = std::fs::read_dir(&outbox)
                .map(|entries| {
                    entries
                        .map_while(Result::ok)
                        .map(|e| e.path())
                        .find(|p| p.extension().is_some_and(|x| x == "eml"))
                })
                .unwrap_or(None);
            if let Some(path) = found {
                break path;
            }
            assert!(Instant::now() < deadline, "no .eml written: {:#?}", served.stderr());
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(std::fs::read_to_string(&eml).unwrap().contains("invitee@example.com"));
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let mut expected = vec![
            (root.path().join("new"), 0o700),
            (data_dir.clone(), 0o700),
            (outbox.clone(), 0o700),
            (data_dir.join("secret.key"), 0o600),
            (eml.clone(), 0o600),
        ];
        if pg_url.is_none() {
            expected.push((data_dir.join("chorus.db"), 0o600));
            for companion in ["chorus.db-wal", "chorus.db-shm"] {
                let path = data_dir.join(companion);
                assert!(path.exists(), "the server runs in WAL mode: {companion}");
                expected.push((path, 0o600));
            }
        }
        for (path, want) in expected {
            assert_eq!(mode(&path), want, "{} is {:o}", path.display(), mode(&path));
        }
        served.sigterm();
    }
);

backend_test!(
    async fn consent_chains_from_before_seals_are_sealed_at_the_first_start(app) {
        use chorus::domain::consent::{Choice, Purpose};
        use chorus::domain::platforms::Platform;
        let hub = app.create_user("hub@example.com", "Hub", "comms,admin").await;
        let me = app.create_user("emp@example.com", "Emp", "employee").await;
        let now = app.clock.now_naive();
        app.db(move |conn| {
            chorus::store::policy::publish(conn, "# Policy", false, hub, now)?;
            chorus::store::consent::record_choice(conn, me, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "test", now)
                .map(|_| ())
        })
        .await;
        // As the seal migration leaves a chain written before it.
        app.db(move |conn| {
            diesel::sql_query(format!(
                "UPDATE consent_seals SET kind = 'pending', events = 0, head_hash = '', mac = '' WHERE user_id = {me}"
            ))
            .execute(conn)?;
            Ok(())
        })
        .await;
        let url = app.database.as_ref().map(|d| d.url.clone());
        let verify = || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_chorus"));
            command
                .args(["consent", "verify"])
                .env_remove("CHORUS_SECRET_KEY")
                .env_remove("CHORUS_DATABASE_URL")
                .env("CHORUS_DATA_DIR", &app.config.data_dir)
                .env("CHORUS_LOG", "warn");
            if let Some(url) = &url {
                command.env("CHORUS_DATABASE_URL", url);
            }
            command.output().unwrap()
        };
        let before = verify();
        assert_eq!(before.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&before.stderr).contains("not sealed yet"));
        let mut served = Served::start(&app.config.data_dir, url.as_deref(), &[]);
        served.wait_for_log("sealed as found", Duration::from_secs(10));
        served.sigterm();
        // Stopped so soon after start, it may die by the signal before its
        // handler is in place: how it ends is not what this test is about.
        served.exit_within(Duration::from_secs(15));
        let after = verify();
        assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stderr));
    }
);
