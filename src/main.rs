//! The `chorus` command line: a thin shell over the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use chorus::config::Config;
use chorus::domain::email::EmailAddress;
use chorus::domain::names::{DepartmentName, PersonName};
use chorus::domain::roles::{Role, Roles};
use chorus::startup::{self, Application};
use chorus::store::{self, accounts, users};

#[derive(Parser)]
#[command(
    name = "chorus",
    version,
    about = "A consent-first employee-advocacy sharing queue"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, then serve the web application.
    Serve {
        /// On an empty database, first fill it with a demo organisation.
        #[arg(long)]
        demo: bool,
    },
    /// Fill an empty database with a realistic demo organisation.
    Demo {
        #[arg(long, default_value_t = 200)]
        employees: usize,
        #[arg(long, default_value_t = 60)]
        posts: usize,
        #[arg(long, default_value_t = 8)]
        weeks: i64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// About how many shares (default: 12 % of posts per person who opted in).
        #[arg(long)]
        shares: Option<usize>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage people.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the consent ledger.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// Run background jobs by hand.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Plan digests by hand.
    #[command(subcommand)]
    Digests(DigestsCommand),
    /// Deliver email by hand.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Subcommand)]
enum DigestsCommand {
    /// Plan every due digest once, then exit.
    Plan {
        /// Run once (the only mode; `serve` plans continuously).
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Deliver everything due in the outbox (email and chat
    /// announcements), then exit.
    Deliver {
        /// Run once (the only mode; `serve` delivers continuously).
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Publish due scheduled posts and expire old ones, once, then exit.
    RunOnce,
}

#[derive(Subcommand)]
enum ConsentCommand {
    /// Check every person's consent hash chain; exit 1 naming the first broken link.
    Verify,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a person and print a one-time link to set their password.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// employee, comms or admin; repeat the flag or separate with commas for several.
        #[arg(long, required = true)]
        role: Vec<String>,
        #[arg(long)]
        department: Option<String>,
    },
    /// Break-glass for single sign-on: turn password login for everyone on
    /// (or off again), e.g. when the identity provider fails. Audit-logged.
    PasswordLogin {
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
}

/// glibc raises its mmap threshold after the first large block is freed;
/// from then on argon2's 19 MiB blocks come from the heap arena of whichever
/// thread hashed, and stay there. A fixed threshold keeps large blocks
/// mmapped, so freeing returns them. Measured again for issue 25 (sixty
/// logins, four at a time, `chorus serve` on SQLite): peak RSS 128 MiB and
/// 52 MiB after, against 432–490 MiB and 432–452 MiB without this call.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_blocks_to_the_system() {
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    chorus::ops::logging::init(cli.config.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { demo } => {
            if demo {
                let db = startup::open_database(&cli.config).map_err(|e| e.to_string())?;
                let empty = !db
                    .run_sync(chorus::demo::has_people)
                    .map_err(|e| e.to_string())?;
                if empty {
                    fill_demo(&db, chorus::demo::DemoSize::default())?;
                } else {
                    println!("The database already has people: no demo data added.");
                }
            }
            serve(cli.config)
        }
        Command::Demo {
            employees,
            posts,
            weeks,
            seed,
            shares,
        } => {
            let db = startup::open_database(&cli.config).map_err(|e| e.to_string())?;
            if db
                .run_sync(chorus::demo::has_people)
                .map_err(|e| e.to_string())?
            {
                return Err("this database already has people; demo data goes into an empty one (use another CHORUS_DATA_DIR or CHORUS_DATABASE_URL)".into());
            }
            fill_demo(
                &db,
                chorus::demo::DemoSize {
                    employees,
                    posts,
                    weeks: weeks.max(1),
                    seed,
                    shares,
                },
            )
        }
        Command::Migrate => {
            use chorus::ops::progress::{CommandLine, Progress};
            let mut progress = CommandLine::new();
            progress.stage("migrations", 0);
            let db = startup::open_database(&cli.config).map_err(|e| e.to_string())?;
            progress.finish();
            println!("Migrations applied ({}).", db.backend().name());
            Ok(())
        }
        Command::User(UserCommand::Add {
            email,
            name,
            role,
            department,
        }) => add_user(&cli.config, &email, &name, &role, department.as_deref()),
        Command::User(UserCommand::PasswordLogin { setting }) => {
            set_password_login(&cli.config, setting == "on")
        }
        Command::Consent(ConsentCommand::Verify) => verify_consent(&cli.config),
        Command::Digests(DigestsCommand::Plan { .. }) => {
            let db = startup::open_database(&cli.config).map_err(|e| e.to_string())?;
            let now = chorus::clock::Clock::system().now_naive();
            let domain = chorus::mail::domain_of(&cli.config.mail_from);
            let planned = db
                .run_sync(|conn| chorus::store::digests::plan_all(conn, now, &domain))
                .map_err(|e| e.to_string())?;
            println!("Digests planned: {planned}.");
            Ok(())
        }
        Command::Mail(MailCommand::Deliver { .. }) => deliver_mail(cli.config),
        Command::Jobs(JobsCommand::RunOnce) => {
            let db = startup::open_database(&cli.config).map_err(|e| e.to_string())?;
            let clock = chorus::clock::Clock::system();
            let report = db
                .run_sync(|conn| chorus::jobs::run_once(conn, &clock))
                .map_err(|e| e.to_string())?;
            println!(
                "Jobs ran: {} post(s) published, {} expired.",
                report.published.len(),
                report.expired.len()
            );
            let app = startup::command_app(cli.config, db, clock).map_err(|e| e.to_string())?;
            let feeds = actix_web::rt::System::new()
                .block_on(chorus::app::feeds::poll_due(&app))
                .map_err(|e| e.to_string())?;
            println!(
                "Feeds read: {} ({} unchanged, {} failed), {} new draft(s).",
                feeds.polled, feeds.not_modified, feeds.failed, feeds.drafts
            );
            Ok(())
        }
    }
}

fn serve(config: Config) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config)
            .await
            .map_err(|e| e.to_string())?;
        println!("Chorus is listening on {}", app.base_url());
        if let Some(url) = app.setup_url() {
            println!();
            println!("No admin account exists yet. Open this one-time setup link to create one");
            println!("(it works once, for 24 hours; restart Chorus for a fresh one):");
            println!();
            println!("    {url}");
            println!();
        }
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// `chorus user password-login on|off`: the way back in when single
/// sign-on locks everyone out (the admin page refuses to lock out its user,
/// but a provider can still fail or be removed).
fn set_password_login(config: &Config, on: bool) -> Result<(), String> {
    let db = startup::open_database(config).map_err(|e| e.to_string())?;
    let now = chorus::clock::Clock::system().now_naive();
    db.run_sync(|conn| {
        let current = store::org::settings(conn)?;
        store::sso::set_policy(
            conn,
            store::sso::SsoPolicy {
                create_accounts: current.sso_create_accounts,
                password_login: on,
            },
            store::audit::Actor::System,
            now,
        )
    })
    .map_err(|e| e.to_string())?;
    if on {
        println!(
            "Password login is on. `chorus user add` or Admin → People gives a set-password link."
        );
    } else {
        println!("Password login is off while single sign-on is configured.");
    }
    Ok(())
}

fn add_user(
    config: &Config,
    email: &str,
    name: &str,
    roles: &[String],
    department: Option<&str>,
) -> Result<(), String> {
    let email = EmailAddress::parse(email).map_err(|e| format!("--email: {e}"))?;
    let name = PersonName::parse(name).map_err(|e| format!("--name: {e}"))?;
    let roles = Roles::parse_list(&roles.join(",")).map_err(|e| format!("--role: {e}"))?;
    let department = DepartmentName::parse_optional(department.unwrap_or(""))
        .map_err(|e| format!("--department: {e}"))?;
    let db = startup::open_database(config).map_err(|e| e.to_string())?;
    let now = chorus::clock::Clock::system().now_naive();
    let new_user = users::NewUser {
        email: email.clone(),
        name,
        roles,
        department,
    };
    let base = config
        .base_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", config.bind));
    let outcome = db
        .run_sync(|conn| {
            let mail = accounts::MailContext {
                base_url: &base,
                mail_domain: &chorus::mail::domain_of(&config.mail_from),
            };
            accounts::invite_by_email(
                conn,
                &new_user,
                &mail,
                chorus::store::audit::Actor::System,
                now,
            )
        })
        .map_err(|e| e.to_string())?;
    let accounts::InviteOutcome::Invited(_, token) = outcome else {
        return Err(format!(
            "someone with the email address {email} already has an account"
        ));
    };
    println!("Created {} ({}).", email, new_user.roles.describe());
    println!(
        "One-time link to set the password (valid {} days):",
        store::tokens::PASSWORD_LINK_DAYS
    );
    println!("{base}/invite/{token}");
    if new_user.roles.has(Role::Admin) {
        println!("(This person is an admin.)");
    }
    Ok(())
}

fn verify_consent(config: &Config) -> Result<(), String> {
    let db = startup::open_database(config).map_err(|e| e.to_string())?;
    match db
        .run_sync(store::consent::verify_all)
        .map_err(|e| e.to_string())?
    {
        Ok(checked) => {
            println!("Consent ledger intact: {checked} events checked.");
            Ok(())
        }
        Err(broken) => Err(broken.to_string()),
    }
}

fn deliver_mail(config: Config) -> Result<(), String> {
    let db = startup::open_database(&config).map_err(|e| e.to_string())?;
    let mailer = startup::mailer(&config).map_err(|e| e.to_string())?;
    let base = config
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.bind));
    let settings = startup::delivery_settings(&config, &base);
    let clock = chorus::clock::Clock::system();
    let key =
        chorus::ops::secret_key::load_or_create(config.secret_key.as_deref(), &config.data_dir)
            .map_err(|e| e.to_string())?;
    actix_web::rt::System::new().block_on(async move {
        let report = chorus::jobs::delivery::deliver_all_due(&db, &mailer, &clock, &settings)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "Email: {} sent, {} to retry, {} failed, {} cancelled.",
            report.sent, report.retried, report.failed, report.cancelled
        );
        let chat = chorus::jobs::announcements::ChatDelivery {
            sender: std::sync::Arc::new(
                startup::webhook_sender(&config).map_err(|e| e.to_string())?,
            ),
            secrets: std::sync::Arc::new(chorus::credentials::SecretBox::new(
                &key,
                chorus::domain::chat::SEAL_PURPOSE,
            )),
        };
        let report = chorus::jobs::announcements::deliver_all_due(&db, &chat, &clock, &settings)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "Chat announcements: {} sent, {} to retry, {} failed, {} cancelled.",
            report.sent, report.retried, report.failed, report.cancelled
        );
        Ok(())
    })
}

fn fill_demo(db: &chorus::db::Db, size: chorus::demo::DemoSize) -> Result<(), String> {
    let started = std::time::Instant::now();
    let hash = chorus::credentials::hash_password(chorus::demo::DEMO_PASSWORD)
        .map_err(|e| e.to_string())?;
    let now = chorus::clock::Clock::system().now_naive();
    let report = db
        .run_sync(|conn| {
            let mut progress = chorus::ops::progress::CommandLine::new();
            let report = chorus::demo::generate_showing(conn, size, &hash, now, &mut progress)?;
            chorus::demo::settle(conn)?;
            Ok::<_, chorus::store::StoreError>(report)
        })
        .map_err(|e| e.to_string())?;
    println!(
        "Demo organisation ready in {:.1} s: {} people, {} posts, {} shares, {} dismissals, {} consent events.",
        started.elapsed().as_secs_f64(),
        report.people,
        report.posts,
        report.shares,
        report.dismissals,
        report.consent_events
    );
    println!(
        "Log in with password \"{}\" as:",
        chorus::demo::DEMO_PASSWORD
    );
    println!("    admin@demo.example      (admin)");
    println!("    comms@demo.example      (comms and employee)");
    println!(
        "    employee00001@demo.example … employee{:05}@demo.example (employees)",
        size.employees
    );
    Ok(())
}
