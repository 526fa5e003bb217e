//! The hub caps: how many posts the hub publishes per platform a day and
//! a week, part of the organisation's settings. Scheduling checks them
//! (`store::posts`), the settings page changes them (`store::org`).

use std::collections::HashMap;

use diesel::prelude::*;

use super::{DbConnection, StoreResult};
use crate::db::schema::hub_caps;
use crate::domain::platforms::Platform;
use crate::domain::schedule::Caps;

/// The caps per platform (the default where none was set).
pub fn caps(conn: &mut DbConnection) -> StoreResult<HashMap<Platform, Caps>> {
    let rows: Vec<(String, i32, i32)> = hub_caps::table
        .select((hub_caps::platform, hub_caps::per_day, hub_caps::per_week))
        .load(conn)?;
    let mut caps: HashMap<Platform, Caps> = Platform::ALL
        .into_iter()
        .map(|p| (p, Caps::DEFAULT))
        .collect();
    for (slug, per_day, per_week) in rows {
        if let Some(platform) = Platform::from_slug(&slug) {
            caps.insert(
                platform,
                Caps {
                    per_day: per_day.max(0) as u32,
                    per_week: per_week.max(0) as u32,
                },
            );
        }
    }
    Ok(caps)
}

/// Sets a platform's hub caps.
pub fn set_caps(conn: &mut DbConnection, platform: Platform, caps: Caps) -> StoreResult<()> {
    crate::db::write_transaction(conn, |conn| {
        let updated = diesel::update(hub_caps::table.find(platform.slug()))
            .set((
                hub_caps::per_day.eq(caps.per_day as i32),
                hub_caps::per_week.eq(caps.per_week as i32),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(hub_caps::table)
                .values((
                    hub_caps::platform.eq(platform.slug()),
                    hub_caps::per_day.eq(caps.per_day as i32),
                    hub_caps::per_week.eq(caps.per_week as i32),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}
