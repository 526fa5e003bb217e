//! PostgreSQL restarted for real under load. The test makes a private
//! cluster of its own (`initdb` and `pg_ctl` in a temp dir, on a free port),
//! so the shared test server is never stopped. `chorus serve`, the real
//! binary, answers a steady stream of requests (health check and a
//! signed-in page) while the cluster is restarted and then stopped for some
//! seconds: during the outage every answer is a 503 page, in bounded time,
//! never a 500 or a hang; the process keeps running without a panic, and
//! once PostgreSQL is back the same session works again by itself. Posts
//! scheduled to publish during the restart and the outage are each
//! announced to a chat channel (a webhook receiver on loopback) once
//! PostgreSQL is back: none lost, at most the ones in flight repeated.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};

use crate::chat_receiver::Receiver;
use crate::helpers::{PASSWORD, body_text, extract_csrf_token, new_client};

/// The server's secret key of the test (kept in its data dir), which seals
/// the chat channel's webhook address.
const SECRET_KEY: &str = "outage-test-secret-key-0123456789-abcdef";
/// Posts announced during the test.
const ANNOUNCED: usize = 8;

/// How long a request may take while the database is away: the pool waits
/// up to 5 s for a connection, the health check 2 s.
const ANSWER_BOUND: Duration = Duration::from_secs(8);
const OUTAGE: Duration = Duration::from_secs(12);

/// A PostgreSQL cluster of this test's own, stopped and removed on drop
/// (also when the test fails).
struct Cluster {
    bindir: PathBuf,
    root: tempfile::TempDir,
    port: u16,
    /// initdb refuses to run as root: then every pg command runs as the
    /// `postgres` OS user.
    as_postgres: bool,
}

impl Cluster {
    fn start() -> Cluster {
        // Where build.rs found initdb and pg_ctl (or where the runner says).
        let bindir = option_env!("CHORUS_TEST_PG_BINDIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("CHORUS_TEST_PG_BINDIR").map(PathBuf::from))
            .expect("CHORUS_TEST_PG_BINDIR: the folder of initdb and pg_ctl");
        let root = tempfile::tempdir().expect("temp dir");
        let as_postgres = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        if as_postgres {
            let id = |flag: &str| -> u32 {
                let out = Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("id runs");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("a postgres OS user")
            };
            std::os::unix::fs::chown(root.path(), Some(id("-u")), Some(id("-g"))).unwrap();
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let cluster = Cluster {
            bindir,
            root,
            port,
            as_postgres,
        };
        let data = cluster.data();
        let init = cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let started = cluster.pg_ctl(&["start"]);
        assert!(started.status.success(), "pg_ctl start: {}", cluster.log());
        cluster
    }

    fn data(&self) -> String {
        self.root.path().join("data").display().to_string()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bindir.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .current_dir(self.root.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
    }

    /// `pg_ctl <action>` with this cluster's port, socket folder and log; waits.
    fn pg_ctl(&self, action: &[&str]) -> Output {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.root.path().display()
        );
        let log = self.root.path().join("server.log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60"];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args)
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
    }
}

/// Kills `chorus serve` when the test ends, passed or failed.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone)]
struct Sample {
    path: &'static str,
    sent: Instant,
    took: Duration,
    /// None: no HTTP answer at all (timeout, connection refused).
    status: Option<u16>,
    /// A 503 that says so on a page, with Retry-After.
    clear_503: bool,
}

async fn sample(client: &reqwest::Client, base: &str, path: &'static str) -> Sample {
    let sent = Instant::now();
    let response = client.get(format!("{base}{path}")).send().await;
    let (status, clear_503) = match response {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body = response.text().await.unwrap_or_default();
            let clear = retry_after
                && (body.contains("Chorus is briefly unavailable")
                    || body.contains("database not reachable"));
            (Some(status), status == 503 && clear)
        }
        Err(_) => (None, false),
    };
    Sample {
        path,
        sent,
        took: sent.elapsed(),
        status,
        clear_503,
    }
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
#[cfg_attr(
    all(chorus_pg_tests, not(chorus_pg_cluster)),
    ignore = "PostgreSQL's initdb and pg_ctl were not found (set CHORUS_TEST_PG_BINDIR or install the PostgreSQL server package)"
)]
async fn restarting_postgres_under_load_gives_503_pages_and_service_resumes_by_itself() {
    let cluster = Cluster::start();
    {
        let mut admin = diesel::PgConnection::establish(&cluster.url("postgres"))
            .expect("the private cluster answers");
        diesel::sql_query("CREATE DATABASE chorus")
            .execute(&mut admin)
            .unwrap();
    }
    let url = cluster.url("chorus");
    let receiver = Receiver::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        data_dir.path().join(chorus::ops::secret_key::FILE_NAME),
        SECRET_KEY,
    )
    .unwrap();
    // One employee with a password, made through the library on the migrated database.
    {
        use chorus::domain::{email::EmailAddress, names::PersonName, roles::Roles};
        use chorus::store::{accounts, users};
        let db = chorus::db::Db::connect_and_migrate(&url, 1).expect("migrates");
        let hash = chorus::credentials::hash_password(PASSWORD).unwrap();
        let now = chorus::clock::Clock::system().now_naive();
        db.run_sync(|conn| {
            let new_user = users::NewUser {
                email: EmailAddress::parse("emp@example.com").unwrap(),
                name: PersonName::parse("Emp Loyee").unwrap(),
                roles: Roles::parse_list("employee").unwrap(),
                department: None,
            };
            let accounts::InviteOutcome::Invited(user, _) = accounts::invite(conn, &new_user, now)?
            else {
                panic!("a fresh database");
            };
            users::set_password_hash(conn, user.id, &hash, now)?;
            // A chat channel, and posts that publish while PostgreSQL
            // restarts and is away.
            use chorus::domain::platforms::Platform;
            use chorus::store::{chat_channels, posts};
            let sealed = chorus::credentials::SecretBox::new(
                SECRET_KEY.as_bytes(),
                chorus::domain::chat::SEAL_PURPOSE,
            )
            .seal(&receiver.url("/outage"));
            let channel = chat_channels::NewChannel {
                kind: "webhook",
                name: "News",
                url_sealed: &sealed,
                url_hint: "127.0.0.1 …tage",
                target_all: true,
                department_ids: &[],
            };
            chat_channels::connect(conn, &channel, user.id, now)?;
            let caps = chorus::domain::schedule::Caps {
                per_day: 100,
                per_week: 500,
            };
            chorus::store::hub_caps::set_caps(conn, Platform::X, caps)?;
            for n in 0..ANNOUNCED {
                let input = posts::PostInput {
                    title: format!("Outage post {n}"),
                    link: format!("https://example.com/{n}"),
                    base_text: "News".into(),
                    captions: vec![(Platform::X, vec!["News".into()])],
                    target_all: true,
                    department_ids: vec![],
                    expires_at: None,
                };
                let id = posts::create_draft(conn, &input, user.id, now)?;
                let at = now + chrono::Duration::seconds(4 + 3 * n as i64);
                posts::schedule(conn, id, at, chrono_tz::UTC, user.id, now)?;
            }
            Ok::<_, chorus::store::StoreError>(())
        })
        .expect("the employee, channel and posts are created");
    }

    let stderr_path = data_dir.path().join("stderr.log");
    let mut serving = Serving(
        Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("serve")
            .env("CHORUS_DATA_DIR", data_dir.path())
            .env("CHORUS_DATABASE_URL", &url)
            .env("CHORUS_BIND", "127.0.0.1:0")
            .env("CHORUS_DB_POOL_SIZE", "4")
            .env("CHORUS_WORKERS", "2")
            // The background jobs keep running through the outage too.
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "1")
            .env("CHORUS_LOG", "warn")
            .env("CHORUS_ALLOW_PRIVATE_FETCH", "127.0.0.1")
            // A message whose outcome could not be written is sent again
            // after the lease: a short one keeps the test short.
            .env("CHORUS_MAIL_LEASE_SECONDS", "3")
            .env_remove("CHORUS_BASE_URL")
            .env_remove("CHORUS_SMTP_URL")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("chorus serve starts"),
    );
    let pid = serving.0.id();
    let stdout = serving.0.stdout.take().unwrap();
    let base = {
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .find_map(|l| l.ok().filter(|l| l.contains("Chorus is listening on")))
            .expect("chorus serve says where it listens");
        // Keep reading so that chorus never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        line.rsplit(' ').next().unwrap().trim().to_string()
    };

    // Sign in once; the same session must work after the outage.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let login_page = body_text(client.get(format!("{base}/login"))).await;
    let token = extract_csrf_token(&login_page).expect("a CSRF token");
    let login = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", "emp@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "the employee signs in");
    assert_eq!(sample(&client, &base, "/me/data").await.status, Some(200));

    // Load: four loops, two on the health check and two on a signed-in page.
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loops = Vec::new();
    for n in 0..4 {
        let (client, base, samples, stop) = (
            if n % 2 == 0 {
                new_client()
            } else {
                client.clone()
            },
            base.clone(),
            samples.clone(),
            stop.clone(),
        );
        let path = if n % 2 == 0 { "/healthz" } else { "/me/data" };
        loops.push(actix_web::rt::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let s = sample(&client, &base, path).await;
                samples.lock().unwrap().push(s);
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    let blocking = |f: Box<dyn FnOnce() -> Output + Send>| actix_web::rt::task::spawn_blocking(f);
    let pause = |d: Duration| actix_web::rt::time::sleep(d);

    pause(Duration::from_secs(2)).await;
    // 1. A fast restart: sessions are cut off mid-flight.
    let restart_at = Instant::now();
    let cluster = Arc::new(cluster);
    let c = cluster.clone();
    let restarted = blocking(Box::new(move || c.pg_ctl(&["restart", "-m", "fast"])))
        .await
        .unwrap();
    assert!(
        restarted.status.success(),
        "pg_ctl restart: {}",
        cluster.log()
    );
    let restart_took = restart_at.elapsed();
    pause(Duration::from_secs(3)).await;

    // 2. A real outage: stopped for some seconds, then started again.
    let c = cluster.clone();
    let stopped = blocking(Box::new(move || c.pg_ctl(&["stop", "-m", "fast"])))
        .await
        .unwrap();
    assert!(stopped.status.success(), "pg_ctl stop: {}", cluster.log());
    let down_at = Instant::now();
    // A person opening a page while the database is down gets the 503 page.
    let probe = sample(&client, &base, "/me/data").await;
    assert_eq!(
        probe.status,
        Some(503),
        "a signed-in page while PostgreSQL is down"
    );
    assert!(
        probe.clear_503,
        "the 503 says so on a page, with Retry-After"
    );
    assert!(probe.took <= ANSWER_BOUND, "answered in {:?}", probe.took);
    pause(OUTAGE.saturating_sub(down_at.elapsed())).await;
    let up_requested_at = Instant::now();
    let c = cluster.clone();
    let started = blocking(Box::new(move || c.pg_ctl(&["start"])))
        .await
        .unwrap();
    assert!(started.status.success(), "pg_ctl start: {}", cluster.log());
    let up_at = Instant::now();

    // Service resumes by itself: the same session gets its page again.
    let mut recovered_after = None;
    while up_at.elapsed() < Duration::from_secs(30) {
        if sample(&client, &base, "/me/data").await.status == Some(200) {
            recovered_after = Some(up_at.elapsed());
            break;
        }
        pause(Duration::from_millis(100)).await;
    }
    pause(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loops {
        l.await.unwrap();
    }
    let samples = samples.lock().unwrap().clone();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let summary = |s: &[Sample]| {
        let mut by_status = std::collections::BTreeMap::<String, usize>::new();
        for x in s {
            *by_status
                .entry(format!("{} {:?}", x.path, x.status))
                .or_default() += 1;
        }
        format!("{by_status:?}")
    };

    if std::env::var("CHORUS_TEST_DEBUG_OUTAGE").is_ok() {
        let t0 = samples[0].sent;
        for x in &samples {
            eprintln!(
                "{:>8.2?} {:>10} {:?} took {:?}",
                x.sent - t0,
                x.path,
                x.status,
                x.took
            );
        }
        eprintln!(
            "down {:?} up_req {:?} up {:?}",
            down_at - t0,
            up_requested_at - t0,
            up_at - t0
        );
    }
    let recovered_after =
        recovered_after.unwrap_or_else(|| panic!("service did not resume: {}", summary(&samples)));
    assert!(
        serving.0.try_wait().unwrap().is_none(),
        "chorus serve still runs"
    );
    assert_eq!(serving.0.id(), pid, "the very same process");
    assert!(
        !stderr.contains("panicked"),
        "no panic in chorus serve: {stderr}"
    );

    // Every request got an HTTP answer, and never a 500.
    for s in &samples {
        assert!(
            matches!(s.status, Some(200) | Some(503)),
            "{} answered {:?} after {:?}: {}\n{stderr}",
            s.path,
            s.status,
            s.took,
            summary(&samples)
        );
        if s.status == Some(503) {
            assert!(
                s.clear_503,
                "{}: a 503 says so on a page, with Retry-After",
                s.path
            );
        }
    }
    // While PostgreSQL was down: 503 pages only, each in bounded time.
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent >= down_at && s.sent + s.took <= up_requested_at)
        .collect();
    assert!(
        during.iter().any(|s| s.path == "/me/data"),
        "signed-in pages were tried during the outage"
    );
    assert!(
        during.iter().any(|s| s.path == "/healthz"),
        "the health check was tried during the outage"
    );
    for s in &during {
        assert_eq!(s.status, Some(503), "{} during the outage", s.path);
        assert!(
            s.took <= ANSWER_BOUND,
            "{} took {:?} during the outage",
            s.path,
            s.took
        );
    }
    let after: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.sent >= up_at + recovered_after)
        .collect();
    assert!(
        after.iter().all(|s| s.status == Some(200)),
        "all well after recovery: {}",
        summary(&samples)
    );

    // Every post published meanwhile is announced once PostgreSQL is back.
    let announced_by = Instant::now() + Duration::from_secs(60);
    let titles = || -> Vec<String> {
        receiver
            .received()
            .iter()
            .map(|r| r.body["title"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    while Instant::now() < announced_by {
        let distinct: std::collections::HashSet<String> = titles().into_iter().collect();
        if distinct.len() == ANNOUNCED {
            break;
        }
        pause(Duration::from_millis(200)).await;
    }
    let announced = titles();
    let distinct: std::collections::HashSet<&String> = announced.iter().collect();
    assert_eq!(
        distinct.len(),
        ANNOUNCED,
        "every post announced: {announced:?}\n{stderr}"
    );
    assert!(
        announced.len() - ANNOUNCED <= chorus::jobs::announcements::SLOTS,
        "at most the announcements in flight repeated: {announced:?}"
    );

    let slowest = during.iter().map(|s| s.took).max().unwrap_or_default();
    let total_503 = samples.iter().filter(|s| s.status == Some(503)).count();
    eprintln!(
        "outage: restart -m fast took {restart_took:?}; stopped for {:?}; {} requests during the stop, all 503, slowest {slowest:?}; \
         {total_503} 503s in all out of {} requests; service back {recovered_after:?} after PostgreSQL was up; {}",
        up_requested_at - down_at,
        during.len(),
        samples.len(),
        summary(&samples)
    );
}

#[derive(diesel::QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// Ends, from the server's side, the connection the pool hands out next.
async fn terminate_pooled_connection(db: &chorus::db::Db, admin: &mut diesel::PgConnection) {
    let pid = db
        .run(|conn| {
            Ok::<_, chorus::store::StoreError>(
                diesel::sql_query("SELECT pg_backend_pid() AS pid")
                    .get_result::<BackendPid>(conn)?
                    .pid,
            )
        })
        .await
        .unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({pid})"))
        .execute(admin)
        .unwrap();
}

/// Statements one unit of work cost the pool, checks included.
async fn statements_for(
    db: &chorus::db::Db,
    sql: &'static str,
) -> (
    u64,
    Result<usize, chorus::db::RunError<chorus::store::StoreError>>,
) {
    let before = db.queries_started();
    let outcome = db
        .run(move |conn| Ok(diesel::sql_query(sql).execute(conn)?))
        .await;
    (db.queries_started() - before, outcome)
}

#[actix_web::test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
async fn a_pooled_connection_is_tried_before_use_when_idle_or_after_a_failure_and_dropped_when_lost()
 {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let db = app.state.db.clone();
    let idle = Duration::from_millis(150);

    // Back in good order a moment ago: used again as it is.
    tokio::time::sleep(idle).await;
    assert_eq!(
        statements_for(&db, "SELECT 1").await.0,
        2,
        "idle since the app started: tried"
    );
    // (A few tries: a busy test machine may stall a thread past the window.)
    let mut counts = Vec::new();
    for _ in 0..5 {
        let (count, outcome) = statements_for(&db, "SELECT 2").await;
        assert!(outcome.is_ok());
        counts.push(count);
    }
    assert!(
        counts.contains(&1),
        "a connection just returned in good order is not tried again: {counts:?}"
    );
    // Idle for a while: tried first.
    tokio::time::sleep(idle).await;
    assert_eq!(
        statements_for(&db, "SELECT 3").await.0,
        2,
        "an idle connection is tried"
    );
    // After a failed statement: tried first, however recent.
    let (_, outcome) = statements_for(&db, "SELECT * FROM no_such_table").await;
    assert!(outcome.is_err());
    assert_eq!(
        statements_for(&db, "SELECT 4").await.0,
        2,
        "tried after a failure"
    );

    // The server ends the connection (as a restart would).
    let mut admin = diesel::PgConnection::establish(&crate::helpers::postgres_url()).unwrap();
    terminate_pooled_connection(&db, &mut admin).await;
    // Within the trust window the dead connection is handed out: the
    // statement reports the loss (a 503 for a request), and the pool drops
    // it. (Past the window, on a stalled machine, the check finds it first.)
    let (count, outcome) = statements_for(&db, "SELECT 5").await;
    match outcome {
        Err(chorus::db::RunError::Work(e)) => assert!(e.is_connection_lost(), "{e}"),
        Ok(_) => assert!(count >= 2, "only a check could have found the loss"),
        Err(e) => panic!("the lost connection is reported as such: {e}"),
    }
    let (count, outcome) = statements_for(&db, "SELECT 6").await;
    assert!(
        outcome.is_ok(),
        "a fresh connection serves the next request"
    );
    assert_eq!(count, 2, "the fresh connection is tried first");

    // Killed while idle past the window: the check finds it, no error at all.
    terminate_pooled_connection(&db, &mut admin).await;
    tokio::time::sleep(idle).await;
    assert!(
        statements_for(&db, "SELECT 7").await.1.is_ok(),
        "replaced before use"
    );
}
