//! Fuzzes the JSON API from its own OpenAPI document with schemathesis,
//! against a real `chorus serve` (the binary) on a seeded SQLite database and
//! a valid read-write token: no 5xx, and every answer conforms to the
//! document (status codes, content types, headers, schemas).
//!
//! Needs schemathesis' `st`: set CHORUS_TEST_SCHEMATHESIS to its path when
//! building the tests (`.ci/run` installs it into target/schemathesis-venv
//! from tests/api/schemathesis-requirements.txt); otherwise the test is
//! listed as ignored with that reason.

use std::process::{Command, Stdio};
use std::time::Duration;

use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::email::EmailAddress;
use chorus::domain::names::PersonName;
use chorus::domain::platforms::Platform;
use chorus::domain::roles::Roles;
use chorus::domain::schedule::Caps;
use chorus::store::{self, accounts, api_tokens, consent, posts, shares};
use diesel::RunQueryDsl;

/// Cases per operation: enough to find crashes and schema drift, small
/// enough to keep the whole fuzz well under two minutes.
const MAX_EXAMPLES: &str = "30";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One person with every role (so one token reaches every operation), a
/// colleague, platforms, a policy, consent, published posts and shares.
fn seed(database: &std::path::Path) -> String {
    let url = database.to_string_lossy().to_string();
    let mut conn = chorus::db::establish(&url).expect("database opens");
    chorus::db::run_migrations(&mut conn).expect("migrations apply");
    let now = chrono::Utc::now().naive_utc();
    let person = |conn: &mut chorus::db::DbConnection, email: &str, roles: &str| {
        let new_user = store::users::NewUser {
            email: EmailAddress::parse(email).unwrap(),
            name: PersonName::parse("Fuzz Person").unwrap(),
            roles: Roles::parse_list(roles).unwrap(),
            department: None,
        };
        match accounts::invite(conn, &new_user, now).unwrap() {
            accounts::InviteOutcome::Invited(user, _) => user.id,
            _ => panic!("email taken"),
        }
    };
    let me = person(&mut conn, "fuzz@example.com", "employee,comms,admin");
    let colleague = person(&mut conn, "colleague@example.com", "employee");
    diesel::sql_query(
        "UPDATE org_settings SET org_name = 'Acme', enabled_platforms = 'linkedin,x,mastodon'",
    )
    .execute(&mut conn)
    .unwrap();
    store::policy::publish(&mut conn, "# Policy", false, me, now).unwrap();
    for p in Platform::ALL {
        chorus::store::hub_caps::set_caps(
            &mut conn,
            p,
            Caps {
                per_day: 1000,
                per_week: 5000,
            },
        )
        .unwrap();
    }
    for who in [me, colleague] {
        for platform in [Platform::X, Platform::LinkedIn] {
            consent::record_choice(
                &mut conn,
                who,
                Purpose::ShareSuggestions(platform),
                Choice::Yes,
                None,
                "test",
                now,
            )
            .unwrap();
        }
    }
    for n in 0..5 {
        let id = posts::create_draft(
            &mut conn,
            &posts::PostInput {
                title: format!("Post {n}"),
                link: format!("https://example.com/news/{n}"),
                base_text: "News from Acme".into(),
                captions: vec![
                    (Platform::X, vec!["News".into()]),
                    (Platform::LinkedIn, vec!["News".into()]),
                ],
                target_all: true,
                department_ids: vec![],
                expires_at: None,
            },
            me,
            now,
        )
        .unwrap();
        if n < 4 {
            posts::schedule(&mut conn, id, now, chrono_tz::UTC, me, now).unwrap();
            shares::record(&mut conn, colleague, id, Platform::X, 1, false, now).unwrap();
        }
    }
    let (_, token) = api_tokens::create(
        &mut conn,
        &api_tokens::NewToken {
            kind: TokenKind::Personal,
            owner_id: me,
            name: "fuzz",
            scope: Scope::ReadWrite,
            expires_at: None,
        },
        now,
    )
    .unwrap();
    token
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg_attr(
    not(chorus_schemathesis),
    ignore = "schemathesis fuzz skipped: set CHORUS_TEST_SCHEMATHESIS to the path of schemathesis' st to run it"
)]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let st = option_env!("CHORUS_TEST_SCHEMATHESIS").unwrap_or("st");
    let data_dir = tempfile::tempdir().unwrap();
    let token = seed(&data_dir.path().join("chorus.db"));
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("serve")
            .env("CHORUS_DATA_DIR", data_dir.path())
            .env("CHORUS_BIND", &address)
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "0")
            .env("CHORUS_WORKERS", "2")
            .env("CHORUS_LOG", "warn")
            .env_remove("CHORUS_DATABASE_URL")
            .env_remove("CHORUS_BASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("chorus serve starts"),
    );
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(&address).is_ok()
    });
    assert!(up, "chorus serve listens on {address}");
    let report = data_dir.path().join("schemathesis");
    let output = Command::new(st)
        .args([
            "run",
            &format!("http://{address}/api/v1/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            "7",
            // One worker: on Python 3.11, hypothesis' lambda descriptions
            // (ast.parse) are not thread-safe and a second worker can make
            // schemathesis itself fail ("AST constructor recursion depth
            // mismatch"), which would say nothing about the API.
            "--workers",
            "1",
            "--no-color",
            "--report-dir",
        ])
        .arg(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache (`.schemathesis/`) goes to the temp dir, not the checkout.
        .current_dir(data_dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {st}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "schemathesis found problems (exit {:?}):\n{stdout}\n{stderr}",
        output.status.code()
    );
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis tested nothing:\n{stdout}"
    );
}
