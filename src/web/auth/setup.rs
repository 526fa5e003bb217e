//! First-run setup: the first administrator sets a password.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::start_session;
use crate::app::accounts;
use crate::domain::people::{FirstRun, SetupProblems};
use crate::web::AppState;
use crate::web::auth::session::Visitor;
use crate::web::error::{AppError, ErrorKind, WebResult};
use crate::web::page::{PageContext, ok, refused};

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetupForm {
    org_name: String,
    name: String,
    email: String,
    password: String,
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: PageContext,
    org_name: String,
    name: String,
    email: String,
    errors: SetupProblems,
}

async fn check_link(state: &AppState, token: &str) -> WebResult<()> {
    if !accounts::setup_link_is_valid(state, token).await? {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    Ok(())
}

pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    check_link(&state, &token).await?;
    ok(&SetupPage {
        page: PageContext::from(&visitor),
        org_name: String::new(),
        name: String::new(),
        email: String::new(),
        errors: SetupProblems::default(),
    })
}

pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    check_link(&state, &token).await?;
    let first = match FirstRun::parse(&form.org_name, &form.name, &form.email, form.password) {
        Ok(first) => first,
        Err(errors) => {
            return refused(&SetupPage {
                page: PageContext::from(&visitor),
                org_name: form.org_name,
                name: form.name,
                email: form.email,
                errors,
            });
        }
    };
    match accounts::complete_setup(&state, &token, first).await? {
        Some(admin) => start_session(&state, admin.get(), "/admin/people").await,
        None => Err(AppError::new(ErrorKind::LinkExpired)),
    }
}
