//! Chat announcements: the kinds of channel, what an admin types to connect
//! one, and the message each kind expects. A message says what is new and
//! where the queue is; it never names or counts people.

use serde_json::{Value, json};
use url::Url;

/// The purpose webhook addresses are sealed for (`credentials::SecretBox`).
pub const SEAL_PURPOSE: &str = "chat webhook address";

/// Where a channel's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Slack,
    /// Microsoft Teams: an incoming webhook (MessageCard) or a Workflows
    /// webhook ("When a Teams webhook request is received").
    Teams,
    Mattermost,
    /// Any other receiver: a small JSON document.
    Generic,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [
        ChannelKind::Slack,
        ChannelKind::Teams,
        ChannelKind::Mattermost,
        ChannelKind::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Mattermost => "mattermost",
            ChannelKind::Generic => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Slack => "Slack",
            ChannelKind::Teams => "Microsoft Teams",
            ChannelKind::Mattermost => "Mattermost",
            ChannelKind::Generic => "JSON webhook",
        }
    }
}

/// What is announced: one post just published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub title: String,
    /// The post's link (the company's own page).
    pub link: String,
    /// Where people find it: the queue.
    pub queue_url: String,
}

impl Announcement {
    /// The message of the "Send a test message" button.
    pub fn test(queue_url: &str) -> Announcement {
        Announcement {
            title: "A test message from Chorus".into(),
            link: String::new(),
            queue_url: queue_url.into(),
        }
    }

    fn is_test(&self) -> bool {
        self.link.is_empty()
    }

    /// One line of plain text.
    pub fn text(&self) -> String {
        if self.is_test() {
            return format!(
                "Chorus is connected: new posts will be announced here. The sharing queue: {}",
                self.queue_url
            );
        }
        format!(
            "New to share: {} ({}). Find it in your queue: {}",
            self.title, self.link, self.queue_url
        )
    }

    /// The request body `kind` expects.
    pub fn payload(&self, kind: ChannelKind) -> Value {
        let heading = if self.is_test() {
            self.title.clone()
        } else {
            format!("New to share: {}", self.title)
        };
        match kind {
            ChannelKind::Slack => json!({
                "text": self.text(),
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(&heading)}},
                    {"type": "actions", "elements": [{
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the queue"},
                        "url": self.queue_url,
                    }]},
                ],
            }),
            ChannelKind::Mattermost => json!({ "text": self.text() }),
            // A MessageCard for incoming webhooks, with the Adaptive Card
            // Workflows read in `attachments`: either kind of Teams
            // webhook shows it.
            ChannelKind::Teams => json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": heading,
                "title": heading,
                "text": self.text(),
                "potentialAction": [{
                    "@type": "OpenUri",
                    "name": "Open the queue",
                    "targets": [{"os": "default", "uri": self.queue_url}],
                }],
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": self.text(), "wrap": true},
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open the queue", "url": self.queue_url}],
                    },
                }],
            }),
            ChannelKind::Generic => {
                if self.is_test() {
                    json!({"event": "test", "title": self.title, "queue_url": self.queue_url})
                } else {
                    json!({
                        "event": "post.published",
                        "title": self.title,
                        "url": self.link,
                        "queue_url": self.queue_url,
                    })
                }
            }
        }
    }
}

/// Slack's mrkdwn gives `&`, `<` and `>` meanings (links, mentions): a
/// title must not mention @channel or link somewhere.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Why a channel's form was refused, field by field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChannelProblems {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub audience: Option<String>,
}

impl ChannelProblems {
    pub fn is_empty(&self) -> bool {
        *self == ChannelProblems::default()
    }
}

/// A channel an admin asked to connect, checked.
#[derive(Debug, Clone)]
pub struct ChannelRequest {
    pub kind: ChannelKind,
    pub name: String,
    pub url: Url,
    /// Every post, or only posts for these departments.
    pub target_all: bool,
    pub department_ids: Vec<i64>,
}

const NAME_MAX: usize = 80;
const URL_MAX: usize = 2000;

impl ChannelRequest {
    pub fn parse(
        kind: &str,
        name: &str,
        url: &str,
        audience: &str,
        department_ids: &[i64],
    ) -> Result<ChannelRequest, ChannelProblems> {
        let mut problems = ChannelProblems::default();
        let kind = ChannelKind::parse(kind);
        if kind.is_none() {
            problems.kind =
                Some("Choose Slack, Microsoft Teams, Mattermost or a JSON webhook.".into());
        }
        let name = name.trim();
        if name.is_empty() {
            problems.name = Some("Give the channel a name, e.g. “#announcements”.".into());
        } else if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            problems.name = Some(format!(
                "The name must be at most {NAME_MAX} characters, on one line."
            ));
        }
        let parsed = parse_webhook_url(url);
        if let Err(message) = &parsed {
            problems.url = Some(message.clone());
        }
        let target_all = audience != "departments";
        if !target_all && department_ids.is_empty() {
            problems.audience =
                Some("Choose at least one department, or announce every post.".into());
        }
        match (kind, parsed) {
            (Some(kind), Ok(url)) if problems.is_empty() => Ok(ChannelRequest {
                kind,
                name: name.to_string(),
                url,
                target_all,
                department_ids: if target_all {
                    Vec::new()
                } else {
                    department_ids.to_vec()
                },
            }),
            _ => Err(problems),
        }
    }
}

/// A webhook address: http or https, a host, no user name or password.
pub fn parse_webhook_url(url: &str) -> Result<Url, String> {
    let url = url.trim();
    let refusal = || {
        "Paste the whole webhook address, starting with https:// (the chat tool shows it when you add an incoming webhook).".to_string()
    };
    if url.is_empty() || url.len() > URL_MAX {
        return Err(refusal());
    }
    let parsed = Url::parse(url).map_err(|_| refusal())?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(refusal());
    }
    Ok(parsed)
}

/// What the page shows of a webhook address instead of the address: its
/// host and the last four characters, enough to tell two apart.
pub fn url_hint(url: &Url) -> String {
    let whole = url.as_str().trim_end_matches('/');
    let tail: String = whole
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{} …{}", url.host_str().unwrap_or_default(), tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement() -> Announcement {
        Announcement {
            title: "Our <b>new</b> office & more".into(),
            link: "https://example.com/news".into(),
            queue_url: "https://chorus.example.com/queue".into(),
        }
    }

    #[test]
    fn each_kind_gets_the_body_it_expects() {
        let a = announcement();
        let slack = a.payload(ChannelKind::Slack);
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("https://chorus.example.com/queue")
        );
        assert!(
            slack["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("&lt;b&gt;")
        );
        assert_eq!(a.payload(ChannelKind::Mattermost)["text"], a.text());
        let teams = a.payload(ChannelKind::Teams);
        assert_eq!(teams["@type"], "MessageCard");
        assert_eq!(
            teams["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let generic = a.payload(ChannelKind::Generic);
        assert_eq!(generic["event"], "post.published");
        assert_eq!(generic["url"], "https://example.com/news");
        assert_eq!(generic["queue_url"], "https://chorus.example.com/queue");
    }

    #[test]
    fn webhook_addresses_must_be_whole_http_addresses() {
        assert!(parse_webhook_url("https://hooks.slack.com/services/T/B/x").is_ok());
        for bad in [
            "",
            "hooks.slack.com/x",
            "ftp://a/b",
            "https://user:pw@a/b",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(parse_webhook_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hint_shows_host_and_last_four_characters_only() {
        let url = parse_webhook_url("https://hooks.slack.com/services/T0/B0/secretWXYZ").unwrap();
        assert_eq!(url_hint(&url), "hooks.slack.com …WXYZ");
    }

    #[test]
    fn a_channel_for_departments_needs_one() {
        let refused =
            ChannelRequest::parse("slack", "#news", "https://a.example/x", "departments", &[])
                .unwrap_err();
        assert!(refused.audience.is_some());
        let ok = ChannelRequest::parse(
            "teams",
            " #news ",
            "https://a.example/x",
            "departments",
            &[3],
        )
        .unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.target_all, ok.department_ids),
            ("#news", false, vec![3])
        );
    }
}
