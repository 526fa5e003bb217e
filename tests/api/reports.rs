//! Reports: aggregates only, every figure through the disclosure-control
//! path (shifted by its cell key, small groups suppressed), the same figure
//! the same on the page, in CSV and in the API, and no route that ties a
//! person to what they did. The statistical attack suite, on the builder
//! and through the database, is in report_attacks.rs.

use chorus::domain::api_access::{Scope, TokenKind};
use chorus::domain::consent::{Choice, Purpose};
use chorus::domain::platforms::Platform;
use chorus::domain::schedule::Caps;

use chorus::db::schema::{self, users};
use chorus::domain::reports::{Facts, PostFact};
use chorus::store::{self, consent, posts, shares};
use diesel::prelude::*;

use crate::backend_test;
use crate::helpers::*;

/// A post for everyone with an X caption, published now.
fn publish_for_everyone(
    conn: &mut chorus::db::DbConnection,
    title: &str,
    hub: i64,
    now: chrono::NaiveDateTime,
) -> Result<i64, store::StoreError> {
    let post = posts::create_draft(
        conn,
        &posts::PostInput {
            title: title.into(),
            link: format!("https://example.com/{}", title.len()),
            base_text: title.into(),
            captions: vec![(Platform::X, vec![title.into()])],
            target_all: true,
            department_ids: vec![],
            expires_at: None,
        },
        hub,
        now,
    )?;
    posts::schedule(conn, post, now, chrono_tz::UTC, hub, now)?;
    Ok(post)
}

/// `n` employees in one department, the first `sharing` of whom opted in to
/// X and shared one post; returns the post id.
async fn organisation(app: &TestApp, n: usize, sharing: usize) -> i64 {
    let hub = app
        .create_user("hub@example.com", "Hub Person", "comms")
        .await;
    let now = app.clock.now_naive();
    let mut people = Vec::new();
    for i in 0..n {
        let email = format!("worker{i:02}@example.com");
        people.push(
            app.create_user_in(
                &email,
                &format!("Worker Number{i:02}"),
                "employee",
                Some("Sales"),
            )
            .await,
        );
    }
    app.db(move |conn| {
        store::policy::publish(conn, "Policy", false, hub, now)?;
        chorus::store::hub_caps::set_caps(
            conn,
            Platform::X,
            Caps {
                per_day: 50,
                per_week: 100,
            },
        )?;
        let post = publish_for_everyone(conn, "Quarterly report", hub, now)?;
        for (i, person) in people.iter().enumerate() {
            if i < sharing {
                consent::record_choice(
                    conn,
                    *person,
                    Purpose::ShareSuggestions(Platform::X),
                    Choice::Yes,
                    None,
                    "test",
                    now,
                )?;
                shares::record(conn, *person, post, Platform::X, 1, false, now)?;
            } else if i == sharing {
                shares::dismiss(conn, *person, post, now)?;
                consent::record_choice(
                    conn,
                    *person,
                    Purpose::EmailDigest,
                    Choice::Yes,
                    None,
                    "test",
                    now,
                )?;
            }
        }
        Ok(post)
    })
    .await
}

/// The reports as the disclosure-control path publishes them for these
/// facts, read afresh from the database (no cache): what every page, CSV
/// and API answer must show.
async fn published(
    app: &TestApp,
    weeks: u32,
    platforms: Option<Vec<Platform>>,
    department: Option<i64>,
) -> chorus::domain::reports::Reports {
    let now = app.clock.now_naive();
    app.db(move |conn| {
        let settings = store::org::settings(conn)?;
        let calendar = chorus::app::reports::weeks_ending(now, settings.timezone(), weeks);
        let (from, to) = (calendar[0].start, now + chrono::Duration::seconds(1));
        let facts = store::reports::all_facts(conn, from, to)?;
        let filters = chorus::domain::reports::Filters {
            platforms: platforms.unwrap_or_else(|| settings.enabled_platforms()),
            department,
        };
        Ok(chorus::domain::reports::build(
            &facts,
            &filters,
            &calendar,
            settings.k(),
        ))
    })
    .await
}

/// The cells of an HTML table row, after its heading cell.
/// A hidden cell (a lock on the page) reads "suppressed", as in the CSV.
fn cells(row: &str) -> Vec<String> {
    row.split("<td")
        .skip(1)
        .map(|c| {
            let open = c.find('>').unwrap();
            if c[..open].contains("class=\"suppressed\"") {
                return "suppressed".to_string();
            }
            c[open + 1..c.find("</td>").unwrap()].to_string()
        })
        .collect()
}

fn row<'a>(body: &'a str, first_cell: &str) -> &'a str {
    let start = body
        .find(&format!("<th scope=\"row\">{first_cell}</th>"))
        .unwrap_or_else(|| panic!("row {first_cell}"));
    let end = body[start..].find("</tr>").unwrap() + start;
    &body[start..end]
}

backend_test!(
    async fn shares_by_fewer_than_k_people_are_always_suppressed_and_more_are_published_shifted(app) {
        let post = organisation(&app, 12, 4).await;
        app.login_as("admin@example.com", "admin").await;
        let body = app.get_html("/admin/reports").await;
        let row_before = row(&body, "Quarterly report").to_string();
        assert!(row_before.contains("suppressed") && !row_before.contains("<td>4</td>"), "4 sharers with k = 5: {row_before}");
        assert!(row(&body, "X").contains("suppressed"), "4 opted in: suppressed");
        assert!(body.contains("every figure is shifted by a small random amount"), "the page says the figures are shifted");

        // Eleven more people opt in and share, and seventeen join without:
        // 15 of 40. With 15 of 23, a shift of +4 (odds about 1 in 55) left
        // fewer than k on the other side and rightly hid the figure.
        let now = app.clock.now_naive();
        let mut more = Vec::new();
        for i in 0..28 {
            let person = app.create_user_in(&format!("late{i:02}@example.com"), &format!("Late Joiner{i:02}"), "employee", Some("Sales")).await;
            if i < 11 {
                more.push(person);
            }
        }
        app.db(move |conn| {
            for person in more {
                consent::record_choice(conn, person, Purpose::ShareSuggestions(Platform::X), Choice::Yes, None, "test", now)?;
                shares::record(conn, person, post, Platform::X, 1, false, now)?;
            }
            Ok(())
        })
        .await;
        let body = app.get_html("/admin/reports").await;
        let expected = published(&app, 12, None, None).await;
        let expected_posts = expected.posts_as_of(now, None);
        let post_row = &expected_posts.rows[0];
        assert_eq!(cells(row(&body, "Quarterly report")), post_row[1..].to_vec(), "the page shows the published figures");
        let x = expected.platforms.rows.iter().find(|r| r[0] == "X").unwrap();
        assert_eq!(cells(row(&body, "X"))[..3], x[1..4], "opted in, active people, rate");
        let shown: u64 = x[1].parse().expect("15 of 40 is shown");
        assert!(shown.abs_diff(15) <= 12, "shifted, not invented: {shown}");
        assert_eq!(x[3], format!("{}%", (shown * 100 + 20) / 40), "the rate comes from the published count");
    }
);

backend_test!(
    async fn the_page_the_csv_and_the_api_publish_the_same_figures(app) {
        organisation(&app, 30, 15).await;
        app.login_as("comms@example.com", "comms").await;
        let body = app.get_html("/admin/reports").await;
        let expected = published(&app, 12, None, None).await;
        let post = row(&body, "Quarterly report");
        let expected_posts = expected.posts_as_of(app.clock.now_naive(), None);
        assert_eq!(cells(post), expected_posts.rows[0][1..].to_vec());
        let response = app.get("/admin/reports/posts.csv").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = response.text().await.unwrap();
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        assert_eq!(
            header,
            "Post,Shares on LinkedIn,Shares on X,Shares on Mastodon,Shares on Bluesky,People who shared,Dismissals,Days live"
        );
        let values: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(values[0], "Quarterly report");
        assert_eq!(values[1..].to_vec(), cells(post).iter().map(String::as_str).collect::<Vec<_>>(), "CSV = HTML");
        let platforms_csv = app.get("/admin/reports/platforms.csv").await.text().await.unwrap();
        for (line, expected_row) in platforms_csv.lines().skip(1).zip(&expected.platforms.rows) {
            assert_eq!(line.split(',').collect::<Vec<_>>(), expected_row.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let log = app.get("/admin/audit").await;
        assert_eq!(log.status(), 403, "comms does not read the audit log");
        let audit = app.db(|conn| store::audit::page(conn, 0, 10)).await.0;
        assert!(audit.iter().any(|e| e.action == "report.exported" && e.detail.contains("posts.csv")));

        // The API, with a service token, answers the same figures.
        let comms = app
            .db(|conn| store::users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("comms@example.com").unwrap()))
            .await
            .unwrap()
            .id;
        let now = app.clock.now_naive();
        let token = app
            .db(move |conn| {
                let new = store::api_tokens::NewToken { kind: TokenKind::Personal, owner_id: comms, name: "test", scope: Scope::Read, expires_at: None };
                store::api_tokens::create(conn, &new, now).map(|(_, token)| token)
            })
            .await;
        let api = app.client.get(app.url("/api/v1/reports")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
        let api: serde_json::Value = serde_json::from_str(&api).unwrap();
        assert_eq!(api["posts"]["rows"][0], serde_json::json!(expected_posts.rows[0]));
        assert_eq!(api["platforms"]["rows"], serde_json::json!(expected.platforms.rows));
        assert!(api["disclosure"].as_str().unwrap().contains("shifted"));

        // Another period or a platform filter repeats the same figure, never a new sample of it.
        for weeks in [4, 26] {
            let other = app.get_html(&format!("/admin/reports?weeks={weeks}")).await;
            assert_eq!(cells(row(&other, "Quarterly report")), cells(post), "{weeks} weeks");
            assert_eq!(cells(row(&other, "X"))[..3], cells(row(&body, "X"))[..3], "{weeks} weeks");
        }
        let only_x = app.get_html("/admin/reports?platform=x").await;
        assert_eq!(cells(row(&only_x, "X"))[..3], cells(row(&body, "X"))[..3]);
    }
);

backend_test!(
    async fn moving_a_person_out_of_a_department_and_back_gives_back_the_very_same_figures(app) {
        organisation(&app, 14, 8).await;
        for i in 0..12 {
            app.create_user_in(&format!("ops{i:02}@example.com"), &format!("Ops Person{i:02}"), "employee", Some("Ops")).await;
        }
        let moved = app
            .db(|conn| store::users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("worker00@example.com").unwrap()))
            .await
            .unwrap();
        app.login_as("admin@example.com", "admin").await;
        let first = app.get("/admin/reports/departments.csv").await.text().await.unwrap();
        for department in ["Ops", "Sales"] {
            let fields = [("name", moved.name.as_str()), ("role_employee", "on"), ("department", department)];
            let response = app.post_form(&format!("/admin/people/{}", moved.id), &fields).await;
            assert!(response.status().is_redirection(), "{}", response.status());
        }
        let again = app.get("/admin/reports/departments.csv").await.text().await.unwrap();
        assert_eq!(first, again, "the same groups give the same figures: the move and back adds nothing to average");
        let expected = published(&app, 12, None, None).await;
        assert_eq!(again.lines().count() - 1, expected.departments.rows.len());
    }
);

backend_test!(
    async fn the_smallest_group_setting_is_never_below_three(app) {
        app.login_as("admin@example.com", "admin").await;
        let token = app.csrf_token_with(&app.client, "/admin/settings").await;
        let response = app
            .client
            .post(app.url("/admin/settings"))
            .form(&[("csrf_token", token.as_str()), ("org_name", "Acme"), ("platform", "x"), ("consent_language", "en"),
                ("jurisdiction", "EU"), ("timezone", "UTC"), ("disclosure_template", "I work at {org}."), ("k_anonymity", "2")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("at least 3 people") && body.contains("value=\"2\""));
        let settings = app.db(store::org::settings).await;
        assert_eq!(settings.k(), 5);
    }
);

backend_test!(
    async fn report_filters_are_a_fixed_set(app) {
        organisation(&app, 4, 2).await;
        app.login_as("admin@example.com", "admin").await;
        assert_eq!(app.get("/admin/reports?weeks=7").await.status(), 400);
        assert_eq!(app.get("/admin/reports?platform=myspace").await.status(), 400);
        let depts = app.db(store::departments::list).await;
        let sales = depts[0].id;
        let small = app.get(&format!("/admin/reports?department={sales}")).await;
        assert_eq!(small.status(), 400, "4 people: too small to report alone");
        assert!(small.text().await.unwrap().contains("fewer than 5 people"));
        assert_eq!(app.get("/admin/reports/everything.csv").await.status(), 404);
    }
);

backend_test!(
    async fn no_admin_or_comms_page_ties_a_person_to_what_they_did(app) {
        let post = organisation(&app, 7, 3).await;
        app.create_user("boss@example.com", "Boss", "admin,comms").await;
        let boss = app.login_client("boss@example.com").await;
        let names: Vec<String> = (0..7).map(|i| format!("Worker Number{i:02}")).collect();
        let emails: Vec<String> = (0..7).map(|i| format!("worker{i:02}@example.com")).collect();
        let mut paths: Vec<String> = Vec::new();
        for spec in chorus::web::route_table() {
            if spec.method != "GET" || !(spec.path.starts_with("/admin") || spec.path.starts_with("/hub")) {
                continue;
            }
            let path = spec
                .path
                .replace("{id:\\d+}", &post.to_string())
                .replace("{table:[a-z]+}", "posts");
            paths.push(path);
        }
        for table in ["platforms", "departments", "trend"] {
            paths.push(format!("/admin/reports/{table}.csv"));
        }
        for week in [4, 26] {
            paths.push(format!("/admin/reports?weeks={week}"));
        }
        assert!(paths.len() >= 15);
        for path in paths {
            let response = app.get_with(&boss, &path).await;
            let status = response.status().as_u16();
            assert!(status < 500, "{path}: {status}");
            let body = response.text().await.unwrap();
            let people_pages = path.starts_with("/admin/people");
            for (name, email) in names.iter().zip(&emails) {
                if people_pages {
                    // People pages list people, and nothing about participation.
                    for word in ["opted in", "consent", "shared", "dismiss", "digest"] {
                        assert!(!body.to_lowercase().contains(word), "{path} mentions {word}");
                    }
                } else {
                    assert!(!body.contains(name) && !body.contains(email), "{path} names {name}");
                }
            }
            // With 7 people and 3 sharing, every participation number is suppressed.
            if path.starts_with("/admin/reports") && !path.ends_with(".csv") {
                assert!(!body.contains("<td>3</td>") && !body.contains("<td>1</td>"), "{path}");
            }
            if path.ends_with(".csv") {
                for line in body.lines().skip(1) {
                    for cell in line.split(',').skip(1) {
                        assert!(cell != "3" && cell != "1", "{path}: {line}");
                    }
                }
            }
        }
    }
);

backend_test!(
    async fn employees_see_the_same_reports_on_what_others_can_see(app) {
        organisation(&app, 12, 6).await;
        let worker = app.login_client("worker00@example.com").await;
        let page = app.get_with(&worker, "/me/visibility").await.text().await.unwrap();
        app.login_as("admin@example.com", "admin").await;
        let admin = app.get_html("/admin/reports").await;
        assert!(page.contains("exactly as admins and the hub see them"));
        assert_eq!(row(&page, "Quarterly report"), row(&admin, "Quarterly report"));
        assert_eq!(row(&page, "X"), row(&admin, "X"));
        assert!(!page.contains(".csv"), "no exports for employees");
    }
);

backend_test!(
    async fn people_policy_and_settings_changes_are_in_the_audit_log_and_filterable(app) {
        let admin = app.login_as("admin@example.com", "admin").await;
        app.post_form("/admin/people/new", &[("email", "new@example.com"), ("name", "New"), ("role_employee", "on")]).await;
        let id = app
            .db(|conn| store::users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("new@example.com").unwrap()))
            .await
            .unwrap()
            .id;
        app.post_form(&format!("/admin/people/{id}"), &[("name", "New"), ("role_comms", "on"), ("department", "Ops")]).await;
        app.post_form(&format!("/admin/people/{id}/deactivate"), &[]).await;
        let token = app.csrf_token_with(&app.client, "/admin/policy").await;
        app.client
            .post(app.url("/admin/policy"))
            .form(&[("csrf_token", token.as_str()), ("markdown", "# P"), ("change", "minor"), ("action", "publish")])
            .send()
            .await
            .unwrap();
        let log = app.get_html("/admin/audit").await;
        for action in ["user.invited", "user.changed", "user.deactivated", "policy.published"] {
            assert!(log.contains(action), "{action}");
        }
        assert!(log.contains("roles comms; department Ops"));
        let filtered = app.get_html("/admin/audit?action=user.deactivated").await;
        assert!(filtered.contains("user.deactivated") && !filtered.contains("<td>user.invited</td>"));
        let export: serde_json::Value = serde_json::from_str(&app.get("/me/data.json").await.text().await.unwrap()).unwrap();
        let own = export["auditLogOfYourOwnActions"].as_array().unwrap();
        assert!(own.len() >= 4, "the admin's own actions are in their export");
        let _ = admin;
    }
);

backend_test!(
    async fn a_busy_period_lists_the_recent_posts_on_the_page_and_all_of_them_in_the_csv(app) {
        let hash = chorus::credentials::hash_password(chorus::demo::DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = chorus::demo::DemoSize { employees: 30, posts: 90, weeks: 3, seed: 4, shares: None };
        app.db(move |conn| chorus::demo::generate(conn, size, &hash, now)).await;
        let client = new_client();
        app.post_form_with(&client, "/login", &[("email", "admin@demo.example"), ("password", chorus::demo::DEMO_PASSWORD)]).await;
        let page = app.get_with(&client, "/admin/reports?weeks=4").await.text().await.unwrap();
        let csv = app.get_with(&client, "/admin/reports/posts.csv?weeks=4").await.text().await.unwrap();
        let in_csv = csv.lines().count() - 1;
        assert!(in_csv > 50, "{in_csv} posts published in the period");
        assert!(page.contains(&format!("The 50 most recent of {in_csv} posts in this period; the CSV lists all of them.")), "the page says what it leaves out");
        let posts_section = &page[page.find("id=\"posts-title\"").unwrap()..];
        assert_eq!(posts_section.matches("<th scope=\"row\">").count(), 50, "50 rows on the page");
        let newest = csv.lines().last().unwrap().split(',').next().unwrap().trim_matches('"').to_string();
        assert!(posts_section.contains(&newest), "the newest post is on the page: {newest}");
    }
);

/// Facts in one order (the database promises none).
fn in_order(facts: &Facts) -> Facts {
    let mut facts = facts.clone();
    facts.employees.sort_by_key(|e| e.id);
    facts.departments.sort();
    facts.opted_in.sort_by_key(|(u, p)| (*u, p.slug()));
    facts.posts.sort_by_key(|p| p.id);
    facts.offered.sort_by_key(|p| p.id);
    facts
        .shares
        .sort_by_key(|(u, p, platform, at)| (*u, *p, platform.slug(), *at));
    facts.dismissals.sort();
    facts
}

/// The facts as the reports page's period reads them now, the rows about
/// people streamed a range at a time, in one order.
async fn facts_now(app: &TestApp) -> Facts {
    // As the reports page asks: from the start of a week, to now.
    let now = app.clock.now_naive();
    let from = now.date().and_time(chrono::NaiveTime::MIN) - chrono::Duration::weeks(12);
    let to = now + chrono::Duration::seconds(1);
    in_order(
        &app.db(move |conn| store::reports::all_facts(conn, from, to))
            .await,
    )
}

async fn opt_in(app: &TestApp, people: &[i64]) {
    for person in people {
        app.agree(*person, Platform::X, None).await;
    }
}

async fn person(app: &TestApp, email: &'static str) -> i64 {
    app.db(move |conn| {
        Ok(users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first::<i64>(conn)?)
    })
    .await
}

backend_test!(
    async fn a_period_with_more_posts_than_one_statement_lists_still_counts_its_dismissals(app) {
        // A very busy hub's twelve weeks can hold more posts than a
        // statement may name (32,766 parameters on SQLite): the report
        // still reads the period's dismissals, the same ones.
        let post = organisation(&app, 8, 0).await;
        let (w4, w5) = (person(&app, "worker04@example.com").await, person(&app, "worker05@example.com").await);
        let now = app.clock.now_naive();
        for worker in [w4, w5] {
            app.db(move |conn| shares::dismiss(conn, worker, post, now).map(|_| ())).await;
        }
        let read = |count: i64| {
            app.db(move |conn| {
                let posts: Vec<PostFact> = std::iter::once(post)
                    .chain((1..count).map(|n| 1_000_000 + n))
                    .map(|id| PostFact { id, title: String::new(), departments: None, published_at: now, ended_at: None })
                    .collect();
                let mut seen = Vec::new();
                store::reports::dismissals_by_person(conn, &posts, |user, theirs| seen.push((user, theirs.to_vec())))?;
                Ok(seen)
            })
        };
        let few = read(3).await;
        assert!(few.contains(&(w4, vec![post])) && few.contains(&(w5, vec![post])), "{few:?}");
        assert_eq!(read(40_000).await, few, "40,000 posts in the period");
    }
);

backend_test!(
    async fn report_facts_follow_every_kind_of_change(app) {
        let post = organisation(&app, 8, 4).await;
        let (w4, w5, w0) = (
            person(&app, "worker04@example.com").await,
            person(&app, "worker05@example.com").await,
            person(&app, "worker00@example.com").await,
        );
        opt_in(&app, &[w4, w5]).await;
        assert_eq!(facts_now(&app).await.shares.len(), 4);
        let now = app.clock.now_naive();
        app.db(move |conn| shares::record(conn, w4, post, Platform::X, 1, false, now).map(|_| ())).await;
        assert_eq!(facts_now(&app).await.shares.len(), 5);
        // Recorded with a time before the period: counted as added, not kept.
        let long_ago = now - chrono::Duration::weeks(20);
        app.db(move |conn| shares::record(conn, w5, post, Platform::X, 1, false, long_ago).map(|_| ())).await;
        assert_eq!(facts_now(&app).await.shares.len(), 5);
        app.db(move |conn| {
            diesel::delete(schema::shares::table.filter(schema::shares::user_id.eq(w0))).execute(conn)?;
            Ok(())
        })
        .await;
        assert_eq!(facts_now(&app).await.shares.len(), 4);
        app.db(move |conn| shares::dismiss(conn, w5, post, now).map(|_| ())).await;
        assert_eq!(facts_now(&app).await.dismissals.len(), 2);
        app.db(move |conn| shares::restore(conn, w5, post)).await;
        assert_eq!(facts_now(&app).await.dismissals.len(), 1);
        let w1 = person(&app, "worker01@example.com").await;
        app.db(move |conn| {
            consent::record_choice(conn, w1, Purpose::ShareSuggestions(Platform::X), Choice::No, None, "test", now)
                .map(|_| ())
        })
        .await;
        assert_eq!(facts_now(&app).await.opted_in.len(), 5);
        let hub = person(&app, "hub@example.com").await;
        let deactivated = app.db(move |conn| store::users::set_active(conn, w1, false, hub, now)).await;
        assert_eq!(deactivated, store::users::ChangeOutcome::Done);
        assert_eq!(facts_now(&app).await.employees.len(), 7);
        let second = app
            .db(move |conn| {
                let second = publish_for_everyone(conn, "Second", hub, now)?;
                shares::dismiss(conn, w0, second, now)?;
                Ok(second)
            })
            .await;
        let kept = facts_now(&app).await;
        assert_eq!((kept.posts.len(), kept.dismissals.len()), (2, 2));
        app.db(move |conn| shares::record(conn, w4, second, Platform::X, 1, false, now).map(|_| ())).await;
        assert_eq!(facts_now(&app).await.shares.len(), 5);
        // Taken back with Undo (the dialog closed without posting): not counted.
        let window = chorus::domain::share_caps::UNDO_WINDOW;
        let undone = app.db(move |conn| shares::undo(conn, w4, second, Platform::X, now, window)).await;
        assert_eq!(undone, shares::UndoOutcome::Undone);
        assert_eq!(facts_now(&app).await.shares.len(), 4);
    }
);

backend_test!(
    async fn posts_that_ended_before_the_period_are_left_out_and_those_ending_in_it_counted(app) {
        let current = organisation(&app, 4, 0).await;
        let hub = person(&app, "hub@example.com").await;
        let now = app.clock.now_naive();
        let weeks_ago = move |weeks| Some(now - chrono::Duration::weeks(weeks));
        // (title, status, withdrawn_at, expires_at), each published 30 weeks ago.
        let old = [
            ("Withdrawn long ago", "withdrawn", weeks_ago(20), None),
            ("Withdrawn last week", "withdrawn", weeks_ago(1), None),
            ("Expired long ago", "expired", None, weeks_ago(20)),
            ("Expires next week", "published", None, weeks_ago(-1)),
        ];
        let ids = app
            .db(move |conn| {
                let mut ids = Vec::new();
                for (title, status, withdrawn_at, expires_at) in old {
                    let id = publish_for_everyone(conn, title, hub, now)?;
                    diesel::update(schema::posts::table.find(id))
                        .set((
                            schema::posts::published_at.eq(weeks_ago(30)),
                            schema::posts::status.eq(status),
                            schema::posts::withdrawn_at.eq(withdrawn_at),
                            schema::posts::expires_at.eq(expires_at),
                        ))
                        .execute(conn)?;
                    ids.push(id);
                }
                Ok(ids)
            })
            .await;
        let facts = facts_now(&app).await;
        let ids_of = |posts: &[PostFact]| posts.iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids_of(&facts.posts), vec![current], "published in the period");
        let mut live = vec![current, ids[1], ids[3]];
        live.sort();
        assert_eq!(ids_of(&facts.offered), live, "live at some time in the period");
    }
);

backend_test!(
    async fn people_streamed_in_small_ranges_are_counted_as_if_read_at_once(app) {
        // The server streams the rows about people a range of people at a
        // time; cut into ranges of a few people (with people who are not
        // counted in between), nothing is lost or counted twice.
        let hash = chorus::credentials::hash_password(chorus::demo::DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = chorus::demo::DemoSize { employees: 120, posts: 30, weeks: 12, seed: 11, shares: None };
        app.db(move |conn| chorus::demo::generate(conn, size, &hash, now)).await;
        let settings = app.db(store::org::settings).await;
        let calendar = chorus::app::reports::weeks_ending(now, settings.timezone(), 12);
        let (from, to) = (calendar[0].start, now + chrono::Duration::seconds(1));
        let at_once = app.db(move |conn| store::reports::all_facts(conn, from, to)).await;
        assert!(at_once.employees.len() >= 120 && !at_once.shares.is_empty() && !at_once.dismissals.is_empty());
        assert!(!at_once.opted_in.is_empty());
        let (tz, k, platforms) = (settings.timezone(), settings.k(), settings.enabled_platforms());
        let filters = move || chorus::domain::reports::Filters { platforms: platforms.clone(), department: None };
        let held = chorus::domain::reports::build(&at_once, &filters(), &calendar, k);
        for per_range in [1, 7, 50] {
            let filters = filters.clone();
            let (streamed, counted) = app
                .db(move |conn| {
                    store::reports::in_period(conn, from, to, |conn, facts| {
                        let mut all = facts.clone();
                        store::reports::stream_people(conn, from, &facts.posts, per_range, &mut all)?;
                        let (filters, calendar) = (filters(), chorus::app::reports::weeks_ending(now, tz, 12));
                        let mut tally = chorus::domain::reports::Tally::new(facts, &filters, &calendar);
                        store::reports::stream_people(conn, from, &facts.posts, per_range, &mut tally)?;
                        Ok((all, tally.reports(k)))
                    })
                })
                .await;
            assert_eq!(in_order(&streamed), in_order(&at_once), "ranges of {per_range}");
            assert_eq!(counted.posts, held.posts, "ranges of {per_range}");
            assert_eq!(counted.platforms, held.platforms, "ranges of {per_range}");
            assert_eq!(counted.departments, held.departments, "ranges of {per_range}");
            assert_eq!(counted.trend, held.trend, "ranges of {per_range}");
            assert_eq!(counted.headline.opted_in, held.headline.opted_in, "ranges of {per_range}");
        }
    }
);

backend_test!(
    async fn a_share_is_recorded_at_once_while_a_report_is_being_counted(app) {
        // At a million employees a build reads for about 20 s; on SQLite
        // it must not hold the write lock meanwhile, or a share made then
        // waits for it past the busy timeout (10 s) and fails.
        let post = organisation(&app, 8, 4).await;
        let w4 = person(&app, "worker04@example.com").await;
        let url = app.config.database_url();
        let now = app.clock.now_naive();
        let (from, to) = (now - chrono::Duration::weeks(12), now + chrono::Duration::seconds(1));
        let (recorded, waited) = app
            .db(move |conn| {
                store::reports::in_period(conn, from, to, |conn, facts| {
                    let mut all = facts.clone();
                    store::reports::stream_people(conn, from, &facts.posts, 3, &mut all)?;
                    // A second connection, as another request's would be.
                    let mut other = chorus::db::establish(&url).expect("connects");
                    let started = std::time::Instant::now();
                    let recorded = shares::record(&mut other, w4, post, Platform::X, 1, false, now);
                    Ok((recorded.map(|_| ()).map_err(|e| e.to_string()), started.elapsed()))
                })
            })
            .await;
        assert_eq!(recorded, Ok(()), "the share is recorded");
        assert!(waited < std::time::Duration::from_secs(2), "without waiting for the build: {waited:?}");
    }
);

backend_test!(
    async fn a_two_hundred_person_organisation_still_sees_its_figures_trend_and_departments(app) {
        let hash = chorus::credentials::hash_password(chorus::demo::DEMO_PASSWORD).unwrap();
        let now = app.clock.now_naive();
        let size = chorus::demo::DemoSize { employees: 200, posts: 40, weeks: 12, seed: 7, shares: None };
        app.db(move |conn| chorus::demo::generate(conn, size, &hash, now)).await;
        let reports = published(&app, 12, None, None).await;
        let shown = |cells: &mut dyn Iterator<Item = &String>| cells.filter(|c| *c != "suppressed").count();
        let opted = shown(&mut reports.platforms.rows.iter().map(|r| &r[1]));
        assert!(opted * 2 >= reports.platforms.rows.len(), "most platforms show their opt-ins: {:?}", reports.platforms.rows);
        let weeks_shown = shown(&mut reports.trend.rows.iter().map(|r| &r[1]));
        assert!(weeks_shown >= 10, "the weekly trend shows: {:?}", reports.trend.rows);
        assert!(reports.departments.rows.len() >= 3, "departments are reported: {:?}", reports.departments.rows);
        let department_cells = reports.departments.rows.iter().flat_map(|r| r[2..].iter());
        let (all, visible) = department_cells.fold((0, 0), |(all, visible), c| (all + 1, visible + (c != "suppressed") as usize));
        assert!(visible * 2 >= all, "{visible} of {all} department figures shown");
        let posts = reports.posts_as_of(now, None);
        let posts_shown = posts.rows.iter().filter(|r| r[r.len() - 3] != "suppressed").count();
        assert!(posts_shown * 2 >= posts.rows.len(), "{posts_shown} of {} posts show who shared", posts.rows.len());
    }
);

/// The section of the page from `heading` to the next section.
fn section_of<'a>(body: &'a str, heading: &str) -> &'a str {
    let start = body.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    let end = body[start..]
        .find("</section>")
        .map_or(body.len(), |e| e + start);
    &body[start..end]
}

backend_test!(
    async fn the_page_leads_with_tiles_made_of_published_figures(app) {
        organisation(&app, 30, 15).await;
        app.login_as("comms@example.com", "comms").await;
        let body = app.get_html("/admin/reports").await;
        let expected = published(&app, 12, None, None).await;
        let headline = &expected.headline;
        let opted = headline.opted_in.value().expect("15 of 30 opted in is shown");
        let tile = |label: &str| {
            let start = body.find(&format!("<span class=\"tile-label\">{label}</span>")).unwrap_or_else(|| panic!("tile {label}: {body}"));
            body[start..start + body[start..].find("</li>").unwrap()].to_string()
        };
        let people = tile("People opted in to at least one platform");
        assert!(people.contains(&format!("<span class=\"tile-value\">{opted}</span>")), "{people}");
        assert!(people.contains(&format!("{} of {} active people", headline.opted_in.percent_of(headline.population), headline.population)), "{people}");
        let trend = headline.share_trend();
        let shares = tile("Shares in the last 6 weeks");
        assert!(shares.contains(&format!("<span class=\"tile-value\">{}</span>", trend.recent)), "{shares}");
        assert_eq!(trend.recent, expected.trend.rows.last().unwrap()[1].parse::<u64>().unwrap(), "only this week had a post");
        assert!(shares.contains("None in the 6 weeks before."), "{shares}");
        let posts = tile("Posts published");
        assert!(posts.contains("<span class=\"tile-value\">1</span>") && posts.contains("In the last 12 weeks."), "{posts}");

        // One platform: the tile is that platform's own figure, as in its row.
        let body = app.get_html("/admin/reports?platform=x").await;
        let x = published(&app, 12, Some(vec![Platform::X]), None).await;
        assert!(body.contains("<span class=\"tile-label\">People opted in to X</span>"));
        assert!(body.contains(&format!("<span class=\"tile-value\">{}</span>", x.platforms.rows[0][1])));
    }
);

backend_test!(
    async fn a_week_with_nothing_to_share_reads_0_and_a_hidden_one_shows_a_lock(app) {
        // Four of twelve shared the one post, published this week (k = 5).
        organisation(&app, 12, 4).await;
        app.login_as("admin@example.com", "admin").await;
        let body = app.get_html("/admin/reports").await;
        let trend = section_of(&body, "<h2 id=\"trend-title\">");
        let rows: Vec<Vec<String>> = trend.split("<tr>").skip(2).map(cells).collect();
        assert_eq!(rows.len(), 12);
        for row in &rows[..11] {
            assert_eq!(row, &["0", "0"], "no post was in anyone's queue: {trend}");
        }
        assert_eq!(rows[11], ["suppressed", "suppressed"], "four people: hidden");
        assert!(trend.contains("<td class=\"suppressed\"><svg class=\"lock\""), "a lock, not a word");
        assert!(trend.contains("hidden (fewer than 5 people)"), "said to screen readers");
        assert!(trend.contains("class=\"value zero\">0</text>") && trend.contains("class=\"locked-week\""), "the chart tells them apart");
        assert!(body.contains("Hidden: fewer than 5 people (or fewer than 5 not)"), "the legend");
        assert!(body.contains("<strong>0</strong>: no post was in anyone's queue that week"));

        // The CSV says the same: 0, and "suppressed" where the page has a lock.
        let csv = app.get("/admin/reports/trend.csv").await.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().skip(1).collect();
        assert!(lines[..11].iter().all(|l| l.ends_with(",0,0")), "{csv}");
        assert!(lines[11].ends_with(",suppressed,suppressed"), "{csv}");
    }
);

backend_test!(
    async fn the_chart_has_a_y_axis_real_dates_and_text_that_keeps_its_size(app) {
        organisation(&app, 30, 15).await;
        app.login_as("admin@example.com", "admin").await;
        let body = app.get_html("/admin/reports").await;
        let chart = section_of(&body, "<h2 id=\"trend-title\">");
        assert!(chart.contains("<svg class=\"chart\" role=\"img\" aria-labelledby=\"trend-title trend-desc\" width=\"100%\""), "{chart}");
        assert!(!chart.contains("viewBox=\"0 0"), "no viewBox: the text is not scaled down on a phone");
        assert!(chart.contains("<title>Shares per week</title>") && chart.contains("id=\"trend-desc\""));
        assert!(chart.contains("class=\"tick\">0</text>"), "the y-axis starts at 0");
        assert_eq!(chart.matches("class=\"tick\"").count(), 5, "five ticks");
        let settings = app.db(store::org::settings).await;
        let tz = settings.timezone();
        let monday = chorus::domain::schedule::week_start(chorus::domain::schedule::local_day(app.clock.now_naive(), tz));
        let date = monday.format("%-d %b").to_string();
        assert!(chart.contains(&format!("class=\"date\">{date}</text>")), "this week's Monday, {date}: {chart}");
        assert!(!chart.contains("class=\"date\">W"), "dates, not week numbers");
        assert!(chart.contains("<table class=\"figures\">"), "its table follows");
    }
);
