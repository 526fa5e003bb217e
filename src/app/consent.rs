//! Consent: giving and withdrawing it per purpose (sharing on a platform,
//! email digests), the person's ledger of those choices, and its receipts.

use super::{App, Error, Result};
use crate::domain::consent::{Choice, ConsentEvent, Purpose};
use crate::domain::ids::UserId;
use crate::domain::platforms::{InstanceHost, Platform};
use crate::domain::receipt::{ReceiptContext, kantara_json};
use crate::store::consent::{self, ChoiceOutcome, ConsentState};
use crate::store::{self, StoreError};

/// The collection method recorded for choices made on the Sharing choices
/// page.
pub const COLLECTION_METHOD: &str = "web form: Me → Sharing choices (/me/consent)";

/// A person's choices as they stand and every event of their ledger.
pub struct Choices {
    pub org_name: String,
    /// The platforms the organisation shares on: one purpose each.
    pub platforms: Vec<Platform>,
    /// The social-media policy in force, if one is published.
    pub policy_version: Option<i64>,
    pub states: Vec<ConsentState>,
    /// Oldest first.
    pub events: Vec<ConsentEvent>,
}

impl Choices {
    /// The purposes a person may choose for: one per platform in use, and
    /// email digests.
    pub fn purposes(&self) -> impl Iterator<Item = Purpose> + '_ {
        self.platforms
            .iter()
            .map(|p| Purpose::ShareSuggestions(*p))
            .chain([Purpose::EmailDigest])
    }

    /// Whether a purpose is one the person may choose for now.
    pub fn offers(&self, purpose: Purpose) -> bool {
        match purpose {
            Purpose::ShareSuggestions(platform) => self.platforms.contains(&platform),
            Purpose::EmailDigest => true,
        }
    }
}

pub async fn choices(app: &App, user: UserId) -> Result<Choices> {
    let user_id = user.get();
    Ok(app
        .db
        .run(move |conn| {
            let settings = store::org::settings(conn)?;
            Ok::<_, StoreError>(Choices {
                org_name: settings.org_name.clone(),
                platforms: settings.enabled_platforms(),
                policy_version: store::policy::current(conn)?.map(|p| p.version),
                states: consent::states_for(conn, user_id)?,
                events: consent::events_for(conn, user_id)?,
            })
        })
        .await?)
}

/// What became of a choice.
pub enum Chosen {
    Recorded,
    /// A yes on a platform of many instances names no valid instance;
    /// nothing was recorded.
    InstanceRefused(String),
}

/// Records a yes or a no for a purpose, under the policy in force (a
/// platform of many instances, such as Mastodon, needs the person's
/// instance with a yes). Saying the same twice records nothing new.
pub async fn choose(
    app: &App,
    user: UserId,
    purpose: Purpose,
    choice: Choice,
    instance: &str,
) -> Result<Chosen> {
    let mut host = None;
    if let (Purpose::ShareSuggestions(platform), Choice::Yes) = (purpose, choice)
        && platform.needs_instance()
    {
        match InstanceHost::parse(instance) {
            Ok(parsed) => host = Some(parsed.as_str().to_string()),
            Err(problem) => return Ok(Chosen::InstanceRefused(problem.0)),
        }
    }
    let (user_id, now) = (user.get(), app.clock.now_naive());
    let outcome = app
        .db
        .run(move |conn| {
            consent::record_choice(
                conn,
                user_id,
                purpose,
                choice,
                host.as_deref(),
                COLLECTION_METHOD,
                now,
            )
        })
        .await?;
    match outcome {
        ChoiceOutcome::NoPolicy => Err(Error::Invalid(
            "Your organisation has not published its social-media policy yet, so there is nothing to agree to."
                .into(),
        )),
        _ => Ok(Chosen::Recorded),
    }
}

/// A receipt of one event of the person's ledger, with what it names.
pub struct Receipt {
    pub event: ConsentEvent,
    pub org_name: String,
    pub privacy_contact: String,
}

/// The receipt of one of the person's own events. Someone else's is
/// NotFound, as one that does not exist.
pub async fn receipt(app: &App, user: UserId, event_uuid: String) -> Result<Receipt> {
    let user_id = user.get();
    let found = app
        .db
        .run(move |conn| {
            let event = consent::event_of(conn, user_id, &event_uuid)?;
            let settings = store::org::settings(conn)?;
            Ok::<_, StoreError>(event.map(|event| Receipt {
                event,
                org_name: settings.org_name,
                privacy_contact: settings.privacy_contact,
            }))
        })
        .await?;
    found.ok_or(Error::NotFound)
}

/// Where a version of the policy is published.
pub fn policy_url(app: &App, version: i64) -> String {
    format!("{}/policy/{version}", app.base_url)
}

/// An event as a Kantara consent receipt (JSON), for the person `email`.
pub fn receipt_json(
    app: &App,
    event: &ConsentEvent,
    org_name: &str,
    privacy_contact: &str,
    email: &str,
) -> serde_json::Value {
    kantara_json(
        event,
        &ReceiptContext {
            org_name,
            privacy_contact,
            principal_email: email,
            policy_url: &policy_url(app, event.policy_version),
        },
    )
}

/// The person's current choices and their ledger, oldest first, with the
/// policy in force (the API's view; it reads no settings).
pub async fn ledger(
    app: &App,
    user: UserId,
) -> Result<(Option<i64>, Vec<ConsentState>, Vec<ConsentEvent>)> {
    let user_id = user.get();
    Ok(app
        .db
        .run(move |conn| {
            Ok::<_, StoreError>((
                store::policy::current(conn)?.map(|p| p.version),
                consent::states_for(conn, user_id)?,
                consent::events_for(conn, user_id)?,
            ))
        })
        .await?)
}
