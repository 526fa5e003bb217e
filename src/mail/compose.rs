//! What each kind of email says. Messages are rendered when they are sent,
//! so a digest never lists a post withdrawn meanwhile and is not sent at
//! all once the person has withdrawn their consent.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use super::messages::{
    AdminPasswordLink, ApprovalRequest, Digest, DigestItem, Frame, PasswordLink, Withdrawal,
};
use crate::db::DbConnection;
use crate::domain::consent::Purpose;
use crate::domain::post::PostStatus;
use crate::store::outbox::{Kind, OutboxRow};
use crate::store::posts::Post;
use crate::store::previews::Preview;
use crate::store::users::User;
use crate::store::{self, StoreResult};

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
    frame: Frame,
    users: HashMap<i64, User>,
    digest_consent: HashSet<i64>,
    posts: HashMap<i64, Post>,
    previews: HashMap<i64, Preview>,
}

impl BatchReads {
    pub fn read(conn: &mut DbConnection, rows: &[OutboxRow]) -> StoreResult<BatchReads> {
        let settings = store::org::settings(conn)?;
        let user_ids: Vec<i64> = rows.iter().filter_map(|r| r.user_id).collect();
        let mut post_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| Some(post_ids(Kind::parse(&r.kind)?, &payload(r))))
            .flatten()
            .collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        let org_name = if settings.org_name.is_empty() {
            "Chorus".to_string()
        } else {
            settings.org_name.clone()
        };
        Ok(BatchReads {
            frame: Frame::new(org_name, settings.brand_colour()),
            users: store::users::find_many(conn, &user_ids)?
                .into_iter()
                .map(|u| (u.id, u))
                .collect(),
            digest_consent: store::consent::allowing(conn, &user_ids, Purpose::EmailDigest)?,
            posts: store::posts::find_many(conn, &post_ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect(),
            previews: store::previews::of_posts(conn, &post_ids)?,
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
    let (frame, name) = (&reads.frame, user.name.as_str());
    let data = payload(row);
    match kind {
        Kind::Invitation | Kind::PasswordReset => {
            let invitation = kind == Kind::Invitation;
            let subject = if invitation {
                format!("{} invites you to Chorus", frame.org_name)
            } else {
                "Reset your Chorus password".to_string()
            };
            let message = PasswordLink {
                frame,
                name,
                link: data["link"].as_str().unwrap_or_default(),
                invitation,
            };
            Ok(Composition::Send(composed(subject, message.parts()?)))
        }
        Kind::AdminPasswordLink => {
            let message = AdminPasswordLink {
                frame,
                name,
                link: data["link"].as_str().unwrap_or_default(),
                asked_at: &row.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                days: store::tokens::PASSWORD_LINK_DAYS,
                shown_to_admin: data["shown_to_admin"].as_bool().unwrap_or(true),
                visibility_url: &format!("{base_url}/me/visibility"),
            };
            let subject = "An administrator asked for a password link for your account";
            Ok(Composition::Send(composed(
                subject.to_string(),
                message.parts()?,
            )))
        }
        Kind::Digest => {
            // Checked again at send time: consent may have been withdrawn,
            // posts withdrawn or expired since the digest was planned.
            if !reads.digest_consent.contains(&user.id) {
                return Ok(Composition::Cancel(
                    "the person withdrew their consent to digests",
                ));
            }
            let items = digest_items(reads, &post_ids(kind, &data), base_url, now);
            if items.is_empty() {
                return Ok(Composition::Cancel(
                    "every post in it was withdrawn or expired",
                ));
            }
            let token = crate::credentials::random_token();
            let unsubscribe_url = format!("{base_url}/unsubscribe/{token}");
            let subject = if items.len() == 1 {
                "1 new post you may want to share".to_string()
            } else {
                format!("{} new posts you may want to share", items.len())
            };
            let message = Digest {
                frame,
                name,
                items: &items,
                queue_url: &format!("{base_url}/queue"),
                unsubscribe_url: &unsubscribe_url,
                preferences_url: &format!("{base_url}/me/preferences"),
            };
            let parts = message.parts()?;
            Ok(Composition::Send(Composed {
                list_unsubscribe: Some(unsubscribe_url),
                unsubscribe_token: Some((token, user.id)),
                ..composed(subject, parts)
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
            let message = ApprovalRequest {
                frame,
                name,
                title: &post.title,
                link: &post.link,
                review_url: &format!("{base_url}/hub/approvals"),
            };
            let subject = format!("A post waits for your approval: {}", post.title);
            Ok(Composition::Send(composed(subject, message.parts()?)))
        }
        Kind::WithdrawalNotice => {
            let post = post_ids(kind, &data)
                .first()
                .and_then(|id| reads.posts.get(id));
            let Some(post) = post else {
                return Ok(Composition::Cancel("the post no longer exists"));
            };
            let message = Withdrawal {
                frame,
                name,
                link: &post.link,
                reason: post.withdrawal_reason.as_deref().unwrap_or_default(),
            };
            let subject = "A post you shared was withdrawn".to_string();
            Ok(Composition::Send(composed(subject, message.parts()?)))
        }
    }
}

/// An email with no unsubscribe link of its own.
fn composed(subject: String, (text, html): (String, String)) -> Composed {
    Composed {
        subject,
        text,
        html,
        list_unsubscribe: None,
        unsubscribe_token: None,
    }
}

/// The cards of a digest: its posts still published and not expired, each
/// with its link preview, in the order the digest was planned.
fn digest_items(
    reads: &BatchReads,
    ids: &[i64],
    base_url: &str,
    now: NaiveDateTime,
) -> Vec<DigestItem> {
    ids.iter()
        .filter_map(|id| reads.posts.get(id))
        .filter(|p| p.status == PostStatus::Published && p.expires_at.is_none_or(|e| e > now))
        .map(|p| {
            let host = crate::domain::post::link_host(&p.link);
            // A preview describes the post's current link only.
            let preview = reads.previews.get(&p.id).filter(|v| v.link == p.link);
            let title = preview
                .map(|v| v.title.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| host.clone());
            DigestItem {
                title,
                description: preview.map(|v| v.description.clone()).unwrap_or_default(),
                image_url: preview
                    .and_then(|v| v.image.as_ref())
                    .map(|image| format!("{base_url}{}", image.path())),
                queue_url: format!("{base_url}/queue#post-{}", p.id),
                host,
                text: p.base_text.clone(),
                link: p.link.clone(),
            }
        })
        .collect()
}
