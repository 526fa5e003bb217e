//! Email: lettre transports (SMTP, .eml files, memory) and what each kind
//! of message says.

pub mod compose;
pub mod messages;
mod smtp_sessions;
pub mod transport;

/// The domain of Message-IDs: the sender's, so they are globally unique
/// and recognisably ours (RFC 5322 §3.6.4).
pub fn domain_of(mail_from: &str) -> String {
    let address = match (mail_from.rfind('<'), mail_from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &mail_from[start + 1..end],
        _ => mail_from,
    };
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_ids_use_the_senders_domain() {
        assert_eq!(
            super::domain_of("Chorus <chorus@Example.com>"),
            "example.com"
        );
        assert_eq!(super::domain_of("hub@acme.example"), "acme.example");
        assert_eq!(super::domain_of("nonsense"), "localhost");
    }
}
