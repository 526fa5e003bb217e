//! A minimal reproduction of why Chorus keeps its own SMTP sessions
//! (src/mail/smtp_sessions.rs) instead of lettre's pool: lettre writes a
//! message's body and its closing "\r\n.\r\n" in two writes on a socket
//! with Nagle's algorithm on, so the closing dot waits for the relay's
//! delayed ACK of the body (about 40 ms on Linux) before the relay can
//! answer. A session then sends about 20 emails a second whatever the
//! relay's speed.
//!
//!   cargo bench --bench smtp_nagle -- --run [--emails 200] [--reply-ms 0]
//!
//! sends emails one after another to an SMTP sink on loopback (replying
//! after --reply-ms), first over lettre's pool, then over one lettre
//! connection on a socket with TCP_NODELAY (what Chorus does), and prints
//! the time per email. Without `--run` (as under `cargo test
//! --all-targets`) it only says how to run it.

mod relay;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use relay::{Answers, flag};
use tokio::net::{TcpListener, TcpStream};

fn email(n: usize) -> Message {
    Message::builder()
        .from("Chorus <chorus@example.com>".parse().expect("from"))
        .to(format!("person{n}@example.org").parse().expect("to"))
        .subject("Three posts are ready to share")
        .body("A digest of a few kilobytes.\r\n".repeat(100))
        .expect("message")
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--run") {
        println!("smtp_nagle: pass --run [--emails N] [--reply-ms MS]");
        return Ok(());
    }
    let emails: usize = flag(&args, "--emails")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let reply = Duration::from_millis(
        flag(&args, "--reply-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            tokio::spawn(async move {
                let answers = Answers {
                    pipelining: false,
                    queued_after: reply,
                };
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(relay::serve(stream, answers, Arc::default()));
                }
            });

            let pool = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(port)
                .build();
            let started = Instant::now();
            for n in 0..emails {
                pool.send(email(n)).await.expect("sent over lettre's pool");
            }
            let pooled = started.elapsed();

            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            stream.set_nodelay(true)?;
            let mut connection =
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                    .await
                    .expect("session");
            let started = Instant::now();
            for n in 0..emails {
                let message = email(n);
                connection
                    .send(message.envelope(), &message.formatted())
                    .await
                    .expect("sent over a TCP_NODELAY session");
            }
            let without_delay = started.elapsed();

            let per = |d: Duration| d.as_secs_f64() * 1000.0 / emails as f64;
            println!(
                "{emails} emails, relay replies after {} ms: lettre's pool {:.1} ms per email, \
                 TCP_NODELAY session {:.1} ms per email",
                reply.as_millis(),
                per(pooled),
                per(without_delay)
            );
            Ok(())
        })
}
