//! Suggestions: links employees send to the hub, and what comms did with them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::posts::{self, PostInput};
use super::{DbConnection, StoreResult};
use crate::db::schema::{suggestions, users};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionStatus {
    New,
    Accepted,
    Declined,
}

impl SuggestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::New => "new",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Declined => "declined",
        }
    }

    fn parse(s: &str) -> SuggestionStatus {
        match s {
            "accepted" => SuggestionStatus::Accepted,
            "declined" => SuggestionStatus::Declined,
            _ => SuggestionStatus::New,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Suggestion {
    pub id: i64,
    pub user_id: i64,
    /// The suggester's name: a suggestion is a message to comms.
    pub suggested_by: String,
    pub link: String,
    pub note: String,
    pub status: SuggestionStatus,
    pub response_note: Option<String>,
    pub post_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    NaiveDateTime,
);

fn from_row(r: Row) -> Suggestion {
    Suggestion {
        id: r.0,
        user_id: r.1,
        suggested_by: r.2,
        link: r.3,
        note: r.4,
        status: SuggestionStatus::parse(&r.5),
        response_note: r.6,
        post_id: r.7,
        created_at: r.8,
    }
}

macro_rules! suggestion_query {
    () => {
        suggestions::table
            .inner_join(users::table.on(users::id.eq(suggestions::user_id)))
            .select((
                suggestions::id,
                suggestions::user_id,
                users::name,
                suggestions::link,
                suggestions::note,
                suggestions::status,
                suggestions::response_note,
                suggestions::post_id,
                suggestions::created_at,
            ))
    };
}

pub fn create(
    conn: &mut DbConnection,
    user_id: i64,
    link: &str,
    note: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    diesel::insert_into(suggestions::table)
        .values((
            suggestions::user_id.eq(user_id),
            suggestions::link.eq(link),
            suggestions::note.eq(note),
            suggestions::status.eq(SuggestionStatus::New.as_str()),
            suggestions::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// One person's own suggestions, newest first.
pub fn of_user(conn: &mut DbConnection, user_id: i64) -> StoreResult<Vec<Suggestion>> {
    Ok(suggestion_query!()
        .filter(suggestions::user_id.eq(user_id))
        .order(suggestions::id.desc())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect())
}

/// For comms: new ones first, then the most recent decisions.
pub fn for_hub(conn: &mut DbConnection) -> StoreResult<Vec<Suggestion>> {
    let mut new: Vec<Suggestion> = suggestion_query!()
        .filter(suggestions::status.eq(SuggestionStatus::New.as_str()))
        .order(suggestions::id.asc())
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row)
        .collect();
    let decided = suggestion_query!()
        .filter(suggestions::status.ne(SuggestionStatus::New.as_str()))
        .order(suggestions::id.desc())
        .limit(50)
        .load::<Row>(conn)?
        .into_iter()
        .map(from_row);
    new.extend(decided);
    Ok(new)
}

pub fn find(conn: &mut DbConnection, id: i64) -> StoreResult<Option<Suggestion>> {
    Ok(suggestion_query!()
        .filter(suggestions::id.eq(id))
        .first::<Row>(conn)
        .optional()?
        .map(from_row))
}

#[derive(Debug, PartialEq, Eq)]
pub enum DecideOutcome {
    /// Accepted: the id of the draft post made from it.
    Accepted(i64),
    Declined,
    NotFound,
    AlreadyDecided,
}

/// Turns a new suggestion into a draft post, prefilled with its link and note.
pub fn accept(
    conn: &mut DbConnection,
    id: i64,
    draft: &PostInput,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<DecideOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let Some(suggestion) = find(conn, id)? else {
            return Ok(DecideOutcome::NotFound);
        };
        if suggestion.status != SuggestionStatus::New {
            return Ok(DecideOutcome::AlreadyDecided);
        }
        let post_id = posts::create_draft(conn, draft, by, now)?;
        diesel::update(suggestions::table.find(id))
            .set((
                suggestions::status.eq(SuggestionStatus::Accepted.as_str()),
                suggestions::post_id.eq(Some(post_id)),
                suggestions::decided_at.eq(Some(now)),
                suggestions::decided_by.eq(Some(by)),
            ))
            .execute(conn)?;
        Ok(DecideOutcome::Accepted(post_id))
    })
}

pub fn decline(
    conn: &mut DbConnection,
    id: i64,
    note: &str,
    by: i64,
    now: NaiveDateTime,
) -> StoreResult<DecideOutcome> {
    crate::db::write_transaction(conn, |conn| {
        let updated = diesel::update(
            suggestions::table
                .find(id)
                .filter(suggestions::status.eq(SuggestionStatus::New.as_str())),
        )
        .set((
            suggestions::status.eq(SuggestionStatus::Declined.as_str()),
            suggestions::response_note.eq(Some(note)),
            suggestions::decided_at.eq(Some(now)),
            suggestions::decided_by.eq(Some(by)),
        ))
        .execute(conn)?;
        if updated == 1 {
            return Ok(DecideOutcome::Declined);
        }
        Ok(match find(conn, id)? {
            None => DecideOutcome::NotFound,
            Some(_) => DecideOutcome::AlreadyDecided,
        })
    })
}
