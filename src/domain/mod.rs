//! Pure rules of the product: no I/O, unit-tested.

pub mod api_access;
pub mod brand;
pub mod calendar_feed;
pub mod chat;
pub mod consent;
pub mod digest;
pub mod disclosure;
pub mod disclosure_control;
pub mod email;
pub mod feed;
pub mod ids;
pub mod link_preview;
pub mod login_throttle;
pub mod names;
pub mod password_policy;
pub mod people;
pub mod platforms;
pub mod policy;
pub mod post;
pub mod preview_image;
pub mod receipt;
pub mod reports;
pub mod roles;
pub mod schedule;
pub mod settings;
pub mod share_caps;
pub mod suppression;
pub mod utm;

/// A value refused by a validator, with the message shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid(message.into())
    }
}
