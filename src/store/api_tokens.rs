//! JSON API access tokens (personal and service). Only the SHA-256 of a
//! token is stored; the token itself is returned once, at creation. Not to
//! be confused with `tokens`, the one-time links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor};
use super::{DbConnection, StoreResult, users};
use crate::credentials;
use crate::db::schema::api_tokens;
use crate::domain::api_access::{Scope, ServiceRole, TokenKind};

/// `last_used_at` is written at most this often, not on every request.
const TOUCH_EVERY_SECONDS: i64 = 60;
/// Characters of the token kept in the clear, to recognise it in a list.
const SHOWN_PREFIX_CHARS: usize = 4;

pub struct NewToken<'a> {
    pub kind: TokenKind,
    /// The person (personal) or the creating admin (service).
    pub owner_id: i64,
    pub name: &'a str,
    pub scope: Scope,
    pub expires_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: i64,
    pub prefix: String,
    pub kind: TokenKind,
    pub owner_id: i64,
    pub owner_name: String,
    pub name: String,
    pub scope: Scope,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

fn kind_of(kind: &str, service_role: Option<&str>) -> TokenKind {
    match (kind, service_role.map(ServiceRole::parse)) {
        ("service", Some(Ok(role))) => TokenKind::Service(role),
        // A service token without a known role gets the narrowest one.
        ("service", _) => TokenKind::Service(ServiceRole::Reports),
        _ => TokenKind::Personal,
    }
}

fn from_row(row: Row) -> ApiToken {
    let (
        id,
        prefix,
        kind,
        service_role,
        owner_id,
        owner_name,
        name,
        scope,
        created_at,
        last_used_at,
        expires_at,
        revoked_at,
    ) = row;
    ApiToken {
        id,
        prefix,
        kind: kind_of(&kind, service_role.as_deref()),
        owner_id,
        owner_name,
        name,
        // An unknown scope stored by hand grants the least.
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        created_at,
        last_used_at,
        expires_at,
        revoked_at,
    }
}

macro_rules! token_query {
    () => {{
        use crate::db::schema::users as u;
        api_tokens::table.inner_join(u::table).select((
            api_tokens::id,
            api_tokens::prefix,
            api_tokens::kind,
            api_tokens::service_role,
            api_tokens::user_id,
            u::name,
            api_tokens::name,
            api_tokens::scope,
            api_tokens::created_at,
            api_tokens::last_used_at,
            api_tokens::expires_at,
            api_tokens::revoked_at,
        ))
    }};
}

fn describe(token: &NewToken<'_>) -> String {
    let role = match token.kind {
        TokenKind::Service(role) => format!(", role {}", role.as_str()),
        TokenKind::Personal => String::new(),
    };
    format!(
        "{} token {:?}, scope {}{role}",
        token.kind.as_str(),
        token.name,
        token.scope.as_str()
    )
}

/// Creates a token and records it in the audit log, in one transaction.
/// Returns its id and the token, which is never available again.
pub fn create(
    conn: &mut DbConnection,
    token: &NewToken<'_>,
    now: NaiveDateTime,
) -> StoreResult<(i64, String)> {
    let secret = format!(
        "{}{}",
        token.kind.token_prefix(),
        credentials::random_token()
    );
    let hash = credentials::token_hash(&secret);
    let prefix: String = secret
        .chars()
        .take(token.kind.token_prefix().len() + SHOWN_PREFIX_CHARS)
        .collect();
    let service_role = match token.kind {
        TokenKind::Service(role) => Some(role.as_str()),
        TokenKind::Personal => None,
    };
    crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::token_hash.eq(&hash),
                api_tokens::prefix.eq(&prefix),
                api_tokens::kind.eq(token.kind.as_str()),
                api_tokens::service_role.eq(service_role),
                api_tokens::user_id.eq(token.owner_id),
                api_tokens::name.eq(token.name),
                api_tokens::scope.eq(token.scope.as_str()),
                api_tokens::created_at.eq(now),
                api_tokens::expires_at.eq(token.expires_at),
            ))
            .execute(conn)?;
        // MultiConnection has no RETURNING; the hash is unique.
        let id: i64 = api_tokens::table
            .filter(api_tokens::token_hash.eq(&hash))
            .select(api_tokens::id)
            .first(conn)?;
        audit::record(
            conn,
            Actor::Person(token.owner_id),
            "api_token.created",
            &format!("api_token:{id}"),
            &describe(token),
            now,
        )?;
        Ok((id, secret))
    })
}

/// A person's own personal tokens, newest first (revoked ones included).
pub fn personal_of(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<ApiToken>> {
    Ok(token_query!()
        .filter(api_tokens::user_id.eq(user_id))
        .filter(api_tokens::kind.eq("personal"))
        .order(api_tokens::id.desc())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Every service token, newest first.
pub fn services(conn: &mut DbConnection) -> StoreResult<Vec<ApiToken>> {
    Ok(token_query!()
        .filter(api_tokens::kind.eq("service"))
        .order(api_tokens::id.desc())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// Which tokens a revocation may touch.
#[derive(Debug, Clone, Copy)]
pub enum Revocable {
    /// One of this person's personal tokens.
    PersonalOf(i64),
    /// Any service token (admins).
    Service,
}

/// Revokes a token at once; false when it is not one the caller may revoke
/// or it was already revoked.
pub fn revoke(
    conn: &mut DbConnection,
    id: i64,
    which: Revocable,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        let target = api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null());
        let updated = match which {
            Revocable::PersonalOf(user_id) => diesel::update(
                target
                    .filter(api_tokens::kind.eq("personal"))
                    .filter(api_tokens::user_id.eq(user_id)),
            )
            .set(api_tokens::revoked_at.eq(Some(now)))
            .execute(conn)?,
            Revocable::Service => diesel::update(target.filter(api_tokens::kind.eq("service")))
                .set(api_tokens::revoked_at.eq(Some(now)))
                .execute(conn)?,
        };
        if updated == 1 {
            audit::record(
                conn,
                Actor::Person(by),
                "api_token.revoked",
                &format!("api_token:{id}"),
                "",
                now,
            )?;
        }
        Ok(updated == 1)
    })
}

/// A caller of the API, as its token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: i64,
    pub kind: TokenKind,
    pub scope: Scope,
    /// The person (personal) or the creating admin (service).
    pub owner: users::User,
}

/// The caller a token names, if it is unrevoked, unexpired and its owner is
/// active (deactivating a person stops their tokens at once).
pub fn authenticate(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<Caller>> {
    let hash = credentials::token_hash(token);
    let Some(found) = token_query!()
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .first::<Row>(conn)
        .optional()?
        .map(from_row)
    else {
        return Ok(None);
    };
    if found.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let Some(owner) = users::find(conn, found.owner_id)?.filter(|u| u.active) else {
        return Ok(None);
    };
    if found
        .last_used_at
        .is_none_or(|at| (now - at).num_seconds() >= TOUCH_EVERY_SECONDS)
    {
        diesel::update(api_tokens::table.find(found.id))
            .set(api_tokens::last_used_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(Some(Caller {
        token_id: found.id,
        kind: found.kind,
        scope: found.scope,
        owner,
    }))
}

/// The stored hash of a token, for tests that check nothing else is kept.
pub fn stored_hashes(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    Ok(api_tokens::table
        .select(api_tokens::token_hash)
        .load(conn)?)
}
