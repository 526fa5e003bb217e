//! The use cases: what people do with Chorus, one module per area, below
//! the web layer and above `store` and `domain`.
//!
//! Pages (`web/`) and the JSON API (`web/api/`) both call these
//! functions, so a rule is applied the same way whichever door a request
//! came through. A use case takes the [`App`] and typed input (parsed by
//! `domain` types: "parse, don't validate"), runs the store's
//! transactions off the executor, and returns typed results or an
//! [`Error`]; it knows nothing of HTTP, forms or templates.

pub mod accounts;
pub mod announcements;
pub mod api_tokens;
pub mod calendar;
pub mod consent;
pub mod email;
pub mod feeds;
pub mod home;
pub mod hub;
pub mod my_data;
pub mod people;
pub mod policy;
pub mod preferences;
pub mod previews;
pub mod queue;
pub mod reports;
pub mod settings;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

/// What every use case may need, shared by all workers.
pub struct App {
    pub db: Db,
    pub clock: Clock,
    pub config: Arc<Config>,
    pub secret_key: Vec<u8>,
    /// e.g. `https://chorus.example.com`, no trailing slash.
    pub base_url: String,
    /// The domain of Message-IDs (from CHORUS_MAIL_FROM).
    pub mail_domain: String,
    /// Published posts with the settings and share caps, kept while none
    /// of them changes (shared by all workers).
    pub live_posts: Arc<crate::store::live_posts::LivePosts>,
    pub crowd_memo: Arc<crate::store::shares::CrowdMemo>,
    /// Reports built since the data last changed (shared by all workers).
    pub report_cache: Arc<reports::cache::ReportCache>,
    /// The OpenID Connect provider client, when SSO is configured.
    pub sso: Option<Arc<crate::sso::Sso>>,
    /// Outbound HTTP (link previews), refusing private addresses.
    pub fetcher: Arc<crate::outbound::Fetcher>,
    /// Outbound webhook POSTs (chat announcements), under the same rules.
    pub webhooks: Arc<crate::outbound::webhook::WebhookSender>,
    /// Seals and opens chat webhook addresses (key from the secret key).
    pub chat_secrets: Arc<crate::credentials::SecretBox>,
}

/// Why a use case did not happen, in words a handler turns into a status
/// and a page (`web::error`) or a JSON problem (`web::api::error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or is not this person's to see (the
    /// same answer, so its existence is not revealed).
    #[error("not found")]
    NotFound,
    /// The person may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The input was refused; the message is for the person.
    #[error("{0}")]
    Invalid(String),
    /// A limit was reached; try again after the given time.
    #[error("{message}")]
    TooManyRequests {
        retry_after_seconds: i64,
        message: String,
    },
    /// The database could not be reached in time.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Something broke that the person cannot mend (logged, never shown).
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T> = std::result::Result<T, Error>;

impl<E: Into<Error>> From<crate::db::RunError<E>> for Error {
    fn from(error: crate::db::RunError<E>) -> Error {
        match error {
            crate::db::RunError::Unavailable(message) => Error::Unavailable(message.to_string()),
            crate::db::RunError::Work(e) => e.into(),
        }
    }
}
