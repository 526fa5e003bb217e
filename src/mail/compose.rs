//! What each kind of email says. Messages are rendered when they are sent,
//! so a digest never lists a post withdrawn meanwhile and is not sent at
//! all once the person has withdrawn their consent.

use std::collections::{HashMap, HashSet};

use askama::Template;
use chrono::NaiveDateTime;

use crate::db::DbConnection;
use crate::domain::consent::Purpose;
use crate::domain::post::PostStatus;
use crate::store::outbox::{Kind, OutboxRow};
use crate::store::posts::Post;
use crate::store::users::User;
use crate::store::{self, StoreError, StoreResult};

pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub list_unsubscribe: Option<String>,
    /// The unsubscribe token the email's links carry, and whose it is: to
    /// be stored with the rest of the batch before the email goes out.
    pub unsubscribe_token: Option<(String, i64)>,
}

pub enum Composition {
    Send(Composed),
    /// Nothing to send any more, and why (kept on the row).
    Cancel(&'static str),
}

#[derive(Template)]
#[template(path = "email/password_link.txt")]
struct PasswordLinkText<'a> {
    name: &'a str,
    org_name: &'a str,
    link: &'a str,
    invitation: bool,
}

#[derive(Template)]
#[template(path = "email/password_link.html")]
struct PasswordLinkHtml<'a> {
    name: &'a str,
    org_name: &'a str,
    link: &'a str,
    invitation: bool,
}

#[derive(Template)]
#[template(path = "email/admin_password_link.txt")]
struct AdminPasswordLinkText<'a> {
    name: &'a str,
    org_name: &'a str,
    link: &'a str,
    asked_at: &'a str,
    days: i64,
    shown_to_admin: bool,
    visibility_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/admin_password_link.html")]
struct AdminPasswordLinkHtml<'a> {
    name: &'a str,
    org_name: &'a str,
    link: &'a str,
    asked_at: &'a str,
    days: i64,
    shown_to_admin: bool,
    visibility_url: &'a str,
}

pub struct DigestItem {
    pub host: String,
    pub text: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "email/digest.txt")]
struct DigestText<'a> {
    name: &'a str,
    org_name: &'a str,
    items: &'a [DigestItem],
    queue_url: &'a str,
    unsubscribe_url: &'a str,
    preferences_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/digest.html")]
struct DigestHtml<'a> {
    name: &'a str,
    org_name: &'a str,
    items: &'a [DigestItem],
    queue_url: &'a str,
    unsubscribe_url: &'a str,
    preferences_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/withdrawal_notice.txt")]
struct WithdrawalText<'a> {
    name: &'a str,
    link: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/withdrawal_notice.html")]
struct WithdrawalHtml<'a> {
    name: &'a str,
    link: &'a str,
    reason: &'a str,
}

#[derive(Template)]
#[template(path = "email/approval_request.txt")]
struct ApprovalText<'a> {
    name: &'a str,
    title: &'a str,
    link: &'a str,
    review_url: &'a str,
}

#[derive(Template)]
#[template(path = "email/approval_request.html")]
struct ApprovalHtml<'a> {
    name: &'a str,
    title: &'a str,
    link: &'a str,
    review_url: &'a str,
}

fn render(t: &impl Template) -> Result<String, StoreError> {
    t.render()
        .map_err(|e| StoreError::Query(diesel::result::Error::SerializationError(Box::new(e))))
}

fn payload(row: &OutboxRow) -> serde_json::Value {
    serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null)
}

/// The posts an email names: a digest's list, a withdrawal notice's post.
fn post_ids(kind: Kind, data: &serde_json::Value) -> Vec<i64> {
    match kind {
        Kind::Digest => data["posts"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
            .unwrap_or_default(),
        Kind::WithdrawalNotice | Kind::ApprovalRequest => {
            vec![data["post"].as_i64().unwrap_or_default()]
        }
        Kind::Invitation | Kind::PasswordReset | Kind::AdminPasswordLink => Vec::new(),
    }
}

/// What composing a batch of claimed rows reads, read for the whole batch
/// at once: the organisation's name, the recipients, their consent to
/// digests and the posts named. A handful of statements for the batch
/// instead of seven or so for every email; on PostgreSQL each one is a
/// round trip.
pub struct BatchReads {
    org_name: String,
    users: HashMap<i64, User>,
    digest_consent: HashSet<i64>,
    posts: HashMap<i64, Post>,
}

impl BatchReads {
    pub fn read(conn: &mut DbConnection, rows: &[OutboxRow]) -> StoreResult<BatchReads> {
        let org_name = store::org::settings(conn)?.org_name;
        let user_ids: Vec<i64> = rows.iter().filter_map(|r| r.user_id).collect();
        let mut post_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| Some(post_ids(Kind::parse(&r.kind)?, &payload(r))))
            .flatten()
            .collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        Ok(BatchReads {
            org_name: if org_name.is_empty() {
                "Chorus".to_string()
            } else {
                org_name
            },
            users: store::users::find_many(conn, &user_ids)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect(),
            digest_consent: store::consent::allowing(conn, &user_ids, Purpose::EmailDigest)?,
            posts: store::posts::find_many(conn, &post_ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect(),
        })
    }
}

/// Renders a claimed row, or says why it should not be sent. `reads` were
/// read for a batch this row is in, in the same transaction.
pub fn compose(
    reads: &BatchReads,
    row: &OutboxRow,
    base_url: &str,
    now: NaiveDateTime,
) -> StoreResult<Composition> {
    if row.send_before.is_some_and(|end| end <= now) {
        return Ok(Composition::Cancel(
            "its period is over; the next digest will cover it",
        ));
    }
    let Some(kind) = Kind::parse(&row.kind) else {
        return Ok(Composition::Cancel("unknown kind"));
    };
    let user = row.user_id.and_then(|id| reads.users.get(&id));
    let Some(user) = user.filter(|u| u.active) else {
        return Ok(Composition::Cancel("the account is no longer active"));
    };
    let org_name = &reads.org_name;
    let data = payload(row);
    match kind {
        Kind::Invitation | Kind::PasswordReset => {
            let link = data["link"].as_str().unwrap_or_default();
            let invitation = kind == Kind::Invitation;
            let subject = if invitation {
                format!("{org_name} invites you to Chorus")
            } else {
                "Reset your Chorus password".to_string()
            };
            Ok(Composition::Send(Composed {
                subject,
                text: render(&PasswordLinkText {
                    name: &user.name,
                    org_name,
                    link,
                    invitation,
                })?,
                html: render(&PasswordLinkHtml {
                    name: &user.name,
                    org_name,
                    link,
                    invitation,
                })?,
                list_unsubscribe: None,
                unsubscribe_token: None,
            }))
        }
        Kind::AdminPasswordLink => {
            let link = data["link"].as_str().unwrap_or_default();
            let shown_to_admin = data["shown_to_admin"].as_bool().unwrap_or(true);
            let asked_at = row.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
            let days = store::tokens::PASSWORD_LINK_DAYS;
            let visibility_url = format!("{base_url}/me/visibility");
            Ok(Composition::Send(Composed {
                subject: "An administrator asked for a password link for your account".to_string(),
                text: render(&AdminPasswordLinkText {
                    name: &user.name,
                    org_name,
                    link,
                    asked_at: &asked_at,
                    days,
                    shown_to_admin,
                    visibility_url: &visibility_url,
                })?,
                html: render(&AdminPasswordLinkHtml {
                    name: &user.name,
                    org_name,
                    link,
                    asked_at: &asked_at,
                    days,
                    shown_to_admin,
                    visibility_url: &visibility_url,
                })?,
                list_unsubscribe: None,
                unsubscribe_token: None,
            }))
        }
        Kind::Digest => {
            // Checked again at send time: consent may have been withdrawn,
            // posts withdrawn or expired since the digest was planned.
            if !reads.digest_consent.contains(&user.id) {
                return Ok(Composition::Cancel(
                    "the person withdrew their consent to digests",
                ));
            }
            let items: Vec<DigestItem> = post_ids(kind, &data)
                .iter()
                .filter_map(|id| reads.posts.get(id))
                .filter(|p| {
                    p.status == PostStatus::Published && p.expires_at.is_none_or(|e| e > now)
                })
                .map(|p| DigestItem {
                    host: crate::domain::post::link_host(&p.link),
                    text: p.base_text.clone(),
                    link: p.link.clone(),
                })
                .collect();
            if items.is_empty() {
                return Ok(Composition::Cancel(
                    "every post in it was withdrawn or expired",
                ));
            }
            let token = crate::credentials::random_token();
            let unsubscribe_url = format!("{base_url}/unsubscribe/{token}");
            let queue_url = format!("{base_url}/queue");
            let preferences_url = format!("{base_url}/me/preferences");
            let subject = if items.len() == 1 {
                "1 new post you may want to share".to_string()
            } else {
                format!("{} new posts you may want to share", items.len())
            };
            let (name, org_name) = (user.name.as_str(), org_name.as_str());
            Ok(Composition::Send(Composed {
                subject,
                text: render(&DigestText {
                    name,
                    org_name,
                    items: &items,
                    queue_url: &queue_url,
                    unsubscribe_url: &unsubscribe_url,
                    preferences_url: &preferences_url,
                })?,
                html: render(&DigestHtml {
                    name,
                    org_name,
                    items: &items,
                    queue_url: &queue_url,
                    unsubscribe_url: &unsubscribe_url,
                    preferences_url: &preferences_url,
                })?,
                list_unsubscribe: Some(unsubscribe_url),
                unsubscribe_token: Some((token, user.id)),
            }))
        }
        Kind::ApprovalRequest => {
            let post = post_ids(kind, &data)
                .first()
                .and_then(|id| reads.posts.get(id));
            // Decided or changed since: a newer request (if any) says so.
            let revision = data["revision"].as_i64().unwrap_or_default();
            let Some(post) = post
                .filter(|p| p.status == PostStatus::Submitted && i64::from(p.revision) == revision)
            else {
                return Ok(Composition::Cancel(
                    "the post is no longer waiting for this approval",
                ));
            };
            let review_url = format!("{base_url}/hub/approvals");
            let (title, link) = (post.title.as_str(), post.link.as_str());
            Ok(Composition::Send(Composed {
                subject: format!("A post waits for your approval: {title}"),
                text: render(&ApprovalText {
                    name: &user.name,
                    title,
                    link,
                    review_url: &review_url,
                })?,
                html: render(&ApprovalHtml {
                    name: &user.name,
                    title,
                    link,
                    review_url: &review_url,
                })?,
                list_unsubscribe: None,
                unsubscribe_token: None,
            }))
        }
        Kind::WithdrawalNotice => {
            let post = post_ids(kind, &data)
                .first()
                .and_then(|id| reads.posts.get(id));
            let Some(post) = post else {
                return Ok(Composition::Cancel("the post no longer exists"));
            };
            let reason = post.withdrawal_reason.clone().unwrap_or_default();
            Ok(Composition::Send(Composed {
                subject: "A post you shared was withdrawn".to_string(),
                text: render(&WithdrawalText {
                    name: &user.name,
                    link: &post.link,
                    reason: &reason,
                })?,
                html: render(&WithdrawalHtml {
                    name: &user.name,
                    link: &post.link,
                    reason: &reason,
                })?,
                list_unsubscribe: None,
                unsubscribe_token: None,
            }))
        }
    }
}
