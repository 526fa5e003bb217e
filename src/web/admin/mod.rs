//! Administration: people, settings, single sign-on, policy, email health,
//! chat announcements, reports and the audit log.

pub mod announcements;
pub mod audit;
pub mod email;
pub mod people;
pub mod policy;
pub mod reports;
pub mod settings;
pub mod sso;
