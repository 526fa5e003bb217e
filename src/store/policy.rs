//! The social-media policy: every published version is kept.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreError, StoreResult, is_unique_violation};
use crate::db::schema::policy_versions;
use crate::domain::policy::fingerprint;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = policy_versions)]
pub struct PolicyVersion {
    pub version: i64,
    pub markdown: String,
    pub sha256: String,
    pub material: bool,
    pub published_at: NaiveDateTime,
}

pub fn current(conn: &mut DbConnection) -> StoreResult<Option<PolicyVersion>> {
    Ok(policy_versions::table
        .order(policy_versions::version.desc())
        .select(PolicyVersion::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut DbConnection, version: i64) -> StoreResult<Option<PolicyVersion>> {
    Ok(policy_versions::table
        .find(version)
        .select(PolicyVersion::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<PolicyVersion>> {
    Ok(policy_versions::table
        .order(policy_versions::version.desc())
        .select(PolicyVersion::as_select())
        .load(conn)?)
}

#[derive(Debug)]
pub enum PublishOutcome {
    /// The new version.
    Published { version: i64 },
    /// Someone published another version at the same moment; nothing was saved.
    Conflict,
}

/// Publishes a new version. Pausing the consents a material version
/// invalidates is `app::policy::publish`'s, in the same transaction.
pub fn publish(
    conn: &mut DbConnection,
    markdown: &str,
    material: bool,
    published_by: i64,
    now: NaiveDateTime,
) -> StoreResult<PublishOutcome> {
    let result = crate::db::write_transaction(conn, |conn| {
        let version = current(conn)?.map(|p| p.version).unwrap_or(0) + 1;
        diesel::insert_into(policy_versions::table)
            .values((
                policy_versions::version.eq(version),
                policy_versions::markdown.eq(markdown),
                policy_versions::sha256.eq(fingerprint(markdown)),
                policy_versions::material.eq(material),
                policy_versions::published_at.eq(now),
                policy_versions::published_by.eq(Some(published_by)),
            ))
            .execute(conn)?;
        super::audit::record(
            conn,
            super::audit::Actor::Person(published_by),
            "policy.published",
            &format!("policy:{version}"),
            if material {
                "material change"
            } else {
                "minor change"
            },
            now,
        )?;
        Ok::<_, StoreError>(PublishOutcome::Published { version })
    });
    match result {
        Err(StoreError::Query(e)) if is_unique_violation(&e) => Ok(PublishOutcome::Conflict),
        other => other,
    }
}
