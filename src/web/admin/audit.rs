//! Admin → Audit: the append-only log of publishing, withdrawals and
//! changes to caps and disclosure.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::store;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::{PageContext, ok};

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: PageContext,
    entries: Vec<store::audit::AuditEntry>,
    page_number: i64,
    pages: i64,
    actions: Vec<String>,
    action: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    page: i64,
    action: String,
}

pub async fn audit(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<PageQuery>,
) -> WebResult<HttpResponse> {
    const PAGE: i64 = 100;
    let page_number = query.page.clamp(1, crate::web::queue::MAX_PAGE);
    let action = query.action.trim().to_string();
    let filter = action.clone();
    let (entries, total, actions) = state
        .db
        .run(move |conn| {
            let wanted = (!filter.is_empty()).then_some(filter.as_str());
            let (entries, total) =
                store::audit::filtered(conn, wanted, (page_number - 1) * PAGE, PAGE)?;
            Ok::<_, store::StoreError>((entries, total, store::audit::actions(conn)?))
        })
        .await?;
    ok(&AuditPage {
        page: PageContext::from(&signed_in),
        entries,
        page_number,
        pages: ((total + PAGE - 1) / PAGE).max(1),
        actions,
        action,
    })
}
