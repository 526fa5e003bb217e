//! Admin → Audit: the append-only log of publishing, withdrawals and
//! changes to caps and disclosure.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::AppState;
use super::error::WebResult;
use super::page::{PageContext, ok};
use super::session::SignedIn;
use crate::store;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: PageContext,
    entries: Vec<store::audit::AuditEntry>,
    page_number: i64,
    pages: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    page: i64,
}

pub async fn audit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<PageQuery>,
) -> WebResult<HttpResponse> {
    const PAGE: i64 = 100;
    let page_number = query.page.max(1);
    let (entries, total) = state
        .db
        .run(move |conn| store::audit::page(conn, (page_number - 1) * PAGE, PAGE))
        .await?;
    ok(&AuditPage {
        page: PageContext::from(&signed_in),
        entries,
        page_number,
        pages: ((total + PAGE - 1) / PAGE).max(1),
    })
}
