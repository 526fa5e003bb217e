//! Turns on the PostgreSQL half of the test suite when
//! CHORUS_TEST_POSTGRES_URL is set, and the browser test when
//! CHORUS_TEST_BROWSER is set. Without them those tests are listed as
//! "ignored" with the reason, so a run says plainly what it skipped.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(chorus_pg_tests)");
    println!("cargo::rustc-check-cfg=cfg(chorus_browser_tests)");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CHORUS_TEST_BROWSER");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var("CHORUS_TEST_POSTGRES_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=chorus_pg_tests");
    }
    if std::env::var("CHORUS_TEST_BROWSER").is_ok_and(|v| !v.trim().is_empty() && v != "0") {
        println!("cargo::rustc-cfg=chorus_browser_tests");
    }
}
