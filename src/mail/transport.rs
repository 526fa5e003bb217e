//! Where emails go: an SMTP relay, a folder of .eml files, or memory (tests).
//! Builds each message with lettre and sorts failures into retry or give up.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;

use super::smtp_sessions::{Relay, Security, SessionError, Sessions};

/// The connect has a deadline of its own; lettre's commands have none, so a
/// whole send gets one too: a relay that stops answering must not stall the job.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Sessions kept open: one per email in flight at the most
/// (CHORUS_MAIL_CONCURRENCY is at most 64).
const POOL_SIZE: usize = 64;
/// Well under the 5 minutes after which RFC 5321 §4.5.3.2.7 lets a server
/// drop an idle session, so pooled connections are rarely found dead.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// One email ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// e.g. "Chorus <chorus@example.com>"
    pub from: String,
    /// Address only.
    pub to: String,
    pub subject: String,
    /// Plain text part (first).
    pub text: String,
    /// HTML part (second); the message is multipart/alternative when present.
    pub html: Option<String>,
    /// Without angle brackets, e.g. "3f2c…@example.com"; sent as `Message-ID: <…>`.
    pub message_id: String,
    pub date: chrono::DateTime<chrono::Utc>,
    /// An https URL (http is let through for development); when set, the
    /// one-click unsubscribe headers of RFC 8058 are sent.
    pub list_unsubscribe: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Worth retrying later: 4xx replies, timeouts, network and TLS errors.
    Temporary,
    /// Retrying will not help: 5xx replies, or a message that cannot be built.
    Permanent,
    /// The relay says the mailbox does not exist (RFC 3463 X.1.1 and kin).
    NoSuchUser,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl SendFailure {
    fn temporary(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Temporary,
            message: message.into(),
        }
    }

    fn permanent(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }
}

/// A message as the memory mailer kept it.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub to: String,
    pub message_id: String,
    /// The whole message as it would go over the wire (headers, CRLF, body).
    pub raw: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("invalid CHORUS_SMTP_URL: {0}")]
    InvalidUrl(String),
    #[error("cannot use the outbox folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Clone)]
pub enum Mailer {
    /// A relay, through sessions kept open between emails.
    Smtp(SmtpRelay),
    /// .eml files in a folder (the embedded default when no SMTP URL is set).
    Files(Outbox),
    /// Kept in memory, for tests.
    Memory(Arc<Mutex<Vec<SentEmail>>>),
}

/// An SMTP relay and its open sessions, shared by clones.
#[derive(Clone)]
pub struct SmtpRelay {
    sessions: Arc<Sessions>,
    /// Host, port and TLS mode for logs; never the credentials.
    relay: String,
}

/// A folder of .eml files, each readable by Chorus's user only (0600):
/// they hold reset and invitation links.
#[derive(Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl std::fmt::Debug for Mailer {
    // By hand, because lettre's own Debug may print the SMTP credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Mailer {
    /// `smtp://user:pass@host:port` (STARTTLS required, port 587 by default),
    /// `smtps://user:pass@host:port` (implicit TLS, port 465 by default) and
    /// `smtp://host:port?tls=none` for a local relay or test server without TLS.
    /// Credentials are optional and percent-decoded; a path sets the EHLO name.
    /// Nothing connects until the first send.
    pub fn smtp(url: &str) -> Result<Mailer, MailerError> {
        let parsed = parse_smtp_url(url)?;
        let relay = format!(
            "{}:{} ({})",
            parsed.host,
            parsed.port,
            parsed.security.label()
        );
        let hello = match parsed.hello_name {
            Some(name) => ClientId::Domain(name),
            None => ClientId::default(),
        };
        let sessions = Sessions::new(
            Relay {
                host: parsed.host,
                port: parsed.port,
                security: parsed.security,
                hello,
                credentials: parsed
                    .credentials
                    .map(|(user, password)| Credentials::new(user, password)),
            },
            CONNECT_TIMEOUT,
            POOL_SIZE,
            POOL_IDLE,
        );
        Ok(Mailer::Smtp(SmtpRelay {
            sessions: Arc::new(sessions),
            relay,
        }))
    }

    /// Creates the folder if missing, and checks that it can be written:
    /// a read-only or full outbox is a start-up error, not a retry loop.
    pub fn files(dir: &Path) -> Result<Mailer, MailerError> {
        crate::ops::data_dir::create_private_dir(dir)
            .and_then(|()| crate::ops::data_dir::check_writable(dir))
            .map_err(|source| MailerError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        Ok(Mailer::Files(Outbox {
            dir: dir.to_path_buf(),
        }))
    }

    pub fn memory() -> (Mailer, Arc<Mutex<Vec<SentEmail>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(Arc::clone(&sent)), sent)
    }

    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), SendFailure> {
        // Only the domain is logged: a full address in logs is personal data
        // kept for longer than anyone intended.
        let domain = recipient_domain(&email.to);
        let result = match build_message(email) {
            Ok(message) => self.deliver(email, message).await,
            Err(failure) => Err(failure),
        };
        match &result {
            Ok(()) => tracing::debug!(domain, via = self.kind(), "email handed over"),
            Err(failure) => tracing::warn!(
                domain,
                via = self.kind(),
                kind = ?failure.kind,
                error = %without_recipient(&failure.message, &email.to),
                "email not sent"
            ),
        }
        result
    }

    async fn deliver(&self, email: &OutgoingEmail, message: Message) -> Result<(), SendFailure> {
        match self {
            Mailer::Smtp(relay) => {
                let raw = message.formatted();
                let sending = relay.sessions.send(message.envelope(), &raw);
                match actix_web::rt::time::timeout(SEND_TIMEOUT, sending).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(SessionError::Smtp(error))) => Err(classify_smtp_error(&error)),
                    Ok(Err(SessionError::Connect(message))) => Err(SendFailure::temporary(message)),
                    Err(_elapsed) => {
                        // The session went with the dropped future: a late
                        // reply cannot be read as the answer to another email.
                        Err(SendFailure::temporary(format!(
                            "the SMTP relay did not finish within {} s",
                            SEND_TIMEOUT.as_secs()
                        )))
                    }
                }
            }
            Mailer::Files(outbox) => {
                let raw = message.formatted();
                let path = outbox.dir.join(format!("{}.eml", uuid::Uuid::new_v4()));
                actix_web::rt::task::spawn_blocking(move || {
                    crate::ops::data_dir::write_private(&path, &raw)
                })
                .await
                .map_err(|e| SendFailure::temporary(format!("cannot write the .eml file: {e}")))?
                .map_err(|e| SendFailure::temporary(format!("cannot write the .eml file: {e}")))
            }
            Mailer::Memory(sent) => {
                let raw = String::from_utf8_lossy(&message.formatted()).into_owned();
                // A test that panicked while holding the lock must not hide
                // what was sent before.
                sent.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(SentEmail {
                        to: email.to.clone(),
                        message_id: email.message_id.clone(),
                        raw,
                    });
                Ok(())
            }
        }
    }

    /// For logs: which kind, and for SMTP the host (never credentials).
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(smtp) => format!("SMTP relay {}", smtp.relay),
            Mailer::Files(outbox) => format!(".eml files in {}", outbox.dir.display()),
            Mailer::Memory(_) => "memory (tests)".to_owned(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Mailer::Smtp(_) => "smtp",
            Mailer::Files(_) => "files",
            Mailer::Memory(_) => "memory",
        }
    }
}

fn build_message(email: &OutgoingEmail) -> Result<Message, SendFailure> {
    let from: Mailbox = email
        .from
        .parse()
        .map_err(|e| SendFailure::permanent(format!("the sender address is invalid: {e}")))?;
    // The recipient stays out of the message: failures end up in logs.
    let to: Mailbox = email.to.parse().map_err(|_| {
        SendFailure::permanent("the recipient address is not a valid email address")
    })?;
    check_message_id(&email.message_id)?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(email.subject.as_str())
        // RFC 5322 §3.6.1: the origination date is required; the caller's
        // so that a retried email keeps the date it was first written.
        .date(SystemTime::from(email.date))
        // RFC 5322 §3.6.4: msg-id is "<" id-left "@" id-right ">"; lettre
        // sends the value as given, so the brackets are added here.
        .message_id(Some(format!("<{}>", email.message_id)));

    if let Some(url) = &email.list_unsubscribe {
        check_unsubscribe_url(url)?;
        // RFC 8058 §3.1: both headers, the URI in angle brackets, and the
        // POST body key exactly "List-Unsubscribe=One-Click".
        builder = builder
            .raw_header(ascii_header("List-Unsubscribe", format!("<{url}>")))
            .raw_header(ascii_header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }

    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    built.map_err(|e| SendFailure::permanent(format!("cannot build the message: {e}")))
}

/// Written byte for byte: the value was checked to be printable ASCII without
/// spaces, and RFC 2047 encoding or folding would only get in a parser's way.
fn ascii_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str(name),
        value.clone(),
        value,
    )
}

fn is_plain_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
}

fn check_message_id(id: &str) -> Result<(), SendFailure> {
    if is_plain_token(id) && id.contains('@') {
        Ok(())
    } else {
        Err(SendFailure::permanent(format!(
            "the Message-ID {id:?} is not of the form local@domain without angle brackets"
        )))
    }
}

fn check_unsubscribe_url(url: &str) -> Result<(), SendFailure> {
    // RFC 8058 §3.1 wants an HTTPS URI for one-click; receivers ignore the
    // POST header otherwise. Plain http is still sent rather than refused, so
    // that a development server on http:// can mail; production sets an
    // https base URL. 900 keeps the line under RFC 5322's 998 characters.
    let web = url.starts_with("https://") || url.starts_with("http://");
    if web && is_plain_token(url) && url.len() <= 900 {
        Ok(())
    } else {
        Err(SendFailure::permanent(
            "the List-Unsubscribe URL must be a plain http(s) URL",
        ))
    }
}

fn recipient_domain(to: &str) -> String {
    match to.rsplit_once('@') {
        Some((_, domain)) => domain.trim_end_matches('>').to_ascii_lowercase(),
        None => "(no domain)".to_owned(),
    }
}

/// Relays often quote the address back in their reply; logs get the domain only.
fn without_recipient(message: &str, to: &str) -> String {
    match to.trim() {
        "" => message.to_owned(),
        address => message.replace(address, "(recipient)"),
    }
}

fn classify_smtp_error(error: &lettre::transport::smtp::Error) -> SendFailure {
    // lettre's Display carries the reply code and the server's text, which
    // is where the enhanced status code sits.
    let message = error.to_string();
    let kind = match error.status() {
        Some(code) => classify_reply(u16::from(code), &message),
        // Connection refused or reset, TLS, timeouts, unexpected replies,
        // a relay lacking STARTTLS or AUTH: the relay or its settings can
        // recover, the email itself is fine.
        None => FailureKind::Temporary,
    };
    SendFailure { kind, message }
}

/// Sorts an SMTP reply: 4xx may succeed later, 5xx will not (RFC 5321 §4.2.1).
fn classify_reply(code: u16, text: &str) -> FailureKind {
    if code / 100 != 5 {
        return FailureKind::Temporary;
    }
    let no_such_user = match enhanced_status(text) {
        // RFC 3463 §3.2: X.1.1 bad destination mailbox, X.1.0 other address
        // status; RFC 7505: X.1.10 the domain accepts no mail (null MX).
        Some(status) => matches!(status, "5.1.0" | "5.1.1" | "5.1.10"),
        // Older relays give no enhanced code, only words.
        None => {
            let lower = text.to_ascii_lowercase();
            [
                "no such user",
                "user unknown",
                "unknown user",
                "no such mailbox",
            ]
            .iter()
            .any(|phrase| lower.contains(phrase))
        }
    };
    if no_such_user {
        FailureKind::NoSuchUser
    } else {
        FailureKind::Permanent
    }
}

/// The first RFC 3463 status code in a reply text: class "." subject "." detail.
fn enhanced_status(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ':' | ',' | ';' | '(' | ')' | '[' | ']'))
        .find(|word| {
            let mut parts = word.split('.');
            let class_ok = matches!(parts.next(), Some("2" | "4" | "5"));
            let rest: Vec<&str> = parts.collect();
            class_ok
                && rest.len() == 2
                && rest
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[derive(Debug)]
struct SmtpUrl {
    host: String,
    port: u16,
    security: Security,
    /// The EHLO name, from the URL's path; the host name when absent.
    hello_name: Option<String>,
    /// User and password, percent-decoded.
    credentials: Option<(String, String)>,
}

/// Error texts name the part at fault, never the URL: it may hold a password.
fn parse_smtp_url(raw: &str) -> Result<SmtpUrl, MailerError> {
    let invalid = |why: String| MailerError::InvalidUrl(why);
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(format!("not a URL ({e})")))?;
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => return Err(invalid("no host".to_owned())),
    };
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        if key == "tls" {
            tls = Some(value.into_owned());
        } else {
            return Err(invalid(format!(
                "unknown parameter \"{key}\" (only tls=none is understood)"
            )));
        }
    }
    let (security, default_port) = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("required")) => (Security::StartTls, 587),
        ("smtp", Some("none")) => (Security::Plain, 587),
        ("smtp", Some(other)) => {
            return Err(invalid(format!(
                "tls={other} is not understood (use tls=none, or leave it out for STARTTLS)"
            )));
        }
        ("smtps", None) => (Security::ImplicitTls, 465),
        ("smtps", Some(_)) => {
            return Err(invalid(
                "smtps:// always uses TLS; leave out the tls parameter".to_owned(),
            ));
        }
        (scheme, _) => {
            return Err(invalid(format!(
                "unknown scheme \"{scheme}\" (use smtp:// for STARTTLS or smtps:// for TLS)"
            )));
        }
    };
    // lettre only authenticates when a password is given; half a pair is a
    // mistake better reported now than as a refused AUTH later.
    if url.username().is_empty() != url.password().is_none() {
        return Err(invalid(
            "give both a user and a password, or neither".to_owned(),
        ));
    }
    let port = url.port().unwrap_or(default_port);
    let decode = |part: &str, what: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| invalid(format!("the {what} is not UTF-8 once percent-decoded")))
    };
    let credentials = match url.password() {
        Some(password) => Some((
            decode(url.username(), "user")?,
            decode(password, "password")?,
        )),
        None => None,
    };
    let hello_name = Some(url.path().trim_matches('/'))
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    Ok(SmtpUrl {
        host,
        port,
        security,
        hello_name,
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            from: "Chorus <chorus@example.com>".to_owned(),
            to: "ada@example.org".to_owned(),
            subject: "Three posts are ready to share".to_owned(),
            text: "Hello Ada,\n\nthree posts are waiting.\n".to_owned(),
            html: Some("<p>Hello Ada,</p><p>three posts are waiting.</p>".to_owned()),
            message_id: "3f2c9a@example.com".to_owned(),
            date: chrono::DateTime::parse_from_rfc3339("2026-11-27T09:30:00Z")
                .map(|d| d.to_utc())
                .unwrap_or_default(),
            list_unsubscribe: Some("https://chorus.example.com/unsubscribe/abc123".to_owned()),
        }
    }

    fn raw(email: &OutgoingEmail) -> String {
        let message = build_message(email).expect("message builds");
        String::from_utf8(message.formatted()).expect("ASCII message")
    }

    /// The value of a top-level header, unfolded, or None.
    fn header(raw: &str, name: &str) -> Option<String> {
        let head = raw.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(": ")?;
            key.eq_ignore_ascii_case(name).then(|| value.to_owned())
        })
    }

    #[test]
    fn html_email_is_multipart_alternative_with_the_text_part_first() {
        let raw = raw(&email());
        let content_type = header(&raw, "Content-Type").expect("Content-Type");
        assert!(
            content_type.starts_with("multipart/alternative;"),
            "{content_type}"
        );
        let text = raw.find("Content-Type: text/plain").expect("text part");
        let html = raw.find("Content-Type: text/html").expect("html part");
        assert!(text < html, "text/plain must come before text/html");
        assert_eq!(header(&raw, "MIME-Version").as_deref(), Some("1.0"));
    }

    #[test]
    fn email_carries_the_callers_message_id_in_brackets_and_its_date() {
        let raw = raw(&email());
        assert_eq!(
            header(&raw, "Message-ID").as_deref(),
            Some("<3f2c9a@example.com>")
        );
        assert_eq!(
            header(&raw, "Date").as_deref(),
            Some("Fri, 27 Nov 2026 09:30:00 +0000")
        );
        assert_eq!(header(&raw, "To").as_deref(), Some("ada@example.org"));
    }

    #[test]
    fn unsubscribe_url_gives_both_one_click_headers_as_rfc_8058_shows() {
        let raw = raw(&email());
        assert!(
            raw.contains(
                "\r\nList-Unsubscribe: <https://chorus.example.com/unsubscribe/abc123>\r\n"
            )
        );
        assert!(raw.contains("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));

        // Long URLs stay on one line rather than being folded or encoded.
        let long = format!("https://chorus.example.com/unsubscribe/{}", "x".repeat(200));
        let raw = self::raw(&OutgoingEmail {
            list_unsubscribe: Some(long.clone()),
            ..email()
        });
        assert!(raw.contains(&format!("\r\nList-Unsubscribe: <{long}>\r\n")));

        // A development server on plain http still gets its link through.
        let raw = self::raw(&OutgoingEmail {
            list_unsubscribe: Some("http://127.0.0.1:8080/unsubscribe/abc".to_owned()),
            ..email()
        });
        assert!(raw.contains("\r\nList-Unsubscribe: <http://127.0.0.1:8080/unsubscribe/abc>\r\n"));
    }

    #[test]
    fn email_without_html_is_a_single_text_part_without_list_headers() {
        let raw = raw(&OutgoingEmail {
            html: None,
            list_unsubscribe: None,
            ..email()
        });
        let content_type = header(&raw, "Content-Type").expect("Content-Type");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert!(!raw.contains("multipart"));
        assert!(!raw.contains("text/html"));
        assert!(header(&raw, "List-Unsubscribe").is_none());
        assert!(header(&raw, "List-Unsubscribe-Post").is_none());
        assert!(raw.contains("three posts are waiting."));
    }

    #[test]
    fn unusable_addresses_ids_and_urls_fail_permanently_without_naming_the_recipient() {
        let cases = [
            OutgoingEmail {
                to: "not an address".to_owned(),
                ..email()
            },
            OutgoingEmail {
                from: "Chorus".to_owned(),
                ..email()
            },
            OutgoingEmail {
                message_id: "<3f2c9a@example.com>".to_owned(),
                ..email()
            },
            OutgoingEmail {
                list_unsubscribe: Some("mailto:unsubscribe@example.com".to_owned()),
                ..email()
            },
        ];
        for case in cases {
            let failure = build_message(&case).expect_err("must be refused");
            assert_eq!(failure.kind, FailureKind::Permanent, "{failure}");
            assert!(!failure.message.contains("not an address"), "{failure}");
        }
    }

    #[test]
    fn transient_replies_are_temporary() {
        for (code, text) in [
            (421, "4.3.2 Service shutting down"),
            (450, "4.2.1 Mailbox busy"),
            (451, "4.3.0 Local error in processing"),
            (452, "Insufficient system storage"),
        ] {
            assert_eq!(classify_reply(code, text), FailureKind::Temporary, "{code}");
        }
    }

    #[test]
    fn bad_mailbox_replies_mean_no_such_user() {
        for text in [
            "permanent error (550): 5.1.1 <ada@example.org>: Recipient address rejected",
            "permanent error (550): 5.1.0 Address rejected",
            "permanent error (556): 5.1.10 Recipient address has null MX",
            "permanent error (550): No such user here",
            "permanent error (550): User unknown in local recipient table",
        ] {
            assert_eq!(classify_reply(550, text), FailureKind::NoSuchUser, "{text}");
        }
    }

    #[test]
    fn other_permanent_replies_are_permanent() {
        for (code, text) in [
            (554, "permanent error (554): 5.0.0 Transaction failed"),
            (554, "permanent error (554): Transaction failed"),
            (552, "permanent error (552): 5.2.2 Mailbox full"),
            // The enhanced code wins over the words around it.
            (
                550,
                "permanent error (550): 5.7.1 Relaying denied, user unknown",
            ),
        ] {
            assert_eq!(classify_reply(code, text), FailureKind::Permanent, "{text}");
        }
    }

    #[test]
    fn smtp_urls_choose_starttls_implicit_tls_or_plain_and_a_default_port() {
        let starttls = parse_smtp_url("smtp://user:p%40ss@mail.example.com").expect("smtp");
        assert_eq!(starttls.security, Security::StartTls);
        assert_eq!(starttls.port, 587);
        assert_eq!(starttls.host, "mail.example.com");
        assert_eq!(
            starttls.credentials,
            Some(("user".to_owned(), "p@ss".to_owned()))
        );

        let implicit = parse_smtp_url("smtps://user:pass@mail.example.com").expect("smtps");
        assert_eq!(
            (implicit.security, implicit.port),
            (Security::ImplicitTls, 465)
        );

        let plain = parse_smtp_url("smtp://127.0.0.1:2525?tls=none").expect("plain");
        assert_eq!((plain.security, plain.port), (Security::Plain, 2525));
        assert_eq!((plain.credentials, plain.hello_name), (None, None));

        let named = parse_smtp_url("smtp://relay.example.com/chorus.example.com").expect("named");
        assert_eq!(named.hello_name.as_deref(), Some("chorus.example.com"));
    }

    #[test]
    fn smtp_url_with_another_scheme_is_rejected_naming_the_scheme() {
        let error = parse_smtp_url("http://mail.example.com").expect_err("http");
        assert!(matches!(error, MailerError::InvalidUrl(_)));
        assert!(error.to_string().contains("\"http\""), "{error}");
    }

    #[test]
    fn smtp_url_errors_never_repeat_the_password() {
        for url in [
            "smtp://user:hunter2@mail.example.com?tls=maybe",
            "smtps://user:hunter2@mail.example.com?tls=none",
            "smtp://user:hunter2@mail.example.com?tsl=none",
            "ftp://user:hunter2@mail.example.com",
            "smtp://:hunter2@mail.example.com",
        ] {
            let error = parse_smtp_url(url).expect_err(url);
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    // A plain test: making and dropping an SMTP mailer needs no runtime.
    #[test]
    fn smtp_mailer_describes_its_relay_without_credentials() {
        let mailer = Mailer::smtp("smtp://chorus:hunter2@mail.example.com").expect("mailer");
        assert_eq!(
            mailer.describe(),
            "SMTP relay mail.example.com:587 (STARTTLS)"
        );
        assert!(!format!("{mailer:?}").contains("hunter2"));
        let mailer = Mailer::smtp("smtps://mail.example.com:2465").expect("mailer");
        assert_eq!(mailer.describe(), "SMTP relay mail.example.com:2465 (TLS)");
    }

    #[actix_web::test]
    async fn files_mailer_creates_its_folder_and_writes_one_eml_per_email() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("outbox");
        let mailer = Mailer::files(&dir).expect("folder");
        mailer.send(&email()).await.expect("written");

        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("folder exists")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let content = std::fs::read_to_string(&files[0]).expect("readable");
        assert!(content.contains("Message-ID: <3f2c9a@example.com>"));
    }

    #[actix_web::test]
    async fn memory_mailer_records_the_raw_message() {
        let (mailer, sent) = Mailer::memory();
        mailer.send(&email()).await.expect("kept");
        let sent = sent.lock().expect("lock").clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "ada@example.org");
        assert_eq!(sent[0].message_id, "3f2c9a@example.com");
        assert!(
            sent[0]
                .raw
                .contains("Subject: Three posts are ready to share\r\n")
        );
        assert!(
            sent[0]
                .raw
                .contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        );
    }

    #[actix_web::test]
    async fn refused_connection_is_a_temporary_failure() {
        // Port 1 on loopback: nothing listens there, so the connect is refused.
        let mailer = Mailer::smtp("smtp://127.0.0.1:1?tls=none").expect("mailer");
        let failure = mailer.send(&email()).await.expect_err("nobody listens");
        assert_eq!(failure.kind, FailureKind::Temporary, "{failure}");
    }
}
