//! `GET /healthz`: 200 when the database answers, 503 otherwise.

use actix_web::{HttpResponse, web};

use super::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let reachable = web::block(move || db.ping()).await.unwrap_or(false);
    if reachable {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok: database reachable\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .insert_header(("Retry-After", "10"))
            .body("unavailable: database not reachable\n")
    }
}
