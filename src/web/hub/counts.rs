//! The composer's live character counts: the draft as typed, counted by
//! the very rules that accept or refuse it on save (`domain::post` and
//! each platform's counting), for the composer's small script
//! (`static/composer.js`). Without script, Preview shows the same counts.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::posts::{PostFields, check_view};
use crate::app::hub;
use crate::web::AppState;
use crate::web::auth::session::SignedIn;
use crate::web::error::{AppError, WebResult};

/// One caption's count, as the composer shows it beside its field.
#[derive(Serialize)]
struct Count {
    /// The id of the field the caption was typed in (`caption_x_1`).
    field: String,
    platform: &'static str,
    variant: usize,
    count: usize,
    limit: usize,
    fits: bool,
    /// The sentence shown beside the field.
    sentence: String,
}

#[derive(Serialize)]
struct Counts {
    counts: Vec<Count>,
}

fn is_form(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

pub async fn preview_counts(
    state: web::Data<AppState>,
    _signed_in: SignedIn,
    request: HttpRequest,
    body: web::Bytes,
) -> WebResult<HttpResponse> {
    if !is_form(&request) {
        return Err(AppError::bad_request(
            "Send the composer's form, as application/x-www-form-urlencoded.",
        ));
    }
    let fields = PostFields::parse(&body)?;
    let context = hub::context(&state).await?;
    let form = fields.draft(&context.settings.enabled_platforms());
    let parsed = context.parse(&form);
    let disclosure = context.settings.disclosure().is_some();
    let counts = parsed
        .checks
        .iter()
        .flatten()
        .map(|check| {
            let view = check_view(check, disclosure);
            Count {
                field: format!("caption_{}_{}", check.platform.slug(), view.field),
                platform: check.platform.slug(),
                variant: view.variant,
                count: view.count,
                limit: view.limit,
                fits: view.fits,
                sentence: view.sentence,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Counts { counts }))
}
