//! The organisation's settings: one row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::{org_settings, share_caps};
use crate::domain::platforms::Platform;
use crate::domain::share_caps::{CapPolicy, ShareCaps};
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_settings)]
pub struct OrgSettings {
    pub org_name: String,
    pub setup_completed_at: Option<NaiveDateTime>,
    enabled_platforms: String,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
    timezone: String,
    pub disclosure_template: String,
    pub disclosure_required: bool,
    /// Shares of one post on one platform within an hour from which the
    /// queue suggests writing it in one's own words.
    pub crowd_threshold: i32,
    /// The most shares of one post on one platform per hour (0: no limit).
    pub crowd_cap_per_hour: i32,
    k_anonymity: i32,
    /// Single sign-on may create an employee account at a first sign-in.
    pub sso_create_accounts: bool,
    /// Whether people may log in with a password; only heeded while SSO
    /// is configured (see `password_login_allowed`).
    pub password_login: bool,
    /// Whether shared links carry the UTM tags of `utm_template`.
    pub utm_tags: bool,
    pub utm_template: String,
    /// Posts need approval by someone who did not write them.
    pub posts_need_approval: bool,
    brand_colour: String,
}

impl OrgSettings {
    /// The colour of the organisation's emails.
    pub fn brand_colour(&self) -> crate::domain::brand::BrandColour {
        crate::domain::brand::BrandColour::from_stored(&self.brand_colour)
    }

    /// The smallest group reports show; never below the floor of 3.
    pub fn k(&self) -> u32 {
        (self.k_anonymity.max(0) as u32).max(crate::domain::suppression::MIN_K)
    }

    /// The organisation's time zone (UTC if the stored name is unknown).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Password login is on unless the admin turned it off *and* SSO is
    /// configured: removing the SSO settings brings passwords back.
    pub fn password_login_allowed(&self, sso_configured: bool) -> bool {
        self.password_login || !sso_configured
    }

    pub fn timezone_name(&self) -> &str {
        &self.timezone
    }

    /// The disclosure employees are offered, if the organisation requires one.
    pub fn disclosure(&self) -> Option<String> {
        self.disclosure_required
            .then(|| crate::domain::disclosure::render(&self.disclosure_template, &self.org_name))
    }

    /// How shared links are tagged.
    pub fn link_tags(&self) -> crate::domain::utm::LinkTags {
        crate::domain::utm::LinkTags::from_settings(self.utm_tags, &self.utm_template)
    }

    /// The platforms the organisation uses, in catalogue order.
    pub fn enabled_platforms(&self) -> Vec<Platform> {
        let slugs: Vec<&str> = self.enabled_platforms.split(',').map(str::trim).collect();
        Platform::ALL
            .into_iter()
            .filter(|p| slugs.contains(&p.slug()))
            .collect()
    }
}

pub fn settings(conn: &mut DbConnection) -> StoreResult<OrgSettings> {
    // The selection names its backend, so the query is built per backend.
    Ok(super::natively!(conn, |c| org_settings::table
        .find(1_i64)
        .select(OrgSettings::as_select())
        .first(c))?)
}

/// Marks first-run setup as done; false when another request did it first.
/// The conditional update is what makes setup happen once, on any backend.
pub fn complete_setup(
    conn: &mut DbConnection,
    org_name: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let updated = diesel::update(
        org_settings::table
            .find(1_i64)
            .filter(org_settings::setup_completed_at.is_null()),
    )
    .set((
        org_settings::org_name.eq(org_name),
        org_settings::setup_completed_at.eq(Some(now)),
        org_settings::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub struct SettingsChange {
    pub org_name: String,
    pub timezone: String,
    pub disclosure_template: String,
    pub disclosure_required: bool,
    pub crowd_threshold: i32,
    pub crowd_cap_per_hour: i32,
    pub k_anonymity: u32,
    pub enabled_platforms: Vec<Platform>,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
    pub utm_tags: bool,
    pub utm_template: String,
    pub posts_need_approval: bool,
    pub brand_colour: crate::domain::brand::BrandColour,
}

impl OrgSettings {
    /// These settings as a change that keeps every one of them, to edit
    /// one field and save.
    pub fn as_change(&self) -> SettingsChange {
        SettingsChange {
            org_name: self.org_name.clone(),
            timezone: self.timezone.clone(),
            disclosure_template: self.disclosure_template.clone(),
            disclosure_required: self.disclosure_required,
            crowd_threshold: self.crowd_threshold,
            crowd_cap_per_hour: self.crowd_cap_per_hour,
            k_anonymity: self.k(),
            enabled_platforms: self.enabled_platforms(),
            consent_language: self.consent_language.clone(),
            jurisdiction: self.jurisdiction.clone(),
            privacy_contact: self.privacy_contact.clone(),
            utm_tags: self.utm_tags,
            utm_template: self.utm_template.clone(),
            posts_need_approval: self.posts_need_approval,
            brand_colour: self.brand_colour(),
        }
    }
}

pub fn update_settings(
    conn: &mut DbConnection,
    change: &SettingsChange,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let platforms = change
        .enabled_platforms
        .iter()
        .map(|p| p.slug())
        .collect::<Vec<_>>()
        .join(",");
    diesel::update(org_settings::table.find(1_i64))
        .set((
            org_settings::org_name.eq(&change.org_name),
            org_settings::enabled_platforms.eq(platforms),
            org_settings::consent_language.eq(&change.consent_language),
            org_settings::jurisdiction.eq(&change.jurisdiction),
            org_settings::privacy_contact.eq(&change.privacy_contact),
            org_settings::timezone.eq(&change.timezone),
            org_settings::disclosure_template.eq(&change.disclosure_template),
            org_settings::disclosure_required.eq(change.disclosure_required),
            org_settings::crowd_threshold.eq(change.crowd_threshold),
            org_settings::crowd_cap_per_hour.eq(change.crowd_cap_per_hour),
            org_settings::k_anonymity.eq(change.k_anonymity as i32),
            org_settings::utm_tags.eq(change.utm_tags),
            org_settings::utm_template.eq(&change.utm_template),
            org_settings::posts_need_approval.eq(change.posts_need_approval),
            org_settings::brand_colour.eq(change.brand_colour.as_str()),
            org_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Saves the settings and the hub caps in one transaction, writing changes
/// to disclosure and caps to the audit log.
pub fn apply_settings(
    conn: &mut DbConnection,
    change: &SettingsChange,
    caps: &std::collections::HashMap<Platform, crate::domain::schedule::Caps>,
    share_policies: &std::collections::HashMap<Platform, crate::domain::share_caps::CapPolicy>,
    admin: i64,
    now: NaiveDateTime,
) -> StoreResult<()> {
    use super::audit::{self, Actor};
    crate::db::write_transaction(conn, |conn| {
        let before = settings(conn)?;
        let caps_before = super::hub_caps::caps(conn)?;
        update_settings(conn, change, now)?;
        let mut changes = Vec::new();
        if before.org_name != change.org_name {
            changes.push(format!("organisation name {:?}", change.org_name));
        }
        if before.enabled_platforms() != change.enabled_platforms {
            let names: Vec<&str> = change.enabled_platforms.iter().map(|p| p.name()).collect();
            changes.push(format!("platforms {}", names.join(", ")));
        }
        if before.timezone_name() != change.timezone {
            changes.push(format!("time zone {}", change.timezone));
        }
        if before.consent_language != change.consent_language
            || before.jurisdiction != change.jurisdiction
        {
            changes.push(format!(
                "receipts {} / {}",
                change.consent_language, change.jurisdiction
            ));
        }
        if before.privacy_contact != change.privacy_contact {
            changes.push("privacy contact".to_string());
        }
        if before.k() != change.k_anonymity {
            changes.push(format!("smallest reported group {}", change.k_anonymity));
        }
        if before.crowd_threshold != change.crowd_threshold
            || before.crowd_cap_per_hour != change.crowd_cap_per_hour
        {
            changes.push(format!(
                "popular-post hint at {}, hourly cap {}",
                change.crowd_threshold, change.crowd_cap_per_hour
            ));
        }
        if before.utm_tags != change.utm_tags || before.utm_template != change.utm_template {
            changes.push(if change.utm_tags {
                format!("link tags {:?}", change.utm_template)
            } else {
                "link tags off".to_string()
            });
        }
        if before.posts_need_approval != change.posts_need_approval {
            changes.push(if change.posts_need_approval {
                "posts need approval".to_string()
            } else {
                "posts need no approval".to_string()
            });
        }
        if before.brand_colour() != change.brand_colour {
            changes.push(format!("email colour {}", change.brand_colour.as_str()));
        }
        if !changes.is_empty() {
            audit::record(
                conn,
                Actor::Person(admin),
                "settings.changed",
                "settings",
                &changes.join("; "),
                now,
            )?;
        }
        if before.disclosure_template != change.disclosure_template
            || before.disclosure_required != change.disclosure_required
        {
            let detail = format!(
                "template {:?}, {}",
                change.disclosure_template,
                if change.disclosure_required {
                    "required"
                } else {
                    "not required"
                }
            );
            audit::record(
                conn,
                Actor::Person(admin),
                "settings.disclosure",
                "settings",
                &detail,
                now,
            )?;
        }
        let mut changed: Vec<_> = caps
            .iter()
            .filter(|(p, cap)| caps_before.get(p) != Some(cap))
            .collect();
        changed.sort_by_key(|(p, _)| **p);
        for (platform, cap) in changed {
            super::hub_caps::set_caps(conn, *platform, *cap)?;
            let detail = format!(
                "{}: {} a day, {} a week",
                platform.name(),
                cap.per_day,
                cap.per_week
            );
            audit::record(
                conn,
                Actor::Person(admin),
                "settings.hub_cap",
                "settings",
                &detail,
                now,
            )?;
        }
        let policies_before = self::share_policies(conn)?;
        let mut changed: Vec<_> = share_policies
            .iter()
            .filter(|(p, policy)| policies_before.get(p) != Some(policy))
            .collect();
        changed.sort_by_key(|(p, _)| **p);
        for (platform, policy) in changed {
            set_share_policy(conn, *platform, *policy)?;
            let detail = format!(
                "{}: default {} a day, {} a week; ceiling {} a day, {} a week",
                platform.name(),
                policy.default.per_day,
                policy.default.per_week,
                policy.ceiling.per_day,
                policy.ceiling.per_week
            );
            audit::record(
                conn,
                Actor::Person(admin),
                "settings.share_cap",
                "settings",
                &detail,
                now,
            )?;
        }
        Ok(())
    })
}

/// The organisation's default and ceiling per platform.
pub fn share_policies(conn: &mut DbConnection) -> StoreResult<HashMap<Platform, CapPolicy>> {
    let query = share_caps::table.select((
        share_caps::platform,
        share_caps::default_day,
        share_caps::default_week,
        share_caps::ceiling_day,
        share_caps::ceiling_week,
    ));
    let rows: Vec<(String, i32, i32, i32, i32)> = super::natively!(conn, |c| query.load(c))?;
    let mut policies: HashMap<Platform, CapPolicy> = Platform::ALL
        .into_iter()
        .map(|p| (p, CapPolicy::DEFAULT))
        .collect();
    for (slug, dd, dw, cd, cw) in rows {
        if let Some(platform) = Platform::from_slug(&slug) {
            let n = |v: i32| v.max(0) as u32;
            policies.insert(
                platform,
                CapPolicy {
                    default: ShareCaps {
                        per_day: n(dd),
                        per_week: n(dw),
                    },
                    ceiling: ShareCaps {
                        per_day: n(cd),
                        per_week: n(cw),
                    },
                },
            );
        }
    }
    Ok(policies)
}

pub fn set_share_policy(
    conn: &mut DbConnection,
    platform: Platform,
    policy: CapPolicy,
) -> StoreResult<()> {
    crate::db::write_transaction(conn, |conn| {
        let values = (
            share_caps::default_day.eq(policy.default.per_day as i32),
            share_caps::default_week.eq(policy.default.per_week as i32),
            share_caps::ceiling_day.eq(policy.ceiling.per_day as i32),
            share_caps::ceiling_week.eq(policy.ceiling.per_week as i32),
        );
        let updated = diesel::update(share_caps::table.find(platform.slug()))
            .set(values)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(share_caps::table)
                .values((share_caps::platform.eq(platform.slug()), values))
                .execute(conn)?;
        }
        Ok(())
    })
}
