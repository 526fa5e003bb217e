//! The organisation's settings: one row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::org_settings;
use crate::domain::platforms::Platform;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_settings)]
pub struct OrgSettings {
    pub org_name: String,
    pub setup_completed_at: Option<NaiveDateTime>,
    enabled_platforms: String,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
}

impl OrgSettings {
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
    Ok(org_settings::table
        .find(1_i64)
        .select(OrgSettings::as_select())
        .first(conn)?)
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
    pub enabled_platforms: Vec<Platform>,
    pub consent_language: String,
    pub jurisdiction: String,
    pub privacy_contact: String,
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
            org_settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
