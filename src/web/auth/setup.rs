//! First-run setup: the first administrator sets a password.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{hash_password, start_session};
use crate::credentials::{self};
use crate::domain::email::EmailAddress;
use crate::domain::names::PersonName;
use crate::domain::password_policy::{self, PasswordContext};
use crate::store::tokens::Purpose;
use crate::store::{self, StoreError, accounts, users};
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

#[derive(Default)]
struct SetupErrors {
    org_name: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
}

impl SetupErrors {
    fn any(&self) -> bool {
        self.org_name.is_some()
            || self.name.is_some()
            || self.email.is_some()
            || self.password.is_some()
    }
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: PageContext,
    org_name: String,
    name: String,
    email: String,
    errors: SetupErrors,
}

async fn setup_link_is_valid(state: &AppState, token: &str) -> WebResult<bool> {
    let hash = credentials::token_hash(token);
    let now = state.clock.now_naive();
    Ok(state
        .db
        .run(move |conn| {
            let valid = store::tokens::find_valid(conn, Purpose::Setup, &hash, now)?.is_some();
            Ok::<_, StoreError>(valid && !users::any_active_admin(conn)?)
        })
        .await?)
}

pub async fn setup_form(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    if !setup_link_is_valid(&state, &token).await? {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    ok(&SetupPage {
        page: PageContext::from(&visitor),
        org_name: String::new(),
        name: String::new(),
        email: String::new(),
        errors: SetupErrors::default(),
    })
}

pub async fn setup(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> WebResult<HttpResponse> {
    let form = form.into_inner();
    if !setup_link_is_valid(&state, &token).await? {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    let mut errors = SetupErrors::default();
    let org_name = PersonName::parse(&form.org_name)
        .map_err(|_| "Enter your organisation's name (at most 100 characters).".to_string());
    let name = PersonName::parse(&form.name).map_err(|e| e.0);
    let email = EmailAddress::parse(&form.email).map_err(|e| e.0);
    errors.org_name = org_name.as_ref().err().cloned();
    errors.name = name.as_ref().err().cloned();
    errors.email = email.as_ref().err().cloned();
    let context = PasswordContext {
        email: form.email.trim(),
        name: form.name.trim(),
        org_name: form.org_name.trim(),
    };
    errors.password = password_policy::check(&form.password, &context)
        .err()
        .map(|e| e.0);
    let (Ok(org_name), Ok(name), Ok(email), false) = (org_name, name, email, errors.any()) else {
        return refused(&SetupPage {
            page: PageContext::from(&visitor),
            org_name: form.org_name,
            name: form.name,
            email: form.email,
            errors,
        });
    };
    let hash = hash_password(form.password).await?;
    let token_hash = credentials::token_hash(&token);
    let now = state.clock.now_naive();
    let first = accounts::FirstAdmin {
        org_name,
        admin: users::NewUser {
            email,
            name,
            roles: accounts::first_admin_roles(),
            department: None,
        },
        password_hash: hash,
    };
    let created = state
        .db
        .run(move |conn| accounts::complete_setup(conn, &token_hash, first, now))
        .await?;
    match created {
        Some(user_id) => {
            tracing::info!("first admin account created; setup links retired");
            start_session(&state, user_id, "/admin/people").await
        }
        None => Err(AppError::new(ErrorKind::LinkExpired)),
    }
}
