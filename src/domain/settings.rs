//! The organisation's settings as an admin types them, and their parsing
//! into a [`SettingsUpdate`]: every field checked, each refusal worded for
//! the field it belongs to.

use std::collections::HashMap;

use super::disclosure;
use super::email::EmailAddress;
use super::names::PersonName;
use super::platforms::Platform;
use super::schedule::{self, Caps};
use super::share_caps::{self, CapPolicy};
use super::suppression;

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
}

/// A BCP 47 language tag in its common short form: "en", "de-CH", "pt-BR".
pub fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
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
        })
    }
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
