//! Static assets, built into the binary so that Chorus runs from any folder.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::error::AppError;

const STYLESHEET: &str = include_str!("../../static/chorus.css");
const ICON: &str = include_str!("../../static/favicon.svg");
const SCRIPT: &str = include_str!("../../static/chorus.js");

pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (body, content_type) = match file.as_str() {
        "chorus.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        "chorus.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::not_found()),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}
