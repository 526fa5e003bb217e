//! The organisation's settings: one row.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::org_settings;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_settings)]
pub struct OrgSettings {
    pub org_name: String,
    pub setup_completed_at: Option<NaiveDateTime>,
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
