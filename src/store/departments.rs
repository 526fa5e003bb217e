//! Departments: named groups of people, created when first named.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreResult, is_unique_violation};
use crate::db::schema::departments;
use crate::domain::names::DepartmentName;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: i64,
    pub name: String,
}

pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<Department>> {
    Ok(departments::table
        .select(Department::as_select())
        .order(departments::name_key.asc())
        .load(conn)?)
}

/// The id of the department with this name (any case), creating it if new.
/// A creation is audited: a new department is one way to single someone
/// out in reports, so it should not go unseen.
pub fn find_or_create(
    conn: &mut DbConnection,
    name: &DepartmentName,
    by: Actor,
    now: NaiveDateTime,
) -> StoreResult<i64> {
    let key = name.key();
    if let Some(id) = find_by_key(conn, &key)? {
        return Ok(id);
    }
    // A savepoint, so that losing the race does not abort the caller's transaction.
    let inserted = crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(departments::table)
            .values((
                departments::name.eq(name.as_str()),
                departments::name_key.eq(&key),
                departments::created_at.eq(now),
            ))
            .execute(conn)
    });
    let created = match inserted {
        Ok(_) => true,
        // Another process created it a moment ago: use theirs.
        Err(e) if is_unique_violation(&e) => false,
        Err(e) => return Err(e.into()),
    };
    let id = find_by_key(conn, &key)?.ok_or(diesel::result::Error::NotFound)?;
    if created {
        audit::record(
            conn,
            by,
            "department.created",
            &format!("department:{id}"),
            name.as_str(),
            now,
        )?;
    }
    Ok(id)
}

fn find_by_key(conn: &mut DbConnection, key: &str) -> StoreResult<Option<i64>> {
    Ok(departments::table
        .filter(departments::name_key.eq(key))
        .select(departments::id)
        .first::<i64>(conn)
        .optional()?)
}
