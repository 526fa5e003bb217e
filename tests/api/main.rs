//! One integration test binary: every module starts real Chorus servers.
//! Most tests run twice, on SQLite and on PostgreSQL (see `backend_test!`).

mod helpers;

mod admin_people;
mod announcements;
mod api_fuzz;
mod api_v1;
mod approval;
mod auth;
mod browser;
mod calendar_feed;
mod chaos;
mod chat_receiver;
mod cli;
mod composer;
mod consent;
mod contention;
mod demo;
mod email;
mod feeds;
mod health;
mod home;
mod hostile;
mod hub;
mod link_tags;
mod metrics;
mod migrations;
mod navigation;
mod operations;
mod outage;
mod previews;
mod properties;
mod query_counts;
mod queue;
mod report_attacks;
mod reports;
mod security;
mod smtp_server;
mod sso;
mod storage;
