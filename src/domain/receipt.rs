//! Consent receipts in the shape of the Kantara Initiative Consent Receipt
//! Specification v1.1, with Chorus's ledger details under `chorus`.

use serde_json::{Value, json};

use super::consent::{ConsentEvent, Purpose};

/// What a receipt says about the organisation and the person.
pub struct ReceiptContext<'a> {
    pub org_name: &'a str,
    pub privacy_contact: &'a str,
    pub principal_email: &'a str,
    /// Absolute URL of the policy version the event refers to.
    pub policy_url: &'a str,
}

pub const SPEC_VERSION: &str = "KI-CR-v1.1.0";

pub fn kantara_json(event: &ConsentEvent, context: &ReceiptContext<'_>) -> Value {
    let purpose = Purpose::parse(&event.purpose, &event.platform);
    let description = purpose
        .map(Purpose::describe)
        .unwrap_or_else(|| event.purpose.clone());
    let pii = match purpose {
        Some(Purpose::EmailDigest) => vec!["Name", "Email address", "Digest preferences"],
        _ => vec![
            "Name",
            "Email address",
            "Department",
            "Shares and dismissals in Chorus",
        ],
    };
    let termination = "Until withdrawn under Me → Sharing choices, or until a material change of \
                       the social-media policy pauses it";
    json!({
        "version": SPEC_VERSION,
        "jurisdiction": event.jurisdiction,
        "consentTimestamp": event.created_at.and_utc().timestamp(),
        "collectionMethod": event.collection_method,
        "consentReceiptID": event.event_uuid,
        "language": event.language,
        "piiPrincipalId": context.principal_email,
        "piiControllers": [{
            "piiController": context.org_name,
            "onBehalf": false,
            "contact": context.privacy_contact,
            "email": context.privacy_contact,
        }],
        "policyUrl": context.policy_url,
        "services": [{
            "service": "Chorus",
            "purposes": [{
                "purpose": description,
                "purposeCategory": ["Employee advocacy (voluntary resharing)"],
                "consentType": "EXPLICIT",
                "piiCategory": pii,
                "primaryPurpose": true,
                "termination": termination,
                "thirdPartyDisclosure": false,
            }],
        }],
        "sensitive": false,
        "spiCat": [],
        "chorus": {
            "action": event.action,
            "purpose": event.purpose,
            "platform": event.platform,
            "actor": event.actor,
            "policyVersion": event.policy_version,
            "policySha256": event.policy_sha256,
            "timestamp": event.created_at.and_utc().to_rfc3339(),
            "prevHash": event.prev_hash,
            "hash": event.hash,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::consent::Action;

    #[test]
    fn a_receipt_carries_the_kantara_fields_and_the_ledger_link() {
        let event = ConsentEvent {
            event_uuid: "5f0c0d6e-1111-4222-8333-944445555666".into(),
            user_id: 3,
            purpose: "share_suggestions".into(),
            platform: "mastodon".into(),
            action: Action::Given.as_str().into(),
            policy_version: 2,
            policy_sha256: "cd".repeat(32),
            collection_method: "web form /me/consent".into(),
            actor: "user:3".into(),
            language: "de".into(),
            jurisdiction: "DE".into(),
            created_at: chrono::DateTime::from_timestamp(1_800_000_000, 0)
                .unwrap()
                .naive_utc(),
            prev_hash: String::new(),
            hash: "ef".repeat(32),
        };
        let receipt = kantara_json(
            &event,
            &ReceiptContext {
                org_name: "Acme",
                privacy_contact: "privacy@acme.example",
                principal_email: "ada@acme.example",
                policy_url: "https://chorus.acme.example/policy/2",
            },
        );
        assert_eq!(receipt["version"], "KI-CR-v1.1.0");
        assert_eq!(receipt["jurisdiction"], "DE");
        assert_eq!(receipt["language"], "de");
        assert_eq!(receipt["consentTimestamp"], 1_800_000_000);
        assert_eq!(receipt["consentReceiptID"], event.event_uuid.as_str());
        assert_eq!(receipt["collectionMethod"], "web form /me/consent");
        assert_eq!(receipt["piiPrincipalId"], "ada@acme.example");
        assert_eq!(receipt["piiControllers"][0]["piiController"], "Acme");
        assert_eq!(receipt["policyUrl"], "https://chorus.acme.example/policy/2");
        let purpose = &receipt["services"][0]["purposes"][0];
        assert_eq!(
            purpose["purpose"],
            "Suggestions of posts to share on Mastodon"
        );
        assert_eq!(purpose["consentType"], "EXPLICIT");
        assert_eq!(purpose["thirdPartyDisclosure"], false);
        assert_eq!(receipt["sensitive"], false);
        assert_eq!(receipt["chorus"]["action"], "given");
        assert_eq!(receipt["chorus"]["policySha256"], "cd".repeat(32).as_str());
    }
}
