//! Storage faults at start-up, with the real binary: a read-only data
//! directory, a full one, and an existing database on a file system that has
//! since become read-only. Each runs in its own user and mount namespace
//! (`unshare -rm`) on a tiny tmpfs, so the host is never touched and it works
//! as root too, where `chmod` would not stop a write. Every case must end
//! with exit code 1 and one line on stderr that names the path and the
//! cause, never with a panic or a server that starts and fails later.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// The one line saying what went wrong.
    fn error_line(&self) -> &str {
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(lines.len(), 1, "one error line: {}", self.describe());
        lines[0]
    }

    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Exit 1, one line naming `path` and `cause`, no panic.
    fn assert_refused(&self, path: &Path, cause: &str) {
        assert_eq!(self.code, Some(1), "{}", self.describe());
        assert!(!self.stderr.contains("panicked"), "{}", self.describe());
        let line = self.error_line();
        assert!(
            line.contains(&path.display().to_string()) && line.contains(cause),
            "the error names {} and {cause:?}: {line}",
            path.display()
        );
    }
}

/// Mounts a tmpfs of `size` on `mount` in a fresh namespace, runs `setup`
/// (sh, `$M` is the mount point, `$CHORUS` the binary), then runs chorus
/// with `args`. A chorus that is still running after 30 s is killed and
/// reported as such (exit code None).
fn in_namespace(
    mount: &Path,
    size: &str,
    setup: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Outcome {
    let script = format!(
        "M=\"$1\"; shift; \
         mount -t tmpfs -o size={size} chorus-test \"$M\" && {setup} \
         || {{ echo 'namespace setup failed' >&2; exit 99; }}; \
         exec \"$CHORUS\" \"$@\""
    );
    let mut command = Command::new("unshare");
    command
        .args(["-rm", "sh", "-c", &script, "sh"])
        .arg(mount)
        .args(args)
        .env("CHORUS", env!("CARGO_BIN_EXE_chorus"))
        .env("CHORUS_DATA_DIR", mount)
        .env("CHORUS_BIND", "127.0.0.1:0")
        .env("CHORUS_LOG", "warn")
        .env("CHORUS_JOBS_INTERVAL_SECONDS", "0")
        .env_remove("CHORUS_DATABASE_URL")
        .env_remove("CHORUS_SMTP_URL")
        .env_remove("CHORUS_SECRET_KEY")
        .env_remove("CHORUS_BASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("unshare runs");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let outcome = Outcome {
        code,
        stdout: readers.0.join().unwrap(),
        stderr: readers.1.join().unwrap(),
    };
    assert_ne!(outcome.code, Some(99), "{}", outcome.describe());
    outcome
}

#[test]
#[cfg_attr(
    not(chorus_unshare),
    ignore = "this machine does not permit `unshare -rm` (user and mount namespaces) to make a read-only or full file system"
)]
fn a_read_only_data_dir_is_refused_at_start_with_the_path_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path();
    // Empty and read-only: not even the outbox folder can be made.
    for command in ["migrate", "serve"] {
        let outcome = in_namespace(m, "64k", "mount -o remount,ro \"$M\"", &[], &[command]);
        outcome.assert_refused(&m.join("outbox"), "Read-only file system");
        assert!(
            outcome
                .error_line()
                .contains("cannot create the email outbox folder")
        );
    }
    // The folders exist, but the SQLite database cannot be created.
    for command in ["migrate", "serve"] {
        let outcome = in_namespace(
            m,
            "64k",
            "mkdir \"$M/outbox\" && mount -o remount,ro \"$M\"",
            &[],
            &[command],
        );
        outcome.assert_refused(m, "Read-only file system");
        assert!(
            outcome
                .error_line()
                .contains("cannot write the data directory"),
            "{}",
            outcome.describe()
        );
        assert!(
            !outcome.stdout.contains("listening"),
            "{}",
            outcome.describe()
        );
    }
    // A data directory still to be made, on a read-only file system.
    let outcome = in_namespace(
        m,
        "64k",
        "mount -o remount,ro \"$M\"",
        &[("CHORUS_DATA_DIR", &format!("{}/data", m.display()))],
        &["serve"],
    );
    outcome.assert_refused(&m.join("data"), "Read-only file system");
    assert!(
        outcome
            .error_line()
            .contains("cannot create the data directory")
    );
}

#[test]
#[cfg_attr(
    not(chorus_unshare),
    ignore = "this machine does not permit `unshare -rm` (user and mount namespaces) to make a read-only or full file system"
)]
fn a_read_only_secret_key_or_outbox_stops_serve_but_not_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("data");
    std::fs::create_dir(&m).unwrap();
    // The database lives elsewhere and can be written; the data dir cannot.
    let elsewhere = tempfile::tempdir().unwrap();
    let database = elsewhere.path().join("chorus.db");
    let database = database.to_str().unwrap();
    let read_only = "mkdir \"$M/outbox\" && mount -o remount,ro \"$M\"";
    let migrate = in_namespace(
        &m,
        "64k",
        read_only,
        &[("CHORUS_DATABASE_URL", database)],
        &["migrate"],
    );
    assert_eq!(
        migrate.code,
        Some(0),
        "migrate needs no key: {}",
        migrate.describe()
    );
    let serve = in_namespace(
        &m,
        "64k",
        read_only,
        &[("CHORUS_DATABASE_URL", database)],
        &["serve"],
    );
    serve.assert_refused(&m.join("secret.key"), "Read-only file system");
    assert!(
        serve.error_line().contains("secret key file"),
        "{}",
        serve.describe()
    );

    // With the key given, the outbox folder (where emails are written when
    // no SMTP server is set) is the next thing that must be writable.
    let key = (
        "CHORUS_SECRET_KEY",
        "a-secret-key-long-enough-for-csrf-tokens",
    );
    let outbox_read_only =
        "mkdir \"$M/outbox\" && mount -t tmpfs -o ro,size=16k chorus-outbox \"$M/outbox\"";
    let serve = in_namespace(
        &m,
        "64k",
        outbox_read_only,
        &[("CHORUS_DATABASE_URL", database), key],
        &["serve"],
    );
    serve.assert_refused(&m.join("outbox"), "Read-only file system");
    assert!(
        serve.error_line().contains("outbox folder"),
        "{}",
        serve.describe()
    );
}

#[test]
#[cfg_attr(
    not(chorus_unshare),
    ignore = "this machine does not permit `unshare -rm` (user and mount namespaces) to make a read-only or full file system"
)]
fn a_full_data_dir_is_refused_at_start_with_the_path_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path();
    // dd stops with "No space left on device" once the tmpfs is full.
    let fill = "mkdir \"$M/outbox\" && { dd if=/dev/zero of=\"$M/filler\" bs=4k count=1000 2>/dev/null; [ -s \"$M/filler\" ]; }";
    for command in ["migrate", "serve"] {
        let outcome = in_namespace(m, "64k", fill, &[], &[command]);
        outcome.assert_refused(m, "No space left on device");
        assert!(
            outcome
                .error_line()
                .contains("cannot write the data directory"),
            "{}",
            outcome.describe()
        );
    }
}

#[test]
#[cfg_attr(
    not(chorus_unshare),
    ignore = "this machine does not permit `unshare -rm` (user and mount namespaces) to make a read-only or full file system"
)]
fn an_existing_database_on_a_now_read_only_file_system_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path();
    // A working installation first (migrated, key written), then the file
    // system turns read-only, as after an I/O error or a full-disk remount.
    let installed_then_read_only = "\"$CHORUS\" migrate >/dev/null 2>&1 && [ -s \"$M/chorus.db\" ] \
         && mount -o remount,ro \"$M\"";
    for command in ["migrate", "serve"] {
        let outcome = in_namespace(m, "16m", installed_then_read_only, &[], &[command]);
        outcome.assert_refused(m, "Read-only file system");
        assert!(
            outcome
                .error_line()
                .contains("cannot write the data directory"),
            "{}",
            outcome.describe()
        );
    }
}
