//! Shares and dismissals, and the caps that keep a person's sharing to what
//! they chose. A share is checked and recorded in one transaction that
//! holds the person's lock, so caps hold across processes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rustc_hash::{FxHashMap, FxHashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult, consent, org};
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

/// What a share is checked against.
#[derive(Debug, Clone)]
pub struct ShareFacts {
    /// The person agrees to suggestions for the platform.
    pub consented: bool,
    /// They shared the post on the platform before.
    pub already: bool,
    /// The caps that apply to them there.
    pub caps: ShareCaps,
    /// Their shares there in the last 7 days.
    pub recent: Vec<NaiveDateTime>,
    /// The organisation's cap on shares of one post on one platform per
    /// hour (0: none), and that post's shares there in the last hour, by
    /// anyone (read only when there is a cap).
    pub crowd: (i32, Vec<NaiveDateTime>),
}

impl ShareFacts {
    /// Why the share is not recorded, or None when it may be.
    pub fn refusal(&self, now: NaiveDateTime) -> Option<ShareOutcome> {
        if !self.consented {
            return Some(ShareOutcome::NoConsent);
        }
        if self.already {
            return Some(ShareOutcome::AlreadyShared);
        }
        if let Some(next) = next_allowed(self.caps, &self.recent, now) {
            return Some(ShareOutcome::CapReached(next));
        }
        let (cap, times) = &self.crowd;
        if *cap > 0 && times.len() >= *cap as usize {
            let mut times = times.clone();
            times.sort();
            let leaving = times[times.len() - *cap as usize];
            return Some(ShareOutcome::CrowdCapReached(leaving + HOUR));
        }
        None
    }
}

/// The shares of a post on a platform in the hour before `now`, by anyone,
/// when the organisation caps them (`crowd_cap_per_hour` above 0).
pub fn crowd(
    conn: &mut DbConnection,
    crowd_cap_per_hour: i32,
    post_id: i64,
    platform: Platform,
    now: NaiveDateTime,
) -> StoreResult<(i32, Vec<NaiveDateTime>)> {
    if crowd_cap_per_hour <= 0 {
        return Ok((0, Vec::new()));
    }
    let times = shares::table
        .filter(shares::post_id.eq(post_id))
        .filter(shares::platform.eq(platform.slug()))
        .filter(shares::shared_at.gt(now - HOUR))
        .select(shares::shared_at)
        .load(conn)?;
    Ok((crowd_cap_per_hour, times))
}

/// Checks consent and caps and records a share, in one transaction that
/// holds the person's lock. The caller has checked that the post is
/// offered to the person.
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
        let policies = super::org::share_policies(conn)?;
        let crowd_cap = org::settings(conn)?.crowd_cap_per_hour;
        let facts = ShareFacts {
            consented: true,
            already: already > 0,
            caps: effective_caps(conn, &policies, user_id)?[&platform],
            recent: recent(conn, user_id, now)?
                .remove(&platform)
                .unwrap_or_default(),
            crowd: crowd(conn, crowd_cap, post_id, platform, now)?,
        };
        if let Some(refusal) = facts.refusal(now) {
            return Ok(refusal);
        }
        let share = NewShare {
            user_id,
            post_id,
            platform,
            variant,
            edited,
            now,
        };
        Ok(if insert(conn, &share)? {
            ShareOutcome::Recorded
        } else {
            ShareOutcome::AlreadyShared
        })
    })
}

/// A share to record.
struct NewShare {
    user_id: i64,
    post_id: i64,
    platform: Platform,
    variant: usize,
    edited: bool,
    now: NaiveDateTime,
}

/// Inserts a share; false when the person shared the post there before
/// (the unique key), in which case nothing changes.
fn insert(conn: &mut DbConnection, share: &NewShare) -> StoreResult<bool> {
    let inserted = super::natively!(conn, |c| diesel::insert_into(shares::table)
        .values((
            shares::user_id.eq(share.user_id),
            shares::post_id.eq(share.post_id),
            shares::platform.eq(share.platform.slug()),
            shares::variant.eq(share.variant as i32),
            shares::edited.eq(share.edited),
            shares::shared_at.eq(share.now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// A person's row as a share's checks read it. On PostgreSQL its version
/// (the row's `xmin`, the transaction that last wrote it): everything that
/// changes what a share is checked against for the person (a share, an
/// Undo, a consent choice, their caps or preferences) writes their row in
/// the same transaction ([`lock_person`], `consent::record_choice`,
/// `users::set_preferences`), so an unchanged version proves that what was
/// read still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    version: String,
}

/// What a share reads of the person, in one statement: their row (as
/// [`Seen`], with their time zone and department), their shares of the
/// last 7 days (what caps count) and the platforms they shared the post on
/// at any time. None when there is no such person.
pub struct Sharer {
    pub seen: Seen,
    pub timezone: Option<String>,
    pub department: Option<i64>,
    pub recent: HashMap<Platform, Vec<NaiveDateTime>>,
    pub shared_post_on: Vec<Platform>,
}

pub fn sharer(
    conn: &mut DbConnection,
    user_id: i64,
    post_id: i64,
    now: NaiveDateTime,
) -> StoreResult<Option<Sharer>> {
    use diesel::sql_types::Text;
    let version = diesel::dsl::sql::<Text>(match conn {
        DbConnection::Postgresql(_) => "users.xmin::text",
        DbConnection::Sqlite(_) => "''",
    });
    let query = users::table
        .left_join(
            shares::table.on(shares::user_id.eq(users::id).and(
                shares::shared_at
                    .gt(now - WEEK)
                    .or(shares::post_id.eq(post_id)),
            )),
        )
        .filter(users::id.eq(user_id))
        .select((
            version,
            users::timezone,
            users::department_id,
            shares::post_id.nullable(),
            shares::platform.nullable(),
            shares::shared_at.nullable(),
        ));
    type Row = (
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = super::natively!(conn, |c| query.load(c))?;
    let Some((version, timezone, department, ..)) = rows.first().cloned() else {
        return Ok(None);
    };
    let mut shared_post_on = Vec::new();
    let mut shares = Vec::new();
    for (.., post, slug, at) in rows {
        let (Some(post), Some(platform), Some(at)) =
            (post, slug.as_deref().and_then(Platform::from_slug), at)
        else {
            continue;
        };
        if post == post_id {
            shared_post_on.push(platform);
        }
        shares.push((platform, at));
    }
    Ok(Some(Sharer {
        seen: Seen { version },
        timezone,
        department,
        recent: recent_among(shares, now),
        shared_post_on,
    }))
}

/// Records a share the caller checked against what it read of the person
/// ([`sharer`], as of `seen`): on PostgreSQL in one statement that takes
/// the person's lock only if their row is still as seen, and records the
/// share with it; otherwise (someone changed the person meanwhile: a share
/// or an Undo in another request, a consent choice) as [`record`] does,
/// checking everything again under the lock. A conditional update in one
/// statement is one transaction and one round trip, where the lock, the
/// reads under it and the commit were a dozen. On SQLite as [`record`]:
/// its statements cost no round trip, and its write lock is taken anyway.
#[allow(clippy::too_many_arguments)]
pub fn record_as_seen(
    conn: &mut DbConnection,
    seen: &Seen,
    user_id: i64,
    post_id: i64,
    platform: Platform,
    variant: usize,
    edited: bool,
    now: NaiveDateTime,
) -> StoreResult<ShareOutcome> {
    use diesel::sql_types::{BigInt, Bool, Integer, Text, Timestamp};
    #[derive(QueryableByName)]
    struct Written {
        #[diesel(sql_type = BigInt)]
        unchanged: i64,
        #[diesel(sql_type = BigInt)]
        added: i64,
    }
    let DbConnection::Postgresql(pg) = conn else {
        return record(conn, user_id, post_id, platform, variant, edited, now);
    };
    // A row another transaction changed is checked again as it is after
    // that transaction commits (PostgreSQL's READ COMMITTED): its new
    // xmin differs, so nothing is written.
    let written: Written = diesel::sql_query(
        "WITH person AS ( \
           UPDATE users SET updated_at = updated_at \
           WHERE id = $1 AND xmin::text = $2 RETURNING id \
         ), added AS ( \
           INSERT INTO shares (user_id, post_id, platform, variant, edited, shared_at) \
           SELECT id, $3, $4, $5, $6, $7 FROM person \
           ON CONFLICT DO NOTHING RETURNING id \
         ) \
         SELECT (SELECT count(*) FROM person) AS unchanged, \
                (SELECT count(*) FROM added) AS added",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<Text, _>(&seen.version)
    .bind::<BigInt, _>(post_id)
    .bind::<Text, _>(platform.slug())
    .bind::<Integer, _>(variant as i32)
    .bind::<Bool, _>(edited)
    .bind::<Timestamp, _>(now)
    .get_result(pg)?;
    match written {
        Written { unchanged: 0, .. } => {
            record(conn, user_id, post_id, platform, variant, edited, now)
        }
        Written { added: 0, .. } => Ok(ShareOutcome::AlreadyShared),
        Written { .. } => Ok(ShareOutcome::Recorded),
    }
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
