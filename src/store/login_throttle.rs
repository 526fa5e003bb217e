//! Failed logins per account name, in the database so that every process
//! shares them. Keyed by the email typed, whether or not such a user exists,
//! so the throttle itself reveals nothing about which accounts exist.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StoreResult, is_unique_violation};
use crate::db::schema::login_throttle;

/// Until when the account name is refused, if it is.
pub fn locked_until(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<NaiveDateTime>> {
    let until = login_throttle::table
        .find(email)
        .select(login_throttle::locked_until)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()?
        .flatten();
    Ok(until.filter(|until| *until > now))
}

/// Counts a failure and returns the number of consecutive failures.
pub fn record_failure(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> StoreResult<i32> {
    crate::db::write_transaction(conn, |conn| {
        let updated = diesel::update(login_throttle::table.find(email))
            .set((
                login_throttle::failures.eq(login_throttle::failures + 1),
                login_throttle::last_failure_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            let inserted = crate::db::write_transaction(conn, |conn| {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::email.eq(email),
                        login_throttle::failures.eq(1),
                        login_throttle::last_failure_at.eq(now),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    diesel::update(login_throttle::table.find(email))
                        .set((
                            login_throttle::failures.eq(login_throttle::failures + 1),
                            login_throttle::last_failure_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(login_throttle::table
            .find(email)
            .select(login_throttle::failures)
            .first::<i32>(conn)?)
    })
}

pub fn lock(conn: &mut DbConnection, email: &str, until: NaiveDateTime) -> StoreResult<()> {
    diesel::update(login_throttle::table.find(email))
        .set(login_throttle::locked_until.eq(Some(until)))
        .execute(conn)?;
    Ok(())
}

/// A successful login (or a new password) clears the count.
pub fn clear(conn: &mut DbConnection, email: &str) -> StoreResult<()> {
    diesel::delete(login_throttle::table.find(email)).execute(conn)?;
    Ok(())
}
