//! The organisation's settings: reading them for the admin page and
//! applying an update (with its audit entries) in one transaction.

use std::collections::HashMap;

use super::{App, Result};
use crate::domain::ids::UserId;
use crate::domain::platforms::Platform;
use crate::domain::schedule::Caps;
use crate::domain::settings::SettingsUpdate;
use crate::domain::share_caps::CapPolicy;
use crate::store::{self, StoreError, org::OrgSettings, org::SettingsChange};

/// The settings with each platform's hub caps and share-cap policy.
pub struct Settings {
    pub org: OrgSettings,
    pub hub_caps: HashMap<Platform, Caps>,
    pub share_policies: HashMap<Platform, CapPolicy>,
}

pub async fn current(app: &App) -> Result<Settings> {
    Ok(app
        .db
        .run(|conn| {
            Ok::<_, StoreError>(Settings {
                org: store::org::settings(conn)?,
                hub_caps: store::hub_caps::caps(conn)?,
                share_policies: store::org::share_policies(conn)?,
            })
        })
        .await?)
}

/// Applies the update; what it leaves out (the smallest group, the crowd
/// rule) keeps its current value.
pub async fn save(app: &App, update: SettingsUpdate, by: UserId) -> Result<()> {
    let now = app.clock.now_naive();
    let current = app.db.run(store::org::settings).await?;
    let change = SettingsChange {
        org_name: update.org_name,
        timezone: update.timezone,
        disclosure_template: update.disclosure_template,
        disclosure_required: update.disclosure_required,
        crowd_threshold: update.crowd.map_or(current.crowd_threshold, |c| c.0),
        crowd_cap_per_hour: update.crowd.map_or(current.crowd_cap_per_hour, |c| c.1),
        k_anonymity: update.k_anonymity.unwrap_or(current.k()),
        enabled_platforms: update.enabled_platforms,
        consent_language: update.consent_language,
        jurisdiction: update.jurisdiction,
        privacy_contact: update.privacy_contact,
        utm_tags: update.utm.as_ref().map_or(current.utm_tags, |u| u.0),
        posts_need_approval: update
            .posts_need_approval
            .unwrap_or(current.posts_need_approval),
        utm_template: update
            .utm
            .map_or_else(|| current.utm_template.clone(), |u| u.1),
        brand_colour: update
            .brand_colour
            .unwrap_or_else(|| current.brand_colour()),
    };
    let (caps, policies) = (update.hub_caps, update.share_policies);
    app.db
        .run(move |conn| store::org::apply_settings(conn, &change, &caps, &policies, by.get(), now))
        .await?;
    Ok(())
}
