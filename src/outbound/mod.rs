//! Outbound HTTP: Chorus fetching from other servers (link previews and
//! feeds) without becoming a way into its own network.
//!
//! Every fetch:
//! - goes only to http and https URLs, and follows at most
//!   [`MAX_REDIRECTS`] redirects by hand, checking each new address as
//!   the first;
//! - connects only to addresses allowed by [`address`]: names are
//!   resolved by Chorus's own resolver, which drops every address not
//!   allowed, so the connection goes to an address that was checked (a
//!   second DNS answer cannot swap in another: DNS rebinding), and IPs
//!   written in a URL are checked before any connection;
//! - ignores HTTP(S)_PROXY (a proxy would resolve names itself);
//! - stops at a connect timeout and a total deadline (redirects
//!   included), and at a size limit counted while the body streams in
//!   (the declared length is only an early refusal).

pub mod address;
pub mod webhook;

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header;
use url::Url;

pub use address::{PrivateAllowance, UrlRefusal};

/// Redirects followed at most, each re-checked.
pub const MAX_REDIRECTS: usize = 5;

/// How the fetcher is set up (from the configuration).
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub allowance: PrivateAllowance,
    /// For the whole fetch, redirects and body included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl FetchSettings {
    /// An HTTP client whose every connection goes through the address
    /// check, with no proxy and no automatic redirects (callers check each
    /// hop), and the allowance it checks against. `purpose` ends the
    /// User-Agent: "Chorus/1.2.3 (webhook)".
    fn guarded_client(
        &self,
        purpose: &str,
    ) -> Result<(reqwest::Client, Arc<PrivateAllowance>), String> {
        let allowance = Arc::new(self.allowance.clone());
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                allowance: allowance.clone(),
            }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(format!("Chorus/{} ({purpose})", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok((client, allowance))
    }
}

/// What a fetch is for: what it asks for, what it accepts and how much.
#[derive(Debug, Clone, Copy)]
pub struct Want {
    /// "page" or "image", for the messages.
    pub what: &'static str,
    /// What is wanted, for the messages: "an HTML page", "an image".
    pub expected: &'static str,
    pub accept: &'static str,
    /// Media types accepted (prefixes such as `image/`).
    pub types: &'static [&'static str],
    /// Bytes of body at most.
    pub max_bytes: usize,
}

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The address the body came from, after redirects.
    pub url: Url,
    /// The media type, without parameters, in lower case.
    pub content_type: String,
    /// The `charset` parameter of the Content-Type, if any.
    pub charset: Option<String>,
    pub body: Vec<u8>,
    /// The validators of the answer, for a later conditional GET.
    pub validators: Validators,
}

/// An answer's `ETag` and `Last-Modified`, sent back as `If-None-Match`
/// and `If-Modified-Since` (RFC 9110 §13.1) to ask "only if changed".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a conditional GET gave.
#[derive(Debug, Clone)]
pub enum Conditional {
    /// A new body.
    Changed(Box<Fetched>),
    /// 304 Not Modified: what was read last time still holds.
    NotModified,
}

/// Why a fetch failed, in words for the person who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the link is not a full http:// or https:// address")]
    BadUrl,
    #[error(
        "{host} is at an address in a private or local network ({address}), which Chorus does not fetch from"
    )]
    Refused { host: String, address: String },
    #[error("{host} did not answer in time (the limit is {seconds} seconds)")]
    Timeout { host: String, seconds: u64 },
    #[error("the {what} is larger than {limit}, the most Chorus reads")]
    TooLarge { what: &'static str, limit: String },
    #[error("{host} answered with HTTP status {status}")]
    Status { host: String, status: u16 },
    #[error("the address gives {found}, not {wanted}")]
    WrongType { wanted: &'static str, found: String },
    #[error("the link redirects more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("{host} could not be reached ({reason})")]
    Unreachable { host: String, reason: String },
}

/// The resolver's refusal, found again in the client's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to refused addresses")]
pub(crate) struct RefusedAddress {
    pub(crate) host: String,
    pub(crate) address: IpAddr,
}

/// Resolves names for the client, keeping only allowed addresses: the
/// connection can only go to an address checked here.
pub(crate) struct CheckedResolver {
    pub(crate) allowance: Arc<PrivateAllowance>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowance = self.allowance.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                found.into_iter().partition(|a| allowance.permits(a.ip()));
            match (allowed.is_empty(), refused.first()) {
                (true, Some(first)) => Err(Box::new(RefusedAddress {
                    host,
                    address: first.ip(),
                }) as Box<dyn StdError + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The outbound HTTP client: one per process, shared.
pub struct Fetcher {
    client: reqwest::Client,
    allowance: Arc<PrivateAllowance>,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> Result<Fetcher, String> {
        let (client, allowance) = settings.guarded_client("link preview, feed reader")?;
        Ok(Fetcher {
            client,
            allowance,
            timeout: settings.timeout,
        })
    }

    /// The deadline of one fetch, redirects and body included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GETs `link`, following redirects, within the deadline and limits.
    pub async fn get(&self, link: &str, want: Want) -> Result<Fetched, FetchError> {
        match self
            .get_if_changed(link, want, &Validators::default())
            .await?
        {
            Conditional::Changed(fetched) => Ok(*fetched),
            // Only an answer to validators sent may be 304.
            Conditional::NotModified => Err(FetchError::Status {
                host: Url::parse(link.trim())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_default(),
                status: 304,
            }),
        }
    }

    /// GETs `link` as [`Fetcher::get`] does, sending the validators of an
    /// earlier answer: a 304 says nothing changed.
    pub async fn get_if_changed(
        &self,
        link: &str,
        want: Want,
        validators: &Validators,
    ) -> Result<Conditional, FetchError> {
        let url = Url::parse(link.trim()).map_err(|_| FetchError::BadUrl)?;
        let host = url.host_str().unwrap_or_default().to_string();
        match tokio::time::timeout(self.timeout, self.follow(url, want, validators)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                host,
                seconds: self.timeout.as_secs(),
            }),
        }
    }

    async fn follow(
        &self,
        mut url: Url,
        want: Want,
        validators: &Validators,
    ) -> Result<Conditional, FetchError> {
        for _ in 0..=MAX_REDIRECTS {
            self.allowance.screen(&url)?;
            let mut request = self
                .client
                .get(url.clone())
                .header(header::ACCEPT, want.accept);
            if let Some(etag) = &validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, last_modified);
            }
            let response = request.send().await.map_err(|e| self.failure(&url, &e))?;
            let status = response.status();
            let asked = validators.etag.is_some() || validators.last_modified.is_some();
            if status == reqwest::StatusCode::NOT_MODIFIED && asked {
                return Ok(Conditional::NotModified);
            }
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|location| url.join(location).ok());
                match next {
                    Some(next) => {
                        url = next;
                        continue;
                    }
                    None => return Err(status_error(&url, status.as_u16())),
                }
            }
            if !status.is_success() {
                return Err(status_error(&url, status.as_u16()));
            }
            return self
                .read(url, response, want)
                .await
                .map(|fetched| Conditional::Changed(Box::new(fetched)));
        }
        Err(FetchError::TooManyRedirects)
    }

    async fn read(
        &self,
        url: Url,
        mut response: reqwest::Response,
        want: Want,
    ) -> Result<Fetched, FetchError> {
        let declared = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut parameters = declared.split(';');
        let content_type = parameters.next().unwrap_or("").trim().to_ascii_lowercase();
        let charset = parameters.find_map(|p| {
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"').to_string())
        });
        if !want.types.iter().any(|t| content_type.starts_with(t)) {
            return Err(FetchError::WrongType {
                wanted: want.expected,
                found: if content_type.is_empty() {
                    "no content type".into()
                } else {
                    content_type
                },
            });
        }
        let too_large = || FetchError::TooLarge {
            what: want.what,
            limit: size_words(want.max_bytes),
        };
        if response
            .content_length()
            .is_some_and(|length| length > want.max_bytes as u64)
        {
            return Err(too_large());
        }
        let header_text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header_text(header::ETAG),
            last_modified: header_text(header::LAST_MODIFIED),
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.failure(&url, &e))? {
            if body.len() + chunk.len() > want.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            url,
            content_type,
            charset,
            body,
            validators,
        })
    }

    fn failure(&self, url: &Url, error: &reqwest::Error) -> FetchError {
        let host = url.host_str().unwrap_or_default().to_string();
        if error.is_timeout() {
            return FetchError::Timeout {
                host,
                seconds: self.timeout.as_secs(),
            };
        }
        match connection_failure(error) {
            Ok(refused) => FetchError::Refused {
                host: refused.host.clone(),
                address: refused.address.to_string(),
            },
            Err(reason) => FetchError::Unreachable {
                host,
                reason: reason.into(),
            },
        }
    }
}

/// Why a request that neither answered nor timed out failed, read from
/// reqwest's error chain: an address the rules refused, or the words for
/// a connection that failed (shared by fetches and webhook POSTs).
pub(crate) fn connection_failure(error: &reqwest::Error) -> Result<&RefusedAddress, &'static str> {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedAddress>() {
            return Ok(refused);
        }
        source = cause.source();
    }
    Err(if error.is_connect() {
        "no connection"
    } else {
        "the connection broke off"
    })
}

fn status_error(url: &Url, status: u16) -> FetchError {
    FetchError::Status {
        host: url.host_str().unwrap_or_default().to_string(),
        status,
    }
}

/// 1048576 → "1 MB".
pub fn size_words(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

impl From<UrlRefusal> for FetchError {
    fn from(refusal: UrlRefusal) -> FetchError {
        match refusal {
            UrlRefusal::NotHttp => FetchError::BadUrl,
            UrlRefusal::Refused { host, address } => FetchError::Refused { host, address },
        }
    }
}
