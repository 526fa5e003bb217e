//! Administration: people, settings, single sign-on, policy, email health,
//! reports and the audit log.

pub mod audit;
pub mod email;
pub mod people;
pub mod policy;
pub mod reports;
pub mod settings;
pub mod sso;
