//! Admin → Announcements: chat channels that hear of newly published posts.
//! Connecting seals the webhook address (it is never shown again, only its
//! host and last four characters); a test message is posted at once and
//! its outcome shown; delivery health is counted per channel. Nothing here
//! is about a person: announcements are about posts.

use super::{App, Error, Result};
use crate::domain::chat::{Announcement, ChannelKind, ChannelRequest, url_hint};
use crate::domain::ids::UserId;
use crate::store::departments::Department;
use crate::store::{self, StoreError, chat_channels, outbox};

/// One channel as the page shows it.
pub struct ChannelView {
    pub id: i64,
    pub kind: &'static str,
    pub name: String,
    /// Host and last four characters of the webhook address.
    pub hint: String,
    /// "Every post", or the departments' names.
    pub audience: String,
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    /// The newest error, and whether it is waiting for a retry.
    pub last_error: Option<(String, bool)>,
}

pub struct Overview {
    pub channels: Vec<ChannelView>,
    pub departments: Vec<Department>,
}

pub async fn overview(app: &App) -> Result<Overview> {
    let (channels, departments, counts, errors) = app
        .db
        .run(|conn| {
            Ok::<_, StoreError>((
                chat_channels::list(conn)?,
                store::departments::list(conn)?,
                outbox::announcement_counts(conn)?,
                outbox::announcement_errors(conn)?,
            ))
        })
        .await?;
    let count = |recipient: &str, statuses: &[&str]| -> i64 {
        counts
            .iter()
            .filter(|(r, s, _)| r == recipient && statuses.contains(&s.as_str()))
            .map(|(_, _, n)| n)
            .sum()
    };
    let channels = channels
        .into_iter()
        .map(|c| {
            let recipient = outbox::chat_recipient(c.id);
            let audience = if c.target_all {
                "Every post".to_string()
            } else {
                departments
                    .iter()
                    .filter(|d| c.department_ids.contains(&d.id))
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            ChannelView {
                id: c.id,
                kind: ChannelKind::parse(&c.kind).map_or("Unknown", ChannelKind::label),
                name: c.name,
                hint: c.url_hint,
                audience,
                queued: count(&recipient, &[outbox::PENDING, outbox::SENDING]),
                sent: count(&recipient, &[outbox::SENT]),
                failed: count(&recipient, &[outbox::FAILED]),
                last_error: errors
                    .iter()
                    .find(|(r, ..)| *r == recipient)
                    .map(|(_, status, error, _)| (error.clone(), status == outbox::PENDING)),
            }
        })
        .collect();
    Ok(Overview {
        channels,
        departments,
    })
}

/// Connects a channel; its address is sealed before it is stored.
pub async fn connect(app: &App, request: ChannelRequest, by: UserId) -> Result<i64> {
    let sealed = app.chat_secrets.seal(request.url.as_str());
    let hint = url_hint(&request.url);
    let now = app.clock.now_naive();
    let connected = app
        .db
        .run(move |conn| {
            chat_channels::connect(
                conn,
                &chat_channels::NewChannel {
                    kind: request.kind.as_str(),
                    name: &request.name,
                    url_sealed: &sealed,
                    url_hint: &hint,
                    target_all: request.target_all,
                    department_ids: &request.department_ids,
                },
                by.get(),
                now,
            )
        })
        .await?;
    connected
        .ok_or_else(|| Error::Invalid("A department chosen no longer exists. Choose again.".into()))
}

/// Disconnects a channel: its address is deleted, its waiting messages
/// cancelled.
pub async fn disconnect(app: &App, id: i64, by: UserId) -> Result<()> {
    let now = app.clock.now_naive();
    let done = app
        .db
        .run(move |conn| chat_channels::disconnect(conn, id, by.get(), now))
        .await?;
    if done { Ok(()) } else { Err(Error::NotFound) }
}

/// What came of a test message, in words for the admin.
pub struct TestOutcome {
    pub delivered: bool,
    pub message: String,
}

/// Posts a test message to a channel now (not through the outbox: the
/// admin waits for the answer) and audits the outcome.
pub async fn send_test(app: &App, id: i64, by: UserId) -> Result<TestOutcome> {
    let channel = app
        .db
        .run(move |conn| chat_channels::find(conn, id))
        .await?
        .ok_or(Error::NotFound)?;
    let kind = ChannelKind::parse(&channel.kind).ok_or(Error::NotFound)?;
    let outcome = match app
        .chat_secrets
        .open(&channel.url_sealed)
        .and_then(|u| url::Url::parse(&u).ok())
    {
        None => TestOutcome {
            delivered: false,
            message: "The webhook address cannot be read with this server's secret key (was \
                      CHORUS_SECRET_KEY changed?). Disconnect the channel and connect it again."
                .into(),
        },
        Some(url) => {
            let body = Announcement::test(&format!("{}/queue", app.base_url)).payload(kind);
            match app.webhooks.post_json(&url, &body).await {
                Ok(status) => TestOutcome {
                    delivered: true,
                    message: format!(
                        "The test message was delivered to “{}” ({} answered {status}).",
                        channel.name,
                        url.host_str().unwrap_or_default()
                    ),
                },
                Err(e) => TestOutcome {
                    delivered: false,
                    message: format!("The test message was not delivered: {e}."),
                },
            }
        }
    };
    let now = app.clock.now_naive();
    let audited = if outcome.delivered {
        "delivered".to_string()
    } else {
        outcome.message.clone()
    };
    app.db
        .run(move |conn| chat_channels::record_test(conn, id, &audited, by.get(), now))
        .await?;
    Ok(outcome)
}
