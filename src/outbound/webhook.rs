//! Outbound webhook POSTs (chat announcements), under the same address
//! rules as every fetch (see the module above): names resolved by the
//! checked resolver, IPs in the URL checked before connecting, no proxy,
//! no redirects followed, a connect timeout and a total deadline.
//!
//! A webhook address is a secret (whoever has it may post to the
//! channel), so nothing here puts it in an error: errors name only the
//! host, and reqwest's own errors, which carry the URL, are never shown.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header;
use url::Url;

use super::{FetchSettings, PrivateAllowance, UrlRefusal};

/// Bytes of a receiver's answer read at most (for the error message).
const ANSWER_MAX: usize = 4096;
/// Characters of a receiver's answer kept in an error message.
const DETAIL_MAX: usize = 120;

/// Why a POST did not go through, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook address is not a full http:// or https:// address")]
    BadUrl,
    #[error(
        "{host} is at an address in a private or local network ({address}), which Chorus does not post to"
    )]
    Refused { host: String, address: String },
    #[error("{host} did not answer in time (the limit is {seconds} seconds)")]
    Timeout { host: String, seconds: u64 },
    #[error("{host} could not be reached ({reason})")]
    Unreachable { host: String, reason: String },
    #[error("{host} answered with HTTP status {status}{detail}")]
    Status {
        host: String,
        status: u16,
        /// The receiver's words, short, after ": " (or empty).
        detail: String,
        /// How long the receiver asked to wait (429 and 503).
        retry_after: Option<Duration>,
    },
}

impl WebhookError {
    /// Worth trying again later: no answer, a full receiver (429), or a
    /// server error. Every other answer will not change by itself.
    pub fn is_temporary(&self) -> bool {
        match self {
            WebhookError::Timeout { .. } | WebhookError::Unreachable { .. } => true,
            WebhookError::Status { status, .. } => {
                *status == 429 || *status == 408 || (500..=599).contains(status)
            }
            WebhookError::BadUrl | WebhookError::Refused { .. } => false,
        }
    }

    /// The wait the receiver asked for (Retry-After on 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WebhookError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The outbound POST client: one per process, shared.
pub struct WebhookSender {
    client: reqwest::Client,
    allowance: Arc<PrivateAllowance>,
    timeout: Duration,
}

impl WebhookSender {
    pub fn new(settings: FetchSettings) -> Result<WebhookSender, String> {
        let (client, allowance) = settings.guarded_client("webhook")?;
        Ok(WebhookSender {
            client,
            allowance,
            timeout: settings.timeout,
        })
    }

    /// POSTs `body` as JSON to `url`; Ok with the status when the receiver
    /// took it (2xx).
    pub async fn post_json(
        &self,
        url: &Url,
        body: &serde_json::Value,
    ) -> Result<u16, WebhookError> {
        let host = url.host_str().unwrap_or_default().to_string();
        self.allowance.screen(url)?;
        let attempt = async {
            let response = self
                .client
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| self.failure(&host, &e))?;
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(status);
            }
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let detail = answer_detail(response, url).await;
            Err(WebhookError::Status {
                host: host.clone(),
                status,
                detail,
                retry_after,
            })
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(WebhookError::Timeout {
                host,
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    fn failure(&self, host: &str, error: &reqwest::Error) -> WebhookError {
        let host = host.to_string();
        if error.is_timeout() {
            return WebhookError::Timeout {
                host,
                seconds: self.timeout.as_secs(),
            };
        }
        match super::connection_failure(error) {
            Ok(refused) => WebhookError::Refused {
                host: refused.host.clone(),
                address: refused.address.to_string(),
            },
            Err(reason) => WebhookError::Unreachable {
                host,
                reason: reason.into(),
            },
        }
    }
}

/// Retry-After (RFC 9110 §10.2.3): seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The start of the receiver's answer, on one line, without the webhook
/// address or its path (a receiver may echo them): ": …" or "".
async fn answer_detail(mut response: reqwest::Response, url: &Url) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ANSWER_MAX {
            break;
        }
    }
    let mut text: String = String::from_utf8_lossy(&body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in [url.as_str(), url.path()] {
        if secret.len() > 1 {
            text = text.replace(secret, "…");
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return String::new();
    }
    let mut short: String = text.chars().take(DETAIL_MAX).collect();
    if text.chars().count() > DETAIL_MAX {
        short.push('…');
    }
    format!(": {short}")
}

impl From<UrlRefusal> for WebhookError {
    fn from(refusal: UrlRefusal) -> WebhookError {
        match refusal {
            UrlRefusal::NotHttp => WebhookError::BadUrl,
            UrlRefusal::Refused { host, address } => WebhookError::Refused { host, address },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn only_no_answer_a_full_receiver_and_server_errors_are_temporary() {
        let status = |status| WebhookError::Status {
            host: "h".into(),
            status,
            detail: String::new(),
            retry_after: None,
        };
        assert!(status(429).is_temporary());
        assert!(status(503).is_temporary());
        assert!(!status(404).is_temporary());
        assert!(!status(400).is_temporary());
        assert!(
            WebhookError::Timeout {
                host: "h".into(),
                seconds: 1
            }
            .is_temporary()
        );
    }
}
