//! Admin → People: invitations, edits, deactivation, CSV import.

use chorus::store::{self, users};

use crate::backend_test;
use crate::helpers::*;

fn link_in(body: &str) -> String {
    let start = body
        .find("id=\"password-link\" href=\"")
        .expect("a password link")
        + 25;
    let end = body[start..].find('"').unwrap();
    body[start..start + end].to_string()
}

backend_test!(
    async fn an_admin_adds_a_person_who_sets_a_password_and_logs_in(app) {
        app.login_as("admin@example.com", "admin").await;
        let response = app
            .post_form("/admin/people/new", &[("email", "New.Person@Example.com"), ("name", "New Person"),
                ("department", "Research"), ("role_employee", "on")])
            .await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.contains("New Person was added"));
        let link = link_in(&body);
        assert!(link.starts_with(&format!("{}/invite/", app.address)), "{link}");
        let path = link.strip_prefix(&app.address).unwrap().to_string();

        let list = app.get_html("/admin/people").await;
        assert!(list.contains("new.person@example.com") && list.contains("Research"));

        let newcomer = new_client();
        let page = app.get_with(&newcomer, &path).await.text().await.unwrap();
        assert!(page.contains("Welcome, New Person") && page.contains("new.person@example.com"));
        let weak = app.post_form_with(&newcomer, &path, &[("password", "passwordpassword")]).await;
        assert_eq!(weak.status(), 422);
        let refusal = weak.text().await.unwrap();
        assert!(refusal.contains("too common") || refusal.contains("known from breaches"), "{refusal}");
        let response = app.post_form_with(&newcomer, &path, &[("password", PASSWORD)]).await;
        assert_eq!(response.status(), 303);
        let start = app.get_with(&newcomer, "/").await.text().await.unwrap();
        assert!(start.contains("Welcome, New Person"));
        // An employee cannot open the admin pages.
        assert_eq!(app.get_with(&newcomer, "/admin/people").await.status(), 403);
        // The link worked once.
        assert_eq!(app.get_with(&new_client(), &path).await.status(), 404);
    }
);

backend_test!(
    async fn a_refused_person_form_keeps_the_input_and_says_why(app) {
        app.login_as("admin@example.com", "admin").await;
        app.create_user("taken@example.com", "Taken", "employee").await;
        let response = app
            .post_form("/admin/people/new", &[("email", "taken@example.com"), ("name", "Someone <b>Bold</b>"),
                ("department", "Sales")])
            .await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("Choose at least one role"));
        assert!(body.contains("value=\"Sales\""));
        assert!(body.contains("Someone &#60;b&#62;Bold&#60;/b&#62;") || body.contains("Someone &lt;b&gt;Bold&lt;/b&gt;"),
            "input kept, escaped");
        let response = app
            .post_form("/admin/people/new", &[("email", "taken@example.com"), ("name", "Someone"),
                ("role_comms", "on")])
            .await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("already has an account"));
    }
);

backend_test!(
    async fn an_admin_changes_roles_and_departments_and_they_take_effect(app) {
        app.login_as("admin@example.com", "admin").await;
        let id = app.create_user("emp@example.com", "Emp", "employee").await;
        let emp = app.login_client("emp@example.com").await;
        assert_eq!(app.get_with(&emp, "/admin/people").await.status(), 403);

        let response = app
            .post_form(&format!("/admin/people/{id}"), &[("name", "Emp Renamed"), ("department", "Marketing"),
                ("role_employee", "on"), ("role_admin", "on")])
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), format!("/admin/people/{id}?done=saved"));
        let person = app.db(move |conn| users::find(conn, id)).await.unwrap();
        assert_eq!(person.name, "Emp Renamed");
        assert_eq!(person.department.as_deref(), Some("Marketing"));
        assert!(person.roles.admin && person.roles.employee && !person.roles.comms);
        // Their open session now has the new role.
        assert_eq!(app.get_with(&emp, "/admin/people").await.status(), 200);
    }
);

backend_test!(
    async fn deactivating_ends_sessions_and_reactivating_restores_login(app) {
        app.login_as("admin@example.com", "admin").await;
        let id = app.create_user("emp@example.com", "Emp", "employee").await;
        let emp = app.login_client("emp@example.com").await;
        assert_eq!(app.get_with(&emp, "/").await.status(), 200);

        let response = app.post_form(&format!("/admin/people/{id}/deactivate"), &[]).await;
        assert_eq!(response.status(), 303);
        assert_eq!(app.get_with(&emp, "/").await.status(), 303, "their session ended at once");
        assert_eq!(app.db(move |conn| store::sessions::count_for_user(conn, id)).await, 0);
        let again = app
            .post_form_with(&new_client(), "/login", &[("email", "emp@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(again.status(), 422, "a deactivated person cannot log in");
        assert!(app.get_html("/admin/people").await.contains("Deactivated"));

        let response = app.post_form(&format!("/admin/people/{id}/reactivate"), &[]).await;
        assert_eq!(response.status(), 303);
        app.login_client("emp@example.com").await;
    }
);

backend_test!(
    async fn the_last_active_admin_cannot_be_removed(app) {
        let me = app.login_as("admin@example.com", "admin").await;
        let response = app.post_form(&format!("/admin/people/{me}/deactivate"), &[]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("cannot deactivate your own account"));
        let response = app
            .post_form(&format!("/admin/people/{me}"), &[("name", "Me"), ("role_employee", "on")])
            .await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("at least one active admin"));
        let person = app.db(move |conn| users::find(conn, me)).await.unwrap();
        assert!(person.roles.admin && person.active);
    }
);

backend_test!(
    async fn an_unused_invitation_shows_its_new_link_and_older_links_stop_working(app) {
        let server = crate::smtp_server::SmtpServer::start().await;
        app.login_as("admin@example.com", "admin").await;
        let added = app
            .post_form("/admin/people/new", &[("email", "new@example.com"), ("name", "New Person"), ("role_employee", "on")])
            .await;
        let invited = link_in(&added.text().await.unwrap());
        let id = app
            .db(|conn| users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("new@example.com").unwrap()))
            .await
            .unwrap()
            .id;
        let first = link_in(&app.post_form(&format!("/admin/people/{id}/password-link"), &[]).await.text().await.unwrap());
        let second = link_in(&app.post_form(&format!("/admin/people/{id}/password-link"), &[]).await.text().await.unwrap());
        assert_ne!(first, second);
        for old in [&invited, &first] {
            let path = old.strip_prefix(&app.address).unwrap().to_string();
            assert_eq!(app.get_with(&new_client(), &path).await.status(), 404, "older links stop working");
        }
        // The person is told of each link an admin asked for, and that the admin saw it.
        assert_eq!(crate::email::deliver(&app, &server).await.sent, 3);
        let told: Vec<String> = server
            .wait_for(3, std::time::Duration::from_secs(5))
            .await
            .into_iter()
            .map(|r| r.data.replace("=\r\n", ""))
            .filter(|raw| raw.contains("An administrator asked for a password link"))
            .collect();
        assert_eq!(told.len(), 2, "one notice per link");
        assert!(told.iter().all(|raw| raw.contains("the administrator saw this link too")));
        let second_path = second.strip_prefix(&app.address).unwrap().to_string();
        assert_eq!(app.post_form_with(&new_client(), &second_path, &[("password", PASSWORD)]).await.status(), 303);
        // Used: from now on a link is for them only.
        let page = app.post_form(&format!("/admin/people/{id}/password-link"), &[]).await.text().await.unwrap();
        assert!(!page.contains("id=\"password-link\"") && !page.contains("/invite/"), "{page}");
    }
);

backend_test!(
    async fn a_password_link_for_someone_who_signed_in_goes_only_to_them_with_a_notice(app) {
        let server = crate::smtp_server::SmtpServer::start().await;
        app.login_as("admin@example.com", "admin").await;
        let id = app.create_user("emp@example.com", "Emp", "employee").await;
        let emp = app.login_client("emp@example.com").await;
        // And someone who only ever signed in with single sign-on.
        let sso_id = app
            .db(|conn| {
                let user = users::NewUser {
                    email: chorus::domain::email::EmailAddress::parse("sso@example.com").unwrap(),
                    name: chorus::domain::names::PersonName::parse("Sso Person").unwrap(),
                    roles: chorus::domain::roles::Roles::parse_list("employee").unwrap(),
                    department: None,
                };
                let store::accounts::InviteOutcome::Invited(user, _) =
                    store::accounts::invite(conn, &user, chrono::Utc::now().naive_utc())?
                else {
                    panic!("email taken");
                };
                use diesel::RunQueryDsl;
                diesel::sql_query(format!("UPDATE users SET oidc_subject = 'sub-1' WHERE id = {}", user.id))
                    .execute(conn)?;
                Ok(user.id)
            })
            .await;
        crate::email::deliver(&app, &server).await;

        for person in [id, sso_id] {
            let response = app.post_form(&format!("/admin/people/{person}/password-link"), &[]).await;
            assert_eq!(response.status(), 200);
            let page = response.text().await.unwrap();
            assert!(page.contains("Chorus has emailed a one-time link") && page.contains("not shown to you"), "{page}");
            assert!(!page.contains("id=\"password-link\"") && !page.contains("/invite/") && !page.contains("/password/reset/"),
                "no link for the admin: {page}");
        }
        assert_eq!(crate::email::deliver(&app, &server).await.sent, 2);
        let received = server.wait_for(2, std::time::Duration::from_secs(5)).await;
        let to_emp = received.iter().find(|r| r.to == ["emp@example.com"]).expect("an email to the person");
        assert!(received.iter().any(|r| r.to == ["sso@example.com"]));
        let raw = to_emp.data.replace("=\r\n", "");
        assert!(raw.contains("An administrator asked for a password link for your account"), "{raw}");
        assert!(raw.contains("the administrator does not see it"), "{raw}");
        let theirs = app.get_with(&emp, "/me/visibility").await.text().await.unwrap();
        assert!(theirs.contains("An administrator asked for a password link for your account on"), "listed for them too");
        // The link works for the person, and ends the sessions opened with the old password.
        let link = crate::smtp_server::emailed_link(&to_emp.data, "/password/reset/");
        let path = link.strip_prefix(&app.address).unwrap().to_string();
        let new_password = "granite meadow whistles softly";
        assert_eq!(app.post_form_with(&new_client(), &path, &[("password", new_password)]).await.status(), 303);
        assert_eq!(app.get_with(&emp, "/").await.status(), 303, "old sessions end");
        // Audited, with what the admin was given.
        let audit = app.get_html("/admin/audit").await;
        assert!(audit.contains("user.password_link") && audit.contains("emailed to the person only"), "{audit}");
    }
);

backend_test!(
    async fn people_that_do_not_exist_are_not_found(app) {
        app.login_as("admin@example.com", "admin").await;
        assert_eq!(app.get("/admin/people/987654").await.status(), 404);
        let response = app.post_form("/admin/people/987654/deactivate", &[]).await;
        assert_eq!(response.status(), 404);
    }
);

backend_test!(
    async fn a_csv_upload_invites_the_good_rows_and_explains_the_refused_ones(app) {
        app.login_as("admin@example.com", "admin").await;
        app.create_user("existing@example.com", "Existing", "employee").await;
        let csv = "email,name,department,role\n\
            ana@example.com,Ana Alves,Sales,employee\n\
            ben@example.com,Ben Brown,Research,comms;employee\n\
            broken-address,Cat,,employee\n\
            existing@example.com,Existing Again,,employee\n\
            dan@example.com,Dan,,overlord\n\
            ana@example.com,Ana Twice,,\n";
        let token = app.csrf_token_with(&app.client, "/admin/people/import").await;
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .part("file", reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("people.csv"));
        let response = app.client.post(app.url("/admin/people/import")).multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.contains("2 accepted, 4 refused"), "{body}");
        assert!(body.contains("Enter an email address like"));
        assert!(body.contains("already has an account"));
        assert!(body.contains("Unknown role"));
        assert!(body.contains("same email address is on line 2"));
        assert_eq!(body.matches("/invite/").count(), 4, "two links, each as text and href");

        let ben = app
            .db(|conn| users::find_by_email(conn, &chorus::domain::email::EmailAddress::parse("ben@example.com").unwrap()))
            .await
            .unwrap();
        assert!(ben.roles.comms && ben.roles.employee);
        assert_eq!(ben.department.as_deref(), Some("Research"));

        // A file that is not CSV with the right header is refused whole.
        let token = app.csrf_token_with(&app.client, "/admin/people/import").await;
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .part("file", reqwest::multipart::Part::bytes(b"who,what\nx,y\n".to_vec()).file_name("x.csv"));
        let response = app.client.post(app.url("/admin/people/import")).multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("must name the columns"));
    }
);

backend_test!(
    async fn the_people_list_searches_and_pages(app) {
        app.login_as("admin@example.com", "admin").await;
        for n in 0..55 {
            app.db(move |conn| {
                let user = users::NewUser {
                    email: chorus::domain::email::EmailAddress::parse(&format!("p{n:02}@example.com")).unwrap(),
                    name: chorus::domain::names::PersonName::parse(&format!("Person {n:02}")).unwrap(),
                    roles: chorus::domain::roles::Roles::parse_list("employee").unwrap(),
                    department: None,
                };
                users::create(conn, &user, chrono::Utc::now().naive_utc()).map(|_| ())
            })
            .await;
        }
        let first = app.get_html("/admin/people").await;
        assert!(first.contains("56 people") && first.contains("Page 1 of 2"));
        let search = app.get_html("/admin/people?q=person%2007").await;
        assert!(search.contains("1 person matching") && search.contains("p07@example.com"));
        assert!(!search.contains("p08@example.com"));
    }
);

backend_test!(
    async fn a_department_move_is_audited_and_shown_to_the_person(app) {
        app.login_as("admin@example.com", "admin").await;
        let id = app.create_user_in("emp@example.com", "Emp", "employee", Some("Sales")).await;
        app.create_user_in("other@example.com", "Other", "employee", Some("Sales")).await;
        let emp = app.login_client("emp@example.com").await;
        let other = app.login_client("other@example.com").await;
        let before = app.get_with(&emp, "/me/visibility").await.text().await.unwrap();
        assert!(before.contains("Changes admins made to your account") && before.contains("None so far."));

        let save = |department: &'static str, name: &'static str| {
            let app = &app;
            async move {
                let response = app
                    .post_form(&format!("/admin/people/{id}"), &[("name", name), ("department", department), ("role_employee", "on")])
                    .await;
                assert_eq!(response.status(), 303);
            }
        };
        save("Research", "Emp").await;
        save("Research", "Emp Renamed").await; // no move: no entry
        assert_eq!(app.post_form(&format!("/admin/people/{id}/deactivate"), &[]).await.status(), 303);
        assert_eq!(app.post_form(&format!("/admin/people/{id}/reactivate"), &[]).await.status(), 303);

        let audit = app.get_html("/admin/audit").await;
        assert!(audit.contains("user.department_changed") && audit.contains("from Sales to Research"), "{audit}");
        assert!(audit.contains("department.created") && audit.contains("Research"), "the new department is audited");
        assert_eq!(audit.matches("from Sales to Research").count(), 1, "{audit}");

        let emp = app.login_client("emp@example.com").await;
        let on = app.clock.now_naive().format("%-d %B %Y").to_string();
        let page = app.get_with(&emp, "/me/visibility").await.text().await.unwrap();
        assert!(
            page.contains(&format!("Your department was changed from Sales to Research on {on} by an administrator.")),
            "{page}"
        );
        assert_eq!(page.matches("Your department was changed").count(), 1);
        assert!(page.contains(&format!("Your account was deactivated on {on} by an administrator.")));
        assert!(page.contains(&format!("Your account was reactivated on {on} by an administrator.")));
        // Newest first.
        assert!(page.find("reactivated").unwrap() < page.find("Your department was changed").unwrap());
        // Someone else sees nothing of it.
        let theirs = app.get_with(&other, "/me/visibility").await.text().await.unwrap();
        assert!(theirs.contains("None so far.") && !theirs.contains("Sales to Research"));
    }
);

/// This process's peak resident memory in KiB (the server runs in it).
/// Peak resident memory of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Streams a chunked multipart upload of `megabytes` MB to the import over
/// a raw socket (the token in the header, no Content-Length), and returns
/// the status line and body of the answer.
fn stream_upload(address: &str, cookie: &str, token: &str, megabytes: usize) -> String {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /admin/people/import HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
         X-CSRF-Token: {token}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut send = |bytes: &[u8]| -> bool {
        let chunk = [format!("{:x}\r\n", bytes.len()).as_bytes(), bytes, b"\r\n"].concat();
        stream.write_all(&chunk).is_ok()
    };
    send(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\nemail,name\n");
    let line = b"someone@example.com,Some One\n".repeat(64 * 1024 / 29);
    let mut sent = 0;
    while sent < megabytes * 1024 * 1024 {
        // The server may answer and close early: that is the point.
        if !send(&line) {
            break;
        }
        sent += line.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

backend_test!(
    async fn a_huge_import_with_the_token_in_a_header_is_refused_without_buffering(app) {
        let client = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        app.create_user("admin@example.com", "Admin", "admin").await;
        let response = app
            .post_form_with(&client, "/login", &[("email", "admin@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(response.status(), 303);
        let cookie = set_cookie_named(response.headers(), chorus::web::auth::session::session_cookie_name(false))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = app.csrf_token_with(&client, "/admin/people/import").await;

        // The memory measured is that of a real `chorus serve` on the same
        // database and key (sessions and CSRF tokens hold there too), not
        // of this test process, whose other tests come and go meanwhile.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
        command
            .arg("serve")
            .env("CHORUS_DATA_DIR", &app.config.data_dir)
            .env("CHORUS_BIND", format!("127.0.0.1:{port}"))
            .env("CHORUS_BASE_URL", &base)
            .env("CHORUS_JOBS_INTERVAL_SECONDS", "0")
            .env("CHORUS_LOG", "warn")
            .env_remove("CHORUS_DATABASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some(db) = &app.database {
            command.env("CHORUS_DATABASE_URL", &db.url);
        }
        let mut server = command.spawn().unwrap();
        let probe = new_client();
        for _ in 0..200 {
            if probe.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let before = peak_rss_kib(server.id());
        let (address, cookie_header, header_token) = (base.clone(), cookie.clone(), token.clone());
        let answer = tokio::task::spawn_blocking(move || stream_upload(&address, &cookie_header, &header_token, 100))
            .await
            .unwrap();
        let grown_mib = (peak_rss_kib(server.id()).saturating_sub(before)) / 1024;
        let _ = server.kill();
        let _ = server.wait();
        assert!(answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(300)]);
        assert!(answer.contains("larger than 2 MB"), "a clear page says why");
        assert!(grown_mib < 20, "peak RSS grew by {grown_mib} MiB while 100 MB streamed in");

        // A declared oversize body is refused before it is read.
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(vec![b'a'; 3 * 1024 * 1024]).file_name("big.csv"));
        let response = client
            .post(app.url("/admin/people/import"))
            .header("X-CSRF-Token", &token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413);

        // More rows than one import takes: refused whole, with the reason.
        let mut csv = String::from("email,name\n");
        for n in 0..10_001 {
            csv.push_str(&format!("person{n}@example.com,Person {n}\n"));
        }
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .part("file", reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("many.csv"));
        let response = client.post(app.url("/admin/people/import")).multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 413);
        assert!(response.text().await.unwrap().contains("more than 10000 people"));
        assert_eq!(app.db(|conn| users::list(conn, "person", 0, 10)).await.1, 0);
    }
);
