//! The layout around every page: the main navigation shows the person's
//! own links, marks the page they are on, and stays on error pages.

use crate::backend_test;
use crate::helpers::*;

/// The main navigation (the header's; the phone menu repeats it).
fn main_navigation(body: &str) -> &str {
    let start = body
        .find("<nav aria-label=\"Main\">")
        .expect("a main navigation");
    let end = start + body[start..].find("</nav>").expect("its end");
    &body[start..end]
}

/// The links of the main navigation marked as the page shown.
fn current_links(body: &str) -> Vec<&str> {
    let nav = main_navigation(body);
    nav.match_indices("aria-current=\"page\"")
        .filter_map(|(marked, _)| {
            let start = nav[..marked].rfind("href=\"")? + "href=\"".len();
            nav[start..].split('"').next()
        })
        .collect()
}

backend_test!(
    async fn the_navigation_marks_the_area_of_the_page_you_are_on(app) {
        app.login_as("casey@example.com", "comms,admin").await;
        for (path, marked) in [
            ("/", "/"),
            ("/hub/posts", "/hub/posts"),
            ("/hub/calendar", "/hub/posts"),
            ("/admin/people", "/admin/people"),
            ("/admin/people/new", "/admin/people"),
            ("/me/data", "/me/data"),
        ] {
            let body = app.get_html(path).await;
            assert_eq!(current_links(&body), [marked], "on {path}");
        }
    }
);

backend_test!(
    async fn error_pages_keep_the_navigation_of_the_person_signed_in(app) {
        app.login_as("grace@example.com", "employee").await;
        for (path, status) in [("/admin/people", 403), ("/no/such/page", 404), ("/hub/posts", 403)] {
            let response = app.get(path).await;
            assert_eq!(response.status().as_u16(), status, "{path}");
            let body = response.text().await.unwrap();
            assert!(body.contains("<nav aria-label=\"Main\">"), "{path} keeps the navigation");
            assert!(body.contains("href=\"/queue\""), "{path} offers the person's queue");
            assert!(!body.contains("href=\"/admin/people\""), "{path} offers no admin link");
            assert!(body.contains("Log out"), "{path} keeps the logout button");
        }
        // Someone not signed in gets the page without a navigation.
        let body = new_client().get(app.url("/no/such/page")).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains("<nav aria-label=\"Main\">"));
        assert!(body.contains("Page not found"));
    }
);

backend_test!(
    async fn the_administration_pages_sit_under_one_entry_with_tabs_across_them(app) {
        app.login_as("casey@example.com", "comms,admin").await;
        let body = app.get_html("/admin/policy").await;
        let nav = main_navigation(&body);
        assert!(nav.contains(">Admin</a>"), "one Admin entry: {nav}");
        for page in ["/admin/settings", "/admin/audit", "/admin/tokens"] {
            assert!(!nav.contains(&format!("href=\"{page}\"")), "{page} is a tab, not in the main navigation");
        }
        assert_eq!(current_links(&body), ["/admin/people"], "Admin is marked on its pages");
        let tabs = &body[body.find("<nav aria-label=\"Administration\"").expect("tabs on an admin page")..];
        let tabs = &tabs[..tabs.find("</nav>").unwrap()];
        for label in ["People", "Policy", "Settings", "Email", "Announcements", "Audit", "Integrations"] {
            assert!(tabs.contains(&format!(">{label}</a>")), "{label} tab: {tabs}");
        }
        assert!(tabs.contains("href=\"/admin/policy\" aria-current=\"page\""), "the page shown is marked: {tabs}");
        // Reports and the hub are their own entries, without the tabs.
        for path in ["/admin/reports", "/hub/posts", "/"] {
            assert!(!app.get_html(path).await.contains("aria-label=\"Administration\""), "no tabs on {path}");
        }
        assert_eq!(current_links(&app.get_html("/admin/reports").await), ["/admin/reports"]);
    }
);
