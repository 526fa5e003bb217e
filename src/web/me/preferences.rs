//! Me → Preferences (own share caps within the ceiling, time zone, quiet
//! hours) and Me → What others see (the transparency page).

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::app::preferences::{self, Problems, Typed};
use crate::domain::digest;
use crate::domain::ids::UserId;
use crate::domain::platforms::Platform;
use crate::domain::share_caps::ShareCaps;
use crate::store;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, SavedQuery, ok, refused, see_other};

pub struct CapRow {
    pub platform: Platform,
    pub per_day: String,
    pub per_week: String,
    pub ceiling: ShareCaps,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "me/preferences.html")]
struct PreferencesPage {
    page: PageContext,
    rows: Vec<CapRow>,
    timezone: String,
    quiet_from: String,
    quiet_until: String,
    timezone_error: Option<String>,
    quiet_error: Option<String>,
    saved: bool,
    timezones: Vec<&'static str>,
    digest_frequency: String,
    digest_weekday: String,
    digest_hour: String,
    digest_max_posts: String,
    digest_error: Option<String>,
    digest_consent: bool,
}

impl PreferencesPage {
    fn any_error(&self) -> bool {
        self.timezone_error.is_some()
            || self.quiet_error.is_some()
            || self.digest_error.is_some()
            || self.rows.iter().any(|r| r.error.is_some())
    }

    fn weekdays(&self) -> Vec<(u32, &'static str)> {
        (1..=7).map(|n| (n, digest::weekday_name(n))).collect()
    }

    fn hours(&self) -> Vec<String> {
        (0..24).map(|h| h.to_string()).collect()
    }
}

/// The page for a form, as it stands or as typed, with its problems.
fn preferences_page(
    signed_in: &SignedIn,
    typed: Typed,
    mut problems: Problems,
    digest_consent: bool,
    saved: bool,
) -> PreferencesPage {
    PreferencesPage {
        page: PageContext::from(signed_in),
        rows: typed
            .caps
            .into_iter()
            .map(|caps| CapRow {
                error: problems.caps.remove(&caps.platform),
                platform: caps.platform,
                per_day: caps.per_day,
                per_week: caps.per_week,
                ceiling: caps.ceiling,
            })
            .collect(),
        timezone: typed.timezone,
        quiet_from: typed.quiet_from,
        quiet_until: typed.quiet_until,
        timezone_error: problems.timezone,
        quiet_error: problems.quiet,
        saved,
        timezones: crate::web::page::timezone_names(),
        digest_frequency: typed.digest_frequency,
        digest_weekday: typed.digest_weekday,
        digest_hour: typed.digest_hour,
        digest_max_posts: typed.digest_max_posts,
        digest_error: problems.digest,
        digest_consent,
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    let current = preferences::current(&state, UserId::new(signed_in.user.id)).await?;
    let (typed, saved) = (current.typed(), query.saved.is_some());
    let problems = Problems::default();
    ok(&preferences_page(
        &signed_in,
        typed,
        problems,
        current.digest_consent,
        saved,
    ))
}

pub async fn save(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let user = UserId::new(signed_in.user.id);
    let current = preferences::current(&state, user).await?;
    let typed = current.sent(field);
    match typed.parse() {
        Ok(new) => {
            preferences::save(&state, user, new).await?;
            Ok(see_other("/me/preferences?saved=1"))
        }
        Err(problems) => refused(&preferences_page(
            &signed_in,
            typed,
            problems,
            current.digest_consent,
            false,
        )),
    }
}

/// The most account changes the page lists.
const ACCOUNT_CHANGES_SHOWN: i64 = 500;

/// An admin's change to the person's own account, in words, dated in the
/// person's time zone.
fn account_change(
    at: chrono::NaiveDateTime,
    action: &str,
    detail: &str,
    tz: chrono_tz::Tz,
) -> Option<String> {
    let on = at.and_utc().with_timezone(&tz).format("%-d %B %Y");
    Some(match action {
        store::audit::DEPARTMENT_CHANGED => {
            format!("Your department was changed {detail} on {on} by an administrator.")
        }
        "user.deactivated" => format!("Your account was deactivated on {on} by an administrator."),
        "user.reactivated" => format!("Your account was reactivated on {on} by an administrator."),
        "user.password_link" => {
            format!("An administrator asked for a password link for your account on {on}.")
        }
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "me/visibility.html")]
struct VisibilityPage {
    page: PageContext,
    /// Changes admins made to this person's account, newest first.
    account_changes: Vec<String>,
    org_name: String,
    built: crate::app::reports::Built,
    chart: crate::web::admin::reports::ChartView,
    tiles: Vec<crate::web::admin::reports::Tile>,
    query_string: String,
}

pub async fn visibility(
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> WebResult<HttpResponse> {
    let settings = state.db.run(store::org::settings).await?;
    let user_id = signed_in.user.id;
    let changes = state
        .db
        .run(move |conn| store::audit::shown_to_person(conn, user_id, ACCOUNT_CHANGES_SHOWN))
        .await?;
    let tz = signed_in
        .user
        .timezone
        .as_deref()
        .and_then(|name| name.parse().ok())
        .unwrap_or_else(|| settings.timezone());
    let built = crate::app::reports::build_for_page(&state, &Default::default()).await?;
    ok(&VisibilityPage {
        page: PageContext::from(&signed_in),
        account_changes: changes
            .iter()
            .filter_map(|(at, action, detail)| account_change(*at, action, detail, tz))
            .collect(),
        org_name: settings.org_name,
        chart: crate::web::admin::reports::chart(&built.reports.chart),
        tiles: crate::web::admin::reports::tiles(&built),
        built,
        query_string: String::new(),
    })
}
