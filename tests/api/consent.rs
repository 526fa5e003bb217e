//! Consent: policy versions, the append-only ledger, receipts, export, erasure.

use chorus::domain::consent::Purpose;
use chorus::domain::platforms::Platform;
use chorus::store::{self, consent};
use diesel::RunQueryDsl;

use crate::backend_test;
use crate::helpers::*;

async fn publish(app: &TestApp, admin: &reqwest::Client, text: &str, change: &str) {
    let token = app.csrf_token_with(admin, "/admin/policy").await;
    let response = admin
        .post(app.url("/admin/policy"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("markdown", text),
            ("change", change),
            ("action", "publish"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "publishing the policy");
}

async fn choose(
    app: &TestApp,
    client: &reqwest::Client,
    platform: &str,
    choice: &str,
    instance: &str,
) -> reqwest::Response {
    let token = app.csrf_token_with(client, "/me/consent").await;
    let purpose = if platform.is_empty() {
        "email_digest"
    } else {
        "share_suggestions"
    };
    client
        .post(app.url("/me/consent"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("purpose", purpose),
            ("platform", platform),
            ("choice", choice),
            ("instance", instance),
        ])
        .send()
        .await
        .unwrap()
}

/// An admin and an employee, with version 1 of the policy published.
async fn organisation(app: &mut TestApp) -> (reqwest::Client, i64) {
    app.login_as("admin@example.com", "admin").await;
    let employee = app
        .create_user("emp@example.com", "Emp Loyee", "employee")
        .await;
    let admin = app.client.clone();
    publish(
        app,
        &admin,
        "# Our policy\n\nShare only what you like.",
        "minor",
    )
    .await;
    (app.login_client("emp@example.com").await, employee)
}

async fn platforms_of(app: &TestApp, user_id: i64) -> Vec<Platform> {
    app.db(move |conn| consent::consented_platforms(conn, user_id))
        .await
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

async fn actions_of(app: &TestApp, user_id: i64) -> Vec<String> {
    app.db(move |conn| consent::events_for(conn, user_id))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect()
}

backend_test!(
    async fn give_withdraw_and_give_again_round_trip(app) {
        let (emp, id) = organisation(&mut app).await;
        let page = app.get_with(&emp, "/me/consent").await.text().await.unwrap();
        assert!(page.contains("No thanks") && page.contains("Yes, I agree"));
        assert!(page.contains("no consequences") && page.contains("Nobody at"));
        assert!(!page.contains("checked"), "nothing is pre-ticked");

        let response = choose(&app, &emp, "x", "yes", "").await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/me/consent?saved=1#x");
        assert_eq!(platforms_of(&app, id).await, vec![Platform::X]);

        // Withdrawal takes one click and applies within the request.
        let response = choose(&app, &emp, "x", "no", "").await;
        assert_eq!(response.status(), 303);
        assert!(platforms_of(&app, id).await.is_empty(), "posts for X leave the queue at once");

        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "yes", "").await; // a repeat records nothing
        choose(&app, &emp, "linkedin", "no", "").await;
        choose(&app, &emp, "", "yes", "").await;
        assert_eq!(actions_of(&app, id).await, vec!["given", "withdrawn", "re-given", "refused", "given"]);
        assert_eq!(platforms_of(&app, id).await, vec![Platform::X]);
        assert!(app.db(move |conn| consent::allows(conn, id, Purpose::EmailDigest)).await);

        let page = app.get_with(&emp, "/me/consent?saved=1").await.text().await.unwrap();
        assert!(page.contains("Your choice is saved"));
        assert!(page.contains("You said yes again") && page.contains("You withdrew"));
        let checked = app.db(consent::verify_all).await.expect("the chain is intact");
        assert_eq!(checked, 5);
    }
);

backend_test!(
    async fn nothing_can_be_agreed_before_a_policy_exists(app) {
        app.login_as("emp@example.com", "employee").await;
        let page = app.get_html("/me/consent").await;
        assert!(page.contains("has not published its social-media policy yet"));
        let response = choose(&app, &app.client, "x", "yes", "").await;
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("not published"));
    }
);

backend_test!(
    async fn mastodon_asks_for_the_persons_own_server(app) {
        let (emp, id) = organisation(&mut app).await;
        let response = choose(&app, &emp, "mastodon", "yes", "not a host!").await;
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("value=\"not a host!\""), "input kept");
        assert!(body.contains("aria-invalid=\"true\""));
        assert!(platforms_of(&app, id).await.is_empty());

        let response = choose(&app, &emp, "mastodon", "yes", "https://Mastodon.Social/").await;
        assert_eq!(response.status(), 303);
        let platforms = app.db(move |conn| consent::consented_platforms(conn, id)).await;
        assert_eq!(platforms, vec![(Platform::Mastodon, Some("mastodon.social".to_string()))]);
    }
);

backend_test!(
    async fn platforms_the_organisation_does_not_use_cannot_be_chosen(app) {
        let (emp, _) = organisation(&mut app).await;
        let response = choose(&app, &emp, "reddit", "yes", "").await;
        assert_eq!(response.status(), 400, "reddit is not enabled by default");
        let token = app.csrf_token_with(&app.client, "/admin/settings").await;
        let response = app
            .client
            .post(app.url("/admin/settings"))
            .form(&[("csrf_token", token.as_str()), ("org_name", "Acme"), ("platform", "reddit"),
                ("consent_language", "de"), ("jurisdiction", "DE"), ("privacy_contact", "privacy@acme.example"),
                ("timezone", "Europe/Berlin"), ("disclosure_template", "I work at {org}.")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let page = app.get_with(&emp, "/me/consent").await.text().await.unwrap();
        assert!(page.contains("id=\"reddit\"") && !page.contains("id=\"x\""));
        assert_eq!(choose(&app, &emp, "reddit", "yes", "").await.status(), 303);
        let event = app.db(|conn| consent::events_for(conn, 2)).await;
        assert!(event.iter().all(|e| e.language == "de" && e.jurisdiction == "DE"));
    }
);

backend_test!(
    async fn settings_refuse_bad_input_and_keep_it(app) {
        app.login_as("admin@example.com", "admin").await;
        let token = app.csrf_token_with(&app.client, "/admin/settings").await;
        let response = app
            .client
            .post(app.url("/admin/settings"))
            .form(&[("csrf_token", token.as_str()), ("org_name", "Acme <Inc>"), ("consent_language", "English"),
                ("jurisdiction", "EU"), ("privacy_contact", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        let body = response.text().await.unwrap();
        assert!(body.contains("Enable at least one platform"));
        assert!(body.contains("language code"));
        assert!(body.contains("value=\"English\"") && body.contains("value=\"nope\""));
        assert!(body.contains("Acme &#60;Inc&#62;") || body.contains("Acme &lt;Inc&gt;"));
    }
);

backend_test!(
    async fn the_ledger_refuses_update_and_delete_at_the_database(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        let update = app
            .state
            .db
            .run(|conn| diesel::sql_query("UPDATE consent_events SET action = 'refused'").execute(conn))
            .await;
        assert!(update.is_err(), "UPDATE must fail");
        let delete = app
            .state
            .db
            .run(|conn| diesel::sql_query("DELETE FROM consent_events").execute(conn))
            .await;
        assert!(delete.is_err(), "DELETE must fail");
        assert_eq!(actions_of(&app, id).await, vec!["given"]);
    }
);

fn chorus_verify(app: &TestApp) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
    command
        .args(["consent", "verify"])
        .env("CHORUS_DATA_DIR", &app.config.data_dir)
        .env("CHORUS_LOG", "warn")
        .env_remove("CHORUS_DATABASE_URL");
    if let Some(db) = &app.database {
        command.env("CHORUS_DATABASE_URL", &db.url);
    }
    command.output().unwrap()
}

backend_test!(
    async fn a_tampered_event_makes_consent_verify_fail_naming_it(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "no", "").await;
        let ok = chorus_verify(&app);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert!(String::from_utf8_lossy(&ok.stdout).contains("2 events checked"));

        // Someone with direct database access switches the triggers off and
        // turns the withdrawal into a consent.
        let target = app.db(move |conn| consent::events_for(conn, id)).await[1].event_uuid.clone();
        let sqlite = app.database.is_none();
        let tamper_id = target.clone();
        app.state
            .db
            .run(move |conn| {
                if sqlite {
                    diesel::sql_query("DROP TRIGGER consent_events_no_update").execute(conn)?;
                } else {
                    diesel::sql_query("ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only")
                        .execute(conn)?;
                }
                diesel::sql_query(format!(
                    "UPDATE consent_events SET action = 'given' WHERE event_uuid = '{tamper_id}'"
                ))
                .execute(conn)
            })
            .await
            .unwrap();
        let broken = chorus_verify(&app);
        assert_eq!(
            broken.status.code(),
            Some(1),
            "{:?}: {}",
            broken.status,
            String::from_utf8_lossy(&broken.stderr)
        );
        let stderr = String::from_utf8_lossy(&broken.stderr);
        assert!(stderr.contains(&target) && stderr.contains(&format!("user {id}")), "{stderr}");
    }
);

/// Runs raw SQL as someone with database access (not the server's key), in
/// one transaction, the append-only triggers switched off where asked.
async fn tamper(app: &TestApp, statements: Vec<String>) {
    use diesel::Connection;
    app.state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                for statement in &statements {
                    diesel::sql_query(statement.as_str()).execute(conn)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
        })
        .await
        .unwrap();
}

fn verify_fails_with(app: &TestApp, needles: &[&str]) {
    let broken = chorus_verify(app);
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    }
}

backend_test!(
    async fn deleting_the_latest_event_through_the_erasure_hatch_fails_verify(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "no", "").await;
        assert!(chorus_verify(&app).status.success());
        // The tamper from issue 21: announce an erasure, delete the latest
        // event (the withdrawal), withdraw the announcement, in one go.
        let latest = app.db(move |conn| consent::events_for(conn, id)).await[1].event_uuid.clone();
        tamper(&app, vec![
            format!("INSERT INTO consent_erasures (user_id) VALUES ({id})"),
            format!("DELETE FROM consent_events WHERE event_uuid = '{latest}'"),
            format!("DELETE FROM consent_erasures WHERE user_id = {id}"),
        ])
        .await;
        verify_fails_with(&app, &[&format!("user {id}"), "keyed seal"]);
        // Pointing the state at the surviving event is not enough either.
        let first = app.db(move |conn| consent::events_for(conn, id)).await[0].event_uuid.clone();
        tamper(&app, vec![format!(
            "UPDATE consent_state SET status = 'given', last_event_uuid = '{first}' WHERE user_id = {id}"
        )])
        .await;
        verify_fails_with(&app, &[&format!("user {id}"), "keyed seal"]);
    }
);

backend_test!(
    async fn a_state_that_disagrees_with_the_chain_fails_verify(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "no", "").await;
        tamper(&app, vec![format!("UPDATE consent_state SET status = 'given' WHERE user_id = {id}")]).await;
        verify_fails_with(&app, &[&format!("user {id}"), "does not agree with its event"]);
        let first = app.db(move |conn| consent::events_for(conn, id)).await[0].event_uuid.clone();
        tamper(&app, vec![format!(
            "UPDATE consent_state SET status = 'given', last_event_uuid = '{first}' WHERE user_id = {id}"
        )])
        .await;
        verify_fails_with(&app, &[&format!("user {id}"), "not the latest event"]);
    }
);

backend_test!(
    async fn verify_reads_people_far_apart_and_catches_a_state_pointing_across(app) {
        // Verify walks the ledger a range of person ids at a time: two
        // people thousands of ids apart are read in different ranges.
        let (emp, id) = organisation(&mut app).await;
        let far = 5_000 + id;
        if app.database.is_none() {
            tamper(&app, vec![format!("UPDATE sqlite_sequence SET seq = {far} WHERE name = 'users'")]).await;
        } else {
            tamper(&app, vec![format!("SELECT setval('users_id_seq', {far})")]).await;
        }
        let other_id = app.create_user("far@example.com", "Far Away", "employee").await;
        assert!(other_id > far, "the second person's id is far from the first's");
        let other = app.login_client("far@example.com").await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &other, "x", "yes", "").await;
        choose(&app, &other, "x", "no", "").await;
        let ok = chorus_verify(&app);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert!(String::from_utf8_lossy(&ok.stdout).contains("3 events checked"));

        // The first person's state made to name the far person's event.
        let theirs = app.db(move |conn| consent::events_for(conn, other_id)).await[1].event_uuid.clone();
        tamper(&app, vec![format!(
            "UPDATE consent_state SET status = 'withdrawn', last_event_uuid = '{theirs}' WHERE user_id = {id}"
        )])
        .await;
        verify_fails_with(&app, &[&format!("user {id}"), "names another person's or purpose's event"]);
    }
);

backend_test!(
    async fn a_chain_rewritten_or_erased_without_the_key_fails_verify(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "no", "").await;
        // Rewrite the whole chain: the withdrawal becomes a consent, every
        // hash recomputed, the state and even the seal's head made to match.
        let mut events = app.db(move |conn| consent::events_for(conn, id)).await;
        events[1].action = "given".into();
        let mut previous: Option<String> = None;
        let mut statements = Vec::new();
        if app.database.is_none() {
            statements.push("DROP TRIGGER consent_events_no_update".to_string());
        } else {
            statements.push("ALTER TABLE consent_events DISABLE TRIGGER consent_events_append_only".to_string());
        }
        for event in &events {
            let sealed = event.clone().sealed_after(previous.as_deref());
            statements.push(format!(
                "UPDATE consent_events SET action = '{}', prev_hash = '{}', hash = '{}' WHERE event_uuid = '{}'",
                sealed.action, sealed.prev_hash, sealed.hash, sealed.event_uuid
            ));
            previous = Some(sealed.hash);
        }
        let head = previous.unwrap();
        statements.push(format!("UPDATE consent_state SET status = 'given' WHERE user_id = {id}"));
        statements.push(format!("UPDATE consent_seals SET head_hash = '{head}' WHERE user_id = {id}"));
        tamper(&app, statements).await;
        app.db(move |conn| Ok(chorus::domain::consent::verify_chain(&consent::events_for(conn, id)?)))
            .await
            .expect("the hash chain alone holds after a rewrite");
        verify_fails_with(&app, &[&format!("user {id}"), "keyed seal"]);

        // Erase the person's records by hand, leaving a tombstone the
        // server's key did not sign.
        tamper(&app, vec![
            format!("INSERT INTO consent_erasures (user_id) VALUES ({id})"),
            format!("DELETE FROM consent_events WHERE user_id = {id}"),
            format!("DELETE FROM consent_state WHERE user_id = {id}"),
            format!("DELETE FROM consent_erasures WHERE user_id = {id}"),
            format!("UPDATE consent_seals SET kind = 'erased', events = 0, head_hash = '', mac = 'forged' WHERE user_id = {id}"),
        ])
        .await;
        verify_fails_with(&app, &[&format!("user {id}"), "forged erasure"]);
        // Or no tombstone at all: the seal still names the deleted events.
        tamper(&app, vec![format!("UPDATE consent_seals SET kind = 'live' WHERE user_id = {id}")]).await;
        verify_fails_with(&app, &[&format!("user {id}"), "deleted without an erasure"]);
    }
);

backend_test!(
    async fn a_material_policy_change_pauses_consent_and_a_minor_one_does_not(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "bluesky", "no", "").await;
        let admin = app.client.clone();

        publish(&app, &admin, "# Our policy\n\nShare only what you like, kindly.", "minor").await;
        assert_eq!(platforms_of(&app, id).await, vec![Platform::X], "minor: nothing changes");

        publish(&app, &admin, "# Our policy\n\nWe now also measure reach.", "material").await;
        let notice = app.get_html("/admin/policy?published=3&paused=1").await;
        assert!(notice.contains("1 consent given under older versions"));
        assert!(platforms_of(&app, id).await.is_empty(), "material: suggestions stop");
        let events = app.db(move |conn| consent::events_for(conn, id)).await;
        let last = events.last().unwrap();
        assert_eq!((last.action.as_str(), last.actor.as_str(), last.policy_version), ("invalidated", "system", 3));
        assert_eq!(events.iter().filter(|e| e.action == "invalidated").count(), 1, "a refusal is not invalidated");
        let page = app.get_with(&emp, "/me/consent").await.text().await.unwrap();
        assert!(page.contains("Paused: the policy changed") && page.contains("version 3"));

        choose(&app, &emp, "x", "yes", "").await;
        assert_eq!(platforms_of(&app, id).await, vec![Platform::X]);
        let last = app.db(move |conn| consent::events_for(conn, id)).await.pop().unwrap();
        assert_eq!((last.action.as_str(), last.policy_version), ("re-given", 3));
        app.db(consent::verify_all).await.expect("chains intact after invalidation");
    }
);

backend_test!(
    async fn the_policy_editor_previews_refuses_and_keeps_every_version(app) {
        app.login_as("admin@example.com", "admin").await;
        let token = app.csrf_token_with(&app.client, "/admin/policy").await;
        let text = "# Rules\n\nBe **kind**.\n\n<script>alert(1)</script>";
        let preview = app
            .client
            .post(app.url("/admin/policy"))
            .form(&[("csrf_token", token.as_str()), ("markdown", text), ("action", "preview")])
            .send()
            .await
            .unwrap();
        assert_eq!(preview.status(), 200);
        let body = preview.text().await.unwrap();
        assert!(body.contains("<strong>kind</strong>") && !body.contains("<script>alert"));
        assert!(body.contains(&chorus::domain::policy::fingerprint(text)));

        let refused = app
            .client
            .post(app.url("/admin/policy"))
            .form(&[("csrf_token", token.as_str()), ("markdown", text), ("action", "publish")])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 422);
        let body = refused.text().await.unwrap();
        assert!(body.contains("material change") && body.contains("Be **kind**"));
        assert!(app.db(store::policy::current).await.is_none(), "nothing published");

        let admin = app.client.clone();
        publish(&app, &admin, text, "minor").await;
        publish(&app, &admin, "# Rules v2", "material").await;
        let v1 = app.get_html("/policy/1").await;
        assert!(v1.contains("older version") && v1.contains(&chorus::domain::policy::fingerprint(text)));
        assert!(app.get_html("/policy").await.contains("version 2"));
        assert_eq!(app.get("/policy/9").await.status(), 404);
    }
);

backend_test!(
    async fn receipts_are_the_persons_own_in_html_and_kantara_json(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        let event = app.db(move |conn| consent::events_for(conn, id)).await.remove(0);
        let page = app.get_with(&emp, &format!("/me/receipts/{}", event.event_uuid)).await;
        assert_eq!(page.status(), 200);
        let body = page.text().await.unwrap();
        assert!(body.contains(&event.policy_sha256) && body.contains("Suggestions of posts to share on X"));

        let json = app.get_with(&emp, &format!("/me/receipts/{}.json", event.event_uuid)).await;
        assert_eq!(json.status(), 200);
        assert!(json.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        let receipt: serde_json::Value = serde_json::from_str(&json.text().await.unwrap()).unwrap();
        assert_eq!(receipt["version"], "KI-CR-v1.1.0");
        assert_eq!(receipt["consentReceiptID"], event.event_uuid.as_str());
        assert_eq!(receipt["piiPrincipalId"], "emp@example.com");
        assert_eq!(receipt["jurisdiction"], "EU");
        assert_eq!(receipt["language"], "en");
        assert!(receipt["policyUrl"].as_str().unwrap().ends_with("/policy/1"));
        assert_eq!(receipt["services"][0]["purposes"][0]["consentType"], "EXPLICIT");
        assert_eq!(receipt["chorus"]["hash"], event.hash.as_str());

        // Anyone else, admins included, gets 404 for it.
        for other in [app.client.clone(), {
            app.create_user("other@example.com", "Other", "employee").await;
            app.login_client("other@example.com").await
        }] {
            for suffix in ["", ".json"] {
                let response = app.get_with(&other, &format!("/me/receipts/{}{suffix}", event.event_uuid)).await;
                assert_eq!(response.status(), 404);
            }
        }
    }
);

backend_test!(
    async fn the_export_holds_the_profile_and_every_consent_event(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        choose(&app, &emp, "x", "no", "").await;
        let page = app.get_with(&emp, "/me/data").await.text().await.unwrap();
        assert!(page.contains("emp@example.com") && page.contains("2 recorded choices"));
        let response = app.get_with(&emp, "/me/data.json").await;
        assert_eq!(response.status(), 200);
        let data: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(data["profile"]["email"], "emp@example.com");
        assert_eq!(data["profile"]["name"], "Emp Loyee");
        let events = data["consent"]["events"].as_array().unwrap();
        let stored = app.db(move |conn| consent::events_for(conn, id)).await;
        assert_eq!(events.len(), 2);
        for (json, event) in events.iter().zip(&stored) {
            assert_eq!(json["consentReceiptID"], event.event_uuid.as_str());
            assert_eq!(json["chorus"]["action"], event.action.as_str());
        }
        assert_eq!(data["consent"]["current"][0]["status"], "withdrawn");
    }
);

backend_test!(
    async fn deleting_ones_account_erases_personal_data_and_consent(app) {
        let (emp, id) = organisation(&mut app).await;
        choose(&app, &emp, "x", "yes", "").await;
        let token = app.csrf_token_with(&emp, "/me/delete").await;
        let wrong = emp
            .post(app.url("/me/delete"))
            .form(&[("csrf_token", token.as_str()), ("password", "not my password at all")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 422);
        assert!(wrong.text().await.unwrap().contains("Nothing was deleted"));
        let response = emp
            .post(app.url("/me/delete"))
            .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/login?erased=1");
        assert_eq!(app.get_with(&emp, "/").await.status(), 303, "logged out");
        assert!(app.db(move |conn| consent::events_for(conn, id)).await.is_empty());
        assert!(app.db(move |conn| consent::states_for(conn, id)).await.is_empty());
        let tombstone = app.db(move |conn| store::users::find(conn, id)).await.unwrap();
        assert!(!tombstone.email.contains("emp@") && tombstone.name == "Erased account" && !tombstone.active);
        assert!(tombstone.password_hash.is_none());
        let login = app
            .post_form_with(&new_client(), "/login", &[("email", "emp@example.com"), ("password", PASSWORD)])
            .await;
        assert_eq!(login.status(), 422);
        app.db(consent::verify_all).await.expect("other chains unaffected");
        let verified = chorus_verify(&app);
        assert!(verified.status.success(), "a genuine erasure passes: {}", String::from_utf8_lossy(&verified.stderr));

        // The only admin cannot erase themselves.
        let token = app.csrf_token_with(&app.client, "/me/delete").await;
        let response = app
            .client
            .post(app.url("/me/delete"))
            .form(&[("csrf_token", token.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains("only active admin"));
    }
);

backend_test!(
    async fn concurrent_choices_on_two_servers_keep_one_unbroken_chain(app) {
        let (emp, id) = organisation(&mut app).await;
        // A second server process on the same database, as behind a load balancer.
        let second = chorus::startup::Application::build(app.config.clone()).await.unwrap();
        let second_address = format!("http://127.0.0.1:{}", second.port());
        actix_web::rt::spawn(second.run_until_stopped());

        let token = app.csrf_token_with(&emp, "/me/consent").await;
        let mut requests = Vec::new();
        for n in 0..16 {
            let base = if n % 2 == 0 { app.address.clone() } else { second_address.clone() };
            let client = emp.clone();
            let token = token.clone();
            let choice = if n % 3 == 0 { "no" } else { "yes" };
            let platform = ["x", "linkedin", "bluesky"][n % 3];
            requests.push(actix_web::rt::spawn(async move {
                client
                    .post(format!("{base}/me/consent"))
                    .header("origin", base.clone())
                    .form(&[("csrf_token", token.as_str()), ("purpose", "share_suggestions"),
                        ("platform", platform), ("choice", choice), ("instance", "")])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for request in requests {
            assert_eq!(request.await.unwrap(), 303, "every choice is recorded, none fails");
        }
        let events = app.db(move |conn| consent::events_for(conn, id)).await;
        assert!(!events.is_empty());
        app.db(consent::verify_all).await.expect("one unbroken chain");
        let states = app.db(move |conn| consent::states_for(conn, id)).await;
        for state in states {
            let last = events
                .iter()
                .rfind(|e| e.purpose == state.purpose.name() && e.platform == state.purpose.platform_slug())
                .unwrap();
            assert_eq!(
                chorus::domain::consent::Action::parse(&last.action).unwrap().status_after(),
                state.status,
                "the state is the latest event's"
            );
        }
    }
);
