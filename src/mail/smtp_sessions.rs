//! Sessions with one SMTP relay, kept open between emails.
//!
//! Why not lettre's own pool (`AsyncSmtpTransport` with `pool`): it opens
//! its sockets with Nagle's algorithm on and writes a message's body and
//! its closing "." in two writes, so the dot waits for the relay's delayed
//! ACK of the body (about 40 ms on Linux) and one session sends about 23
//! emails a second, however fast the relay. `benches/smtp_nagle.rs`
//! reproduces it in a hundred lines. Here each session starts on a socket
//! with TCP_NODELAY and is handed to lettre's connection, which still
//! speaks the protocol (EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA). Implicit
//! TLS (smtps://) sessions are opened by lettre itself, whose socket keeps
//! Nagle on.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// How to reach the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP, then STARTTLS before anything else (required).
    StartTls,
    /// TLS from the first byte.
    ImplicitTls,
    /// No TLS at all (a relay on the same host or a test server).
    Plain,
}

impl Security {
    pub fn label(self) -> &'static str {
        match self {
            Security::StartTls => "STARTTLS",
            Security::ImplicitTls => "TLS",
            Security::Plain => "no TLS",
        }
    }
}

/// Everything needed to open a session.
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub hello: ClientId,
    pub credentials: Option<Credentials>,
}

/// Why a send did not happen: lettre's error, or our own socket's.
#[derive(Debug)]
pub enum SessionError {
    Smtp(lettre::transport::smtp::Error),
    Connect(String),
}

impl From<lettre::transport::smtp::Error> for SessionError {
    fn from(error: lettre::transport::smtp::Error) -> Self {
        SessionError::Smtp(error)
    }
}

struct Idle {
    connection: AsyncSmtpConnection,
    since: Instant,
}

/// Open sessions to one relay, reused one email after another.
pub struct Sessions {
    relay: Relay,
    connect_timeout: Duration,
    /// At most this many sessions wait for the next email.
    max_idle: usize,
    /// A session idle for longer is closed rather than reused.
    idle_timeout: Duration,
    idle: Mutex<Vec<Idle>>,
}

impl Sessions {
    pub fn new(
        relay: Relay,
        connect_timeout: Duration,
        max_idle: usize,
        idle_timeout: Duration,
    ) -> Sessions {
        Sessions {
            relay,
            connect_timeout,
            max_idle,
            idle_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one message over a kept session or a new one. A session that
    /// failed is closed (lettre aborts it); one that was cut off by the
    /// caller's deadline is dropped with this future, never reused.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SessionError> {
        let mut connection = self.checkout().await?;
        connection.send(envelope, message).await?;
        self.checkin(connection);
        Ok(())
    }

    /// A kept session that still answers NOOP, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SessionError> {
        loop {
            let kept = self
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(Idle {
                mut connection,
                since,
            }) = kept
            else {
                return self.open().await;
            };
            if since.elapsed() > self.idle_timeout {
                close(connection).await;
                continue;
            }
            // The relay may have dropped it meanwhile; lettre's pool asks too.
            if connection.test_connected().await {
                return Ok(connection);
            }
            connection.abort().await;
        }
    }

    fn checkin(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SessionError> {
        let relay = &self.relay;
        let mut connection = match relay.security {
            Security::ImplicitTls => {
                AsyncSmtpConnection::connect_tokio1(
                    (relay.host.as_str(), relay.port),
                    Some(self.connect_timeout),
                    &relay.hello,
                    Some(TlsParameters::new(relay.host.clone())?),
                    None,
                )
                .await?
            }
            Security::StartTls | Security::Plain => {
                let stream = self.connect_without_delay().await?;
                let mut connection =
                    AsyncSmtpConnection::connect_with_transport(Box::new(stream), &relay.hello)
                        .await?;
                if relay.security == Security::StartTls {
                    // lettre refuses when the relay does not offer STARTTLS:
                    // never a silent fall back to plaintext.
                    connection
                        .starttls(TlsParameters::new(relay.host.clone())?, &relay.hello)
                        .await?;
                }
                connection
            }
        };
        if let Some(credentials) = &relay.credentials
            && let Err(error) = connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
        {
            connection.abort().await;
            return Err(error.into());
        }
        Ok(connection)
    }

    async fn connect_without_delay(&self) -> Result<tokio::net::TcpStream, SessionError> {
        let address = (self.relay.host.as_str(), self.relay.port);
        let stream = match tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect(address),
        )
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(SessionError::Connect(format!(
                    "cannot connect to the SMTP relay: {error}"
                )));
            }
            Err(_elapsed) => {
                return Err(SessionError::Connect(format!(
                    "the SMTP relay did not accept a connection within {} s",
                    self.connect_timeout.as_secs()
                )));
            }
        };
        stream.set_nodelay(true).map_err(|error| {
            SessionError::Connect(format!("cannot set TCP_NODELAY on the socket: {error}"))
        })?;
        Ok(stream)
    }
}

/// Says QUIT to a session no longer wanted, without waiting long for it.
async fn close(mut connection: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), connection.quit()).await;
}
