//! Give and take: employees suggest links to the hub; comms turns a
//! suggestion into a draft post or declines it with a note.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app;
use crate::domain::ids::{SuggestionId, UserId};
use crate::domain::post;
use crate::store;
use crate::store::suggestions::Suggestion;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::DoneQuery;
use crate::web::page::{PageContext, ok, refused, see_other};

const MAX_NOTE_CHARS: usize = 1_000;

fn parse_note(input: &str, what: &str) -> Result<String, String> {
    let note = input.replace("\r\n", "\n").trim().to_string();
    if note.is_empty() {
        return Err(format!("Write {what}."));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(format!("Keep it to {MAX_NOTE_CHARS} characters."));
    }
    Ok(note)
}

#[derive(Template)]
#[template(path = "suggest.html")]
struct SuggestPage {
    page: PageContext,
    link: String,
    note: String,
    link_error: Option<String>,
    note_error: Option<String>,
    sent: bool,
    mine: Vec<Suggestion>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SentQuery {
    sent: Option<String>,
}

async fn mine(state: &AppState, user_id: i64) -> WebResult<Vec<Suggestion>> {
    Ok(state
        .db
        .run(move |conn| store::suggestions::of_user(conn, user_id))
        .await?)
}

pub async fn form(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SentQuery>,
) -> WebResult<HttpResponse> {
    ok(&SuggestPage {
        page: PageContext::from(&signed_in),
        link: String::new(),
        note: String::new(),
        link_error: None,
        note_error: None,
        sent: query.sent.is_some(),
        mine: mine(&state, signed_in.user.id).await?,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SuggestForm {
    link: String,
    note: String,
}

pub async fn submit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<SuggestForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    let link = post::parse_link(&form.link).map_err(|e| e.0);
    let note = parse_note(&form.note, "a note for the hub: why is this worth sharing?");
    let (Ok(link), Ok(note)) = (&link, &note) else {
        return refused(&SuggestPage {
            page: PageContext::from(&signed_in),
            link_error: link.err(),
            note_error: note.err(),
            link: form.link,
            note: form.note,
            sent: false,
            mine: mine(&state, signed_in.user.id).await?,
        });
    };
    let (link, note, user_id, now) = (
        link.clone(),
        note.clone(),
        signed_in.user.id,
        state.clock.now_naive(),
    );
    state
        .db
        .run(move |conn| store::suggestions::create(conn, user_id, &link, &note, now))
        .await?;
    Ok(see_other("/suggest?sent=1"))
}

// ---- comms --------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "hub/suggestions.html")]
struct HubSuggestionsPage {
    page: PageContext,
    suggestions: Vec<Suggestion>,
    error_for: Option<i64>,
    error: Option<String>,
    notice: Option<&'static str>,
}

impl HubSuggestionsPage {
    /// The refusal message for one suggestion's decline form.
    fn error_on(&self, id: &i64) -> Option<&String> {
        self.error.as_ref().filter(|_| self.error_for == Some(*id))
    }
}

async fn all(state: &AppState) -> WebResult<Vec<Suggestion>> {
    Ok(state.db.run(store::suggestions::for_hub).await?)
}

pub async fn hub_list(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    ok(&HubSuggestionsPage {
        page: PageContext::from(&signed_in),
        suggestions: all(&state).await?,
        error_for: None,
        error: None,
        notice: (query.done == "declined")
            .then_some("Declined. The person who suggested it sees your note."),
    })
}

pub async fn accept(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let by = UserId::new(signed_in.user.id);
    let post_id = app::hub::accept_suggestion(&state, SuggestionId::new(*id), by).await?;
    Ok(see_other(&format!("/hub/posts/{post_id}?done=saved")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeclineForm {
    note: String,
}

pub async fn decline(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
    form: web::Form<DeclineForm>,
) -> WebResult<HttpResponse> {
    let suggestion_id = *id;
    let note = match parse_note(&form.note, "a short note for the person who suggested it") {
        Ok(note) => note,
        Err(error) => {
            return refused(&HubSuggestionsPage {
                page: PageContext::from(&signed_in),
                suggestions: all(&state).await?,
                error_for: Some(suggestion_id),
                error: Some(error),
                notice: None,
            });
        }
    };
    let by = UserId::new(signed_in.user.id);
    app::hub::decline_suggestion(&state, SuggestionId::new(suggestion_id), note, by).await?;
    Ok(see_other("/hub/suggestions?done=declined"))
}
