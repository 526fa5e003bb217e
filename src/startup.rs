//! Builds the application: data dir, database, key, listener, routes. Used by
//! `chorus serve` and by the tests, which bind port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::ops::metrics::Metrics;
use crate::ops::secret_key::{self, SecretKeyError};
use crate::store;
use crate::web::client_address::TrustedProxies;
use crate::web::{
    AppState, auth::session, configure, error::AppError, headers, not_found, telemetry,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create {what} {path}: {source}")]
    DataDir {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {what} {path}: {source}")]
    NotWritable {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    SecretKey(#[from] SecretKeyError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("invalid CHORUS_BASE_URL {0:?}: give a full http:// or https:// address")]
    BaseUrl(String),
    #[error("invalid CHORUS_TRUSTED_PROXIES: {0}")]
    TrustedProxies(String),
    #[error("invalid CHORUS_ALLOW_PRIVATE_FETCH: {0}")]
    AllowPrivateFetch(String),
    #[error("cannot set up outbound HTTP: {0}")]
    Fetcher(String),
    #[error("database error during start-up: {0}")]
    Store(String),
    #[error(transparent)]
    Sso(#[from] crate::sso::SsoError),
    #[error(transparent)]
    Mailer(#[from] crate::mail::transport::MailerError),
}

/// The outbound HTTP client the configuration asks for.
pub fn fetcher(config: &Config) -> Result<crate::outbound::Fetcher, StartupError> {
    use crate::outbound::{FetchSettings, Fetcher, PrivateAllowance};
    let allowance = PrivateAllowance::parse(&config.allow_private_fetch)
        .map_err(StartupError::AllowPrivateFetch)?;
    Fetcher::new(FetchSettings {
        allowance,
        timeout: std::time::Duration::from_secs(config.fetch_timeout_seconds.max(1)),
        connect_timeout: std::time::Duration::from_secs(config.fetch_timeout_seconds.clamp(1, 5)),
    })
    .map_err(StartupError::Fetcher)
}

/// The client of chat announcements: the same address rules and time
/// limits as the fetcher.
pub fn webhook_sender(
    config: &Config,
) -> Result<crate::outbound::webhook::WebhookSender, StartupError> {
    use crate::outbound::{FetchSettings, PrivateAllowance};
    let allowance = PrivateAllowance::parse(&config.allow_private_fetch)
        .map_err(StartupError::AllowPrivateFetch)?;
    crate::outbound::webhook::WebhookSender::new(FetchSettings {
        allowance,
        timeout: std::time::Duration::from_secs(config.fetch_timeout_seconds.max(1)),
        connect_timeout: std::time::Duration::from_secs(config.fetch_timeout_seconds.clamp(1, 5)),
    })
    .map_err(StartupError::Fetcher)
}

/// The transport the configuration asks for: SMTP, or .eml files in the
/// data dir's outbox/ folder.
pub fn mailer(config: &Config) -> Result<crate::mail::transport::Mailer, StartupError> {
    use crate::mail::transport::Mailer;
    Ok(
        match config
            .smtp_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(url) => Mailer::smtp(url)?,
            None => Mailer::files(&config.outbox_dir())?,
        },
    )
}

/// How this process delivers email.
pub fn delivery_settings(
    config: &Config,
    base_url: &str,
) -> crate::jobs::delivery::DeliverySettings {
    crate::jobs::delivery::DeliverySettings {
        worker_id: format!(
            "{}-{}",
            std::process::id(),
            &crate::credentials::random_token()[..8]
        ),
        mail_from: config.mail_from.clone(),
        base_url: base_url.trim_end_matches('/').to_string(),
        lease: chrono::Duration::seconds(config.mail_lease_seconds.max(1)),
        batch: 200,
        concurrency: config.mail_concurrency.clamp(1, 64),
        retry_base: chrono::Duration::seconds(config.mail_retry_seconds.max(1)),
        retry_max: chrono::Duration::hours(6),
        max_attempts: config.mail_max_attempts.max(1),
    }
}

/// Creates the data dir and its outbox folder, and checks that the folder
/// of a SQLite database can be written: on a read-only or full file system
/// SQLite itself would only say "unable to open database file".
pub fn prepare_data_dir(config: &Config) -> Result<(), StartupError> {
    for (what, dir) in [
        ("the data directory", config.data_dir.clone()),
        ("the email outbox folder", config.outbox_dir()),
    ] {
        crate::ops::data_dir::create_private_dir(&dir).map_err(|source| StartupError::DataDir {
            what,
            path: dir.display().to_string(),
            source,
        })?;
    }
    let url = config.database_url();
    // file: URIs and :memory: name no plain folder to check.
    if matches!(
        crate::db::Backend::from_url(&url),
        Ok(crate::db::Backend::Sqlite)
    ) && !url.starts_with("file:")
        && url != ":memory:"
    {
        let file = std::path::Path::new(crate::db::sqlite_path(&url));
        let folder = match file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let what = if same_folder(&folder, &config.data_dir) {
            "the data directory"
        } else {
            "the folder of the SQLite database"
        };
        crate::ops::data_dir::check_writable(&folder).map_err(|source| {
            StartupError::NotWritable {
                what,
                path: folder.display().to_string(),
                source,
            }
        })?;
        crate::ops::data_dir::private_sqlite_files(file).map_err(|source| {
            StartupError::NotWritable {
                what: "the SQLite database file",
                path: file.display().to_string(),
                source,
            }
        })?;
    }
    Ok(())
}

fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Connects to the configured database and applies pending migrations.
/// Installs the consent ledger's key, derived from the server's secret, so
/// that consent writes are sealed and `chorus consent verify` can check them.
pub fn open_database(config: &Config) -> Result<Db, StartupError> {
    prepare_data_dir(config)?;
    let db = Db::connect_and_migrate(&config.database_url(), config.db_pool_size)?;
    // `migrate` needs no key (a read-only data dir may hold none): without
    // one, consent writes stay unsealed and verify says so.
    match secret_key::load_or_create(config.secret_key.as_deref(), &config.data_dir) {
        Ok(key) => crate::store::consent::install_ledger_key(&key),
        Err(e) => tracing::warn!(error = %e, "consent ledger key unavailable"),
    }
    Ok(db)
}

/// The use cases outside a server, for work run from the command line
/// (`chorus jobs run-once` reads the due feeds through it).
pub fn command_app(config: Config, db: Db, clock: Clock) -> Result<crate::app::App, StartupError> {
    let secret_key = secret_key::load_or_create(config.secret_key.as_deref(), &config.data_dir)?;
    let fetcher = Arc::new(fetcher(&config)?);
    let webhooks = Arc::new(webhook_sender(&config)?);
    let chat_secrets = Arc::new(crate::credentials::SecretBox::new(
        &secret_key,
        crate::domain::chat::SEAL_PURPOSE,
    ));
    let base_url = config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.bind))
        .trim_end_matches('/')
        .to_string();
    Ok(crate::app::App {
        db,
        clock,
        base_url,
        mail_domain: crate::mail::domain_of(&config.mail_from),
        config: Arc::new(config),
        secret_key,
        live_posts: Default::default(),
        crowd_memo: Default::default(),
        report_cache: Default::default(),
        sso: None,
        fetcher,
        webhooks,
        chat_secrets,
    })
}

fn resolve_base_url(config: &Config, port: u16) -> Result<String, StartupError> {
    match config
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            let parsed = url::Url::parse(url).map_err(|_| StartupError::BaseUrl(url.into()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(StartupError::BaseUrl(url.into()));
            }
            Ok(url.trim_end_matches('/').to_string())
        }
        None => {
            let host = config
                .bind
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("127.0.0.1");
            let host = if host == "0.0.0.0" || host == "[::]" {
                "127.0.0.1"
            } else {
                host
            };
            Ok(format!("http://{host}:{port}"))
        }
    }
}

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    base_url: String,
    setup_url: Option<String>,
    state: web::Data<AppState>,
    server: Server,
    metrics_server: Option<Server>,
    jobs: Option<actix_web::rt::task::JoinHandle<()>>,
    feed_polling: Option<actix_web::rt::task::JoinHandle<()>>,
    shutdown_trigger: crate::ops::shutdown::Trigger,
    shutdown_timeout: std::time::Duration,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Application::build_with_clock(config, Clock::system()).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: Clock,
    ) -> Result<Application, StartupError> {
        let trusted_proxies =
            TrustedProxies::parse(&config.trusted_proxies).map_err(StartupError::TrustedProxies)?;
        let blocking_config = config.clone();
        let (db, key) = web::block(move || {
            let db = open_database(&blocking_config)?;
            let key = secret_key::load_or_create(
                blocking_config.secret_key.as_deref(),
                &blocking_config.data_dir,
            )?;
            // Chains from before the ledger was keyed are sealed as found.
            let sealed = db
                .run_sync(crate::store::consent::seal_pending)
                .map_err(|e| StartupError::Store(e.to_string()))?;
            if sealed > 0 {
                tracing::warn!(
                    people = sealed,
                    "consent chains from before keyed seals were sealed as found"
                );
            }
            Ok::<_, StartupError>((db, key))
        })
        .await
        .map_err(|e| StartupError::Store(e.to_string()))??;

        let listener = TcpListener::bind(&config.bind).map_err(|source| StartupError::Bind {
            bind: config.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                bind: config.bind.clone(),
                source,
            })?
            .port();
        let base_url = resolve_base_url(&config, port)?;
        let base_origin = url::Url::parse(&base_url)
            .map(|u| u.origin().ascii_serialization())
            .map_err(|_| StartupError::BaseUrl(base_url.clone()))?;

        let now = clock.now_naive();
        let setup_token = db
            .run(move |conn| {
                // Sessions past their absolute expiry are of no use to anyone.
                store::sessions::delete_expired(conn, now)?;
                if store::users::any_active_admin(conn)? {
                    return Ok(None);
                }
                store::tokens::issue_setup_link(conn, now).map(Some)
            })
            .await
            .map_err(|e| StartupError::Store(e.to_string()))?;
        let setup_url = setup_token.map(|token| format!("{base_url}/setup/{token}"));

        // Bound before anything starts, so that a wrong address fails start-up.
        let metrics_listener = match config.metrics_address() {
            Some(address) => {
                let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
                    bind: address.to_string(),
                    source,
                })?;
                Some(listener)
            }
            None => None,
        };
        let workers = config.workers;
        let blocking_threads = config.blocking_threads;
        let shutdown_timeout = config.shutdown_timeout();
        let mailer = mailer(&config)?;
        let webhooks = Arc::new(webhook_sender(&config)?);
        let chat_secrets = Arc::new(crate::credentials::SecretBox::new(
            &key,
            crate::domain::chat::SEAL_PURPOSE,
        ));
        let metrics = Arc::new(Metrics::default());
        let (shutdown_trigger, shutdown) = crate::ops::shutdown::channel(shutdown_timeout);
        let jobs_interval = config.jobs_interval_seconds;
        let feeds_shutdown = shutdown.clone();
        let live_posts = Arc::new(crate::store::live_posts::LivePosts::default());
        let jobs = (config.jobs_interval_seconds > 0).then(|| {
            crate::jobs::spawn(crate::jobs::Background {
                db: db.clone(),
                clock: clock.clone(),
                interval: std::time::Duration::from_secs(config.jobs_interval_seconds),
                mailer: std::sync::Arc::new(mailer),
                delivery: delivery_settings(&config, &base_url),
                chat: crate::jobs::announcements::ChatDelivery {
                    sender: webhooks.clone(),
                    secrets: chat_secrets.clone(),
                },
                metrics: metrics.clone(),
                shutdown,
                live_posts: live_posts.clone(),
            })
        });
        let mail_domain = crate::mail::domain_of(&config.mail_from);
        let fetcher = Arc::new(fetcher(&config)?);
        let sso = match crate::sso::SsoSettings::from_config(&config, &base_url)? {
            Some(settings) => Some(Arc::new(crate::sso::Sso::new(settings)?)),
            None => None,
        };
        if let Some(sso) = sso.clone() {
            // Lazily used at sign-in anyway; this only makes a wrong issuer
            // or an unreachable provider show in the log at start-up.
            actix_web::rt::spawn(async move {
                match sso.check().await {
                    Ok(()) => tracing::info!("single sign-on provider discovered"),
                    Err(error) => {
                        tracing::warn!(error = %error, "single sign-on provider not reachable yet")
                    }
                }
            });
        }
        let state = web::Data::new(AppState {
            app: crate::app::App {
                db,
                clock,
                base_url: base_url.clone(),
                config: Arc::new(config),
                secret_key: key,
                live_posts,
                crowd_memo: Default::default(),
                mail_domain,
                report_cache: Default::default(),
                sso,
                fetcher,
                webhooks,
                chat_secrets,
            },
            secure_cookies: base_url.starts_with("https://"),
            base_origin,
            trusted_proxies,
            metrics,
        });
        // Feeds poll beside the other jobs, so a slow feed holds up nothing.
        let feed_polling = (jobs_interval > 0).then(|| {
            crate::jobs::feeds::spawn(
                state.clone().into_inner(),
                std::time::Duration::from_secs(jobs_interval),
                state.metrics.clone(),
                feeds_shutdown,
            )
        });
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(
                    web::FormConfig::default()
                        .limit(session::FORM_LIMIT)
                        .error_handler(|error, _req| match error {
                            actix_web::error::UrlencodedError::Overflow { .. } => {
                                AppError::new(crate::web::error::ErrorKind::PayloadTooLarge).into()
                            }
                            _ => AppError::bad_request(
                                "The form could not be read. Reload the page and try again.",
                            )
                            .into(),
                        }),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|_, _| AppError::not_found().into()),
                )
                .app_data(web::QueryConfig::default().error_handler(|_, _| {
                    AppError::bad_request("The address has parameters Chorus does not understand.")
                        .into()
                }))
                .app_data(web::PayloadConfig::default().limit(session::MULTIPART_LIMIT))
                .configure(configure)
                .default_service(web::to(not_found))
                .wrap(from_fn(crate::web::page::keep_navigation_on_error_pages))
                .wrap(from_fn(session::session_layer))
                .wrap(from_fn(headers::security_headers))
                .wrap(actix_web::middleware::Compress::default())
                .wrap(from_fn(telemetry::observe))
        })
        // Signals are handled in `run_until_stopped`, which also stops the jobs.
        .disable_signals()
        .shutdown_timeout(shutdown_timeout.as_secs())
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            bind: base_url.clone(),
            source,
        })?;
        if let Some(workers) = workers {
            server = server.workers(workers.max(1));
        }
        // A few threads per worker, not actix's default of hundreds: with
        // 64 requests in flight, 64 threads took turns at the pool's
        // connections in whatever order the kernel woke them, and the
        // unlucky waited five times the mean (PostgreSQL, benches/). Fewer
        // threads keep the rest in the runtime's first-come queue.
        let server = server
            .worker_max_blocking_threads(usize::from(blocking_threads))
            .run();
        let mut metrics_port = None;
        let metrics_server = match metrics_listener {
            Some(listener) => {
                metrics_port = listener.local_addr().ok().map(|a| a.port());
                let operator_state = state.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(operator_state.clone())
                        .configure(crate::web::metrics::configure_operator_only)
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(shutdown_timeout.as_secs())
                .listen(listener)
                .map_err(|source| StartupError::Bind {
                    bind: "the metrics address".into(),
                    source,
                })?
                .run();
                Some(server)
            }
            None => None,
        };
        Ok(Application {
            port,
            metrics_port,
            base_url,
            setup_url,
            state,
            server,
            metrics_server,
            jobs,
            feed_polling,
            shutdown_trigger,
            shutdown_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The one-time setup link, when the organisation has no admin yet.
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The port of the separate metrics address, when one is configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until SIGTERM or SIGINT, then stops gracefully: no new
    /// connections, in-flight requests finish (within CHORUS_SHUTDOWN_SECONDS),
    /// and the background jobs stop at a safe point and hand back the email
    /// they claimed but did not send. A second signal meanwhile ends the
    /// process at once (exit code 1).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            metrics_server,
            jobs,
            feed_polling,
            shutdown_trigger,
            shutdown_timeout,
            ..
        } = self;
        let handles: Vec<_> = std::iter::once(server.handle())
            .chain(metrics_server.as_ref().map(Server::handle))
            .collect();
        let trigger = Arc::new(shutdown_trigger);
        let signal_trigger = trigger.clone();
        let watcher = actix_web::rt::spawn(async move {
            let signal = crate::ops::shutdown::termination_signal().await;
            tracing::info!(
                signal,
                "shutting down: finishing in-flight requests and the current job step"
            );
            signal_trigger.fire();
            let graceful = futures_util::future::join_all(handles.iter().map(|h| h.stop(true)));
            tokio::select! {
                _ = graceful => {}
                // A second Ctrl-C means "now": claimed email waits for its lease.
                signal = crate::ops::shutdown::termination_signal() => {
                    tracing::warn!(signal, "second signal: stopping at once");
                    std::process::exit(1);
                }
            }
        });
        // A server runs only while its future is polled: both at once.
        let metrics_served = metrics_server.map(actix_web::rt::spawn);
        let served = server.await;
        if let Some(metrics_served) = metrics_served {
            let _ = metrics_served.await;
        }
        watcher.abort();
        // However the server ended, the jobs stop too.
        trigger.fire();
        let bound = shutdown_timeout + std::time::Duration::from_secs(5);
        for (name, handle) in [("background jobs", jobs), ("feed polling", feed_polling)] {
            if let Some(handle) = handle
                && actix_web::rt::time::timeout(bound, handle).await.is_err()
            {
                tracing::warn!(job = name, "background work did not stop in time");
            }
        }
        tracing::info!("stopped");
        served
    }
}
