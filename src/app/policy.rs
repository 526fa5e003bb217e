//! The sharing policy: publishing a version.

use super::{App, Result};
use crate::domain::ids::UserId;
use crate::store::{self, StoreError, policy::PublishOutcome};

/// What came of publishing a version.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    /// The new version and how many consents now need renewing.
    Published { version: i64, invalidated: usize },
    /// Someone published another version at the same moment; nothing was saved.
    Conflict,
}

/// Publishes a new version. A material version pauses, in the same
/// transaction, every consent given under an older version.
pub async fn publish(app: &App, markdown: String, material: bool, by: UserId) -> Result<Published> {
    let now = app.clock.now_naive();
    Ok(app
        .db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let outcome = store::policy::publish(conn, &markdown, material, by.get(), now)?;
                let PublishOutcome::Published { version } = outcome else {
                    return Ok::<_, StoreError>(Published::Conflict);
                };
                let invalidated = if material {
                    store::consent::invalidate_given_before(conn, version, now)?
                } else {
                    0
                };
                Ok(Published::Published {
                    version,
                    invalidated,
                })
            })
        })
        .await?)
}
