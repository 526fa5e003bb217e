//! The layout every page shares: who is signed in (for the navigation),
//! the CSRF token (for the logout form) and where they are.

use super::markup::CsrfToken;

pub struct NavUser {
    pub name: String,
    pub is_employee: bool,
    pub is_comms: bool,
    pub is_admin: bool,
}

pub struct PageContext {
    pub user: Option<NavUser>,
    pub csrf_token: CsrfToken,
    /// The path asked for, to mark where the person is in the navigation.
    pub path: String,
}

/// One entry of the main navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// The page shown is this entry or one under it.
    pub current: bool,
}

/// An entry of the main navigation and who sees it.
struct NavEntry {
    href: &'static str,
    label: &'static str,
    /// The paths it stands for: these and those under them.
    under: &'static [&'static str],
    shown: fn(&NavUser) -> bool,
}

const fn entry(
    href: &'static str,
    label: &'static str,
    under: &'static [&'static str],
    shown: fn(&NavUser) -> bool,
) -> NavEntry {
    NavEntry {
        href,
        label,
        under,
        shown,
    }
}

/// The administration pages: one "Admin" entry in the main navigation,
/// and tabs across the top of each of these pages.
const ADMIN_PAGES: [(&str, &str); 7] = [
    ("/admin/people", "People"),
    ("/admin/policy", "Policy"),
    ("/admin/settings", "Settings"),
    ("/admin/email", "Email"),
    ("/admin/announcements", "Announcements"),
    ("/admin/audit", "Audit"),
    ("/admin/tokens", "Integrations"),
];

const ADMIN_PATHS: [&str; 7] = {
    let mut paths = [""; 7];
    let mut i = 0;
    while i < ADMIN_PAGES.len() {
        paths[i] = ADMIN_PAGES[i].0;
        i += 1;
    }
    paths
};

const NAVIGATION: [NavEntry; 10] = [
    entry("/", "Start", &["/"], |_| true),
    entry("/queue", "Queue", &["/queue"], |u| u.is_employee),
    entry("/me/consent", "Sharing choices", &["/me/consent"], |u| {
        u.is_employee
    }),
    entry(
        "/me/preferences",
        "Preferences",
        &["/me/preferences"],
        |u| u.is_employee,
    ),
    entry("/suggest", "Suggest", &["/suggest"], |u| u.is_employee),
    entry("/hub/posts", "Hub", &["/hub"], |u| u.is_comms),
    entry("/admin/reports", "Reports", &["/admin/reports"], |u| {
        u.is_comms || u.is_admin
    }),
    entry("/admin/people", "Admin", &ADMIN_PATHS, |u| u.is_admin),
    entry("/me/data", "My data", &["/me/data"], |_| true),
    entry("/me/tokens", "API tokens", &["/me/tokens"], |_| true),
];

/// Whether `path` is `area` or a page under it.
fn within(path: &str, area: &str) -> bool {
    if area == "/" {
        return path == "/";
    }
    path == area
        || path
            .strip_prefix(area)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl PageContext {
    /// A page for someone not known (an error page before the session layer).
    pub fn anonymous() -> PageContext {
        PageContext {
            user: None,
            csrf_token: CsrfToken::new(""),
            path: String::new(),
        }
    }

    /// The links this person sees, the one they are on marked.
    pub fn nav(&self) -> Vec<NavLink> {
        let Some(user) = &self.user else {
            return Vec::new();
        };
        NAVIGATION
            .iter()
            .filter(|entry| (entry.shown)(user))
            .map(|entry| NavLink {
                href: entry.href,
                label: entry.label,
                current: entry.under.iter().any(|area| within(&self.path, area)),
            })
            .collect()
    }

    /// The tabs of the administration pages, on those pages (none
    /// elsewhere, and none for someone who is not an admin).
    pub fn admin_tabs(&self) -> Vec<NavLink> {
        let is_admin = self.user.as_ref().is_some_and(|user| user.is_admin);
        if !is_admin || !ADMIN_PATHS.iter().any(|area| within(&self.path, area)) {
            return Vec::new();
        }
        ADMIN_PAGES
            .iter()
            .map(|&(href, label)| NavLink {
                href,
                label,
                current: within(&self.path, href),
            })
            .collect()
    }
}
