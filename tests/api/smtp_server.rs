//! A small SMTP server on loopback (RFC 5321, no TLS) for integration tests,
//! on its own thread and runtime, whose answers a test can switch at run time.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every message is taken.
    Accept,
    /// `451 4.3.0` to every RCPT TO.
    TemporaryFailure,
    /// `554 5.0.0` after the message data, as a content filter would answer.
    PermanentFailure,
    /// `550 5.1.1 <address>: …` to every RCPT TO, quoting the address.
    NoSuchUser,
    /// Nothing listens on the port (connections are refused) and open
    /// sessions are closed at their next command.
    Down,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent, dot-stuffing undone, lines ending in CRLF.
    pub data: String,
    /// Whether the client went through AUTH (any credentials are accepted).
    pub authenticated: bool,
}

pub struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// SMTP sessions (TCP connections) accepted so far.
    sessions: Arc<AtomicUsize>,
    /// Bumped to make every open session close at its next command.
    hang_ups: Arc<AtomicUsize>,
    /// Milliseconds the server takes before it answers a message's data.
    delay_ms: Arc<AtomicUsize>,
    // Dropping the sender stops the server thread.
    mode: watch::Sender<Mode>,
    applied: Mutex<mpsc::Receiver<Result<(), String>>>,
}

impl SmtpServer {
    /// Binds 127.0.0.1 on a free port. The server runs on a thread of its
    /// own, so it keeps answering while the test's runtime is busy or blocked.
    pub async fn start() -> SmtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (mode, mode_rx) = watch::channel(Mode::Accept);
        let (applied_tx, applied) = mpsc::channel();
        let store = Arc::clone(&received);
        let sessions = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&sessions);
        let hang_ups = Arc::new(AtomicUsize::new(0));
        let hang_up_signal = Arc::clone(&hang_ups);
        let delay_ms = Arc::new(AtomicUsize::new(0));
        let delay = Arc::clone(&delay_ms);
        std::thread::Builder::new()
            .name("smtp-test-server".to_owned())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(serve(
                        listener,
                        port,
                        store,
                        (counter, hang_up_signal, delay),
                        mode_rx,
                        applied_tx,
                    )),
                    Err(e) => drop(applied_tx.send(Err(format!("no runtime: {e}")))),
                }
            })
            .expect("SMTP test server thread");
        wait_until_applied(&applied);
        SmtpServer {
            port,
            received,
            sessions,
            hang_ups,
            delay_ms,
            mode,
            applied: Mutex::new(applied),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// In the syntax of `Mailer::smtp`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Returns once the server thread has applied the mode: after
    /// `set_mode(Mode::Down)` connections are refused, and after switching
    /// back the port listens again.
    pub fn set_mode(&self, mode: Mode) {
        // Held across both steps, so that each change gets its own answer.
        let applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        self.mode.send_replace(mode);
        wait_until_applied(&applied);
    }

    /// Every open session is closed at its next command, as a relay does
    /// with sessions idle for too long; new ones are served as before.
    pub fn hang_up_open_sessions(&self) {
        self.hang_ups.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes every message's answer come this much later, as a distant
    /// relay's does.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as usize, Ordering::SeqCst);
    }

    /// How many SMTP sessions (TCP connections) clients opened so far.
    pub fn sessions_opened(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Polls until at least `count` messages arrived or `timeout` passed;
    /// returns whatever arrived by then.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn wait_until_applied(applied: &mpsc::Receiver<Result<(), String>>) {
    match applied.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(())) => {}
        Ok(Err(why)) => panic!("SMTP test server: {why}"),
        Err(_) => panic!("SMTP test server: the server thread did not answer"),
    }
}

async fn serve(
    listener: std::net::TcpListener,
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    (sessions, hang_ups, delay): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>),
    mut mode: watch::Receiver<Mode>,
    applied: mpsc::Sender<Result<(), String>>,
) {
    let mut listener = match TcpListener::from_std(listener) {
        Ok(listener) => Some(listener),
        Err(e) => return drop(applied.send(Err(format!("cannot listen: {e}")))),
    };
    if applied.send(Ok(())).is_err() {
        return;
    }
    loop {
        let accept = async {
            match &listener {
                Some(listener) => listener.accept().await.ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = mode.changed() => {
                if changed.is_err() {
                    return; // the SmtpServer was dropped
                }
                let down = *mode.borrow_and_update() == Mode::Down;
                let outcome = if down {
                    // Closing the socket makes the kernel refuse new connections.
                    listener = None;
                    Ok(())
                } else if listener.is_none() {
                    // tokio sets SO_REUSEADDR, so the port can be taken again
                    // despite connections of the earlier socket in TIME_WAIT.
                    match TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(bound) => {
                            listener = Some(bound);
                            Ok(())
                        }
                        Err(e) => Err(format!("cannot listen on port {port} again: {e}")),
                    }
                } else {
                    Ok(())
                };
                if applied.send(outcome).is_err() {
                    return;
                }
            }
            accepted = accept => {
                if let Some((stream, _)) = accepted {
                    sessions.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(session(
                        stream,
                        Arc::clone(&received),
                        mode.clone(),
                        Arc::clone(&hang_ups),
                        Arc::clone(&delay),
                    ));
                }
            }
        }
    }
}

/// One line without its line ending, or None at end of stream.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Option<String>> {
    let mut buffer = Vec::new();
    if reader.read_until(b'\n', &mut buffer).await? == 0 {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&buffer);
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The address inside `MAIL FROM:<…>` or `RCPT TO:<…>`, parameters dropped.
fn path_argument(command: &str) -> String {
    let after_colon = command.split_once(':').map_or("", |(_, rest)| rest).trim();
    let path = after_colon.split_whitespace().next().unwrap_or_default();
    path.trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

async fn session(
    stream: TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    mode: watch::Receiver<Mode>,
    hang_ups: Arc<AtomicUsize>,
    delay: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let opened_in = hang_ups.load(Ordering::SeqCst);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 chorus-test ESMTP ready\r\n").await?;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut authenticated = false;

    while let Some(line) = read_line(&mut reader).await? {
        let current = *mode.borrow();
        if current == Mode::Down || hang_ups.load(Ordering::SeqCst) != opened_in {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or_default();
        let quoting: String;
        let reply: &str = match verb {
            // No STARTTLS offered: lettre only goes plaintext with tls=none.
            "EHLO" => {
                "250-chorus-test greets you\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                 250-AUTH PLAIN LOGIN\r\n250 SIZE 10485760\r\n"
            }
            "HELO" => "250 chorus-test\r\n",
            "AUTH" => {
                // PLAIN carries everything in its initial response (RFC 4616);
                // LOGIN asks for what it lacks with base64 challenges.
                let words: Vec<&str> = upper.split_whitespace().collect();
                let mut challenges: Vec<&[u8]> = Vec::new();
                match (words.get(1).copied(), words.len()) {
                    (Some("PLAIN"), 2) => challenges.push(b"334 \r\n"),
                    (Some("LOGIN"), 2) => {
                        challenges.push(b"334 VXNlcm5hbWU6\r\n"); // "Username:"
                        challenges.push(b"334 UGFzc3dvcmQ6\r\n"); // "Password:"
                    }
                    (Some("LOGIN"), _) => challenges.push(b"334 UGFzc3dvcmQ6\r\n"),
                    _ => {}
                }
                for challenge in challenges {
                    write.write_all(challenge).await?;
                    if read_line(&mut reader).await?.is_none() {
                        return Ok(());
                    }
                }
                authenticated = true;
                "235 2.7.0 Authentication successful\r\n"
            }
            "MAIL" => {
                from = Some(path_argument(&line));
                to.clear();
                "250 2.1.0 Ok\r\n"
            }
            "RCPT" if from.is_none() => "503 5.5.1 Need MAIL before RCPT\r\n",
            "RCPT" => match current {
                Mode::TemporaryFailure => "451 4.3.0 Temporary failure, try again later\r\n",
                // As Postfix answers: the address quoted back.
                Mode::NoSuchUser => {
                    quoting = format!(
                        "550 5.1.1 <{}>: Recipient address rejected: User unknown\r\n",
                        path_argument(&line)
                    );
                    &quoting
                }
                _ => {
                    to.push(path_argument(&line));
                    "250 2.1.5 Ok\r\n"
                }
            },
            "DATA" if from.is_none() || to.is_empty() => "503 5.5.1 Need RCPT before DATA\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line(&mut reader).await? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    // RFC 5321 §4.5.2: the client doubled every leading dot.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                let message = Received {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                    authenticated,
                };
                let wait = delay.load(Ordering::SeqCst);
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                // The mode may have changed while the data came in.
                if *mode.borrow() == Mode::PermanentFailure {
                    "554 5.0.0 Transaction failed\r\n"
                } else {
                    received
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(message);
                    "250 2.0.0 Ok: queued\r\n"
                }
            }
            "RSET" => {
                from = None;
                to.clear();
                "250 2.0.0 Ok\r\n"
            }
            "NOOP" => "250 2.0.0 Ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => "500 5.5.2 Command not recognized\r\n",
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// The one link in an email (quoted-printable soft breaks undone).
pub fn emailed_link(raw: &str, marker: &str) -> String {
    let raw = raw.replace("=\r\n", "");
    let start = raw.find(marker).expect("a link");
    let from = raw[..start].rfind("http").unwrap();
    raw[from..]
        .split(['\r', '\n', ' ', '"', '<', '>'])
        .next()
        .unwrap()
        .to_string()
}

/// The text/plain and text/html parts of a message, their transfer encoding undone.
pub fn mime_parts(raw: &str) -> Vec<(String, String)> {
    let unfold = |headers: &str| headers.replace("\r\n ", " ").replace("\r\n\t", " ");
    let header = |headers: &str, name: &str| -> String {
        unfold(headers)
            .lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l[name.len() + 1..].trim().to_string())
            .unwrap_or_default()
    };
    let (top, body) = raw.split_once("\r\n\r\n").expect("headers and body");
    let content_type = header(top, "Content-Type");
    let Some(at) = content_type.find("boundary=") else {
        return vec![(
            content_type,
            decode_part(&header(top, "Content-Transfer-Encoding"), body),
        )];
    };
    let boundary = content_type[at + 9..]
        .split(';')
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string();
    body.split(&format!("--{boundary}"))
        .filter_map(|chunk| {
            let (headers, body) = chunk.trim_start_matches("\r\n").split_once("\r\n\r\n")?;
            let kind = header(headers, "Content-Type");
            Some((
                kind,
                decode_part(
                    &header(headers, "Content-Transfer-Encoding"),
                    body.trim_end_matches("\r\n"),
                ),
            ))
        })
        .collect()
}

fn decode_part(encoding: &str, body: &str) -> String {
    match encoding.to_ascii_lowercase().as_str() {
        "base64" => {
            use base64::Engine;
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("base64"),
            )
            .unwrap()
        }
        "quoted-printable" => {
            let joined = body.replace("=\r\n", "");
            let bytes = joined.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
                match (bytes[i], hex) {
                    (b'=', Some(byte)) => {
                        out.push(byte);
                        i += 3;
                    }
                    (byte, _) => {
                        out.push(byte);
                        i += 1;
                    }
                }
            }
            String::from_utf8(out).unwrap()
        }
        _ => body.to_string(),
    }
}
