//! A fast SMTP sink on loopback for the digest benchmark in
//! `benches/run.sh`: it accepts every message, keeps none, and writes the
//! number received so far to a file five times a second.
//!
//!   cargo bench --bench smtp_sink -- --listen 127.0.0.1:2525 --count-file /tmp/n
//!
//! Without `--listen` (as under `cargo test --all-targets`) it only says
//! how to run it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

async fn session(stream: TcpStream, received: Arc<AtomicU64>) -> std::io::Result<()> {
    // Replies go out at once, as a real relay's do.
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write.write_all(b"354 go on\r\n").await?;
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                }
                received.fetch_add(1, Ordering::Relaxed);
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

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
                tokio::spawn(session(stream, received.clone()));
            }
        })
}
