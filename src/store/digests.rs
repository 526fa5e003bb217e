//! Planning digests: for a person whose digest is due, one outbox row per
//! period (the unique dedupe key makes a second planner a no-op), listing
//! posts published since their last digest that they may share.

use chrono::NaiveDateTime;

use super::live_posts::LivePosts;
use super::outbox::{self, Kind, NewMessage};
use super::{DbConnection, StoreResult, consent, org, users};
use crate::domain::consent::Purpose;
use crate::domain::digest::{DigestPlan, FIRST_DIGEST_LOOKBACK, Frequency, due_period};
use crate::domain::platforms::Platform;

#[derive(Debug, PartialEq, Eq)]
pub enum PlanOutcome {
    NotDue,
    NoConsent,
    NothingNew,
    /// A digest for this period exists already (another planner made it).
    AlreadyPlanned,
    Planned(Vec<i64>),
}

/// The person's plan, with their time zone (or the organisation's).
pub fn plan_of(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<(DigestPlan, users::DigestSettings)> {
    let settings = users::digest_settings(conn, user_id)?;
    let preferences = users::preferences(conn, user_id)?;
    let org_tz = org::settings(conn)?.timezone();
    let plan = DigestPlan {
        frequency: Frequency::parse(&settings.frequency).unwrap_or(Frequency::Off),
        weekday: settings.weekday.clamp(1, 7) as u32,
        hour: settings.hour.clamp(0, 23) as u32,
        tz: preferences
            .timezone
            .and_then(|t| t.parse().ok())
            .unwrap_or(org_tz),
        quiet: match (preferences.quiet_from, preferences.quiet_until) {
            (Some(from), Some(until)) => Some((from.max(0) as u32, until.max(0) as u32)),
            _ => None,
        },
    };
    Ok((plan, settings))
}

/// Plans one person's digest for the current period, in one transaction.
pub fn plan_for(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
    mail_domain: &str,
    live: &LivePosts,
) -> StoreResult<PlanOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let (plan, settings) = plan_of(conn, user_id)?;
        let Some((period, period_end)) = due_period(&plan, now) else {
            return Ok(PlanOutcome::NotDue);
        };
        if !consent::allows(conn, user_id, Purpose::EmailDigest)? {
            return Ok(PlanOutcome::NoConsent);
        }
        let Some(user) = users::find(conn, user_id)? else {
            return Ok(PlanOutcome::NoConsent);
        };
        let enabled = org::settings(conn)?.enabled_platforms();
        let platforms: Vec<Platform> = consent::consented_platforms(conn, user_id)?
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| enabled.contains(p))
            .collect();
        let since = settings
            .last_digest_at
            .unwrap_or(now - FIRST_DIGEST_LOOKBACK);
        let (items, _) = live.queue_of(conn, user_id, &platforms, now, 0, 200)?;
        let posts: Vec<i64> = items
            .into_iter()
            .filter(|i| i.post.published_at.is_some_and(|t| t > since))
            .take(settings.max_posts.max(1) as usize)
            .map(|i| i.post.id)
            .collect();
        if posts.is_empty() {
            return Ok(PlanOutcome::NothingNew);
        }
        let message = NewMessage {
            kind: Kind::Digest,
            user_id: Some(user_id),
            recipient: user.email,
            dedupe_key: format!("digest:{user_id}:{period}"),
            payload: serde_json::json!({ "posts": posts, "period": period }).to_string(),
            send_before: Some(period_end),
            message_id: format!("{}@{mail_domain}", uuid::Uuid::new_v4()),
        };
        if !outbox::enqueue(conn, &message, now)? {
            return Ok(PlanOutcome::AlreadyPlanned);
        }
        users::set_last_digest_at(conn, user_id, now)?;
        Ok(PlanOutcome::Planned(posts))
    })
}

/// Plans every due digest; the number planned.
pub fn plan_all(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    mail_domain: &str,
) -> StoreResult<usize> {
    let mut planned = 0;
    // Published posts are read once for the whole round.
    let live = LivePosts::default();
    for user_id in users::with_digests(conn)? {
        if let PlanOutcome::Planned(_) = plan_for(conn, user_id, now, mail_domain, &live)? {
            planned += 1;
        }
    }
    Ok(planned)
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
