//! A fast SMTP sink on loopback for the digest benchmark in
//! `benches/run.sh`: it accepts every message, keeps none, and writes the
//! number received so far to a file five times a second.
//!
//!   cargo bench --bench smtp_sink -- --listen 127.0.0.1:2525 --count-file /tmp/n
//!
//! Without `--listen` (as under `cargo test --all-targets`) it only says
//! how to run it.

mod relay;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use relay::{Answers, flag};
use tokio::net::TcpListener;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(address) = flag(&args, "--listen") else {
        println!("smtp_sink: pass --listen ADDRESS [--count-file PATH] (benches/run.sh does)");
        return Ok(());
    };
    let count_file = flag(&args, "--count-file");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(&address).await?;
            let received = Arc::new(AtomicU64::new(0));
            if let Some(path) = count_file {
                let received = received.clone();
                tokio::spawn(async move {
                    loop {
                        let n = received.load(Ordering::Relaxed);
                        let _ = tokio::fs::write(&path, format!("{n}\n")).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                });
            }
            loop {
                let (stream, _) = listener.accept().await?;
                let answers = Answers {
                    pipelining: true,
                    queued_after: Duration::ZERO,
                };
                tokio::spawn(relay::serve(stream, answers, received.clone()));
            }
        })
}
