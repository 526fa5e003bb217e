//! A person's own preferences: share caps within the organisation's
//! ceiling, time zone, quiet hours and email digests. The form is parsed
//! whole into [`NewPreferences`], or refused with a problem per field.

use std::collections::HashMap;

use super::{App, Result};
use crate::domain::consent::Purpose;
use crate::domain::digest;
use crate::domain::ids::UserId;
use crate::domain::platforms::Platform;
use crate::domain::schedule;
use crate::domain::share_caps::{CapPolicy, ShareCaps, parse_personal};
use crate::store::users::{DigestSettings, Preferences};
use crate::store::{self, StoreError};

/// A person's preferences as they stand, with what bounds them.
pub struct Current {
    enabled: Vec<Platform>,
    policies: HashMap<Platform, CapPolicy>,
    personal: HashMap<Platform, ShareCaps>,
    preferences: Preferences,
    org_timezone: String,
    digest: DigestSettings,
    /// Whether the person said yes to email digests.
    pub digest_consent: bool,
}

pub async fn current(app: &App, user: UserId) -> Result<Current> {
    let user_id = user.get();
    Ok(app
        .db
        .run(move |conn| {
            let settings = store::org::settings(conn)?;
            Ok::<_, StoreError>(Current {
                enabled: settings.enabled_platforms(),
                org_timezone: settings.timezone_name().to_string(),
                policies: store::org::share_policies(conn)?,
                personal: store::shares::personal(conn, user_id)?,
                preferences: store::users::preferences(conn, user_id)?,
                digest: store::users::digest_settings(conn, user_id)?,
                digest_consent: store::consent::allows(conn, user_id, Purpose::EmailDigest)?,
            })
        })
        .await?)
}

/// A platform's caps as typed, with the ceiling they must stay under.
pub struct TypedCaps {
    pub platform: Platform,
    pub per_day: String,
    pub per_week: String,
    pub ceiling: ShareCaps,
    /// On the form that was sent (else the current caps stay as they are).
    sent: bool,
}

/// The preferences form, each field as typed (or as it stands, for the
/// form shown before any change).
pub struct Typed {
    /// One per platform the organisation shares on.
    pub caps: Vec<TypedCaps>,
    pub timezone: String,
    pub quiet_from: String,
    pub quiet_until: String,
    pub digest_frequency: String,
    pub digest_weekday: String,
    pub digest_hour: String,
    pub digest_max_posts: String,
}

/// Why a form was refused, field by field.
#[derive(Default)]
pub struct Problems {
    pub caps: HashMap<Platform, String>,
    pub timezone: Option<String>,
    pub quiet: Option<String>,
    pub digest: Option<String>,
}

/// Preferences that passed every rule, ready to be saved.
pub struct NewPreferences {
    /// Only the platforms whose caps were on the form.
    caps: Vec<(Platform, ShareCaps)>,
    preferences: Preferences,
    digest: DigestSettings,
}

impl Current {
    fn caps_of(&self, platform: Platform) -> ShareCaps {
        self.policies[&platform].effective(self.personal.get(&platform).copied())
    }

    /// The form filled in with the preferences as they stand.
    pub fn typed(&self) -> Typed {
        Typed {
            caps: self
                .enabled
                .iter()
                .map(|p| {
                    let caps = self.caps_of(*p);
                    TypedCaps {
                        platform: *p,
                        per_day: caps.per_day.to_string(),
                        per_week: caps.per_week.to_string(),
                        ceiling: self.policies[p].ceiling,
                        sent: false,
                    }
                })
                .collect(),
            timezone: self
                .preferences
                .timezone
                .clone()
                .unwrap_or(self.org_timezone.clone()),
            quiet_from: minutes_to_text(self.preferences.quiet_from),
            quiet_until: minutes_to_text(self.preferences.quiet_until),
            digest_frequency: self.digest.frequency.clone(),
            digest_weekday: self.digest.weekday.to_string(),
            digest_hour: self.digest.hour.to_string(),
            digest_max_posts: self.digest.max_posts.to_string(),
        }
    }

    /// The form as sent, `field` giving each field's value (empty when
    /// missing). The caps and digest fields missing from the request keep
    /// their current values.
    pub fn sent(&self, field: impl Fn(&str) -> String) -> Typed {
        let shown = self.typed();
        let or_current = |name: &str, current: String| {
            let value = field(name);
            if value.is_empty() { current } else { value }
        };
        Typed {
            caps: shown
                .caps
                .into_iter()
                .map(|caps| {
                    let day = field(&format!("day_{}", caps.platform.slug()));
                    let week = field(&format!("week_{}", caps.platform.slug()));
                    if day.is_empty() && week.is_empty() {
                        return caps;
                    }
                    TypedCaps {
                        per_day: day,
                        per_week: week,
                        sent: true,
                        ..caps
                    }
                })
                .collect(),
            timezone: field("timezone"),
            quiet_from: field("quiet_from"),
            quiet_until: field("quiet_until"),
            digest_frequency: or_current("digest_frequency", shown.digest_frequency),
            digest_weekday: or_current("digest_weekday", shown.digest_weekday),
            digest_hour: or_current("digest_hour", shown.digest_hour),
            digest_max_posts: or_current("digest_max_posts", shown.digest_max_posts),
        }
    }
}

impl Typed {
    /// The preferences, if every field keeps its rule: caps within the
    /// ceiling, a known time zone, both ends of the quiet hours or neither,
    /// and a digest schedule.
    pub fn parse(&self) -> std::result::Result<NewPreferences, Problems> {
        let mut problems = Problems::default();
        let mut caps = Vec::new();
        for typed in &self.caps {
            match parse_personal(&typed.per_day, &typed.per_week, typed.ceiling) {
                Ok(c) if typed.sent => caps.push((typed.platform, c)),
                Ok(_) => {}
                Err(e) => {
                    problems.caps.insert(typed.platform, e.0);
                }
            }
        }
        problems.timezone = schedule::parse_timezone(&self.timezone).err().map(|e| e.0);
        let quiet = (
            text_to_minutes(&self.quiet_from),
            text_to_minutes(&self.quiet_until),
        );
        problems.quiet = match quiet {
            (Ok(a), Ok(b)) if a.is_some() == b.is_some() => None,
            (Ok(_), Ok(_)) => {
                Some("Give both the start and the end of your quiet hours, or neither.".to_string())
            }
            _ => Some("Enter quiet hours as times like 22:00 and 07:00.".to_string()),
        };
        let digest = self.digest();
        problems.digest = digest.as_ref().err().cloned();
        match digest {
            Ok(digest)
                if problems.caps.is_empty()
                    && problems.timezone.is_none()
                    && problems.quiet.is_none() =>
            {
                Ok(NewPreferences {
                    caps,
                    preferences: Preferences {
                        timezone: Some(self.timezone.clone()),
                        quiet_from: quiet.0.ok().flatten(),
                        quiet_until: quiet.1.ok().flatten(),
                    },
                    digest,
                })
            }
            _ => Err(problems),
        }
    }

    fn digest(&self) -> std::result::Result<DigestSettings, String> {
        let frequency = digest::Frequency::parse(&self.digest_frequency)
            .ok_or_else(|| "Choose off, daily or weekly.".to_string())?;
        Ok(DigestSettings {
            frequency: frequency.as_str().to_string(),
            weekday: digest::parse_weekday(&self.digest_weekday).map_err(|e| e.0)? as i32,
            hour: digest::parse_hour(&self.digest_hour).map_err(|e| e.0)? as i32,
            max_posts: digest::parse_max_posts(&self.digest_max_posts).map_err(|e| e.0)? as i32,
            last_digest_at: None,
        })
    }
}

/// Saves the person's preferences, in one transaction.
pub async fn save(app: &App, user: UserId, new: NewPreferences) -> Result<()> {
    let (user_id, now) = (user.get(), app.clock.now_naive());
    app.db
        .run(move |conn| {
            store::shares::save_preferences(
                conn,
                user_id,
                &new.caps,
                &new.preferences,
                &new.digest,
                now,
            )
        })
        .await?;
    Ok(())
}

fn minutes_to_text(minutes: Option<i32>) -> String {
    minutes
        .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .unwrap_or_default()
}

fn text_to_minutes(text: &str) -> std::result::Result<Option<i32>, ()> {
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
