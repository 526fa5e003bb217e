//! Consent: what a choice means given the current state, and the per-person
//! hash chain that makes the append-only ledger tamper-evident.

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};

use super::platforms::Platform;

/// What a consent is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Suggesting posts to reshare on one platform.
    ShareSuggestions(Platform),
    /// Email digests of new posts.
    EmailDigest,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::ShareSuggestions(_) => "share_suggestions",
            Purpose::EmailDigest => "email_digest",
        }
    }

    /// The platform slug, or "" for purposes without a platform.
    pub fn platform_slug(self) -> &'static str {
        match self {
            Purpose::ShareSuggestions(p) => p.slug(),
            Purpose::EmailDigest => "",
        }
    }

    pub fn parse(purpose: &str, platform: &str) -> Option<Purpose> {
        match purpose {
            "share_suggestions" => Platform::from_slug(platform).map(Purpose::ShareSuggestions),
            "email_digest" if platform.is_empty() => Some(Purpose::EmailDigest),
            _ => None,
        }
    }

    /// How a person reads it.
    pub fn describe(self) -> String {
        match self {
            Purpose::ShareSuggestions(p) => {
                format!("Suggestions of posts to share on {}", p.name())
            }
            Purpose::EmailDigest => "Email digests of new posts".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Given,
    Refused,
    Withdrawn,
    /// The system paused a consent because a material policy change needs a new one.
    Invalidated,
    /// Given again after a withdrawal or an invalidation.
    Regiven,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Given => "given",
            Action::Refused => "refused",
            Action::Withdrawn => "withdrawn",
            Action::Invalidated => "invalidated",
            Action::Regiven => "re-given",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::Given,
            Action::Refused,
            Action::Withdrawn,
            Action::Invalidated,
            Action::Regiven,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    pub fn status_after(self) -> Status {
        match self {
            Action::Given | Action::Regiven => Status::Given,
            Action::Refused => Status::Refused,
            Action::Withdrawn => Status::Withdrawn,
            Action::Invalidated => Status::NeedsReconsent,
        }
    }
}

/// The current state, derived from the latest event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Given,
    Refused,
    Withdrawn,
    NeedsReconsent,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Given => "given",
            Status::Refused => "refused",
            Status::Withdrawn => "withdrawn",
            Status::NeedsReconsent => "needs_reconsent",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Given,
            Status::Refused,
            Status::Withdrawn,
            Status::NeedsReconsent,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Only a consent given under the policy in force lets Chorus act.
    pub fn allows_suggestions(self) -> bool {
        self == Status::Given
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Yes,
    No,
}

/// The event a choice records, or None when it changes nothing (saying "no"
/// twice records one refusal, not two).
pub fn action_for(current: Option<Status>, choice: Choice) -> Option<Action> {
    match (choice, current) {
        (Choice::Yes, None | Some(Status::Refused)) => Some(Action::Given),
        (Choice::Yes, Some(Status::Withdrawn | Status::NeedsReconsent)) => Some(Action::Regiven),
        (Choice::Yes, Some(Status::Given)) => None,
        (Choice::No, None) => Some(Action::Refused),
        (Choice::No, Some(Status::Given | Status::NeedsReconsent)) => Some(Action::Withdrawn),
        (Choice::No, Some(Status::Refused | Status::Withdrawn)) => None,
    }
}

/// One consent event, as recorded and as hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub event_uuid: String,
    pub user_id: i64,
    pub purpose: String,
    pub platform: String,
    pub action: String,
    pub policy_version: i64,
    pub policy_sha256: String,
    pub collection_method: String,
    pub actor: String,
    pub language: String,
    pub jurisdiction: String,
    pub created_at: NaiveDateTime,
    pub prev_hash: String,
    pub hash: String,
}

impl ConsentEvent {
    /// SHA-256 over every field but `hash`, in a fixed order with length
    /// prefixes, chained to the previous event's hash.
    pub fn compute_hash(&self) -> String {
        let created_at = self.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let user_id = self.user_id.to_string();
        let version = self.policy_version.to_string();
        let fields: [&str; 13] = [
            &self.event_uuid,
            &user_id,
            &self.purpose,
            &self.platform,
            &self.action,
            &version,
            &self.policy_sha256,
            &self.collection_method,
            &self.actor,
            &self.language,
            &self.jurisdiction,
            &created_at,
            &self.prev_hash,
        ];
        let mut hasher = Sha256::new();
        for field in fields {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// Fills in `prev_hash` and `hash` to append this event after `previous`.
    pub fn sealed_after(mut self, previous: Option<&str>) -> ConsentEvent {
        self.prev_hash = previous.unwrap_or("").to_string();
        self.hash = self.compute_hash();
        self
    }
}

/// The first link of a person's chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consent chain of user {user_id} is broken at event {event_uuid}: {reason}")]
pub struct BrokenLink {
    pub user_id: i64,
    pub event_uuid: String,
    pub reason: String,
}

/// Checks one person's events, oldest first.
pub fn verify_chain(events: &[ConsentEvent]) -> Result<(), BrokenLink> {
    let mut previous = String::new();
    for event in events {
        let broken = |reason: &str| BrokenLink {
            user_id: event.user_id,
            event_uuid: event.event_uuid.clone(),
            reason: reason.to_string(),
        };
        if event.prev_hash != previous {
            return Err(broken("it does not point at the event before it"));
        }
        if event.compute_hash() != event.hash {
            return Err(broken("its contents do not match its hash"));
        }
        previous = event.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: &str, action: Action) -> ConsentEvent {
        ConsentEvent {
            event_uuid: uuid.into(),
            user_id: 7,
            purpose: "share_suggestions".into(),
            platform: "x".into(),
            action: action.as_str().into(),
            policy_version: 1,
            policy_sha256: "ab".repeat(32),
            collection_method: "/me/consent".into(),
            actor: "user:7".into(),
            language: "en".into(),
            jurisdiction: "EU".into(),
            created_at: chrono::DateTime::from_timestamp(1_800_000_000, 123_456_000)
                .unwrap()
                .naive_utc(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn chain() -> Vec<ConsentEvent> {
        let a = event("a", Action::Given).sealed_after(None);
        let b = event("b", Action::Withdrawn).sealed_after(Some(&a.hash));
        let c = event("c", Action::Regiven).sealed_after(Some(&b.hash));
        vec![a, b, c]
    }

    #[test]
    fn choices_map_to_events_and_repeats_record_nothing() {
        use Choice::*;
        assert_eq!(action_for(None, Yes), Some(Action::Given));
        assert_eq!(action_for(None, No), Some(Action::Refused));
        assert_eq!(action_for(Some(Status::Refused), Yes), Some(Action::Given));
        assert_eq!(action_for(Some(Status::Given), No), Some(Action::Withdrawn));
        assert_eq!(
            action_for(Some(Status::Withdrawn), Yes),
            Some(Action::Regiven)
        );
        assert_eq!(
            action_for(Some(Status::NeedsReconsent), Yes),
            Some(Action::Regiven)
        );
        assert_eq!(
            action_for(Some(Status::NeedsReconsent), No),
            Some(Action::Withdrawn)
        );
        assert_eq!(action_for(Some(Status::Given), Yes), None);
        assert_eq!(action_for(Some(Status::Refused), No), None);
        assert_eq!(action_for(Some(Status::Withdrawn), No), None);
    }

    #[test]
    fn only_a_given_consent_allows_suggestions() {
        for action in [Action::Given, Action::Regiven] {
            assert!(action.status_after().allows_suggestions());
        }
        for action in [Action::Refused, Action::Withdrawn, Action::Invalidated] {
            assert!(!action.status_after().allows_suggestions());
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        verify_chain(&chain()).unwrap();
        verify_chain(&[]).unwrap();
    }

    #[test]
    fn any_changed_field_breaks_the_chain_at_that_event() {
        let mut events = chain();
        events[1].action = "given".into();
        let broken = verify_chain(&events).unwrap_err();
        assert_eq!(broken.event_uuid, "b");
        assert!(broken.reason.contains("contents"));

        let mut events = chain();
        events[2].created_at += chrono::Duration::microseconds(1);
        assert_eq!(verify_chain(&events).unwrap_err().event_uuid, "c");
    }

    #[test]
    fn a_removed_or_reordered_event_breaks_the_chain() {
        let mut events = chain();
        events.remove(1);
        let broken = verify_chain(&events).unwrap_err();
        assert_eq!(broken.event_uuid, "c");
        assert!(broken.reason.contains("point"));
        let mut events = chain();
        events.swap(0, 1);
        assert_eq!(verify_chain(&events).unwrap_err().event_uuid, "b");
    }

    #[test]
    fn purposes_round_trip_through_their_stored_form() {
        for purpose in Platform::ALL
            .into_iter()
            .map(Purpose::ShareSuggestions)
            .chain([Purpose::EmailDigest])
        {
            assert_eq!(
                Purpose::parse(purpose.name(), purpose.platform_slug()),
                Some(purpose)
            );
        }
        assert_eq!(Purpose::parse("share_suggestions", "myspace"), None);
        assert_eq!(Purpose::parse("email_digest", "x"), None);
    }
}
