//! What a person sees and does about themselves: consent, preferences,
//! their data, the policy, API tokens, and one-click unsubscribe.

pub mod api_tokens;
pub mod consent;
pub mod data;
pub mod policy;
pub mod preferences;
pub mod unsubscribe;
