//! Admin → Settings: the organisation's name, the platforms it uses, and
//! what consent receipts say about language, jurisdiction and contact.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app;
use crate::domain::ids::UserId;
use crate::domain::platforms::Platform;
use crate::domain::schedule::Caps;
use crate::domain::settings::{SettingsErrors, SettingsForm};
use crate::domain::share_caps::CapPolicy;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{FirstValue, PageContext, SavedQuery, ok, refused, see_other};

pub struct PlatformOption {
    pub slug: &'static str,
    pub name: &'static str,
    pub enabled: bool,
    pub per_day: String,
    pub per_week: String,
    /// Personal share caps: default per day and week, ceiling per day and week.
    pub share: [String; 4],
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
    utm_tags: bool,
    utm_template: String,
    posts_need_approval: bool,
    brand_colour: String,
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
    let current = app::settings::current(&state).await?;
    let settings = current.org;
    let (caps, share) = (current.hub_caps, current.share_policies);
    ok(&SettingsPage {
        page: PageContext::from(&signed_in),
        platforms: options(&settings.enabled_platforms(), &caps, &share),
        crowd_threshold: settings.crowd_threshold.to_string(),
        crowd_cap_per_hour: settings.crowd_cap_per_hour.to_string(),
        k_anonymity: settings.k().to_string(),
        timezone: settings.timezone_name().to_string(),
        disclosure_template: settings.disclosure_template.clone(),
        disclosure_required: settings.disclosure_required,
        utm_tags: settings.utm_tags,
        utm_template: settings.utm_template.clone(),
        posts_need_approval: settings.posts_need_approval,
        brand_colour: settings.brand_colour().as_str().to_string(),
        timezones: crate::web::page::timezone_names(),
        org_name: settings.org_name,
        consent_language: settings.consent_language,
        jurisdiction: settings.jurisdiction,
        privacy_contact: settings.privacy_contact,
        errors: SettingsErrors::default(),
        saved: query.saved.is_some(),
    })
}

/// The settings form as posted. The platform checkboxes repeat one name
/// (`platform=x&platform=linkedin`); each platform's caps are named after
/// it (`per_day_{slug}`, `share_default_day_{slug}`, …).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsFields {
    platform: Vec<String>,
    #[serde(flatten)]
    named: HashMap<String, FirstValue>,
}

impl SettingsFields {
    fn form(&self) -> SettingsForm {
        let field = |name: &str| {
            self.named
                .get(name)
                .map(|v| v.0.trim().to_string())
                .unwrap_or_default()
        };
        let hub_caps = Platform::ALL
            .into_iter()
            .map(|p| {
                let day = field(&format!("per_day_{}", p.slug()));
                (p, day, field(&format!("per_week_{}", p.slug())))
            })
            // Not on the form that was sent: this platform's caps stay as they are.
            .filter(|(_, day, week)| !(day.is_empty() && week.is_empty()))
            .collect();
        let share_caps = Platform::ALL
            .into_iter()
            .map(|p| {
                (
                    p,
                    SHARE_FIELDS.map(|name| field(&format!("{name}_{}", p.slug()))),
                )
            })
            .filter(|(_, values)| !values.iter().all(String::is_empty))
            .collect();
        SettingsForm {
            org_name: field("org_name"),
            enabled: Platform::ALL
                .into_iter()
                .filter(|p| self.platform.iter().any(|v| v == p.slug()))
                .collect(),
            consent_language: field("consent_language"),
            jurisdiction: field("jurisdiction"),
            privacy_contact: field("privacy_contact"),
            timezone: field("timezone"),
            disclosure_template: field("disclosure_template"),
            disclosure_required: !field("disclosure_required").is_empty(),
            hub_caps,
            share_caps,
            k_anonymity: field("k_anonymity"),
            crowd_threshold: field("crowd_threshold"),
            crowd_cap_per_hour: field("crowd_cap_per_hour"),
            // A form without the template field leaves the tags as they are.
            utm: self
                .named
                .contains_key("utm_template")
                .then(|| (!field("utm_tags").is_empty(), field("utm_template"))),
            // The form marks that it carries the approval checkbox.
            posts_need_approval: self
                .named
                .contains_key("approval_choice")
                .then(|| !field("posts_need_approval").is_empty()),
            brand_colour: self
                .named
                .contains_key("brand_colour")
                .then(|| field("brand_colour")),
        }
    }
}

/// The form again as it was typed, with its refusals.
fn refused_page(signed_in: &SignedIn, form: SettingsForm, errors: SettingsErrors) -> SettingsPage {
    let platforms = options(&form.enabled, &HashMap::new(), &HashMap::new())
        .into_iter()
        .map(|mut o| {
            let typed_caps = form.hub_caps.iter().find(|(p, _, _)| p.slug() == o.slug);
            if let Some((_, day, week)) = typed_caps {
                o.per_day = day.clone();
                o.per_week = week.clone();
            }
            if let Some((_, values)) = form.share_caps.iter().find(|(p, _)| p.slug() == o.slug) {
                o.share = values.clone();
            }
            o
        })
        .collect();
    SettingsPage {
        page: PageContext::from(signed_in),
        org_name: form.org_name,
        platforms,
        timezone: form.timezone,
        disclosure_template: form.disclosure_template,
        disclosure_required: form.disclosure_required,
        crowd_threshold: form.crowd_threshold,
        crowd_cap_per_hour: form.crowd_cap_per_hour,
        k_anonymity: form.k_anonymity,
        utm_tags: form.utm.as_ref().is_some_and(|u| u.0),
        utm_template: form.utm.map(|u| u.1).unwrap_or_default(),
        posts_need_approval: form.posts_need_approval.unwrap_or_default(),
        brand_colour: form.brand_colour.unwrap_or_default(),
        timezones: crate::web::page::timezone_names(),
        consent_language: form.consent_language,
        jurisdiction: form.jurisdiction,
        privacy_contact: form.privacy_contact,
        errors,
        saved: false,
    }
}

pub async fn save(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let fields: SettingsFields = serde_html_form::from_bytes(&body)
        .map_err(|_| AppError::bad_request("The form could not be read. Please try again."))?;
    let form = fields.form();
    match form.parse() {
        Ok(update) => {
            app::settings::save(&state, update, UserId::new(signed_in.user.id)).await?;
            Ok(see_other("/admin/settings?saved=1"))
        }
        Err(errors) => refused(&refused_page(&signed_in, form, *errors)),
    }
}
