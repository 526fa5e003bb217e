//! Me → Sharing choices: opt in or out per platform and for email digests,
//! and every receipt of those choices. Only the person sees any of it.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::consent::{self, Choices, Chosen, policy_url, receipt_json};
use crate::domain::consent::{Action, Choice, ConsentEvent, Purpose, Status};
use crate::domain::ids::UserId;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::{PageContext, SavedQuery, ok, refused, see_other};

pub struct ChoiceRow {
    pub purpose: Purpose,
    pub anchor: String,
    pub title: String,
    pub explanation: String,
    pub status: Option<Status>,
    pub since: String,
    pub instance: String,
    pub needs_instance: bool,
    pub error: Option<String>,
}

impl ChoiceRow {
    pub fn status_text(&self) -> &'static str {
        match self.status {
            None => "Not chosen yet",
            Some(Status::Given) => "Yes",
            Some(Status::Refused) => "No",
            Some(Status::Withdrawn) => "No (withdrawn)",
            Some(Status::NeedsReconsent) => "Paused: the policy changed, please choose again",
        }
    }

    pub fn is_given(&self) -> bool {
        self.status == Some(Status::Given)
    }
}

pub struct HistoryRow {
    pub event_uuid: String,
    pub when: String,
    pub what: String,
    pub action: String,
    pub by_system: bool,
}

#[derive(Template)]
#[template(path = "me/consent.html")]
struct ConsentPage {
    page: PageContext,
    org_name: String,
    policy_version: Option<i64>,
    rows: Vec<ChoiceRow>,
    history: Vec<HistoryRow>,
    saved: bool,
}

fn format_time(time: &chrono::NaiveDateTime) -> String {
    time.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn history_row(event: &ConsentEvent) -> HistoryRow {
    HistoryRow {
        event_uuid: event.event_uuid.clone(),
        when: format_time(&event.created_at),
        what: Purpose::parse(&event.purpose, &event.platform)
            .map(Purpose::describe)
            .unwrap_or_else(|| event.purpose.clone()),
        action: match Action::parse(&event.action) {
            Some(Action::Given) => "You said yes".into(),
            Some(Action::Regiven) => "You said yes again".into(),
            Some(Action::Refused) => "You said no".into(),
            Some(Action::Withdrawn) => "You withdrew".into(),
            Some(Action::Invalidated) => "Paused by a material policy change".into(),
            None => event.action.clone(),
        },
        by_system: event.actor == "system",
    }
}

fn rows(loaded: &Choices) -> Vec<ChoiceRow> {
    loaded
        .purposes()
        .map(|purpose| {
            let current = loaded.states.iter().find(|s| s.purpose == purpose);
            let (anchor, title, explanation, needs_instance) = match purpose {
                Purpose::ShareSuggestions(p) => (
                    p.slug().to_string(),
                    p.name().to_string(),
                    format!(
                        "Show me posts from the hub that I may choose to share on my own {} account. \
                         I share each one myself, through {}'s own share dialog.",
                        p.name(),
                        p.name()
                    ),
                    p.needs_instance(),
                ),
                Purpose::EmailDigest => (
                    "email".to_string(),
                    "Email digests".to_string(),
                    "Send me occasional emails listing new posts for the platforms I said yes to. \
                     Every email has a one-click unsubscribe."
                        .to_string(),
                    false,
                ),
            };
            ChoiceRow {
                purpose,
                anchor,
                title,
                explanation,
                status: current.map(|s| s.status),
                since: current.map(|s| format_time(&s.updated_at)).unwrap_or_default(),
                instance: current.and_then(|s| s.instance.clone()).unwrap_or_default(),
                needs_instance,
                error: None,
            }
        })
        .collect()
}

fn render_page(
    signed_in: &SignedIn,
    loaded: &Choices,
    rows: Vec<ChoiceRow>,
    saved: bool,
) -> ConsentPage {
    ConsentPage {
        page: PageContext::from(signed_in),
        org_name: loaded.org_name.clone(),
        policy_version: loaded.policy_version,
        rows,
        history: loaded.events.iter().rev().map(history_row).collect(),
        saved,
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<SavedQuery>,
) -> WebResult<HttpResponse> {
    let loaded = consent::choices(&state, UserId::new(signed_in.user.id)).await?;
    ok(&render_page(
        &signed_in,
        &loaded,
        rows(&loaded),
        query.saved.is_some(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChoiceForm {
    purpose: String,
    platform: String,
    choice: String,
    instance: String,
}

pub async fn choose(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    form: web::Form<ChoiceForm>,
) -> WebResult<HttpResponse> {
    let user = UserId::new(signed_in.user.id);
    let loaded = consent::choices(&state, user).await?;
    let purpose = Purpose::parse(&form.purpose, &form.platform)
        .filter(|p| loaded.offers(*p))
        .ok_or_else(|| {
            AppError::bad_request("This choice is not offered. Reload the page and try again.")
        })?;
    let choice = match form.choice.as_str() {
        "yes" => Choice::Yes,
        "no" => Choice::No,
        _ => return Err(AppError::bad_request("Choose yes or no.")),
    };
    match consent::choose(&state, user, purpose, choice, &form.instance).await? {
        Chosen::Recorded => {
            let anchor = match purpose {
                Purpose::ShareSuggestions(p) => p.slug(),
                Purpose::EmailDigest => "email",
            };
            Ok(see_other(&format!("/me/consent?saved=1#{anchor}")))
        }
        Chosen::InstanceRefused(problem) => {
            let mut rows = rows(&loaded);
            if let Some(row) = rows.iter_mut().find(|r| r.purpose == purpose) {
                row.instance = form.instance.clone();
                row.error = Some(problem);
            }
            refused(&render_page(&signed_in, &loaded, rows, false))
        }
    }
}

// ---- receipts ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "me/receipt.html")]
struct ReceiptPage {
    page: PageContext,
    row: HistoryRow,
    event: ConsentEvent,
    org_name: String,
    policy_url: String,
}

pub async fn receipt(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<String>,
) -> WebResult<HttpResponse> {
    let data = consent::receipt(&state, UserId::new(signed_in.user.id), id.into_inner()).await?;
    ok(&ReceiptPage {
        page: PageContext::from(&signed_in),
        row: history_row(&data.event),
        policy_url: policy_url(&state, data.event.policy_version),
        org_name: data.org_name,
        event: data.event,
    })
}

pub async fn receipt_download(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<String>,
) -> WebResult<HttpResponse> {
    let data = consent::receipt(&state, UserId::new(signed_in.user.id), id.into_inner()).await?;
    let json = receipt_json(
        &state,
        &data.event,
        &data.org_name,
        &data.privacy_contact,
        &signed_in.user.email,
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"consent-receipt-{}.json\"",
                data.event.event_uuid
            ),
        ))
        .body(serde_json::to_string_pretty(&json).map_err(AppError::internal)?))
}
