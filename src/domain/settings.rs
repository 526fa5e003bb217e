//! The organisation's settings as an admin types them, and their parsing
//! into a [`SettingsUpdate`]: every field checked, each refusal worded for
//! the field it belongs to.

use std::collections::HashMap;

use super::brand::BrandColour;
use super::disclosure;
use super::email::EmailAddress;
use super::names::PersonName;
use super::platforms::Platform;
use super::schedule::{self, Caps};
use super::share_caps::{self, CapPolicy};
use super::suppression;
use super::utm::{self, UtmTemplate};

/// The settings exactly as typed (trimmed), so a refused form comes back
/// unchanged. A platform's caps appear only when the form carried them.
#[derive(Debug, Clone, Default)]
pub struct SettingsForm {
    pub org_name: String,
    pub enabled: Vec<Platform>,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
    pub timezone: String,
    pub disclosure_template: String,
    pub disclosure_required: bool,
    /// Hub caps per platform: per day, per week.
    pub hub_caps: Vec<(Platform, String, String)>,
    /// Personal share caps per platform: default per day and week, ceiling
    /// per day and week.
    pub share_caps: Vec<(Platform, [String; 4])>,
    pub k_anonymity: String,
    pub crowd_threshold: String,
    pub crowd_cap_per_hour: String,
    /// Link tags: on or off, and the template as typed; `None` when the
    /// form did not carry them (they stay as they are).
    pub utm: Option<(bool, String)>,
    /// Posts need approval; `None` when the form did not carry the choice.
    pub posts_need_approval: Option<bool>,
    /// The emails' colour as typed; `None` when the form did not carry it.
    pub brand_colour: Option<String>,
}

/// Why settings were refused, field by field.
#[derive(Debug, Default)]
pub struct SettingsErrors {
    pub org_name: Option<String>,
    pub platforms: Option<String>,
    pub consent_language: Option<String>,
    pub jurisdiction: Option<String>,
    pub privacy_contact: Option<String>,
    pub timezone: Option<String>,
    pub disclosure: Option<String>,
    pub caps: Option<String>,
    pub share_caps: Option<String>,
    pub crowd: Option<String>,
    pub k: Option<String>,
    pub utm: Option<String>,
    pub brand_colour: Option<String>,
}

impl SettingsErrors {
    pub fn any(&self) -> bool {
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
            || self.utm.is_some()
            || self.brand_colour.is_some()
    }
}

/// Settings that passed [`SettingsForm::parse`]. What the form left out
/// (the smallest group, the crowd rule, a platform's caps) stays as it is.
#[derive(Debug, Clone)]
pub struct SettingsUpdate {
    pub org_name: String,
    pub timezone: String,
    pub disclosure_template: String,
    pub disclosure_required: bool,
    /// Threshold and hourly cap.
    pub crowd: Option<(i32, i32)>,
    pub k_anonymity: Option<u32>,
    pub enabled_platforms: Vec<Platform>,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
    pub hub_caps: HashMap<Platform, Caps>,
    pub share_policies: HashMap<Platform, CapPolicy>,
    /// Link tags on or off, and the checked template.
    pub utm: Option<(bool, String)>,
    pub posts_need_approval: Option<bool>,
    pub brand_colour: Option<BrandColour>,
}

/// A BCP 47 language tag in its common short form: "en", "de-CH", "pt-BR".
pub fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The link tags as typed: a template that is empty while tagging is off
/// becomes the default one; any other must parse, on or off, so that
/// turning tagging on later never finds a broken template.
fn parse_utm(enabled: bool, template: &str) -> Result<(bool, String), String> {
    let typed = template.trim();
    let typed = typed.strip_prefix('?').unwrap_or(typed).trim();
    if typed.is_empty() && !enabled {
        return Ok((false, utm::DEFAULT_TEMPLATE.to_string()));
    }
    UtmTemplate::parse(typed).map_err(|e| e.0)?;
    Ok((enabled, typed.to_string()))
}

fn parse_crowd(threshold: &str, cap_per_hour: &str) -> Result<Option<(i32, i32)>, String> {
    match (threshold.parse::<i32>(), cap_per_hour.parse::<i32>()) {
        (Ok(t), Ok(c)) if (1..=10_000).contains(&t) && (0..=10_000).contains(&c) => {
            Ok(Some((t, c)))
        }
        _ if threshold.is_empty() && cap_per_hour.is_empty() => Ok(None),
        _ => Err(
            "Enter whole numbers: a threshold of at least 1, and an hourly cap (0 for none)."
                .into(),
        ),
    }
}

impl SettingsForm {
    pub fn parse(&self) -> Result<SettingsUpdate, Box<SettingsErrors>> {
        let mut errors = SettingsErrors::default();
        if let Err(e) = schedule::parse_timezone(&self.timezone) {
            errors.timezone = Some(e.0);
        }
        let template =
            disclosure::parse_template(&self.disclosure_template, self.disclosure_required)
                .map_err(|e| errors.disclosure = Some(e.0))
                .ok();
        let mut hub_caps = HashMap::new();
        for (p, day, week) in &self.hub_caps {
            match Caps::parse(day, week) {
                Ok(caps) => {
                    hub_caps.insert(*p, caps);
                }
                Err(e) => errors.caps = Some(format!("{}: {}", p.name(), e.0)),
            }
        }
        let mut share_policies = HashMap::new();
        for (p, values) in &self.share_caps {
            match share_caps::parse_policy([&values[0], &values[1], &values[2], &values[3]]) {
                Ok(policy) => {
                    share_policies.insert(*p, policy);
                }
                Err(e) => errors.share_caps = Some(format!("{}: {}", p.name(), e.0)),
            }
        }
        let k_anonymity = match self.k_anonymity.as_str() {
            "" => None,
            text => suppression::parse_k(text)
                .map_err(|e| errors.k = Some(e.0))
                .ok(),
        };
        let crowd = parse_crowd(&self.crowd_threshold, &self.crowd_cap_per_hour)
            .map_err(|e| errors.crowd = Some(e))
            .ok()
            .flatten();
        let name = PersonName::parse(&self.org_name)
            .map_err(|_| "Enter the organisation's name (at most 100 characters).");
        errors.org_name = name.as_ref().err().map(|e| e.to_string());
        if self.enabled.is_empty() {
            errors.platforms = Some("Enable at least one platform.".into());
        }
        if !valid_language(&self.consent_language) {
            errors.consent_language = Some("Use a language code such as en, de or pt-BR.".into());
        }
        if self.jurisdiction.is_empty() || self.jurisdiction.chars().count() > 40 {
            errors.jurisdiction = Some("Enter where your data protection law applies, e.g. EU, DE or US-CA (at most 40 characters).".into());
        }
        if !self.privacy_contact.is_empty() && EmailAddress::parse(&self.privacy_contact).is_err() {
            errors.privacy_contact =
                Some("Enter an email address like privacy@example.com, or leave it empty.".into());
        }
        let utm = match &self.utm {
            Some((enabled, template)) => parse_utm(*enabled, template)
                .map_err(|e| errors.utm = Some(e))
                .ok(),
            None => None,
        };
        let brand_colour = match &self.brand_colour {
            Some(typed) => BrandColour::parse(typed)
                .map_err(|e| errors.brand_colour = Some(e.to_string()))
                .ok(),
            None => None,
        };
        if errors.any() {
            return Err(Box::new(errors));
        }
        Ok(SettingsUpdate {
            org_name: name
                .map(|n| n.as_str().to_string())
                .unwrap_or_else(|_| self.org_name.clone()),
            timezone: self.timezone.clone(),
            disclosure_template: template.unwrap_or_default(),
            disclosure_required: self.disclosure_required,
            crowd,
            k_anonymity,
            enabled_platforms: self.enabled.clone(),
            consent_language: self.consent_language.clone(),
            jurisdiction: self.jurisdiction.clone(),
            privacy_contact: self.privacy_contact.to_lowercase(),
            hub_caps,
            share_policies,
            utm,
            posts_need_approval: self.posts_need_approval,
            brand_colour,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{SettingsForm, valid_language};
    use crate::domain::platforms::Platform;

    fn form(utm: Option<(bool, &str)>) -> SettingsForm {
        SettingsForm {
            org_name: "Acme".into(),
            enabled: vec![Platform::X],
            consent_language: "en".into(),
            jurisdiction: "EU".into(),
            timezone: "UTC".into(),
            disclosure_template: "I work at {org}.".into(),
            utm: utm.map(|(on, t)| (on, t.to_string())),
            ..SettingsForm::default()
        }
    }

    #[test]
    fn link_tags_are_saved_checked_and_left_alone_when_the_form_omits_them() {
        let saved = form(Some((true, " ?utm_source={platform} ")))
            .parse()
            .unwrap();
        assert_eq!(saved.utm, Some((true, "utm_source={platform}".to_string())));
        let off = form(Some((false, ""))).parse().unwrap();
        assert_eq!(
            off.utm,
            Some((false, crate::domain::utm::DEFAULT_TEMPLATE.into()))
        );
        assert_eq!(form(None).parse().unwrap().utm, None);
        for bad in [(true, ""), (true, "utm_source={person}"), (false, "a=b c")] {
            let errors = form(Some(bad)).parse().unwrap_err();
            assert!(errors.utm.is_some(), "{bad:?}");
        }
    }

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
