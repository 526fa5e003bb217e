//! Every setting, from an environment variable or the matching flag, each
//! with a default that runs.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Folder for the SQLite database, the secret key and the email outbox.
    #[arg(
        long,
        env = "CHORUS_DATA_DIR",
        default_value = "./chorus-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// postgres://… for PostgreSQL; a file path or sqlite://path for SQLite.
    /// Default: chorus.db in the data dir.
    #[arg(long, env = "CHORUS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Address and port to listen on.
    #[arg(
        long,
        env = "CHORUS_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,

    /// The address people use to reach Chorus, for links and cookie
    /// security (https turns on Secure cookies and HSTS). Default: http://{bind}.
    #[arg(long, env = "CHORUS_BASE_URL", global = true)]
    pub base_url: Option<String>,

    /// SMTP server for outgoing email (smtp:// or smtps://). Unset: emails are
    /// written as .eml files to the data dir's outbox/ folder.
    #[arg(long, env = "CHORUS_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing email.
    #[arg(
        long,
        env = "CHORUS_MAIL_FROM",
        default_value = "Chorus <chorus@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Key for CSRF tokens (at least 32 characters). Unset: generated once and
    /// kept in the data dir as secret.key. Several processes must share it.
    #[arg(long, env = "CHORUS_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Minutes without activity after which a session ends.
    #[arg(
        long,
        env = "CHORUS_SESSION_IDLE_MINUTES",
        default_value_t = 120,
        global = true
    )]
    pub session_idle_minutes: i64,

    /// Hours after login after which a session ends, active or not.
    #[arg(
        long,
        env = "CHORUS_SESSION_MAX_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_max_hours: i64,

    /// Database connections per process.
    #[arg(long, env = "CHORUS_DB_POOL_SIZE", default_value_t = 10, global = true)]
    pub db_pool_size: u32,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "CHORUS_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Threads per HTTP worker that run blocking work: database work that
    /// cannot run inline, and password hashing. Requests beyond them wait
    /// in line, first come first served.
    #[arg(
        long,
        env = "CHORUS_BLOCKING_THREADS",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..),
        global = true
    )]
    pub blocking_threads: u16,

    /// Seconds between runs of the background jobs (publishing scheduled
    /// posts, expiry) inside `chorus serve`; 0 turns them off in this process.
    #[arg(
        long,
        env = "CHORUS_JOBS_INTERVAL_SECONDS",
        default_value_t = 15,
        global = true
    )]
    pub jobs_interval_seconds: u64,

    /// First wait before retrying an email after a temporary failure; it
    /// doubles with each attempt (with jitter), up to six hours.
    #[arg(
        long,
        env = "CHORUS_MAIL_RETRY_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub mail_retry_seconds: i64,

    /// Seconds a delivery worker holds a claimed email; if its process dies,
    /// another worker sends the message (same Message-ID) after this.
    #[arg(
        long,
        env = "CHORUS_MAIL_LEASE_SECONDS",
        default_value_t = 120,
        global = true
    )]
    pub mail_lease_seconds: i64,

    /// Attempts before an email that keeps failing temporarily is marked failed.
    #[arg(
        long,
        env = "CHORUS_MAIL_MAX_ATTEMPTS",
        default_value_t = 8,
        global = true
    )]
    pub mail_max_attempts: i32,

    /// Emails one process sends at once (over pooled SMTP connections).
    #[arg(
        long,
        env = "CHORUS_MAIL_CONCURRENCY",
        default_value_t = 32,
        global = true
    )]
    pub mail_concurrency: usize,

    /// Take the client address from X-Forwarded-For when the connection
    /// comes from one of --trusted-proxies, for per-address login throttling.
    #[arg(
        long,
        env = "CHORUS_TRUST_FORWARDED_FOR",
        default_value_t = false,
        global = true
    )]
    pub trust_forwarded_for: bool,

    /// With --trust-forwarded-for: the proxies whose X-Forwarded-For is
    /// believed, as addresses or networks separated by commas; connections
    /// from anywhere else count by their own address.
    #[arg(
        long,
        env = "CHORUS_TRUSTED_PROXIES",
        default_value = "127.0.0.1,::1",
        global = true
    )]
    pub trusted_proxies: String,

    /// Bearer token that unlocks `GET /metrics` on the main address. Unset:
    /// /metrics answers 404 there (see also --metrics-address).
    #[arg(
        long,
        env = "CHORUS_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// A second address (e.g. 127.0.0.1:9100) that serves only /metrics,
    /// without a token; keep it off the public network.
    #[arg(long, env = "CHORUS_METRICS_ADDRESS", global = true)]
    pub metrics_address: Option<String>,

    /// `text` (human-readable) or `json` (one JSON object per line).
    #[arg(
        long,
        env = "CHORUS_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,

    /// Seconds `serve` waits at SIGTERM for in-flight requests and the
    /// email being sent before it stops anyway.
    #[arg(
        long,
        env = "CHORUS_SHUTDOWN_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_seconds: u64,

    /// Single sign-on: the OpenID Connect provider's issuer URL (its
    /// discovery document is <issuer>/.well-known/openid-configuration).
    /// Unset: no SSO, password login only.
    #[arg(long, env = "CHORUS_OIDC_ISSUER_URL", global = true)]
    pub oidc_issuer_url: Option<String>,

    /// The client id Chorus is registered under at the provider.
    #[arg(long, env = "CHORUS_OIDC_CLIENT_ID", global = true)]
    pub oidc_client_id: Option<String>,

    /// The client secret from the provider (client_secret_basic).
    #[arg(
        long,
        env = "CHORUS_OIDC_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub oidc_client_secret: Option<String>,

    /// The provider's name on the login button ("Sign in with …").
    #[arg(long, env = "CHORUS_OIDC_PROVIDER_NAME", global = true)]
    pub oidc_provider_name: Option<String>,

    /// The ID token claim that carries the department of a person whose
    /// account SSO creates (e.g. `department`). Unset: no department.
    #[arg(long, env = "CHORUS_OIDC_DEPARTMENT_CLAIM", global = true)]
    pub oidc_department_claim: Option<String>,

    /// Seconds Chorus waits for the provider (discovery, code exchange)
    /// before it says SSO is unavailable.
    #[arg(
        long,
        env = "CHORUS_OIDC_TIMEOUT_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub oidc_timeout_seconds: u64,

    /// Private, loopback and other non-public addresses that link previews
    /// may fetch from anyway: empty for none, `all`, or addresses and
    /// networks separated by commas (an intranet, e.g. `10.20.0.0/16`).
    #[arg(
        long,
        env = "CHORUS_ALLOW_PRIVATE_FETCH",
        default_value = "",
        global = true
    )]
    pub allow_private_fetch: String,

    /// Seconds a link preview's fetch (page and image, redirects
    /// included) may take before Chorus gives up on it.
    #[arg(
        long,
        env = "CHORUS_FETCH_TIMEOUT_SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=120),
        global = true
    )]
    pub fetch_timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Defaults only, as if no variable and no flag were given; for tests.
    pub fn defaults() -> Config {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: Config,
        }
        Wrapper::parse_from(["chorus"]).config
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_string(),
            _ => self
                .data_dir
                .join("chorus.db")
                .to_string_lossy()
                .into_owned(),
        }
    }

    /// The metrics token, if one is configured (blank counts as none).
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// The separate metrics listener, if one is configured.
    pub fn metrics_address(&self) -> Option<&str> {
        self.metrics_address
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
    }

    pub fn shutdown_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_seconds.max(1))
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    pub fn session_idle(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.session_idle_minutes.max(1))
    }

    pub fn session_max(&self) -> chrono::Duration {
        chrono::Duration::hours(self.session_max_hours.max(1))
    }
}
