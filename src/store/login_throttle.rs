//! Throttle counters, in the database so that every process shares them.
//! Keyed by [`Bucket::key`]; an account bucket is keyed by the email typed,
//! whether or not such a user exists, so the throttle reveals nothing about
//! which accounts exist.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult, is_unique_violation};
use crate::db::schema::login_throttle;
use crate::domain::login_throttle::Bucket;

/// Until when the bucket is refused, if it is.
pub fn locked_until(
    conn: &mut DbConnection,
    bucket: &Bucket,
    now: NaiveDateTime,
) -> StoreResult<Option<NaiveDateTime>> {
    let until = login_throttle::table
        .find(bucket.key())
        .select(login_throttle::locked_until)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten();
    Ok(until.filter(|until| *until > now))
}

/// The latest end of a wait among these buckets, if any is waiting.
pub fn first_locked(
    conn: &mut DbConnection,
    buckets: &[Bucket],
    now: NaiveDateTime,
) -> StoreResult<Option<NaiveDateTime>> {
    let mut latest = None;
    for bucket in buckets {
        if let Some(until) = locked_until(conn, bucket, now)? {
            latest = latest.max(Some(until));
        }
    }
    Ok(latest)
}

/// Counts a failure (starting again when the last one is old enough to be
/// forgotten), imposes the bucket's wait, and returns the count.
pub fn record_failure(
    conn: &mut DbConnection,
    bucket: &Bucket,
    now: NaiveDateTime,
) -> StoreResult<i32> {
    let key = bucket.key();
    let rule = bucket.rule();
    let forgotten = now - rule.forget_after();
    crate::db::write_transaction(conn, |conn| {
        diesel::update(
            login_throttle::table
                .find(&key)
                .filter(login_throttle::last_failure_at.lt(forgotten)),
        )
        .set((
            login_throttle::failures.eq(0),
            login_throttle::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
        let increment = |conn: &mut DbConnection| {
            diesel::update(login_throttle::table.find(&key))
                .set((
                    login_throttle::failures.eq(login_throttle::failures + 1),
                    login_throttle::last_failure_at.eq(now),
                ))
                .execute(conn)
        };
        if increment(conn)? == 0 {
            let inserted = crate::db::write_transaction(conn, |conn| {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::email.eq(&key),
                        login_throttle::failures.eq(1),
                        login_throttle::last_failure_at.eq(now),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    increment(conn)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let failures = login_throttle::table
            .find(&key)
            .select(login_throttle::failures)
            .first::<i32>(conn)?;
        if let Some(wait) = rule.wait_after(failures) {
            diesel::update(login_throttle::table.find(&key))
                .set(login_throttle::locked_until.eq(Some(now + wait)))
                .execute(conn)?;
        }
        Ok(failures)
    })
}

/// A successful login (or a new password) clears the bucket.
pub fn clear(conn: &mut DbConnection, bucket: &Bucket) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(bucket.key())).execute(conn)?;
    Ok(())
}
