//! Admin → Announcements: connecting chat channels (Slack, Microsoft Teams,
//! Mattermost, a JSON webhook), disconnecting them, a test message, and
//! each channel's delivery health.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::announcements::{self, ChannelView};
use crate::domain::chat::{ChannelKind, ChannelProblems, ChannelRequest};
use crate::store::departments::Department;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};
use crate::web::page::DoneQuery;
use crate::web::page::{FirstValue, PageContext, ok, refused, see_other};

/// What the connect form holds (kept when refused).
#[derive(Debug, Clone, Default)]
pub struct ChannelForm {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub audience: String,
    pub department_ids: Vec<i64>,
}

#[derive(Template)]
#[template(path = "admin/announcements.html")]
struct AnnouncementsPage {
    page: PageContext,
    channels: Vec<ChannelView>,
    departments: Vec<Department>,
    kinds: Vec<(&'static str, &'static str)>,
    form: ChannelForm,
    errors: ChannelProblems,
    /// A notice after an action, and whether it tells of a failure.
    notice: Option<(String, bool)>,
}

async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    form: ChannelForm,
    errors: ChannelProblems,
    notice: Option<(String, bool)>,
) -> WebResult<AnnouncementsPage> {
    let overview = announcements::overview(state).await?;
    Ok(AnnouncementsPage {
        page: PageContext::from(signed_in),
        channels: overview.channels,
        departments: overview.departments,
        kinds: ChannelKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        form,
        errors,
        notice,
    })
}

fn fresh_form() -> ChannelForm {
    ChannelForm {
        kind: ChannelKind::Slack.as_str().into(),
        audience: "all".into(),
        ..ChannelForm::default()
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let notice = match query.done.as_str() {
        "connected" => Some(
            "The channel is connected. Send a test message to check that it arrives; \
             the webhook address is not shown again.",
        ),
        "disconnected" => Some(
            "The channel is disconnected: its webhook address is deleted and messages not \
             yet sent are cancelled.",
        ),
        _ => None,
    };
    let notice = notice.map(|n| (n.to_string(), false));
    ok(&page(&state, &signed_in, fresh_form(), Default::default(), notice).await?)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConnectFields {
    kind: FirstValue,
    name: FirstValue,
    url: FirstValue,
    audience: FirstValue,
    departments: Vec<String>,
}

pub async fn connect(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    let fields: ConnectFields = serde_html_form::from_bytes(&body)
        .map_err(|_| AppError::bad_request("The form could not be read. Please try again."))?;
    let form = ChannelForm {
        kind: fields.kind.0,
        name: fields.name.0,
        url: fields.url.0,
        audience: fields.audience.0,
        department_ids: fields
            .departments
            .iter()
            .filter_map(|d| d.trim().parse().ok())
            .collect(),
    };
    let parsed = ChannelRequest::parse(
        &form.kind,
        &form.name,
        &form.url,
        &form.audience,
        &form.department_ids,
    );
    let problems = match parsed {
        Ok(request) => match announcements::connect(&state, request, signed_in.id()).await {
            Ok(_) => return Ok(see_other("/admin/announcements?done=connected")),
            Err(crate::app::Error::Invalid(message)) => ChannelProblems {
                audience: Some(message),
                ..Default::default()
            },
            Err(e) => return Err(e.into()),
        },
        Err(problems) => problems,
    };
    refused(&page(&state, &signed_in, form, problems, None).await?)
}

pub async fn disconnect(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    announcements::disconnect(&state, *id, signed_in.id()).await?;
    Ok(see_other("/admin/announcements?done=disconnected"))
}

pub async fn test(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    id: web::Path<i64>,
) -> WebResult<HttpResponse> {
    let outcome = announcements::send_test(&state, *id, signed_in.id()).await?;
    let notice = Some((outcome.message, !outcome.delivered));
    ok(&page(&state, &signed_in, fresh_form(), Default::default(), notice).await?)
}
