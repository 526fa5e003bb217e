//! The SMTP relay the SMTP benchmarks talk to on loopback: it accepts
//! every message and keeps none.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The value after `name` among the command-line `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// How the relay answers.
#[derive(Clone, Copy)]
pub struct Answers {
    /// Whether EHLO offers PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// How long the relay takes before it says a message is queued.
    pub queued_after: Duration,
}

/// Serves one SMTP session, counting each message accepted in `received`.
pub async fn serve(
    stream: TcpStream,
    answers: Answers,
    received: Arc<AtomicU64>,
) -> std::io::Result<()> {
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
            "EHLO" if answers.pipelining => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
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
                if !answers.queued_after.is_zero() {
                    tokio::time::sleep(answers.queued_after).await;
                }
                received.fetch_add(1, Ordering::Relaxed);
                b"250 queued\r\n"
            }
            "QUIT" => return write.write_all(b"221 bye\r\n").await,
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}
