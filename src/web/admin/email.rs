//! Admin → Email: the delivery overview of `app::email`, retrying the
//! failed messages of one reason, and clearing a suppressed address.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::email::{self, CountRow, FailedGroup};
use crate::store::{self, outbox::STATUSES};
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::WebResult;
use crate::web::page::DoneQuery;
use crate::web::page::{PageContext, ok, see_other};

#[derive(Template)]
#[template(path = "admin/email.html")]
struct EmailPage {
    page: PageContext,
    k: u32,
    statuses: Vec<&'static str>,
    counts: Vec<CountRow>,
    any_email: bool,
    failed: Vec<FailedGroup>,
    suppressed: Vec<(String, String)>,
    notice: Option<&'static str>,
    transport: String,
}

fn status_label(status: &str) -> &'static str {
    match status {
        store::outbox::PENDING => "Waiting",
        store::outbox::SENDING => "Being sent",
        store::outbox::SENT => "Sent",
        store::outbox::FAILED => "Failed",
        _ => "Cancelled",
    }
}

pub async fn show(
    state: web::Data<AppState>,
    signed_in: SignedIn,
    query: web::Query<DoneQuery>,
) -> WebResult<HttpResponse> {
    let overview = email::overview(&state).await?;
    ok(&EmailPage {
        page: PageContext::from(&signed_in),
        k: overview.k,
        statuses: STATUSES.iter().map(|s| status_label(s)).collect(),
        any_email: overview.any_email,
        counts: overview.counts,
        failed: overview.failed,
        suppressed: overview.suppressed,
        notice: match query.done.as_str() {
            "retried" => Some(
                "The messages are back in the queue and will be sent at the next delivery round.",
            ),
            "cleared" => Some("The address may receive email again."),
            _ => None,
        },
        transport: overview.transport,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RetryForm {
    /// A reason as the page shows it: every failed message shown with it
    /// goes back in the queue.
    reason: String,
}

pub async fn retry(
    state: web::Data<AppState>,
    form: web::Form<RetryForm>,
) -> WebResult<HttpResponse> {
    email::retry(&state, form.into_inner().reason).await?;
    Ok(see_other("/admin/email?done=retried"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct UnsuppressForm {
    email: String,
}

pub async fn unsuppress(
    state: web::Data<AppState>,
    form: web::Form<UnsuppressForm>,
) -> WebResult<HttpResponse> {
    email::unsuppress(&state, &form.email).await?;
    Ok(see_other("/admin/email?done=cleared"))
}
