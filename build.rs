//! Turns on the PostgreSQL half of the test suite when
//! CHORUS_TEST_POSTGRES_URL is set, and the browser test when
//! CHORUS_TEST_BROWSER is set, the single sign-on tests (a real OpenID
//! provider on Node.js, tests/oidc) when CHORUS_TEST_OIDC is set, and the
//! API fuzz test when CHORUS_TEST_SCHEMATHESIS names schemathesis' `st`.
//! Without them those tests are listed as
//! "ignored" with the reason, so a run says plainly what it skipped.
//!
//! The fault tests need tools of the machine: PostgreSQL's own `initdb` and
//! `pg_ctl` (a private cluster the test may restart) and `unshare -rm` (a
//! read-only or full file system without touching the host). Where they are
//! missing, those tests too are "ignored" with the reason.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(chorus_pg_tests)");
    println!("cargo::rustc-check-cfg=cfg(chorus_browser_tests)");
    println!("cargo::rustc-check-cfg=cfg(chorus_oidc_tests)");
    println!("cargo::rustc-check-cfg=cfg(chorus_pg_cluster)");
    println!("cargo::rustc-check-cfg=cfg(chorus_unshare)");
    println!("cargo::rustc-check-cfg=cfg(chorus_schemathesis)");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_SCHEMATHESIS");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_BROWSER");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_OIDC");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_PG_BINDIR");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var("CHORUS_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=chorus_pg_tests");
    }
    if std::env::var("CHORUS_TEST_BROWSER").is_ok_and(|v| !v.trim().is_empty() && v != "0") {
        println!("cargo::rustc-cfg=chorus_browser_tests");
    }
    if std::env::var("CHORUS_TEST_OIDC").is_ok_and(|v| !v.trim().is_empty() && v != "0") {
        println!("cargo::rustc-cfg=chorus_oidc_tests");
    }
    // The API fuzz test: the path of schemathesis' `st` (.ci/run installs it
    // into target/schemathesis-venv).
    if let Ok(st) = std::env::var("CHORUS_TEST_SCHEMATHESIS")
        && !st.trim().is_empty()
        && st != "0"
    {
        println!("cargo::rustc-cfg=chorus_schemathesis");
        println!("cargo::rustc-env=CHORUS_TEST_SCHEMATHESIS={st}");
    }
    if let Some(bindir) = postgres_bindir() {
        println!("cargo::rustc-cfg=chorus_pg_cluster");
        println!(
            "cargo::rustc-env=CHORUS_TEST_PG_BINDIR={}",
            bindir.display()
        );
    }
    if unshare_permitted() {
        println!("cargo::rustc-cfg=chorus_unshare");
    }
}

/// CHORUS_TEST_PG_BINDIR, else the newest Debian-style
/// /usr/lib/postgresql/<major>/bin holding both initdb and pg_ctl.
fn postgres_bindir() -> Option<PathBuf> {
    let usable = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(dir) = std::env::var("CHORUS_TEST_PG_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|d| usable(d));
    }
    let root = Path::new("/usr/lib/postgresql");
    println!("cargo::rerun-if-changed={}", root.display());
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, bin)| usable(bin))
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}

/// Whether this machine lets an unprivileged user and mount namespace be
/// made (`unshare -rm`), in which a test may mount a tiny or read-only tmpfs.
fn unshare_permitted() -> bool {
    std::process::Command::new("unshare")
        .args(["-rm", "true"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
