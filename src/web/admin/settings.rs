//! Admin → Settings: the organisation's name, the platforms it uses, and
//! what consent receipts say about language, jurisdiction and contact.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::domain::email::EmailAddress;
use crate::domain::names::PersonName;
use crate::domain::platforms::Platform;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, SavedQuery, ok, refused, see_other};
use std::collections::HashMap;

use crate::domain::disclosure;
use crate::domain::schedule::{self, Caps};
use crate::domain::share_caps::{self, CapPolicy};
use crate::domain::suppression;
use crate::store::{self, StoreError, org::SettingsChange};

pub struct PlatformOption {
    pub slug: &'static str,
    pub name: &'static str,
    pub enabled: bool,
    pub per_day: String,
    pub per_week: String,
    /// Personal share caps: default per day and week, ceiling per day and week.
    pub share: [String; 4],
}

#[derive(Default)]
struct SettingsErrors {
    org_name: Option<String>,
    platforms: Option<String>,
    consent_language: Option<String>,
    jurisdiction: Option<String>,
    privacy_contact: Option<String>,
    timezone: Option<String>,
    disclosure: Option<String>,
    caps: Option<String>,
    share_caps: Option<String>,
    crowd: Option<String>,
    k: Option<String>,
}

impl SettingsErrors {
    fn any(&self) -> bool {
        self.timezone.is_some()
            || self.disclosure.is_some()
            || self.caps.is_some()
            || self.share_caps.is_some()
            || self.crowd.is_some()
            || self.k.is_some()
            || self.org_name.is_some()
            || self.platforms.is_some()
            || self.consent_language.is_some()
            || self.jurisdiction.is_some()
            || self.privacy_contact.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    page: PageContext,
    org_name: String,
    platforms: Vec<PlatformOption>,
    consent_language: String,
    jurisdiction: String,
    privacy_contact: String,
    timezone: String,
    disclosure_template: String,
    disclosure_required: bool,
    crowd_threshold: String,
    crowd_cap_per_hour: String,
    k_anonymity: String,
    errors: SettingsErrors,
    saved: bool,
    timezones: Vec<&'static str>,
}

fn options(
    enabled: &[Platform],
    caps: &HashMap<Platform, Caps>,
    share: &HashMap<Platform, CapPolicy>,
) -> Vec<PlatformOption> {
    Platform::ALL
        .into_iter()
        .map(|p| PlatformOption {
            slug: p.slug(),
            name: p.name(),
            enabled: enabled.contains(&p),
            per_day: caps
                .get(&p)
                .map(|c| c.per_day.to_string())
                .unwrap_or_default(),
            per_week: caps
                .get(&p)
                .map(|c| c.per_week.to_string())
                .unwrap_or_default(),
            share: share
                .get(&p)
                .map(|s| {
                    [
                        s.default.per_day,
                        s.default.per_week,
                        s.ceiling.per_day,
                        s.ceiling.per_week,
                    ]
                    .map(|n| n.to_string())
                })
                .unwrap_or_default(),
        })
        .collect()
}

const SHARE_FIELDS: [&str; 4] = [
    "share_default_day",
    "share_default_week",
    "share_ceiling_day",
    "share_ceiling_week",
];

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    let (settings, caps, share) = state
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                store::org::settings(conn)?,
                store::posts::caps(conn)?,
                store::shares::policies(conn)?,
            ))
        })
        .await?;
    ok(&SettingsPage {
        page: PageContext::from(&signed_in),
        platforms: options(&settings.enabled_platforms(), &caps, &share),
        crowd_threshold: settings.crowd_threshold.to_string(),
        crowd_cap_per_hour: settings.crowd_cap_per_hour.to_string(),
        k_anonymity: settings.k().to_string(),
        timezone: settings.timezone_name().to_string(),
        disclosure_template: settings.disclosure_template.clone(),
        disclosure_required: settings.disclosure_required,
        timezones: crate::web::page::timezone_names(),
        org_name: settings.org_name,
        consent_language: settings.consent_language,
        jurisdiction: settings.jurisdiction,
        privacy_contact: settings.privacy_contact,
        errors: SettingsErrors::default(),
        saved: query.saved.is_some(),
    })
}

/// A BCP 47 language tag in its common short form: "en", "de-CH", "pt-BR".
fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub async fn save(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    // Repeated checkbox names (platform=x&platform=linkedin) need the raw pairs.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let enabled: Vec<Platform> = Platform::ALL
        .into_iter()
        .filter(|p| pairs.iter().any(|(k, v)| k == "platform" && v == p.slug()))
        .collect();
    let (org_name, consent_language, jurisdiction, privacy_contact) = (
        field("org_name"),
        field("consent_language"),
        field("jurisdiction"),
        field("privacy_contact"),
    );
    let current = state.db.run(store::org::settings).await?;
    let timezone = field("timezone");
    let disclosure_template = field("disclosure_template");
    let disclosure_required = !field("disclosure_required").is_empty();
    let mut errors = SettingsErrors::default();
    if let Err(e) = schedule::parse_timezone(&timezone) {
        errors.timezone = Some(e.0);
    }
    let template = disclosure::parse_template(&disclosure_template, disclosure_required)
        .map_err(|e| errors.disclosure = Some(e.0))
        .ok();
    let mut caps: HashMap<Platform, Caps> = HashMap::new();
    let mut cap_text: HashMap<Platform, (String, String)> = HashMap::new();
    for p in Platform::ALL {
        let (day, week) = (
            field(&format!("per_day_{}", p.slug())),
            field(&format!("per_week_{}", p.slug())),
        );
        if day.is_empty() && week.is_empty() {
            // Not on the form that was sent: leave this platform's caps as they are.
            continue;
        }
        match (day.parse::<u32>(), week.parse::<u32>()) {
            (Ok(per_day), Ok(per_week))
                if per_day <= 100 && per_week <= 700 && per_day <= per_week =>
            {
                caps.insert(p, Caps { per_day, per_week });
            }
            _ => {
                errors.caps = Some(format!(
                    "{}: enter whole numbers, at most 100 a day and 700 a week, and no more a day than a week.",
                    p.name()
                ));
            }
        }
        cap_text.insert(p, (day, week));
    }
    let mut share_policies: HashMap<Platform, CapPolicy> = HashMap::new();
    let mut share_text: HashMap<Platform, [String; 4]> = HashMap::new();
    for p in Platform::ALL {
        let values = SHARE_FIELDS.map(|name| field(&format!("{name}_{}", p.slug())));
        if values.iter().all(String::is_empty) {
            continue;
        }
        match share_caps::parse_policy([&values[0], &values[1], &values[2], &values[3]]) {
            Ok(policy) => {
                share_policies.insert(p, policy);
            }
            Err(e) => errors.share_caps = Some(format!("{}: {}", p.name(), e.0)),
        }
        share_text.insert(p, values);
    }
    let k_text = field("k_anonymity");
    let k_value = if k_text.is_empty() {
        current.k()
    } else {
        match suppression::parse_k(&k_text) {
            Ok(k) => k,
            Err(e) => {
                errors.k = Some(e.0);
                current.k()
            }
        }
    };
    let (crowd_threshold, crowd_cap_per_hour) =
        (field("crowd_threshold"), field("crowd_cap_per_hour"));
    let crowd = match (
        crowd_threshold.parse::<i32>(),
        crowd_cap_per_hour.parse::<i32>(),
    ) {
        (Ok(t), Ok(c)) if (1..=10_000).contains(&t) && (0..=10_000).contains(&c) => Some((t, c)),
        _ if crowd_threshold.is_empty() && crowd_cap_per_hour.is_empty() => None,
        _ => {
            errors.crowd = Some(
                "Enter whole numbers: a threshold of at least 1, and an hourly cap (0 for none)."
                    .into(),
            );
            None
        }
    };
    let name = PersonName::parse(&org_name)
        .map_err(|_| "Enter the organisation's name (at most 100 characters).");
    errors.org_name = name.as_ref().err().map(|e| e.to_string());
    if enabled.is_empty() {
        errors.platforms = Some("Enable at least one platform.".into());
    }
    if !valid_language(&consent_language) {
        errors.consent_language = Some("Use a language code such as en, de or pt-BR.".into());
    }
    if jurisdiction.is_empty() || jurisdiction.chars().count() > 40 {
        errors.jurisdiction = Some("Enter where your data protection law applies, e.g. EU, DE or US-CA (at most 40 characters).".into());
    }
    if !privacy_contact.is_empty() && EmailAddress::parse(&privacy_contact).is_err() {
        errors.privacy_contact =
            Some("Enter an email address like privacy@example.com, or leave it empty.".into());
    }
    if errors.any() {
        let platforms = options(&enabled, &HashMap::new(), &HashMap::new())
            .into_iter()
            .map(|mut o| {
                if let Some(p) = Platform::from_slug(o.slug) {
                    if let Some((day, week)) = cap_text.get(&p) {
                        o.per_day = day.clone();
                        o.per_week = week.clone();
                    }
                    if let Some(values) = share_text.get(&p) {
                        o.share = values.clone();
                    }
                }
                o
            })
            .collect();
        return refused(&SettingsPage {
            page: PageContext::from(&signed_in),
            org_name,
            platforms,
            timezone,
            disclosure_template,
            disclosure_required,
            crowd_threshold,
            crowd_cap_per_hour,
            k_anonymity: k_text,
            timezones: crate::web::page::timezone_names(),
            consent_language,
            jurisdiction,
            privacy_contact,
            errors,
            saved: false,
        });
    }
    let change = SettingsChange {
        org_name: name.map(|n| n.as_str().to_string()).unwrap_or(org_name),
        timezone,
        disclosure_template: template.unwrap_or_default(),
        disclosure_required,
        crowd_threshold: crowd.map(|c| c.0).unwrap_or(current.crowd_threshold),
        crowd_cap_per_hour: crowd.map(|c| c.1).unwrap_or(current.crowd_cap_per_hour),
        k_anonymity: k_value,
        enabled_platforms: enabled,
        consent_language,
        jurisdiction,
        privacy_contact: privacy_contact.to_lowercase(),
    };
    let now = state.clock.now_naive();
    let admin = signed_in.user.id;
    state
        .db
        .run(move |conn| {
            store::org::apply_settings(conn, &change, &caps, &share_policies, admin, now)
        })
        .await?;
    Ok(see_other("/admin/settings?saved=1"))
}

#[cfg(test)]
mod tests {
    use super::valid_language;

    #[test]
    fn language_tags_in_their_common_forms_are_accepted() {
        for ok in ["en", "de", "pt-BR", "de-CH", "gsw"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in ["", "E", "english", "en_US", "en-", "EN"] {
            assert!(!valid_language(bad), "{bad}");
        }
    }
}
