//! Me → Preferences (own share caps within the ceiling, time zone, quiet
//! hours) and Me → What others see (the transparency page).

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::consent::Purpose;
use crate::domain::digest;
use crate::domain::platforms::Platform;
use crate::domain::schedule;
use crate::domain::share_caps::{CapPolicy, ShareCaps, parse_personal};
use crate::store::users::Preferences;
use crate::store::{self, StoreError};
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

fn minutes_to_text(minutes: Option<i32>) -> String {
    minutes
        .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .unwrap_or_default()
}

fn text_to_minutes(text: &str) -> Result<Option<i32>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (h, m) = text.split_once(':').ok_or(())?;
    let (h, m): (i32, i32) = (
        h.parse().map_err(|_| ())?,
        m.get(..2).unwrap_or(m).parse().map_err(|_| ())?,
    );
    if (0..24).contains(&h) && (0..60).contains(&m) {
        Ok(Some(h * 60 + m))
    } else {
        Err(())
    }
}

struct Loaded {
    enabled: Vec<Platform>,
    policies: std::collections::HashMap<Platform, CapPolicy>,
    personal: std::collections::HashMap<Platform, ShareCaps>,
    preferences: Preferences,
    org_timezone: String,
    digest: store::users::DigestSettings,
    digest_consent: bool,
}

async fn load(state: &AppState, user_id: i64) -> WebResult<Loaded> {
    Ok(state
        .db
        .run(move |conn| {
            let settings = store::org::settings(conn)?;
            Ok::<_, StoreError>(Loaded {
                enabled: settings.enabled_platforms(),
                org_timezone: settings.timezone_name().to_string(),
                policies: store::shares::policies(conn)?,
                personal: store::shares::personal(conn, user_id)?,
                preferences: store::users::preferences(conn, user_id)?,
                digest: store::users::digest_settings(conn, user_id)?,
                digest_consent: store::consent::allows(conn, user_id, Purpose::EmailDigest)?,
            })
        })
        .await?)
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    let loaded = load(&state, signed_in.user.id).await?;
    let rows = loaded
        .enabled
        .iter()
        .map(|p| {
            let policy = loaded.policies[p];
            let caps = policy.effective(loaded.personal.get(p).copied());
            CapRow {
                platform: *p,
                per_day: caps.per_day.to_string(),
                per_week: caps.per_week.to_string(),
                ceiling: policy.ceiling,
                error: None,
            }
        })
        .collect();
    ok(&PreferencesPage {
        page: PageContext::from(&signed_in),
        rows,
        timezone: loaded
            .preferences
            .timezone
            .clone()
            .unwrap_or(loaded.org_timezone.clone()),
        quiet_from: minutes_to_text(loaded.preferences.quiet_from),
        quiet_until: minutes_to_text(loaded.preferences.quiet_until),
        timezone_error: None,
        quiet_error: None,
        saved: query.saved.is_some(),
        timezones: crate::web::page::timezone_names(),
        digest_frequency: loaded.digest.frequency.clone(),
        digest_weekday: loaded.digest.weekday.to_string(),
        digest_hour: loaded.digest.hour.to_string(),
        digest_max_posts: loaded.digest.max_posts.to_string(),
        digest_error: None,
        digest_consent: loaded.digest_consent,
    })
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
    let loaded = load(&state, signed_in.user.id).await?;
    let mut caps = Vec::new();
    let rows: Vec<CapRow> = loaded
        .enabled
        .iter()
        .map(|p| {
            let ceiling = loaded.policies[p].ceiling;
            let (mut day, mut week) = (
                field(&format!("day_{}", p.slug())),
                field(&format!("week_{}", p.slug())),
            );
            let sent = !(day.is_empty() && week.is_empty());
            if !sent {
                // Not on the form that was sent: the current caps stay as they are.
                let current = loaded.policies[p].effective(loaded.personal.get(p).copied());
                (day, week) = (current.per_day.to_string(), current.per_week.to_string());
            }
            let error = match parse_personal(&day, &week, ceiling) {
                Ok(c) => {
                    if sent {
                        caps.push((*p, c));
                    }
                    None
                }
                Err(e) => Some(e.0),
            };
            CapRow {
                platform: *p,
                per_day: day,
                per_week: week,
                ceiling,
                error,
            }
        })
        .collect();
    let timezone = field("timezone");
    let timezone_error = schedule::parse_timezone(&timezone).err().map(|e| e.0);
    let quiet = (
        text_to_minutes(&field("quiet_from")),
        text_to_minutes(&field("quiet_until")),
    );
    let quiet_error = match quiet {
        (Ok(a), Ok(b)) if a.is_some() == b.is_some() => None,
        (Ok(_), Ok(_)) => {
            Some("Give both the start and the end of your quiet hours, or neither.".to_string())
        }
        _ => Some("Enter quiet hours as times like 22:00 and 07:00.".to_string()),
    };
    // Fields missing from the request keep their current values.
    let or_current = |name: &str, current: String| {
        let value = field(name);
        if value.is_empty() { current } else { value }
    };
    let (frequency, weekday, hour, max_posts) = (
        or_current("digest_frequency", loaded.digest.frequency.clone()),
        or_current("digest_weekday", loaded.digest.weekday.to_string()),
        or_current("digest_hour", loaded.digest.hour.to_string()),
        or_current("digest_max_posts", loaded.digest.max_posts.to_string()),
    );
    let digest_settings = (|| {
        let frequency = digest::Frequency::parse(&frequency)
            .ok_or_else(|| "Choose off, daily or weekly.".to_string())?;
        Ok::<_, String>(store::users::DigestSettings {
            frequency: frequency.as_str().to_string(),
            weekday: digest::parse_weekday(&weekday).map_err(|e| e.0)? as i32,
            hour: digest::parse_hour(&hour).map_err(|e| e.0)? as i32,
            max_posts: digest::parse_max_posts(&max_posts).map_err(|e| e.0)? as i32,
            last_digest_at: None,
        })
    })();
    let page = PreferencesPage {
        page: PageContext::from(&signed_in),
        rows,
        timezone: timezone.clone(),
        quiet_from: field("quiet_from"),
        quiet_until: field("quiet_until"),
        timezone_error,
        quiet_error,
        saved: false,
        timezones: crate::web::page::timezone_names(),
        digest_error: digest_settings.as_ref().err().cloned(),
        digest_frequency: frequency,
        digest_weekday: weekday,
        digest_hour: hour,
        digest_max_posts: max_posts,
        digest_consent: loaded.digest_consent,
    };
    let Ok(digest_settings) = digest_settings
        .map_err(|_| ())
        .and_then(|d| if page.any_error() { Err(()) } else { Ok(d) })
    else {
        return refused(&page);
    };
    let preferences = Preferences {
        timezone: Some(timezone),
        quiet_from: quiet.0.ok().flatten(),
        quiet_until: quiet.1.ok().flatten(),
    };
    let (user_id, now) = (signed_in.user.id, state.clock.now_naive());
    state
        .db
        .run(move |conn| {
            store::shares::save_preferences(
                conn,
                user_id,
                &caps,
                &preferences,
                &digest_settings,
                now,
            )
        })
        .await?;
    Ok(see_other("/me/preferences?saved=1"))
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
    built: crate::web::admin::reports::Built,
    bars: Vec<crate::web::admin::reports::BarView>,
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
    let built = crate::web::admin::reports::build(&state, &Default::default()).await?;
    ok(&VisibilityPage {
        page: PageContext::from(&signed_in),
        account_changes: changes
            .iter()
            .filter_map(|(at, action, detail)| account_change(*at, action, detail, tz))
            .collect(),
        org_name: settings.org_name,
        bars: crate::web::admin::reports::chart(&built.reports.chart),
        built,
        query_string: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_are_read_as_times_of_day() {
        assert_eq!(text_to_minutes("22:00"), Ok(Some(1320)));
        assert_eq!(text_to_minutes(" 07:30 "), Ok(Some(450)));
        assert_eq!(text_to_minutes(""), Ok(None));
        assert!(text_to_minutes("25:00").is_err() && text_to_minutes("late").is_err());
        assert_eq!(minutes_to_text(Some(450)), "07:30");
    }
}
