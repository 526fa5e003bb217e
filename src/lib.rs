//! Chorus: a consent-first employee-advocacy sharing queue.
//!
//! `main.rs` is a thin command line over this library; `chorus serve` and
//! every integration test start the very same [`startup::Application`].

pub mod app;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod db;
pub mod demo;
pub mod domain;
pub mod jobs;
pub mod mail;
pub mod ops;
pub mod outbound;
pub mod sso;
pub mod startup;
pub mod store;
pub mod web;
