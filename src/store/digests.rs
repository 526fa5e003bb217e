//! Planning digests: for a person whose digest is due, one outbox row per
//! period (the unique dedupe key makes a second planner a no-op), listing
//! posts published since their last digest that they may share. People
//! are planned in batches, a transaction and a few statements each.

use chrono::NaiveDateTime;

use super::live_posts::{self, Hub, LivePosts, Marks};
use super::outbox::{self, Kind, NewMessage};
use super::{DbConnection, StoreResult, consent, users};
use crate::domain::consent::Purpose;
use crate::domain::digest::{DigestPlan, FIRST_DIGEST_LOOKBACK, Frequency, due_period};
use crate::domain::platforms::Platform;

/// How many people are planned in one transaction. Each batch costs a
/// handful of statements whatever its size, where a person each cost a
/// dozen and a commit; the batch's people stay locked until it commits,
/// so it is kept short (an unsubscribe or a share of one of them waits
/// for it).
const PLAN_BATCH: usize = 256;

/// Plans every due digest, reading the published posts once for the
/// round (`chorus digests plan`); the number planned.
pub fn plan_all(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<usize> {
    plan_all_from(conn, &LivePosts::default(), now, mail_domain)
}

/// Plans every due digest from the published posts `live` keeps: in
/// `chorus serve`, the queue's own, so a planning round holds no second
/// copy of them beside it. The number planned.
pub fn plan_all_from(
    conn: &mut DbConnection,
    live: &LivePosts,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<usize> {
    let mut planned = 0;
    for batch in users::with_digests(conn)?.chunks(PLAN_BATCH) {
        planned += plan_batch(conn, batch, now, mail_domain, live)?;
    }
    Ok(planned)
}

/// The person's plan, with their time zone (or the organisation's).
fn plan_of(recipient: &users::DigestRecipient, org_tz: chrono_tz::Tz) -> DigestPlan {
    let (settings, preferences) = (&recipient.settings, &recipient.preferences);
    DigestPlan {
        frequency: Frequency::parse(&settings.frequency).unwrap_or(Frequency::Off),
        weekday: settings.weekday.clamp(1, 7) as u32,
        hour: settings.hour.clamp(0, 23) as u32,
        tz: preferences
            .timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(org_tz),
        quiet: match (preferences.quiet_from, preferences.quiet_until) {
            (Some(from), Some(until)) => Some((from.max(0) as u32, until.max(0) as u32)),
            _ => None,
        },
    }
}

/// Plans the due digests of some people in one transaction; how many.
///
/// Their rows are locked first (`users::lock_digest_recipients`), so what
/// follows sees every consent change committed before and none can land
/// until the digests are in: consent is checked at plan time, and an
/// unsubscribe either comes first (no digest) or after (it cancels the
/// digest). A person's digest for a period is added once, whoever plans it
/// (the outbox's unique dedupe key), and only then is their last digest
/// time moved.
fn plan_batch(
    conn: &mut DbConnection,
    user_ids: &[i64],
    now: NaiveDateTime,
    mail_domain: &str,
    live: &LivePosts,
) -> StoreResult<usize> {
    // Read before the people are locked: a reload of the posts would keep
    // them locked longer.
    let hub = live.current(conn)?;
    let org_tz = hub.settings.timezone();
    let enabled = hub.settings.enabled_platforms();
    crate::db::write_transaction(conn, |conn| {
        let due: Vec<(users::DigestRecipient, String, NaiveDateTime)> =
            users::lock_digest_recipients(conn, user_ids)?
                .into_iter()
                .filter_map(|recipient| {
                    let (period, end) = due_period(&plan_of(&recipient, org_tz), now)?;
                    Some((recipient, period, end))
                })
                .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let due_ids: Vec<i64> = due.iter().map(|(r, ..)| r.id).collect();
        let given = consent::given_by(conn, &due_ids)?;
        let agreed: Vec<i64> = due_ids
            .iter()
            .copied()
            .filter(|id| {
                given
                    .get(id)
                    .is_some_and(|g| g.contains(&Purpose::EmailDigest))
            })
            .collect();
        let marks = live_posts::marks_of_many(conn, &agreed)?;
        let unmarked = Marks::default();
        let mut messages = Vec::new();
        for (recipient, period, period_end) in due {
            let Some(purposes) = given.get(&recipient.id) else {
                continue;
            };
            if !purposes.contains(&Purpose::EmailDigest) {
                continue;
            }
            let mut platforms: Vec<Platform> = purposes
                .iter()
                .filter_map(|purpose| match purpose {
                    Purpose::ShareSuggestions(p) if enabled.contains(p) => Some(*p),
                    _ => None,
                })
                .collect();
            platforms.sort();
            let posts = new_posts(
                &hub,
                &recipient,
                &platforms,
                marks.get(&recipient.id).unwrap_or(&unmarked),
                now,
            );
            if posts.is_empty() {
                continue;
            }
            messages.push(NewMessage {
                kind: Kind::Digest,
                user_id: Some(recipient.id),
                dedupe_key: format!("digest:{}:{period}", recipient.id),
                recipient: recipient.email,
                payload: serde_json::json!({ "posts": posts, "period": period }).to_string(),
                send_before: Some(period_end),
                message_id: format!("{}@{mail_domain}", uuid::Uuid::new_v4()),
            });
        }
        let added: std::collections::HashSet<String> = outbox::enqueue_many(conn, &messages, now)?
            .into_iter()
            .collect();
        let planned: Vec<i64> = messages
            .iter()
            .filter(|m| added.contains(&m.dedupe_key))
            .filter_map(|m| m.user_id)
            .collect();
        users::set_last_digest_at(conn, &planned, now)?;
        Ok(planned.len())
    })
}

/// The posts a person's digest lists: those of their queue (for their
/// department and the platforms they agreed to, not dismissed, not shared
/// everywhere) published since their last digest, at most as many as they
/// chose, newest first.
fn new_posts(
    hub: &Hub,
    recipient: &users::DigestRecipient,
    platforms: &[Platform],
    marks: &Marks,
    now: NaiveDateTime,
) -> Vec<i64> {
    if platforms.is_empty() {
        return Vec::new();
    }
    let since = recipient
        .settings
        .last_digest_at
        .unwrap_or(now - FIRST_DIGEST_LOOKBACK);
    let (items, _) = live_posts::page(
        &hub.published,
        recipient.department_id,
        platforms,
        marks,
        now,
        0,
        200,
    );
    items
        .into_iter()
        .filter(|i| i.post.published_at.is_some_and(|t| t > since))
        .take(recipient.settings.max_posts.max(1) as usize)
        .map(|i| i.post.id)
        .collect()
}

/// One-click unsubscribe (RFC 8058): withdraws the email-digest consent and
/// cancels the person's pending digests, in one transaction. Idempotent.
/// None when the token is unknown.
pub fn unsubscribe(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<i64>> {
    crate::db::write_transaction(conn, |conn| {
        let Some(user_id) = outbox::unsubscribe_token_owner(conn, token)? else {
            return Ok(None);
        };
        consent::record_choice(
            conn,
            user_id,
            Purpose::EmailDigest,
            crate::domain::consent::Choice::No,
            None,
            ONE_CLICK_METHOD,
            now,
        )?;
        outbox::cancel_pending_digests(conn, user_id)?;
        Ok(Some(user_id))
    })
}

/// The collection method recorded for one-click unsubscribes.
pub const ONE_CLICK_METHOD: &str = "one-click unsubscribe link in a digest email (RFC 8058)";
