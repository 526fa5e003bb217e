//! Running Chorus as a service: log lines, metrics, the graceful stop, the
//! data folder, the server's secret key, and the progress long commands
//! show.

pub mod data_dir;
pub mod logging;
pub mod metrics;
pub mod progress;
pub mod secret_key;
pub mod shutdown;
