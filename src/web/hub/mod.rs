//! The communications hub: posts, the calendar and its feeds, the RSS and
//! Atom feeds that make drafts, and suggestions from employees.

pub mod approvals;
pub mod calendar;
pub mod calendar_feeds;
pub mod counts;
pub mod feeds;
pub mod posts;
pub mod preview_form;
pub mod previews;
pub mod suggestions;
