//! Running Chorus as a service: log lines, metrics, the graceful stop, the
//! data folder and the server's secret key.

pub mod data_dir;
pub mod logging;
pub mod metrics;
pub mod secret_key;
pub mod shutdown;
