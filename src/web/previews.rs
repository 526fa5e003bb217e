//! `GET /previews/{sha256}.{jpg|png}`: link-preview images, served from
//! Chorus's own origin so that employees' browsers never ask the linked
//! site (CSP `img-src 'self'`). The name is the SHA-256 of the bytes, so
//! an address always shows the same image and is cached for a year.
//! Public, like a static file: digests will show them in mail clients,
//! and an address is only known to those shown the post.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::app::previews;
use crate::web::AppState;
use crate::web::error::{AppError, WebResult};

/// The hash in a file name, if the name is one Chorus gives.
fn hash_of(file: &str) -> Option<&str> {
    let (hash, extension) = file.split_once('.')?;
    let hex = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex && matches!(extension, "jpg" | "png")).then_some(hash)
}

pub async fn image(state: web::Data<AppState>, file: web::Path<String>) -> WebResult<HttpResponse> {
    let Some(hash) = hash_of(&file) else {
        return Err(AppError::not_found());
    };
    let (content_type, bytes) = previews::image(&state, hash.to_string()).await?;
    if !file.ends_with(crate::domain::preview_image::extension_of(&content_type)) {
        return Err(AppError::not_found());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_hashes_name_an_image() {
        let hash = "a".repeat(64);
        assert_eq!(hash_of(&format!("{hash}.jpg")), Some(hash.as_str()));
        assert_eq!(hash_of(&format!("{hash}.png")), Some(hash.as_str()));
        assert_eq!(hash_of(&format!("{hash}.svg")), None);
        assert_eq!(hash_of(&format!("{}.jpg", "A".repeat(64))), None);
        assert_eq!(hash_of("../../etc/passwd"), None);
    }
}
