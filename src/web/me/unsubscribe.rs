//! One-click unsubscribe (RFC 8058): GET asks for confirmation and changes
//! nothing (mail scanners follow links); POST unsubscribes, with no cookie
//! and no CSRF token, answers 200 without a redirect, and is idempotent.

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::store;
use crate::web::AppState;
use crate::web::auth::session::Visitor;
use crate::web::error::{AppError, ErrorKind, WebResult};
use crate::web::page::{PageContext, ok};

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    page: PageContext,
    token: String,
    done: bool,
}

pub async fn confirm(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    let token = token.into_inner();
    let lookup = token.clone();
    let owner = state
        .db
        .run(move |conn| store::outbox::unsubscribe_token_owner(conn, &lookup))
        .await?;
    if owner.is_none() {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    ok(&UnsubscribePage {
        page: PageContext::from(&visitor),
        token,
        done: false,
    })
}

pub async fn unsubscribe(
    state: web::Data<AppState>,
    visitor: Visitor,
    token: web::Path<String>,
) -> WebResult<HttpResponse> {
    let token = token.into_inner();
    let now = state.clock.now_naive();
    let lookup = token.clone();
    let done = state
        .db
        .run(move |conn| store::digests::unsubscribe(conn, &lookup, now))
        .await?;
    if done.is_none() {
        return Err(AppError::new(ErrorKind::LinkExpired));
    }
    ok(&UnsubscribePage {
        page: PageContext::from(&visitor),
        token,
        done: true,
    })
}
