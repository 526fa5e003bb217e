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
    /// The paths it stands for: this one and those under it.
    under: &'static str,
    shown: fn(&NavUser) -> bool,
}

const fn entry(
    href: &'static str,
    label: &'static str,
    under: &'static str,
    shown: fn(&NavUser) -> bool,
) -> NavEntry {
    NavEntry {
        href,
        label,
        under,
        shown,
    }
}

const NAVIGATION: [NavEntry; 16] = [
    entry("/", "Start", "/", |_| true),
    entry("/queue", "Queue", "/queue", |u| u.is_employee),
    entry("/me/consent", "Sharing choices", "/me/consent", |u| {
        u.is_employee
    }),
    entry("/me/preferences", "Preferences", "/me/preferences", |u| {
        u.is_employee
    }),
    entry("/suggest", "Suggest", "/suggest", |u| u.is_employee),
    entry("/hub/posts", "Hub", "/hub", |u| u.is_comms),
    entry("/admin/reports", "Reports", "/admin/reports", |u| {
        u.is_comms || u.is_admin
    }),
    entry("/admin/people", "People", "/admin/people", |u| u.is_admin),
    entry("/admin/policy", "Policy", "/admin/policy", |u| u.is_admin),
    entry("/admin/settings", "Settings", "/admin/settings", |u| {
        u.is_admin
    }),
    entry("/admin/email", "Email", "/admin/email", |u| u.is_admin),
    entry(
        "/admin/announcements",
        "Announcements",
        "/admin/announcements",
        |u| u.is_admin,
    ),
    entry("/admin/audit", "Audit", "/admin/audit", |u| u.is_admin),
    entry("/admin/tokens", "Integrations", "/admin/tokens", |u| {
        u.is_admin
    }),
    entry("/me/data", "My data", "/me/data", |_| true),
    entry("/me/tokens", "API tokens", "/me/tokens", |_| true),
];

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
                current: if entry.under == "/" {
                    self.path == "/"
                } else {
                    self.path == entry.under
                        || self
                            .path
                            .strip_prefix(entry.under)
                            .is_some_and(|rest| rest.starts_with('/'))
                },
            })
            .collect()
    }
}
