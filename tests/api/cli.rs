//! The `chorus` command line, run as a real process.

use std::process::{Command, Output, Stdio};

use crate::backend_test;
use crate::helpers::*;

fn chorus(data_dir: &std::path::Path, database_url: Option<&str>, args: &[&str]) -> Output {
    let url = database_url.map(|url| ("CHORUS_DATABASE_URL", url));
    chorus_with(data_dir, args, url.as_slice())
}

/// `chorus` with the data dir, quiet logs, no database URL or base URL from
/// the caller's environment, and `vars` set.
fn chorus_with(data_dir: &std::path::Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chorus"));
    command
        .args(args)
        .env_remove("CHORUS_DATABASE_URL")
        .env_remove("CHORUS_BASE_URL")
        .env("CHORUS_DATA_DIR", data_dir)
        .env("CHORUS_LOG", "warn")
        .envs(vars.iter().copied());
    command.output().expect("chorus runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_creates_the_sqlite_database_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh");
    let output = chorus(&data_dir, None, &["migrate"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("Migrations applied (SQLite)"));
    assert!(data_dir.join("chorus.db").is_file());
    // Running it again is harmless.
    assert!(chorus(&data_dir, None, &["migrate"]).status.success());
}

#[test]
fn an_unreachable_postgres_gives_its_real_error_and_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let output = chorus(
        dir.path(),
        Some("postgres://postgres@127.0.0.1:1/chorus"),
        &["migrate"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot connect to PostgreSQL"), "{stderr}");
    assert!(
        stderr.contains("Connection refused") || stderr.contains("connection"),
        "{stderr}"
    );
    assert!(!stderr.contains("multiconnection"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let output = chorus(
        dir.path(),
        Some("mysql://root@127.0.0.1/chorus"),
        &["serve"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("unsupported database URL") && stderr.contains("postgres://"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    not(chorus_pg_tests),
    ignore = "PostgreSQL half skipped: set CHORUS_TEST_POSTGRES_URL to run it"
)]
fn a_missing_postgres_database_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url("chorus_no_such_database");
    let output = chorus(dir.path(), Some(&url), &["migrate"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("chorus_no_such_database") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_data_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let output = chorus(&file.join("data"), None, &["migrate"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("cannot create the data directory"));
}

backend_test!(
    async fn user_add_prints_a_one_time_link_that_sets_the_password(app) {
        let url = app.database.as_ref().map(|d| d.url.clone());
        let data_dir = app.config.data_dir.clone();
        let output = chorus(
            &data_dir,
            url.as_deref(),
            &["user", "add", "--email", "Grace@Example.com", "--name", "Grace Hopper", "--role", "employee",
                "--role", "comms", "--department", "Engineering"],
        );
        assert!(output.status.success(), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        assert!(stdout.contains("grace@example.com (employee, comms)"), "{stdout}");
        let link = stdout.lines().find(|l| l.contains("/invite/")).expect("a link").trim().to_string();
        let path = &link[link.find("/invite/").unwrap()..];
        let page = app.get_with(&new_client(), path).await;
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("Grace Hopper"));

        let again = chorus(&data_dir, url.as_deref(),
            &["user", "add", "--email", "grace@example.com", "--name", "G", "--role", "employee"]);
        assert_eq!(again.status.code(), Some(1));
        assert!(text(&again.stderr).contains("already has an account"));

        let bad_role = chorus(&data_dir, url.as_deref(),
            &["user", "add", "--email", "x@example.com", "--name", "X", "--role", "boss"]);
        assert_eq!(bad_role.status.code(), Some(1));
        assert!(text(&bad_role.stderr).contains("Unknown role"));
    }
);

#[test]
fn serve_prints_a_setup_link_on_first_start_and_prepares_the_data_dir() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("serve")
        .env_remove("CHORUS_DATABASE_URL")
        .env_remove("CHORUS_BASE_URL")
        .env("CHORUS_DATA_DIR", dir.path())
        .env("CHORUS_BIND", "127.0.0.1:0")
        .env("CHORUS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut setup_link = None;
    for line in BufReader::new(stdout).lines().take(20) {
        let line = line.unwrap();
        if line.contains("/setup/") {
            setup_link = Some(line.trim().to_string());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let link = setup_link.expect("a setup link is printed");
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    assert!(dir.path().join("chorus.db").is_file());
    assert!(
        dir.path().join("outbox").is_dir(),
        "emails go to the outbox folder"
    );
    assert!(dir.path().join("secret.key").is_file());
}

#[test]
fn an_invalid_trusted_proxy_list_stops_serve_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = chorus_with(
        dir.path(),
        &["serve"],
        &[
            ("CHORUS_BIND", "127.0.0.1:0"),
            ("CHORUS_TRUSTED_PROXIES", "127.0.0.1, proxy.internal"),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("CHORUS_TRUSTED_PROXIES") && stderr.contains("proxy.internal"),
        "{stderr}"
    );
}

#[test]
fn zero_blocking_threads_stops_serve_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = chorus_with(
        dir.path(),
        &["serve"],
        &[
            ("CHORUS_BIND", "127.0.0.1:0"),
            ("CHORUS_BLOCKING_THREADS", "0"),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("--blocking-threads") && stderr.contains("'0'"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("chorus.db").exists(),
        "nothing is created before the configuration is understood"
    );
}
