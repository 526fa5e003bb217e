//! Log output: human-readable lines by default, or one JSON object per line
//! (`CHORUS_LOG_FORMAT=json`) for log collectors; `CHORUS_LOG` filters. Log
//! lines name people by user id only: never an email address, a name, a
//! token, a cookie or a password. Requests are named by route pattern, and
//! lines of participation routes (sharing, skipping, consent, preferences,
//! unsubscribing, notices) carry no user id at all (web::telemetry).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stderr (stdout is for what a
/// command prints for its user, such as the first-start setup link).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("CHORUS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // The request span (request_id, user_id) is on each line as "span".
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
