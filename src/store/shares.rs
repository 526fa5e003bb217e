//! Shares and dismissals, and the caps that keep a person's sharing to what
//! they chose. A share is checked and recorded in one transaction that
//! holds the person's lock, so caps hold across processes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rustc_hash::{FxHashMap, FxHashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreError, StoreResult, consent, is_unique_violation, org};
use crate::db::schema::{dismissals, shares, user_caps, users, withdrawal_notices_read};
use crate::domain::consent::Purpose;

use crate::domain::platforms::Platform;
use crate::domain::share_caps::{CapPolicy, ShareCaps, WEEK, next_allowed};

/// A person's own caps, where they set any.
pub fn personal(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<HashMap<Platform, ShareCaps>> {
    let query = user_caps::table
        .filter(user_caps::user_id.eq(user_id))
        .select((user_caps::platform, user_caps::per_day, user_caps::per_week));
    let rows: Vec<(String, i32, i32)> = super::natively!(conn, |c| query.load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|(slug, d, w)| {
            Platform::from_slug(&slug).map(|p| {
                (
                    p,
                    ShareCaps {
                        per_day: d.max(0) as u32,
                        per_week: w.max(0) as u32,
                    },
                )
            })
        })
        .collect())
}

pub fn set_personal(
    conn: &mut DbConnection,
    user_id: i64,
    platform: Platform,
    caps: ShareCaps,
) -> StoreResult<()> {
    crate::db::write_transaction(conn, |conn| {
        let key = (user_id, platform.slug());
        let values = (
            user_caps::per_day.eq(caps.per_day as i32),
            user_caps::per_week.eq(caps.per_week as i32),
        );
        let updated = diesel::update(user_caps::table.find(key))
            .set(values)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(user_caps::table)
                .values((
                    user_caps::user_id.eq(user_id),
                    user_caps::platform.eq(platform.slug()),
                    values,
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The caps that apply to a person on each platform, under the
/// organisation's `policies` (see [`policies`]).
pub fn effective_caps(
    conn: &mut DbConnection,
    policies: &HashMap<Platform, CapPolicy>,
    user_id: i64,
) -> StoreResult<HashMap<Platform, ShareCaps>> {
    let personal = personal(conn, user_id)?;
    Ok(policies
        .iter()
        .map(|(p, policy)| (*p, policy.effective(personal.get(p).copied())))
        .collect())
}

/// The person's shares in the last 7 days, per platform.
pub fn recent(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> StoreResult<HashMap<Platform, Vec<NaiveDateTime>>> {
    let rows: Vec<(String, NaiveDateTime)> = shares::table
        .filter(shares::user_id.eq(user_id))
        .filter(shares::shared_at.gt(now - WEEK))
        .select((shares::platform, shares::shared_at))
        .load(conn)?;
    Ok(recent_among(
        rows.into_iter()
            .filter_map(|(slug, at)| Platform::from_slug(&slug).map(|p| (p, at))),
        now,
    ))
}

/// Of a person's shares (platform, time), those of the last 7 days, per
/// platform: what [`recent`] reads, for a caller that has all of them.
pub fn recent_among(
    shares: impl IntoIterator<Item = (Platform, NaiveDateTime)>,
    now: NaiveDateTime,
) -> HashMap<Platform, Vec<NaiveDateTime>> {
    let mut by_platform: HashMap<Platform, Vec<NaiveDateTime>> = HashMap::new();
    for (platform, at) in shares {
        if at > now - WEEK {
            by_platform.entry(platform).or_default().push(at);
        }
    }
    by_platform
}

/// Which offers are "popular right now", kept per process.
///
/// A fresh post can gather hundreds of shares in its first hour; counting
/// them all for every page view was most of the queue's cost. Instead, for
/// each pair, the index on (post_id, platform, shared_at) gives the
/// threshold-th newest share directly, and the pair is crowded while that
/// share is less than an hour old. New shares only make a pair more
/// crowded, so it stays crowded at least until then: the memo keeps that
/// time, and a pair is asked about again only after it. (Erasing a person
/// and Undo remove shares; the hint may then outlast them by up to an hour.)
///
/// The other way round, a pair found calm (not crowded) can only become
/// crowded through a new share: calm pairs are kept while the count of
/// shares ever added (kept by a trigger, so shares made by other processes
/// count too) stays what it was before they were asked about. Most views
/// then cost that one small read instead of a walk through each offer's
/// recent shares.
#[derive(Default)]
pub struct CrowdMemo {
    kept: Mutex<CrowdedUntil>,
}

#[derive(Default)]
struct CrowdedUntil {
    threshold: i64,
    until: FxHashMap<(i64, Platform), NaiveDateTime>,
    calm: FxHashSet<(i64, Platform)>,
    /// The count of shares ever added when `calm` was found.
    calm_as_of: i64,
}

/// Past this many pairs the memo drops those no longer crowded, or forgets
/// the calm ones.
const CROWD_MEMO_PAIRS: usize = 10_000;

impl CrowdMemo {
    /// Of the given (post, platform) pairs, those shared at least
    /// `threshold` times in the hour before `now`, by anyone: at most one
    /// query for a whole queue page, and none for pairs already known to be
    /// crowded, or calm since the last share. `shares_added` is the count of
    /// shares ever added (`queue::counters`), read by the caller
    /// before this looks at any share: a share added after that read
    /// changes the count, so calm pairs are asked again the next time.
    pub fn crowded(
        &self,
        conn: &mut DbConnection,
        pairs: &[(i64, Platform)],
        now: NaiveDateTime,
        threshold: i64,
        shares_added: i64,
    ) -> StoreResult<Vec<(i64, Platform)>> {
        let mut crowded = Vec::new();
        let mut ask = Vec::new();
        {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            for pair in pairs {
                match kept.until.get(pair) {
                    Some(until) if kept.threshold == threshold && *until > now => {
                        crowded.push(*pair)
                    }
                    _ => ask.push(*pair),
                }
            }
        }
        if ask.is_empty() {
            return Ok(crowded);
        }
        {
            let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.threshold == threshold && kept.calm_as_of == shares_added {
                ask.retain(|pair| !kept.calm.contains(pair));
            }
        }
        let found = nth_newest_shares(conn, &ask, now - HOUR, threshold)?;
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.threshold != threshold {
            kept.threshold = threshold;
            kept.until.clear();
            kept.calm.clear();
        }
        if kept.calm_as_of != shares_added || kept.calm.len() + ask.len() > CROWD_MEMO_PAIRS {
            kept.calm.clear();
            kept.calm_as_of = shares_added;
        }
        if kept.until.len() + found.len() > CROWD_MEMO_PAIRS {
            kept.until.retain(|_, until| *until > now);
        }
        for pair in &ask {
            if !found.iter().any(|(p, _)| p == pair) {
                kept.calm.insert(*pair);
            }
        }
        for (pair, nth) in found {
            kept.until.insert(pair, nth + HOUR);
            kept.calm.remove(&pair);
            crowded.push(pair);
        }
        Ok(crowded)
    }
}

const HOUR: chrono::Duration = chrono::Duration::hours(1);

/// For each pair whose `threshold`-th newest share is after `since`: that
/// share's time.
fn nth_newest_shares(
    conn: &mut DbConnection,
    pairs: &[(i64, Platform)],
    since: NaiveDateTime,
    threshold: i64,
) -> StoreResult<Vec<((i64, Platform), NaiveDateTime)>> {
    #[derive(QueryableByName)]
    struct Nth {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        post_id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        platform: String,
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        shared_at: NaiveDateTime,
    }
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    // Only integers and the platforms' own fixed slugs are written into the
    // text; the time is bound.
    let values = pairs
        .iter()
        .map(|(post, platform)| format!("({post}, '{}')", platform.slug()))
        .collect::<Vec<_>>()
        .join(", ");
    let placeholder = match conn {
        DbConnection::Postgresql(_) => "$1",
        DbConnection::Sqlite(_) => "?",
    };
    let query = format!(
        "SELECT t.post_id, t.platform, t.shared_at FROM ( \
           SELECT CAST(c.column1 AS BIGINT) AS post_id, c.column2 AS platform, \
                  (SELECT s.shared_at FROM shares s \
                   WHERE s.post_id = c.column1 AND s.platform = c.column2 \
                   ORDER BY s.shared_at DESC LIMIT 1 OFFSET {offset}) AS shared_at \
           FROM (VALUES {values}) AS c) AS t \
         WHERE t.shared_at > {placeholder}",
        offset = (threshold - 1).max(0),
    );
    let rows: Vec<Nth> = diesel::sql_query(query)
        .bind::<diesel::sql_types::Timestamp, _>(since)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Platform::from_slug(&row.platform).map(|p| ((row.post_id, p), row.shared_at))
        })
        .collect())
}

#[derive(Debug, PartialEq, Eq)]
pub enum ShareOutcome {
    Recorded,
    /// Shared before on this platform: recorded once, nothing counted again.
    AlreadyShared,
    /// The person's cap is reached; when the next share is possible (None:
    /// the person set 0, sharing there is paused).
    CapReached(Option<NaiveDateTime>),
    /// The organisation spreads identical posts out: try again at this time.
    CrowdCapReached(NaiveDateTime),
    /// The person has not (or no longer) agreed to suggestions for the platform.
    NoConsent,
}

/// Serialises one person's shares: a no-op UPDATE of their row takes the
/// row lock on PostgreSQL and the write lock on SQLite (BEGIN IMMEDIATE in
/// effect), so the count and the insert below see every other share.
fn lock_person(conn: &mut DbConnection, user_id: i64) -> StoreResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::updated_at.eq(users::updated_at))
        .execute(conn)?;
    Ok(())
}

/// Checks consent and caps and records a share, in one transaction. The
/// caller has checked that the post is offered to the person.
pub fn record(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    platform: Platform,
    variant: usize,
    edited: bool,
    now: NaiveDateTime,
) -> StoreResult<ShareOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_person(conn, user_id)?;
        if !consent::allows(conn, user_id, Purpose::ShareSuggestions(platform))? {
            return Ok(ShareOutcome::NoConsent);
        }
        let already: i64 = shares::table
            .filter(shares::user_id.eq(user_id))
            .filter(shares::post_id.eq(post_id))
            .filter(shares::platform.eq(platform.slug()))
            .count()
            .get_result(conn)?;
        if already > 0 {
            return Ok(ShareOutcome::AlreadyShared);
        }
        let policies = super::org::share_policies(conn)?;
        let caps = effective_caps(conn, &policies, user_id)?[&platform];
        let recent = recent(conn, user_id, now)?
            .remove(&platform)
            .unwrap_or_default();
        if let Some(next) = next_allowed(caps, &recent, now) {
            return Ok(ShareOutcome::CapReached(next));
        }
        let settings = org::settings(conn)?;
        if settings.crowd_cap_per_hour > 0 {
            let hour = chrono::Duration::hours(1);
            let mut times: Vec<NaiveDateTime> = shares::table
                .filter(shares::post_id.eq(post_id))
                .filter(shares::platform.eq(platform.slug()))
                .filter(shares::shared_at.gt(now - hour))
                .select(shares::shared_at)
                .load(conn)?;
            if times.len() as i64 >= settings.crowd_cap_per_hour as i64 {
                times.sort();
                let leaving = times[times.len() - settings.crowd_cap_per_hour as usize];
                return Ok(ShareOutcome::CrowdCapReached(leaving + hour));
            }
        }
        let inserted = crate::db::write_transaction(conn, |conn| {
            diesel::insert_into(shares::table)
                .values((
                    shares::user_id.eq(user_id),
                    shares::post_id.eq(post_id),
                    shares::platform.eq(platform.slug()),
                    shares::variant.eq(variant as i32),
                    shares::edited.eq(edited),
                    shares::shared_at.eq(now),
                ))
                .execute(conn)
        });
        match inserted {
            Ok(_) => Ok(ShareOutcome::Recorded),
            Err(e) if is_unique_violation(&e) => Ok(ShareOutcome::AlreadyShared),
            Err(e) => Err(StoreError::from(e)),
        }
    })
}

/// What became of an Undo.
#[derive(Debug, PartialEq, Eq)]
pub enum UndoOutcome {
    /// The share is gone: the caps count it no more, reports never will.
    Undone,
    /// The share was made at this time, before the window: it stays.
    TooLate(NaiveDateTime),
    /// The person has no share of this post on this platform.
    NotShared,
}

/// Takes back a person's own share made less than `window` before `now`
/// (the person closed the platform's dialog without posting). Under the
/// person's lock, as [`record`] is: a share and an Undo of the same person
/// in two processes happen one after the other, so the cap a share frees
/// is counted once. Deleting the row moves the reports' change counter
/// (kind 2), so kept report facts are read again without it.
pub fn undo(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    platform: Platform,
    now: NaiveDateTime,
    window: chrono::Duration,
) -> StoreResult<UndoOutcome> {
    crate::db::write_transaction(conn, |conn| {
        lock_person(conn, user_id)?;
        let mine = shares::table
            .filter(shares::user_id.eq(user_id))
            .filter(shares::post_id.eq(post_id))
            .filter(shares::platform.eq(platform.slug()));
        let shared_at: Option<NaiveDateTime> =
            mine.select(shares::shared_at).first(conn).optional()?;
        match shared_at {
            None => Ok(UndoOutcome::NotShared),
            Some(at) if at + window <= now => Ok(UndoOutcome::TooLate(at)),
            Some(_) => {
                diesel::delete(mine).execute(conn)?;
                Ok(UndoOutcome::Undone)
            }
        }
    })
}

/// "Not for me": hides a post from the person's queue. Nothing else is kept.
pub fn dismiss(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    now: NaiveDateTime,
) -> StoreResult<()> {
    super::insert_once(conn, |conn| {
        diesel::insert_into(dismissals::table)
            .values((
                dismissals::user_id.eq(user_id),
                dismissals::post_id.eq(post_id),
                dismissals::dismissed_at.eq(now),
            ))
            .execute(conn)
    })
}

/// Undoes a dismissal.
pub fn restore(conn: &mut DbConnection, user_id: i64, post_id: i64) -> StoreResult<()> {
    diesel::delete(dismissals::table.find((user_id, post_id))).execute(conn)?;
    Ok(())
}

/// Marks the notice about a withdrawn post as read by the person.
pub fn read_withdrawal_notice(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    now: NaiveDateTime,
) -> StoreResult<()> {
    super::insert_once(conn, |conn| {
        diesel::insert_into(withdrawal_notices_read::table)
            .values((
                withdrawal_notices_read::user_id.eq(user_id),
                withdrawal_notices_read::post_id.eq(post_id),
                withdrawal_notices_read::read_at.eq(now),
            ))
            .execute(conn)
    })
}

/// A person's own shares, newest first, for their data export.
pub fn history(
    conn: &mut DbConnection,
    user_id: i64,
) -> StoreResult<Vec<(i64, String, NaiveDateTime, bool)>> {
    Ok(shares::table
        .filter(shares::user_id.eq(user_id))
        .order(shares::shared_at.desc())
        .select((
            shares::post_id,
            shares::platform,
            shares::shared_at,
            shares::edited,
        ))
        .load(conn)?)
}

/// A person's own dismissals, for their data export.
pub fn dismissed(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<(i64, NaiveDateTime)>> {
    Ok(dismissals::table
        .filter(dismissals::user_id.eq(user_id))
        .select((dismissals::post_id, dismissals::dismissed_at))
        .load(conn)?)
}

/// Saves a person's own caps and preferences together.
pub fn save_preferences(
    conn: &mut DbConnection,
    user_id: i64,
    caps: &[(Platform, ShareCaps)],
    preferences: &super::users::Preferences,
    digest: &super::users::DigestSettings,
    now: NaiveDateTime,
) -> StoreResult<()> {
    crate::db::write_transaction(conn, |conn| {
        for (platform, caps) in caps {
            set_personal(conn, user_id, *platform, *caps)?;
        }
        super::users::set_digest_settings(conn, user_id, digest)?;
        super::users::set_preferences(conn, user_id, preferences, now)
    })
}
