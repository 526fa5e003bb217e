//! Chorus: a consent-first employee-advocacy sharing queue.
//!
//! `main.rs` is a thin command line over this library; `chorus serve` and
//! every integration test start the very same [`startup::Application`].

pub mod clock;
pub mod config;
pub mod credentials;
pub mod data_dir;
pub mod db;
pub mod demo;
pub mod domain;
pub mod jobs;
pub mod logging;
pub mod mail;
pub mod ops;
pub mod secret_key;
pub mod shutdown;
pub mod sso;
pub mod startup;
pub mod store;
pub mod web;
